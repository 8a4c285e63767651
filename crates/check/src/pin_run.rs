//! `image-digest-check pin`: plan (`pin_plan`), resolve every distinct image once, edit every
//! file in memory, re-read the edited files to prove each image now reads pinned, and only then
//! write them (each atomically) or, with `--dry-run`, print the diff. Any lookup or edit that
//! fails leaves every file exactly as it was.

use crate::pin_plan::{self, Action, EditKind, Planned, Site, Source};
use crate::walk;
use anyhow::{Result, bail};
use image_digest_pin::edit::{self, Edit};
use image_digest_pin::registry::{self, Options, ResolveError};
use image_digest_pin::write;
use image_digest_policy::report::quote;
use image_digest_policy::settings::Settings;
use image_digest_scan::input::{self, InputError};
use image_digest_scan::report::{Item, Report, Total};
use image_digest_scan::rules::Tool;
use image_digest_scan::values;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What the user asked for.
pub struct Request<'a> {
    pub manifests: &'a [PathBuf],
    pub values: &'a [PathBuf],
    pub dry_run: bool,
    /// Exit 0 when the inputs hold no image at all (by default that is exit 2: a mistyped path
    /// or a directory of other kinds would otherwise look like "nothing to pin").
    pub allow_empty: bool,
    pub options: Options,
    /// `--from-live`: the running digests by image (`live::running`) instead of the registry.
    pub from_live: Option<crate::live::RunningDigests>,
}

/// Runs `pin` into its report: an item per image pinned (or, with `--dry-run`, to pin, which
/// is exit 1) and per image that cannot be pinned as written; a failed lookup or edit is a
/// note, and nothing is written then (exit 2).
pub fn run(request: &Request<'_>, settings: &Settings) -> Result<Report> {
    if request.manifests.is_empty() && request.values.is_empty() {
        bail!(
            "nothing to pin: give manifest files or directories, and/or --values FILE (see pin --help)"
        );
    }
    if request
        .manifests
        .iter()
        .chain(request.values)
        .any(|p| p.as_os_str() == "-")
    {
        bail!("pin edits files in place, so it cannot read stdin (-): give the files");
    }
    let (manifests, values, mut errors) = read_sources(request);
    let (sites, unreadable) = plan(&manifests, &values, settings);
    errors.extend(unreadable);
    let mut report = Report::default();
    if !errors.is_empty() {
        report.note(format!(
            "pin: nothing was written: {} input errors",
            errors.len()
        ));
        report.errors = errors;
        return Ok(report);
    }
    if sites.is_empty() && !request.allow_empty {
        report.note(format!(
            "pin: no image found in {} manifest files and {} values files: check the paths (only workloads of the kinds the policy reads are searched), or pass --allow-empty if that is expected",
            manifests.len(),
            values.len()
        ));
        return Ok(report);
    }
    let lookups: Vec<String> = sites
        .iter()
        .filter(|s| matches!(s.action, Action::Pin(_)))
        .map(|s| s.image.clone())
        .collect();
    let answers = match &request.from_live {
        Some(running) => crate::live::answers(&lookups, running),
        None => {
            // A docker config that cannot be used stops the run before any lookup, once,
            // naming the file: it must never mean anonymous access, nor one error per image.
            if !lookups.is_empty()
                && let Err(e) = image_digest_pin::credentials::check_config()
            {
                report.note(format!(
                    "{e}: pin wrote nothing, since the registry credentials cannot be read"
                ));
                return Ok(report);
            }
            registry::resolve_all(&lookups, &request.options)
        }
    };
    let mut problems = Vec::new();
    let edits = edits_by_file(&sites, &answers, settings, &mut problems);
    let expected: Vec<(Site, String)> = sites
        .iter()
        .filter(|s| matches!(s.action, Action::Pin(_)))
        .filter_map(|s| match answers.get(&s.image) {
            Some(Ok(d)) => Some((s.clone(), format!("{}@{d}", s.image))),
            _ => None,
        })
        .collect();
    let changed = if problems.is_empty() {
        apply(
            &manifests,
            &values,
            &edits,
            &expected,
            settings,
            &mut problems,
        )
    } else {
        Vec::new()
    };
    report_sites(&mut report, &sites, &answers, request.dry_run);
    if !problems.is_empty() {
        let n = problems.len();
        report.notes.extend(problems);
        report.note(format!("pin: nothing was written: {n} problems"));
        return Ok(report);
    }
    finish(request, &sites, &changed, &mut report);
    Ok(report)
}

fn read_sources(request: &Request<'_>) -> (Vec<Source>, Vec<Source>, Vec<InputError>) {
    let expanded = walk::expand(request.manifests);
    let mut errors = expanded.errors;
    let mut read = |paths: &[PathBuf]| -> Vec<Source> {
        paths
            .iter()
            .filter_map(|path| match input::read(path) {
                Ok(text) => Some(Source {
                    path: path.clone(),
                    name: input::source_name(path),
                    text,
                }),
                Err(e) => {
                    errors.push(e);
                    None
                }
            })
            .collect()
    };
    let manifests = read(&expanded.files);
    let values = read(request.values);
    (manifests, values, errors)
}

/// The images a kustomization's chart renders, each with its edit in the layer that sets its
/// tag (a `valuesInline` block of the kustomization, the values file); never in the vendored
/// chart, which kustomize pulls again: an image whose tag only the chart sets is refused.
fn chart_sites(
    chart: &crate::gitops::Chart,
    texts: &dyn Fn(&std::path::Path) -> Option<String>,
    settings: &Settings,
    errors: &mut Vec<InputError>,
) -> Vec<Site> {
    let mut sources = Vec::new();
    for layer in &chart.layers {
        let Some((_, path)) = chart.origins.iter().find(|(n, _)| *n == layer.name) else {
            continue;
        };
        let text = match texts(path).map(Ok).unwrap_or_else(|| input::read(path)) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        sources.push(Source {
            path: path.clone(),
            name: layer.name.clone(),
            text,
        });
    }
    let merged = values::merge(&chart.layers);
    let mut sites = pin_plan::values_sites(&sources, &merged, settings);
    if let Some(vendored) = &chart.vendored {
        for site in &mut sites {
            if let Action::Pin(planned) = &site.action
                && planned.file.starts_with(vendored)
            {
                site.action = Action::Refused(format!(
                    "its tag is set only in the vendored chart ({}), which kustomize pulls again: set the tag in valuesInline or the values file, then pin it",
                    input::source_name(vendored)
                ));
            }
        }
    }
    sites
}

use crate::gitops::identity;

/// An Argo CD `helm.parameters` entry that sets a tag: the digest becomes a parameter of its
/// own (`image.tag` → `image.digest`), added only where the chart's values have that key;
/// else the site is refused, saying what to do.
fn parameter_sites(
    sites: &mut [Site],
    chart: &crate::gitops::Chart,
    parameters: &[(String, usize, String)],
) {
    for site in sites {
        let Action::Pin(planned) = &mut site.action else {
            continue;
        };
        let Some((_, _, parameter)) = parameters
            .iter()
            .find(|(name, line, _)| *name == site.source && *line == planned.line)
        else {
            continue;
        };
        let digest = parameter
            .strip_suffix(".tag")
            .map(|block| format!("{block}.digest"));
        let chart_has = digest.as_ref().is_some_and(|d| {
            let pointer: String = d.split('.').map(|p| format!("/{p}")).collect();
            chart
                .layers
                .first()
                .filter(|_| chart.vendored.is_some())
                .is_some_and(|defaults| defaults.value().pointer(&pointer).is_some())
        });
        match digest.filter(|_| chart_has) {
            Some(name) => planned.kind = pin_plan::EditKind::NewParameter(name),
            None => {
                site.action = Action::Refused(format!(
                    "its tag is the helm parameter {parameter:?}, and the chart's values have no digest key beside it: set the image in the values with its digest, then pin it"
                ));
            }
        }
    }
}

/// Every site of every input, and the inputs that could not be read as YAML (nothing is
/// written while there are any).
pub(crate) fn plan(
    manifests: &[Source],
    values: &[Source],
    settings: &Settings,
) -> (Vec<Site>, Vec<InputError>) {
    let mut sites = Vec::new();
    let mut errors = Vec::new();
    // GitOps sources, found as the check finds them: a kustomization's resources are pinned as
    // kustomize renders them (an `images` entry gets the digest of the image it sets), charts
    // and Applications' values where their tags are set, and nothing of theirs again as a
    // plain manifest. What kustomize reads comes from the texts in hand (edited, when this is
    // the check after the edits), else from disk.
    let texts = |p: &std::path::Path| {
        let p = identity(p);
        manifests
            .iter()
            .chain(values)
            .find(|s| identity(&s.path) == p)
            .map(|s| s.text.clone())
    };
    let paths: Vec<PathBuf> = manifests.iter().map(|s| s.path.clone()).collect();
    let found = crate::gitops::discover(&paths, &texts, input::MAX_FILE_SIZE);
    for k in &found.sources {
        errors.extend(k.errors.iter().cloned());
        for chart in &k.charts {
            let mut charted = chart_sites(chart, &texts, settings, &mut errors);
            parameter_sites(&mut charted, chart, &k.parameter_lines);
            sites.extend(charted);
        }
        for r in &k.resources {
            // The file as given (its edits are keyed by that path), else read from disk.
            let given = manifests
                .iter()
                .find(|s| identity(&s.path) == identity(&r.path));
            let file = match given {
                Some(s) => s.clone(),
                None => match input::read(&r.path) {
                    Ok(text) => Source {
                        path: r.path.clone(),
                        name: input::source_name(&r.path),
                        text,
                    },
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
            };
            let (docs, unreadable) = input::parse(&file.name, &file.text);
            errors.extend(unreadable);
            for doc in &docs {
                sites.extend(pin_plan::kustomized_sites(&file, doc, &r.rules, settings));
            }
        }
    }
    let consumed = found.consumed;
    for file in manifests
        .iter()
        .filter(|s| consumed.is_empty() || !consumed.contains(&identity(&s.path)))
    {
        let (found, unreadable) = pin_plan::manifests(file, settings);
        sites.extend(found);
        errors.extend(unreadable);
    }
    if values.is_empty() {
        return (sites, errors);
    }
    let mut read = Vec::new();
    for f in values {
        match values::read(&f.name, &f.text) {
            Ok(v) => read.push(v),
            Err(e) => errors.push(e),
        }
    }
    let merged = values::merge(&read);
    sites.extend(pin_plan::values_sites(values, &merged, settings));
    (sites, errors)
}

/// The edits to make in each file, one per place (places shared by several images, such as a
/// chart's root `image` block, are edited once).
fn edits_by_file(
    sites: &[Site],
    answers: &BTreeMap<String, Result<String, ResolveError>>,
    settings: &Settings,
    problems: &mut Vec<String>,
) -> BTreeMap<PathBuf, Vec<Edit>> {
    let mut places: BTreeMap<&Planned, (&str, &Site)> = BTreeMap::new();
    for site in sites {
        let Action::Pin(planned) = &site.action else {
            continue;
        };
        let digest = match answers.get(&site.image) {
            Some(Ok(d)) => d.as_str(),
            Some(Err(e)) => {
                problems.push(format!(
                    "{}: {}: cannot resolve image {}: {e}; {}",
                    at(site),
                    site.label,
                    quote(&site.image),
                    if e.registry == registry::CLUSTER {
                        "run it at one digest in the cluster (finish the rollout), or pin it from the registry without --from-live"
                    } else {
                        "make the tag exist (or fix the image), or check credentials and --insecure-registry"
                    }
                ));
                continue;
            }
            None => {
                problems.push(format!(
                    "{}: image {} was never looked up",
                    at(site),
                    quote(&site.image)
                ));
                continue;
            }
        };
        if let Err(why) = settings.allows_digest(digest) {
            problems.push(format!("{}: image {}: {why}", at(site), quote(&site.image)));
            continue;
        }
        match places.get(planned) {
            Some((other, first)) if *other != digest => problems.push(format!(
                "{}: one digest key serves {} ({}) and {} ({}), which resolve to different digests: give each its own digest key",
                at(site),
                first.label,
                quote(&first.image),
                site.label,
                quote(&site.image)
            )),
            _ => {
                places.insert(planned, (digest, site));
            }
        }
    }
    let mut out: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    for (planned, (digest, _)) in places {
        out.entry(planned.file.clone())
            .or_default()
            .push(to_edit(planned, digest));
    }
    out
}

fn to_edit(planned: &Planned, digest: &str) -> Edit {
    let (line, column, digest) = (planned.line, planned.column, digest.to_owned());
    match &planned.kind {
        EditKind::Append { image } => Edit::AppendDigest {
            line,
            column,
            image: image.clone(),
            digest,
        },
        EditKind::Replace => Edit::ReplaceScalar {
            line,
            column,
            value: digest,
        },
        EditKind::NewParameter(name) => Edit::InsertParameter {
            line,
            name: name.clone(),
            digest,
        },
        EditKind::InsertUnderNewTag => Edit::InsertAfterKey {
            line,
            key: "newTag".into(),
            name: "digest".into(),
            digest,
        },
        EditKind::InsertUnderTag => Edit::InsertAfterKey {
            line,
            key: "tag".into(),
            name: "digest".into(),
            digest,
        },
        EditKind::InsertAfter { key, name } => Edit::InsertAfterKey {
            line,
            key: key.clone(),
            name: name.clone(),
            digest,
        },
    }
}

/// A file that changes: the source as read, and its new text.
pub struct Changed<'a> {
    source: &'a Source,
    new: String,
}

/// Applies the edits in memory, then re-reads the edited inputs: every image that was to be
/// pinned must now read pinned, or nothing is written.
fn apply<'a>(
    manifests: &'a [Source],
    values: &'a [Source],
    edits: &BTreeMap<PathBuf, Vec<Edit>>,
    expected: &[(Site, String)],
    settings: &Settings,
    problems: &mut Vec<String>,
) -> Vec<Changed<'a>> {
    let new_manifests = edited(manifests, edits, problems);
    let new_values = edited(values, edits, problems);
    let known: BTreeSet<&PathBuf> = manifests.iter().chain(values).map(|s| &s.path).collect();
    for path in edits.keys().filter(|p| !known.contains(p)) {
        problems.push(format!("{}: not one of the files given", path.display()));
    }
    if problems.is_empty() {
        let (after, unreadable) = plan(&new_manifests, &new_values, settings);
        problems.extend(unreadable.iter().map(|e| format!("after the edit, {e}")));
        problems.extend(unpinned_after(expected, &after));
    }
    let old = manifests.iter().chain(values);
    let new = new_manifests.into_iter().chain(new_values);
    old.zip(new)
        .filter(|(o, n)| o.text != n.text)
        .map(|(source, n)| Changed {
            source,
            new: n.text,
        })
        .collect()
}

/// Each source with its edits made; an edit that does not apply is a problem and leaves the
/// text as it was.
fn edited(
    sources: &[Source],
    edits: &BTreeMap<PathBuf, Vec<Edit>>,
    problems: &mut Vec<String>,
) -> Vec<Source> {
    sources
        .iter()
        .map(|s| {
            let mut out = s.clone();
            if let Some(list) = edits.get(&s.path) {
                match edit::apply(&s.text, list) {
                    Ok(new) => out.text = new,
                    Err(e) => problems.push(format!("{}: {e}", s.name)),
                }
            }
            out
        })
        .collect()
}

/// Every image that was to be pinned must, re-read from the edited text, be found at its
/// place (same file and label) as exactly `image@digest`; anything else is a failed edit.
fn unpinned_after(expected: &[(Site, String)], after: &[Site]) -> Vec<String> {
    expected
        .iter()
        .filter(|(site, want)| {
            !after
                .iter()
                .any(|a| a.source == site.source && a.label == site.label && &a.image == want)
        })
        .map(|(site, want)| {
            format!(
                "{}: {}: after the edit the image does not read {}: pin it by hand",
                at(site),
                site.label,
                quote(want)
            )
        })
        .collect()
}

fn at(site: &Site) -> String {
    format!("{}:{}:{}", site.source, site.pos.line, site.pos.column)
}

/// An item per image that was (or with `--dry-run`, would be) pinned, and per image refused.
fn report_sites(
    report: &mut Report,
    sites: &[Site],
    answers: &BTreeMap<String, Result<String, ResolveError>>,
    dry_run: bool,
) {
    let (rule, verb) = if dry_run {
        (Tool::WouldPin, "would pin")
    } else {
        (Tool::Pinned, "pinned")
    };
    for site in sites {
        let (rule, message) = match &site.action {
            Action::Pin(_) => match answers.get(&site.image) {
                Some(Ok(digest)) => (rule, format!("{verb} {} to {digest}", quote(&site.image))),
                _ => continue,
            },
            Action::Refused(why) => (
                Tool::NotPinnable,
                format!("not pinned: image {}: {why}", quote(&site.image)),
            ),
            _ => continue,
        };
        let mut item = Item::new(rule, site.label.clone(), message);
        item.file = Some(site.source.clone());
        item.line = site.pos.line;
        item.column = site.pos.column;
        item.image = Some(site.image.clone());
        report.items.push(item);
    }
}

/// Writes the files (or prints the diff) and counts.
fn finish(request: &Request<'_>, sites: &[Site], changed: &[Changed], report: &mut Report) {
    let count = |f: fn(&Action) -> bool| sites.iter().filter(|s| f(&s.action)).count();
    let pinned = count(|a| matches!(a, Action::Pin(_)));
    let already = count(|a| matches!(a, Action::Pinned));
    let exempt = count(|a| matches!(a, Action::Exempt));
    let refused = count(|a| matches!(a, Action::Refused(_)));
    if request.dry_run {
        let mut out = std::io::stdout().lock();
        for c in changed {
            let _ = std::io::Write::write_all(
                &mut out,
                write::unified_diff(&c.source.name, &c.source.text, &c.new).as_bytes(),
            );
        }
    } else {
        let changes: Vec<write::Change<'_>> = changed
            .iter()
            .map(|c| write::Change {
                path: &c.source.path,
                old: &c.source.text,
                new: &c.new,
            })
            .collect();
        if let Err(e) = write::all_or_none(&changes) {
            report.note(format!("{e}: pin wrote nothing"));
            return;
        }
    }
    let verb = if request.dry_run {
        "would pin"
    } else {
        "pinned"
    };
    report.totals.push(Total {
        command: "pin",
        text: format!(
            "pin: {verb} {pinned} images in {} files; {already} already pinned, {exempt} exempt, {refused} not pinnable as written",
            changed.len()
        ),
        counts: BTreeMap::from([
            ("pinned", pinned),
            ("files", changed.len()),
            ("alreadyPinned", already),
            ("exempt", exempt),
            ("notPinnable", refused),
        ]),
    });
}
