//! Every reason the policy gives, through every output format (text, JSON, SARIF, GitHub,
//! JUnit, OpenReports), with its rule: the rule is
//! data (`image_digest_policy::rules::Problem::rule`), never a phrase searched for in the
//! message. One row per `Problem` variant; host lookups come from recorded sessions.

use crate::harness::{TestCommand, checker, settings_file, write};
use image_digest_policy::rules::Problem;
use serde_json::{Value, json};

/// The row that produces each variant. Exhaustive on purpose: a new `Problem` does not
/// compile until it has a row below.
fn row_name(p: &Problem) -> &'static str {
    match p {
        Problem::NoImage => "no image",
        Problem::NullImage => "null image",
        Problem::NotAString(_) => "not a string",
        Problem::Invalid(_) => "invalid reference",
        Problem::NoDigest => "no digest",
        Problem::Drift { .. } => "drift",
        Problem::NoTag => "no tag",
        Problem::AlgorithmNotAllowed { .. } => "algorithm not allowed",
        Problem::LookupFailed { .. } => "lookup failed",
        Problem::NotPinned { .. } => "not pinned",
        Problem::TagMoved { .. } => "tag moved",
        Problem::TagUnverified { .. } => "tag unverified",
        Problem::Unpinned => "unpinned",
        Problem::ExemptPath { .. } => "exempt path",
        Problem::OperatorDefault => "operator default",
    }
}

use image_digest_testkit::policy::TEST_DIGEST_HEX as H;

struct Row {
    name: &'static str,
    /// The container's `image:` as YAML (a string, `null`, a number), or `None` for no key.
    image: Option<String>,
    settings: Value,
    replay: Option<&'static str>,
    rule: &'static str,
    /// A blocking finding, or a warning of an accepted Pod.
    blocks: bool,
}

fn rows() -> Vec<Row> {
    let jangar = format!("\"registry.ide-newton.ts.net/lab/jangar:5b72ee1e@sha256:{H}\"");
    let row = |name, image: Option<&str>, settings: Value, replay, rule, blocks| Row {
        name,
        image: image.map(str::to_owned),
        settings,
        replay,
        rule,
        blocks,
    };
    vec![
        row("no image", None, json!({}), None, "invalid-ref", true),
        row(
            "null image",
            Some("null"),
            json!({}),
            None,
            "invalid-ref",
            true,
        ),
        row(
            "not a string",
            Some("42"),
            json!({}),
            None,
            "invalid-ref",
            true,
        ),
        row(
            "invalid reference",
            Some("Nginx:1.27"),
            json!({}),
            None,
            "invalid-ref",
            true,
        ),
        row(
            "no digest",
            Some("nginx:1.27"),
            json!({"requireDigest": true}),
            None,
            "no-digest",
            true,
        ),
        row(
            "drift",
            Some("nginx:latest"),
            json!({}),
            None,
            "mutable-tag",
            true,
        ),
        row(
            "no tag",
            Some(&format!("nginx@sha256:{H}")),
            json!({}),
            None,
            "missing-tag",
            true,
        ),
        row(
            "algorithm not allowed",
            Some(&format!("nginx:1.27@sha512:{H}{H}")),
            json!({"allowedDigestAlgorithms": ["sha256"]}),
            None,
            "disallowed-algorithm",
            true,
        ),
        row(
            "lookup failed",
            Some("nginx:1.27"),
            json!({"pinDigests": true, "requireDigest": true}),
            Some("registry-down.yml"),
            "host-lookup",
            true,
        ),
        row(
            "not pinned",
            Some("nginx:1.27"),
            json!({"pinDigests": true}),
            Some("registry-down.yml"),
            "host-lookup",
            false,
        ),
        row(
            "tag moved",
            Some(&jangar),
            json!({"verifyTagDigest": "reject"}),
            Some("jangar-tag-moved.yml"),
            "tag-moved",
            true,
        ),
        row(
            "tag unverified",
            Some(&jangar),
            json!({"verifyTagDigest": "warn"}),
            Some("registry-down-controllers.yml"),
            "tag-unverified",
            false,
        ),
        row(
            "unpinned",
            Some("nginx:1.27"),
            json!({}),
            None,
            "unpinned",
            false,
        ),
        // An ECK Kibana without `spec.image`: the operator runs its default, a bare tag.
        row(
            "operator default",
            None,
            json!({"requireDigest": true, "presets": ["eck"]}),
            None,
            "no-digest",
            true,
        ),
        // A custom kind's field that cannot hold a digest (`widget`, below).
        row(
            "exempt path",
            Some("nginx:1.27"),
            json!({
                "requireDigest": true,
                "customKinds": [{"apiGroup": "example.com", "kind": "Widget", "images": ["spec.image"]}],
                "exemptPaths": [{"kind": "Widget", "path": "spec.image", "reason": "the Widget CRD has no digest field"}]
            }),
            None,
            "exempt-path",
            false,
        ),
    ]
}

fn pod(image: Option<&str>) -> String {
    let image = image.map_or(String::new(), |i| format!("\n      image: {i}"));
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: agents\nspec:\n  containers:\n    - name: app{image}\n"
    )
}

/// The checker's output in `format` on the row's Pod, with its exit code.
fn check(row: &Row, dir: &std::path::Path, format: &str) -> (Option<i32>, String) {
    let file = dir.join("pod.yaml");
    let text = match row.name {
        "exempt path" => format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: p\n  namespace: agents\nspec:\n  image: {}\n",
            row.image.as_deref().unwrap_or_default()
        ),
        "operator default" => "apiVersion: kibana.k8s.elastic.co/v1\nkind: Kibana\nmetadata:\n  name: p\n  namespace: agents\nspec:\n  version: 9.1.0\n  count: 1\n".to_owned(),
        _ => pod(row.image.as_deref()),
    };
    write(&file, &text);
    let mut c = checker();
    if let Some(session) = row.replay {
        c.arg("--replay-host-capabilities-interactions")
            .arg(format!("e2e-tests/sessions/{session}"));
    }
    c.arg("--settings")
        .arg(settings_file(dir, &row.settings))
        .args(["--output", format])
        .arg(&file);
    let out = c.output();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_problem_reaches_every_format_with_its_rule() {
    // The variants the rows must cover, each named by the exhaustive match above.
    let variants = [
        Problem::NoImage,
        Problem::NullImage,
        Problem::NotAString("a number"),
        Problem::Invalid(image_digest_policy::reference::ReferenceError::Empty),
        Problem::NoDigest,
        Problem::Drift { tag: None },
        Problem::NoTag,
        Problem::AlgorithmNotAllowed {
            algorithm: String::new(),
            allowed: Vec::new(),
        },
        Problem::LookupFailed {
            reason: String::new(),
        },
        Problem::NotPinned {
            reason: String::new(),
        },
        Problem::TagMoved {
            tag: String::new(),
            current: String::new(),
            pinned: String::new(),
        },
        Problem::TagUnverified {
            tag: String::new(),
            pinned: String::new(),
            reason: String::new(),
        },
        Problem::Unpinned,
        Problem::ExemptPath {
            reason: String::new(),
        },
        Problem::OperatorDefault,
    ];
    let rows = rows();
    for v in &variants {
        assert!(
            rows.iter().any(|r| r.name == row_name(v)),
            "no row produces {v:?}"
        );
        let row = rows.iter().find(|r| r.name == row_name(v));
        assert_eq!(row.map(|r| r.rule), Some(v.rule().id()), "{v:?}");
    }
    assert_eq!(rows.len(), variants.len());

    let tmp = tempfile::tempdir().expect("a temp dir");
    let mut failures = Vec::new();
    for row in &rows {
        let dir = tmp.path().join(row.name.replace(' ', "-"));
        std::fs::create_dir_all(&dir).expect("a row dir");
        let want_exit = Some(if row.blocks { 1 } else { 0 });
        let field = if row.blocks { "findings" } else { "warnings" };

        let (code, out) = check(row, &dir, "json");
        let report: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let rules: Vec<&str> = report["results"][0][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        if code != want_exit || rules != [row.rule] {
            failures.push(format!(
                "{}: json: exit {code:?}, {field} rules {rules:?}, want {:?} and [{}]\n{out}",
                row.name, want_exit, row.rule
            ));
        }

        let (_, out) = check(row, &dir, "sarif");
        let sarif: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let ids: Vec<&str> = sarif["runs"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["ruleId"].as_str())
            .collect();
        if ids != [row.rule] {
            failures.push(format!("{}: sarif ruleIds {ids:?}", row.name));
        }

        let (_, out) = check(row, &dir, "github");
        let level = if row.blocks { "::error " } else { "::warning " };
        let title = format!("title=image-digest-policy%3A {}::", row.rule);
        if !out
            .lines()
            .any(|l| l.starts_with(level) && l.contains(&title))
        {
            failures.push(format!("{}: github: no {level}{title} in\n{out}", row.name));
        }

        let (_, out) = check(row, &dir, "text");
        let suffix = format!(" [{}]", row.rule);
        let marker = if row.blocks {
            " agents/p: spec."
        } else {
            ": warning: "
        };
        if !out
            .lines()
            .any(|l| l.contains(marker) && l.ends_with(&suffix))
        {
            failures.push(format!(
                "{}: text: no line ending {suffix:?} in\n{out}",
                row.name
            ));
        }

        let (_, out) = check(row, &dir, "junit");
        let want = if row.blocks {
            format!("type=\"{}\"", row.rule)
        } else {
            format!("[{}]", row.rule)
        };
        if !out.contains(&want) {
            failures.push(format!("{}: junit: no {want} in\n{out}", row.name));
        }

        let (_, out) = check(row, &dir, "openreports");
        let want = format!("\"rule\": \"{}\"", row.rule);
        if !out.contains(&want) {
            failures.push(format!("{}: openreports: no {want} in\n{out}", row.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Each document is evaluated once, by the module the user runs: its `report` function gives
/// the findings. A module without one (here the benchmark floor, a different policy) is an
/// error that says what to do, never findings from the checker's own core passed off as the
/// module's.
#[test]
fn a_module_without_report_is_an_error_not_a_guess() {
    let floor =
        image_digest_testkit::policy::target_dir().join("wasm32-wasip1/wasm/floor_policy.wasm");
    assert!(floor.exists(), "{}: run `make lint`", floor.display());
    let tmp = tempfile::tempdir().expect("a temp dir");
    let file = tmp.path().join("pod.yaml");
    write(&file, &pod(Some("nginx:latest")));
    let mut c = TestCommand::bare();
    c.arg("--policy").arg(&floor).arg("--no-cache").arg(&file);
    let stdout = c.assert_exit(2);
    assert!(
        stdout.contains("Pod agents/p: ERROR: the policy module has no `report` function")
            && stdout.contains("run the checker of the module's release, or without --policy"),
        "{stdout}"
    );
}
