//! `image-digest-check live` and `pin --from-live`: what runs, read from the Pods' status
//! (`scan::live`), next to the contract judged on their specs.

use crate::work::{self, Unit};
use crate::{Cli, Format};
use anyhow::{Result, bail};
use image_digest_pin::registry::ResolveError;
use image_digest_policy::reference;
use image_digest_policy::report::quote;
use image_digest_policy::settings::Settings;
use image_digest_scan::input::{self, Document, InputError};
use image_digest_scan::live::{self, Container, Observation};
use image_digest_scan::report::openreports::{self, Entry};
use image_digest_scan::report::{github, one_line};
use image_digest_scan::run::{self, Run};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Image as the specs write it → running digest → the workloads that run it so.
pub type RunningDigests = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// How many items of a JSON `List` are documents at once: the rest stay text.
const BATCH: usize = 256;

/// Reads the Pods of `files` (stdin for `-`), handing them to `each` in batches: a JSON
/// `List` (`kubectl get pods -A -o json`) item by item, so a 50,000-pod dump is never held
/// as documents all at once; anything else (YAML, a stream) a file at a time.
fn read_pods(
    files: &[PathBuf],
    max_file_size: u64,
    mut each: impl FnMut(Vec<Document>, &mut Vec<InputError>),
) -> Vec<InputError> {
    let expanded = crate::walk::expand(files);
    let mut errors = expanded.errors;
    for file in &expanded.files {
        let text = match input::read_limited(file, max_file_size) {
            Ok(text) => text,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let source = input::source_name(file);
        if let Some(mut items) = input::JsonItems::new(&source, &text) {
            let mut start = 0;
            while start < items.len() {
                let end = (start + BATCH).min(items.len());
                let (docs, e) = items.batch(start..end);
                errors.extend(e);
                each(docs, &mut errors);
                start = end;
            }
        } else {
            let (docs, e) = input::parse(&source, &text);
            errors.extend(e);
            each(docs, &mut errors);
        }
    }
    errors
}

/// The Pods met so far, to find one met twice (two snapshots concatenated, the same file
/// given twice): which copy tells what runs is unknown, so it is an input error, never
/// silently the last one.
#[derive(Default)]
struct Seen(BTreeMap<(String, String), String>);

impl Seen {
    fn twice(&mut self, docs: &[Document]) -> Vec<InputError> {
        let mut errors = Vec::new();
        for d in docs
            .iter()
            .filter(|d| d.value.get("kind").and_then(Value::as_str) == Some("Pod"))
        {
            let field = |p: &str| {
                d.value
                    .pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let key = (field("/metadata/namespace"), field("/metadata/name"));
            if let Some(first) = self.0.get(&key) {
                errors.push(InputError {
                    source: d.location(),
                    message: format!(
                        "Pod {}/{} is here a second time (first at {first}): two snapshots, or one file given twice? Give one `kubectl get pods -A -o json`",
                        key.0, key.1
                    ),
                });
            } else {
                self.0.insert(key, d.location());
            }
        }
        errors
    }
}

/// The running digests of the Pods in `pods`, for `pin --from-live`.
pub fn running(pods: &Path, settings: &Settings) -> Result<RunningDigests> {
    let mut gathered = live::Gathered::default();
    let mut seen = Seen::default();
    let errors = read_pods(
        &[pods.to_path_buf()],
        input::MAX_FILE_SIZE,
        |docs, errors| {
            errors.extend(seen.twice(&docs));
            gathered.add(&docs, |ns| settings.namespaces.covers(ns));
        },
    );
    if let Some(e) = errors.first() {
        bail!("--from-live {}: {e}", pods.display());
    }
    let containers = gathered.finish();
    if containers.is_empty() {
        bail!(
            "--from-live {}: no Pod in it (in the settings' namespaces): give the output of `kubectl get pods -A -o json`",
            pods.display()
        );
    }
    Ok(live::running_digests(&containers))
}

/// `pin`'s answers from the cluster: the one digest the pods run for each image (matched as
/// written, or as the same normalised reference), or why there is not one.
pub fn answers(
    lookups: &[String],
    running: &RunningDigests,
) -> BTreeMap<String, Result<String, ResolveError>> {
    let normal = |image: &str| reference::parse(image).ok().map(|r| r.normalized());
    lookups
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|image| {
            let wanted = normal(image);
            let mut digests: BTreeMap<&String, BTreeSet<&String>> = BTreeMap::new();
            for (written, by_digest) in running {
                if written == image || (wanted.is_some() && normal(written) == wanted) {
                    for (digest, workloads) in by_digest {
                        digests.entry(digest).or_default().extend(workloads);
                    }
                }
            }
            let error = |reason: String| ResolveError {
                registry: image_digest_pin::registry::CLUSTER.into(),
                reason,
                gone: false,
            };
            let answer = match digests.len() {
                0 => Err(error(
                    "no running pod runs it (none in the pods given, or none started)".into(),
                )),
                1 => Ok(digests
                    .keys()
                    .next()
                    .map(|d| (*d).clone())
                    .unwrap_or_default()),
                n => Err(error(format!(
                    "the pods run it at {n} digests: {}",
                    digests
                        .iter()
                        .map(|(d, w)| format!(
                            "{d} ({})",
                            w.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ))),
            };
            (image.clone(), answer)
        })
        .collect()
}

/// `image-digest-check live FILE…`: the contract on the pods' specs, then what runs.
pub fn run(
    cli: &Cli,
    files: &[PathBuf],
    verify: Option<&image_digest_pin::registry::Options>,
) -> Result<u8> {
    if matches!(cli.output, Format::Prometheus) && verify.is_none() {
        bail!("live --output prometheus reports what the registry answered: add --verify-registry");
    }
    if matches!(cli.output, Format::Junit | Format::Sarif | Format::List) {
        bail!("live reports as text, json, github, pins or openreports");
    }
    let settings = crate::read_settings(cli.settings.as_deref())?;
    let policy = crate::load_policy(cli)?;
    let evaluator = policy.with_settings(settings.clone())?;
    let parsed = crate::core_settings(&settings)?;
    let cx = work::Context {
        evaluator: &evaluator,
        recording: None,
        namespace: cli.namespace.as_deref(),
        settings: &parsed,
        jobs: cli.jobs.unwrap_or(1).max(1),
        progress: false,
    };
    let mut gathered = live::Gathered::default();
    let mut seen = Seen::default();
    let mut outs = Vec::new();
    let errors = read_pods(files, cli.max_file_size, |docs, errors| {
        errors.extend(seen.twice(&docs));
        gathered.add(&docs, |ns| parsed.namespaces.covers(ns));
        // Each batch is checked and dropped: what stays is its results.
        let units: Vec<Unit> = docs.into_iter().map(Unit::Doc).collect();
        outs.extend(work::run(&cx, &units));
    });
    let containers = gathered.finish();
    let registry = verify.map(|options| ask_registry(&containers, options));
    let checked = Run::from_documents(outs, errors, &parsed.namespaces, cli.allow_empty);
    let drift = containers.iter().any(|c| {
        c.observe()
            .iter()
            .any(|o| matches!(o, Observation::Drift(_)))
    });
    let text = match cli.output {
        Format::Pins => pins(&containers),
        Format::Prometheus => prometheus(registry.as_ref()),
        Format::Json => {
            let check: Value =
                serde_json::from_str(&checked.render(run::Format::Json)).unwrap_or(Value::Null);
            let mut doc = json!({"check": check, "live": containers.iter().map(container_json).collect::<Vec<_>>()});
            if let (Some(r), Some(map)) = (&registry, doc.as_object_mut()) {
                // `--verify-registry`: each running digest, and whether it is still there
                // (`null`: it could not be asked).
                map.insert("registry".into(), json!(r.states));
            }
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        Format::Openreports => {
            let mut entries = openreports::entries(&checked.results);
            entries.extend(containers.iter().flat_map(report_entries));
            openreports::render(&entries)
        }
        Format::Github => {
            let mut out = checked.render(run::Format::Github);
            for (i, c) in containers.iter().enumerate() {
                for line in lines(c).into_iter().chain(
                    registry
                        .iter()
                        .flat_map(|r| r.lines.iter().filter(|(at, _)| *at == i))
                        .map(|(_, l)| (true, l.clone())),
                ) {
                    let level = if line.0 { "error" } else { "warning" };
                    out.push_str(&format!(
                        "::{level} title=image-digest-check%3A live::{}\n",
                        github::data(&line.1)
                    ));
                }
            }
            out
        }
        _ => {
            let mut out = checked.render(run::Format::Text);
            let mut counts = (0, 0, 0);
            for c in &containers {
                for (blocking, line) in lines(c) {
                    if blocking {
                        counts.0 += 1;
                    } else {
                        counts.1 += 1;
                    }
                    out.push_str(&one_line(&line));
                    out.push('\n');
                }
                counts.2 += 1;
            }
            for (_, line) in registry.iter().flat_map(|r| &r.lines) {
                out.push_str(&one_line(line));
                out.push('\n');
            }
            out.push_str(&format!(
                "live: {} containers of running workloads: {} drifted, {} notes\n",
                counts.2, counts.0, counts.1
            ));
            if let Some(r) = &registry {
                out.push_str(&format!(
                    "live: registry: {} running digests present, {} gone, {} not checked\n",
                    r.count(Some(true)),
                    r.count(Some(false)),
                    r.count(None)
                ));
            }
            out
        }
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if cli.stats {
        eprintln!("peak memory: {}", crate::peak_memory());
    }
    let code = match &registry {
        // Asked to verify what runs, and no running registry digest to ask: nothing verified.
        Some(r) if r.states.is_empty() && !cli.allow_empty => {
            eprintln!(
                "live: --verify-registry: no container runs a registry digest (none started, or only local images), so nothing was verified (exit 2; --allow-empty accepts that)"
            );
            checked.exit_code().max(2)
        }
        Some(r) if r.count(None) > 0 => checked.exit_code().max(2),
        Some(r) if r.count(Some(false)) > 0 => checked.exit_code().max(1),
        _ => checked.exit_code(),
    };
    if containers.is_empty() && !cli.allow_empty {
        // Nothing about what runs was read: no Pod (in the settings' namespaces) in the input.
        eprintln!(
            "live: no Pod in the input (in the settings' namespaces): give the output of `kubectl get pods -A -o json`, or pass --allow-empty if that is expected"
        );
        return Ok(code.max(2));
    }
    Ok(if drift { code.max(1) } else { code })
}

/// What the registry said about the digests that run.
struct Asked {
    /// (the container's index in `containers`; the line about it).
    lines: Vec<(usize, String)>,
    /// Every running `repository@digest` asked: `Some(true)` present, `Some(false)` gone,
    /// `None` not checked.
    states: BTreeMap<String, Option<bool>>,
}

impl Asked {
    /// How many running digests are in `state`.
    fn count(&self, state: Option<bool>) -> usize {
        self.states.values().filter(|s| **s == state).count()
    }
}

/// `live --verify-registry`: every distinct running digest asked once (an index down to its
/// platform manifests), and a line per container whose running digest is gone or unchecked.
fn ask_registry(containers: &[Container], options: &image_digest_pin::registry::Options) -> Asked {
    use image_digest_pin::registry::{Presence, verify_all};
    // Per container, each `repository@digest` its pods run, with those pods.
    let running: Vec<BTreeMap<String, Vec<&str>>> = containers
        .iter()
        .map(|c| {
            let mut by_reference: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for (pod, r) in &c.pods {
                if let live::Running::Digest { repository, digest } = r {
                    by_reference
                        .entry(format!("{repository}@{digest}"))
                        .or_default()
                        .push(pod);
                }
            }
            by_reference
        })
        .collect();
    let refs: Vec<String> = running
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let answers = verify_all(&refs, options);
    let mut lines = Vec::new();
    for (i, (c, by_reference)) in containers.iter().zip(&running).enumerate() {
        for (reference, pods) in by_reference {
            let pods = pods.join(", ");
            let why = match answers.get(reference) {
                Some(Ok(Presence::Present)) | None => continue,
                Some(Err(e)) => {
                    lines.push((
                        i,
                        format!(
                            "{}: runs {reference} (pods {pods}), which could not be checked: {e}",
                            who(c)
                        ),
                    ));
                    continue;
                }
                Some(Ok(Presence::Gone(reason))) => {
                    format!("the registry no longer has it ({reason})")
                }
                Some(Ok(Presence::ChildGone {
                    platform, digest, ..
                })) => format!(
                    "its {platform} manifest {digest} is gone: the index answers, but a pull on {platform} fails"
                ),
                Some(Ok(Presence::BlobGone { what, blob, .. })) => {
                    format!("its {what} blob {blob} is gone")
                }
            };
            lines.push((
                i,
                format!(
                    "{}: runs {reference} (pods {pods}), and {why}: the next reschedule fails to pull it",
                    who(c)
                ),
            ));
        }
    }
    let states = answers
        .into_iter()
        .map(|(k, a)| {
            let state = match a {
                Ok(Presence::Present) => Some(true),
                Ok(_) => Some(false),
                Err(_) => None,
            };
            (k, state)
        })
        .collect();
    Asked { lines, states }
}

/// The running digests as node-exporter textfile metrics (as `history --output prometheus`).
fn prometheus(asked: Option<&Asked>) -> String {
    let rows: Vec<crate::metrics::Row> = asked
        .iter()
        .flat_map(|a| &a.states)
        .map(|(reference, state)| {
            let (repository, digest) = reference.split_once('@').unwrap_or((reference, ""));
            (
                vec![
                    ("repository", repository.to_owned()),
                    ("digest", digest.to_owned()),
                ],
                *state,
            )
        })
        .collect();
    crate::metrics::render(&rows, "the cluster runs")
}

/// `Deployment agents/web container "web"`
fn who(c: &Container) -> String {
    format!("{} {} {:?}", c.workload, container_noun(c), c.name)
}

fn container_noun(c: &Container) -> &'static str {
    match c.list {
        "initContainers" => "init container",
        "ephemeralContainers" => "ephemeral container",
        "volumes" => "image volume",
        _ => "container",
    }
}

/// The lines `live` prints for a container: (blocking, text).
fn lines(c: &Container) -> Vec<(bool, String)> {
    c.observe().iter().filter_map(|o| line(c, o)).collect()
}

/// What `live` says about one observation: (blocking, text); nothing when the pods agree.
fn line(c: &Container, o: &Observation) -> Option<(bool, String)> {
    match o {
        Observation::Drift(digests) => Some((
            true,
            format!(
                "{}: drift: image {} runs {} digests: {}. Fix: pin it to the digest you mean, then roll the workload out",
                who(c),
                quote(&c.image),
                digests.len(),
                digests
                    .iter()
                    .map(|(d, pods)| format!("{d} (pods {})", pods.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
        Observation::RunningDigest { pinned } => Some((
            false,
            format!(
                "{}: runs {pinned} (image {} has no digest: pin it to this one to change nothing that runs)",
                who(c),
                quote(&c.image)
            ),
        )),
        Observation::Mismatch { running } => Some((
            false,
            format!(
                "{}: warning: image {} is pinned, but its pods run {running} (a mirror or the runtime rewrote it)",
                who(c),
                quote(&c.image)
            ),
        )),
        Observation::Local(pods) => Some((
            false,
            format!(
                "{}: image {} runs a locally loaded image (a bare image ID, no registry digest) in pods {}: cannot be pinned from the cluster",
                who(c),
                quote(&c.image),
                pods.join(", ")
            ),
        )),
        Observation::Unknown(pods) => Some((
            false,
            format!(
                "{}: image {}: unknown in pods {}: {}",
                who(c),
                quote(&c.image),
                pods.join(", "),
                reasons(c, pods)
            ),
        )),
        Observation::Agrees => None,
    }
}

fn reasons(c: &Container, pods: &[String]) -> String {
    let set: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| match c.pods.get(p) {
            Some(live::Running::Unknown(r)) => Some(r.clone()),
            _ => None,
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// `--output pins`: the running digest of every tag-only container whose pods agree.
fn pins(containers: &[Container]) -> String {
    let mut out = String::new();
    for c in containers {
        for o in c.observe() {
            if let Observation::RunningDigest { pinned } = o {
                out.push_str(&format!(
                    "{}/{}/{}\t{}\t{pinned}\n",
                    c.workload.namespace, c.workload.kind, c.workload.name, c.name
                ));
            }
        }
    }
    out
}

fn container_json(c: &Container) -> Value {
    let observations: Vec<Value> = c
        .observe()
        .into_iter()
        .map(|o| match o {
            Observation::Drift(d) => json!({"drift": d}),
            Observation::RunningDigest { pinned } => json!({"runningDigest": pinned}),
            Observation::Mismatch { running } => json!({"mismatch": running}),
            Observation::Local(p) => json!({"localImage": p}),
            Observation::Unknown(p) => json!({"unknown": p}),
            Observation::Agrees => json!({"agrees": true}),
        })
        .collect();
    let pods: BTreeMap<&String, String> = c
        .pods
        .iter()
        .map(|(p, r)| {
            let text = match r {
                live::Running::Digest { repository, digest } => format!("{repository}@{digest}"),
                live::Running::Local(id) => format!("local {id}"),
                live::Running::Unknown(why) => format!("unknown: {why}"),
            };
            (p, text)
        })
        .collect();
    json!({
        "namespace": c.workload.namespace, "kind": c.workload.kind, "name": c.workload.name,
        "list": c.list, "container": c.name, "image": c.image,
        "pods": pods, "observations": observations,
    })
}

/// The OpenReports results of what runs: drift fails, a mismatch or a local image warns, a
/// container whose pods agree passes, one not started is skipped.
fn report_entries(c: &Container) -> Vec<Entry> {
    let entry = |rule: &'static str, result: &'static str, message: String| Entry {
        namespace: c.workload.namespace.clone(),
        kind: c.workload.kind.clone(),
        name: c.workload.name.clone(),
        rule,
        result,
        message,
    };
    c.observe()
        .iter()
        .map(|o| {
            let text = line(c, o)
                .map(|(_, l)| l)
                .unwrap_or_else(|| format!("{}: runs the pinned digest", who(c)));
            match o {
                Observation::Drift(_) => entry("drift", "fail", text),
                Observation::RunningDigest { .. } => entry("running-digest", "pass", text),
                Observation::Mismatch { .. } => entry("digest-mismatch", "warn", text),
                Observation::Local(_) => entry("local-image", "warn", text),
                Observation::Unknown(_) => entry("not-started", "skip", text),
                Observation::Agrees => entry("running-digest", "pass", text),
            }
        })
        .collect()
}
