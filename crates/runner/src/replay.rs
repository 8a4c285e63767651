//! Recorded host interactions in kwctl's `--replay-host-capabilities-interactions` session
//! format, so host-resolved digests are tested without a live registry:
//!
//! ```yaml
//! ---
//! - type: Exchange
//!   request: |
//!     !OciManifestDigest
//!     image: nginx:1.27
//!   response:
//!     type: Success
//!     payload: '{"digest":"sha256:..."}'
//! - type: Exchange
//!   request: |
//!     !OciManifestDigest
//!     image: ghcr.io/example/missing:1
//!   response:
//!     type: Error
//!     message: "manifest unknown"
//! ```
//!
//! The replay follows kwctl's (`CallbackHandlerProxy` in replay mode) exactly, so a session
//! that passes here passes under kwctl: the exchanges are consumed strictly in order, one per
//! host call, whatever the call asks. A call that is not the next recorded request fails with
//! kwctl's "Replay error: unexpected request. Was expecting …, got … instead" (and still uses
//! up that exchange), a call past the end fails with "the list of recorded responses is empty
//! or has been exhausted", and exchanges left over after the evaluation are reported as kwctl
//! warns about them ([`Session::leftover`]). The policy's order of lookups is therefore part
//! of its contract (`docs/contract.md`, "Host-resolved digests").

use crate::host::{Host, HostCall};
use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A recorded request as kwctl writes it: a YAML tag names the capability.
#[derive(Deserialize)]
enum TaggedRequest {
    OciManifestDigest(DigestRequest),
}

/// A host call as kwctl's `CallbackRequestType` names it; its derived `Debug` is the text
/// kwctl's replay errors show (`OciManifestDigest { image: "nginx:1.27" }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `oci/v1/manifest_digest` of `image`.
    OciManifestDigest {
        /// The image asked about.
        image: String,
    },
}

/// What the host answered, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The answer's payload.
    Success(Vec<u8>),
    /// The host's error message.
    Error(String),
}

/// One recorded host call and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What the guest asked.
    pub request: Request,
    /// What the host answered.
    pub answer: Answer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    #[serde(rename = "type")]
    kind: String,
    request: String,
    response: RawResponse,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct DigestRequest {
    image: String,
}

/// A recorded session.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// The exchanges, in the order they were recorded (and must be replayed).
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    /// Reads a session file.
    pub fn load(path: &Path) -> Result<Recording> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Session(format!("cannot read session {}: {e}", path.display())))?;
        Recording::parse(&text)
            .map_err(|e| Error::Session(format!("session {}: {e}", path.display())))
    }

    /// Reads a session from its YAML text.
    pub fn parse(text: &str) -> Result<Recording> {
        let bad = |why: String| Error::Session(why);
        let raw: Option<Vec<RawExchange>> = serde_saphyr::from_str(text)
            .map_err(|e| bad(format!("not a list of exchanges: {e}")))?;
        let mut exchanges = Vec::new();
        for (i, e) in raw.unwrap_or_default().into_iter().enumerate() {
            if e.kind != "Exchange" {
                return Err(bad(format!(
                    "exchange {i}: type must be Exchange, found {:?}",
                    e.kind
                )));
            }
            let tagged: TaggedRequest = serde_saphyr::from_str(&e.request).map_err(|err| {
                bad(format!(
                    "exchange {i}: request (this runner replays !OciManifestDigest): {err}"
                ))
            })?;
            let request = match tagged {
                TaggedRequest::OciManifestDigest(r) => {
                    Request::OciManifestDigest { image: r.image }
                }
            };
            let answer = match (
                e.response.kind.as_str(),
                e.response.payload,
                e.response.message,
            ) {
                ("Success", Some(p), _) => Answer::Success(p.into_bytes()),
                ("Error", _, Some(m)) => Answer::Error(m),
                (kind, ..) => {
                    return Err(bad(format!(
                        "exchange {i}: response must be Success with a payload or Error with a message, found {kind:?}"
                    )));
                }
            };
            exchanges.push(Exchange { request, answer });
        }
        Ok(Recording { exchanges })
    }

    /// A fresh replay of this recording for one evaluation.
    pub fn session(&self) -> Session {
        Session {
            exchanges: self.exchanges.clone(),
            cursor: AtomicUsize::new(0),
        }
    }
}

/// One evaluation's replay: a cursor over the exchanges, advanced by every host call.
pub struct Session {
    exchanges: Vec<Exchange>,
    cursor: AtomicUsize,
}

impl Session {
    /// How many host calls were answered from (or refused against) the recording.
    pub fn used(&self) -> usize {
        self.cursor.load(Ordering::SeqCst).min(self.exchanges.len())
    }

    /// kwctl's warning when the evaluation ended before every exchange was replayed, with the
    /// same figures (`replayed`, `total`); `None` when the session was used up exactly.
    pub fn leftover(&self) -> Option<String> {
        let (replayed, total) = (self.used(), self.exchanges.len());
        (replayed < total).then(|| {
            format!(
                "Some of the recorded exchanges have not been replayed replayed={replayed} total={total}"
            )
        })
    }

    /// The answer to `request`: the next exchange's, when it records that request.
    fn answer(&self, request: &Request) -> std::result::Result<Vec<u8>, String> {
        let index = self.cursor.fetch_add(1, Ordering::SeqCst);
        let Some(next) = self.exchanges.get(index) else {
            return Err("the list of recorded responses is empty or has been exhausted".into());
        };
        if next.request != *request {
            return Err(format!(
                "Replay error: unexpected request. Was expecting {:?}, got {:?} instead",
                next.request, request
            ));
        }
        match &next.answer {
            Answer::Success(p) => Ok(p.clone()),
            Answer::Error(m) => Err(m.clone()),
        }
    }
}

impl Host for Session {
    fn call(&self, call: &HostCall<'_>) -> std::result::Result<Vec<u8>, String> {
        if call.is_log() {
            return Ok(Vec::new());
        }
        let request = match (call.binding, call.namespace, call.operation) {
            ("kubewarden", "oci", "v1/manifest_digest") => {
                let image: String = serde_json::from_slice(call.payload).map_err(|e| {
                    format!("oci/v1/manifest_digest: the payload is not a JSON string: {e}")
                })?;
                Request::OciManifestDigest { image }
            }
            (b, n, o) => {
                return Err(format!(
                    "host capability {b}/{n}/{o} is not in the recorded session"
                ));
            }
        };
        self.answer(&request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = r#"---
- type: Exchange
  request: |
    !OciManifestDigest
    image: nginx:1.27
  response:
    type: Success
    payload: '{"digest":"sha256:aaaa"}'
- type: Exchange
  request: |
    !OciManifestDigest
    image: gone:1
  response:
    type: Error
    message: manifest unknown
"#;

    fn digest_call(image: &str) -> Vec<u8> {
        serde_json::to_vec(image).unwrap_or_default()
    }

    fn call(s: &Session, image: &str) -> std::result::Result<Vec<u8>, String> {
        let payload = digest_call(image);
        s.call(&HostCall {
            binding: "kubewarden",
            namespace: "oci",
            operation: "v1/manifest_digest",
            payload: &payload,
        })
    }

    #[test]
    fn exchanges_answer_in_order_once_each() {
        let rec = Recording::parse(SESSION).unwrap();
        let s = rec.session();
        assert_eq!(
            call(&s, "nginx:1.27"),
            Ok(br#"{"digest":"sha256:aaaa"}"#.to_vec())
        );
        assert_eq!(
            s.leftover().as_deref(),
            Some("Some of the recorded exchanges have not been replayed replayed=1 total=2")
        );
        assert_eq!(call(&s, "gone:1"), Err("manifest unknown".into()));
        assert_eq!(s.leftover(), None);
        assert_eq!(
            call(&s, "nginx:1.27"),
            Err("the list of recorded responses is empty or has been exhausted".into())
        );
        assert_eq!(s.used(), 2);
        assert_eq!(rec.session().used(), 0, "every evaluation starts afresh");
        let other = s.call(&HostCall {
            binding: "kubewarden",
            namespace: "net",
            operation: "v1/dns_lookup_host",
            payload: b"\"x\"",
        });
        assert!(other.is_err());
    }

    /// kwctl's replay is not a lookup table: asking for the second exchange first is an
    /// error with kwctl's text, and that call still uses up the first exchange.
    #[test]
    fn a_call_out_of_order_is_kwctls_replay_error() {
        let rec = Recording::parse(SESSION).unwrap();
        let s = rec.session();
        assert_eq!(
            call(&s, "gone:1"),
            Err("Replay error: unexpected request. Was expecting OciManifestDigest { image: \"nginx:1.27\" }, got OciManifestDigest { image: \"gone:1\" } instead".into())
        );
        assert_eq!(
            call(&s, "nginx:1.27"),
            Err("Replay error: unexpected request. Was expecting OciManifestDigest { image: \"gone:1\" }, got OciManifestDigest { image: \"nginx:1.27\" } instead".into())
        );
        assert_eq!(s.leftover(), None);
    }

    #[test]
    fn malformed_sessions_are_errors() {
        assert!(
            Recording::parse(
                "- type: Nope\n  request: x\n  response: {type: Success, payload: x}\n"
            )
            .is_err()
        );
        assert!(Recording::parse("- type: Exchange\n  request: \"!Other\\nx: 1\"\n  response: {type: Success, payload: x}\n").is_err());
        assert!(Recording::parse("- type: Exchange\n  request: \"!OciManifestDigest\\nimage: a\"\n  response: {type: Success}\n").is_err());
        assert!(
            Recording::parse("")
                .map(|r| r.exchanges.is_empty())
                .unwrap_or(false)
        );
    }
}
