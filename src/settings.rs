//! The policy's settings (`docs/contract.md` §4), read from the JSON a ClusterAdmissionPolicy's
//! `settings:` holds.
//!
//! Settings are read by hand rather than with `#[serde(deny_unknown_fields)]` so that one
//! pass reports *every* problem (an unknown key, a wrong type, an invalid pattern) in a single
//! message, and a typo such as `requireDigests` names the key it was probably meant to be.

use crate::exemption::Exemption;
use crate::json::type_name;
use crate::kinds::{self, Kinds};
use crate::reference::DIGEST_ALGORITHMS;
use serde_json::{Map, Value};

/// Validated settings, ready for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `requireDigest`: reject images without a digest.
    pub require_digest: bool,
    /// `requireTag`: a digest needs a readable tag next to it.
    pub require_tag: bool,
    /// `mutableTags`: tags that drift unless pinned.
    pub mutable_tags: Vec<String>,
    /// `allowedDigestAlgorithms`.
    pub allowed_digest_algorithms: Vec<String>,
    /// `warnUnpinned`: warn about accepted tag-only images.
    pub warn_unpinned: bool,
    /// `namespaces`: which namespaces are checked.
    pub namespaces: NamespaceScope,
    /// `exemptImages`: images judged for validity only.
    pub exempt_images: Vec<Exemption>,
    /// `allowExistingViolations`: an UPDATE may keep the old object's findings.
    pub allow_existing_violations: bool,
    /// Rewrite tag-only images to `tag@digest` through the host (`docs/contract.md` §6).
    pub pin_digests: PinDigests,
    /// `verifyTagDigest`: check a pinned image's tag against its digest.
    pub verify_tag_digest: VerifyTagDigest,
    /// Custom resources to check: the `presets` turned on, then the `customKinds`.
    pub custom_kinds: Kinds,
}

/// `pinDigests`: which objects get their tag-only images rewritten to `tag@digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinDigests {
    /// `false`: nothing is rewritten.
    #[default]
    Off,
    /// `true`: every object the policy checks.
    All,
    /// `"pods"`: only Pods (and `kubectl debug`'s ephemeral containers), the objects GitOps
    /// tools do not own; Deployments and the rest stay as Git has them.
    PodsOnly,
}

/// What to do when a pinned image's tag now points at another digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyTagDigest {
    /// Not checked.
    #[default]
    Off,
    /// A moved tag is a warning.
    Warn,
    /// A moved tag is a rejection.
    Reject,
}

/// Which namespaces the policy checks: `include` empty means all; `exclude` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceScope {
    /// Namespace patterns to check; empty means all.
    pub include: Vec<String>,
    /// Namespace patterns never checked (they win over `include`).
    pub exclude: Vec<String>,
}

impl NamespaceScope {
    /// Whether `namespace` is checked.
    pub fn covers(&self, namespace: &str) -> bool {
        if crate::glob::any_matches(&self.exclude, namespace) {
            return false;
        }
        self.include.is_empty() || crate::glob::any_matches(&self.include, namespace)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            require_digest: false,
            require_tag: true,
            mutable_tags: vec!["latest".to_owned()],
            allowed_digest_algorithms: DIGEST_ALGORITHMS
                .iter()
                .map(|(a, _)| (*a).to_owned())
                .collect(),
            warn_unpinned: true,
            namespaces: NamespaceScope::default(),
            exempt_images: Vec::new(),
            allow_existing_violations: false,
            pin_digests: PinDigests::Off,
            verify_tag_digest: VerifyTagDigest::Off,
            custom_kinds: Kinds::default(),
        }
    }
}

const KEYS: [&str; 13] = [
    "requireDigest",
    "requireTag",
    "mutableTags",
    "allowedDigestAlgorithms",
    "warnUnpinned",
    "namespaces",
    "exemptImages",
    "allowExistingViolations",
    "pinDigests",
    "verifyTagDigest",
    "presets",
    "customKinds",
    "exemptPaths",
];
const NAMESPACE_KEYS: [&str; 2] = ["include", "exclude"];

/// One problem with the settings: the key it is about (`requireDigest`, `namespaces.include`,
/// `customKinds[0]`; empty for the settings as a whole) and what is wrong, in words that name
/// the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    /// The key (a path for nested keys) the problem is about.
    pub key: String,
    /// The whole sentence a user reads.
    pub message: String,
}

/// Every problem found in a settings object, in the order the keys were read. Tools that show
/// problems one by one read the list; its `Display` is the one-line answer the host shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub Vec<SettingsProblem>);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid settings: ")?;
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

/// The problems found so far, each with its key.
#[derive(Default)]
struct Problems(Vec<SettingsProblem>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: String) {
        self.0.push(SettingsProblem {
            key: key.into(),
            message,
        });
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Whether a digest a registry or the host gave (`algorithm:hex`) uses an algorithm
    /// `allowedDigestAlgorithms` allows; the reason when it does not.
    pub fn allows_digest(&self, digest: &str) -> Result<(), String> {
        let algorithm = digest.split_once(':').map_or("", |(a, _)| a);
        if self
            .allowed_digest_algorithms
            .iter()
            .any(|a| a == algorithm)
        {
            Ok(())
        } else {
            Err(format!(
                "the registry's digest {digest} uses {algorithm}, which allowedDigestAlgorithms does not allow"
            ))
        }
    }

    /// Reads settings from JSON; `null` (no `settings:` at all) means every default. One
    /// reader per key, each recording its problems, so every problem is reported at once.
    pub fn from_json(value: Option<&Value>) -> Result<Settings, SettingsError> {
        let mut settings = Settings::default();
        let mut problems = Problems::default();
        let map = match value {
            None | Some(Value::Null) => return Ok(settings),
            Some(Value::Object(map)) => map,
            Some(other) => {
                problems.add(
                    "",
                    format!("settings must be an object, found {}", type_name(other)),
                );
                return Err(SettingsError(problems.0));
            }
        };
        reject_unknown_keys(map, &KEYS, "", &mut problems);
        let r = Reader { map, prefix: "" };
        r.bool("requireDigest", &mut settings.require_digest, &mut problems);
        r.bool("requireTag", &mut settings.require_tag, &mut problems);
        r.bool("warnUnpinned", &mut settings.warn_unpinned, &mut problems);
        r.bool(
            "allowExistingViolations",
            &mut settings.allow_existing_violations,
            &mut problems,
        );
        read_pin_digests(&r, &mut settings.pin_digests, &mut problems);
        read_verify_tag_digest(map, &mut settings.verify_tag_digest, &mut problems);
        read_mutable_tags(&r, &mut settings.mutable_tags, &mut problems);
        read_algorithms(&r, &mut settings.allowed_digest_algorithms, &mut problems);
        read_exemptions(&r, &mut settings.exempt_images, &mut problems);
        read_kinds(map, &r, &mut settings.custom_kinds, &mut problems);
        read_exempt_paths(map, &mut settings.custom_kinds, &mut problems);
        read_namespaces(map, &mut settings.namespaces, &mut problems);
        if problems.0.is_empty() {
            Ok(settings)
        } else {
            Err(SettingsError(problems.0))
        }
    }
}

/// `pinDigests`: `true`, `false` or `"pods"`.
fn read_pin_digests(r: &Reader<'_>, out: &mut PinDigests, problems: &mut Problems) {
    match r.map.get("pinDigests") {
        Some(Value::String(s)) if s == "pods" => *out = PinDigests::PodsOnly,
        Some(Value::String(s)) => problems.add(
            "pinDigests",
            format!("pinDigests must be true or false, or \"pods\" to pin Pods only, found `{s}`"),
        ),
        _ => {
            let mut on = false;
            r.bool("pinDigests", &mut on, problems);
            if on {
                *out = PinDigests::All;
            }
        }
    }
}

/// `verifyTagDigest`: `off`, `warn` or `reject`.
fn read_verify_tag_digest(
    map: &Map<String, Value>,
    out: &mut VerifyTagDigest,
    problems: &mut Problems,
) {
    const KEY: &str = "verifyTagDigest";
    match map.get(KEY) {
        None | Some(Value::Null) => {}
        Some(Value::String(mode)) => match mode.as_str() {
            "off" => *out = VerifyTagDigest::Off,
            "warn" => *out = VerifyTagDigest::Warn,
            "reject" => *out = VerifyTagDigest::Reject,
            other => problems.add(
                KEY,
                format!("verifyTagDigest must be off, warn or reject, found `{other}`"),
            ),
        },
        Some(other) => problems.add(
            KEY,
            format!(
                "verifyTagDigest must be off, warn or reject, found {}",
                type_name(other)
            ),
        ),
    }
}

/// `mutableTags`: tag patterns.
fn read_mutable_tags(r: &Reader<'_>, out: &mut Vec<String>, problems: &mut Problems) {
    if let Some(tags) = r.strings("mutableTags", problems) {
        check_patterns(
            &tags,
            "mutableTags",
            is_tag_pattern_char,
            "letters, digits, `_`, `.`, `-` and `*`",
            problems,
        );
        *out = tags;
    }
}

/// `allowedDigestAlgorithms`: registered algorithms, at least one.
fn read_algorithms(r: &Reader<'_>, out: &mut Vec<String>, problems: &mut Problems) {
    if let Some(algorithms) = r.strings("allowedDigestAlgorithms", problems) {
        check_algorithms(&algorithms, problems);
        *out = algorithms;
    }
}

/// `exemptImages`: exemption patterns, each parsed.
fn read_exemptions(r: &Reader<'_>, out: &mut Vec<Exemption>, problems: &mut Problems) {
    for (i, entry) in r
        .strings("exemptImages", problems)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match Exemption::parse(&entry) {
            Ok(e) => out.push(e),
            Err(why) => problems.add(
                format!("exemptImages[{i}]"),
                format!("exemptImages[{i}] `{entry}`: {why}"),
            ),
        }
    }
}

/// `namespaces`: `include` and `exclude` lists of namespace patterns.
fn read_namespaces(map: &Map<String, Value>, out: &mut NamespaceScope, problems: &mut Problems) {
    match map.get("namespaces") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ns)) => {
            reject_unknown_keys(ns, &NAMESPACE_KEYS, "namespaces.", problems);
            let r = Reader {
                map: ns,
                prefix: "namespaces.",
            };
            for key in NAMESPACE_KEYS {
                let Some(list) = r.strings(key, problems) else {
                    continue;
                };
                check_patterns(
                    &list,
                    &format!("namespaces.{key}"),
                    is_namespace_pattern_char,
                    "lowercase letters, digits, `-` and `*`",
                    problems,
                );
                if key == "include" {
                    out.include = list;
                } else {
                    out.exclude = list;
                }
            }
        }
        Some(other) => problems.add(
            "namespaces",
            format!(
                "namespaces must be an object with `include` and `exclude` lists, found {}",
                type_name(other)
            ),
        ),
    }
}

/// `presets` (by name) and `customKinds` (entry by entry), in that order.
fn read_kinds(map: &Map<String, Value>, r: &Reader<'_>, out: &mut Kinds, problems: &mut Problems) {
    for (i, name) in r
        .strings("presets", problems)
        .into_iter()
        .flatten()
        .enumerate()
    {
        match kinds::preset_body(&name) {
            Some(body) => out.presets.push(body),
            None => problems.add(
                format!("presets[{i}]"),
                format!(
                    "presets[{i}] `{name}` is not a preset; known presets: {}",
                    kinds::preset_names()
                ),
            ),
        }
    }
    match map.get("customKinds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(entries)) => {
            for (i, v) in entries.iter().enumerate() {
                let mut found = Vec::new();
                out.custom.extend(kinds::custom_kind(i, v, &mut found));
                for message in found {
                    problems.add(format!("customKinds[{i}]"), message);
                }
            }
        }
        Some(other) => problems.add(
            "customKinds",
            format!(
                "customKinds must be a list of {{apiGroup, kind, podSpecs, images}}, found {}",
                type_name(other)
            ),
        ),
    }
}

/// `exemptPaths`, entry by entry, attached to the kinds read before.
fn read_exempt_paths(map: &Map<String, Value>, kinds: &mut Kinds, problems: &mut Problems) {
    match map.get("exemptPaths") {
        None | Some(Value::Null) => {}
        Some(Value::Array(entries)) => {
            for (i, v) in entries.iter().enumerate() {
                let mut found = Vec::new();
                kinds::exempt_path(i, v, kinds, &mut found);
                for message in found {
                    problems.add(format!("exemptPaths[{i}]"), message);
                }
            }
        }
        Some(other) => problems.add(
            "exemptPaths",
            format!(
                "exemptPaths must be a list of {{kind, path, reason}}, found {}",
                type_name(other)
            ),
        ),
    }
}

/// Reads typed values out of one JSON object, recording a problem for each wrong type.
struct Reader<'m> {
    map: &'m Map<String, Value>,
    prefix: &'static str,
}

impl Reader<'_> {
    fn bool(&self, key: &str, out: &mut bool, problems: &mut Problems) {
        match self.map.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *out = *b,
            Some(other) => problems.add(
                format!("{}{key}", self.prefix),
                format!(
                    "{}{key} must be true or false, found {}",
                    self.prefix,
                    type_name(other)
                ),
            ),
        }
    }

    fn strings(&self, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut well_typed = true;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            well_typed = false;
                            problems.add(
                                format!("{}{key}[{i}]", self.prefix),
                                format!(
                                    "{}{key}[{i}] must be a string, found {}",
                                    self.prefix,
                                    type_name(other)
                                ),
                            );
                        }
                    }
                }
                // A list with a wrong item is reported once, not checked again with shifted indexes.
                well_typed.then_some(out)
            }
            Some(other) => {
                problems.add(
                    format!("{}{key}", self.prefix),
                    format!(
                        "{}{key} must be a list of strings, found {}",
                        self.prefix,
                        type_name(other)
                    ),
                );
                None
            }
        }
    }
}

fn reject_unknown_keys(
    map: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
    problems: &mut Problems,
) {
    for key in map.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let hint = closest(key, known)
            .map(|k| format!(" (did you mean `{prefix}{k}`?)"))
            .unwrap_or_default();
        problems.add(
            format!("{prefix}{key}"),
            format!(
                "unknown key `{prefix}{key}`{hint}; known keys: {}",
                known
                    .iter()
                    .map(|k| format!("{prefix}{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// The known key nearest to a misspelt one, when it is near enough to be a likely typo.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cur = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let best = (prev + usize::from(ca != *cb)).min(cur + 1).min(left + 1);
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = best;
            }
            prev = cur;
        }
    }
    row.last().copied().unwrap_or(0)
}

fn check_patterns(
    patterns: &[String],
    key: &str,
    allowed: fn(char) -> bool,
    allowed_text: &str,
    problems: &mut Problems,
) {
    for (i, p) in patterns.iter().enumerate() {
        if p.is_empty() {
            problems.add(format!("{key}[{i}]"), format!("{key}[{i}] is empty"));
        } else if let Some(c) = p.chars().find(|c| !allowed(*c)) {
            problems.add(
                format!("{key}[{i}]"),
                format!(
                    "{key}[{i}] `{p}` contains `{}`; patterns may use {allowed_text}",
                    c.escape_debug()
                ),
            );
        }
    }
}

fn is_tag_pattern_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*')
}

fn is_namespace_pattern_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '*')
}

fn check_algorithms(algorithms: &[String], problems: &mut Problems) {
    if algorithms.is_empty() {
        problems.add(
            "allowedDigestAlgorithms",
            "allowedDigestAlgorithms must not be empty: it would reject every pinned image; list sha256 and/or sha512".to_owned(),
        );
    }
    for (i, a) in algorithms.iter().enumerate() {
        if !DIGEST_ALGORITHMS.iter().any(|(known, _)| known == a) {
            problems.add(
                format!("allowedDigestAlgorithms[{i}]"),
                format!(
                    "allowedDigestAlgorithms[{i}] `{a}` is not a registered digest algorithm (sha256, sha512)"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Settings, SettingsError> {
        Settings::from_json(Some(&v))
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Settings::from_json(None).unwrap();
        assert!(!s.require_digest);
        assert!(s.require_tag);
        assert_eq!(s.mutable_tags, ["latest"]);
        assert_eq!(s.allowed_digest_algorithms, ["sha256", "sha512"]);
        assert!(s.warn_unpinned);
        assert!(s.namespaces.include.is_empty() && s.namespaces.exclude.is_empty());
        assert!(s.exempt_images.is_empty());
        assert!(!s.allow_existing_violations);
        assert_eq!(parse(json!({})).unwrap(), s);
        assert_eq!(Settings::from_json(Some(&Value::Null)).unwrap(), s);
    }

    #[test]
    fn every_key_is_read() {
        let s = parse(json!({
            "requireDigest": true,
            "requireTag": false,
            "mutableTags": ["latest", "*-dev"],
            "allowedDigestAlgorithms": ["sha512"],
            "warnUnpinned": false,
            "namespaces": {"include": ["prod-*"], "exclude": ["prod-sandbox"]},
            "exemptImages": ["busybox:1.36", "registry.example.com/team/*"],
            "allowExistingViolations": true,
            "pinDigests": true,
            "verifyTagDigest": "reject"
        }))
        .unwrap();
        assert_eq!(s.pin_digests, PinDigests::All);
        assert_eq!(
            parse(json!({"pinDigests": "pods"})).unwrap().pin_digests,
            PinDigests::PodsOnly
        );
        assert_eq!(s.verify_tag_digest, VerifyTagDigest::Reject);
        assert_eq!(
            parse(json!({"verifyTagDigest": "warn"}))
                .unwrap()
                .verify_tag_digest,
            VerifyTagDigest::Warn
        );
        assert!(
            s.require_digest && !s.require_tag && !s.warn_unpinned && s.allow_existing_violations
        );
        assert_eq!(s.mutable_tags, ["latest", "*-dev"]);
        assert_eq!(s.allowed_digest_algorithms, ["sha512"]);
        assert_eq!(s.namespaces.include, ["prod-*"]);
        assert_eq!(s.namespaces.exclude, ["prod-sandbox"]);
        assert_eq!(s.exempt_images.len(), 2);
        assert!(
            parse(json!({"mutableTags": []}))
                .unwrap()
                .mutable_tags
                .is_empty()
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"requireDigests": true}),
                vec!["unknown key `requireDigests` (did you mean `requireDigest`?)"],
            ),
            (
                json!({"pinDigest": true}),
                vec!["unknown key `pinDigest` (did you mean `pinDigests`?)"],
            ),
            (
                json!({"pinDigests": "yes"}),
                vec!["pinDigests must be true or false"],
            ),
            (
                json!({"verifyTagDigest": "always"}),
                vec!["verifyTagDigest must be off, warn or reject, found `always`"],
            ),
            (
                json!({"verifyTagDigest": true}),
                vec!["verifyTagDigest must be off, warn or reject, found a boolean"],
            ),
            (
                json!({"requireDigest": "yes"}),
                vec!["requireDigest must be true or false, found a string"],
            ),
            (
                json!({"mutableTags": "latest"}),
                vec!["mutableTags must be a list of strings, found a string"],
            ),
            (
                json!({"mutableTags": ["ok", 3]}),
                vec!["mutableTags[1] must be a string, found a number"],
            ),
            (
                json!({"mutableTags": ["ok", ""]}),
                vec!["mutableTags[1] is empty"],
            ),
            (
                json!({"mutableTags": ["a b"]}),
                vec!["mutableTags[0] `a b` contains ` `"],
            ),
            (
                json!({"allowedDigestAlgorithms": []}),
                vec!["allowedDigestAlgorithms must not be empty"],
            ),
            (
                json!({"allowedDigestAlgorithms": ["md5"]}),
                vec!["allowedDigestAlgorithms[0] `md5` is not a registered digest algorithm"],
            ),
            (
                json!({"namespaces": ["prod"]}),
                vec!["namespaces must be an object"],
            ),
            (
                json!({"namespaces": {"includes": ["a"]}}),
                vec!["unknown key `namespaces.includes` (did you mean `namespaces.include`?)"],
            ),
            (
                json!({"namespaces": {"include": ["Prod"]}}),
                vec!["namespaces.include[0] `Prod` contains `P`"],
            ),
            (
                json!({"exemptImages": ["Busybox"]}),
                vec!["exemptImages[0] `Busybox`: the repository must be lowercase"],
            ),
            (
                json!({"exemptImages": ["registry.example.com/*/app"]}),
                vec!["exemptImages[0]"],
            ),
            (
                json!([1, 2]),
                vec!["settings must be an object, found a list"],
            ),
            (
                json!({"requireDigests": true, "warnUnpinned": 1, "exemptImages": [""]}),
                vec![
                    "`requireDigests`",
                    "warnUnpinned must be true or false",
                    "exemptImages[0]",
                ],
            ),
        ];
        for (v, wants) in cases {
            let err = parse(v.clone()).expect_err(&v.to_string()).to_string();
            assert!(err.starts_with("invalid settings: "), "{err}");
            for want in wants {
                assert!(err.contains(want), "{v}: {err:?} lacks {want:?}");
            }
        }
    }

    #[test]
    fn namespace_scope_exclude_wins() {
        let scope = NamespaceScope {
            include: vec!["prod-*".into(), "agents".into()],
            exclude: vec!["prod-sandbox".into()],
        };
        assert!(scope.covers("prod-eu"));
        assert!(scope.covers("agents"));
        assert!(!scope.covers("prod-sandbox"));
        assert!(!scope.covers("dev"));
        assert!(NamespaceScope::default().covers("anything"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
