//! The verdict for one image (`docs/contract.md` §2): which rules it breaks under the settings,
//! each with the words that tell the user what to change.

use crate::glob;
use crate::reference::{self, Reference, ReferenceError};
use crate::request::ImageField;
use crate::settings::Settings;

/// What one rule found wrong with a valid reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `requireDigest` is on and there is no digest.
    NoDigest,
    /// A mutable tag (`latest`, or no tag at all, which means `latest`) and no digest.
    Drift { tag: Option<String> },
    /// `requireTag` is on and the pinned image has no readable tag.
    NoTag,
    /// The digest's algorithm is not in `allowedDigestAlgorithms`.
    AlgorithmNotAllowed {
        algorithm: String,
        allowed: Vec<String>,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoDigest => f.write_str("no digest, and requireDigest is on"),
            Problem::Drift { tag: None } => {
                f.write_str("no tag and no digest: it runs `latest` implicitly, which drifts")
            }
            Problem::Drift { tag: Some(t) } => {
                write!(f, "tag `{t}` is mutable and no digest pins it (drift)")
            }
            Problem::NoTag => f.write_str(
                "a digest but no tag: the contract keeps a readable tag next to the digest",
            ),
            Problem::AlgorithmNotAllowed { algorithm, allowed } => write!(
                f,
                "digest algorithm {algorithm} is not allowed here (allowed: {})",
                allowed.join(", ")
            ),
        }
    }
}

/// The outcome for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVerdict {
    /// Not a valid reference, or not a string at all: always rejected.
    Invalid(String),
    /// Matched an `exemptImages` entry: only validity was checked.
    Exempt,
    /// Valid, but breaks these rules.
    Violates(Vec<Problem>),
    /// Accepted with a tag and no digest: worth a warning while `warnUnpinned` is on.
    Unpinned,
    /// Accepted: pinned by an allowed digest (or unpinned under settings that allow it).
    Accepted,
}

/// Judges one container's `image` field.
pub fn judge(image: &ImageField<'_>, settings: &Settings) -> ImageVerdict {
    let text = match image {
        ImageField::Str(s) => s.as_ref(),
        ImageField::Missing => return ImageVerdict::Invalid("the container has no image".into()),
        ImageField::Null => return ImageVerdict::Invalid("the image is null".into()),
        ImageField::NotString(t) => {
            return ImageVerdict::Invalid(format!("the image must be a string, found {t}"));
        }
    };
    match reference::parse(text) {
        Err(e) => ImageVerdict::Invalid(invalid_reason(&e)),
        Ok(r) => judge_reference(&r, settings),
    }
}

fn invalid_reason(e: &ReferenceError) -> String {
    format!("not a valid image reference: {e}")
}

pub fn judge_reference(r: &Reference<'_>, settings: &Settings) -> ImageVerdict {
    if !settings.exempt_images.is_empty() {
        let repository = r.normalized_repository();
        if settings
            .exempt_images
            .iter()
            .any(|e| e.matches(r, &repository))
        {
            return ImageVerdict::Exempt;
        }
    }
    let mut problems = Vec::new();
    match r.digest {
        None => {
            if settings.require_digest {
                problems.push(Problem::NoDigest);
            }
            // No tag means `latest` to every container runtime.
            let tag = r.tag.unwrap_or("latest");
            if glob::any_matches(&settings.mutable_tags, tag) {
                problems.push(Problem::Drift {
                    tag: r.tag.map(str::to_owned),
                });
            } else if r.tag.is_none() && settings.require_tag {
                problems.push(Problem::NoTag);
            }
        }
        Some(d) => {
            if !settings
                .allowed_digest_algorithms
                .iter()
                .any(|a| a == d.algorithm)
            {
                problems.push(Problem::AlgorithmNotAllowed {
                    algorithm: d.algorithm.to_owned(),
                    allowed: settings.allowed_digest_algorithms.clone(),
                });
            }
            if r.tag.is_none() && settings.require_tag {
                problems.push(Problem::NoTag);
            }
        }
    }
    if !problems.is_empty() {
        ImageVerdict::Violates(problems)
    } else if r.digest.is_none() {
        ImageVerdict::Unpinned
    } else {
        ImageVerdict::Accepted
    }
}

/// A bare mutable tag such as `latest` is not a tag worth suggesting: the user should pick a
/// version, so the fix shows `<tag>`. A mutable tag next to a digest is fine (the digest wins).
pub(crate) fn is_drift_only(verdict: &ImageVerdict) -> bool {
    matches!(verdict, ImageVerdict::Violates(p) if p.iter().any(|p| matches!(p, Problem::Drift { .. })))
}

/// The fix is worded in `report.rs`; the table of expected fixes below stays with the rules.
#[cfg(test)]
use crate::report::fix;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const H64: &str = crate::TEST_H64;

    fn settings(v: serde_json::Value) -> Settings {
        Settings::from_json(Some(&v)).unwrap()
    }

    fn verdict(image: &str, s: &Settings) -> ImageVerdict {
        judge(&ImageField::Str(image.into()), s)
    }

    fn is_invalid(v: &ImageVerdict, why: &str) -> bool {
        matches!(v, ImageVerdict::Invalid(r) if r.contains(why))
    }

    /// Every row of `docs/contract.md` §7.
    #[test]
    fn contract_examples() {
        let d = Settings::default();
        let strict = settings(json!({"requireDigest": true}));
        let no_tag = settings(json!({"requireTag": false}));
        let jangar = format!("registry.ide-newton.ts.net/lab/jangar:5b72ee1e@sha256:{H64}");
        assert_eq!(verdict(&jangar, &d), ImageVerdict::Accepted);
        assert_eq!(verdict(&jangar, &strict), ImageVerdict::Accepted);
        assert_eq!(verdict("nginx:1.27", &d), ImageVerdict::Unpinned);
        assert_eq!(
            verdict("nginx:1.27", &strict),
            ImageVerdict::Violates(vec![Problem::NoDigest])
        );
        assert_eq!(
            verdict("nginx", &d),
            ImageVerdict::Violates(vec![Problem::Drift { tag: None }])
        );
        assert_eq!(
            verdict("nginx:latest", &d),
            ImageVerdict::Violates(vec![Problem::Drift {
                tag: Some("latest".into())
            }])
        );
        assert_eq!(
            verdict("localhost:5000/app", &d),
            ImageVerdict::Violates(vec![Problem::Drift { tag: None }])
        );
        assert_eq!(
            verdict(&format!("nginx:latest@sha256:{H64}"), &d),
            ImageVerdict::Accepted
        );
        assert_eq!(
            verdict(&format!("nginx@sha256:{H64}"), &d),
            ImageVerdict::Violates(vec![Problem::NoTag])
        );
        assert_eq!(
            verdict(&format!("nginx@sha256:{H64}"), &no_tag),
            ImageVerdict::Accepted
        );
        assert!(is_invalid(
            &verdict("nginx:1.27@sha256:abc", &d),
            "must be 64 lowercase hex digits"
        ));
        assert!(is_invalid(
            &verdict(&format!("nginx:1.27@sha256:{}", H64.to_uppercase()), &d),
            "hex must be lowercase"
        ));
        assert!(is_invalid(
            &verdict(&format!("nginx:1.27@md5:{}", "a".repeat(32)), &d),
            "unsupported digest algorithm `md5`"
        ));
        assert!(is_invalid(
            &verdict("Nginx:1.27", &d),
            "repository must be lowercase"
        ));
        assert!(is_invalid(
            &verdict(&format!("nginx:1.27@sha256:{H64}@sha256:{H64}"), &d),
            "more than one digest"
        ));
    }

    #[test]
    fn rules_under_every_setting() {
        let pinned = format!("nginx:1.27@sha256:{H64}");
        let sha512 = format!("nginx:1.27@sha512:{}", "b".repeat(128));
        let cases: Vec<(serde_json::Value, &str, ImageVerdict)> = vec![
            // mutableTags patterns, and [] turning the rule off.
            (
                json!({"mutableTags": ["*-dev"]}),
                "app:team-dev",
                ImageVerdict::Violates(vec![Problem::Drift {
                    tag: Some("team-dev".into()),
                }]),
            ),
            (
                json!({"mutableTags": ["*-dev"]}),
                "app:latest",
                ImageVerdict::Unpinned,
            ),
            (
                json!({"mutableTags": []}),
                "app:latest",
                ImageVerdict::Unpinned,
            ),
            (
                json!({"mutableTags": []}),
                "app",
                ImageVerdict::Violates(vec![Problem::NoTag]),
            ),
            (
                json!({"mutableTags": [], "requireTag": false}),
                "app",
                ImageVerdict::Unpinned,
            ),
            // requireDigest with several problems in one entry.
            (
                json!({"requireDigest": true}),
                "app:latest",
                ImageVerdict::Violates(vec![
                    Problem::NoDigest,
                    Problem::Drift {
                        tag: Some("latest".into()),
                    },
                ]),
            ),
            (
                json!({"requireDigest": true}),
                pinned.as_str(),
                ImageVerdict::Accepted,
            ),
            // allowedDigestAlgorithms.
            (
                json!({"allowedDigestAlgorithms": ["sha256"]}),
                sha512.as_str(),
                ImageVerdict::Violates(vec![Problem::AlgorithmNotAllowed {
                    algorithm: "sha512".into(),
                    allowed: vec!["sha256".into()],
                }]),
            ),
            (
                json!({"allowedDigestAlgorithms": ["sha512"]}),
                sha512.as_str(),
                ImageVerdict::Accepted,
            ),
            // Exemptions skip every rule but validity.
            (
                json!({"exemptImages": ["nginx"], "requireDigest": true}),
                "nginx:latest",
                ImageVerdict::Exempt,
            ),
            (
                json!({"exemptImages": ["nginx:1.27"]}),
                "nginx:latest",
                ImageVerdict::Violates(vec![Problem::Drift {
                    tag: Some("latest".into()),
                }]),
            ),
            (
                json!({"exemptImages": ["registry.example.com/*"]}),
                "registry.example.com.evil.io/x:latest",
                ImageVerdict::Violates(vec![Problem::Drift {
                    tag: Some("latest".into()),
                }]),
            ),
        ];
        for (s, image, want) in cases {
            assert_eq!(
                verdict(image, &settings(s.clone())),
                want,
                "{image} under {s}"
            );
        }
        let exempt_invalid = verdict("Nginx:1", &settings(json!({"exemptImages": ["nginx"]})));
        assert!(
            is_invalid(&exempt_invalid, "lowercase"),
            "validity is checked for exempt images too"
        );
    }

    #[test]
    fn non_string_images_are_invalid() {
        let d = Settings::default();
        assert!(is_invalid(&judge(&ImageField::Missing, &d), "no image"));
        assert!(is_invalid(&judge(&ImageField::Null, &d), "null"));
        assert!(is_invalid(
            &judge(&ImageField::NotString("a number"), &d),
            "must be a string, found a number"
        ));
        assert!(is_invalid(&verdict("", &d), "empty"));
    }

    #[test]
    fn fixes_show_the_pinned_form() {
        let d = Settings::default();
        let cases = [
            ("nginx:latest", "pin it as nginx:<tag>@sha256:<digest>"),
            ("nginx", "pin it as nginx:<tag>@sha256:<digest>"),
            (
                "registry.example.com:5000/team/app:1.2",
                "pin it as registry.example.com:5000/team/app:1.2@sha256:<digest>",
            ),
            (
                "Nginx",
                "write it as [registry/]repository:tag@sha256:<64 lowercase hex digits>",
            ),
        ];
        for (image, want) in cases {
            let v = verdict(image, &d);
            assert_eq!(fix(image, &v), want, "{image}");
        }
        let digest_only = format!("nginx@sha256:{H64}");
        assert_eq!(
            fix(&digest_only, &verdict(&digest_only, &d)),
            format!("add the tag the digest was built from: nginx:<tag>@sha256:{H64}")
        );
    }
}
