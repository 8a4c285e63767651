//! `image-digest-check live`, `pin --from-live` and `--output openreports`, on Pods shaped
//! field for field like `kubectl get pods -A -o json` (e2e-tests/live/pods.json: a Deployment
//! mid-rollout with two ReplicaSets, a StatefulSet on cri-dockerd, a CronJob's Job, a bare Pod
//! on a locally loaded image, a pod still ContainerCreating, an init container).

use crate::harness::{TestCommand, checker, workspace};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn digest(key: &str) -> String {
    use std::fmt::Write;
    // The fixture's digests: sha256 of one letter each (e2e-tests/live/pods.json).
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("import hashlib;print(hashlib.sha256(b'{key}').hexdigest())"),
        ])
        .output()
        .expect("python3 runs");
    let mut s = String::new();
    let _ = write!(s, "sha256:{}", String::from_utf8_lossy(&out.stdout).trim());
    s
}

fn live(args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = checker();
    c.args(["live", "e2e-tests/live/pods.json"]).args(args);
    let out = c.output();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn live_finds_drift_running_digests_mismatches_and_unknowns() {
    let (code, out, err) = live(&[]);
    assert_eq!(code, Some(1), "drift fails the run: {out}{err}");
    let (a, b, c, d, e, f, g, h, i) = (
        digest("A"),
        digest("B"),
        digest("C"),
        digest("D"),
        digest("E"),
        digest("F"),
        digest("G"),
        digest("H"),
        digest("I"),
    );
    for want in [
        format!("Deployment shop/web container \"web\": image \"nginx:1.27\" runs 2 digests: {a} (pods web-7d9f8c6b5-k2x9p); {b} (pods web-7d9f8c6b5-q8w4z) [drift]"),
        format!("Deployment shop/web container \"web\": runs nginx:1.27.1@{c}"),
        format!("Deployment shop/web init container \"migrate\": runs registry.example.test/lab/migrate:2.0@{d}"),
        format!("StatefulSet shop/db container \"db\": runs postgres:16@{e}"),
        format!("CronJob shop/report container \"report\": warning: image \"registry.example.test/lab/report:1.0@{f}\" is pinned, but its pods run {g}"),
        "Pod shop/debug container \"shell\": warning: image \"busybox:1.36\" runs a locally loaded image (a bare image ID, no registry digest) in pods debug: cannot be pinned from the cluster".to_owned(),
        format!("Deployment shop/api container \"api\": runs registry.example.test/lab/api:1.4.2@{i}"),
        "Deployment shop/api container \"api\": image \"registry.example.test/lab/api:1.4.2\": unknown in pods api-6c7d8e9f0-z9x8w: not started (ContainerCreating)".to_owned(),
        "live: 7 containers of running workloads: 1 drifted, 7 notes".to_owned(),
    ] {
        assert!(out.contains(&want), "lacks {want:?}:\n{out}");
    }
    assert!(
        !out.contains(&h.replace("sha256:", "@sha256:")),
        "a local image ID is never a pin: {out}"
    );
    // The contract is judged on every pod's spec too (tag-only images are warned).
    assert!(out.contains("Pod shop/web-7d9f8c6b5-k2x9p: warning: spec.containers[0] (container \"web\"): image \"nginx:1.27\" is not pinned"), "{out}");

    let (code, pins, _) = live(&["--output", "pins"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        pins,
        format!(
            "shop/Deployment/api\tapi\tregistry.example.test/lab/api:1.4.2@{i}\nshop/Deployment/web\tweb\tnginx:1.27.1@{c}\nshop/Deployment/web\tmigrate\tregistry.example.test/lab/migrate:2.0@{d}\nshop/StatefulSet/db\tdb\tpostgres:16@{e}\n"
        )
    );
    let (_, json, _) = live(&["--output", "json"]);
    let doc: Value = serde_json::from_str(&json).expect("JSON");
    crate::harness::assert_schema_valid("docs/check-report.schema.json", &json);
    assert_eq!(doc["totals"]["live"]["containers"], 7, "{doc}");
    let rules: Vec<&str> = doc["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["rule"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(rules.iter().filter(|r| **r == "drift").count(), 1, "{doc}");
    assert_eq!(
        rules.iter().filter(|r| **r == "running-digest").count(),
        4,
        "{doc}"
    );
    // The settings' namespace scope applies: nothing of `shop` is judged under include [prod].
    let tmp = tempfile::tempdir().expect("tmp");
    let settings = tmp.path().join("s.yaml");
    std::fs::write(&settings, "namespaces: {include: [prod]}\n").expect("written");
    let (code, out, err) = live(&["--settings", settings.to_str().unwrap_or_default()]);
    assert_eq!(code, Some(2), "nothing about what runs was read: {out}");
    assert!(out.contains("live: 0 containers"), "{out}");
    assert!(out.contains("no Pod in the input"), "{out}{err}");
}

fn copy(from: &str, to: &Path) {
    std::fs::copy(workspace().join(from), to).unwrap_or_else(|e| panic!("{from}: {e}"));
}

/// An expected file; `PIN_BLESS=1` rewrites it (review the git diff).
fn expect(name: &str, actual: &str) {
    let path = workspace().join("e2e-tests/live/expected").join(name);
    if std::env::var_os("PIN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(&path, actual).expect("blessed");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, want, "{} (PIN_BLESS=1 rewrites it)", path.display());
}

#[test]
fn pin_from_live_writes_the_running_digests_and_refuses_disagreeing_pods() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    copy("e2e-tests/live/pods.json", &dir.join("pods.json"));
    copy("e2e-tests/live/values.yaml", &dir.join("values.yaml"));
    copy("e2e-tests/live/app.yaml", &dir.join("app.yaml"));
    copy("e2e-tests/live/drifted.yaml", &dir.join("drifted.yaml"));
    let pin = |args: &[&str]| {
        let mut c = TestCommand::bare();
        c.current_dir(dir)
            .args(["pin", "--from-live", "pods.json"])
            .args(args);
        let out = c.output();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = pin(&["app.yaml", "--values", "values.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    for f in ["values.yaml", "app.yaml"] {
        expect(f, &std::fs::read_to_string(dir.join(f)).expect("read"));
    }
    // Pods that disagree: refused with the digests and workloads, nothing written.
    let before = std::fs::read_to_string(dir.join("drifted.yaml")).expect("read");
    let (code, _, err) = pin(&["drifted.yaml"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot resolve image \"nginx:1.27\": the running pods say: the pods run it at 2 digests:"), "{err}");
    assert!(
        err.contains("Deployment shop/web container \"web\""),
        "{err}"
    );
    assert!(err.contains("finish the rollout"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("drifted.yaml")).expect("read"),
        before
    );
}

/// Every OpenReports document validates against the CRDs' schemas (`e2e-tests/openreports/`,
/// the openreports.io/v1alpha1 Report and ClusterReport), for manifests, values and live runs.
#[test]
fn openreports_validate_against_the_crds() {
    let schema = |file: &str| -> Value {
        let text = std::fs::read_to_string(workspace().join("e2e-tests/openreports").join(file))
            .expect("CRD");
        let crd: Value = serde_saphyr::from_str(&text).expect("CRD YAML");
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
    };
    let (report, cluster) = (
        schema("openreports.io_reports.yaml"),
        schema("openreports.io_clusterreports.yaml"),
    );
    let runs: [&[&str]; 3] = [
        &["examples/agents-render-drifted.yaml"],
        &["values", "examples/values/chart-defaults.yaml"],
        &["live", "e2e-tests/live/pods.json"],
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for args in runs {
        let mut c = checker();
        c.args(args).args(["--output", "openreports"]);
        let out = c.output();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let docs: Vec<Value> = text
            .split("\n---\n")
            .map(|d| d.trim_start_matches("---\n"))
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_saphyr::from_str(d).unwrap_or_else(|e| panic!("{args:?}: {e}: {d}")))
            .collect();
        assert!(!docs.is_empty(), "{args:?}: no report");
        for doc in &docs {
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            let schema = if kind == "ClusterReport" {
                &cluster
            } else {
                &report
            };
            crate::harness::assert_schema_value_valid(schema, doc);
            let results = doc["results"].as_array().cloned().unwrap_or_default();
            let count = |r: &str| results.iter().filter(|x| x["result"] == r).count() as u64;
            for r in ["pass", "fail", "warn", "error", "skip"] {
                assert_eq!(
                    doc["summary"][r].as_u64(),
                    Some(count(r)),
                    "{args:?} summary {r}: {doc}"
                );
            }
            assert!(
                results.iter().all(|x| x["source"] == "image-digest-policy"
                    && x["category"] == "Supply chain"
                    && x["severity"] == "medium"),
                "{doc}"
            );
            kinds.insert(kind);
        }
        if args[0] == "live" {
            assert!(text.contains("\"rule\": \"drift\""), "{text}");
            assert!(text.contains("\"result\": \"fail\""), "{text}");
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["ClusterReport", "Report"]
    );
}
