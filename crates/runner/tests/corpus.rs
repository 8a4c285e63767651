//! The adversarial image corpus (`e2e-tests/adversarial/images.yaml`): every string as the
//! image of a Pod's only container under the default settings, natively and in the wasm,
//! which must agree with each other and with the expected verdict. And the bounds: huge
//! inputs get a verdict and a capped message, never a trap.

use image_digest_runner::cases;
use image_digest_runner::{NoCapabilities, Policy};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize)]
struct Corpus {
    images: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    image: String,
    verdict: String,
    #[serde(default)]
    reason: Option<String>,
}

fn policy() -> Policy {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policy.wasm");
    assert!(
        path.exists(),
        "{} is missing: run `make policy.wasm` first",
        path.display()
    );
    Policy::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
}

fn pod_payload(containers: Vec<Value>, extra: Option<(&str, Value)>) -> Vec<u8> {
    let mut object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "corpus", "namespace": "default"}, "spec": {"containers": containers}});
    if let Some((k, v)) = extra {
        object["metadata"]["annotations"] = json!({k: v});
    }
    let request = json!({
        "uid": "corpus", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default", "operation": "CREATE", "object": object
    });
    serde_json::to_vec(&json!({"request": request, "settings": {}})).unwrap_or_default()
}

/// (accepted, message, warnings) from the wasm, with the runner's patch ignored.
fn wasm(policy: &Policy, payload: &[u8]) -> (bool, String, Vec<String>) {
    let raw = policy
        .call("validate", payload, Arc::new(NoCapabilities))
        .unwrap_or_else(|e| panic!("the wasm must never trap: {e:#}"));
    let r =
        image_digest_runner::Response::from_guest(&raw, None).unwrap_or_else(|e| panic!("{e:#}"));
    (r.accepted, r.message.unwrap_or_default(), r.warnings)
}

fn native(payload: &[u8]) -> (bool, String, Vec<String>) {
    let v = image_digest_policy::validate(payload);
    (v.accepted, v.message.unwrap_or_default(), v.warnings)
}

#[test]
fn adversarial_image_corpus() {
    let text = std::fs::read_to_string(cases::e2e_dir().join("adversarial/images.yaml"))
        .expect("the corpus is committed");
    let corpus: Corpus = serde_yaml::from_str(&text).expect("the corpus parses");
    assert!(corpus.images.len() >= 150, "{} images", corpus.images.len());
    let policy = policy();
    let mut failures = Vec::new();
    for e in &corpus.images {
        let payload = pod_payload(vec![json!({"name": "c", "image": e.image})], None);
        let w = wasm(&policy, &payload);
        let n = native(&payload);
        if w != n {
            failures.push(format!("{:?}: wasm {w:?} != native {n:?}", e.image));
        }
        let (accepted, message, warnings) = n;
        let ok = match e.verdict.as_str() {
            "accept" => accepted && warnings.is_empty(),
            "warn" => accepted && warnings.len() == 1,
            "reject" => !accepted && e.reason.as_deref().is_none_or(|r| message.contains(r)),
            other => panic!("unknown verdict {other}"),
        };
        if !ok {
            failures.push(format!("{:?}: expected {} ({:?}), got accepted={accepted} message={message:?} warnings={warnings:?}", e.image, e.verdict, e.reason));
        }
    }
    eprintln!(
        "image corpus: {} images, {} failures",
        corpus.images.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bounds_huge_inputs_get_a_capped_verdict() {
    let policy = policy();
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        (
            "5,000 containers",
            pod_payload(
                (0..5000)
                    .map(|i| json!({"name": format!("c{i}"), "image": "nginx:latest"}))
                    .collect(),
                None,
            ),
            false,
            "… and 4980 more",
        ),
        (
            "a 1 MB image",
            pod_payload(
                vec![json!({"name": "c", "image": format!("nginx:{}", "a".repeat(1 << 20))})],
                None,
            ),
            false,
            "(1048582 bytes)",
        ),
        (
            "a 10 MB request",
            pod_payload(
                vec![
                    json!({"name": "c", "image": "nginx:1.27@sha256:96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809"}),
                ],
                Some(("blob", json!("x".repeat(10 << 20)))),
            ),
            true,
            "",
        ),
    ];
    let deep = |depth: usize, inside: &str| {
        let mut s = pod_payload(
            vec![
                json!({"name": "c", "image": "nginx:1.27@sha256:96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809"}),
            ],
            Some(("k", json!("PLACEHOLDER"))),
        );
        let text = String::from_utf8(s.clone()).unwrap_or_default();
        let nested = format!("{}{inside}{}", "[".repeat(depth), "]".repeat(depth));
        s = text.replacen("\"PLACEHOLDER\"", &nested, 1).into_bytes();
        s
    };
    let deep_containers = |depth: usize| {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        format!(r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"CREATE","namespace":"default","object":{{"spec":{{"containers":{nested}}}}}}},"settings":{{}}}}"#).into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = cases
        .into_iter()
        .chain([
            (
                "1,000,000 nested arrays in an unread field: skipped, no trap",
                deep(1_000_000, ""),
                true,
                "",
            ),
            (
                "1,000,000 nested arrays where containers belong",
                deep_containers(1_000_000),
                false,
                "malformed admission request",
            ),
        ])
        .collect();
    for (name, payload, accepted, part) in cases {
        let w = wasm(&policy, &payload);
        assert_eq!(w, native(&payload), "{name}: parity");
        assert_eq!(w.0, accepted, "{name}");
        assert!(w.1.contains(part), "{name}: {}", &w.1[..w.1.len().min(300)]);
        assert!(
            w.1.len() < 16 * 1024,
            "{name}: the message is capped ({} bytes)",
            w.1.len()
        );
    }
}

/// Every committed fuzz seed (and every crash the fuzzer ever found, kept there as a
/// regression case) through the wasm and the native core: no input may trap or panic.
#[test]
fn fuzz_corpus_never_traps() {
    let policy = policy();
    let root = cases::e2e_dir().join("../fuzz/corpus");
    let mut ran = 0;
    for (target, operation) in [
        ("validate", "validate"),
        ("settings", "validate_settings"),
        ("reference", "validate"),
    ] {
        let dir = root.join(target);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let input = std::fs::read(&path).unwrap_or_default();
            let payload = if target == "reference" {
                pod_payload(
                    vec![json!({"name": "c", "image": String::from_utf8_lossy(&input)})],
                    None,
                )
            } else {
                input
            };
            let raw = policy
                .call(operation, &payload, Arc::new(NoCapabilities))
                .unwrap_or_else(|e| panic!("{}: the wasm trapped: {e:#}", path.display()));
            let answer: Value =
                serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if operation == "validate" {
                let r = image_digest_runner::Response::from_guest(&raw, None)
                    .unwrap_or_else(|e| panic!("{e:#}"));
                assert!(
                    r.accepted || r.message.is_some(),
                    "{}: a rejection without a reason",
                    path.display()
                );
                let _ = image_digest_policy::validate(&payload);
            } else {
                assert!(answer.get("valid").is_some(), "{}", path.display());
                let _ = image_digest_policy::validate_settings(&payload);
            }
            ran += 1;
        }
    }
    eprintln!("fuzz corpus: {ran} inputs, no trap");
    assert!(ran >= 200, "only {ran} inputs");
}
