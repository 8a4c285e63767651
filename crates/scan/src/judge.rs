//! Whoever runs the policy: the native checker runs `policy.wasm` in wasmtime, the web build
//! runs the same core compiled to the browser's wasm. Everything around a verdict (reading,
//! requests, positions, reports) is shared; only this call differs.

use image_digest_policy::report::{Finding, Warning};

/// The policy's answer to one request: its verdict and message as the host receives them, and
/// its findings and warnings as data (with their rules), for every output format.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Whether the request may go on.
    pub accepted: bool,
    /// The reject message as the API server shows it.
    pub message: Option<String>,
    /// Every blocking finding.
    pub findings: Vec<Finding>,
    /// Every warning.
    pub warnings: Vec<Warning>,
    /// The JSONPatch a mutating deployment would apply.
    pub patch: Option<serde_json::Value>,
}

/// Whoever runs the policy on a request.
pub trait Judge {
    /// Validates one AdmissionRequest (the `request` object, as JSON). An `Err` is a failure
    /// to run the policy (a trap, a host error), never a rejection.
    fn judge(&mut self, request: &[u8]) -> Result<Answer, String>;
}

/// The policy's core, run in this process: what the web build and the tests use.
pub struct Core {
    /// The settings, as JSON.
    pub settings: serde_json::Value,
}

impl Judge for Core {
    fn judge(&mut self, request: &[u8]) -> Result<Answer, String> {
        let settings = serde_json::to_vec(&self.settings).map_err(|e| e.to_string())?;
        let bytes = image_digest_policy::request::payload(request, &settings);
        let verdict = image_digest_policy::validate(&bytes);
        Ok(Answer {
            accepted: verdict.accepted,
            message: verdict.message,
            findings: verdict.findings,
            warnings: verdict.warnings,
            patch: None,
        })
    }
}
