//! The verdict for one image (`docs/contract.md` §2): which rules it breaks under the settings,
//! each with the words that tell the user what to change.

use crate::glob;
use crate::reference::{self, Part, Reference, ReferenceError};
use crate::request::ImageField;
use crate::settings::Settings;

/// Every kind of finding the policy reports, in one place: the formats that name a rule per
/// result (SARIF, GitHub annotations, JSON `rule`, OpenReports, the web build) read these, and
/// every [`Problem`] names its rule through [`Problem::rule`], an exhaustive match, so a new
/// reason cannot be reported without one. The declaration order is the priority: a finding
/// that breaks several rules is filed under the earliest (the most fundamental).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Not a valid image reference (or not a string at all).
    InvalidRef,
    /// The digest's algorithm is not allowed by the settings.
    DisallowedAlgorithm,
    /// A mutable tag (or none, which means `latest`) without a digest.
    MutableTag,
    /// A digest without a tag.
    MissingTag,
    /// No digest where one is required.
    NoDigest,
    /// The host could not resolve a digest.
    HostLookup,
    /// The pinned tag now points elsewhere.
    TagMoved,
    /// The pinned tag could not be checked (the registry did not answer): the tag did not
    /// move as far as anyone knows, but nothing verified it.
    TagUnverified,
    /// A tag without a digest, accepted with a warning.
    Unpinned,
    /// An image under an `exemptPaths` entry (a field whose schema cannot hold a digest):
    /// judged for validity only, accepted, and always said, with the entry's reason.
    ExemptPath,
}

/// How a finding is shown: an error blocks, a warning is shown and lets through, a note
/// informs (SARIF's and GitHub's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Blocks (rejected, or exit non-zero).
    Error,
    /// Shown; lets through.
    Warning,
    /// Information (a digest listed, a pin suggested).
    Note,
}

impl Level {
    /// `error`, `warning`, `note`: SARIF's words, and GitHub's but `note` (`notice`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// What a CI system shows next to a finding of one [`Rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// The stable id (`mutable-tag`), in every machine-readable output.
    pub id: &'static str,
    /// SARIF's rule name (`MutableTagWithoutDigest`).
    pub name: &'static str,
    /// How a finding of this rule is shown when it blocks.
    pub level: Level,
    /// One sentence: what is wrong.
    pub short: &'static str,
    /// What to do about it.
    pub help: &'static str,
}

impl Rule {
    /// Every rule, in priority order.
    pub const ALL: [Rule; 10] = [
        Rule::InvalidRef,
        Rule::DisallowedAlgorithm,
        Rule::MutableTag,
        Rule::MissingTag,
        Rule::NoDigest,
        Rule::HostLookup,
        Rule::TagMoved,
        Rule::TagUnverified,
        Rule::Unpinned,
        Rule::ExemptPath,
    ];

    /// The rule's id (`tag-moved`): a match of its own, so the policy module (whose `report`
    /// names rules by id) carries the ids and not the help texts of [`Rule::info`].
    pub fn id(self) -> &'static str {
        match self {
            Rule::InvalidRef => "invalid-ref",
            Rule::DisallowedAlgorithm => "disallowed-algorithm",
            Rule::MutableTag => "mutable-tag",
            Rule::MissingTag => "missing-tag",
            Rule::NoDigest => "no-digest",
            Rule::HostLookup => "host-lookup",
            Rule::TagMoved => "tag-moved",
            Rule::TagUnverified => "tag-unverified",
            Rule::Unpinned => "unpinned",
            Rule::ExemptPath => "exempt-path",
        }
    }

    /// The rule of an id, as a module's `report` names it; `None` for an id this release
    /// does not know.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The rule's words for reports.
    pub fn info(self) -> RuleInfo {
        let (name, level, short, help) = match self {
            Rule::InvalidRef => (
                "InvalidReference",
                Level::Error,
                "The image is not a valid image reference.",
                "Write the image as repository:tag@sha256:<64 lowercase hex>: a lowercase repository, a tag of letters, digits, '.', '_' or '-', and one digest.",
            ),
            Rule::DisallowedAlgorithm => (
                "DisallowedDigestAlgorithm",
                Level::Error,
                "The digest uses an algorithm the settings do not allow.",
                "Pin the image with a digest of an allowed algorithm (allowedDigestAlgorithms; sha256 by default).",
            ),
            Rule::MutableTag => (
                "MutableTagWithoutDigest",
                Level::Error,
                "A mutable tag (such as latest, or no tag at all) without a digest: what runs drifts.",
                "Pick a version and pin it: repository:<tag>@sha256:<digest> (image-digest-check pin does it).",
            ),
            Rule::MissingTag => (
                "MissingTag",
                Level::Error,
                "A digest without a tag: the contract keeps a readable tag next to the digest.",
                "Add the tag the digest was built as: repository:<tag>@sha256:<digest>.",
            ),
            Rule::NoDigest => (
                "NoDigest",
                Level::Error,
                "No digest, and the settings (or imagePolicy.requireDigest) require one.",
                "Pin the image by its digest: repository:tag@sha256:<digest> (image-digest-check pin does it).",
            ),
            Rule::HostLookup => (
                "DigestLookupFailed",
                Level::Error,
                "The registry could not be asked for the image's digest.",
                "Check that the image exists and the registry is reachable, or pin the digest yourself.",
            ),
            Rule::TagMoved => (
                "TagMoved",
                Level::Error,
                "The pinned tag now points at another digest.",
                "Re-pin the image to the digest the tag means now, or keep the old digest on purpose.",
            ),
            Rule::TagUnverified => (
                "TagUnverified",
                Level::Error,
                "The pinned tag could not be checked against its digest: the registry did not answer.",
                "Check that the registry is reachable from the policy server (or the replayed session holds the lookup), then evaluate again.",
            ),
            Rule::Unpinned => (
                "UnpinnedImage",
                Level::Warning,
                "A tag without a digest: accepted here, rejected where digests are required.",
                "Pin the image by its digest: repository:tag@sha256:<digest>.",
            ),
            Rule::ExemptPath => (
                "ExemptPath",
                Level::Warning,
                "The image is in a field an exemptPaths entry exempts: only its validity was checked.",
                "Pin the image where its schema allows a digest, then remove the exemptPaths entry.",
            ),
        };
        RuleInfo {
            id: self.id(),
            name,
            level,
            short,
            help,
        }
    }
}

/// Every reason the policy gives about one image: the judgement of the reference
/// ([`judge`]) and of the host's answers (`pinDigests`, `verifyTagDigest`). Its `Display` is
/// the text of the reject message and the warnings; [`Problem::rule`] files it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The container (or volume) has no image at all.
    NoImage,
    /// The image is `null`.
    NullImage,
    /// The image is another JSON type (`a number`, `a boolean`…).
    NotAString(&'static str),
    /// The image is not a valid reference.
    Invalid(ReferenceError),
    /// `requireDigest` is on and there is no digest.
    NoDigest,
    /// A mutable tag (`latest`, or no tag at all, which means `latest`) and no digest.
    Drift {
        /// The tag as written; `None` when there is none.
        tag: Option<String>,
    },
    /// `requireTag` is on and the pinned image has no readable tag.
    NoTag,
    /// The digest's algorithm is not in `allowedDigestAlgorithms`.
    AlgorithmNotAllowed {
        /// The digest's algorithm.
        algorithm: String,
        /// The settings' list.
        allowed: Vec<String>,
    },
    /// `pinDigests` under `requireDigest`: the host could not resolve the digest to pin.
    LookupFailed {
        /// The host's reason, quoted on one line.
        reason: String,
    },
    /// `pinDigests` without `requireDigest`: the image stays unpinned (a warning).
    NotPinned {
        /// The host's reason, quoted on one line.
        reason: String,
    },
    /// `verifyTagDigest`: the tag resolves to another digest now.
    TagMoved {
        /// The tag as written.
        tag: String,
        /// What the tag resolves to now.
        current: String,
        /// The digest written next to it.
        pinned: String,
    },
    /// `verifyTagDigest`: the host could not say what the tag points to.
    TagUnverified {
        /// The tag as written.
        tag: String,
        /// The digest written next to it.
        pinned: String,
        /// The host's reason, quoted on one line.
        reason: String,
    },
    /// A tag and no digest, accepted under the settings (a warning while `warnUnpinned`).
    Unpinned,
    /// An operator's image field is not set: the operator runs its default image, a tag
    /// without a digest, and `requireDigest` is on.
    OperatorDefault,
    /// Accepted without a digest by an `exemptPaths` entry.
    ExemptPath {
        /// The entry's reason.
        reason: String,
    },
}

impl Problem {
    /// The rule this reason breaks.
    pub fn rule(&self) -> Rule {
        match self {
            Problem::NoImage
            | Problem::NullImage
            | Problem::NotAString(_)
            | Problem::Invalid(_) => Rule::InvalidRef,
            Problem::NoDigest | Problem::OperatorDefault => Rule::NoDigest,
            Problem::Drift { .. } => Rule::MutableTag,
            Problem::NoTag => Rule::MissingTag,
            Problem::AlgorithmNotAllowed { .. } => Rule::DisallowedAlgorithm,
            Problem::LookupFailed { .. } | Problem::NotPinned { .. } => Rule::HostLookup,
            Problem::TagMoved { .. } => Rule::TagMoved,
            Problem::TagUnverified { .. } => Rule::TagUnverified,
            Problem::Unpinned => Rule::Unpinned,
            Problem::ExemptPath { .. } => Rule::ExemptPath,
        }
    }

    /// The part of the reference a user changes to fix it, for tools that point at a key
    /// (Helm values: `image.tag`, `image.digest`, `image.repository`).
    pub fn part(&self) -> Part {
        match self {
            Problem::NoTag => Part::Tag,
            Problem::Invalid(e) => e.part(),
            Problem::NoImage | Problem::NullImage | Problem::NotAString(_) => Part::Repository,
            _ => Part::Digest,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NoImage => f.write_str("the container has no image"),
            Problem::NullImage => f.write_str("the image is null"),
            Problem::NotAString(t) => write!(f, "the image must be a string, found {t}"),
            Problem::Invalid(e) => write!(f, "not a valid image reference: {e}"),
            Problem::NoDigest => f.write_str("no digest, and requireDigest is on"),
            Problem::OperatorDefault => f.write_str(
                "not set: the operator runs its own default image here, a tag without a digest, and requireDigest is on",
            ),
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
            Problem::LookupFailed { reason } => write!(
                f,
                "no digest, and the host could not resolve one to pin it: {reason}"
            ),
            Problem::NotPinned { reason } => write!(
                f,
                "was not pinned: the host could not resolve its digest: {reason}"
            ),
            Problem::TagMoved {
                tag,
                current,
                pinned,
            } => write!(
                f,
                "tag `{tag}` now points to {current}, not to the pinned {pinned}: the digest decides what runs, so the tag no longer describes it"
            ),
            Problem::TagUnverified {
                tag,
                pinned,
                reason,
            } => write!(
                f,
                "tag `{tag}` could not be verified against the pinned {pinned}: {reason}"
            ),
            Problem::Unpinned => f.write_str("is not pinned by a digest"),
            Problem::ExemptPath { reason } => {
                write!(f, "is not pinned, accepted by exemptPaths: {reason}")
            }
        }
    }
}

/// The outcome for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVerdict {
    /// Not a valid reference, or not a string at all: always rejected.
    Invalid(Problem),
    /// Matched an `exemptImages` entry: only validity was checked.
    Exempt,
    /// Valid, but breaks these rules.
    Violates(Vec<Problem>),
    /// Accepted with a tag and no digest: worth a warning while `warnUnpinned` is on.
    Unpinned,
    /// Accepted: pinned by an allowed digest (or unpinned under settings that allow it).
    Accepted,
}

impl ImageVerdict {
    /// The reasons the image is rejected: none unless it is invalid or violates a rule.
    pub fn into_problems(self) -> Vec<Problem> {
        match self {
            ImageVerdict::Invalid(problem) => vec![problem],
            ImageVerdict::Violates(problems) => problems,
            ImageVerdict::Exempt | ImageVerdict::Unpinned | ImageVerdict::Accepted => Vec::new(),
        }
    }
}

/// Judges one container's `image` field.
pub fn judge(image: &ImageField<'_>, settings: &Settings) -> ImageVerdict {
    let text = match image {
        ImageField::Str(s) => s.as_ref(),
        ImageField::Missing => return ImageVerdict::Invalid(Problem::NoImage),
        ImageField::Null => return ImageVerdict::Invalid(Problem::NullImage),
        ImageField::NotString(t) => return ImageVerdict::Invalid(Problem::NotAString(t)),
    };
    match reference::parse(text) {
        Err(e) => ImageVerdict::Invalid(Problem::Invalid(e)),
        Ok(r) => judge_reference(&r, settings),
    }
}

/// Judges a parsed reference: exemptions first, then every rule the settings turn on.
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
        matches!(v, ImageVerdict::Invalid(r) if r.to_string().contains(why))
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
    fn a_ko_placeholder_is_named_as_one_with_the_fix_that_builds_it() {
        // Knative's own config: `image: ko://knative.dev/serving/cmd/controller`.
        let d = Settings::default();
        let v = verdict("ko://knative.dev/serving/cmd/controller", &d);
        assert!(
            is_invalid(&v, "`ko://` makes it a placeholder (ko, Skaffold)"),
            "{v:?}"
        );
        assert!(!is_invalid(&v, "registry port"), "{v:?}");
        let v = verdict("docker://nginx:1.27", &d);
        assert!(is_invalid(&v, "`docker://` makes it"), "{v:?}");
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
}
