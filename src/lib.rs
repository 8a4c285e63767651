//! `image-digest-policy`: a Kubewarden policy that enforces the image tag/digest contract
//! (`repository:tag@digest`: the digest decides what runs, the tag stays for people).
//!
//! The core (`reference`, `settings`, `workload`, `rules`, `report`, `evaluate`) is pure: no
//! waPC and no I/O, so the wasm entry points in `guest`, the native tests, the offline
//! checker's parity tests and the benchmarks all run the same code.

pub mod evaluate;
pub mod exemption;
pub mod glob;
pub mod host;
pub mod kinds;
pub mod path;
pub mod reference;
pub mod report;
pub mod request;
pub mod rules;
pub mod settings;
pub mod workload;

#[cfg(any(all(target_arch = "wasm32", target_os = "wasi"), test))]
mod guest;

/// The hex of a digest valid under the contract (the chart's own), for every unit test here.
#[cfg(test)]
pub(crate) const TEST_H64: &str =
    "96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809";

/// The policy's own version, as its package declares it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use evaluate::{SettingsVerdict, Verdict, validate, validate_settings, validate_with};
pub use host::{DigestResolver, NoHost};
