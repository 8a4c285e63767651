//! What every suite and tool that runs the real policy shares: where the workspace and its
//! `policy.wasm` are, and loading it with a message that says how to build it. One place, so
//! a moved file or a new environment variable is one change.

use image_digest_runner::Policy;
use std::path::{Path, PathBuf};

/// A digest that is valid under the contract, for tests that need one (the chart's own).
pub const TEST_DIGEST: &str =
    "sha256:96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809";
/// Its hex part, for format strings.
pub const TEST_DIGEST_HEX: &str =
    "96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809";

/// The workspace root (where `Cargo.toml`, `policy.wasm` and `e2e-tests/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$POLICY_WASM`, else the workspace's `policy.wasm`.
pub fn policy_wasm() -> PathBuf {
    std::env::var_os("POLICY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("policy.wasm"))
}

/// The built policy, compiled; a test that cannot have it fails (it never skips).
pub fn load_policy() -> Policy {
    let path = policy_wasm();
    assert!(
        path.exists(),
        "{} is missing: run `make policy.wasm` first (the tests never skip)",
        path.display()
    );
    let cache = image_digest_runner::Cache::open(&module_cache()).unwrap_or_else(|e| panic!("{e}"));
    Policy::load_cached(&path, Some(&cache)).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Where the suites keep compiled modules: every test process would otherwise compile the
/// same `policy.wasm` again. Under cargo's output directory, which only the build writes.
pub fn module_cache() -> PathBuf {
    target_dir().join("module-cache")
}

/// Cargo's output directory: `CARGO_TARGET_DIR` when set (relative to the workspace, as
/// cargo reads it from there), else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_test_digest_is_one_digest() {
        assert_eq!(
            super::TEST_DIGEST,
            format!("sha256:{}", super::TEST_DIGEST_HEX)
        );
    }
}
