//! The guest's answers, read strictly: a `validate` answer that does not say `accepted` is an
//! error, never an accept.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The guest's answer to `validate_settings`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SettingsResponse {
    /// Whether the settings are valid.
    pub valid: bool,
    /// Why not, when they are not.
    #[serde(default)]
    pub message: Option<String>,
}

/// The guest's `validate` answer as the policy-server would forward it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    /// Whether the request may go on.
    pub accepted: bool,
    /// The reject message.
    pub message: Option<String>,
    /// The HTTP code of a rejection, when the policy sets one.
    pub code: Option<u16>,
    /// The warnings, as the API server shows them.
    pub warnings: Vec<String>,
    /// The JSONPatch from the request's object to `mutated_object`, as the server sends it
    /// to the API server; `None` when the policy did not mutate.
    pub patch: Option<Value>,
}

#[derive(Deserialize)]
struct Raw {
    accepted: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    mutated_object: Option<Value>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

impl Response {
    /// Reads the guest's raw answer; `original` is the request's object, for the JSONPatch of a mutation.
    pub fn from_guest(raw: &[u8], original: Option<&Value>) -> Result<Response> {
        Response::from_guest_lazy(raw, || original.cloned())
    }

    /// As `from_guest`, with the original object produced only when a patch is needed.
    pub fn from_guest_lazy(
        raw: &[u8],
        original: impl FnOnce() -> Option<Value>,
    ) -> Result<Response> {
        let r: Raw = serde_json::from_slice(raw).map_err(|_| Error::Answer {
            operation: "validate",
            expected: "a validation response",
            answer: String::from_utf8_lossy(raw).into_owned(),
        })?;
        let patch = match (r.mutated_object, original) {
            (None, _) => None,
            (Some(mutated), original) => {
                let Some(original) = original() else {
                    return Err(Error::Answer {
                        operation: "validate",
                        expected: "a mutation of the request's object",
                        answer: "a mutated object, for a request that had no object".into(),
                    });
                };
                let patch = json_patch::diff(&original, &mutated);
                Some(serde_json::to_value(patch).map_err(|e| Error::Answer {
                    operation: "validate",
                    expected: "a mutation that can be written as a JSONPatch",
                    answer: e.to_string(),
                })?)
            }
        };
        Ok(Response {
            accepted: r.accepted,
            message: r.message,
            code: r.code,
            warnings: r.warnings.unwrap_or_default(),
            patch,
        })
    }
}
