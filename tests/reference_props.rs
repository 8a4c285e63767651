//! Property tests of the reference parser: references generated from the grammar parse into
//! their parts; mutations of them fail with the right reason; and a differential check
//! against `oci-spec`'s regex-based parser, which this policy must never be more permissive
//! than. Deliberate differences (this parser is stricter) are listed in docs/policy.md ("Decisions") and docs/development.md:
//! - digests: only sha256 (64) and sha512 (128) lowercase hex; distribution accepts any
//!   algorithm name and 32+ hex digits of either case;
//! - IPv6 registry hosts (`[::1]:5000/app`) are refused; newer distribution accepts them.

// A test crate: a panic (an unwrap, an index) is a failing test; helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use image_digest_policy::reference::{self, ReferenceError};
use proptest::prelude::*;
use std::str::FromStr;

fn component() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}")
        .expect("regex")
}

fn domain() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        proptest::string::string_regex("[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){1,2}(:[0-9]{1,5})?")
            .expect("regex")
            .prop_map(Some),
        proptest::string::string_regex("localhost(:[0-9]{1,5})?")
            .expect("regex")
            .prop_map(Some),
    ]
}

fn tag() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        proptest::string::string_regex("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}").expect("regex"),
    )
}

fn digest() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        proptest::string::string_regex("[0-9a-f]{64}")
            .expect("regex")
            .prop_map(|h| format!("sha256:{h}")),
        proptest::string::string_regex("[0-9a-f]{128}")
            .expect("regex")
            .prop_map(|h| format!("sha512:{h}")),
    ])
}

#[derive(Debug, Clone)]
struct Parts {
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Parts {
    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(d) = &self.domain {
            s.push_str(d);
            s.push('/');
        }
        s.push_str(&self.path);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// A first component without `.`: with no domain written, a first component with a `.` (or
/// `localhost`) would be read as a registry host, as the grammar says.
fn first_component() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9]{1,6}((_|__|-{1,3})[a-z0-9]{1,6}){0,2}")
        .expect("regex")
        .prop_filter("localhost is a host", |c| c != "localhost")
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        domain(),
        first_component(),
        proptest::collection::vec(component(), 0..3),
        tag(),
        digest(),
    )
        .prop_map(|(domain, first, rest, tag, digest)| Parts {
            domain,
            path: std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join("/"),
            tag,
            digest,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_references_parse_into_their_parts(p in parts()) {
        let image = p.render();
        let r = reference::parse(&image).map_err(|e| TestCaseError::fail(format!("{image}: {e}")))?;
        prop_assert_eq!(r.domain, p.domain.as_deref());
        prop_assert_eq!(r.path, p.path.as_str());
        prop_assert_eq!(r.tag, p.tag.as_deref());
        prop_assert_eq!(r.digest.map(|d| d.to_string()), p.digest.clone());
    }

    #[test]
    fn mutations_fail_with_the_right_reason(p in parts(), at in any::<prop::sample::Index>(), which in 0usize..5) {
        let image = p.render();
        let (mutated, want): (String, fn(&ReferenceError) -> bool) = match which {
            0 => {
                let i = at.index(image.len() + 1);
                (format!("{} {}", &image[..i], &image[i..]), |e| matches!(e, ReferenceError::Whitespace { .. }))
            }
            1 => {
                let i = at.index(image.len() + 1);
                (format!("{}é{}", &image[..i], &image[i..]), |e| matches!(e, ReferenceError::NonAscii { .. }))
            }
            2 => {
                if p.digest.is_none() {
                    return Ok(());
                }
                (format!("{image}@sha256:{}", "a".repeat(64)), |e| matches!(e, ReferenceError::MultipleDigests))
            }
            3 => {
                // An uppercase letter at the end of the repository path.
                let upper = Parts { path: format!("{}X", p.path), ..p.clone() };
                (upper.render(), |e| matches!(e, ReferenceError::PathUppercase))
            }
            _ => {
                let Some(d) = &p.digest else { return Ok(()) };
                (image.replace(d.as_str(), &d[..d.len() - 1]), |e| matches!(e, ReferenceError::DigestLength { .. }))
            }
        };
        match reference::parse(&mutated) {
            Ok(r) => prop_assert!(false, "{mutated:?} parsed as {r:?}"),
            Err(e) => prop_assert!(want(&e), "{mutated:?}: unexpected reason {e:?}"),
        }
    }

    /// Never more permissive than distribution's grammar (oci-spec), and the parts agree.
    #[test]
    fn never_more_permissive_than_oci_spec(s in "[a-zA-Z0-9._/:@-]{1,40}") {
        if let Ok(ours) = reference::parse(&s) {
            let theirs = oci_spec::distribution::Reference::from_str(&s)
                .map_err(|e| TestCaseError::fail(format!("{s:?}: accepted here, refused by oci-spec: {e}")))?;
            if ours.tag.is_some() {
                prop_assert_eq!(ours.tag, theirs.tag(), "{}", s);
            }
        }
    }

    #[test]
    fn generated_references_are_valid_for_oci_spec_too(p in parts()) {
        let image = p.render();
        let theirs = oci_spec::distribution::Reference::from_str(&image)
            .map_err(|e| TestCaseError::fail(format!("{image}: {e}")))?;
        // oci-spec fills in `latest` when neither a tag nor a digest is written.
        let implied = if p.tag.is_none() && p.digest.is_none() { Some("latest") } else { p.tag.as_deref() };
        prop_assert_eq!(theirs.tag(), implied);
        prop_assert_eq!(theirs.digest(), p.digest.as_deref());
    }
}

#[test]
fn deliberate_differences_from_oci_spec() {
    let h = "96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809";
    let s = format!("app:1@sha256:{}", h.to_uppercase());
    assert!(
        oci_spec::distribution::Reference::from_str(&s).is_ok(),
        "oci-spec accepts {s}"
    );
    assert!(reference::parse(&s).is_err(), "this policy refuses {s}");
}
