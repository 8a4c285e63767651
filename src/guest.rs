//! The waPC entry points: a thin layer that hands payloads to the pure core and serialises
//! its verdicts in the shape Kubewarden's policy-server expects.

use crate::evaluate;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

fn validate(payload: &[u8]) -> CallResult {
    let v = evaluate::validate(payload);
    let response = ValidationResponse {
        accepted: v.accepted,
        message: v.message,
        code: None,
        mutated_object: None,
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
