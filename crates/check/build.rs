//! Embeds the policy module built from this same tree, so the installed checker needs no file
//! beside it and its findings always come from the policy of its own version.
//!
//! `IMAGE_DIGEST_POLICY_WASM` names an already built `policy.wasm` (the Makefile exports it, so
//! `make` builds the module once); without it, the module is built here, for wasm32-wasip1 with
//! the `wasm` profile, in its own target directory (the outer build holds the lock on `target/`).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest
        .join("../..")
        .canonicalize()
        .expect("the workspace root");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-env-changed=IMAGE_DIGEST_POLICY_WASM");
    let wasm = match std::env::var_os("IMAGE_DIGEST_POLICY_WASM") {
        Some(given) => {
            let given = PathBuf::from(given);
            println!("cargo:rerun-if-changed={}", given.display());
            assert!(
                given.exists(),
                "IMAGE_DIGEST_POLICY_WASM={} does not exist: run `make policy.wasm`, or unset it to build the module here",
                given.display()
            );
            given
        }
        None => build(&root, &out),
    };
    let bytes = std::fs::read(&wasm).expect("the policy module is readable");
    std::fs::write(out.join("policy.wasm"), &bytes).expect("the policy module is copied");
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=EMBEDDED_POLICY_SHA256={hex}");
}

fn build(root: &Path, out: &Path) -> PathBuf {
    for watched in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = out.join("policy-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--lib",
            "-p",
            "image-digest-policy",
            "--target",
            "wasm32-wasip1",
            "--profile",
            "wasm",
            "--target-dir",
        ])
        .arg(&target_dir)
        // The outer build's flags are for the host, not for the wasm module.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building policy.wasm for embedding failed: is the target installed? `rustup target add wasm32-wasip1`"
    );
    target_dir.join("wasm32-wasip1/wasm/image_digest_policy.wasm")
}
