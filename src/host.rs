//! Host-resolved digests (`docs/contract.md` §6): the one question the policy may ask the host,
//! behind a trait so the core stays pure and the tests can answer it.

use crate::reference;

/// Asks what a reference points to now (Kubewarden's `oci/v1/manifest_digest`).
pub trait DigestResolver {
    /// The digest (`sha256:<hex>`) `image` resolves to, or the host's reason it could not.
    fn manifest_digest(&mut self, image: &str) -> Result<String, String>;
}

/// The resolver when no host is there to ask: every lookup fails, visibly.
pub struct NoHost;

impl DigestResolver for NoHost {
    fn manifest_digest(&mut self, _image: &str) -> Result<String, String> {
        Err("no host is available to resolve digests".to_owned())
    }
}

/// One lookup per distinct reference per request, however many containers use it, and
/// every answer checked before it is trusted: a host that answers garbage is a failure.
pub struct Lookups<'r> {
    resolver: &'r mut dyn DigestResolver,
    /// (image, answer), in the order asked. A list, not a map: a request names few distinct
    /// images, and a hash map would add its hashing and growth code to the module.
    answers: Vec<(String, Result<String, String>)>,
}

impl<'r> Lookups<'r> {
    /// Lookups through `resolver`, none made yet.
    pub fn new(resolver: &'r mut dyn DigestResolver) -> Self {
        Lookups {
            resolver,
            answers: Vec::new(),
        }
    }

    /// The digest `image` resolves to (asked once per request), or the host's reason, quoted on one line.
    pub fn resolve(&mut self, image: &str) -> Result<String, String> {
        if let Some((_, answer)) = self.answers.iter().find(|(i, _)| i == image) {
            return answer.clone();
        }
        let answer = self
            .resolver
            .manifest_digest(image)
            .map_err(|e| quote_reason(&e));
        let answer = answer.and_then(|digest| {
            // Check the answer with the same grammar the policy enforces on images.
            let probe = format!("x@{digest}");
            match reference::parse(&probe) {
                Ok(_) => Ok(digest),
                Err(e) => Err(format!(
                    "the host answered {:?}, which is not a valid digest: {e}",
                    reference::truncate(&digest, 200)
                )),
            }
        });
        self.answers.push((image.to_owned(), answer.clone()));
        answer
    }
}

/// What kwctl and policy-server put before the reason of a failed host call; transport, not
/// news to the user.
const CALLBACK_FAILURE: &str = "Callback evaluation failure: ";

/// Where a reason rendered with `RUST_BACKTRACE=1` in the server's environment turns into a
/// stack trace.
const BACKTRACE: &str = "Stack backtrace:";

/// The longest host reason a message quotes, in bytes.
pub const MAX_REASON: usize = 300;

/// The host's reason as a rejection or warning quotes it: one line, without the transport
/// prefix or a backtrace, control characters folded into spaces, cut at [`MAX_REASON`] bytes.
/// The host's text is not ours to trust: it must not break a message into lines or bury it.
pub fn quote_reason(reason: &str) -> String {
    let reason = reason.trim_start();
    let reason = reason.strip_prefix(CALLBACK_FAILURE).unwrap_or(reason);
    let reason = reason.split(BACKTRACE).next().unwrap_or_default();
    let mut out = String::with_capacity(reason.len().min(MAX_REASON + 4));
    for word in reason.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX_REASON {
            break;
        }
    }
    if out.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("the host gave no reason");
    }
    out
}

/// A resolver that answers from a table and records every question, for the tests.
#[cfg(test)]
pub(crate) struct FakeHost {
    pub calls: Vec<String>,
    answers: std::collections::HashMap<String, Result<String, String>>,
}

#[cfg(test)]
impl FakeHost {
    pub fn new(answers: &[(&str, Result<&str, &str>)]) -> Self {
        FakeHost {
            calls: Vec::new(),
            answers: answers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned).map_err(str::to_owned)))
                .collect(),
        }
    }
}

#[cfg(test)]
impl DigestResolver for FakeHost {
    fn manifest_digest(&mut self, image: &str) -> Result<String, String> {
        self.calls.push(image.to_owned());
        self.answers
            .get(image)
            .cloned()
            .unwrap_or_else(|| Err(format!("manifest unknown: {image}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lookup_per_distinct_image_and_answers_are_checked() {
        let good = format!("sha256:{}", "a".repeat(64));
        let mut r = FakeHost::new(&[("a:1", Ok(&good)), ("b:1", Ok("sha256:XYZ"))]);
        let mut l = Lookups::new(&mut r);
        assert_eq!(l.resolve("a:1"), Ok(good.clone()));
        assert_eq!(l.resolve("a:1"), Ok(good));
        assert!(l.resolve("b:1").unwrap_err().contains("not a valid digest"));
        assert!(l.resolve("c:1").unwrap_err().contains("manifest unknown"));
        assert!(l.resolve("c:1").is_err());
        assert_eq!(r.calls, ["a:1", "b:1", "c:1"]);
        assert!(NoHost.manifest_digest("x").is_err());
    }

    #[test]
    fn host_reasons_are_quoted_on_one_capped_line() {
        let backtrace = "Callback evaluation failure: cannot fetch manifest of nginx:1.27: registry unreachable\n\nStack backtrace:\n   0: anyhow::error::<impl anyhow::Error>::msg\n   1: policy_evaluator::callback_handler";
        let long = "x".repeat(1000);
        let cases: &[(&str, &str)] = &[
            (
                backtrace,
                "cannot fetch manifest of nginx:1.27: registry unreachable",
            ),
            (
                "cannot fetch: registry unreachable",
                "cannot fetch: registry unreachable",
            ),
            ("line one\r\nline\ttwo\u{1}three", "line one line two three"),
            ("", "the host gave no reason"),
            ("Callback evaluation failure: ", "the host gave no reason"),
        ];
        for (raw, want) in cases {
            assert_eq!(quote_reason(raw), *want, "{raw:?}");
        }
        let cut = quote_reason(&long);
        assert_eq!(cut.len(), MAX_REASON + '…'.len_utf8());
        assert!(cut.ends_with('…'));
        let wide = quote_reason(&"é".repeat(400));
        assert!(wide.ends_with('…') && wide.len() <= MAX_REASON + 3);
        let mut r = FakeHost::new(&[]);
        let mut l = Lookups::new(&mut r);
        let e = l.resolve("c:1").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }
}
