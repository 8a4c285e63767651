//! Evaluating the documents on worker threads: one policy instance per thread, results in
//! input order, and a crash in a worker reported against the document it was on, never lost.

use crate::input::{self, InputError};
use image_digest_policy::settings::Settings;
use image_digest_runner::replay::Recording;
use image_digest_runner::{Evaluator, Instance, NoCapabilities};
use image_digest_scan::document::{self, Out as UnitOut};
use image_digest_scan::judge::{Answer, Judge, JudgeError};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One unit of work: a YAML document still to parse, a document already parsed (JSON
/// streams), or a recorded request.
pub enum Unit {
    Chunk(input::Chunk),
    Doc(input::Document),
    Request {
        location: String,
        bytes: Vec<u8>,
    },
    /// Entries met while walking a directory that are not files to read (a FIFO, a socket, a
    /// device): counted as skipped, with why.
    Skipped(Vec<String>),
}

impl Unit {
    /// Where the unit comes from, for a message about it.
    pub fn location(&self) -> String {
        match self {
            Unit::Chunk(c) => format!("{}#{} (line {})", c.source, c.index, c.line),
            Unit::Doc(d) => d.location(),
            Unit::Request { location, .. } => location.clone(),
            Unit::Skipped(what) => what.join(", "),
        }
    }
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
    let mut worker = Worker {
        cx,
        wasm: Wasm {
            evaluator: cx.evaluator,
            recording: cx.recording,
            instance: None,
        },
    };
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
            line: None,
        }],
        ..UnitOut::default()
    }
}

const INTERNAL: &str = "internal error while checking this document";

/// Runs `f` for `unit`, a crash turned into an error naming the unit (`Err`): the run then
/// exits 2 instead of losing the unit's results.
fn guard(unit: &Unit, f: impl FnOnce() -> UnitOut) -> Result<UnitOut, UnitOut> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        UnitOut {
            errors: vec![InputError {
                source: unit.location(),
                message: format!("{INTERNAL}: {why}"),
                line: None,
            }],
            ..UnitOut::default()
        }
    })
}

struct Worker<'c, 'e, 'p> {
    cx: &'c Context<'e, 'p>,
    wasm: Wasm<'e, 'p>,
}

impl Worker<'_, '_, '_> {
    fn guarded(&mut self, unit: &Unit) -> UnitOut {
        guard(unit, || self.unit(unit)).unwrap_or_else(|crashed| {
            // The instance may be in any state after a crash: the next unit gets a fresh one.
            self.wasm.instance = None;
            crashed
        })
    }

    fn unit(&mut self, unit: &Unit) -> UnitOut {
        let mut out = UnitOut::default();
        let cx = document::Context {
            namespace: self.cx.namespace,
            settings: self.cx.settings,
        };
        match unit {
            Unit::Chunk(chunk) => {
                let (docs, errors) = input::parse_chunk(chunk);
                out.errors = errors;
                for doc in &docs {
                    document::check(&cx, doc, &mut self.wasm, &mut out);
                }
            }
            Unit::Doc(doc) => document::check(&cx, doc, &mut self.wasm, &mut out),
            Unit::Request { location, bytes } => {
                document::check_request(location, bytes, &mut self.wasm, &mut out)
            }
            Unit::Skipped(what) => out.skipped.extend(what.iter().cloned()),
        }
        out
    }
}

/// `policy.wasm` in wasmtime: one instance kept per worker (the policy keeps no state between
/// calls), replaced after a failure; with a recorded session, a fresh instance and a fresh
/// replay per evaluation, as in a kwctl run.
pub struct Wasm<'e, 'p> {
    evaluator: &'e Evaluator<'p>,
    recording: Option<&'e Recording>,
    instance: Option<Instance>,
}

impl<'e, 'p> Wasm<'e, 'p> {
    pub fn new(evaluator: &'e Evaluator<'p>) -> Self {
        Wasm {
            evaluator,
            recording: None,
            instance: None,
        }
    }
}

impl Judge for Wasm<'_, '_> {
    /// One evaluation per document, on the module the user runs: its `report` function
    /// answers the verdict and message `validate` would (what the cluster says) and the
    /// findings and warnings as data, so a `--policy` of another release reports its own.
    fn judge(&mut self, request: &[u8]) -> Result<Answer, JudgeError> {
        let evaluator = self.evaluator;
        let reported = match self.recording {
            Some(r) => {
                let session = Arc::new(r.session());
                let reported = evaluator.report_raw(request, session.clone());
                // kwctl warns, and goes on, when the policy asked for fewer exchanges than
                // were recorded; so does the checker, with kwctl's words and figures.
                if let Some(warning) = session.leftover() {
                    eprintln!("warning: replayed session: {warning}");
                }
                reported
            }
            None => {
                let instance = match self.instance.take() {
                    Some(i) => Ok(i),
                    None => evaluator.instantiate(Arc::new(NoCapabilities)),
                };
                instance.and_then(|i| {
                    let r = evaluator.report_on(&i, request);
                    if r.is_ok() {
                        self.instance = Some(i);
                    }
                    r
                })
            }
        };
        let reported = reported.map_err(|e| JudgeError::Failed(e.to_string()))?;
        Answer::from_data(reported.data, reported.response.patch)
    }
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
        let out = guard(&unit, || panic!("index out of bounds"))
            .err()
            .expect("a crash");
        assert!(out.results.is_empty());
        assert_eq!(out.errors.len(), 1);
        assert_eq!(
            out.errors[0].to_string(),
            "requests/pod.json: internal error while checking this document: index out of bounds"
        );
        let fine = guard(&unit, || UnitOut {
            documents: 1,
            ..UnitOut::default()
        })
        .ok()
        .expect("no crash");
        assert_eq!((fine.documents, fine.errors.len()), (1, 0));
    }
}
