//! `image-digest-check values` on the cases of `e2e-tests/values/cases.yaml` (the seed's GitOps
//! values and drifted copies): exit codes, every finding at its exact file:line:column with its
//! values path and rule; and `docs/values.schema.json` against the same merged values.

use crate::harness::{checker, python, workspace};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    files: Vec<String>,
    #[serde(default)]
    settings: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    exit: i32,
    findings: Vec<Expected>,
    #[serde(default)]
    warnings: usize,
    schema: bool,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expected {
    at: String,
    path: String,
    rule: String,
}

fn cases() -> Vec<Case> {
    let path = workspace().join("e2e-tests/values/cases.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let table: Table = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(table.cases.len() >= 8, "the values table lost cases");
    table.cases
}

#[test]
fn values_cases_exit_and_point_at_the_key_to_set() {
    let mut failures = Vec::new();
    for case in cases() {
        let mut c = checker();
        c.args(["values", "--output", "json"]).args(&case.files);
        if let Some(s) = &case.settings {
            c.args(["--settings", s]);
        }
        if let Some(ns) = &case.namespace {
            c.args(["--namespace", ns]);
        }
        let out = c.output();
        let report: Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: {e}: {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        let mut got = Vec::new();
        let mut warnings = 0;
        for r in report["results"].as_array().into_iter().flatten() {
            for f in r["findings"].as_array().into_iter().flatten() {
                got.push(Expected {
                    at: format!(
                        "{}:{}:{}",
                        r["file"].as_str().unwrap_or(""),
                        f["line"],
                        f["column"]
                    ),
                    path: f["path"].as_str().unwrap_or("").to_owned(),
                    rule: f["rule"].as_str().unwrap_or("").to_owned(),
                });
                let detail = f["detail"].as_str().unwrap_or("");
                let fix = format!("Fix: set {}", f["path"].as_str().unwrap_or(""));
                if !detail.contains(&fix) {
                    failures.push(format!(
                        "{}: the fix does not name the key: {detail}",
                        case.name
                    ));
                }
            }
            warnings += r["warnings"].as_array().map_or(0, Vec::len);
        }
        if out.status.code() != Some(case.exit) {
            failures.push(format!(
                "{}: exit {:?}, expected {}: {report:#}",
                case.name,
                out.status.code(),
                case.exit
            ));
        }
        if got != case.findings {
            failures.push(format!(
                "{}: findings {got:?}, expected {:?}",
                case.name, case.findings
            ));
        }
        if warnings != case.warnings {
            failures.push(format!(
                "{}: {warnings} warnings, expected {}",
                case.name, case.warnings
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Helm's merge: maps deeply, later files win, `null` deletes.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[test]
fn the_values_schema_fragment_agrees_on_the_chart_blocks() {
    let schema = workspace().join("docs/values.schema.json");
    for case in cases() {
        let mut merged = Value::Object(Map::new());
        for f in &case.files {
            let path = workspace().join(f);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
            merge(&mut merged, v);
        }
        let script = format!(
            "import json, sys, jsonschema\n\
             schema = json.load(open({:?}))\n\
             jsonschema.Draft7Validator.check_schema(schema)\n\
             errors = list(jsonschema.Draft7Validator(schema).iter_errors(json.load(sys.stdin)))\n\
             print('valid' if not errors else 'invalid: ' + '; '.join(e.message for e in errors))",
            schema.display().to_string()
        );
        let out = python(&script, &merged.to_string());
        let verdict = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(verdict == "valid", case.schema, "{}: {verdict}", case.name);
    }
}

/// An empty tag renders the chart's appVersion: `--chart DIR` reads it from `Chart.yaml` (and
/// `--app-version` gives it), and the image it renders is judged; a chart directory without an
/// appVersion is an error, not a guess (issue 22).
#[test]
fn the_chart_supplies_the_tag_an_empty_tag_renders() {
    let mut c = checker();
    c.args([
        "values",
        "--output",
        "json",
        "--chart",
        "e2e-tests/values/cert-manager-chart",
        "e2e-tests/values/cert-manager.yaml",
    ]);
    let report: Value = serde_json::from_str(&c.assert_exit(0)).expect("JSON");
    let mut images: Vec<String> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .flat_map(|r| r["warnings"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w["message"].as_str().map(str::to_owned))
        .collect();
    images.sort();
    assert_eq!(images.len(), 3, "{images:?}");
    assert!(
        images[0]
            .contains("image \"quay.io/jetstack/cert-manager-cainjector:v1.20.0\" is not pinned"),
        "{images:?}"
    );
    let mut c = checker();
    c.args([
        "values",
        "--app-version",
        "v1.20.0",
        "e2e-tests/values/cert-manager.yaml",
    ]);
    c.assert_exit(0);
    let mut c = checker();
    c.args([
        "values",
        "--chart",
        "e2e-tests/values",
        "e2e-tests/values/cert-manager.yaml",
    ]);
    let out = c.assert_exit_both(2);
    assert!(out.stderr.contains("Chart.yaml"), "{}", out.stderr);
}

/// Every layout of `e2e-tests/values/layouts/` (excerpts of public charts' values.yaml):
/// each `# renders: BLOCK IMAGE` line of a file's header is the image the chart's template
/// renders from it, and the checker composes exactly those, no more, no fewer.
#[test]
fn every_published_layout_composes_what_its_template_renders() {
    let dir = workspace().join("e2e-tests/values/layouts");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .map(|p| if p.is_dir() { p.join("values.yaml") } else { p })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let header = |key: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(&format!("# {key}: ")))
                .map(str::to_owned)
                .collect()
        };
        let mut want: Vec<(String, String)> = header("renders")
            .iter()
            .map(|l| {
                let (block, image) = l.split_once(' ').unwrap();
                (block.to_owned(), image.to_owned())
            })
            .collect();
        want.sort();
        let mut c = checker();
        c.args(["values", "--output", "json"]);
        if let Some(v) = header("app-version").first() {
            c.args(["--app-version", v]);
        }
        if !header("chart").is_empty() {
            c.arg("--chart").arg(file.parent().unwrap());
        }
        c.arg(&file);
        let out = c.output();
        let json = String::from_utf8_lossy(&out.stdout);
        let doc: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{}: {e}: {json}", file.display()));
        let mut got: Vec<(String, String)> = doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["image"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{}: {json}", file.display());
        assert_eq!(
            doc["inputErrors"],
            serde_json::json!([]),
            "{}",
            file.display()
        );
        assert!(
            doc["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["error"].is_null()),
            "{}: every image judged: {json}",
            file.display()
        );
        crate::harness::assert_schema_valid("docs/check-report.schema.json", &json);
    }
}

/// Issue 32: images written as strings are judged (and their findings name the image as
/// composed); a block shaped like an image that names none is reported with its key, exit 2,
/// never dropped while the summary counts only the others.
#[test]
fn string_images_are_judged_and_blocks_that_cannot_be_composed_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("values.yaml");
    crate::harness::write(
        &file,
        "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: latest\nsidecar:\n  image: \"busybox:latest\"\ninitImage: busybox\nworker:\n  image:\n    repository: \"\"\n    tag: \"1.0\"\n",
    );
    let mut c = checker();
    c.current_dir(tmp.path()).args(["values", "values.yaml"]);
    let out = c.assert_exit(2);
    for want in [
        "values.yaml:4:8: HelmValues default/image: image.digest (component \"image\"): image \"docker.io/bitnami/redis:latest\": tag `latest` is mutable",
        "values.yaml:6:10: HelmValues default/sidecar.image: sidecar.image (component \"sidecar.image\"): image \"busybox:latest\": tag `latest` is mutable",
        "values.yaml:7:12: HelmValues default/initImage: initImage (component \"initImage\"): image \"busybox\": no tag and no digest",
        "HelmValues default/worker.image: ERROR: worker.image: not judged: its repository is empty",
        "3 images checked, 0 accepted (0 with warnings), 3 rejected, 1 errored",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}
