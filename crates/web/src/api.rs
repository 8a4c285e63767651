//! The web build's functions as plain Rust over JSON values, so they are tested natively and
//! the wasm-bindgen layer (`lib.rs`) only converts. Every check runs the policy's core and the
//! checker's shared half (`image_digest_scan`): no rule is written twice.

use image_digest_policy::reference;
use image_digest_policy::report;
use image_digest_policy::request::ImageField;
use image_digest_policy::rules::{self, ImageVerdict};
use image_digest_policy::settings::{Settings, SettingsError};
use image_digest_scan::document;
use image_digest_scan::judge::Core;
use image_digest_scan::report::Report;
use image_digest_scan::run::{self, Format};
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// Options of a manifests or values check; every field is optional.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Namespace for workloads that name none (as `--namespace`).
    pub namespace: Option<String>,
    /// Exit 0 when nothing was checked.
    #[serde(default)]
    pub allow_empty: bool,
    /// Also render the report in this format (`text`, `json`, `junit`, `sarif`, `github`).
    pub format: Option<String>,
    /// What an empty values `tag` renders: the chart's `appVersion` (as `--app-version`).
    #[serde(default)]
    pub app_version: Option<String>,
    /// Inputs the caller could not read (a missing file, say): reported and counted like the
    /// native checker's, so the run cannot pass.
    #[serde(default)]
    pub input_errors: Vec<InputErrorIn>,
}

/// An input the caller could not read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputErrorIn {
    /// The file it is about.
    pub source: String,
    /// What is wrong.
    pub message: String,
}

fn input_errors(options: &Options) -> Vec<image_digest_scan::input::InputError> {
    options
        .input_errors
        .iter()
        .map(|e| image_digest_scan::input::InputError {
            source: e.source.clone(),
            message: e.message.clone(),
            line: None,
        })
        .collect()
}

/// A named input text.
#[derive(Deserialize)]
pub struct Input {
    /// The file's name.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// Why settings text cannot be used: not YAML or JSON at all, or the policy's problems with
/// it, kept as the list the core reports (never recovered by splitting its message).
enum SettingsFailure {
    Text(String),
    Invalid(SettingsError),
}

impl std::fmt::Display for SettingsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsFailure::Text(e) => write!(f, "settings are not valid YAML or JSON: {e}"),
            SettingsFailure::Invalid(e) => e.fmt(f),
        }
    }
}

/// Settings text (YAML, JSON or a whole ClusterAdmissionPolicy) read by the core's reader, the
/// one the policy's `validate_settings` answers with.
fn read_settings(text: &str) -> Result<(Value, Settings), SettingsFailure> {
    let value = run::settings_from_text(text).map_err(|e| SettingsFailure::Text(e.to_string()))?;
    let parsed = Settings::from_json(Some(&value)).map_err(SettingsFailure::Invalid)?;
    Ok((value, parsed))
}

fn settings(text: &str) -> Result<(Value, Settings), String> {
    read_settings(text).map_err(|e| e.to_string())
}

/// `validateSettings`: every problem, as the policy reports it, each with its key.
pub fn validate_settings(text: &str) -> Value {
    match read_settings(text) {
        Ok(_) => json!({"valid": true, "problems": []}),
        Err(failure) => {
            let problems: Vec<Value> = match &failure {
                SettingsFailure::Text(e) => vec![json!({"key": "", "message": e})],
                SettingsFailure::Invalid(e) => {
                    e.0.iter()
                        .map(|p| json!({"key": p.key, "message": p.message}))
                        .collect()
                }
            };
            json!({"valid": false, "message": failure.to_string(), "problems": problems})
        }
    }
}

/// `checkImage`: one reference under the settings.
pub fn check_image(image: &str, settings_text: &str) -> Result<Value, String> {
    let (_, settings) = settings(settings_text)?;
    Ok(image_verdict(
        &ImageField::Str(Cow::Borrowed(image)),
        &settings,
    ))
}

/// One image's verdict by the core's rules (the function every container goes through in the
/// policy), its normalised form, reasons and fix.
fn image_verdict(field: &ImageField<'_>, settings: &Settings) -> Value {
    let image = field.as_str();
    let verdict = rules::judge(field, settings);
    let normalized = reference::parse(image).ok().map(|r| r.normalized());
    let (name, allowed, reasons) = match &verdict {
        ImageVerdict::Accepted => ("accepted", true, Vec::new()),
        ImageVerdict::Unpinned => (
            "unpinned",
            true,
            vec![
                "no digest: accepted while requireDigest is off (requireDigest: true rejects it)"
                    .to_owned(),
            ],
        ),
        ImageVerdict::Exempt => ("exempt", true, Vec::new()),
        ImageVerdict::Invalid(why) => ("invalid", false, vec![why.to_string()]),
        ImageVerdict::Violates(problems) => (
            "rejected",
            false,
            problems.iter().map(ToString::to_string).collect(),
        ),
    };
    let fix = match verdict {
        ImageVerdict::Accepted | ImageVerdict::Exempt => None,
        ref v => Some(report::fix(image, v)),
    };
    json!({
        "image": image,
        "verdict": name,
        "allowed": allowed,
        "normalized": normalized,
        "reasons": reasons,
        "fix": fix,
    })
}

/// Every image of the checked documents, where it is written, with its own verdict; images of
/// workloads outside the settings' namespaces are marked so, and documents the run did not
/// evaluate (other kinds, input errors) list none.
fn images(texts: &[(String, String)], run: &Report, settings: &Settings) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, text) in texts {
        let (docs, _) = image_digest_scan::input::parse(name, text);
        for doc in &docs {
            let location = doc.location();
            let Some(result) = run.results.iter().find(|r| r.location == location) else {
                continue;
            };
            for at in image_digest_scan::images::of_document(doc, settings) {
                let mut v = image_verdict(&at.image, settings);
                if let Value::Object(map) = &mut v {
                    if result.out_of_scope {
                        map.insert("verdict".into(), json!("out of scope"));
                        map.insert("allowed".into(), json!(true));
                    }
                    for (k, x) in [
                        ("file", json!(doc.source)),
                        ("line", json!(at.pos.line)),
                        ("column", json!(at.pos.column)),
                        ("kind", json!(at.kind)),
                        ("name", json!(at.name)),
                        ("namespace", json!(result.namespace)),
                        ("path", json!(at.path)),
                        ("holder", json!(at.holder)),
                        ("container", json!(at.container)),
                    ] {
                        map.insert(k.to_owned(), x);
                    }
                }
                out.push(v);
            }
        }
    }
    out
}

/// `validateRequest`: one AdmissionRequest (the `request` object, as JSON text) as policy-server
/// would judge it, with no host capabilities: the verdict, the message and the warnings.
pub fn validate_request(request: &str, settings_text: &str) -> Result<Value, String> {
    let value = run::settings_from_text(settings_text)
        .map_err(|e| format!("settings are not valid YAML or JSON: {e}"))?;
    let settings = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    let sv = image_digest_policy::validate_settings(&settings);
    if !sv.valid {
        return Ok(json!({"settingsValid": false, "message": sv.message}));
    }
    // The payload exactly as the host builds it: the request's bytes as they are, so a
    // malformed request gets the verdict the cluster would give it.
    let payload = image_digest_policy::request::payload(request.as_bytes(), &settings);
    let v = image_digest_policy::validate(&payload);
    Ok(
        json!({"settingsValid": true, "accepted": v.accepted, "message": v.message, "warnings": v.warning_texts()}),
    )
}

fn options(options: Option<&str>) -> Result<Options, String> {
    match options {
        None | Some("") => Ok(Options::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| format!("options: {e}")),
    }
}

/// The report as `image-digest-check --output json` writes it, plus the exit code the
/// command would end with and, when asked, the report rendered in another format.
fn answer(run: &Report, options: &Options) -> Result<Value, String> {
    let mut report = image_digest_scan::report::json_value(run);
    if let Value::Object(map) = &mut report {
        map.insert("exitCode".into(), json!(run.exit_code()));
        if let Some(format) = &options.format {
            let format: Format = format.parse()?;
            map.insert("rendered".into(), json!(run.render(format)));
        }
    }
    Ok(report)
}

/// What both checks start from: the options, the settings as text and as the core reads
/// them, and the inputs as `(name, text)`.
struct Prepared {
    options: Options,
    value: Value,
    parsed: Settings,
    texts: Vec<(String, String)>,
}

fn prepare(
    inputs: &[Input],
    settings_text: &str,
    options_json: Option<&str>,
) -> Result<Prepared, String> {
    let options = options(options_json)?;
    let (value, parsed) = settings(settings_text)?;
    let texts = inputs
        .iter()
        .map(|i| (i.name.clone(), i.text.clone()))
        .collect();
    Ok(Prepared {
        options,
        value,
        parsed,
        texts,
    })
}

/// `checkManifests`: multi-document YAML or JSON texts, as the checker reads files.
pub fn check_manifests(
    inputs: &[Input],
    settings_text: &str,
    options_json: Option<&str>,
) -> Result<Value, String> {
    let p = prepare(inputs, settings_text, options_json)?;
    let cx = document::Context {
        namespace: p.options.namespace.as_deref(),
        settings: &p.parsed,
    };
    let outs = run::manifests(
        &p.texts,
        &cx,
        &mut Core {
            settings: p.value.clone(),
        },
    );
    let run = Report::from_documents(
        outs,
        input_errors(&p.options),
        &p.parsed.namespaces,
        p.options.allow_empty,
    );
    let mut report = answer(&run, &p.options)?;
    if let Value::Object(map) = &mut report {
        map.insert(
            "images".into(),
            Value::Array(images(&p.texts, &run, &p.parsed)),
        );
    }
    Ok(report)
}

/// `checkValues`: Helm values texts, merged in order (as `helm -f a -f b`).
pub fn check_values(
    inputs: &[Input],
    settings_text: &str,
    options_json: Option<&str>,
) -> Result<Value, String> {
    let p = prepare(inputs, settings_text, options_json)?;
    let errors = input_errors(&p.options);
    let mut values = run::prepare_values(
        &p.texts,
        &p.value,
        &p.parsed,
        p.options.namespace.as_deref(),
        errors,
    );
    values.app_version = p.options.app_version.clone();
    let mut judge = Core {
        settings: values.effective.clone(),
    };
    let run = run::values(values, &p.parsed, &mut judge, p.options.allow_empty);
    answer(&run, &p.options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_get_a_verdict_reasons_and_a_fix() {
        let pinned = format!("nginx:1.27@{}", image_digest_testkit::policy::TEST_DIGEST);
        let cases = [
            ("nginx:1.27", "", "unpinned", true),
            ("nginx:1.27", "requireDigest: true", "rejected", false),
            ("nginx", "", "rejected", false),
            (pinned.as_str(), "requireDigest: true", "accepted", true),
            ("Nginx:1", "", "invalid", false),
            (
                "internal/tool:1",
                "exemptImages: [internal/*]",
                "exempt",
                true,
            ),
        ];
        for (image, settings, verdict, allowed) in cases {
            let v = check_image(image, settings).unwrap();
            assert_eq!(
                (v["verdict"].as_str(), v["allowed"].as_bool()),
                (Some(verdict), Some(allowed)),
                "{image} {settings}: {v}"
            );
        }
        let v = check_image("nginx", "").unwrap();
        assert_eq!(v["normalized"], "docker.io/library/nginx:latest");
        assert_eq!(v["fix"], "pin it as nginx:<tag>@sha256:<digest>");
        assert!(v["reasons"][0].as_str().unwrap().contains("latest"), "{v}");
    }

    #[test]
    fn bad_settings_are_errors_with_every_problem() {
        let err = check_image("nginx:1", "requireDigest: maybe").unwrap_err();
        assert!(err.starts_with("invalid settings: "), "{err}");
        let v = validate_settings("requireDigest: maybe\nmutableTags: 3");
        assert_eq!(v["valid"], false);
        assert_eq!(v["problems"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(v["problems"][0]["key"], "requireDigest", "{v}");
        // A problem whose own words hold "; " (the known keys) stays one problem, and the
        // message says "invalid settings" once.
        let v = validate_settings("requireDigests: true");
        assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["problems"][0]["key"], "requireDigests", "{v}");
        let message = v["message"].as_str().unwrap();
        assert_eq!(message.matches("invalid settings").count(), 1, "{message}");
        assert_eq!(validate_settings("requireDigest: true")["valid"], true);
        assert!(
            check_image("x", "[")
                .unwrap_err()
                .contains("not valid YAML")
        );
    }

    #[test]
    fn manifests_report_like_the_checker() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: prod}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: nginx:latest\n";
        let inputs = [Input {
            name: "deploy.yaml".into(),
            text: text.into(),
        }];
        let v = check_manifests(&inputs, "", Some(r#"{"format": "github"}"#)).unwrap();
        assert_eq!(
            v["schemaVersion"],
            image_digest_scan::report::SCHEMA_VERSION
        );
        assert_eq!(v["exitCode"], 1);
        assert_eq!(v["summary"]["rejected"], 1);
        let finding = &v["results"][0]["findings"][0];
        assert_eq!(
            (finding["line"].as_u64(), finding["column"].as_u64()),
            (Some(9), Some(18)),
            "{v}"
        );
        assert!(
            v["rendered"]
                .as_str()
                .unwrap()
                .starts_with("::error file=deploy.yaml,line=9,col=18"),
            "{v}"
        );
        let empty = check_manifests(&[], "", None).unwrap();
        assert_eq!(
            empty["exitCode"], 2,
            "nothing checked is not a pass: {empty}"
        );
        assert!(
            check_manifests(&inputs, "", Some(r#"{"bogus": 1}"#))
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn values_report_the_key_to_set() {
        let inputs = [Input {
            name: "values.yaml".into(),
            text: "image:\n  repository: ghcr.io/acme/api\n  tag: 1.2.3\n  digest: \"\"\nimagePolicy:\n  requireDigest: true\n".into(),
        }];
        let v = check_values(&inputs, "", None).unwrap();
        assert_eq!(v["exitCode"], 1, "{v}");
        let finding = &v["results"][0]["findings"][0];
        assert_eq!(finding["path"], "image.digest", "{v}");
        assert_eq!(finding["line"], 4, "{v}");
    }
}
