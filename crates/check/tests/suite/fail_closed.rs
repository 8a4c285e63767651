//! No false green: every way a run could look like a pass without having checked what the
//! user meant, and the reports that strict readers must accept.

use crate::harness::{assert_schema_valid, checker, python, workspace, write};

fn drifted_without_namespaces() -> String {
    std::fs::read_to_string(workspace().join("examples/agents-render-drifted.yaml"))
        .expect("the example is committed")
        .lines()
        .filter(|l| !l.trim_start().starts_with("namespace:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_render_without_namespaces_under_scoped_settings_is_an_input_error() {
    let mut c = checker();
    c.args(["--settings", "examples/settings/prod.yaml", "-"]);
    let out = c.stdin(&drifted_without_namespaces()).assert_exit_both(2);
    let text = out.stdout;
    assert!(!text.contains("2 accepted"), "{text}");
    assert!(
        text.contains("error: <stdin>#3: Deployment \"agents\" has no metadata.namespace, and the settings check only some namespaces (include [\"agents\", \"prod-*\"], exclude []): pass --namespace NAME, the namespace it will be installed in (as `helm template -n NAME`)"),
        "{text}"
    );
    // Told where it goes, the same render is checked and rejected.
    let mut c = checker();
    c.args([
        "--settings",
        "examples/settings/prod.yaml",
        "--namespace",
        "agents",
        "-",
    ]);
    let out = c.stdin(&drifted_without_namespaces()).assert_exit_both(1);
    let text = out.stdout;
    assert!(
        text.contains("2 workloads checked, 0 accepted (0 with warnings), 2 rejected"),
        "{text}"
    );
}

#[test]
fn unchecked_kinds_are_listed_and_an_empty_run_is_not_a_pass() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let rollout = tmp.path().join("rollout.yaml");
    write(
        &rollout,
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: agents}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: 'nginx:latest'}]\n",
    );
    let crd = tmp.path().join("crd.yaml");
    write(
        &crd,
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n",
    );
    let typo = tmp.path().join("typo.yaml");
    write(
        &typo,
        "apiVersion: app/v1\nkind: Deployment\nmetadata: {name: x, namespace: agents}\n",
    );
    let empty = tmp.path().join("empty.yaml");
    write(&empty, "");
    for (file, kind) in [
        (&rollout, "argoproj.io/v1alpha1 Rollout 1"),
        (&crd, "apiextensions.k8s.io/v1 CustomResourceDefinition 1"),
        (&typo, "app/v1 Deployment 1"),
        (&empty, "0 skipped"),
    ] {
        let mut c = checker();
        c.arg(file);
        let text = c.assert_exit(2);
        assert!(text.contains(kind), "{}: {text}", file.display());
        assert!(
            text.contains("error: nothing was checked") && text.contains("--allow-empty"),
            "{text}"
        );
        let mut c = checker();
        c.arg("--allow-empty").arg(file);
        c.assert_exit(0);
    }
    let mut c = checker();
    c.args(["--output", "json"]).arg(&rollout);
    let out = c.output();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        report["summary"]["skippedKinds"]["argoproj.io/v1alpha1 Rollout"],
        1
    );
}

#[test]
fn out_of_scope_workloads_are_not_called_accepted() {
    let mut c = checker();
    c.args(["--settings", "examples/settings/prod.yaml", "-"]);
    let render = std::fs::read_to_string(workspace().join("examples/agents-render-drifted.yaml"))
        .expect("the example is committed")
        .replace("namespace: agents", "namespace: staging");
    let text = c.stdin(&render).assert_exit(2);
    assert!(text.contains("0 workloads checked, 0 accepted"), "{text}");
    assert!(text.contains("; 2 out of scope;"), "{text}");
    assert!(
        text.contains("2 outside the settings' namespaces"),
        "{text}"
    );
}

#[test]
fn junit_is_strict_xml_and_counts_each_result_once() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let pod = tmp.path().join("pod.json");
    write(
        &pod,
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ctl\u0001x", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}"#,
    );
    let bad = tmp.path().join("bad.yaml");
    write(&bad, "kind: [unclosed\n");
    let mut c = checker();
    c.args(["--output", "junit"]).arg(&pod).arg(&bad);
    let out = c.assert_exit_both(2);
    let xml = out.stdout;
    let parsed = python(
        "import sys, xml.etree.ElementTree as E\n\
         r = E.parse(sys.stdin).getroot()\n\
         print(r.get('tests'), r.get('failures'), r.get('errors'))",
        &xml,
    );
    assert!(
        parsed.status.success(),
        "a strict XML parser refuses the report: {}\n{xml}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout).trim(),
        "2 1 1",
        "{xml}"
    );
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("a JUnit reader takes it");
    assert_eq!((report.tests, report.failures, report.errors), (2, 1, 1));
}

#[test]
fn the_json_report_is_versioned_and_matches_its_schema() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let bad = tmp.path().join("bad.yaml");
    write(&bad, "- a list\n");
    let mut c = checker();
    c.args([
        "--output",
        "json",
        "--settings",
        "examples/settings/non-prod.yaml",
        "examples/agents-render.yaml",
        "examples/agents-render-drifted.yaml",
    ])
    .arg(&bad);
    let json = c.assert_exit(2);
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        report["schemaVersion"],
        image_digest_scan::report::SCHEMA_VERSION
    );
    assert_eq!(report["summary"]["rejected"], 1);
    assert_eq!(report["summary"]["withWarnings"], 1);
    assert_schema_valid("docs/check-report.schema.json", &json);

    let mut c = checker();
    c.args(["--output", "json", "examples/settings/prod.yaml"]);
    let empty = c.output();
    assert_schema_valid(
        "docs/check-report.schema.json",
        &String::from_utf8_lossy(&empty.stdout),
    );
}

#[test]
fn a_symlink_loop_is_reported_once_and_each_file_read_once() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path().join("manifests");
    let render = std::fs::read_to_string(workspace().join("examples/agents-render.yaml"))
        .expect("the example is committed");
    write(&dir.join("render.yaml"), &render);
    std::os::unix::fs::symlink(&dir, dir.join("loop")).expect("symlink");
    let mut c = checker();
    c.args(["--settings", "examples/settings/prod.yaml"])
        .arg(&dir);
    let text = c.assert_exit(2);
    assert!(text.contains("4 documents: 2 workloads checked"), "{text}");
    assert_eq!(text.matches("symbolic link loop").count(), 1, "{text}");
}
