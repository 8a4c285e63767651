//! Every finding points at its `image:` value: exact line and column in multi-document YAML,
//! `List` items, JSON (one document and a stream), CRLF files and stdin; and the formats CI
//! systems read (SARIF against the SARIF 2.1.0 schema, GitHub workflow commands, file:line:col
//! text) carry those positions.

use crate::harness::{assert_schema_valid, checker, write};
use serde_json::Value;

/// (file, line, column, rule) of a finding or warning.
type Place = (String, u64, u64, String);

/// Every finding's and warning's place in a JSON report.
fn places(report: &Value) -> Vec<Place> {
    let mut out = Vec::new();
    for r in report["results"].as_array().into_iter().flatten() {
        let file = r["file"].as_str().unwrap_or("").to_owned();
        for f in r["findings"].as_array().into_iter().flatten() {
            let n = |k: &str| f[k].as_u64().unwrap_or(0);
            let rule = f["rule"].as_str().unwrap_or("").to_owned();
            out.push((file.clone(), n("line"), n("column"), rule));
        }
        for w in r["warnings"].as_array().into_iter().flatten() {
            let n = |k: &str| w[k].as_u64().unwrap_or(0);
            let rule = w["rule"].as_str().unwrap_or("").to_owned();
            out.push((file.clone(), n("line"), n("column"), rule));
        }
    }
    out
}

fn json_report(args: &[&str], stdin: Option<&str>) -> Value {
    let mut c = checker();
    c.args(["--output", "json"]).args(args);
    if let Some(text) = stdin {
        c.stdin(text);
    }
    let out = c.output();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const MULTI: &str = "# a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  initContainers:\n  - name: i\n    image: busybox\n  containers:\n  - name: a\n    image:   \"nginx:latest\"\n  - {name: b, image: 'redis:7'}\n--- {apiVersion: v1, kind: Pod, metadata: {name: q, namespace: x}, spec: {containers: [{name: c, image: alpine}]}}\n";

#[test]
fn positions_are_exact_in_every_input_form() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let multi = tmp.path().join("multi.yaml");
    write(&multi, MULTI);
    let crlf = tmp.path().join("crlf.yaml");
    write(&crlf, &MULTI.replace('\n', "\r\n"));
    let list = tmp.path().join("list.yaml");
    write(
        &list,
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: m, namespace: x}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d, namespace: x}\n  spec:\n    template:\n      spec:\n        containers:\n        - name: app\n          image: nginx:latest\n",
    );
    let json = tmp.path().join("pod.json");
    write(
        &json,
        "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"j\", \"namespace\": \"x\"},\n  \"spec\": {\"containers\": [\n    {\"name\": \"c\", \"image\": \"nginx:latest\"}\n  ]}\n}\n",
    );
    let stream = tmp.path().join("stream.json");
    write(
        &stream,
        "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"s1\", \"namespace\": \"x\"}, \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"busybox:1.36\"}]}}\n{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"s2\", \"namespace\": \"x\"},\n \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"nginx\"}]}}\n",
    );
    let name = |p: &std::path::Path| p.display().to_string();
    let expected_multi = |f: &str| {
        vec![
            (f.to_owned(), 13, 12, "mutable-tag".to_owned()),
            (f.to_owned(), 16, 14, "mutable-tag".to_owned()),
            (f.to_owned(), 17, 22, "unpinned".to_owned()),
            (f.to_owned(), 18, 105, "mutable-tag".to_owned()),
        ]
    };
    let cases: Vec<(String, Option<&str>, Vec<Place>)> = vec![
        (name(&multi), None, expected_multi(&name(&multi))),
        (name(&crlf), None, expected_multi(&name(&crlf))),
        ("-".to_owned(), Some(MULTI), expected_multi("<stdin>")),
        (
            name(&list),
            None,
            vec![(name(&list), 15, 18, "mutable-tag".to_owned())],
        ),
        (
            name(&json),
            None,
            vec![(name(&json), 6, 28, "mutable-tag".to_owned())],
        ),
        (
            name(&stream),
            None,
            vec![
                (name(&stream), 1, 130, "unpinned".to_owned()),
                (name(&stream), 3, 49, "mutable-tag".to_owned()),
            ],
        ),
    ];
    for (path, stdin, expected) in cases {
        let report = json_report(&[&path], stdin);
        assert_eq!(places(&report), expected, "{path}: {report:#}");
    }
}

#[test]
fn text_lines_start_with_file_line_column() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let multi = tmp.path().join("multi.yaml");
    write(&multi, MULTI);
    let mut c = checker();
    c.arg(&multi);
    let out = c.output();
    let text = String::from_utf8_lossy(&out.stdout);
    let f = multi.display();
    for want in [
        format!("{f}:13:12: Pod x/p: spec.initContainers[0] (container \"i\"): image \"busybox\""),
        format!("{f}:16:14: Pod x/p: spec.containers[0] (container \"a\"): image \"nginx:latest\""),
        format!(
            "{f}:17:22: Pod x/p: warning: spec.containers[1] (container \"b\"): image \"redis:7\" is not pinned"
        ),
        format!("{f}:18:105: Pod x/q: spec.containers[0]"),
    ] {
        assert!(text.contains(&want), "{want}\nnot in:\n{text}");
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_rules_and_locations() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let multi = tmp.path().join("multi.yaml");
    write(&multi, MULTI);
    let bad = tmp.path().join("bad.yaml");
    write(&bad, "kind: [unclosed\n");
    let mut c = checker();
    c.args([
        "--output",
        "sarif",
        "--settings",
        "examples/settings/non-prod.yaml",
    ])
    .arg(&multi)
    .arg(&bad)
    .arg("examples/agents-render-drifted.yaml");
    let out = c.assert_exit_both(2);
    let sarif = out.stdout;
    assert_schema_valid("crates/check/tests/data/sarif-schema-2.1.0.json", &sarif);
    let doc: Value = serde_json::from_str(&sarif).expect("JSON");
    let run = &doc["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "invalid-ref",
        "mutable-tag",
        "missing-tag",
        "no-digest",
        "disallowed-algorithm",
        "unpinned",
    ] {
        assert!(rules.contains(&id), "rule {id} missing: {rules:?}");
    }
    let results = run["results"].as_array().expect("results");
    let find = |uri_end: &str, line: u64| {
        results.iter().find(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            loc["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.ends_with(uri_end))
                && loc["region"]["startLine"] == line
        })
    };
    let drift = find("agents-render-drifted.yaml", 46).expect("the latest finding");
    assert_eq!(drift["ruleId"], "mutable-tag");
    assert_eq!(drift["level"], "error");
    assert_eq!(
        drift["locations"][0]["physicalLocation"]["region"]["startColumn"],
        16
    );
    let unpinned = find("agents-render-drifted.yaml", 94).expect("the controllers warning");
    assert_eq!(
        (&unpinned["ruleId"], &unpinned["level"]),
        (&"unpinned".into(), &"warning".into())
    );
    let warning = find("multi.yaml", 17).expect("the redis warning");
    assert_eq!(warning["level"], "warning");
    let implicit = find("multi.yaml", 13).expect("busybox, implicitly latest");
    assert_eq!(implicit["ruleId"], "mutable-tag");
    let input = find("bad.yaml", 1).expect("the input error is a result too");
    assert_eq!(input["level"], "error");
}

#[test]
fn github_annotations_carry_file_line_column_and_escape_their_data() {
    let mut c = checker();
    c.args([
        "--output",
        "github",
        "--settings",
        "examples/settings/non-prod.yaml",
        "examples/agents-render-drifted.yaml",
    ]);
    let text = c.assert_exit(1);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("::error file=examples/agents-render-drifted.yaml,line=46,col=16,title=image-digest-policy%3A mutable-tag::Deployment agents/agents: spec.template.spec.containers[0]"), "{text}");
    assert!(lines[1].starts_with("::warning file=examples/agents-render-drifted.yaml,line=94,col=16,title=image-digest-policy%3A unpinned::"), "{text}");
    assert!(
        lines[2].starts_with("4 documents: 2 workloads checked"),
        "{text}"
    );
}

/// An image volume on `latest` is a finding at its `reference:` value in every format, named
/// as a volume; the pinned container beside it is accepted.
#[test]
fn an_image_volume_is_found_at_its_reference_in_every_format() {
    let file = "examples/image-volume.yaml";
    let report = json_report(&[file], None);
    assert_eq!(
        places(&report),
        [(file.to_owned(), 20, 20, "mutable-tag".to_owned())],
        "{report}"
    );
    let finding = &report["results"][0]["findings"][0];
    assert_eq!(finding["path"], "spec.volumes[0].image.reference");
    let text = |format: &str| {
        let mut c = checker();
        c.args(["--output", format, file]);
        let out = c.assert_exit_both(1);
        out.stdout
    };
    assert!(text("text").starts_with("examples/image-volume.yaml:20:20: Pod agents/image-volume: spec.volumes[0].image.reference (volume \"volume\"): image \"quay.io/crio/artifact:latest\": tag `latest` is mutable"), "{}", text("text"));
    assert!(text("github").starts_with("::error file=examples/image-volume.yaml,line=20,col=20,title=image-digest-policy%3A mutable-tag::Pod agents/image-volume: spec.volumes[0].image.reference (volume \"volume\")"), "{}", text("github"));
    let sarif: Value = serde_json::from_str(&text("sarif")).expect("SARIF is JSON");
    let region = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(20), Some(20)),
        "{sarif}"
    );
    assert!(
        text("junit").contains("spec.volumes[0].image.reference (volume &quot;volume&quot;)"),
        "{}",
        text("junit")
    );
}
