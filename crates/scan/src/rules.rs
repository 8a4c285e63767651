//! Every rule an output names, in one typed table: the policy's ([`Rule`], compiled into
//! `policy.wasm`) and the tools' own ([`Tool`]: the checker's, `history`'s and `live`'s, which
//! the wasm never needs and so never carries). A format names a rule through [`RuleId`], never
//! by a string; SARIF's rule index is [`RuleId::index`], the declaration order; the JSON
//! schema's list of ids is held equal to [`RuleId::ALL`] by a test.

pub use image_digest_policy::rules::{Level, Rule};

/// The tools' own rules: what the checker says about its run, what `history` says about the
/// digests the Git history pinned, and what `live` says about what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    /// Helm values: a component renders another block's digest with its own repository (a
    /// rendered image cannot show where its digest came from, so the policy cannot see it).
    BorrowedDigest,
    /// A document or input the tools could not check at all (never the policy's verdict).
    NotChecked,
    /// A workload outside the settings' namespaces: let through unchecked.
    NamespaceScope,
    /// A workload whose every image is pinned as the contract requires (OpenReports' `pass`).
    Contract,
    /// `history`: a digest the Git history pinned (a rollback target).
    PinnedDigest,
    /// `history`/`live`: a pinned or running digest its registry no longer has.
    DigestGone,
    /// An index answers, but one platform's manifest under it is gone.
    PlatformManifestGone,
    /// A config or layer blob of the manifest is gone (`--deep`).
    BlobGone,
    /// The registry could not be asked about a digest.
    DigestUnchecked,
    /// `history`: an image in the history without a digest.
    NoRollbackDigest,
    /// `live`: the pods of one workload run different digests of one image.
    Drift,
    /// `live`: a tag-only image's pods all run one digest (what `pin --from-live` writes).
    RunningDigest,
    /// `live`: a pinned image whose pods run another digest.
    DigestMismatch,
    /// `live`: pods run a locally loaded image (no registry digest).
    LocalImage,
    /// `live`: a container not started yet (no running digest known).
    NotStarted,
    /// `pin`: an image pinned in its file.
    Pinned,
    /// `pin --dry-run`: an image that would be pinned (exit 1: the files are not pinned yet).
    WouldPin,
    /// `pin`: an image that cannot be pinned as written.
    NotPinnable,
    /// A custom kind's document in which none of its kind's paths reached an image: accepted,
    /// but nothing in it was judged (a mistyped path, or images the operator supplies).
    NoImage,
}

impl Tool {
    /// The rule's stable id.
    pub fn id(self) -> &'static str {
        match self {
            Tool::BorrowedDigest => "borrowed-digest",
            Tool::NotChecked => "not-checked",
            Tool::NamespaceScope => "namespace-scope",
            Tool::Contract => "image-digest-contract",
            Tool::PinnedDigest => "pinned-digest",
            Tool::DigestGone => "digest-gone",
            Tool::PlatformManifestGone => "platform-manifest-gone",
            Tool::BlobGone => "blob-gone",
            Tool::DigestUnchecked => "digest-unchecked",
            Tool::NoRollbackDigest => "no-rollback-digest",
            Tool::Drift => "drift",
            Tool::RunningDigest => "running-digest",
            Tool::DigestMismatch => "digest-mismatch",
            Tool::LocalImage => "local-image",
            Tool::NotStarted => "not-started",
            Tool::Pinned => "pinned",
            Tool::WouldPin => "would-pin",
            Tool::NotPinnable => "not-pinnable",
            Tool::NoImage => "no-image-found",
        }
    }
}

/// What a finding of a rule does to the run: the exit code is decided from this alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Nothing to fix (exit 0).
    Pass,
    /// Something to fix (exit 1).
    Fail,
    /// Something could not be checked (exit 2): never green.
    NotChecked,
}

impl Outcome {
    /// 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::NotChecked => 2,
        }
    }
}

/// An OpenReports result (`openreports.io/v1alpha1`'s `result` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportResult {
    /// `pass`
    Pass,
    /// `fail`
    Fail,
    /// `warn`
    Warn,
    /// `error`
    Error,
    /// `skip`
    Skip,
}

impl ReportResult {
    /// Every result, in the order a report's `summary` lists them.
    pub const ALL: [ReportResult; 5] = [
        ReportResult::Pass,
        ReportResult::Fail,
        ReportResult::Warn,
        ReportResult::Error,
        ReportResult::Skip,
    ];

    /// The CRD's word.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportResult::Pass => "pass",
            ReportResult::Fail => "fail",
            ReportResult::Warn => "warn",
            ReportResult::Error => "error",
            ReportResult::Skip => "skip",
        }
    }
}

/// One rule of either table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// A rule of the policy.
    Policy(Rule),
    /// A rule of the tools.
    Tool(Tool),
}

impl From<Rule> for RuleId {
    fn from(rule: Rule) -> RuleId {
        RuleId::Policy(rule)
    }
}

impl From<Tool> for RuleId {
    fn from(rule: Tool) -> RuleId {
        RuleId::Tool(rule)
    }
}

/// What every output says about a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The stable id (`mutable-tag`), in every machine-readable output.
    pub id: &'static str,
    /// SARIF's rule name (`MutableTagWithoutDigest`).
    pub name: &'static str,
    /// How a finding is shown.
    pub level: Level,
    /// What it does to the exit code.
    pub outcome: Outcome,
    /// Its OpenReports result.
    pub result: ReportResult,
    /// One sentence: what is wrong (or what is listed).
    pub short: &'static str,
    /// What to do about it: the one place a rule's fix is written.
    pub help: &'static str,
}

/// The tools' rules, in declaration order (the tail of [`RuleId::ALL`]).
const TOOLS: [Tool; 19] = [
    Tool::BorrowedDigest,
    Tool::NotChecked,
    Tool::NamespaceScope,
    Tool::Contract,
    Tool::PinnedDigest,
    Tool::DigestGone,
    Tool::PlatformManifestGone,
    Tool::BlobGone,
    Tool::DigestUnchecked,
    Tool::NoRollbackDigest,
    Tool::Drift,
    Tool::RunningDigest,
    Tool::DigestMismatch,
    Tool::LocalImage,
    Tool::NotStarted,
    Tool::Pinned,
    Tool::WouldPin,
    Tool::NotPinnable,
    Tool::NoImage,
];

impl RuleId {
    /// Every rule: the policy's in priority order, then the tools'. (Built at compile time:
    /// an index out of range would be a build error, never a panic.)
    #[allow(clippy::indexing_slicing)]
    pub const ALL: [RuleId; Rule::ALL.len() + TOOLS.len()] = {
        let mut all = [RuleId::Policy(Rule::InvalidRef); Rule::ALL.len() + TOOLS.len()];
        let mut i = 0;
        while i < Rule::ALL.len() {
            all[i] = RuleId::Policy(Rule::ALL[i]);
            i += 1;
        }
        let mut j = 0;
        while j < TOOLS.len() {
            all[i + j] = RuleId::Tool(TOOLS[j]);
            j += 1;
        }
        all
    };

    /// The rule's place in [`RuleId::ALL`] (SARIF's `ruleIndex`): the declaration order of
    /// both enums, so nothing is looked up and nothing can fall back to another rule.
    pub fn index(self) -> usize {
        match self {
            RuleId::Policy(rule) => rule as usize,
            RuleId::Tool(rule) => Rule::ALL.len() + rule as usize,
        }
    }

    /// The stable id (a match of its own: the formats that only name a rule do not build
    /// its whole [`Info`]).
    pub fn id(self) -> &'static str {
        match self {
            RuleId::Policy(rule) => rule.id(),
            RuleId::Tool(tool) => tool.id(),
        }
    }

    /// How a finding of the rule is shown.
    pub fn level(self) -> Level {
        self.info().level
    }

    /// The rule's words and effects.
    pub fn info(self) -> Info {
        let tool = match self {
            RuleId::Policy(rule) => {
                let info = rule.info();
                let (outcome, result) = match info.level {
                    Level::Error => (Outcome::Fail, ReportResult::Fail),
                    Level::Warning => (Outcome::Pass, ReportResult::Warn),
                    Level::Note => (Outcome::Pass, ReportResult::Pass),
                };
                return Info {
                    id: info.id,
                    name: info.name,
                    level: info.level,
                    outcome,
                    result,
                    short: info.short,
                    help: info.help,
                };
            }
            RuleId::Tool(tool) => tool,
        };
        use {Level as L, Outcome as O, ReportResult as R};
        let (name, level, outcome, result, short, help) = match tool {
            Tool::BorrowedDigest => (
                "DigestOfAnotherRepository",
                L::Error,
                O::Fail,
                R::Fail,
                "A component renders the digest of another block's repository: it fails to pull, or pulls what no one chose.",
                "Set the component's own digest, or `digest: \"\"` to render its tag alone.",
            ),
            Tool::NotChecked => (
                "NotChecked",
                L::Error,
                O::NotChecked,
                R::Error,
                "The tools could not check this document or input: nothing in it was checked.",
                "Fix the input the message names, then run the check again.",
            ),
            Tool::NamespaceScope => (
                "OutsideNamespaceScope",
                L::Note,
                O::Pass,
                R::Skip,
                "The namespace is outside the settings' scope: the policy lets it through unchecked.",
                "Widen the settings' namespaces if this workload should be checked.",
            ),
            Tool::Contract => (
                "ImageDigestContract",
                L::Note,
                O::Pass,
                R::Pass,
                "Every image is pinned as the contract and the settings require.",
                "Nothing to do.",
            ),
            Tool::PinnedDigest => (
                "PinnedDigest",
                L::Note,
                O::Pass,
                R::Pass,
                "A digest the Git history pinned: a rollback target (present in its registry when verified).",
                "Keep it in the registry while a rollback may need it (history --protect tags it).",
            ),
            Tool::DigestGone => (
                "DigestGone",
                L::Error,
                O::Fail,
                R::Fail,
                "A digest the Git history pinned, or a pod runs, is gone from its registry: rolling back to it or rescheduling the pod fails.",
                "Push the image again under that digest (from a backup or a mirror), or move the pin to a digest the registry has; protect the keep-list from garbage collection with history --protect.",
            ),
            Tool::PlatformManifestGone => (
                "PlatformManifestGone",
                L::Error,
                O::Fail,
                R::Fail,
                "An index answers, but one platform's manifest under it is gone: a pull on that platform fails.",
                "Push the index again with every platform (skopeo copy --all), or pin a digest whose platforms are all present.",
            ),
            Tool::BlobGone => (
                "BlobGone",
                L::Error,
                O::Fail,
                R::Fail,
                "A config or layer blob of the manifest is gone: every pull of it fails (--deep).",
                "Push the image again (the registry lost its blobs), or pin a digest the registry holds whole.",
            ),
            Tool::DigestUnchecked => (
                "DigestUnchecked",
                L::Error,
                O::NotChecked,
                R::Error,
                "The registry could not be asked whether the digest is still there.",
                "Check that the registry is reachable and the credentials can read it, then run again.",
            ),
            Tool::NoRollbackDigest => (
                "NoRollbackDigest",
                L::Warning,
                O::Pass,
                R::Warn,
                "An image in the history without a digest: rolling back to that commit pulls whatever the tag means then.",
                "Pin images by digest (image-digest-check pin) so every commit is a rollback target.",
            ),
            Tool::Drift => (
                "RunningDigestDrift",
                L::Error,
                O::Fail,
                R::Fail,
                "The pods of one workload run different digests of one image.",
                "Pin the image to the digest you mean, then roll the workload out.",
            ),
            Tool::RunningDigest => (
                "RunningDigest",
                L::Note,
                O::Pass,
                R::Pass,
                "A tag-only image whose pods all run one digest.",
                "Pin the image to this digest to change nothing that runs (pin --from-live).",
            ),
            Tool::DigestMismatch => (
                "RunningDigestMismatch",
                L::Warning,
                O::Pass,
                R::Warn,
                "A pinned image whose pods run another digest (a mirror or the runtime rewrote it).",
                "Check the mirror's and the runtime's configuration; re-pin if the pinned digest is not what you mean.",
            ),
            Tool::LocalImage => (
                "LocalImage",
                L::Warning,
                O::Pass,
                R::Warn,
                "Pods run a locally loaded image (a bare image ID, no registry digest): it cannot be pinned from the cluster.",
                "Push the image to a registry and pin it there.",
            ),
            Tool::NotStarted => (
                "NotStarted",
                L::Note,
                O::Pass,
                R::Skip,
                "The container has not started: what it runs is not known yet.",
                "Look again once its pods run.",
            ),
            Tool::Pinned => (
                "Pinned",
                L::Note,
                O::Pass,
                R::Pass,
                "An image pinned to the digest its tag resolved to.",
                "Review the change and commit it.",
            ),
            Tool::WouldPin => (
                "WouldPin",
                L::Warning,
                O::Fail,
                R::Fail,
                "An image that is not pinned yet and would be (pin --dry-run).",
                "Run pin without --dry-run to write the digest.",
            ),
            Tool::NotPinnable => (
                "NotPinnable",
                L::Error,
                O::NotChecked,
                R::Error,
                "An image pin cannot pin as written.",
                "Fix the image as the message says (or exempt it in the settings), then run pin again.",
            ),
            Tool::NoImage => (
                "NoImageFound",
                L::Warning,
                O::Pass,
                R::Warn,
                "None of the paths the settings give for this kind reached an image: nothing in it was judged.",
                "Check the kind's paths in customKinds (or the preset) against the document; if its images are the operator's own, nothing is to be done.",
            ),
        };
        Info {
            id: tool.id(),
            name,
            level,
            outcome,
            result,
            short,
            help,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant of both enums is in the table at its index, and every id is unique: a
    /// new rule cannot be left out of SARIF's rules nor share an id.
    #[test]
    fn every_rule_is_in_the_table_once() {
        for (i, rule) in RuleId::ALL.iter().enumerate() {
            assert_eq!(rule.index(), i, "{rule:?}");
            // An exhaustive match: a new variant must be added here, and so to the tables.
            match rule {
                RuleId::Policy(
                    Rule::InvalidRef
                    | Rule::DisallowedAlgorithm
                    | Rule::MutableTag
                    | Rule::MissingTag
                    | Rule::NoDigest
                    | Rule::HostLookup
                    | Rule::TagMoved
                    | Rule::TagUnverified
                    | Rule::Unpinned
                    | Rule::ExemptPath,
                ) => {}
                RuleId::Tool(t) => assert_eq!(TOOLS.get(*t as usize), Some(t)),
            }
        }
        let ids: std::collections::BTreeSet<&str> = RuleId::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), RuleId::ALL.len());
        // Every tool variant, exhaustively: a new one fails to compile here until it is
        // listed, and then fails above until it is in `TOOLS`.
        for t in TOOLS {
            match t {
                Tool::BorrowedDigest
                | Tool::NotChecked
                | Tool::NamespaceScope
                | Tool::Contract
                | Tool::PinnedDigest
                | Tool::DigestGone
                | Tool::PlatformManifestGone
                | Tool::BlobGone
                | Tool::DigestUnchecked
                | Tool::NoRollbackDigest
                | Tool::Drift
                | Tool::RunningDigest
                | Tool::DigestMismatch
                | Tool::LocalImage
                | Tool::NotStarted
                | Tool::Pinned
                | Tool::WouldPin
                | Tool::NotPinnable
                | Tool::NoImage => {}
            }
        }
        assert_eq!(TOOLS.len(), Tool::NoImage as usize + 1);
    }

    /// The JSON schema lists exactly the table's ids, in its order.
    #[test]
    fn the_report_schema_lists_every_rule() {
        let text = include_str!("../../../docs/check-report.schema.json");
        let schema: serde_json::Value = serde_json::from_str(text).expect("the schema is JSON");
        let listed: Vec<&str> = schema["$defs"]["rule"]["enum"]
            .as_array()
            .map(|ids| ids.iter().filter_map(|id| id.as_str()).collect())
            .unwrap_or_default();
        let table: Vec<&str> = RuleId::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(
            listed, table,
            "docs/check-report.schema.json $defs.rule.enum"
        );
    }
}
