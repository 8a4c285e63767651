//! The e2e table against the compiled `policy.wasm` in a real wasmtime runtime, and the same
//! table against the native core: both must meet every expectation and agree with each other.

use image_digest_runner::{NoCapabilities, Policy};
use image_digest_testkit::cases;
use image_digest_testkit::policy::load_policy;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs every case of the table in `dir` on the wasm and the native core; returns how many
/// passed and every failure.
fn run_table(policy: &Policy, dir: &std::path::Path) -> (usize, Vec<String>) {
    let table = cases::load(dir).unwrap_or_else(|e| panic!("{e:#}"));
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &table {
        let wasm = cases::wasm_outcome(policy, case, dir).unwrap_or_else(|e| panic!("{e:#}"));
        let native = cases::native_outcome(case, dir).unwrap_or_else(|e| panic!("{e:#}"));
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
    let policy = Policy::from_bytes(&wat::parse_str(wat).unwrap(), Default::default()).unwrap();
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
        timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let policy = Policy::from_bytes(&wat::parse_str(wat).unwrap(), limits).unwrap();
    // The call runs on its own thread so that a runner that fails to interrupt the guest
    // fails this test at its own deadline instead of hanging the suite.
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let result = policy.call("validate", b"{}", Arc::new(NoCapabilities));
        let _ = tx.send(result.map_err(|e| format!("{e:#}")));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the runaway guest was not interrupted within 20 s");
    let err = result.expect_err("a runaway guest must not produce an answer");
    assert_eq!(
        err,
        "the policy failed in `validate`: guest code interrupted, execution deadline exceeded"
    );
    eprintln!("runaway guest interrupted after {:?}", started.elapsed());
}

#[test]
fn the_module_cache_is_keyed_by_content_and_survives_a_corrupt_entry() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let cache = image_digest_runner::Cache::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let path = image_digest_testkit::policy::policy_wasm();
    let first = Policy::load_cached(&path, Some(&cache)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(first.protocol_version().unwrap_or_default(), "v1");
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the cache directory exists")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert!(
        entry.extension().is_some_and(|e| e == "cwasm"),
        "{}",
        entry.display()
    );
    let from_cache = Policy::load_cached(&path, Some(&cache)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(from_cache.protocol_version().unwrap_or_default(), "v1");
    std::fs::write(entry, b"not compiled code").expect("the entry is overwritten");
    let recompiled = Policy::load_cached(&path, Some(&cache)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(recompiled.protocol_version().unwrap_or_default(), "v1");
    let size = std::fs::metadata(entry)
        .expect("the entry is rewritten")
        .len();
    assert!(size > 1000, "a corrupt entry is replaced ({size} bytes)");
}

/// A host that fails every call with one reason.
struct Failing(&'static str);

impl image_digest_runner::Host for Failing {
    fn call(&self, _: &image_digest_runner::HostCall<'_>) -> Result<Vec<u8>, String> {
        Err(self.0.to_owned())
    }
}

#[test]
fn a_failed_host_call_reaches_the_guest_as_under_kwctl() {
    // The guest makes one host call and answers with the host error it was handed.
    let wat = r#"(module
      (import "wapc" "__guest_response" (func $resp (param i32 i32)))
      (import "wapc" "__host_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (import "wapc" "__host_error_len" (func $elen (result i32)))
      (import "wapc" "__host_error" (func $err (param i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "kubewardenociv1/manifest_digest")
      (func (export "__guest_call") (param i32 i32) (result i32)
        (if (call $call (i32.const 0) (i32.const 10) (i32.const 10) (i32.const 3)
                        (i32.const 13) (i32.const 18) (i32.const 0) (i32.const 0))
          (then unreachable))
        (call $err (i32.const 1024))
        (call $resp (i32.const 1024) (call $elen))
        (i32.const 1))
      (func (export "wapc_init")))"#;
    let policy = Policy::from_bytes(&wat::parse_str(wat).unwrap(), Default::default()).unwrap();
    let answer = policy
        .call("validate", b"{}", Arc::new(Failing("registry unreachable")))
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "Callback evaluation failure: registry unreachable"
    );
}
