//! The adversarial image corpus (`e2e-tests/adversarial/images.yaml`): every string as the
//! image of a Pod's only container under the default settings, natively and in the wasm,
//! which must agree with each other and with the expected verdict. And the bounds: huge
//! inputs get a verdict and a capped message, never a trap.

use image_digest_runner::{NoCapabilities, Policy};
use image_digest_testkit::cases;
use image_digest_testkit::policy::{TEST_DIGEST, load_policy as policy};
use serde_json::{Value, json};
use std::sync::Arc;

fn pod_payload(containers: Vec<Value>, extra: Option<(&str, Value)>) -> Vec<u8> {
    let mut request = cases::pod_request(containers);
    if let Some((k, v)) = extra {
        request["object"]["metadata"]["annotations"] = json!({k: v});
    }
    let request = serde_json::to_vec(&request).expect("a request serialises");
    image_digest_runner::payload(&request, b"{}")
}

/// (accepted, message, warnings) from the wasm, with the runner's patch ignored.
fn wasm(policy: &Policy, payload: &[u8]) -> Verdict {
    let raw = policy
        .call("validate", payload, Arc::new(NoCapabilities))
        .unwrap_or_else(|e| panic!("the wasm must never trap: {e:#}"));
    let r =
        image_digest_runner::Response::from_guest(&raw, None).unwrap_or_else(|e| panic!("{e:#}"));
    (r.accepted, r.message.unwrap_or_default(), r.warnings)
}

fn native(payload: &[u8]) -> Verdict {
    let v = image_digest_policy::validate(payload);
    let warnings = v.warning_texts();
    (v.accepted, v.message.unwrap_or_default(), warnings)
}

#[test]
fn adversarial_image_corpus() {
    let images = cases::image_corpus().expect("the corpus is committed and parses");
    assert!(images.len() >= 150, "{} images", images.len());
    let policy = policy();
    let mut failures = Vec::new();
    for e in &images {
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
        images.len(),
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
                vec![json!({"name": "c", "image": format!("nginx:1.27@{TEST_DIGEST}")})],
                Some(("blob", json!("x".repeat(10 << 20)))),
            ),
            true,
            "",
        ),
    ];
    let deep = |depth: usize, inside: &str| {
        let mut s = pod_payload(
            vec![json!({"name": "c", "image": format!("nginx:1.27@{TEST_DIGEST}")})],
            Some(("k", json!("PLACEHOLDER"))),
        );
        let text = String::from_utf8(s.clone()).expect("the payload is UTF-8");
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
/// regression case) through the wasm and the native core: no input may trap or panic, and
/// both must give the same verdict.
#[test]
fn fuzz_corpus_never_traps_and_keeps_parity() {
    let policy = policy();
    let root = cases::e2e_dir().join("../fuzz/corpus");
    let mut ran = 0;
    let mut failures = Vec::new();
    for target in ["validate", "settings", "reference"] {
        let dir = root.join(target);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                e.map(|e| e.path())
                    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            })
            .collect();
        entries.sort();
        for path in entries {
            let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (wasm, native) = match target {
                "settings" => settings_verdicts(&policy, &input),
                "reference" => {
                    let image = String::from_utf8_lossy(&input);
                    let payload = pod_payload(vec![json!({"name": "c", "image": image})], None);
                    (wasm(&policy, &payload), native(&payload))
                }
                _ => (wasm(&policy, &input), native(&input)),
            };
            if wasm != native {
                failures.push(format!(
                    "{}: wasm {wasm:?} != native {native:?}",
                    path.display()
                ));
            }
            if !wasm.0 && wasm.1.is_empty() {
                failures.push(format!("{}: a refusal without a reason", path.display()));
            }
            ran += 1;
        }
    }
    eprintln!("fuzz corpus: {ran} inputs, {} failures", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 200, "only {ran} inputs");
}

/// (accepted or valid, message, warnings): one shape for both entry points' answers.
type Verdict = (bool, String, Vec<String>);

/// (valid, message, no warnings) from the wasm's and the core's `validate_settings`.
fn settings_verdicts(policy: &Policy, input: &[u8]) -> (Verdict, Verdict) {
    let raw = policy
        .call("validate_settings", input, Arc::new(NoCapabilities))
        .unwrap_or_else(|e| panic!("the wasm must never trap: {e:#}"));
    let w: image_digest_runner::SettingsResponse =
        serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{e}"));
    let n = image_digest_policy::validate_settings(input);
    (
        (w.valid, w.message.unwrap_or_default(), Vec::new()),
        (n.valid, n.message.unwrap_or_default(), Vec::new()),
    )
}
