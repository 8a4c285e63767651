//! The checker's verdicts and their summary, in one shape every output format renders.

pub mod github;
pub mod junit;
pub mod openreports;
pub mod sarif;

use crate::input::InputError;
use image_digest_policy::report as policy;
use image_digest_policy::rules::Rule;
use serde::Serialize;
use std::collections::BTreeMap;

/// The version of the JSON report's shape (`docs/check-report.schema.json`); raised on any
/// change a reader could trip over.
pub const SCHEMA_VERSION: u32 = 1;

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
    pub rule: Rule,
    /// The `image:` value's position (the container's, or the document's, when it has none).
    pub line: usize,
    /// Its column.
    pub column: usize,
}

/// A warning, placed like a finding when it names a field path.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// The whole warning.
    pub message: String,
    /// The kind of warning (`unpinned`, `tag-moved`…).
    #[serde(serialize_with = "rule_id")]
    pub rule: Rule,
    /// The field path of the image, when the warning names one.
    pub path: Option<String>,
    /// The line of the image field.
    pub line: usize,
    /// Its column.
    pub column: usize,
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
fn rule_id<S: serde::Serializer>(rule: &Rule, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(rule.id())
}

/// The policy's finding, placed at the document's start until `place` finds its field.
pub fn finding(f: &policy::Finding) -> Finding {
    Finding {
        path: f.path.clone(),
        detail: f.detail(),
        rule: f.rule(),
        line: 1,
        column: 1,
    }
}

/// The policy's warning, placed like a finding.
pub fn warning(w: &policy::Warning) -> Warning {
    Warning {
        message: w.text.clone(),
        rule: w.rule,
        path: Some(w.path.clone()),
        line: 1,
        column: 1,
    }
}

/// `spec.template.spec.containers[0]` as a JSON pointer: `/spec/template/spec/containers/0`.
pub fn pointer(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        out.push('/');
        out.push_str(name);
        for index in indexes.split('[') {
            let index = index.trim_end_matches(']');
            if !index.is_empty() {
                out.push('/');
                out.push_str(index);
            }
        }
    }
    out
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

/// Everything a format needs.
pub struct Report<'a> {
    /// Every result.
    pub results: &'a [Checked],
    /// Every input error.
    pub errors: &'a [InputError],
    /// The counts.
    pub summary: &'a Summary,
    /// Why the run is not a pass although nothing was rejected (nothing checked, say).
    pub notes: &'a [String],
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
fn push_line(out: &mut String, line: &str) {
    out.push_str(&one_line(line));
    out.push('\n');
}

/// One line per finding, warning and pin, each starting `file:line:column:`; nothing a
/// manifest holds can break a line (see [`one_line`]).
pub fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    for r in report.results {
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
                let at = r.at(f.pos());
                push_line(
                    &mut out,
                    &format!("{at}: {subject}: {} {} [{}]", f.path, f.detail, f.rule.id()),
                );
            }
        }
        for w in &r.warnings {
            let at = r.at(w.pos());
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
    for e in report.errors {
        push_line(&mut out, &format!("error: {e}"));
    }
    for n in report.notes {
        push_line(&mut out, &format!("error: {n}"));
    }
    let s = report.summary;
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

/// The JSON report (`docs/check-report.schema.json`).
pub fn json(report: &Report<'_>) -> String {
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    let doc = serde_json::json!({
        "schemaVersion": SCHEMA_VERSION,
        "results": report.results,
        "inputErrors": errors,
        "notes": report.notes,
        "summary": report.summary,
    });
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
            rule: Rule::Unpinned,
            path: None,
            line: 1,
            column: 1,
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
