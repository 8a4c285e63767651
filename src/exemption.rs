//! Exempt images, matched at reference boundaries (`docs/contract.md` §4).
//!
//! Peers have let `registry.example.com.evil.io/x` through an exemption for
//! `registry.example.com` by comparing raw string prefixes. Here both the entry and the image
//! are normalised first, and a prefix entry always ends in `/`, so a match can only end at a
//! path boundary.

use crate::reference::{self, Reference, ReferenceError};
use std::fmt;

/// Why an `exemptImages` entry is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExemptionError {
    /// A `*` anywhere but a final `/*`.
    MisplacedWildcard,
    /// `/*` alone.
    Everything,
    /// A digest in an entry (a pinned image needs no exemption).
    Digest,
    /// A tag or digest before `/*`.
    PrefixWithTag,
    /// Not a reference at all.
    Invalid(ReferenceError),
}

impl fmt::Display for ExemptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExemptionError::MisplacedWildcard => f.write_str(
                "a `*` is only allowed as a final `/*` (e.g. registry.example.com/team/*)",
            ),
            ExemptionError::Everything => f.write_str(
                "`/*` alone would exempt every image; name a registry or repository prefix",
            ),
            ExemptionError::Digest => {
                f.write_str("an exemption names a repository, optionally with a tag, not a digest")
            }
            ExemptionError::PrefixWithTag => f.write_str(
                "a `/*` prefix names a registry or repository path, without tag or digest",
            ),
            ExemptionError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExemptionError {}

/// One `exemptImages` entry, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    /// `busybox` → `docker.io/library/busybox`: that repository, any tag or digest.
    Repository(String),
    /// `busybox:1.36`: that repository with exactly that tag.
    Tagged {
        /// The normalised repository.
        repository: String,
        /// The tag.
        tag: String,
    },
    /// `registry.example.com/team/*` → every repository below `registry.example.com/team/`.
    Below(String),
}

impl Exemption {
    /// Reads one `exemptImages` entry.
    pub fn parse(entry: &str) -> Result<Exemption, ExemptionError> {
        if let Some(base) = entry.strip_suffix("/*") {
            if base.contains('*') {
                return Err(ExemptionError::MisplacedWildcard);
            }
            return below(base).map(Exemption::Below);
        }
        if entry.contains('*') {
            return Err(ExemptionError::MisplacedWildcard);
        }
        let r = reference::parse(entry).map_err(ExemptionError::Invalid)?;
        if r.digest.is_some() {
            return Err(ExemptionError::Digest);
        }
        let repository = r.normalized_repository();
        Ok(match r.tag {
            Some(tag) => Exemption::Tagged {
                repository,
                tag: tag.to_owned(),
            },
            None => Exemption::Repository(repository),
        })
    }

    /// Whether the entry exempts `image` (whose normalised repository is given).
    pub fn matches(&self, image: &Reference<'_>, normalized_repository: &str) -> bool {
        match self {
            Exemption::Repository(r) => r == normalized_repository,
            Exemption::Tagged { repository, tag } => {
                repository == normalized_repository && image.tag == Some(tag.as_str())
            }
            Exemption::Below(prefix) => normalized_repository.starts_with(prefix.as_str()),
        }
    }
}

/// Normalises the part of a `/*` entry before the wildcard into a prefix ending in `/`.
/// A lone host (`registry.example.com/*`, `localhost:5000/*`) is a registry, not a Docker Hub
/// repository; a bare path (`mycompany/*`) is on Docker Hub, without the `library/` that only
/// single-component names get.
fn below(base: &str) -> Result<String, ExemptionError> {
    if base.is_empty() {
        return Err(ExemptionError::Everything);
    }
    let looks_like_host = reference::is_domain(base);
    let reference = if looks_like_host && !base.contains('/') {
        // Validate the host by giving it a one-component path.
        format!("{base}/x")
    } else {
        base.to_owned()
    };
    let r = reference::parse(&reference).map_err(ExemptionError::Invalid)?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(ExemptionError::PrefixWithTag);
    }
    let domain = reference::normalized_domain(r.domain);
    if looks_like_host && !base.contains('/') {
        Ok(format!("{domain}/"))
    } else {
        Ok(format!("{domain}/{}/", r.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exempt(entry: &str, image: &str) -> bool {
        let e = Exemption::parse(entry).unwrap_or_else(|err| panic!("{entry}: {err}"));
        let r = reference::parse(image).unwrap();
        e.matches(&r, &r.normalized_repository())
    }

    #[test]
    fn entries_match_at_reference_boundaries() {
        let cases = [
            ("busybox", "busybox:1.36", true),
            ("busybox", "docker.io/library/busybox", true),
            ("busybox", "index.docker.io/library/busybox:1", true),
            ("busybox", "busybox2:1", false),
            ("busybox", "myorg/busybox:1", false),
            ("busybox:1.36", "busybox:1.36", true),
            ("busybox:1.36", "busybox:1.37", false),
            ("busybox:1.36", "busybox", false),
            (
                "busybox:1.36",
                &format!("busybox:1.36@sha256:{}", crate::TEST_H64),
                true,
            ),
            (
                "registry.example.com/*",
                "registry.example.com/team/app:1",
                true,
            ),
            (
                "registry.example.com/*",
                "registry.example.com.evil.io/x:1",
                false,
            ),
            (
                "registry.example.com/*",
                "evil.io/registry.example.com/x:1",
                false,
            ),
            (
                "registry.example.com/team/*",
                "registry.example.com/team/app:1",
                true,
            ),
            (
                "registry.example.com/team/*",
                "registry.example.com/team/sub/app:1",
                true,
            ),
            (
                "registry.example.com/team/*",
                "registry.example.com/teamevil/app:1",
                false,
            ),
            (
                "registry.example.com/team/*",
                "registry.example.com/team:1",
                false,
            ),
            (
                "Registry.Example.com/team/*",
                "registry.example.com/team/app",
                true,
            ),
            ("docker.io/mycompany", "docker.io/mycompanyevil:1", false),
            ("docker.io/mycompany", "mycompany:1", true),
            ("docker.io/mycompany", "docker.io/mycompany/app:1", false),
            ("docker.io/mycompany/*", "mycompany/app:1", true),
            ("docker.io/mycompany/*", "mycompanyevil/app:1", false),
            ("mycompany/*", "docker.io/mycompany/app", true),
            ("localhost:5000/*", "localhost:5000/app", true),
            ("localhost:5000/*", "localhost:50000/app", false),
            ("localhost/*", "localhost/app", true),
            ("docker.io/*", "nginx", true),
            ("docker.io/*", "quay.io/nginx", false),
        ];
        for (entry, image, want) in cases {
            assert_eq!(exempt(entry, image), want, "{entry} vs {image}");
        }
    }

    #[test]
    fn invalid_entries_are_refused() {
        let h = crate::TEST_H64;
        for entry in [
            "",
            "/*",
            "*",
            "registry.example.com/*/app",
            "registry.example.com/team*",
            "Busybox",
            "busybox:1.36/*",
            &format!("busybox@sha256:{h}"),
            "bad host.com/*",
        ] {
            assert!(
                Exemption::parse(entry).is_err(),
                "{entry:?} should be refused"
            );
        }
    }
}
