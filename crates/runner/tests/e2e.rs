//! The e2e table against the compiled `policy.wasm` in a real wasmtime runtime, and the same
//! table against the native core: both must meet every expectation and agree with each other.

use image_digest_runner::cases::{self, Case, Outcome};
use image_digest_runner::{Host, HostCall, NoCapabilities, Policy};
use std::path::PathBuf;
use std::sync::Arc;

fn policy_path() -> PathBuf {
    std::env::var_os("POLICY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policy.wasm"))
}

fn load_policy() -> Policy {
    let path = policy_path();
    assert!(
        path.exists(),
        "{} is missing: run `make policy.wasm` first (the e2e tests never skip)",
        path.display()
    );
    Policy::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
}

fn host_for(case: &Case, dir: &std::path::Path) -> Arc<dyn Host> {
    cases::host_for(case, dir).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The native core asks its digests from the same recorded session the wasm gets.
struct SessionResolver(Arc<dyn Host>);

impl image_digest_policy::DigestResolver for SessionResolver {
    fn manifest_digest(&mut self, image: &str) -> Result<String, String> {
        let payload = serde_json::to_vec(image).map_err(|e| e.to_string())?;
        let call = HostCall {
            binding: "kubewarden",
            namespace: "oci",
            operation: "v1/manifest_digest",
            payload: &payload,
        };
        let answer = self.0.call(&call)?;
        let v: serde_json::Value = serde_json::from_slice(&answer)
            .map_err(|e| format!("the host's answer is not a digest response: {e}"))?;
        v["digest"].as_str().map(str::to_owned).ok_or_else(|| {
            "the host's answer is not a digest response: missing field `digest`".to_owned()
        })
    }
}

fn native_outcome(case: &Case, dir: &std::path::Path) -> Outcome {
    let settings = serde_json::to_vec(&case.settings).unwrap_or_default();
    let sv = image_digest_policy::validate_settings(&settings);
    if !sv.valid {
        return Outcome::SettingsRefused(sv.message.unwrap_or_default());
    }
    let request = case.request_bytes(dir).unwrap_or_else(|e| panic!("{e:#}"));
    let mut payload = b"{\"request\":".to_vec();
    payload.extend_from_slice(&request);
    payload.extend_from_slice(b",\"settings\":");
    payload.extend_from_slice(&settings);
    payload.push(b'}');
    let v = image_digest_policy::validate_with(&payload, &mut SessionResolver(host_for(case, dir)));
    let patch = v.mutated_object.map(|mutated| {
        let original: serde_json::Value = serde_json::from_slice(&request).unwrap_or_default();
        serde_json::to_value(json_patch::diff(&original["object"], &mutated)).unwrap_or_default()
    });
    Outcome::Evaluated {
        accepted: v.accepted,
        message: v.message,
        warnings: v.warnings,
        patch,
    }
}

/// Runs every case of the table in `dir` on the wasm and the native core; returns how many
/// passed and every failure.
fn run_table(policy: &Policy, dir: &std::path::Path) -> (usize, Vec<String>) {
    let table = cases::load(dir).unwrap_or_else(|e| panic!("{e:#}"));
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &table {
        let wasm = cases::wasm_outcome(policy, case, dir).unwrap_or_else(|e| panic!("{e:#}"));
        let native = native_outcome(case, dir);
        let before = failures.len();
        if let Err(e) = case.check(&wasm) {
            failures.push(format!("[wasm] {e}"));
        }
        if let Err(e) = case.check(&native) {
            failures.push(format!("[native] {e}"));
        }
        if wasm != native {
            failures.push(format!(
                "[parity] case {:?}: wasm {wasm:?} != native {native:?}",
                case.name
            ));
        }
        if failures.len() == before {
            passed += 1;
        }
    }
    (passed, failures)
}

#[test]
fn e2e_table_on_the_wasm_and_the_native_core() {
    let (passed, failures) = run_table(&load_policy(), &cases::e2e_dir());
    eprintln!("e2e: {passed} cases passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 50, "only {passed} cases ran");
}

#[test]
fn adversarial_requests_on_the_wasm_and_the_native_core() {
    let (passed, failures) = run_table(&load_policy(), &cases::e2e_dir().join("adversarial"));
    eprintln!(
        "adversarial requests: {passed} cases passed, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 30, "only {passed} cases ran");
}

#[test]
fn protocol_version_is_v1() {
    assert_eq!(load_policy().protocol_version().unwrap_or_default(), "v1");
}

#[test]
fn invalid_settings_are_an_error_that_names_the_problem() {
    let policy = load_policy();
    let err = policy
        .with_settings(serde_json::json!({"requireDigests": true}))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unknown key `requireDigests`"), "{err}");
}

#[test]
fn a_trapping_module_is_an_error_not_an_accept() {
    // A waPC guest whose `validate` traps (unreachable): the runner must report an error.
    let wat = r#"(module
      (import "wapc" "__guest_request" (func $req (param i32 i32)))
      (import "wapc" "__guest_response" (func $resp (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "__guest_call") (param i32 i32) (result i32) unreachable)
      (func (export "wapc_init")))"#;
    let policy = Policy::from_bytes(wat.as_bytes(), Default::default()).unwrap();
    let err = policy
        .call("validate", b"{}", Arc::new(NoCapabilities))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("the policy failed in `validate`"), "{err}");
}

#[test]
fn a_runaway_module_is_interrupted() {
    let wat = r#"(module
      (import "wapc" "__guest_request" (func $req (param i32 i32)))
      (import "wapc" "__guest_response" (func $resp (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "__guest_call") (param i32 i32) (result i32) (loop $l (br $l)) i32.const 1)
      (func (export "wapc_init")))"#;
    let limits = image_digest_runner::Limits {
        timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let policy = Policy::from_bytes(wat.as_bytes(), limits).unwrap();
    let started = std::time::Instant::now();
    let result = policy.call("validate", b"{}", Arc::new(NoCapabilities));
    assert!(
        result.is_err(),
        "a runaway guest must not produce an answer"
    );
    eprintln!("runaway guest interrupted after {:?}", started.elapsed());
}
