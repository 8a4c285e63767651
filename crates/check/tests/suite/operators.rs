//! Operators' custom resources (issue 36), from each project's published examples
//! (`e2e-tests/operators/`): every image an operator runs is found by the checker at its line
//! and column under its preset, a pinned document and a pod template the operator completes
//! (containers without an image) are accepted, a `hub` + `tag` custom kind is composed, and
//! `pin` pins them all against a real registry, the composed one in its own digest field. On
//! main before the presets, every file exited 2, "nothing was checked".

use crate::harness::{TestCommand, checker, findings, pin_stage, settings_file, workspace};
use serde_json::{Value, json};

const FILES: [&str; 7] = [
    "cloudnative-pg.yaml",
    "crossplane.yaml",
    "eck.yaml",
    "kubevirt.yaml",
    "opentelemetry-operator.yaml",
    "prometheus-operator.yaml",
    "strimzi.yaml",
];

fn settings() -> Value {
    json!({"requireDigest": true, "presets": [
        "prometheus-operator", "cloudnative-pg", "opentelemetry-operator", "eck",
        "crossplane", "kubevirt", "strimzi"
    ]})
}

#[test]
fn every_operator_image_is_found_at_its_line_and_column() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut c = checker();
    c.arg("--settings")
        .arg(settings_file(tmp.path(), &settings()))
        .args(["--namespace", "ops", "--output", "json"]);
    for f in FILES {
        c.arg(format!("e2e-tests/operators/{f}"));
    }
    let report: Value = serde_json::from_str(&c.assert_exit(1)).expect("JSON");
    let (found, accepted) = findings(&report);
    let want = [
        "cloudnative-pg.yaml:9:14 no-digest spec.imageName",
        "cloudnative-pg.yaml:17:22 mutable-tag spec.postgresql.extensions[0].image.reference",
        "crossplane.yaml:8:12 no-digest spec.package",
        "eck.yaml:11:10 no-digest spec.image",
        "kubevirt.yaml:32:20 mutable-tag spec.template.spec.volumes[0].containerDisk.image",
        "opentelemetry-operator.yaml:11:10 no-digest spec.image",
        "opentelemetry-operator.yaml:14:12 mutable-tag spec.targetAllocator.image",
        "opentelemetry-operator.yaml:44:12 mutable-tag spec.java.image",
        // A sidecar added in `containers` is judged; the `prometheus` entry only patches.
        "prometheus-operator.yaml:30:14 no-digest spec.containers[1]",
        "prometheus-operator.yaml:11:10 no-digest spec.image",
        "prometheus-operator.yaml:20:12 mutable-tag spec.thanos.image",
        "strimzi.yaml:11:12 no-digest spec.kafka.image",
        "strimzi.yaml:22:14 mutable-tag spec.entityOperator.userOperator.image",
    ];
    assert_eq!(found, want);
    // Pinned documents, and pod templates the operator completes (their containers have no
    // image: the Pooler, the DeploymentRuntimeConfig, the Kibana's and Alertmanager's).
    let want = [
        "ImageCatalog postgresql",
        "Pooler pooler-example-rw",
        "Function function-patch-and-transform",
        "DeploymentRuntimeConfig debug-config",
        "Kibana kibana-sample",
        "VirtualMachineInstance vmi-ephemeral",
        "OpenTelemetryCollector pinned",
        "Alertmanager example",
        "KafkaBridge my-bridge",
    ];
    assert_eq!(accepted, want);
    assert_eq!(report["summary"]["skipped"], 0, "no kind is skipped");
}

/// The same pod template read as a pod spec, not a patch, reports the container the operator
/// completes as missing its image: the patch semantics are what accepts it.
#[test]
fn a_patch_container_is_a_finding_only_without_patch_semantics() {
    let tmp = tempfile::tempdir().expect("tmp");
    let as_pod_spec = json!({"requireDigest": true, "customKinds": [{
        "apiGroup": "postgresql.cnpg.io", "kind": "Pooler", "podSpecs": ["spec.template.spec"]
    }]});
    let mut c = checker();
    c.arg("--settings")
        .arg(settings_file(tmp.path(), &as_pod_spec))
        .arg("e2e-tests/operators/cloudnative-pg.yaml");
    let out = c.assert_exit(1);
    assert!(
        out.contains("cloudnative-pg.yaml:54:11: Pooler db/pooler-example-rw: spec.template.spec.containers[0] (container \"pgbouncer\"): the container has no image"),
        "{out}"
    );
    let as_patch = json!({"requireDigest": true, "customKinds": [{
        "apiGroup": "postgresql.cnpg.io", "kind": "Pooler", "podSpecPatches": ["spec.template.spec"]
    }]});
    let mut c = checker();
    c.arg("--settings")
        .arg(settings_file(tmp.path(), &as_patch))
        .arg("e2e-tests/operators/cloudnative-pg.yaml");
    // Accepted, and said to hold no image of its own: the Pooler was the only document
    // checked, so the run checked nothing (exit 2) unless an empty run is expected.
    let out = c.assert_exit(2);
    assert!(
        out.contains("Pooler db/pooler-example-rw: warning: none of the paths the settings give for Pooler reached an image: nothing in it was judged [no-image-found]")
            && !out.contains("has no image"),
        "{out}"
    );
    c.arg("--allow-empty");
    c.assert_exit(0);
}

/// A custom kind whose paths reach no image in a document (a mistyped path) is not a silent
/// pass: the document is accepted with a warning, and a run of nothing else checked nothing.
#[test]
fn a_custom_kind_whose_paths_reach_nothing_is_said() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("gateway.yaml");
    crate::harness::write(
        &file,
        "apiVersion: mesh.example.com/v1\nkind: Gateway\nmetadata: {name: g, namespace: m}\nspec:\n  hubb: docker.io/istio\n  tagg: 1.27.0\n",
    );
    let mut c = checker();
    c.args(["--settings", "e2e-tests/operators/composed/settings.json"])
        .arg(&file);
    let out = c.assert_exit(2);
    assert!(out.contains("[no-image-found]"), "{out}");
    assert!(
        out.contains("error: nothing was checked: 1 documents read; 1 workloads of a custom kind, in which none of the kind's paths reached an image"),
        "{out}"
    );
    // Beside a document whose images were judged, it is a warning; the run is decided by the
    // other (exit 1: its ingress is not pinned).
    c.arg("e2e-tests/operators/composed/gateway.yaml");
    let out = c.assert_exit(1);
    assert!(
        out.contains("[no-image-found]") && !out.contains("nothing was checked"),
        "{out}"
    );
}

#[test]
fn a_composed_image_and_a_quoted_key_are_judged_at_their_lines() {
    let mut c = checker();
    c.args([
        "--settings",
        "e2e-tests/operators/composed/settings.json",
        "e2e-tests/operators/composed/gateway.yaml",
    ]);
    let out = c.assert_exit(1);
    for want in [
        "gateway.yaml:10:32: Gateway mesh/ingress: metadata.annotations[\"example.com/sidecar-image\"]",
        "gateway.yaml:14:8: Gateway mesh/ingress: spec.tag (unnamed container): image \"docker.io/istio/proxyv2:1.27.0\": no digest, and requireDigest is on. Fix: set spec.digest to the digest of docker.io/istio/proxyv2:1.27.0 (`image-digest-check pin` writes it). [no-digest]",
        "2 workloads checked, 1 accepted",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn pin_pins_one_image_of_each_preset_and_a_composed_one() {
    let mut sources: Vec<String> = FILES
        .iter()
        .map(|f| format!("e2e-tests/operators/{f}"))
        .collect();
    sources.push("e2e-tests/operators/composed/gateway.yaml".into());
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    let stage = pin_stage(
        &[
            ("prometheus/prometheus", "v3.5.0"),
            ("thanos/thanos", "latest"),
            ("oauth2-proxy/oauth2-proxy", "v7.9.0"),
            ("cloudnative-pg/postgresql", "18.0-minimal-trixie"),
            ("cloudnative-pg/postgis-extension", "latest"),
            (
                "open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib",
                "0.129.1",
            ),
            (
                "open-telemetry/opentelemetry-operator/target-allocator",
                "latest",
            ),
            (
                "open-telemetry/opentelemetry-operator/autoinstrumentation-java",
                "latest",
            ),
            ("elasticsearch/elasticsearch", "9.1.0"),
            ("crossplane-contrib/provider-nop", "v0.4.0"),
            ("kubevirt/cirros-container-disk-demo", "latest"),
            ("strimzi/kafka", "0.48.0-kafka-4.1.0"),
            ("strimzi/operator", "latest"),
            ("istio/proxyv2", "1.27.0"),
        ],
        &sources,
    );
    let work = &stage.work;
    let mut all = settings();
    all["customKinds"] = serde_json::from_str::<Value>(
        &std::fs::read_to_string(workspace().join("e2e-tests/operators/composed/settings.json"))
            .expect("read"),
    )
    .expect("JSON")["customKinds"]
        .clone();
    let settings = settings_file(stage.tmp.path(), &all);
    let hosts = [
        "quay.io",
        "ghcr.io",
        "docker.elastic.co",
        "xpkg.crossplane.io",
        "docker.io",
    ];
    // The checker then accepts every file under requireDigest.
    let mut args = FILES.to_vec();
    args.push("gateway.yaml");
    stage.pin_and_check(
        &settings,
        &hosts,
        &args,
        "pin: pinned 15 images in 8 files",
        "ops",
    );
    // The composed image got its digest in its own field, under its tag.
    let gateway = std::fs::read_to_string(work.join("gateway.yaml")).expect("read");
    assert!(
        gateway.contains("  tag: 1.27.0\n  digest: sha256:"),
        "{gateway}"
    );
    assert!(
        gateway.contains("example.com/sidecar-image: docker.io/istio/proxyv2:1.27.0@sha256:"),
        "{gateway}"
    );
}

/// Every preset is documented where users choose it: the contract (every kind), the policy's
/// settings, and the Kubewarden UI's questions.
#[test]
fn every_preset_and_kind_is_documented() {
    let read = |p: &str| std::fs::read_to_string(workspace().join(p)).expect("read");
    let (contract, policy, questions) = (
        read("docs/contract.md"),
        read("docs/policy.md"),
        read("questions-ui.yml"),
    );
    for name in image_digest_policy::kinds::preset_list() {
        let quoted = format!("`{name}`");
        assert!(contract.contains(&quoted), "docs/contract.md lacks {name}");
        assert!(policy.contains(&quoted), "docs/policy.md lacks {name}");
        assert!(questions.contains(name), "questions-ui.yml lacks {name}");
        for kind in image_digest_policy::kinds::preset(name).expect("a preset") {
            assert!(
                contract.contains(&format!("`{}`", kind.kind)),
                "docs/contract.md lacks {name}'s {}",
                kind.kind
            );
            assert!(
                questions.contains(kind.kind.as_ref()),
                "questions-ui.yml lacks {name}'s {}",
                kind.kind
            );
        }
    }
}

/// The operators' quick starts set no image: each operator runs its default, a tag without a
/// digest, which this policy rejects under `requireDigest` when the operator creates its
/// StatefulSet. The checker says so at the resource, placed at the block the field belongs
/// in; a Cluster whose image comes from a catalog is accepted (the catalog is checked).
#[test]
fn an_operators_default_image_is_said_at_the_resource() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut c = checker();
    c.arg("--settings")
        .arg(settings_file(tmp.path(), &settings()))
        .args(["--output", "json", "e2e-tests/operators/defaults.yaml"]);
    let report: Value = serde_json::from_str(&c.assert_exit(1)).expect("JSON");
    let (found, accepted) = findings(&report);
    assert_eq!(
        found,
        [
            "defaults.yaml:12:3 no-digest spec.imageName",
            "defaults.yaml:22:3 no-digest spec.image",
            "defaults.yaml:36:5 no-digest spec.kafka.image",
            "defaults.yaml:46:20 no-digest spec.entityOperator.topicOperator.image",
            "defaults.yaml:47:19 no-digest spec.entityOperator.userOperator.image",
        ]
    );
    assert_eq!(accepted, ["Cluster cluster-catalog"]);
    let text = {
        let mut c = checker();
        c.arg("--settings")
            .arg(settings_file(tmp.path(), &settings()))
            .arg("e2e-tests/operators/defaults.yaml");
        c.assert_exit(1)
    };
    assert!(
        text.contains("defaults.yaml:22:3: Elasticsearch elastic/quickstart: spec.image (unnamed container): not set: the operator runs its own default image here, a tag without a digest, and requireDigest is on. Fix: set spec.image to the image the operator should run, as repository:tag@sha256:<digest>. [no-digest]"),
        "{text}"
    );
}

/// `pin` cannot look up an image the resource does not name: it says which field to set, and
/// exits 2, never "nothing to pin".
#[test]
fn pin_refuses_an_operators_default_image_and_says_what_to_set() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut c = TestCommand::bare();
    c.arg("pin")
        .arg("--settings")
        .arg(settings_file(tmp.path(), &settings()))
        .args(["--dry-run", "e2e-tests/operators/defaults.yaml"])
        .current_dir(workspace());
    let out = c.assert_exit_both(2);
    assert!(
        out.stderr.contains("defaults.yaml:22:3: Elasticsearch quickstart, spec.image (container \"\"): not pinned: image \"\": spec.image is not set: the operator runs its own default image, a tag; set it to the image to run (repository:tag), then pin it [not-pinnable]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("5 not pinnable as written"),
        "{}",
        out.stderr
    );
}
