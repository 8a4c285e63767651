//! `image-digest-check`: evaluates Kubernetes manifests with the image-digest-policy wasm,
//! for GitOps CI and laptops, before anything reaches a cluster.
//!
//! Exit codes: 0 every workload accepted, 1 something rejected, 2 usage or input errors.

mod admission;
mod input;
mod report;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use image_digest_runner::replay::Recording;
use image_digest_runner::{Evaluator, Instance, NoCapabilities, Policy};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Parser, Debug)]
#[command(
    name = "image-digest-check",
    version,
    about = "Check Kubernetes manifests against the image tag/digest contract, offline",
    after_help = "Examples:\n  image-digest-check --settings prod.yaml rendered/\n  helm template agents charts/agents | image-digest-check --settings prod.yaml -\n\nExit codes: 0 all accepted, 1 something rejected, 2 usage or input errors."
)]
struct Cli {
    /// Manifests: files, directories (searched recursively for .yaml, .yml, .json), or - for stdin.
    paths: Vec<PathBuf>,
    /// Policy settings, YAML or JSON: what a ClusterAdmissionPolicy's `settings:` holds (a whole
    /// ClusterAdmissionPolicy is accepted too).
    #[arg(long, short)]
    settings: Option<PathBuf>,
    /// The policy module [default: ./policy.wasm, else the one this project builds].
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Namespace for manifests that name none (as `helm template -n` would install them).
    #[arg(long, short)]
    namespace: Option<String>,
    /// Report format.
    #[arg(long, short, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Evaluate recorded AdmissionRequest (or AdmissionReview) files as they are, like `kwctl run`.
    #[arg(long = "request", value_name = "FILE")]
    requests: Vec<PathBuf>,
    /// Answer host capabilities (pinDigests, verifyTagDigest) from a recorded session in kwctl's
    /// format; each evaluation replays it afresh. Without it, host lookups fail (and say so).
    #[arg(long = "replay-host-capabilities-interactions", value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Parallel evaluations [default: the number of CPUs].
    #[arg(long, short)]
    jobs: Option<usize>,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Print timing and peak memory on stderr.
    #[arg(long)]
    stats: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("image-digest-check: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One unit of work, handed to the workers: a YAML document still to parse, a document
/// already parsed (JSON streams), or a recorded request.
enum Unit {
    Chunk(input::Chunk),
    Doc(input::Document),
    Request { location: String, bytes: Vec<u8> },
}

/// What one unit gave.
#[derive(Default)]
struct UnitOut {
    documents: usize,
    skipped: usize,
    results: Vec<report::Result>,
    errors: Vec<input::InputError>,
}

fn run(cli: &Cli) -> Result<u8> {
    if cli.paths.is_empty() && cli.requests.is_empty() {
        bail!(
            "no input: give manifest files, directories, - for stdin, or --request FILE (see --help)"
        );
    }
    let settings = read_settings(cli.settings.as_deref())?;
    let policy_path = policy_path(cli.policy.as_deref())?;
    let policy = Policy::load(&policy_path)?;
    let evaluator = policy.with_settings(settings)?;
    let recording = cli.replay.as_deref().map(Recording::load).transpose()?;

    let (files, mut errors) = input::expand(&cli.paths);
    let mut units = Vec::new();
    for file in &files {
        let text = match input::read(file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let source = input::source_name(file);
        if input::is_json(&text) {
            let (docs, errs) = input::parse(&source, &text);
            errors.extend(errs);
            units.extend(docs.into_iter().map(Unit::Doc));
        } else {
            units.extend(
                input::split_yaml(&source, &text)
                    .into_iter()
                    .map(Unit::Chunk),
            );
        }
    }
    for path in &cli.requests {
        match std::fs::read(path) {
            Ok(bytes) => units.push(Unit::Request {
                location: path.display().to_string(),
                bytes,
            }),
            Err(e) => errors.push(input::InputError {
                source: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    let started = std::time::Instant::now();
    let outs = run_units(&evaluator, &units, recording.as_ref(), cli);
    let mut summary = report::Summary::default();
    let mut results = Vec::new();
    for out in outs {
        summary.documents += out.documents;
        summary.skipped += out.skipped;
        results.extend(out.results);
        errors.extend(out.errors);
    }
    if cli.stats {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "evaluated: {} documents in {secs:.3} s ({:.0}/s)",
            summary.documents,
            summary.documents as f64 / secs.max(1e-9)
        );
        eprintln!("peak memory: {}", peak_memory());
    }
    summary.workloads = results.len();
    for r in &results {
        if r.error.is_some() || !r.allowed {
            summary.rejected += 1;
        } else {
            summary.accepted += 1;
        }
        if !r.warnings.is_empty() {
            summary.with_warnings += 1;
        }
    }
    summary.errors = errors.len();
    let out = match cli.output {
        Format::Text => report::text(&results, &errors, &summary),
        Format::Json => report::json(&results, &errors, &summary),
        Format::Junit => report::junit(&results, &errors, &summary),
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    Ok(if !errors.is_empty() {
        2
    } else if summary.rejected > 0 {
        1
    } else {
        0
    })
}

/// Runs the units on `--jobs` threads and returns their outputs in input order.
///
/// Offline, each thread keeps one instance of the policy and evaluates its documents on it:
/// the policy keeps no state between calls, and a fresh instance per document would spend
/// most of a large run instantiating. An instance that failed is replaced. With a recorded
/// session every evaluation gets a fresh instance and a fresh replay, as in a kwctl run.
fn run_units(
    evaluator: &Evaluator<'_>,
    units: &[Unit],
    recording: Option<&Recording>,
    cli: &Cli,
) -> Vec<UnitOut> {
    let workers = cli
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, 64)
        .min(units.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let progress = !cli.quiet && units.len() >= 1000;
    let mut outs: Vec<(usize, UnitOut)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (next, done) = (&next, &done);
                scope.spawn(move || {
                    let mut worker = Worker {
                        evaluator,
                        recording,
                        instance: None,
                    };
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(unit) = units.get(i) else { break };
                        out.push((i, worker.unit(unit, cli.namespace.as_deref())));
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if progress && (n % 1000 == 0 || n == units.len()) {
                            eprintln!("image-digest-check: {n}/{} documents checked", units.len());
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    outs.sort_by_key(|(i, _)| *i);
    outs.into_iter().map(|(_, o)| o).collect()
}

struct Worker<'e, 'p> {
    evaluator: &'e Evaluator<'p>,
    recording: Option<&'e Recording>,
    instance: Option<Instance>,
}

impl Worker<'_, '_> {
    fn unit(&mut self, unit: &Unit, namespace: Option<&str>) -> UnitOut {
        let mut out = UnitOut::default();
        match unit {
            Unit::Chunk(chunk) => {
                let (docs, errors) = input::parse_chunk(chunk);
                out.errors = errors;
                for doc in &docs {
                    self.document(doc, namespace, &mut out);
                }
            }
            Unit::Doc(doc) => self.document(doc, namespace, &mut out),
            Unit::Request { location, bytes } => {
                out.documents += 1;
                let (kind, ns, name) = describe_request(bytes);
                let mut result = report::Result::new(location.clone(), kind, ns, name);
                self.evaluate(bytes, &mut result);
                out.results.push(result);
            }
        }
        out
    }

    fn document(&mut self, doc: &input::Document, namespace: Option<&str>, out: &mut UnitOut) {
        out.documents += 1;
        let location = doc.location();
        let Some(w) = admission::request_for(&doc.value, namespace, &location) else {
            out.skipped += 1;
            return;
        };
        let mut result = report::Result::new(location, w.kind, w.namespace, w.name);
        match serde_json::to_vec(&w.request) {
            Ok(bytes) => self.evaluate(&bytes, &mut result),
            Err(e) => result.error = Some(e.to_string()),
        }
        out.results.push(result);
    }

    fn evaluate(&mut self, request: &[u8], result: &mut report::Result) {
        let response = match self.recording {
            Some(r) => self.evaluator.validate_raw(request, Arc::new(r.session())),
            None => {
                let instance = match self.instance.take() {
                    Some(i) => Ok(i),
                    None => self.evaluator.instantiate(Arc::new(NoCapabilities)),
                };
                instance.and_then(|i| {
                    let r = self.evaluator.validate_on(&i, request);
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
                result.warnings = r.warnings;
                result.patch = r.patch;
                if let Some(m) = r.message {
                    let (summary, findings) = report::split_message(&m);
                    result.summary = summary;
                    result.findings = findings;
                }
            }
            Err(e) => result.error = Some(format!("{e:#}")),
        }
    }
}

/// The process's peak resident memory (Linux `VmHWM`).
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
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

fn read_settings(path: Option<&Path>) -> Result<Value> {
    let Some(path) = path else {
        return Ok(Value::Object(Default::default()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read settings {}", path.display()))?;
    let value: Value = serde_yaml::from_str(&text)
        .with_context(|| format!("settings {} are not valid YAML or JSON", path.display()))?;
    let is_policy = matches!(
        value.get("kind").and_then(Value::as_str),
        Some("ClusterAdmissionPolicy" | "AdmissionPolicy")
    );
    Ok(if is_policy {
        value
            .pointer("/spec/settings")
            .cloned()
            .unwrap_or(Value::Object(Default::default()))
    } else if value.is_null() {
        Value::Object(Default::default())
    } else {
        value
    })
}

fn policy_path(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let candidates = [
        PathBuf::from("policy.wasm"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy.wasm"),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .context("no policy module: pass --policy PATH, or build one with `make policy.wasm`")
}
