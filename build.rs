//! One link setting for `policy.wasm`: its initial memory.
//!
//! policy-server runs every request on a fresh instance, so the heap a request may use before
//! its first `memory.grow` is part of the per-request cost: a grow is a call into the host's
//! memory mapping, measured at about 5 µs of a 90 µs request (`make bench`, the Rollout row).
//! Rust's default for wasm32 is just enough pages for the 1 MiB stack and the static data,
//! which left 24 KB of heap; one page more (64 KiB, mapped lazily by the runtime, so free
//! until touched) lets the ordinary requests of the bench (a chart's Deployment, a Rollout
//! with every preset on, a 100-container Pod) run without growing. If the static data ever
//! outgrows it, the linker stops with "initial memory too small": raise the figure.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("wasi") {
        // 18 pages: the 1 MiB stack, about 40 KB of static data, about 90 KB of heap.
        println!(
            "cargo:rustc-link-arg-cdylib=--initial-memory={}",
            18 * 65536
        );
    }
}
