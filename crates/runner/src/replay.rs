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
//! Each recorded exchange answers at most one call per evaluation (as in a kwctl run, where a
//! session is consumed as the policy asks), so a policy that asks twice for the same image
//! runs out of answers and the test sees it.

use crate::host::{Host, HostCall};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::Path;
use std::sync::Mutex;

/// A recorded request as kwctl writes it: a YAML tag names the capability.
#[derive(Deserialize)]
enum TaggedRequest {
    OciManifestDigest(DigestRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    OciManifestDigest { image: String },
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::OciManifestDigest { image } => write!(f, "!OciManifestDigest image: {image}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Success(Vec<u8>),
    Error(String),
}

#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Request,
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
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    pub fn load(path: &Path) -> Result<Recording> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read session {}", path.display()))?;
        Recording::parse(&text).with_context(|| format!("session {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Recording> {
        let raw: Option<Vec<RawExchange>> =
            serde_saphyr::from_str(text).context("not a list of exchanges")?;
        let mut exchanges = Vec::new();
        for (i, e) in raw.unwrap_or_default().into_iter().enumerate() {
            if e.kind != "Exchange" {
                bail!("exchange {i}: type must be Exchange, found {:?}", e.kind);
            }
            let tagged: TaggedRequest = serde_saphyr::from_str(&e.request).with_context(|| {
                format!("exchange {i}: request (this runner replays !OciManifestDigest)")
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
                (kind, ..) => bail!(
                    "exchange {i}: response must be Success with a payload or Error with a message, found {kind:?}"
                ),
            };
            exchanges.push(Exchange { request, answer });
        }
        Ok(Recording { exchanges })
    }

    /// A fresh replay of this recording for one evaluation.
    pub fn session(&self) -> Session {
        Session {
            exchanges: self.exchanges.clone(),
            used: Mutex::new(vec![false; self.exchanges.len()]),
        }
    }
}

/// One evaluation's replay: every exchange answers once.
pub struct Session {
    exchanges: Vec<Exchange>,
    used: Mutex<Vec<bool>>,
}

impl Session {
    /// How many recorded exchanges were asked for.
    pub fn used(&self) -> usize {
        self.used
            .lock()
            .map(|u| u.iter().filter(|x| **x).count())
            .unwrap_or(0)
    }
}

impl Host for Session {
    fn call(&self, call: &HostCall<'_>) -> Result<Vec<u8>, String> {
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
        let mut used = self
            .used
            .lock()
            .map_err(|_| "the replay session is poisoned".to_owned())?;
        let found = self
            .exchanges
            .iter()
            .enumerate()
            .find(|(i, e)| e.request == request && !used.get(*i).copied().unwrap_or(true));
        match found {
            Some((i, e)) => {
                if let Some(slot) = used.get_mut(i) {
                    *slot = true;
                }
                match &e.answer {
                    Answer::Success(p) => Ok(p.clone()),
                    Answer::Error(m) => Err(m.clone()),
                }
            }
            None => Err(format!(
                "the recorded session has no (unused) answer for {request}"
            )),
        }
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

    #[test]
    fn exchanges_answer_once_each() {
        let rec = Recording::parse(SESSION).unwrap();
        let s = rec.session();
        let call = |image: &str| {
            let payload = digest_call(image);
            s.call(&HostCall {
                binding: "kubewarden",
                namespace: "oci",
                operation: "v1/manifest_digest",
                payload: &payload,
            })
        };
        assert_eq!(
            call("nginx:1.27"),
            Ok(br#"{"digest":"sha256:aaaa"}"#.to_vec())
        );
        assert_eq!(
            call("nginx:1.27"),
            Err("the recorded session has no (unused) answer for !OciManifestDigest image: nginx:1.27".into())
        );
        assert_eq!(call("gone:1"), Err("manifest unknown".into()));
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
