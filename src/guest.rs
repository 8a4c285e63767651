//! The waPC entry points, on Kubewarden's policy SDK: a thin layer that hands payloads to the
//! pure core and answers through the SDK's protocol version, response helpers and types, and
//! host capability. The SDK is what Kubewarden keeps in step with policy-server, so a protocol
//! change upstream is a version bump here.
//!
//! Two parts stay ours, each for a measured reason:
//! - **Reading the request.** The SDK's `ValidationRequest<T>` deserialises the whole
//!   `request.object` into a `serde_json::Value` (and typed settings into `T`) on every call;
//!   the core borrows the few fields it needs from the payload (`request.rs`), which keeps a
//!   request's cost independent of the object's size (`make bench`: per-request figures in
//!   BENCHMARKS.md). So `validate` passes the raw payload to `evaluate::validate_with`.
//! - **Settings validation.** The SDK's `validate_settings::<T>` needs a typed, serde-derived
//!   `T`; the policy's settings are read key by key so that every problem is reported at once
//!   with a suggestion (`settings.rs`), so `RawSettings` hands the JSON to that reader and the
//!   SDK's `Validatable` carries the answer back.

use crate::evaluate;
use kubewarden_policy_sdk::host_capabilities::oci;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::{SettingsValidationResponse, Validatable};
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{
    accept_request, mutate_request, protocol_version_guest, reject_request,
};

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("report", report);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

/// Answers digest lookups through the SDK's `oci/v1/manifest_digest` host capability.
struct Host;

impl crate::host::DigestResolver for Host {
    /// The SDK's `get_manifest_digest`, with the host's own reason unwrapped from the SDK's
    /// and waPC's wrappers ("error invoking host capability …: Host error: <reason>"): the
    /// user reads why the registry could not answer, not how the call travelled.
    fn manifest_digest(&mut self, image: &str) -> Result<String, String> {
        match oci::get_manifest_digest(image) {
            Ok(answer) => Ok(answer.digest),
            Err(kubewarden_policy_sdk::Error::HostCall { source, .. }) => {
                let reason = source.to_string();
                Err(reason
                    .strip_prefix("Host error: ")
                    .map(str::to_owned)
                    .unwrap_or(reason))
            }
            Err(e) => Err(format!("the host's answer is not a digest response: {e}")),
        }
    }
}

/// `validate`: the core's verdict as the SDK's response. Acceptances without warnings go
/// through `accept_request` / `mutate_request`, rejections through `reject_request`; an
/// acceptance that carries warnings (the SDK has no helper for it) is the SDK's
/// `ValidationResponse`, built field by field.
pub(crate) fn validate(payload: &[u8]) -> CallResult {
    // Taken apart, so the warnings' texts move into the response instead of being copied.
    let evaluate::Verdict {
        accepted,
        message,
        warnings,
        mutated_object,
        ..
    } = evaluate::validate_with(payload, &mut Host);
    let warnings = (!warnings.is_empty())
        .then(|| crate::report::cap_warnings(warnings.into_iter().map(|w| w.text).collect()));
    match (accepted, mutated_object, warnings) {
        (false, _, warnings) => reject_request(message, None, None, warnings),
        (true, None, None) => accept_request(),
        (true, Some(object), None) => mutate_request(object),
        (true, mutated_object, warnings) => Ok(serde_json::to_vec(&ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object,
            audit_annotations: None,
            warnings,
        })?),
    }
}

/// `report`: the same evaluation as `validate`, answered as data (`report::ReportData`): the
/// verdict, message, warnings and mutated object `validate` would answer, and the findings
/// and warnings with their rules. policy-server never calls it; the checker calls it instead
/// of `validate`, so each document is evaluated once, by the module it runs.
fn report(payload: &[u8]) -> CallResult {
    Ok(evaluate::validate_with(payload, &mut Host).data_json())
}

/// The settings as policy-server sends them, for the SDK's `validate_settings`: kept as JSON
/// and read by the core's own reader, which names every problem at once.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct RawSettings(Option<serde_json::Value>);

impl Validatable for RawSettings {
    fn validate(&self) -> Result<(), String> {
        crate::settings::Settings::from_json(self.0.as_ref())
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// `validate_settings` through the SDK's helper. The helper fails the call (a waPC error, not
/// an answer) when the payload is not JSON at all; the policy has always answered that with
/// `valid: false` and the parser's words (the fuzz corpus holds such payloads, numbers out of
/// range among them), so that case is answered here, in the SDK's response type.
fn validate_settings(payload: &[u8]) -> CallResult {
    if serde_json::from_slice::<RawSettings>(payload).is_err() {
        let v = evaluate::validate_settings(payload);
        return Ok(serde_json::to_vec(&SettingsValidationResponse {
            valid: v.valid,
            message: v.message,
        })?);
    }
    kubewarden_policy_sdk::validate_settings::<RawSettings>(payload)
}

#[cfg(test)]
mod tests {
    //! The glue through the SDK's own test helper (`test::Testcase`, as Kubewarden's policies
    //! test theirs), on the e2e fixtures. The host calls of `pinDigests`/`verifyTagDigest` need
    //! a waPC host: the e2e table runs them through the wasm in wasmtime.
    use super::*;
    use kubewarden_policy_sdk::test::Testcase;
    use serde_json::json;

    fn fixture(name: &str) -> String {
        format!("{}/e2e-tests/requests/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn verdicts_cross_the_glue_in_the_sdks_shape() {
        let cases = [
            (
                "pinned pod",
                "pod-pinned.json",
                json!({"requireDigest": true}),
                true,
            ),
            (
                "unpinned pod",
                "pod-unpinned.json",
                json!({"requireDigest": true}),
                false,
            ),
            ("warned pod", "pod-unpinned.json", json!({}), true),
            (
                "an image volume on latest",
                "volumes/pod.json",
                json!({}),
                false,
            ),
            (
                "not our kind",
                "configmap.json",
                json!({"requireDigest": true}),
                true,
            ),
        ];
        for (name, file, settings, accepted) in cases {
            let t = Testcase {
                name: name.to_owned(),
                fixture_file: fixture(file),
                expected_validation_result: accepted,
                settings,
            };
            let response = t.eval(validate).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(response.message.is_some(), !accepted, "{name}");
            assert!(response.mutated_object.is_none(), "{name}");
        }
        let warned = Testcase {
            name: "warned".to_owned(),
            fixture_file: fixture("pod-unpinned.json"),
            expected_validation_result: true,
            settings: json!({}),
        }
        .eval(validate)
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(warned.warnings.map(|w| w.len()), Some(1));
    }

    #[test]
    fn settings_cross_the_glue_in_the_sdks_shape() {
        let answer = |payload: &str| {
            let raw = validate_settings(payload.as_bytes()).unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(&raw).unwrap_or_default()
        };
        assert_eq!(answer("{}"), json!({"valid": true, "message": null}));
        assert_eq!(answer("null"), json!({"valid": true, "message": null}));
        let not_json = answer("{");
        assert_eq!(not_json["valid"], false);
        assert!(
            not_json["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("invalid settings: not JSON:"),
            "{not_json}"
        );
        let bad = answer(r#"{"requireDigests": true, "mutableTags": 3}"#);
        assert_eq!(bad["valid"], false);
        let message = bad["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("unknown key `requireDigests`"),
            "{message}"
        );
        assert!(message.contains("mutableTags"), "{message}");
    }

    #[test]
    fn the_protocol_version_is_the_sdks() {
        let v = protocol_version_guest(&[]).unwrap_or_default();
        assert_eq!(v, br#""v1""#);
    }
}
