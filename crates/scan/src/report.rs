//! The checker's verdicts and their summary, in one shape every output format renders.

pub mod github;
pub mod junit;
pub mod openreports;
pub mod sarif;

use crate::input::InputError;
use crate::judge::{Found, Warned};
use crate::rules::{Level, RuleId, Tool};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The version of the JSON report's shape (`docs/check-report.schema.json`); raised on any
/// change a reader could trip over.
pub const SCHEMA_VERSION: u32 = 2;

pub use crate::yaml::Pos;

/// The verdict on one workload document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    /// `file#document`, what the result is about.
    pub location: String,
    /// The file (`<stdin>` for standard input) and where the document starts in it.
    pub file: String,
    /// The document's first line.
    pub line: usize,
    /// Its first column.
    pub column: usize,
    /// The object's kind.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Whether the policy accepted it.
    pub allowed: bool,
    /// The namespace is outside the settings' `namespaces` scope: the policy lets it through
    /// unchecked, and the summary does not count it as accepted.
    pub out_of_scope: bool,
    /// The policy's whole message.
    pub message: Option<String>,
    /// Its first line (or the runner's error).
    pub summary: Option<String>,
    /// The blocking findings, placed at their image fields.
    pub findings: Vec<Finding>,
    /// The warnings, placed at their image fields.
    pub warnings: Vec<Warning>,
    /// The JSONPatch a mutating deployment would apply (`pinDigests`).
    pub patch: Option<serde_json::Value>,
    /// The runner failed (a trap, a host error, a crash): never counted as accepted.
    pub error: Option<String>,
    /// Helm values: the image as the chart renders it, composed from the values (absent for
    /// manifests, where the image is written as it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Checked {
    /// A result not yet judged (rejected until an answer says otherwise).
    pub fn new(location: String, kind: String, namespace: String, name: String) -> Checked {
        let file = file_of(&location).to_owned();
        Checked {
            location,
            file,
            line: 1,
            column: 1,
            kind,
            namespace,
            name,
            allowed: false,
            out_of_scope: false,
            message: None,
            summary: None,
            findings: Vec::new(),
            warnings: Vec::new(),
            patch: None,
            error: None,
            image: None,
        }
    }

    /// `Kind namespace/name`, the subject of every line about this result.
    pub fn subject(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }

    /// `file:line:column`, the form editors and terminals link.
    pub fn at(&self, pos: Pos) -> String {
        format!("{}:{}:{}", self.file, pos.line, pos.column)
    }

    /// Where a finding or warning is: in `file` when it names one, else in the document's.
    pub fn at_in(&self, file: Option<&str>, pos: Pos) -> String {
        format!("{}:{}:{}", file.unwrap_or(&self.file), pos.line, pos.column)
    }

    /// Where the document starts.
    pub fn start(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }
}

/// One line of a rejection: where, and what the policy said.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The field path (`spec.template.spec.containers[0]`).
    pub path: String,
    /// The rest of the policy's line: container, image, reasons and fix.
    pub detail: String,
    /// The kind of finding (`mutable-tag`, `no-digest`, …: the policy's `Rule`).
    #[serde(serialize_with = "rule_id")]
    pub rule: RuleId,
    /// The `image:` value's position (the container's, or the document's, when it has none).
    pub line: usize,
    /// Its column.
    pub column: usize,
    /// The file the fix goes in when it is not the document's (a kustomization's `images:`
    /// entry that set the image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A warning, placed like a finding when it names a field path.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// The whole warning.
    pub message: String,
    /// The kind of warning (`unpinned`, `tag-moved`…).
    #[serde(serialize_with = "rule_id")]
    pub rule: RuleId,
    /// The field path of the image, when the warning names one.
    pub path: Option<String>,
    /// The line of the image field.
    pub line: usize,
    /// Its column.
    pub column: usize,
    /// The file the fix goes in when it is not the document's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Finding {
    /// Where the finding is.
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }
}

impl Warning {
    /// Where the warning is.
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }
}

/// Rules are written by their id in every machine-readable output.
fn rule_id<S: serde::Serializer>(rule: &RuleId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(rule.id())
}

/// The policy's finding, placed at the document's start until `place` finds its field.
pub fn finding(f: &Found) -> Finding {
    Finding {
        path: f.path.clone(),
        detail: f.detail.clone(),
        rule: f.rule.into(),
        line: 1,
        column: 1,
        file: None,
    }
}

/// The policy's warning, placed like a finding.
pub fn warning(w: &Warned) -> Warning {
    Warning {
        message: w.text.clone(),
        rule: w.rule.into(),
        path: Some(w.path.clone()),
        line: 1,
        column: 1,
        file: None,
    }
}

/// `spec.template.spec.containers[0]` as a JSON pointer: `/spec/template/spec/containers/0`;
/// a quoted key (`annotations["example.com/x"]`) as `/annotations/example.com~1x`. Read by the
/// core's own path parser, so a path the core wrote reads back to its node.
pub fn pointer(path: &str) -> String {
    image_digest_policy::path::FieldPath::parse(path)
        .ok()
        .and_then(|p| p.place("", ""))
        .map(|(_, pointer)| pointer)
        .unwrap_or_default()
}

/// Counts over a run. Every evaluated workload is in exactly one of `accepted`, `rejected`,
/// `errored` and `outOfScope`.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// What was read and what was judged, in the text summary's words: `documents` and
    /// `workloads` for manifests, `values files` and `images` for Helm values.
    #[serde(skip)]
    pub words: Words,
    /// Documents (or values files) read.
    pub documents: usize,
    /// Workloads the policy checked (in scope, evaluated without an error).
    pub workloads: usize,
    /// Workloads accepted.
    pub accepted: usize,
    /// Workloads rejected.
    pub rejected: usize,
    /// Workloads the runner could not evaluate.
    pub errored: usize,
    /// Accepted workloads that have warnings.
    pub with_warnings: usize,
    /// Workloads outside the settings' namespaces.
    pub out_of_scope: usize,
    /// Documents of kinds the policy does not check, by `apiVersion kind`.
    pub skipped: usize,
    /// The skipped documents by kind.
    pub skipped_kinds: BTreeMap<String, usize>,
    /// Inputs that could not be read.
    pub input_errors: usize,
    /// Accepted custom-kind workloads in which no path reached an image (`no-image-found`):
    /// counted among the workloads, but nothing in them was judged.
    #[serde(skip)]
    pub imageless: usize,
}

/// The nouns of a summary line.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// What was read (`documents`, `values files`).
    pub read: &'static str,
    /// What was judged (`workloads`, `images`).
    pub judged: &'static str,
    /// Why something was skipped (`kinds not checked`, `disabled`).
    pub skipped: &'static str,
}

impl Default for Words {
    fn default() -> Self {
        Words {
            read: "documents",
            judged: "workloads",
            skipped: "kinds not checked",
        }
    }
}

impl Summary {
    /// Counts one result in exactly one of its buckets.
    pub fn count(&mut self, r: &Checked) {
        if r.error.is_some() {
            self.errored += 1;
        } else if r.out_of_scope {
            self.out_of_scope += 1;
        } else if r.allowed {
            self.workloads += 1;
            self.accepted += 1;
        } else {
            self.workloads += 1;
            self.rejected += 1;
        }
        if r.error.is_none() && !r.warnings.is_empty() {
            self.with_warnings += 1;
        }
        if r.warnings.iter().any(|w| w.rule == Tool::NoImage.into()) {
            self.imageless += 1;
        }
    }

    /// Adds another run's counts to these (its words are this run's).
    pub fn add(&mut self, other: &Summary) {
        self.documents += other.documents;
        self.workloads += other.workloads;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.errored += other.errored;
        self.with_warnings += other.with_warnings;
        self.out_of_scope += other.out_of_scope;
        self.skipped += other.skipped;
        for (k, n) in &other.skipped_kinds {
            *self.skipped_kinds.entry(k.clone()).or_default() += n;
        }
        self.input_errors += other.input_errors;
        self.imageless += other.imageless;
    }

    /// Takes back a document counted as skipped: a GitOps source composed after all.
    pub fn unskip(&mut self, kind: &str) {
        if let Some(n) = self.skipped_kinds.get_mut(kind) {
            *n -= 1;
            self.skipped = self.skipped.saturating_sub(1);
            if *n == 0 {
                self.skipped_kinds.remove(kind);
            }
        }
    }

    /// Counts a document skipped as a kind the policy does not check.
    pub fn skip(&mut self, kind: String) {
        self.skipped += 1;
        *self.skipped_kinds.entry(kind).or_default() += 1;
    }

    /// `2 skipped (v1 ConfigMap 1, argoproj.io/v1alpha1 Rollout 1)`
    fn skipped_text(&self) -> String {
        if self.skipped_kinds.is_empty() {
            return format!("{} skipped", self.skipped);
        }
        let kinds: Vec<String> = self
            .skipped_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        format!(
            "{} skipped ({}: {})",
            self.skipped,
            self.words.skipped,
            kinds.join(", ")
        )
    }
}

/// Everything a command found, the one thing every format renders: the workloads judged
/// (`results`, with their findings), what the command says beyond them (`items`: history's
/// digests, live's containers), the registry's answers, input errors, notes (why a run without
/// rejections is not a pass), and the counts. The exit code is decided here, from it alone.
#[derive(Debug, Default)]
pub struct Report {
    /// Every workload (or values image) judged.
    pub results: Vec<Checked>,
    /// What the command says beyond the results.
    pub items: Vec<Item>,
    /// Every input that could not be read.
    pub errors: Vec<InputError>,
    /// Why the run is not a pass although nothing was rejected (nothing checked, say).
    pub notes: Vec<String>,
    /// The counts over `results`: absent when the command judges no workload (`history`).
    pub summary: Option<Summary>,
    /// The command's own counts (`history`, `live`), each with its line of text.
    pub totals: Vec<Total>,
    /// What registries said about the digests the command asked for (`--verify-registry`).
    pub digests: Vec<DigestState>,
}

/// One thing a command says that is not a workload's own finding: a digest the Git history
/// pinned, a container that drifted, a digest its registry lost. Its level and fix are its
/// rule's (the table's), never stored beside it.
#[derive(Debug, Clone)]
pub struct Item {
    /// What kind of thing is said.
    pub rule: RuleId,
    /// The file the fix goes in, when there is one (`live` reads the cluster: none).
    pub file: Option<String>,
    /// Its line.
    pub line: usize,
    /// Its column.
    pub column: usize,
    /// What it is about: `Deployment agents/web container "web"`, a `repository@digest`.
    pub subject: String,
    /// The resource, for formats that group by resource (OpenReports; not in the JSON).
    pub resource: Option<Resource>,
    /// The field path or values key.
    pub path: Option<String>,
    /// What is said.
    pub message: String,
    /// The image as written.
    pub image: Option<String>,
    /// The `repository@digest` the item lists (`history`'s keep-list).
    pub reference: Option<String>,
    /// The container (or image volume) of the resource, for `live`.
    pub container: Option<String>,
    /// The command's detail (commits, pods).
    pub data: Option<Value>,
}

/// The JSON report's item (`docs/check-report.schema.json`): the fields, and the rule's level
/// and fix from the table.
impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("rule", self.rule.id())?;
        m.serialize_entry("level", &self.rule.level())?;
        m.serialize_entry("file", &self.file)?;
        m.serialize_entry("line", &self.line)?;
        m.serialize_entry("column", &self.column)?;
        m.serialize_entry("subject", &self.subject)?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("message", &self.message)?;
        m.serialize_entry("image", &self.image)?;
        m.serialize_entry("reference", &self.reference)?;
        m.serialize_entry("fix", self.rule.info().help)?;
        if let Some(c) = &self.container {
            m.serialize_entry("container", c)?;
        }
        if let Some(d) = &self.data {
            m.serialize_entry("data", d)?;
        }
        m.end()
    }
}

impl Item {
    /// The item as the text report prints it: `file:line:column: subject (path): message
    /// [rule]` (no place for what has none), before [`one_line`] makes it one line.
    pub fn text_line(&self) -> String {
        let word = match self.level() {
            Level::Error | Level::Note => "",
            Level::Warning => "warning: ",
        };
        let line = format!(
            "{}: {word}{} [{}]",
            self.who(),
            self.message,
            self.rule.id()
        );
        match self.at() {
            Some(at) => format!("{at}: {line}"),
            None => line,
        }
    }

    /// How it is shown: its rule's level.
    pub fn level(&self) -> Level {
        self.rule.level()
    }
}

impl Item {
    /// An item of `rule` about `subject`, at no file.
    pub fn new(rule: impl Into<RuleId>, subject: String, message: String) -> Item {
        let rule = rule.into();
        Item {
            rule,
            file: None,
            line: 1,
            column: 1,
            subject,
            resource: None,
            path: None,
            message,
            image: None,
            reference: None,
            container: None,
            data: None,
        }
    }

    /// `file:line:column`, when the item has a file.
    pub fn at(&self) -> Option<String> {
        self.file
            .as_ref()
            .map(|f| format!("{f}:{}:{}", self.line, self.column))
    }

    /// The subject with its path: `docker.io/a@sha256:… (image.tag)`.
    pub fn who(&self) -> String {
        match &self.path {
            Some(path) => format!("{} ({path})", self.subject),
            None => self.subject.clone(),
        }
    }
}

/// A Kubernetes object an item is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Its namespace (empty: cluster-scoped).
    pub namespace: String,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// What a registry said about one `repository@digest`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestState {
    /// `repository@digest`.
    pub reference: String,
    /// `Some(true)` present, `Some(false)` gone, `None` not checked.
    pub present: Option<bool>,
    /// The last commit that pinned it (`history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// A command's own counts, and the line that says them.
#[derive(Debug, Clone, Serialize)]
pub struct Total {
    /// The command (`history`, `live`).
    pub command: &'static str,
    /// The line of text.
    #[serde(skip)]
    pub text: String,
    /// The counts by name.
    pub counts: BTreeMap<&'static str, usize>,
}

impl Report {
    /// 2 when anything could not be checked (an input error, a runner error, a note, an item
    /// whose rule's outcome is "not checked"), else 1 when anything was rejected or an item
    /// fails, else 0: the only place an exit code is decided from what was found.
    pub fn exit_code(&self) -> u8 {
        let mut code = self
            .summary
            .as_ref()
            .map(|s| crate::outcome::exit_code(s, &[]))
            .unwrap_or(0);
        if !self.errors.is_empty() || !self.notes.is_empty() {
            code = 2;
        }
        self.items
            .iter()
            .map(|i| i.rule.info().outcome.exit_code())
            .fold(code, u8::max)
    }

    /// Takes in another report of the same run (a GitOps source's values, judged apart): its
    /// results, items, errors and notes, and its counts added to these.
    pub fn absorb(&mut self, other: Report) {
        if let (Some(mine), Some(theirs)) = (&mut self.summary, &other.summary) {
            mine.add(theirs);
        } else if self.summary.is_none() {
            self.summary = other.summary;
        }
        self.results.extend(other.results);
        self.items.extend(other.items);
        self.errors.extend(other.errors);
        self.notes.extend(other.notes);
        self.totals.extend(other.totals);
        self.digests.extend(other.digests);
    }

    /// Adds a note (exit 2): why the run is not a pass.
    pub fn note(&mut self, why: impl Into<String>) {
        self.notes.push(why.into());
    }
}

/// The file of a location (`a.yaml#3`, `a.yaml#3.items[1]`), or the whole source when it
/// names no document: `bad#1.yaml` is a file of that name.
pub fn file_of(location: &str) -> &str {
    match location.rsplit_once('#') {
        Some((file, doc))
            if let Some(doc) = doc.split(' ').next()
                && doc.starts_with(|c: char| c.is_ascii_digit())
                && doc.split(".items[").enumerate().all(|(i, part)| {
                    let digits = if i == 0 {
                        part
                    } else {
                        part.strip_suffix(']').unwrap_or("x")
                    };
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                }) =>
        {
            file
        }
        _ => location,
    }
}

/// Whether YAML (outside an escape) and XML 1.0 forbid `c` in a document, or advise against
/// it: C0 controls but tab, LF and CR, DEL, the C1 controls, U+FFFE and U+FFFF.
pub fn forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// `text` with every [`forbidden`] character written as a JSON escape (`\u007f`): for JSON
/// rendered into a YAML stream, where such characters can only stand inside strings, so the
/// value read back is the same.
pub fn yaml_safe(text: &str) -> String {
    escape_with(text, forbidden, |c| format!("\\u{:04x}", c as u32))
}

/// `text` with every [`forbidden`] character written as `\u{7f}` text: XML 1.0 has no way to
/// carry them at all (not even as character references).
pub fn xml_safe(text: &str) -> String {
    escape_with(text, forbidden, |c| format!("\\u{{{:x}}}", c as u32))
}

/// `text` on one line: every control character (line breaks included) and the Unicode line
/// and paragraph separators written as `\n`, `\u{85}`…, so a name cannot start a line of its
/// own (a forged `file:line:col:` finding) in a line-oriented output.
pub fn one_line(text: &str) -> String {
    escape_with(
        text,
        |c| {
            c.is_control() && c != '\t'
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}')
        },
        |c| match c {
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            c => format!("\\u{{{:x}}}", c as u32),
        },
    )
}

fn escape_with(text: &str, hit: impl Fn(char) -> bool, with: impl Fn(char) -> String) -> String {
    if !text.chars().any(&hit) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hit(c) {
            out.push_str(&with(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends `line`, made [`one_line`], and its line break.
pub fn push_line(out: &mut String, line: &str) {
    out.push_str(&one_line(line));
    out.push('\n');
}

/// One line per finding, warning and pin, each starting `file:line:column:`; nothing a
/// manifest holds can break a line (see [`one_line`]).
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.results {
        let subject = r.subject();
        let start = r.at(r.start());
        if let Some(e) = &r.error {
            push_line(&mut out, &format!("{start}: {subject}: ERROR: {e}"));
        } else if !r.allowed {
            if r.findings.is_empty() {
                push_line(
                    &mut out,
                    &format!(
                        "{start}: {subject}: REJECTED: {}",
                        r.summary.as_deref().unwrap_or("")
                    ),
                );
            }
            for f in &r.findings {
                let at = r.at_in(f.file.as_deref(), f.pos());
                push_line(
                    &mut out,
                    &format!("{at}: {subject}: {} {} [{}]", f.path, f.detail, f.rule.id()),
                );
            }
        }
        for w in &r.warnings {
            let at = r.at_in(w.file.as_deref(), w.pos());
            push_line(
                &mut out,
                &format!("{at}: {subject}: warning: {} [{}]", w.message, w.rule.id()),
            );
        }
        for op in r.patch.iter().filter_map(|p| p.as_array()).flatten() {
            let path = op.get("path").and_then(|p| p.as_str()).unwrap_or("");
            let value = op.get("value").map(|v| v.to_string()).unwrap_or_default();
            push_line(
                &mut out,
                &format!("{start}: {subject}: would pin {path} = {value}"),
            );
        }
    }
    for i in &report.items {
        push_line(&mut out, &i.text_line());
    }
    for e in &report.errors {
        push_line(&mut out, &format!("error: {e}"));
    }
    for n in &report.notes {
        push_line(&mut out, &format!("error: {n}"));
    }
    out.push_str(&summary_lines(report));
    out
}

/// The summary line of the results (when the command judged any) and each command's own.
pub fn summary_lines(report: &Report) -> String {
    let mut out = String::new();
    for t in &report.totals {
        push_line(&mut out, &t.text);
    }
    let Some(s) = &report.summary else {
        return out;
    };
    out.push_str(&format!(
        "{} {}: {} {} checked, {} accepted ({} with warnings), {} rejected, {} errored; {} out of scope; {}; {} input errors\n",
        s.documents,
        s.words.read,
        s.workloads,
        s.words.judged,
        s.accepted,
        s.with_warnings,
        s.rejected,
        s.errored,
        s.out_of_scope,
        s.skipped_text(),
        s.input_errors
    ));
    out
}

/// The JSON report (`docs/check-report.schema.json`) as a value (the web build hands it on
/// as it is, never through a string).
pub fn json_value(report: &Report) -> Value {
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    let mut doc = serde_json::json!({
        "schemaVersion": SCHEMA_VERSION,
        "results": report.results,
        "items": report.items,
        "inputErrors": errors,
        "notes": report.notes,
        "summary": report.summary,
    });
    if let Some(map) = doc.as_object_mut() {
        if !report.totals.is_empty() {
            let totals: serde_json::Map<String, Value> = report
                .totals
                .iter()
                .map(|t| (t.command.to_owned(), serde_json::json!(t.counts)))
                .collect();
            map.insert("totals".into(), Value::Object(totals));
        }
        if !report.digests.is_empty() {
            map.insert("registry".into(), serde_json::json!(report.digests));
        }
    }
    doc
}

/// The JSON report (`docs/check-report.schema.json`).
pub fn json(report: &Report) -> String {
    let doc = json_value(report);
    // Serialising plain data into a string cannot fail; an empty report would still be
    // caught by the exit code the caller returns.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_become_pointers() {
        assert_eq!(
            pointer("spec.template.spec.containers[0]"),
            "/spec/template/spec/containers/0"
        );
        assert_eq!(pointer("spec.a[1][2].b"), "/spec/a/1/2/b");
    }

    #[test]
    fn every_result_is_counted_once() {
        let warning = |m: &str| Warning {
            message: m.into(),
            rule: RuleId::Policy(image_digest_policy::rules::Rule::Unpinned),
            path: None,
            line: 1,
            column: 1,
            file: None,
        };
        let mut s = Summary::default();
        let base = Checked::new("f#1".into(), "Pod".into(), "ns".into(), "p".into());
        let errored = Checked {
            error: Some("trap".into()),
            warnings: vec![warning("w")],
            ..base.clone()
        };
        let accepted = Checked {
            allowed: true,
            warnings: vec![warning("w")],
            ..base.clone()
        };
        let out = Checked {
            allowed: true,
            out_of_scope: true,
            ..base.clone()
        };
        for r in [&errored, &accepted, &out, &base] {
            s.count(r);
        }
        s.skip("v1 ConfigMap".into());
        s.skip("v1 ConfigMap".into());
        assert_eq!(
            (
                s.workloads,
                s.accepted,
                s.rejected,
                s.errored,
                s.out_of_scope,
                s.with_warnings
            ),
            (2, 1, 1, 1, 1, 1)
        );
        assert_eq!(
            s.skipped_text(),
            "2 skipped (kinds not checked: v1 ConfigMap 2)"
        );
    }
}
