//! The waPC entry points: a thin layer that hands payloads to the pure core and serialises
//! its verdicts in the shape Kubewarden's policy-server expects.
//!
//! The policy speaks waPC through `wapc-guest` directly instead of Kubewarden's SDK: of the
//! SDK it would use only the waPC re-export, two response shapes and the protocol version,
//! while the SDK brings chrono, url, oci-spec, serde_yaml and slog into every build of the
//! policy and of every tool that links its core. The shapes below are the SDK's (0.17), field
//! for field, and the e2e suites read them back through the same runner kwctl's output is
//! held to.

use crate::evaluate;
use std::collections::HashMap;
use wapc_guest::{self as guest, CallResult};

/// Kubewarden's policy protocol this module speaks (the SDK's `ProtocolVersion::V1`).
const PROTOCOL_VERSION: &[u8] = br#""v1""#;

/// The SDK's `response::ValidationResponse`: every field present, `null` when unset.
#[derive(serde::Serialize)]
struct ValidationResponse {
    accepted: bool,
    message: Option<String>,
    code: Option<u16>,
    mutated_object: Option<serde_json::Value>,
    audit_annotations: Option<HashMap<String, String>>,
    warnings: Option<Vec<String>>,
}

/// The SDK's `settings::SettingsValidationResponse`.
#[derive(serde::Serialize)]
struct SettingsValidationResponse {
    valid: bool,
    message: Option<String>,
}

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", |_| Ok(PROTOCOL_VERSION.to_vec()));
}

/// Answers digest lookups through Kubewarden's `oci/v1/manifest_digest` host capability.
struct Host;

#[derive(serde::Deserialize)]
struct DigestAnswer {
    digest: String,
}

impl crate::host::DigestResolver for Host {
    /// The same wire call as the SDK's `get_manifest_digest`, made directly so that the
    /// user reads the host's reason rather than the SDK's and waPC's wrappers around it.
    fn manifest_digest(&mut self, image: &str) -> Result<String, String> {
        let payload = serde_json::to_vec(image).map_err(|e| e.to_string())?;
        let answer = guest::host_call("kubewarden", "oci", "v1/manifest_digest", &payload)
            .map_err(|e| {
                let e = e.to_string();
                // wapc-guest renders a host failure as "Host error: <the host's reason>".
                e.strip_prefix("Host error: ")
                    .map(str::to_owned)
                    .unwrap_or(e)
            })?;
        serde_json::from_slice::<DigestAnswer>(&answer)
            .map(|a| a.digest)
            .map_err(|e| format!("the host's answer is not a digest response: {e}"))
    }
}

fn validate(payload: &[u8]) -> CallResult {
    let v = evaluate::validate_with(payload, &mut Host);
    let response = ValidationResponse {
        accepted: v.accepted,
        message: v.message,
        code: None,
        mutated_object: v.mutated_object,
        audit_annotations: None,
        warnings: (!v.warnings.is_empty()).then_some(v.warnings),
    };
    Ok(serde_json::to_vec(&response)?)
}

fn validate_settings(payload: &[u8]) -> CallResult {
    let v = evaluate::validate_settings(payload);
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: v.valid,
        message: v.message,
    })?)
}
