//! One manifest document checked: the request the API server would send for it, the policy's
//! answer, and every finding and warning put at its line and column in the file.

use crate::admission::{self, NamespaceFrom};
use crate::input::{self, InputError};
use crate::judge::{Answer, Judge, JudgeError};
use crate::report;
use crate::rules::Tool;
use image_digest_policy::settings::{NamespaceScope, Settings};
use serde_json::Value;

/// What checking documents gave.
#[derive(Default)]
pub struct Out {
    /// Documents read.
    pub documents: usize,
    /// `apiVersion kind` of every document skipped as not a workload.
    pub skipped: Vec<String>,
    /// One result per workload document.
    pub results: Vec<report::Checked>,
    /// What could not be read or checked.
    pub errors: Vec<InputError>,
}

/// What every document is checked with.
pub struct Context<'a> {
    /// `--namespace`.
    pub namespace: Option<&'a str>,
    /// The settings as the policy reads them: the namespace scope tells out-of-scope
    /// workloads from accepted ones, the custom kinds which documents are workloads.
    pub settings: &'a Settings,
}

/// Checks one document with `judge`, adding to `out`.
pub fn check(cx: &Context<'_>, doc: &input::Document, judge: &mut dyn Judge, out: &mut Out) {
    out.documents += 1;
    let location = doc.location();
    let custom = &cx.settings.custom_kinds;
    let w = match admission::request_for(&doc.value, cx.namespace, &location, custom) {
        Ok(w) => w,
        Err(admission::Skipped(kind)) => {
            out.skipped.push(kind);
            return;
        }
    };
    let scope = &cx.settings.namespaces;
    if w.namespace_from == NamespaceFrom::Default && is_scoped(scope) {
        out.errors.push(no_namespace(&location, &w, scope));
        return;
    }
    let mut result = report::Checked::new(location, w.kind, w.namespace, w.name);
    result.file = doc.source.clone();
    result.out_of_scope = !scope.covers(&result.namespace);
    match serde_json::to_vec(&w.request) {
        Ok(bytes) => fill(&mut result, judge.judge(&bytes)),
        Err(e) => result.error = Some(e.to_string()),
    }
    place(&mut result, doc);
    if result.allowed && result.findings.is_empty() && imageless(cx, doc) {
        let start = doc.start();
        result.warnings.push(report::Warning {
            message: format!(
                "none of the paths the settings give for {} reached an image: nothing in it was judged",
                result.kind
            ),
            rule: Tool::NoImage.into(),
            path: None,
            line: start.line,
            column: start.column,
            file: None,
        });
    }
    out.results.push(result);
}

/// Whether `doc` is a custom kind's (a preset's or `customKinds`') in which no path reached an
/// image: accepted, but nothing was judged. Built-in kinds are not read again (their pod spec is
/// where the images are).
fn imageless(cx: &Context<'_>, doc: &input::Document) -> bool {
    let field = |k: &str| doc.value.get(k).and_then(Value::as_str).unwrap_or("");
    let group = field("apiVersion").split_once('/').map_or("", |(g, _)| g);
    image_digest_policy::kinds::Shape::of(group, field("kind")).is_none()
        && crate::images::of_document(doc, cx.settings).is_empty()
}

/// A recorded request, judged as kwctl would: the policy's answer, scope and all.
pub fn check_request(location: &str, bytes: &[u8], judge: &mut dyn Judge, out: &mut Out) {
    out.documents += 1;
    let (kind, ns, name) = describe_request(bytes);
    let mut result = report::Checked::new(location.to_owned(), kind, ns, name);
    fill(&mut result, judge.judge(bytes));
    out.results.push(result);
}

/// The policy's answer (or the failure to get one) on the result.
pub fn fill(result: &mut report::Checked, answer: Result<Answer, JudgeError>) {
    match answer {
        Ok(r) => {
            result.allowed = r.accepted;
            result.warnings = r.warnings.iter().map(report::warning).collect();
            result.findings = r.findings.iter().map(report::finding).collect();
            result.patch = r.patch;
            if let Some(m) = r.message {
                result.summary = m.lines().next().map(str::to_owned);
                result.message = Some(m);
            }
        }
        Err(e) => result.error = Some(e.to_string()),
    }
}

/// Puts the result, its findings and its warnings at their places in the document's file.
fn place(result: &mut report::Checked, doc: &input::Document) {
    let start = doc.start();
    (result.line, result.column) = (start.line, start.column);
    let at = |path: &str| {
        let container = report::pointer(path);
        doc.position(&format!("{container}/image"))
            .unwrap_or_else(|| doc.closest(&container))
    };
    for f in &mut result.findings {
        let pos = at(&f.path);
        (f.line, f.column) = (pos.line, pos.column);
    }
    for w in &mut result.warnings {
        let pos = w.path.as_deref().map_or(start, at);
        (w.line, w.column) = (pos.line, pos.column);
    }
}

/// Whether the settings check only some namespaces: then `default`, a guess, could put a
/// workload out of scope that the user meant to check.
pub fn is_scoped(scope: &NamespaceScope) -> bool {
    !scope.include.is_empty() || !scope.exclude.is_empty()
}

fn no_namespace(location: &str, w: &admission::Prepared, scope: &NamespaceScope) -> InputError {
    InputError {
        source: location.to_owned(),
        message: format!(
            "{} {:?} has no metadata.namespace, and the settings check only some namespaces (include {:?}, exclude {:?}): \
             pass --namespace NAME, the namespace it will be installed in (as `helm template -n NAME`), or set metadata.namespace",
            w.kind, w.name, scope.include, scope.exclude
        ),
        line: None,
    }
}

fn describe_request(bytes: &[u8]) -> (String, String, String) {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let r = v.get("request").unwrap_or(&v);
    let s = |p: &str| {
        r.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (s("/kind/kind"), s("/namespace"), s("/name"))
}
