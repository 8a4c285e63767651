//! Parity with the e2e table, manifests from files, directories and stdin, and the
//! documented exit codes.

use crate::harness::{TestCommand, checker, settings_file, workspace, write};
use image_digest_testkit::cases::{self, Outcome};
use serde_json::Value;
use std::process::Output;

/// The checker's JSON report of one recorded request, as an Outcome comparable to the others.
fn outcome(out: &Output) -> Outcome {
    if out.status.code() == Some(2) {
        return Outcome::SettingsRefused(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let report: Value = serde_json::from_slice(&out.stdout).expect("the JSON report parses");
    let r = &report["results"][0];
    let message = r["message"].as_str().map(str::to_owned);
    let warnings = r["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["message"].as_str())
        .map(str::to_owned)
        .collect();
    let patch = Some(r["patch"].clone()).filter(|p| !p.is_null());
    Outcome::Evaluated {
        accepted: r["allowed"].as_bool().unwrap_or(false),
        message,
        warnings,
        patch,
    }
}

#[test]
fn parity_with_the_e2e_table() {
    let dir = cases::e2e_dir();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases::load(&dir).expect("the table loads") {
        let mut c = checker();
        if let Some(replay) = case.replay_path(&dir) {
            c.arg("--replay-host-capabilities-interactions").arg(replay);
        }
        c.arg("--settings")
            .arg(settings_file(tmp.path(), &case.settings));
        c.arg("--output")
            .arg("json")
            .arg("--request")
            .arg(case.request_path(&dir));
        let out = c.output();
        let o = outcome(&out);
        // From the case alone: an outcome that went wrong must not pick its own exit code.
        let expected_code = match (case.settings_valid, case.allowed) {
            (false, _) => 2,
            (true, true) => 0,
            (true, false) => 1,
        };
        if out.status.code() != Some(expected_code) {
            failures.push(format!(
                "case {:?}: exit {:?}, expected {expected_code}",
                case.name,
                out.status.code()
            ));
        }
        if let Err(e) = case.check(&o) {
            failures.push(e);
        }
        ran += 1;
    }
    eprintln!("checker parity: {ran} cases, {} failures", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 50);
}

#[test]
fn the_chart_render_passes_prod_and_the_drifted_copy_does_not() {
    let mut c = checker();
    c.args([
        "--settings",
        "examples/settings/prod.yaml",
        "examples/agents-render.yaml",
    ]);
    let text = c.assert_exit(0);
    assert!(
        text.contains(
            "4 documents: 2 workloads checked, 2 accepted (0 with warnings), 0 rejected, 0 errored; 0 out of scope; 2 skipped (kinds not checked: v1 Service 1, v1 ServiceAccount 1); 0 input errors"
        ),
        "{text}"
    );

    let mut c = checker();
    c.args(["--settings", "examples/settings/prod.yaml", "-"]);
    let drifted = std::fs::read_to_string(workspace().join("examples/agents-render-drifted.yaml"))
        .expect("the example is committed");
    let text = c.stdin(&drifted).assert_exit(1);
    assert!(text.contains("<stdin>:46:16: Deployment agents/agents: spec.template.spec.containers[0] (container \"agents\"): image \"registry.ide-newton.ts.net/lab/jangar-control-plane:latest\""), "{text}");
    assert!(
        text.contains(
            "<stdin>:94:16: Deployment agents/agents-controllers: spec.template.spec.containers[0]"
        ),
        "{text}"
    );
}

#[test]
fn directories_lists_namespaces_and_junit() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let nested = tmp.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("mkdir");
    write(
        &nested.join("list.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec: {containers: [{name: c, image: 'nginx:1.27'}]}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: m}\n",
    );
    write(&nested.join("ignored.txt"), "not a manifest");
    write(
        &tmp.path().join("prod.yaml"),
        "requireDigest: true\nnamespaces: {include: [prod]}\n",
    );

    let mut c = checker();
    c.arg("--settings")
        .arg(tmp.path().join("prod.yaml"))
        .arg(tmp.path().join("a"));
    let text = c.assert_exit(2);
    assert!(
        text.contains("list.yaml#1.items[0]: Pod \"p\" has no metadata.namespace, and the settings check only some namespaces (include [\"prod\"], exclude []): pass --namespace NAME"),
        "{text}"
    );

    let mut c = checker();
    c.arg("--settings")
        .arg(tmp.path().join("prod.yaml"))
        .args(["--namespace", "prod", "--output", "junit"])
        .arg(tmp.path().join("a"));
    let xml = c.assert_exit(1);
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit that parses");
    assert_eq!(
        (report.tests, report.failures, report.errors),
        (1, 1, 0),
        "{xml}"
    );
    let case = &report.test_suites[0].test_cases[0];
    assert_eq!(case.name.as_str(), "Pod prod/p");
    assert!(
        case.classname
            .as_ref()
            .is_some_and(|c| c.as_str().ends_with("list.yaml#1.items[0]")),
        "{xml}"
    );
}

#[test]
fn bad_input_exits_2_naming_file_and_document() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let bad = tmp.path().join("bad.yaml");
    write(
        &bad,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c, image: 'nginx:latest'}]}\n---\n- a\n- list\n---\nkind: [unclosed\n",
    );
    let mut c = checker();
    c.arg(&bad).arg(tmp.path().join("missing.yaml"));
    let text = c.assert_exit(2);
    assert!(
        text.contains(
            "bad.yaml: document 2: a Kubernetes manifest must be an object, found a list"
        ),
        "{text}"
    );
    assert!(
        text.contains("bad.yaml: document 3: invalid YAML"),
        "{text}"
    );
    assert!(
        text.contains("missing.yaml: no such file or directory"),
        "{text}"
    );
    assert!(
        text.contains("Pod default/ok: spec.containers[0]"),
        "the good document is still checked: {text}"
    );
}

#[test]
fn a_missing_settings_file_exits_2() {
    let mut c = checker();
    c.args(["--settings", "/nonexistent/settings.yaml", "examples"]);
    let out = c.assert_exit_both(2);
    assert!(
        out.stderr.contains("/nonexistent/settings.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_flag_exits_2() {
    let mut c = checker();
    c.arg("--no-such-flag");
    c.assert_exit(2);
}

#[test]
fn an_unknown_settings_key_stops_the_run_saying_invalid_settings_once() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let mut c = checker();
    c.arg("--settings")
        .arg(settings_file(
            tmp.path(),
            &serde_json::json!({"requireDigests": true}),
        ))
        .arg("examples");
    let out = c.assert_exit_both(2);
    assert!(
        out.stderr.contains("unknown key `requireDigests`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("invalid settings").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "invalid settings stop the run before anything is evaluated"
    );
}

#[test]
fn a_whole_cluster_admission_policy_is_accepted_as_settings() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let cap = tmp.path().join("cap.yaml");
    write(
        &cap,
        "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n  module: registry://ghcr.io/x/y:v1\n  settings:\n    requireDigest: true\n",
    );
    let mut c = checker();
    c.arg("--settings")
        .arg(&cap)
        .arg("examples/agents-render-drifted.yaml");
    let out = c.assert_exit_both(1);
    assert!(
        out.stdout
            .clone()
            .contains("no digest, and requireDigest is on")
    );
}

#[test]
fn the_ci_examples_are_valid_yaml_and_use_real_options() {
    for (file, wants) in [
        (
            "examples/ci/github-actions.yml",
            vec![
                "uses: image-digest-policy/image-digest-policy@",
                "values: \"true\"",
                "upload-sarif",
                "steps.rendered.outputs.sarif-file",
            ],
        ),
        (
            "examples/ci/gitlab-ci.yml",
            vec![
                "npx --yes image-digest-check@",
                "--output junit",
                "values",
                "junit: image-digests.xml",
            ],
        ),
        (
            "examples/ci/pin-promotion.yml",
            vec![
                "image-digest-check pin --dry-run",
                "image-digest-check pin --settings",
                "gh pr create",
            ],
        ),
    ] {
        let text = std::fs::read_to_string(workspace().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let _: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for want in wants {
            assert!(text.contains(want), "{file} lacks {want}");
        }
    }
    // Every input the workflow gives the Action is one action.yml declares.
    let action: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(workspace().join("action.yml")).expect("action.yml"),
    )
    .expect("action.yml is YAML");
    let workflow: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(workspace().join("examples/ci/github-actions.yml"))
            .expect("workflow"),
    )
    .expect("YAML");
    let steps = workflow["jobs"]["check"]["steps"]
        .as_array()
        .expect("steps");
    let ours: Vec<&Value> = steps
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("image-digest-policy/"))
        })
        .collect();
    assert_eq!(ours.len(), 2);
    for step in ours {
        for key in step["with"].as_object().expect("with").keys() {
            assert!(
                action["inputs"].get(key).is_some(),
                "the Action has no input {key:?}"
            );
        }
    }
    for args in [["values", "--help"], ["pin", "--help"]] {
        let mut c = checker();
        c.args(args);
        c.assert_exit(0);
    }
}

#[test]
fn presets_check_custom_resources_next_to_built_in_kinds() {
    let mut c = checker();
    c.args([
        "--output",
        "json",
        "--settings",
        "examples/settings/presets.yaml",
        "examples/custom-resources.yaml",
    ]);
    let out = c.assert_exit_both(1);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let kinds: Vec<&str> = report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["Deployment", "Rollout", "Task"]);
    let rollout = &report["results"][1];
    assert_eq!(
        rollout["findings"][0]["path"],
        "spec.template.spec.containers[0]"
    );
    assert_eq!(
        (
            rollout["findings"][0]["line"].as_u64(),
            rollout["findings"][0]["column"].as_u64()
        ),
        (Some(38), Some(16))
    );
    let task = &report["results"][2];
    assert_eq!(task["warnings"][0]["path"], "spec.steps[0].image");
    assert_eq!(task["warnings"][0]["line"], 48);
    assert_eq!(
        report["summary"]["skippedKinds"]["serving.knative.dev/v1 Service"], 1,
        "a kind whose preset is off is listed, not silently passed"
    );
    // Without the presets the Rollout and the Task are skipped, and say so.
    let mut c = checker();
    c.args(["examples/custom-resources.yaml"]);
    let text = String::from_utf8_lossy(&c.output().stdout).into_owned();
    assert!(text.contains("3 skipped (kinds not checked: argoproj.io/v1alpha1 Rollout 1, serving.knative.dev/v1 Service 1, tekton.dev/v1 Task 1)"), "{text}");
}

/// The installed binary needs nothing beside it: copied into an empty directory, away from the
/// source tree, it checks manifests with the policy embedded at build time, and says which.
#[test]
fn the_binary_is_self_contained_and_names_its_embedded_policy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bin = tmp.path().join("image-digest-check");
    std::fs::copy(env!("CARGO_BIN_EXE_image-digest-check"), &bin).expect("copied");
    let manifest = tmp.path().join("deploy.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: nginx:latest}\n",
    )
    .expect("written");
    let mut c = TestCommand::of(std::process::Command::new(&bin));
    c.current_dir(tmp.path())
        .env_remove("IMAGE_DIGEST_CHECK_CACHE")
        .arg("deploy.yaml");
    let stdout = c.assert_exit(1);
    assert!(stdout.starts_with("deploy.yaml:8:30: Deployment prod/web: spec.template.spec.containers[0] (container \"web\"): image \"nginx:latest\""), "{stdout}");

    let version = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&version.stdout);
    let wasm = std::fs::read(image_digest_testkit::policy::policy_wasm()).expect("policy.wasm");
    let sha = sha256_hex(&wasm);
    assert_eq!(
        text.trim(),
        format!(
            "image-digest-check {v} (embedded policy {v}, sha256:{sha})",
            v = env!("CARGO_PKG_VERSION")
        ),
        "the embedded module is the tree's policy.wasm"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The compiled module is kept in the per-user cache without any setting: created `0700`,
/// reused, the same answers with and without it; `--no-cache` and
/// `IMAGE_DIGEST_CHECK_CACHE=off` compile instead; a cache writable by others is not read,
/// and the user is told once.
#[test]
fn the_compiled_module_is_cached_per_user_by_default() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let dir = home.join(".cache/image-digest-check");
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = TestCommand::bare();
        c.current_dir(crate::harness::workspace())
            .env_remove("IMAGE_DIGEST_CHECK_CACHE")
            .env_remove("XDG_CACHE_HOME")
            .env("HOME", &home)
            .args(["--quiet", "examples/agents-render-drifted.yaml"])
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.assert_exit_both(1);
        (out.stdout, out.stderr)
    };
    let entries = || {
        std::fs::read_dir(&dir)
            .map(|r| {
                r.filter_map(Result::ok)
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let (first, _) = check(&[], &[]);
    let mode = std::fs::metadata(&dir)
        .expect("the cache exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(entries().len(), 1, "{:?}", entries());
    let entry = entries().into_iter().next().unwrap_or_default();
    let written = std::fs::metadata(&entry).and_then(|m| m.modified()).ok();
    let (warm, _) = check(&[], &[]);
    assert_eq!(warm, first, "the same answers from the cache");
    for (args, env) in [
        (&["--no-cache"][..], &[][..]),
        (&[][..], &[("IMAGE_DIGEST_CHECK_CACHE", "off")][..]),
    ] {
        let (uncached, stderr) = check(args, env);
        assert_eq!(uncached, first, "{args:?} {env:?}");
        assert!(stderr.is_empty(), "{stderr}");
    }
    assert_eq!(
        std::fs::metadata(&entry).and_then(|m| m.modified()).ok(),
        written
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let (untrusted, stderr) = check(&[], &[]);
    assert_eq!(untrusted, first);
    assert_eq!(
        stderr
            .matches("not using the compiled-module cache")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("is writable by everyone (mode 777)"),
        "{stderr}"
    );
}
