//! The end-to-end case table (`e2e-tests/cases.yaml`), shared by every runner so that they
//! are held to the same expectations.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One case of the e2e table (`e2e-tests/cases.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// File name under `e2e-tests/requests/`.
    pub request: String,
    /// The policy's settings.
    #[serde(default = "empty_object")]
    pub settings: Value,
    /// Whether the settings are valid (else the case expects a refusal).
    #[serde(default = "yes")]
    pub settings_valid: bool,
    /// The expected verdict.
    pub allowed: bool,
    /// Parts the reject message must hold.
    #[serde(default)]
    pub message: Vec<String>,
    /// Parts each warning must hold, in order.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Text that must appear in neither the message nor any warning.
    #[serde(default)]
    pub absent: Vec<String>,
    /// Why kwctl cannot express the case, when it refuses the input itself before the policy
    /// runs (and the kwctl stand-in refuses it the same way); the kwctl suite skips it and
    /// prints this reason.
    #[serde(default)]
    pub kwctl_refuses: Option<String>,
    /// A recorded host-capabilities session (kwctl's replay format) under `e2e-tests/sessions/`.
    #[serde(default)]
    pub replay: Option<String>,
    /// The exact JSONPatch the server would send; absent means no mutation.
    #[serde(default)]
    pub patch: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    cases: Vec<Case>,
}

/// The `e2e-tests/` directory of this workspace.
pub fn e2e_dir() -> PathBuf {
    crate::policy::workspace_root().join("e2e-tests")
}

/// Every case of the table in `dir`.
pub fn load(dir: &Path) -> Result<Vec<Case>> {
    let path = dir.join("cases.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let table: Table = serde_saphyr::from_str(&text)
        .with_context(|| format!("{} is not a valid case table", path.display()))?;
    if table.cases.is_empty() {
        bail!("{} has no cases", path.display());
    }
    Ok(table.cases)
}

impl Case {
    /// The case's request file.
    pub fn request_path(&self, dir: &Path) -> PathBuf {
        dir.join("requests").join(&self.request)
    }

    /// The case's request, as bytes.
    pub fn request_bytes(&self, dir: &Path) -> Result<Vec<u8>> {
        let path = self.request_path(dir);
        std::fs::read(&path)
            .with_context(|| format!("case {:?}: cannot read {}", self.name, path.display()))
    }

    /// The case's recorded host session, when it has one.
    pub fn replay_path(&self, dir: &Path) -> Option<PathBuf> {
        self.replay.as_ref().map(|r| dir.join("sessions").join(r))
    }

    /// Checks one runner's outcome against the case; every mismatch is listed.
    pub fn check(&self, outcome: &Outcome) -> Result<(), String> {
        let mut problems = Vec::new();
        match outcome {
            Outcome::SettingsRefused(message) => {
                if self.settings_valid {
                    problems.push(format!("settings were refused: {message}"));
                }
                for part in &self.message {
                    if !message.contains(part.as_str()) {
                        problems.push(format!("settings error {message:?} lacks {part:?}"));
                    }
                }
            }
            Outcome::Evaluated {
                accepted,
                message,
                warnings,
                patch,
            } => {
                if !self.settings_valid {
                    problems.push("settings were accepted, expected a settings error".into());
                }
                if *accepted != self.allowed {
                    problems.push(format!(
                        "accepted = {accepted}, expected {}; message: {message:?}",
                        self.allowed
                    ));
                }
                let message = message.as_deref().unwrap_or("");
                for part in &self.message {
                    if !message.contains(part.as_str()) {
                        problems.push(format!("message {message:?} lacks {part:?}"));
                    }
                }
                if warnings.len() != self.warnings.len() {
                    problems.push(format!(
                        "{} warnings, expected {}: {warnings:?}",
                        warnings.len(),
                        self.warnings.len()
                    ));
                }
                for bad in &self.absent {
                    if message.contains(bad.as_str())
                        || warnings.iter().any(|w| w.contains(bad.as_str()))
                    {
                        problems.push(format!("{bad:?} must not appear: {message:?} {warnings:?}"));
                    }
                }
                for (want, got) in self.warnings.iter().zip(warnings) {
                    if !got.contains(want.as_str()) {
                        problems.push(format!("warning {got:?} lacks {want:?}"));
                    }
                }
                if patch != &self.patch {
                    problems.push(format!(
                        "patch {} , expected {}",
                        serde_json::to_string(patch).unwrap_or_default(),
                        serde_json::to_string(&self.patch).unwrap_or_default()
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "case {:?}:\n  {}",
                self.name,
                problems.join("\n  ")
            ))
        }
    }
}

/// What a runner made of a case, in one shape for every runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The settings were refused, with this message.
    SettingsRefused(String),
    /// The request was evaluated.
    Evaluated {
        /// The verdict.
        accepted: bool,
        /// The reject message.
        message: Option<String>,
        /// The warnings.
        warnings: Vec<String>,
        /// The JSONPatch of a mutation.
        patch: Option<Value>,
    },
}

type Session = std::sync::Arc<image_digest_runner::replay::Session>;

/// The host for one evaluation of `case`: its recorded session, replayed afresh (also
/// returned, to check afterwards that it was used up), or no capabilities at all.
fn host_for(
    case: &Case,
    dir: &Path,
) -> Result<(
    std::sync::Arc<dyn image_digest_runner::Host>,
    Option<Session>,
)> {
    Ok(match case.replay_path(dir) {
        Some(path) => {
            let session =
                std::sync::Arc::new(image_digest_runner::replay::Recording::load(&path)?.session());
            (session.clone(), Some(session))
        }
        None => (
            std::sync::Arc::new(image_digest_runner::NoCapabilities),
            None,
        ),
    })
}

/// A session must be used up: kwctl only warns about exchanges left over, but here a
/// leftover means the case's session records lookups the policy no longer makes (or makes in
/// another order), so the case would not test what it says.
fn used_up(case: &Case, session: Option<&image_digest_runner::replay::Session>) -> Result<()> {
    match session.and_then(image_digest_runner::replay::Session::leftover) {
        Some(warning) => bail!(
            "case {:?}: session {}: {warning}",
            case.name,
            case.replay.as_deref().unwrap_or("")
        ),
        None => Ok(()),
    }
}

/// Runs `case` on a compiled policy the way the server would: settings validated first,
/// then the request, with the case's recorded host session.
pub fn wasm_outcome(
    policy: &image_digest_runner::Policy,
    case: &Case,
    dir: &Path,
) -> Result<Outcome> {
    let evaluator = match policy.with_settings(case.settings.clone()) {
        Ok(e) => e,
        Err(e) => return Ok(Outcome::SettingsRefused(e.to_string())),
    };
    let request = case.request_bytes(dir)?;
    let (host, session) = host_for(case, dir)?;
    let response = evaluator
        .validate_raw(&request, host)
        .with_context(|| format!("case {:?}: the runner failed", case.name))?;
    used_up(case, session.as_deref())?;
    Ok(response.into())
}

impl From<image_digest_runner::Response> for Outcome {
    fn from(r: image_digest_runner::Response) -> Outcome {
        Outcome::Evaluated {
            accepted: r.accepted,
            message: r.message,
            warnings: r.warnings,
            patch: r.patch,
        }
    }
}

/// Both tables (`e2e-tests/cases.yaml` and `adversarial/cases.yaml`) as one JSON object per
/// line, with absolute paths: what the kwctl suite reads with jq, since shells do not read
/// YAML.
pub fn kwctl_table() -> Result<String> {
    let root = e2e_dir();
    let mut out = String::new();
    for dir in [root.clone(), root.join("adversarial")] {
        for case in load(&dir)? {
            let line = serde_json::json!({
                "name": case.name,
                "request": case.request_path(&dir),
                "settings": case.settings,
                "settings_valid": case.settings_valid,
                "allowed": case.allowed,
                "message": case.message,
                "warnings": case.warnings,
                "absent": case.absent,
                "patch": case.patch,
                "kwctl": case.kwctl_refuses.is_none(),
                "kwctl_refuses": case.kwctl_refuses,
                "replay": case.replay_path(&dir),
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    Ok(out)
}

/// Runs `case` on the native core with the same settings, request and recorded session, for
/// the parity every suite requires.
pub fn native_outcome(case: &Case, dir: &Path) -> Result<Outcome> {
    let settings = serde_json::to_vec(&case.settings)?;
    let sv = image_digest_policy::validate_settings(&settings);
    if !sv.valid {
        return Ok(Outcome::SettingsRefused(sv.message.unwrap_or_default()));
    }
    let request = case.request_bytes(dir)?;
    let payload = image_digest_runner::payload(&request, &settings);
    let (host, session) = host_for(case, dir)?;
    let mut resolver = image_digest_runner::HostResolver(host);
    let v = image_digest_policy::validate_with(&payload, &mut resolver);
    used_up(case, session.as_deref())?;
    let warnings = v.warning_texts();
    let patch = match v.mutated_object {
        Some(mutated) => {
            let original: Value = serde_json::from_slice(&request)
                .with_context(|| format!("case {:?}: the request is not JSON", case.name))?;
            let object = original.get("object").unwrap_or(&Value::Null);
            Some(serde_json::to_value(json_patch::diff(object, &mutated))?)
        }
        None => None,
    };
    Ok(Outcome::Evaluated {
        accepted: v.accepted,
        message: v.message,
        warnings,
        patch,
    })
}

/// One entry of the adversarial image corpus (`e2e-tests/adversarial/images.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusImage {
    /// The image string.
    pub image: String,
    /// `accept` (pinned), `warn` (accepted, not pinned) or `reject`.
    pub verdict: String,
    /// A part of the message a rejection must contain.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The adversarial image corpus, read by the corpus suite and the web build's table.
pub fn image_corpus() -> Result<Vec<CorpusImage>> {
    #[derive(Deserialize)]
    struct Corpus {
        images: Vec<CorpusImage>,
    }
    let path = e2e_dir().join("adversarial/images.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let corpus: Corpus =
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(corpus.images)
}

/// The one AdmissionRequest builder of the tests and benchmarks: a CREATE of `object` (whose
/// `kind` and `metadata.namespace` it reads) as the API server sends it, with `userInfo` (kwctl
/// refuses a request without it). `kind` is `(group, kind, resource)`.
pub fn admission_request(kind: (&str, &str, &str), object: Value) -> Value {
    let (group, k, resource) = kind;
    let version = match group {
        "" | "apps" | "batch" => "v1",
        _ => "v1alpha1",
    };
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned();
    serde_json::json!({
        "uid": "test",
        "kind": {"group": group, "version": version, "kind": k},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": k},
        "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
        "object": object,
        "oldObject": null,
        "dryRun": false
    })
}

/// The CREATE request for a Pod in `default` with these containers.
pub fn pod_request(containers: Vec<Value>) -> Value {
    admission_request(
        ("", "Pod", "pods"),
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "corpus", "namespace": "default"},
            "spec": {"containers": containers}
        }),
    )
}
