//! A hand-written parser for the distribution reference grammar (`docs/contract.md` §1).
//!
//! Kubewarden's policy-server makes a fresh wasm instance for every admission request, so
//! anything built at first use (the regex behind `oci-spec`'s `Reference`) is paid on every
//! request. This parser is a single pass over borrowed bytes: no allocation, no tables, and a
//! specific reason for every way a reference can be wrong, so the user is told what to fix.

use std::fmt;

/// The longest name (domain and path together) the grammar allows.
pub const NAME_MAX_LEN: usize = 255;
/// The longest tag the grammar allows.
pub const TAG_MAX_LEN: usize = 128;

/// The registered digest algorithms and the number of hex digits each must have.
pub const DIGEST_ALGORITHMS: [(&str, usize); 2] = [("sha256", 64), ("sha512", 128)];

/// A digest as written: `algorithm:hex`, already checked against the registered algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest<'a> {
    /// `sha256` or `sha512`.
    pub algorithm: &'a str,
    /// The lowercase hex.
    pub hex: &'a str,
}

impl fmt::Display for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

/// A valid image reference, borrowing from the string it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The registry as written (`registry.example.com:5000`), when the reference names one.
    pub domain: Option<&'a str>,
    /// The repository path as written (`library/nginx`).
    pub path: &'a str,
    /// The tag, when there is one.
    pub tag: Option<&'a str>,
    /// The digest, when there is one.
    pub digest: Option<Digest<'a>>,
}

/// Why a string is not a valid image reference. Each variant renders as a sentence that
/// says what is wrong in terms the user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// The image is empty.
    Empty,
    /// `scheme://…`: a build-time placeholder (`ko://`) or a transport prefix (`docker://`).
    Scheme(String),
    /// It contains whitespace.
    Whitespace {
        /// The byte offset.
        at: usize,
    },
    /// It contains a control character.
    Control {
        /// The byte offset.
        at: usize,
    },
    /// It contains a non-ASCII character.
    NonAscii {
        /// The byte offset.
        at: usize,
    },
    /// More than one `@`.
    MultipleDigests,
    /// Nothing after `@`.
    EmptyDigest,
    /// A digest without `algorithm:`.
    DigestWithoutAlgorithm,
    /// A digest algorithm other than sha256 and sha512.
    UnsupportedDigestAlgorithm(String),
    /// A digest of the wrong length.
    DigestLength {
        /// The algorithm.
        algorithm: &'static str,
        /// Its length in hex digits.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A digest in uppercase hex.
    DigestUppercase {
        /// The algorithm.
        algorithm: &'static str,
    },
    /// A digest that is not hex.
    DigestNotHex {
        /// The algorithm.
        algorithm: &'static str,
    },
    /// Nothing after `:`.
    EmptyTag,
    /// A tag longer than 128 characters (its length).
    TagTooLong(usize),
    /// A tag that starts with `.` or `-`.
    TagFirstChar(char),
    /// A character tags cannot hold.
    TagChar(char),
    /// No repository name.
    EmptyName,
    /// A name longer than 255 characters (its length).
    NameTooLong(usize),
    /// An empty label in the registry host.
    EmptyDomainLabel,
    /// A character host names cannot hold.
    DomainChar(char),
    /// A host label that starts or ends with `-`.
    DomainHyphen,
    /// An IPv6 registry host (refused).
    Ipv6Domain,
    /// Nothing after the registry's `:`.
    EmptyPort,
    /// A registry port that is not a number.
    PortNotNumeric,
    /// An empty path component (`a//b`).
    EmptyPathComponent,
    /// An uppercase letter in the repository.
    PathUppercase,
    /// A character repositories cannot hold.
    PathChar(char),
    /// A separator (`.`, `_`, `-`) where a letter or digit must be.
    PathSeparator,
}

/// A part of an image reference: what a tool points at when it names the key to change
/// (Helm values: `image.repository`, `image.tag`, `image.digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Registry and repository.
    Repository,
    /// The tag.
    Tag,
    /// The digest.
    Digest,
}

impl Part {
    /// `repository`, `tag`, `digest`: how the `report` function names it.
    pub fn name(self) -> &'static str {
        match self {
            Part::Repository => "repository",
            Part::Tag => "tag",
            Part::Digest => "digest",
        }
    }

    /// The part of a name; `None` for one this release does not know.
    pub fn from_name(name: &str) -> Option<Part> {
        [Part::Repository, Part::Tag, Part::Digest]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

impl ReferenceError {
    /// The part of the reference the error is in: what a user edits to fix it.
    pub fn part(&self) -> Part {
        use ReferenceError::*;
        match self {
            MultipleDigests
            | EmptyDigest
            | DigestWithoutAlgorithm
            | UnsupportedDigestAlgorithm(_)
            | DigestLength { .. }
            | DigestUppercase { .. }
            | DigestNotHex { .. } => Part::Digest,
            EmptyTag | TagTooLong(_) | TagFirstChar(_) | TagChar(_) => Part::Tag,
            Empty
            | Scheme(_)
            | Whitespace { .. }
            | Control { .. }
            | NonAscii { .. }
            | EmptyName
            | NameTooLong(_)
            | EmptyDomainLabel
            | DomainChar(_)
            | DomainHyphen
            | Ipv6Domain
            | EmptyPort
            | PortNotNumeric
            | EmptyPathComponent
            | PathUppercase
            | PathChar(_)
            | PathSeparator => Part::Repository,
        }
    }
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ReferenceError::*;
        match self {
            Empty => f.write_str("the image is empty"),
            Scheme(s) => write!(
                f,
                "`{s}://` makes it a placeholder (ko, Skaffold) or a transport prefix, not an image"
            ),
            Whitespace { at } => write!(f, "it contains whitespace (at byte {at})"),
            Control { at } => write!(f, "it contains a control character (at byte {at})"),
            NonAscii { at } => write!(
                f,
                "it contains a non-ASCII character (at byte {at}); references are plain ASCII"
            ),
            MultipleDigests => f.write_str("it has more than one digest (more than one `@`)"),
            EmptyDigest => f.write_str("the digest after `@` is empty"),
            DigestWithoutAlgorithm => {
                f.write_str("the digest must read algorithm:hex, e.g. sha256:<64 hex digits>")
            }
            UnsupportedDigestAlgorithm(a) => write!(
                f,
                "unsupported digest algorithm `{a}` (registered: sha256, sha512)"
            ),
            DigestLength { algorithm, expected, found } => write!(
                f,
                "the {algorithm} digest must be {expected} lowercase hex digits, found {found}"
            ),
            DigestUppercase { algorithm } => {
                write!(f, "the {algorithm} digest hex must be lowercase")
            }
            DigestNotHex { algorithm } => write!(
                f,
                "the {algorithm} digest must be lowercase hex digits (0-9, a-f) only"
            ),
            EmptyTag => f.write_str("the tag after `:` is empty"),
            TagTooLong(n) => write!(f, "the tag is {n} characters long; at most {TAG_MAX_LEN}"),
            TagFirstChar(c) => write!(
                f,
                "the tag may not start with `{c}` (first character: letter, digit or `_`)"
            ),
            TagChar(c) => write!(
                f,
                "the tag contains `{c}` (allowed: letters, digits, `_`, `.`, `-`)"
            ),
            EmptyName => f.write_str("the repository name is empty"),
            NameTooLong(n) => write!(
                f,
                "the repository name is {n} characters long; at most {NAME_MAX_LEN}"
            ),
            EmptyDomainLabel => f.write_str("the registry host has an empty label"),
            DomainChar(c) => write!(
                f,
                "the registry host contains `{c}` (allowed: letters, digits, `-`, `.`)"
            ),
            DomainHyphen => {
                f.write_str("a registry host label may not start or end with `-`")
            }
            Ipv6Domain => f.write_str(
                "IPv6 registry addresses are not supported by this policy; use a host name",
            ),
            EmptyPort => f.write_str("the registry port after `:` is empty"),
            PortNotNumeric => f.write_str("the registry port must be digits"),
            EmptyPathComponent => f.write_str("the repository path has an empty component"),
            PathUppercase => f.write_str("the repository must be lowercase"),
            PathChar(c) => write!(
                f,
                "the repository contains `{c}` (allowed: lowercase letters, digits, separators `.`, `_`, `__`, `-`)"
            ),
            PathSeparator => f.write_str(
                "a repository path component must start and end with a letter or digit, with single `.`, `_`, `__` or dashes between",
            ),
        }
    }
}

impl std::error::Error for ReferenceError {}

/// Parses `image` against the distribution reference grammar.
pub fn parse(image: &str) -> Result<Reference<'_>, ReferenceError> {
    parse_reference(image).map_err(|e| match scheme(image) {
        Some(s) => ReferenceError::Scheme(s.to_owned()),
        None => e,
    })
}

/// `ko` of `ko://importpath` (Knative, ko), `docker` of `docker://…` (a transport): not a
/// reference at all, and the grammar would only say "the registry port after ':' is empty".
/// Asked only of an image that failed to parse (`//` is never valid in a reference), so a
/// valid image pays nothing for it.
fn scheme(image: &str) -> Option<&str> {
    let (scheme, _) = image.split_once("://")?;
    (!scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(scheme)
}

fn parse_reference(image: &str) -> Result<Reference<'_>, ReferenceError> {
    if image.is_empty() {
        return Err(ReferenceError::Empty);
    }
    check_characters(image)?;

    let (name_and_tag, digest) = match image.split_once('@') {
        None => (image, None),
        Some((_, rest)) if rest.contains('@') => return Err(ReferenceError::MultipleDigests),
        Some((before, digest)) => (before, Some(parse_digest(digest)?)),
    };

    // A `:` after the last `/` starts the tag; one before it belongs to a registry port.
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].find(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name_and_tag[..at], Some(&name_and_tag[at + 1..]))
        }
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    let (domain, path) = split_name(name)?;
    Ok(Reference {
        domain,
        path,
        tag,
        digest,
    })
}

/// Whether a name's first `/`-component is a registry domain rather than part of the path:
/// it holds a `.` or a `:`, or is `localhost` (so `localhost:5000/app` has a port).
pub fn is_domain(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// A registry domain as matching compares it: lowercased (host names are case-insensitive),
/// `index.docker.io` as `docker.io`, and no domain at all as `docker.io`.
pub fn normalized_domain(domain: Option<&str>) -> String {
    match domain.map(str::to_ascii_lowercase) {
        None => "docker.io".to_owned(),
        Some(d) if d == "index.docker.io" => "docker.io".to_owned(),
        Some(d) => d,
    }
}

/// Parses a name that may carry a tag but no digest: the form exemption entries take.
pub fn split_name(name: &str) -> Result<(Option<&str>, &str), ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::EmptyName);
    }
    if name.len() > NAME_MAX_LEN {
        return Err(ReferenceError::NameTooLong(name.len()));
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if is_domain(first) => {
            check_domain(first)?;
            (Some(first), rest)
        }
        _ => (None, name),
    };
    check_path(path)?;
    Ok((domain, path))
}

fn check_characters(image: &str) -> Result<(), ReferenceError> {
    for (at, c) in image.char_indices() {
        if !c.is_ascii() {
            return Err(ReferenceError::NonAscii { at });
        }
        if c.is_ascii_whitespace() {
            return Err(ReferenceError::Whitespace { at });
        }
        if c.is_ascii_control() {
            return Err(ReferenceError::Control { at });
        }
    }
    Ok(())
}

/// Parses a digest alone (`sha256:<64 hex>`): every digest taken from outside (a registry's
/// `Docker-Content-Digest`, a pod's `imageID`) is checked with this before it is trusted.
pub fn parse_digest(digest: &str) -> Result<Digest<'_>, ReferenceError> {
    if digest.is_empty() {
        return Err(ReferenceError::EmptyDigest);
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(ReferenceError::DigestWithoutAlgorithm);
    };
    let Some(&(registered, expected)) = DIGEST_ALGORITHMS.iter().find(|(a, _)| *a == algorithm)
    else {
        if algorithm.is_empty() {
            return Err(ReferenceError::DigestWithoutAlgorithm);
        }
        return Err(ReferenceError::UnsupportedDigestAlgorithm(
            truncate(algorithm, 32).to_owned(),
        ));
    };
    if hex.bytes().any(|b| !b.is_ascii_hexdigit()) {
        return Err(ReferenceError::DigestNotHex {
            algorithm: registered,
        });
    }
    if hex.len() != expected {
        return Err(ReferenceError::DigestLength {
            algorithm: registered,
            expected,
            found: hex.len(),
        });
    }
    if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::DigestUppercase {
            algorithm: registered,
        });
    }
    Ok(Digest { algorithm, hex })
}

fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    let mut chars = tag.chars();
    let Some(first) = chars.next() else {
        return Err(ReferenceError::EmptyTag);
    };
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Err(ReferenceError::TagFirstChar(first));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(ReferenceError::TagChar(c));
    }
    if tag.len() > TAG_MAX_LEN {
        return Err(ReferenceError::TagTooLong(tag.len()));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), ReferenceError> {
    if domain.starts_with('[') {
        return Err(ReferenceError::Ipv6Domain);
    }
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    for label in host.split('.') {
        if label.is_empty() {
            return Err(ReferenceError::EmptyDomainLabel);
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(ReferenceError::DomainChar(c));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(ReferenceError::DomainHyphen);
        }
    }
    match port {
        Some("") => Err(ReferenceError::EmptyPort),
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => Err(ReferenceError::PortNotNumeric),
        _ => Ok(()),
    }
}

/// path-component := [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
fn check_path(path: &str) -> Result<(), ReferenceError> {
    for component in path.split('/') {
        if component.is_empty() {
            return Err(ReferenceError::EmptyPathComponent);
        }
        let bytes = component.as_bytes();
        let mut i = 0;
        let mut expect_alnum = true;
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                expect_alnum = false;
                i += 1;
                continue;
            }
            if b.is_ascii_uppercase() {
                return Err(ReferenceError::PathUppercase);
            }
            if expect_alnum {
                return match b {
                    b'.' | b'_' | b'-' => Err(ReferenceError::PathSeparator),
                    _ => Err(ReferenceError::PathChar(char::from(b))),
                };
            }
            let run = bytes
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|&&x| x == b)
                .count();
            let ok = match b {
                b'.' => run == 1,
                b'_' => run <= 2,
                b'-' => true,
                _ => return Err(ReferenceError::PathChar(char::from(b))),
            };
            if !ok {
                return Err(ReferenceError::PathSeparator);
            }
            i += run;
            expect_alnum = true;
        }
        if expect_alnum {
            return Err(ReferenceError::PathSeparator);
        }
    }
    Ok(())
}

/// Cuts `s` to at most `max` bytes on a character boundary, so that messages about
/// megabyte-long inputs stay readable.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Reference<'_> {
    /// The repository as written, `[domain/]path`: what a registry is asked for, and what a
    /// fix names.
    pub fn name(&self) -> String {
        match self.domain {
            Some(d) => format!("{d}/{}", self.path),
            None => self.path.to_owned(),
        }
    }

    /// The repository in normalised form (`docker.io/library/nginx`), used to match
    /// exemptions and shown next to the image as written. Registry host names are
    /// case-insensitive, so the domain is lowercased; the path already is.
    pub fn normalized_repository(&self) -> String {
        let domain = normalized_domain(self.domain);
        if domain == "docker.io" && !self.path.contains('/') {
            format!("docker.io/library/{}", self.path)
        } else {
            format!("{domain}/{}", self.path)
        }
    }

    /// The full normalised reference, with the tag (or the implicit `latest` when neither a
    /// tag nor a digest is written) and the digest.
    pub fn normalized(&self) -> String {
        let mut out = self.normalized_repository();
        match (self.tag, self.digest) {
            (Some(tag), _) => {
                out.push(':');
                out.push_str(tag);
            }
            (None, None) => out.push_str(":latest"),
            (None, Some(_)) => {}
        }
        if let Some(d) = self.digest {
            out.push('@');
            out.push_str(d.algorithm);
            out.push(':');
            out.push_str(d.hex);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H64: &str = crate::TEST_H64;

    fn h(n: usize) -> String {
        "a".repeat(n)
    }

    #[test]
    fn valid_references_split_into_parts() {
        let d = Some(Digest {
            algorithm: "sha256",
            hex: H64,
        });
        let t128 = "t".repeat(128);
        type Case<'a> = (
            String,
            Option<&'a str>,
            &'a str,
            Option<&'a str>,
            Option<Digest<'a>>,
        );
        let cases: Vec<Case> = vec![
            ("nginx".into(), None, "nginx", None, None),
            ("nginx:1.27".into(), None, "nginx", Some("1.27"), None),
            (
                format!("nginx:latest@sha256:{H64}"),
                None,
                "nginx",
                Some("latest"),
                d,
            ),
            (format!("nginx@sha256:{H64}"), None, "nginx", None, d),
            (
                "library/nginx:1".into(),
                None,
                "library/nginx",
                Some("1"),
                None,
            ),
            (
                "localhost:5000/app".into(),
                Some("localhost:5000"),
                "app",
                None,
                None,
            ),
            (
                "localhost/app:v1".into(),
                Some("localhost"),
                "app",
                Some("v1"),
                None,
            ),
            (
                "localhost:5000".into(),
                None,
                "localhost",
                Some("5000"),
                None,
            ),
            (
                format!("registry.ide-newton.ts.net/lab/jangar:5b72ee1e@sha256:{H64}"),
                Some("registry.ide-newton.ts.net"),
                "lab/jangar",
                Some("5b72ee1e"),
                d,
            ),
            (
                "Registry.Example.COM/a/b".into(),
                Some("Registry.Example.COM"),
                "a/b",
                None,
                None,
            ),
            (
                "my-host:443/a_b/c__d/e-f/g---h/i.j:_tag".into(),
                Some("my-host:443"),
                "a_b/c__d/e-f/g---h/i.j",
                Some("_tag"),
                None,
            ),
            (
                format!("app:{t128}"),
                None,
                "app",
                Some(t128.as_str()),
                None,
            ),
        ];
        for (image, domain, path, tag, digest) in cases {
            let r = parse(&image).unwrap_or_else(|e| panic!("{image}: {e}"));
            assert_eq!(r.domain, domain, "{image}");
            assert_eq!(r.path, path, "{image}");
            assert_eq!(r.tag, tag, "{image}");
            assert_eq!(r.digest, digest, "{image}");
        }
        let sha512 = format!("app:1@sha512:{}", h(128));
        assert_eq!(
            parse(&sha512).map(|r| r.digest.map(|d| d.algorithm)),
            Ok(Some("sha512"))
        );
    }

    #[test]
    fn invalid_references_say_why() {
        use ReferenceError::*;
        let up = H64.to_uppercase();
        let long_name = format!("a/{}", "b".repeat(254));
        let max_name = format!("a/{}", "b".repeat(253));
        assert!(
            parse(&max_name).is_ok(),
            "255 characters is the limit, inclusive"
        );
        let cases: Vec<(String, ReferenceError)> = vec![
            ("".into(), Empty),
            ("nginx :1".into(), Whitespace { at: 5 }),
            ("nginx:1\t".into(), Whitespace { at: 7 }),
            ("nginx:1\u{7f}".into(), Control { at: 7 }),
            ("nginx\u{0}".into(), Control { at: 5 }),
            ("ngіnx:1".into(), NonAscii { at: 2 }),
            (
                format!("nginx:1.27@sha256:{H64}@sha256:{H64}"),
                MultipleDigests,
            ),
            ("nginx:1.27@".into(), EmptyDigest),
            ("nginx:1.27@sha256".into(), DigestWithoutAlgorithm),
            ("nginx:1.27@:abc".into(), DigestWithoutAlgorithm),
            (
                "nginx:1.27@sha256:abc".into(),
                DigestLength {
                    algorithm: "sha256",
                    expected: 64,
                    found: 3,
                },
            ),
            (
                format!("nginx:1.27@sha256:{H64}0"),
                DigestLength {
                    algorithm: "sha256",
                    expected: 64,
                    found: 65,
                },
            ),
            (
                format!("nginx:1.27@sha512:{H64}"),
                DigestLength {
                    algorithm: "sha512",
                    expected: 128,
                    found: 64,
                },
            ),
            (
                format!("nginx:1.27@sha256:{up}"),
                DigestUppercase {
                    algorithm: "sha256",
                },
            ),
            (
                format!("nginx:1.27@sha256:{}g", &H64[1..]),
                DigestNotHex {
                    algorithm: "sha256",
                },
            ),
            (
                format!("nginx:1.27@md5:{}", h(32)),
                UnsupportedDigestAlgorithm("md5".into()),
            ),
            (
                format!("nginx:1.27@SHA256:{H64}"),
                UnsupportedDigestAlgorithm("SHA256".into()),
            ),
            ("nginx:".into(), EmptyTag),
            (format!("nginx:@sha256:{H64}"), EmptyTag),
            (format!("app:{}", "t".repeat(129)), TagTooLong(129)),
            ("app:.1".into(), TagFirstChar('.')),
            ("app:-1".into(), TagFirstChar('-')),
            ("app:1+2".into(), TagChar('+')),
            ("app:1:2".into(), TagChar(':')),
            (":1".into(), EmptyName),
            (format!("@sha256:{H64}"), EmptyName),
            (long_name, NameTooLong(256)),
            ("Nginx:1.27".into(), PathUppercase),
            ("example.com/Team/app".into(), PathUppercase),
            ("a..b".into(), PathSeparator),
            ("a___b".into(), PathSeparator),
            ("-a".into(), PathSeparator),
            ("a-".into(), PathSeparator),
            ("a/.b".into(), PathSeparator),
            ("a//b".into(), EmptyPathComponent),
            ("a/".into(), EmptyPathComponent),
            ("example.com/".into(), EmptyPathComponent),
            ("a+b".into(), PathChar('+')),
            ("example..com/a".into(), EmptyDomainLabel),
            (".example.com/a".into(), EmptyDomainLabel),
            ("exa_mple.com/a".into(), DomainChar('_')),
            ("-example.com/a".into(), DomainHyphen),
            ("localhost:/a".into(), EmptyPort),
            ("localhost:ab/a".into(), PortNotNumeric),
            ("localhost:1:2/a".into(), PortNotNumeric),
            ("[::1]:5000/a".into(), Ipv6Domain),
        ];
        for (image, want) in cases {
            assert_eq!(parse(&image), Err(want), "{image:?}");
        }
    }

    #[test]
    fn normalisation_follows_docker_hub_rules() {
        let cases = [
            (
                "nginx",
                "docker.io/library/nginx",
                "docker.io/library/nginx:latest",
            ),
            (
                "nginx:1.27",
                "docker.io/library/nginx",
                "docker.io/library/nginx:1.27",
            ),
            (
                "library/nginx",
                "docker.io/library/nginx",
                "docker.io/library/nginx:latest",
            ),
            (
                "docker.io/nginx",
                "docker.io/library/nginx",
                "docker.io/library/nginx:latest",
            ),
            (
                "index.docker.io/nginx:1",
                "docker.io/library/nginx",
                "docker.io/library/nginx:1",
            ),
            (
                "mycompany/app:1",
                "docker.io/mycompany/app",
                "docker.io/mycompany/app:1",
            ),
            ("Quay.IO/a/b:1", "quay.io/a/b", "quay.io/a/b:1"),
            (
                "localhost:5000/app",
                "localhost:5000/app",
                "localhost:5000/app:latest",
            ),
        ];
        for (image, repo, full) in cases {
            let r = parse(image).unwrap();
            assert_eq!(r.normalized_repository(), repo, "{image}");
            assert_eq!(r.normalized(), full, "{image}");
        }
        let pinned = format!("nginx@sha256:{H64}");
        assert_eq!(
            parse(&pinned).unwrap().normalized(),
            format!("docker.io/library/nginx@sha256:{H64}")
        );
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("aéb", 2), "a");
        assert_eq!(truncate("abcdef", 3), "abc");
    }
}
