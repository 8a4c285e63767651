//! `image-digest-check live` and `pin --from-live`: what runs, read from the Pods' status
//! (`scan::live`), next to the contract judged on their specs.

use crate::work::{self, Unit};
use anyhow::{Result, bail};
use image_digest_pin::registry::ResolveError;
use image_digest_policy::reference;
use image_digest_policy::report::quote;
use image_digest_policy::settings::Settings;
use image_digest_scan::input::{self, Document, InputError};
use image_digest_scan::live::{self, Container, Observation};
use image_digest_scan::report::{DigestState, Item, Report, Resource, Total};
use image_digest_scan::rules::Tool;
use serde_json::Value;
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
                    line: None,
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
                cause: image_digest_pin::registry::Cause::Refused,
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

/// `image-digest-check live FILE…`: the contract judged on the pods' specs (the results), then
/// what runs (an item per observation about a container), and with `verify` what the registry
/// says about every running digest.
pub fn run(
    cx: &work::Context<'_, '_>,
    files: &[PathBuf],
    max_file_size: u64,
    allow_empty: bool,
    verify: Option<&image_digest_pin::registry::Options>,
) -> Report {
    let mut gathered = live::Gathered::default();
    let mut seen = Seen::default();
    let mut outs = Vec::new();
    let errors = read_pods(files, max_file_size, |docs, errors| {
        errors.extend(seen.twice(&docs));
        gathered.add(&docs, |ns| cx.settings.namespaces.covers(ns));
        // Each batch is checked and dropped: what stays is its results.
        let units: Vec<Unit> = docs.into_iter().map(Unit::Doc).collect();
        outs.extend(work::run(cx, &units));
    });
    let containers = gathered.finish();
    let mut report = Report::from_documents(outs, errors, &cx.settings.namespaces, allow_empty);
    let (mut drifted, mut said) = (0, 0);
    for c in &containers {
        for o in c.observe() {
            if let Some(item) = item(c, &o) {
                if item.rule == Tool::Drift.into() {
                    drifted += 1;
                } else {
                    said += 1;
                }
                report.items.push(item);
            }
        }
    }
    report.totals.push(Total {
        command: "live",
        text: format!(
            "live: {} containers of running workloads: {drifted} drifted, {said} notes",
            containers.len()
        ),
        counts: BTreeMap::from([
            ("containers", containers.len()),
            ("drifted", drifted),
            ("notes", said),
        ]),
    });
    if let Some(options) = verify {
        ask_registry(&containers, options, &mut report);
        let count =
            |state: Option<bool>| report.digests.iter().filter(|d| d.present == state).count();
        let (present, gone, unchecked) = (count(Some(true)), count(Some(false)), count(None));
        report.totals.push(Total {
            command: "registry",
            text: format!(
                "live: registry: {present} running digests present, {gone} gone, {unchecked} not checked"
            ),
            counts: BTreeMap::from([
                ("present", present),
                ("gone", gone),
                ("unchecked", unchecked),
            ]),
        });
        if report.digests.is_empty() && !allow_empty {
            // Asked to verify what runs, and no running registry digest to ask: nothing verified.
            report.note(
                "live: --verify-registry: no container runs a registry digest (none started, or only local images), so nothing was verified (--allow-empty accepts that)",
            );
        }
    }
    // Each container's items together (its observations, then what the registry said), so
    // every format reads one subject in one place (JUnit: one case per container).
    report.items.sort_by(|a, b| a.subject.cmp(&b.subject));
    if containers.is_empty() && !allow_empty {
        // Nothing about what runs was read: no Pod (in the settings' namespaces) in the input.
        report.note(
            "live: no Pod in the input (in the settings' namespaces): give the output of `kubectl get pods -A -o json`, or pass --allow-empty if that is expected",
        );
    }
    report
}

/// An item about a container, its subject and resource filled.
fn container_item(c: &Container, rule: Tool, message: String) -> Item {
    let mut item = Item::new(rule, who(c), message);
    item.resource = Some(Resource {
        namespace: c.workload.namespace.clone(),
        kind: c.workload.kind.clone(),
        name: c.workload.name.clone(),
    });
    item.container = Some(c.name.clone());
    item.image = Some(c.image.clone());
    item
}

/// `live --verify-registry`: every distinct running digest asked once (an index down to its
/// platform manifests), and a line per container whose running digest is gone or unchecked.
fn ask_registry(
    containers: &[Container],
    options: &image_digest_pin::registry::Options,
    report: &mut Report,
) {
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
    for (c, by_reference) in containers.iter().zip(&running) {
        for (reference, pods) in by_reference {
            let pods = pods.join(", ");
            let (rule, message) = match answers.get(reference) {
                Some(Ok(Presence::Present)) | None => continue,
                Some(Err(e)) => (
                    Tool::DigestUnchecked,
                    format!("runs {reference} (pods {pods}), which could not be checked: {e}"),
                ),
                Some(Ok(Presence::Gone { reason, .. })) => (
                    Tool::DigestGone,
                    format!(
                        "runs {reference} (pods {pods}), and the registry no longer has it ({reason}): the next reschedule fails to pull it"
                    ),
                ),
                Some(Ok(Presence::ChildGone {
                    platform, digest, ..
                })) => (
                    Tool::PlatformManifestGone,
                    format!(
                        "runs {reference} (pods {pods}), and its {platform} manifest {digest} is gone: the index answers, but a pull on {platform} fails: the next reschedule fails to pull it"
                    ),
                ),
                Some(Ok(Presence::BlobGone { what, blob, .. })) => (
                    Tool::BlobGone,
                    format!(
                        "runs {reference} (pods {pods}), and its {what} blob {blob} is gone: the next reschedule fails to pull it"
                    ),
                ),
            };
            let mut item = container_item(c, rule, message);
            item.reference = Some(reference.clone());
            report.items.push(item);
        }
    }
    report
        .digests
        .extend(answers.into_iter().map(|(reference, a)| DigestState {
            reference,
            present: match a {
                Ok(Presence::Present) => Some(true),
                Ok(_) => Some(false),
                Err(_) => None,
            },
            commit: None,
        }));
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

/// What `live` says about one observation; nothing when the pods agree.
fn item(c: &Container, o: &Observation) -> Option<Item> {
    let image = quote(&c.image);
    let (rule, message) = match o {
        Observation::Drift(digests) => (
            Tool::Drift,
            format!(
                "image {image} runs {} digests: {}",
                digests.len(),
                digests
                    .iter()
                    .map(|(d, pods)| format!("{d} (pods {})", pods.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Observation::RunningDigest { pinned } => {
            let mut item = container_item(
                c,
                Tool::RunningDigest,
                format!(
                    "runs {pinned} (image {image} has no digest: pin it to this one to change nothing that runs)"
                ),
            );
            item.reference = Some(pinned.clone());
            return Some(item);
        }
        Observation::Mismatch { running } => (
            Tool::DigestMismatch,
            format!(
                "image {image} is pinned, but its pods run {running} (a mirror or the runtime rewrote it)"
            ),
        ),
        Observation::Local(pods) => (
            Tool::LocalImage,
            format!(
                "image {image} runs a locally loaded image (a bare image ID, no registry digest) in pods {}: cannot be pinned from the cluster",
                pods.join(", ")
            ),
        ),
        Observation::Unknown(pods) => (
            Tool::NotStarted,
            format!(
                "image {image}: unknown in pods {}: {}",
                pods.join(", "),
                reasons(c, pods)
            ),
        ),
        Observation::Agrees => return None,
    };
    Some(container_item(c, rule, message))
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
