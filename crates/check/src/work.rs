//! Evaluating the documents on worker threads: one policy instance per thread, results in
//! input order, and a crash in a worker reported against the document it was on, never lost.

use crate::admission::{self, NamespaceFrom};
use crate::input::{self, InputError};
use crate::report;
use image_digest_policy::settings::{NamespaceScope, Settings};
use image_digest_runner::replay::Recording;
use image_digest_runner::{Evaluator, Instance, NoCapabilities};
use serde_json::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One unit of work: a YAML document still to parse, a document already parsed (JSON
/// streams), or a recorded request.
pub enum Unit {
    Chunk(input::Chunk),
    Doc(input::Document),
    Request { location: String, bytes: Vec<u8> },
}

impl Unit {
    /// Where the unit comes from, for a message about it.
    pub fn location(&self) -> String {
        match self {
            Unit::Chunk(c) => format!("{}#{} (line {})", c.source, c.index, c.line),
            Unit::Doc(d) => d.location(),
            Unit::Request { location, .. } => location.clone(),
        }
    }
}

/// What one unit gave.
#[derive(Default)]
pub struct UnitOut {
    pub documents: usize,
    /// `apiVersion kind` of every document skipped as not a workload.
    pub skipped: Vec<String>,
    pub results: Vec<report::Result>,
    pub errors: Vec<InputError>,
}

/// What every worker shares.
pub struct Context<'e, 'p> {
    pub evaluator: &'e Evaluator<'p>,
    pub recording: Option<&'e Recording>,
    /// `--namespace`.
    pub namespace: Option<&'e str>,
    /// The settings as the policy reads them: the namespace scope tells out-of-scope
    /// workloads from accepted ones, the custom kinds which documents are workloads.
    pub settings: &'e Settings,
    pub jobs: usize,
    pub progress: bool,
}

/// Runs the units on `jobs` threads and returns their outputs in input order.
///
/// Offline, each thread keeps one instance of the policy and evaluates its documents on it:
/// the policy keeps no state between calls, and a fresh instance per document would spend
/// most of a large run instantiating. An instance that failed is replaced. With a recorded
/// session every evaluation gets a fresh instance and a fresh replay, as in a kwctl run.
pub fn run(cx: &Context<'_, '_>, units: &[Unit]) -> Vec<UnitOut> {
    let workers = cx.jobs.clamp(1, 64).min(units.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let mut outs: Vec<(usize, UnitOut)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| worker_loop(cx, units, &next, &done)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(usize::MAX, lost_worker())])
            })
            .collect()
    });
    outs.sort_by_key(|(i, _)| *i);
    outs.into_iter().map(|(_, o)| o).collect()
}

fn worker_loop(
    cx: &Context<'_, '_>,
    units: &[Unit],
    next: &AtomicUsize,
    done: &AtomicUsize,
) -> Vec<(usize, UnitOut)> {
    let mut worker = Worker { cx, instance: None };
    let mut out = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(unit) = units.get(i) else { break };
        out.push((i, worker.guarded(unit)));
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if cx.progress && (n.is_multiple_of(1000) || n == units.len()) {
            eprintln!("image-digest-check: {n}/{} documents checked", units.len());
        }
    }
    out
}

/// A worker thread that died outside any unit (it cannot, but a lost result must still fail
/// the run).
fn lost_worker() -> UnitOut {
    UnitOut {
        errors: vec![InputError {
            source: "image-digest-check".into(),
            message: "a worker thread crashed; its documents were not all checked".into(),
        }],
        ..UnitOut::default()
    }
}

const INTERNAL: &str = "internal error while checking this document";

/// Runs `f` for `unit`, a crash turned into an error naming the unit: the run then exits 2
/// instead of losing the unit's results.
fn guard(unit: &Unit, f: impl FnOnce() -> UnitOut) -> UnitOut {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        UnitOut {
            errors: vec![InputError {
                source: unit.location(),
                message: format!("{INTERNAL}: {why}"),
            }],
            ..UnitOut::default()
        }
    })
}

struct Worker<'c, 'e, 'p> {
    cx: &'c Context<'e, 'p>,
    instance: Option<Instance>,
}

impl Worker<'_, '_, '_> {
    fn guarded(&mut self, unit: &Unit) -> UnitOut {
        let out = guard(unit, || self.unit(unit));
        if out.errors.iter().any(|e| e.message.starts_with(INTERNAL)) {
            self.instance = None;
        }
        out
    }

    fn unit(&mut self, unit: &Unit) -> UnitOut {
        let mut out = UnitOut::default();
        match unit {
            Unit::Chunk(chunk) => {
                let (docs, errors) = input::parse_chunk(chunk);
                out.errors = errors;
                for doc in &docs {
                    self.document(doc, &mut out);
                }
            }
            Unit::Doc(doc) => self.document(doc, &mut out),
            Unit::Request { location, bytes } => {
                out.documents += 1;
                let (kind, ns, name) = describe_request(bytes);
                // A recorded request is judged as kwctl would: the policy's answer, scope and
                // all, is the result.
                let mut result = report::Result::new(location.clone(), kind, ns, name);
                self.evaluate(bytes, &mut result);
                out.results.push(result);
            }
        }
        out
    }

    fn document(&mut self, doc: &input::Document, out: &mut UnitOut) {
        out.documents += 1;
        let location = doc.location();
        let custom = &self.cx.settings.custom_kinds;
        let w = match admission::request_for(&doc.value, self.cx.namespace, &location, custom) {
            Ok(w) => w,
            Err(admission::Skipped(kind)) => {
                out.skipped.push(kind);
                return;
            }
        };
        let scope = &self.cx.settings.namespaces;
        if w.namespace_from == NamespaceFrom::Default && is_scoped(scope) {
            out.errors.push(no_namespace(&location, &w, scope));
            return;
        }
        let mut result = report::Result::new(location, w.kind, w.namespace, w.name);
        result.file = doc.source.clone();
        result.out_of_scope = !scope.covers(&result.namespace);
        match serde_json::to_vec(&w.request) {
            Ok(bytes) => self.evaluate(&bytes, &mut result),
            Err(e) => result.error = Some(e.to_string()),
        }
        place(&mut result, doc);
        out.results.push(result);
    }

    fn evaluate(&mut self, request: &[u8], result: &mut report::Result) {
        let evaluator = self.cx.evaluator;
        let response = match self.cx.recording {
            Some(r) => evaluator.validate_raw(request, Arc::new(r.session())),
            None => {
                let instance = match self.instance.take() {
                    Some(i) => Ok(i),
                    None => evaluator.instantiate(Arc::new(NoCapabilities)),
                };
                instance.and_then(|i| {
                    let r = evaluator.validate_on(&i, request);
                    if r.is_ok() {
                        self.instance = Some(i);
                    }
                    r
                })
            }
        };
        match response {
            Ok(r) => {
                result.allowed = r.accepted;
                result.warnings = r.warnings.into_iter().map(report::warning).collect();
                result.patch = r.patch;
                if let Some(m) = r.message {
                    let (summary, findings) = report::split_message(&m);
                    result.summary = summary;
                    result.findings = findings;
                    result.message = Some(m);
                }
            }
            Err(e) => result.error = Some(format!("{e:#}")),
        }
    }
}

/// Puts the result, its findings and its warnings at their places in the document's file.
fn place(result: &mut report::Result, doc: &input::Document) {
    let start = doc.start();
    (result.line, result.column) = (start.line, start.column);
    let at = |path: &str| {
        let container = report::pointer(path);
        doc.position(&format!("{container}/image"))
            .or_else(|| doc.position(&container))
            .unwrap_or(start)
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

fn no_namespace(location: &str, w: &admission::Workload, scope: &NamespaceScope) -> InputError {
    InputError {
        source: location.to_owned(),
        message: format!(
            "{} {:?} has no metadata.namespace, and the settings check only some namespaces (include {:?}, exclude {:?}): \
             pass --namespace NAME, the namespace it will be installed in (as `helm template -n NAME`), or set metadata.namespace",
            w.kind, w.name, scope.include, scope.exclude
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_is_an_error_naming_the_document() {
        let unit = Unit::Request {
            location: "requests/pod.json".into(),
            bytes: Vec::new(),
        };
        let out = guard(&unit, || panic!("index out of bounds"));
        assert!(out.results.is_empty());
        assert_eq!(out.errors.len(), 1);
        assert_eq!(
            out.errors[0].to_string(),
            "requests/pod.json: internal error while checking this document: index out of bounds"
        );
        let fine = guard(&unit, || UnitOut {
            documents: 1,
            ..UnitOut::default()
        });
        assert_eq!((fine.documents, fine.errors.len()), (1, 0));
    }
}
