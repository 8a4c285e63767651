//! The kinds of finding, for formats that name a rule per result (SARIF, GitHub annotations).
//! The policy's message says which rule a finding breaks; these are its phrases, checked in
//! order, so a finding that breaks several rules is filed under the most fundamental one.

/// One kind of finding, with the words a CI system shows next to it.
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub level: &'static str,
    pub short: &'static str,
    pub help: &'static str,
    /// Phrases of the policy's message that mean this rule.
    phrases: &'static [&'static str],
}

pub const RULES: &[Rule] = &[
    Rule {
        id: "invalid-ref",
        name: "InvalidReference",
        level: "error",
        short: "The image is not a valid image reference.",
        help: "Write the image as repository:tag@sha256:<64 lowercase hex>: a lowercase repository, a tag of letters, digits, '.', '_' or '-', and one digest.",
        phrases: &[],
    },
    Rule {
        id: "disallowed-algorithm",
        name: "DisallowedDigestAlgorithm",
        level: "error",
        short: "The digest uses an algorithm the settings do not allow.",
        help: "Pin the image with a digest of an allowed algorithm (allowedDigestAlgorithms; sha256 by default).",
        phrases: &["is not allowed here (allowed:"],
    },
    Rule {
        id: "mutable-tag",
        name: "MutableTagWithoutDigest",
        level: "error",
        short: "A mutable tag (such as latest, or no tag at all) without a digest: what runs drifts.",
        help: "Pick a version and pin it: repository:<tag>@sha256:<digest> (image-digest-check pin does it).",
        phrases: &[
            "is mutable and no digest pins it",
            "runs `latest` implicitly",
        ],
    },
    Rule {
        id: "missing-tag",
        name: "MissingTag",
        level: "error",
        short: "A digest without a tag: the contract keeps a readable tag next to the digest.",
        help: "Add the tag the digest was built as: repository:<tag>@sha256:<digest>.",
        phrases: &["a digest but no tag"],
    },
    Rule {
        id: "no-digest",
        name: "NoDigest",
        level: "error",
        short: "No digest, and the settings (or imagePolicy.requireDigest) require one.",
        help: "Pin the image by its digest: repository:tag@sha256:<digest> (image-digest-check pin does it).",
        phrases: &["requireDigest is on"],
    },
    Rule {
        id: "host-lookup",
        name: "DigestLookupFailed",
        level: "error",
        short: "The registry could not be asked for the image's digest.",
        help: "Check that the image exists and the registry is reachable, or pin the digest yourself.",
        phrases: &["the host could not resolve"],
    },
    Rule {
        id: "tag-moved",
        name: "TagMoved",
        level: "error",
        short: "The pinned tag now points at another digest.",
        help: "Re-pin the image to the digest the tag means now, or keep the old digest on purpose.",
        phrases: &["now points to", "could not be verified"],
    },
    Rule {
        id: "unpinned",
        name: "UnpinnedImage",
        level: "warning",
        short: "A tag without a digest: accepted here, rejected where digests are required.",
        help: "Pin the image by its digest: repository:tag@sha256:<digest>.",
        phrases: &["is not pinned by a digest"],
    },
    Rule {
        id: "runner-error",
        name: "NotChecked",
        level: "error",
        short: "The policy could not check this document or input.",
        help: "Fix the input the message names; nothing in it was checked.",
        phrases: &[],
    },
];

/// The rule a finding or warning breaks.
pub fn classify(text: &str, default: &'static str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.phrases.iter().any(|p| text.contains(p)))
        .or_else(|| RULES.iter().find(|r| r.id == default))
        .unwrap_or(&RULES[0])
}

pub fn index_of(rule: &Rule) -> usize {
    RULES.iter().position(|r| r.id == rule.id).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_map_to_rules() {
        let cases = [
            (
                "image \"nginx:latest\": tag `latest` is mutable and no digest pins it (drift)",
                "mutable-tag",
            ),
            (
                "image \"nginx\": no tag and no digest: it runs `latest` implicitly, which drifts",
                "mutable-tag",
            ),
            (
                "image \"nginx:1\": no digest, and requireDigest is on",
                "no-digest",
            ),
            (
                "image \"n@sha256:x\": a digest but no tag: …",
                "missing-tag",
            ),
            (
                "digest algorithm sha512 is not allowed here (allowed: sha256)",
                "disallowed-algorithm",
            ),
            (
                "image \"Nginx:1\": repository must be lowercase",
                "invalid-ref",
            ),
            ("image \"a:1\" is not pinned by a digest", "unpinned"),
            // The policy's own words for a moved tag and a failed lookup (src/evaluate.rs).
            (
                "tag `5b72ee1e` now points to sha256:3a0a…, not to the pinned sha256:96e7…",
                "tag-moved",
            ),
            (
                "image \"nginx:1.27\": no digest, and the host could not resolve one to pin it: registry unreachable",
                "host-lookup",
            ),
        ];
        for (text, id) in cases {
            assert_eq!(classify(text, "invalid-ref").id, id, "{text}");
        }
        assert_eq!(classify("a warning", "unpinned").id, "unpinned");
    }
}
