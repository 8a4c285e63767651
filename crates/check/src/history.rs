//! `image-digest-check history`: which digests the GitOps history depends on, and whether the
//! registry still has them (the chart note's rollback plan, "roll back values to prior
//! digests", fails if garbage collection removed them).
//!
//! Every first-parent commit that touched the paths is read with the readers `pin` uses (every
//! kind, preset and custom kind of the settings; values files layered in `helm -f` order, with
//! the chart's component blocks), each blob parsed once. Per distinct `repository@digest`: the
//! first and last commit that pinned it, and where it was last written.

use crate::git::{Commit, Entry, Repo, Span};
use crate::pin_plan::{Site, Source};
use crate::pin_run;
use anyhow::{Result, bail};
use image_digest_pin::registry::{self, Options, Presence, ResolveError};
use image_digest_policy::reference;
use image_digest_policy::rules::Rule;
use image_digest_policy::settings::Settings;
use image_digest_scan::input::InputError;
use image_digest_scan::report::{DigestState, Item, Report, Total};
use image_digest_scan::rules::{RuleId, Tool};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// What the user asked for.
pub struct Request<'a> {
    pub paths: &'a [PathBuf],
    pub values: &'a [PathBuf],
    pub since: Option<&'a str>,
    pub range: Option<&'a str>,
    pub verify: bool,
    /// `--protect`: tag every keep-list digest with this prefix + `sha256-<hex>`.
    pub protect: Option<String>,
    /// With `--protect`: say what would be tagged, write nothing.
    pub dry_run: bool,
    /// With `--protect`: delete the protection tags of digests no longer on the keep-list.
    pub prune: bool,
    /// Exit 0 when the commits read hold no image at all (by default exit 2: a mistyped path
    /// or a layout the readers do not know would otherwise list nothing, green).
    pub allow_empty: bool,
    pub options: Options,
}

/// A commit as the report names it.
#[derive(Debug, Clone)]
struct At {
    short: String,
    date: String,
    subject: String,
}

impl At {
    fn of(c: &Commit) -> At {
        At {
            short: c.short.clone(),
            date: c.date.clone(),
            subject: c.subject.clone(),
        }
    }

    fn json(&self) -> Value {
        json!({"commit": self.short, "date": self.date, "subject": self.subject})
    }
}

/// One image the history referenced.
#[derive(Debug, Clone)]
struct Referenced {
    /// `repository@digest`, or the image as written when it has no digest.
    key: String,
    /// The image as last written.
    image: String,
    pinned: bool,
    /// Why the image as written is not a reference at all, when it is not.
    invalid: Option<String>,
    first: At,
    last: At,
    /// Where it was last written: file, line, column, and the workload or values key.
    file: String,
    line: usize,
    column: usize,
    label: String,
}

/// What the registry said about a pinned reference.
enum Check {
    Present,
    /// Gone, or not pullable: the finding's rule (`digest-gone`, `platform-manifest-gone`,
    /// `blob-gone`) and what the user reads.
    Gone {
        rule: Tool,
        text: String,
    },
    Unchecked(String),
}

/// Runs `history` into its report: an item per image the commits referenced (its exit code:
/// 0 listed, with `--verify-registry` every digest present; 1 a digest is gone; 2 anything
/// not read or not checked).
pub fn run(request: &Request<'_>, settings: &Settings) -> Result<Report> {
    let Some(first) = request.paths.iter().chain(request.values).next() else {
        bail!(
            "nothing to read: give manifest files or directories, and/or --values FILE (see history --help)"
        );
    };
    let repo = Repo::discover(first)?;
    let span = match (request.since, request.range) {
        (Some(_), Some(_)) => bail!("give --since or --range, not both"),
        (Some(d), None) => Span::Since(d),
        (None, Some(r)) => Span::Range(r),
        (None, None) => Span::All,
    };
    repo.check_span(&span)?;
    let mut given = Given::read(&repo, request)?;
    given.follow_renames(&repo.renames(&span)?);
    let pathspecs = given.pathspecs();
    let commits = repo.commits(&span, &pathspecs)?;
    let mut report = Report::default();
    if commits.is_empty() {
        report.note(format!(
            "history: no commit in {} touched {}: nothing to list (check the paths and the range)",
            repo.root().display(),
            given.names().join(", ")
        ));
        return Ok(report);
    }
    let mut reader = Reader::new(&repo, settings, &given)?;
    if let Some(oldest) = commits.first() {
        reader.state = repo.tree_before(&oldest.sha, &pathspecs)?;
    }
    let before: Vec<String> = reader.state.keys().cloned().collect();
    reader.seen.extend(before);
    let mut found: BTreeMap<String, Referenced> = BTreeMap::new();
    let mut errors: Vec<InputError> = Vec::new();
    for commit in &commits {
        for (path, entry) in &commit.changes {
            reader.seen.insert(path.clone());
            match entry {
                Some(e) => reader.state.insert(path.clone(), e.clone()),
                None => reader.state.remove(path),
            };
        }
        let (sites, unreadable) = reader.sites()?;
        errors.extend(unreadable.into_iter().map(|e| InputError {
            source: format!(
                "{} at {} ({} {:?})",
                e.source, commit.short, commit.date, commit.subject
            ),
            message: format!("{}: its images are not in the list", e.message),
            line: e.line,
        }));
        for site in sites {
            reader.contributed.insert(site.source.clone());
            record(&mut found, commit, site);
        }
    }
    for link in &reader.links {
        eprintln!(
            "history: {link}: a symbolic link in Git: not followed (Git stores the target's name, not the file): give the target's own path to read it"
        );
    }
    for module in &reader.submodules {
        eprintln!(
            "history: {module}: a submodule: its files are another repository's history, not read here (run history in that repository)"
        );
    }
    for (name, why) in given.idle(&reader) {
        if !request.allow_empty {
            report.note(format!("history: {name} contributed nothing: {why}"));
        } else {
            eprintln!("history: {name} contributed nothing: {why}");
        }
    }
    if found.is_empty() && errors.is_empty() && !request.allow_empty {
        report.note(format!(
            "history: {} commits read, but no image found in them: check the paths (only workloads of the kinds the policy reads, and values files in the chart layouts `values` reads, are searched), or pass --allow-empty if that is expected",
            commits.len()
        ));
        return Ok(report);
    }
    let checks = if request.verify {
        verify(&found, &request.options)
    } else {
        HashMap::new()
    };
    fill(&mut report, request, &commits, &found, &checks);
    report.errors = errors;
    if request.verify && checks.is_empty() && !request.allow_empty {
        // Asked to verify the registry, and no digest pinned to ask about: nothing verified.
        report.note(
            "history: --verify-registry: the commits read pin no image by digest, so nothing was verified (--allow-empty accepts that)",
        );
    }
    if let Some(prefix) = &request.protect {
        let mut failed = protect(&found, prefix, request.dry_run, &request.options);
        if request.prune {
            failed.extend(prune(&found, prefix, request.dry_run, &request.options));
        }
        report.notes.extend(failed);
    }
    Ok(report)
}

/// One path the user gave: as given, as a pathspec from the repository's root, and the names
/// the files under it had before the renames of the history (newest first for a file).
struct GivenPath {
    name: String,
    spec: String,
    older: Vec<String>,
}

impl GivenPath {
    fn new(name: String, spec: String) -> GivenPath {
        GivenPath {
            name,
            spec,
            older: Vec::new(),
        }
    }

    /// The pathspec and its older names.
    fn specs(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.spec).chain(&self.older)
    }

    /// Whether `path` is this path, or under it, by any of its names.
    fn holds(&self, path: &str) -> bool {
        self.specs().any(|s| is_under(path, s))
    }
}

/// The paths the user gave: manifests, and values files in `helm -f` order.
struct Given {
    manifests: Vec<GivenPath>,
    values: Vec<GivenPath>,
}

impl Given {
    fn read(repo: &Repo, request: &Request<'_>) -> Result<Given> {
        let mut given = Given {
            manifests: Vec::new(),
            values: Vec::new(),
        };
        for p in request.paths {
            let rel = repo.relative(p)?;
            let name = p.display().to_string();
            if is_values_file(&repo.root().join(&rel)) {
                eprintln!(
                    "history: {name}: a YAML mapping without apiVersion/kind: read as Helm values (as --values {name}; give several in helm -f order with --values)"
                );
                given.values.push(GivenPath::new(name, rel));
            } else {
                given.manifests.push(GivenPath::new(name, rel));
            }
        }
        for p in request.values {
            given
                .values
                .push(GivenPath::new(p.display().to_string(), repo.relative(p)?));
        }
        Ok(given)
    }

    /// Adds the names each path had before the renames of the history (chains followed back),
    /// and says which.
    fn follow_renames(&mut self, renames: &[(String, String)]) {
        for m in &mut self.manifests {
            let mut frontier = vec![m.spec.clone()];
            while let Some(under) = frontier.pop() {
                for (from, to) in renames {
                    if is_under(to, &under) && !is_under(from, &m.spec) && !m.older.contains(from) {
                        m.older.push(from.clone());
                        frontier.push(from.clone());
                    }
                }
            }
            if !m.older.is_empty() {
                eprintln!(
                    "history: {}: followed {} renamed file(s) back to their older names ({}): the digests pinned there are read too",
                    m.name,
                    m.older.len(),
                    m.older.join(", ")
                );
            }
        }
        for v in &mut self.values {
            let mut current = v.spec.clone();
            while let Some((from, _)) = renames
                .iter()
                .rev()
                .find(|(from, to)| *to == current && !v.older.contains(from) && *from != v.spec)
            {
                v.older.push(from.clone());
                current = from.clone();
            }
            if !v.older.is_empty() {
                eprintln!(
                    "history: {}: followed its renames back ({}): the digests pinned there are read too",
                    v.name,
                    v.older.join(" ← ")
                );
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = &GivenPath> {
        self.manifests.iter().chain(&self.values)
    }

    fn pathspecs(&self) -> Vec<String> {
        self.all().flat_map(GivenPath::specs).cloned().collect()
    }

    fn names(&self) -> Vec<String> {
        self.all().map(|g| g.name.clone()).collect()
    }

    /// Every given path that added nothing to the list, and why.
    fn idle(&self, reader: &Reader<'_>) -> Vec<(String, String)> {
        let mut idle = Vec::new();
        let touched = |g: &GivenPath| reader.seen.iter().any(|p| g.holds(p));
        for m in &self.manifests {
            if !touched(m) {
                idle.push((m.name.clone(), "no commit read touched it (a typo, a file not committed yet, or a path inside a submodule?)".to_owned()));
            } else if !reader.contributed.iter().any(|p| m.holds(p)) {
                idle.push((m.name.clone(), "no image of a workload the policy reads was found under it in any commit (a values file among manifests? give it with --values)".to_owned()));
            }
        }
        for v in self.values.iter().filter(|v| !touched(v)) {
            idle.push((
                v.name.clone(),
                "no commit read touched it (a typo, or a file not committed yet?)".to_owned(),
            ));
        }
        idle
    }
}

/// Whether `path` is `under` or inside it (`.` holds everything).
fn is_under(path: &str, under: &str) -> bool {
    under == "." || path == under || path.starts_with(&format!("{}/", under.trim_end_matches('/')))
}

/// A file (as it is in the work tree) that is one YAML mapping without `apiVersion` and
/// `kind`: a Helm values file, not manifests.
fn is_values_file(path: &std::path::Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    if image_digest_scan::input::split_yaml("", &text).len() != 1 {
        return false;
    }
    match image_digest_scan::yaml::parse(&text) {
        Ok((Value::Object(map), _)) => {
            !map.contains_key("apiVersion") && !map.contains_key("kind") && !map.is_empty()
        }
        _ => false,
    }
}

/// Reads the state of the paths at each commit, every blob parsed once.
struct Reader<'a> {
    repo_blobs: crate::git::Blobs,
    settings: &'a Settings,
    given: &'a Given,
    /// Path → what it holds, as of the commit being read.
    state: BTreeMap<String, Entry>,
    /// Every path any commit read held or changed.
    seen: BTreeSet<String>,
    /// Every file an image came from.
    contributed: BTreeSet<String>,
    /// Symbolic links and submodules met (not read).
    links: BTreeSet<String>,
    submodules: BTreeSet<String>,
    texts: HashMap<String, String>,
    manifest_sites: HashMap<String, (Vec<Site>, Vec<InputError>)>,
    values_sites: HashMap<Vec<String>, (Vec<Site>, Vec<InputError>)>,
}

impl<'a> Reader<'a> {
    fn new(repo: &Repo, settings: &'a Settings, given: &'a Given) -> Result<Reader<'a>> {
        Ok(Reader {
            repo_blobs: repo.blobs()?,
            settings,
            given,
            state: BTreeMap::new(),
            seen: BTreeSet::new(),
            contributed: BTreeSet::new(),
            links: BTreeSet::new(),
            submodules: BTreeSet::new(),
            texts: HashMap::new(),
            manifest_sites: HashMap::new(),
            values_sites: HashMap::new(),
        })
    }

    fn source(&mut self, path: &str, blob: &str) -> Result<Source> {
        if !self.texts.contains_key(blob) {
            let text = self.repo_blobs.read(blob)?;
            self.texts.insert(blob.to_owned(), text);
        }
        Ok(Source {
            path: PathBuf::from(path),
            name: path.to_owned(),
            text: self.texts.get(blob).cloned().unwrap_or_default(),
        })
    }

    /// The blob at `path`, noting a link or a submodule met there.
    fn blob(&mut self, path: &str) -> Option<String> {
        match self.state.get(path)? {
            Entry::Blob(b) => Some(b.clone()),
            Entry::Link => {
                self.links.insert(path.to_owned());
                None
            }
            Entry::Submodule => {
                self.submodules.insert(path.to_owned());
                None
            }
        }
    }

    /// Every image site at the current state, and what could not be read.
    fn sites(&mut self) -> Result<(Vec<Site>, Vec<InputError>)> {
        let mut sites = Vec::new();
        let mut errors = Vec::new();
        let paths: Vec<String> = self
            .state
            .keys()
            .filter(|path| self.is_manifest(path))
            .cloned()
            .collect();
        // GitOps sources (a kustomization, an Application, a HelmRelease) compose several files
        // of this commit: then every manifest of the commit is planned together, each file's
        // text the commit's (`pin`'s plan reads them from the sources in hand).
        let mut all = Vec::new();
        let mut gitops = false;
        for path in &paths {
            let Some(blob) = self.blob(path) else {
                continue;
            };
            let source = self.source(path, &blob)?;
            gitops |= crate::gitops::is_kustomization(std::path::Path::new(path))
                || source.text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with("kind:")
                        && ["Application", "HelmRelease", "Kustomization"]
                            .iter()
                            .any(|k| l.contains(k))
                });
            all.push((format!("{blob}:{path}"), source));
        }
        if gitops {
            let key: String = all
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            if !self.manifest_sites.contains_key(&key) {
                let sources: Vec<Source> = all.into_iter().map(|(_, s)| s).collect();
                let planned = pin_run::plan(&sources, &[], self.settings);
                self.manifest_sites.insert(key.clone(), planned);
            }
            if let Some((s, e)) = self.manifest_sites.get(&key) {
                sites.extend(s.iter().cloned());
                errors.extend(e.iter().cloned());
            }
        }
        for path in paths.iter().filter(|_| !gitops) {
            let Some(blob) = self.blob(path) else {
                continue;
            };
            let path = path.clone();
            let key = format!("{blob}:{path}");
            if !self.manifest_sites.contains_key(&key) {
                let source = self.source(&path, &blob)?;
                let planned = pin_run::plan(&[source], &[], self.settings);
                self.manifest_sites.insert(key.clone(), planned);
            }
            if let Some((s, e)) = self.manifest_sites.get(&key) {
                sites.extend(s.iter().cloned());
                errors.extend(e.iter().cloned());
            }
        }
        // Each values file at its newest name present in this commit.
        let given = self.given;
        let mut layered: Vec<(String, String)> = Vec::new();
        for v in &given.values {
            if let Some((name, b)) = v.specs().find_map(|n| Some((n.clone(), self.blob(n)?))) {
                layered.push((name, b));
            }
        }
        if !layered.is_empty() {
            let key: Vec<String> = layered.iter().map(|(p, b)| format!("{b}:{p}")).collect();
            if !self.values_sites.contains_key(&key) {
                let sources = layered
                    .iter()
                    .map(|(p, b)| self.source(p, b))
                    .collect::<Result<Vec<_>>>()?;
                let planned = pin_run::plan(&[], &sources, self.settings);
                self.values_sites.insert(key.clone(), planned);
            }
            if let Some((s, e)) = self.values_sites.get(&key) {
                sites.extend(s.iter().cloned());
                errors.extend(e.iter().cloned());
            }
        }
        Ok((sites, errors))
    }

    /// A file under a manifest path that the checker would read (`.yaml`, `.yml`, `.json`).
    fn is_manifest(&self, path: &str) -> bool {
        let manifests = &self.given.manifests;
        let exact = manifests
            .iter()
            .flat_map(GivenPath::specs)
            .any(|m| path == m);
        manifests.iter().any(|m| m.holds(path))
            && (exact
                || [".yaml", ".yml", ".json"]
                    .iter()
                    .any(|ext| path.ends_with(ext)))
    }
}

/// Records one place an image was written at `commit`.
fn record(found: &mut BTreeMap<String, Referenced>, commit: &Commit, site: Site) {
    let parsed = reference::parse(&site.image);
    let invalid = parsed.as_ref().err().map(ToString::to_string);
    let parsed = parsed.ok();
    let (key, pinned) = match parsed.as_ref().and_then(|r| r.digest.map(|d| (r, d))) {
        Some((r, d)) => (format!("{}@{d}", r.name()), true),
        None => (site.image.clone(), false),
    };
    let at = At::of(commit);
    let entry = found.entry(key.clone()).or_insert_with(|| Referenced {
        key,
        image: site.image.clone(),
        pinned,
        invalid,
        first: at.clone(),
        last: at.clone(),
        file: String::new(),
        line: 0,
        column: 0,
        label: String::new(),
    });
    entry.last = at;
    entry.image = site.image;
    entry.file = site.source;
    entry.line = site.pos.line;
    entry.column = site.pos.column;
    entry.label = site.label;
}

/// `--protect`: every keep-list digest tagged in its own repository; what was done is said on
/// stderr; each digest that could not be tagged is a note of the report (exit 2).
fn protect(
    found: &BTreeMap<String, Referenced>,
    prefix: &str,
    dry_run: bool,
    options: &Options,
) -> Vec<String> {
    use image_digest_pin::registry::Protected;
    let keys: Vec<String> = found
        .values()
        .filter(|r| r.pinned)
        .map(|r| r.key.clone())
        .collect();
    let answers = registry::protect_all(&keys, prefix, dry_run, options);
    let (mut tagged, mut already, mut failed) = (0, 0, Vec::new());
    for (key, answer) in &answers {
        let tag = key
            .split_once('@')
            .map(|(name, digest)| format!("{name}:{}", registry::protection_tag(prefix, digest)))
            .unwrap_or_default();
        match answer {
            Ok(Protected::Already) => already += 1,
            Ok(Protected::Tagged) => {
                tagged += 1;
                eprintln!("history: protected {key} as {tag}");
            }
            Ok(Protected::WouldTag) => {
                tagged += 1;
                eprintln!("history: would protect {key} as {tag} (--dry-run)");
            }
            Err(e) => failed.push(format!("history: cannot protect {key} as {tag}: {e}")),
        }
    }
    eprintln!(
        "history: protection: {tagged} {}, {already} already protected, {} failed",
        if dry_run { "to tag" } else { "tagged" },
        failed.len()
    );
    failed
}

/// `--prune`: the protection tags of this prefix whose digest left the keep-list (of the
/// commits read) deleted, tag by tag; each that could not be deleted is a note (exit 2).
fn prune(
    found: &BTreeMap<String, Referenced>,
    prefix: &str,
    dry_run: bool,
    options: &Options,
) -> Vec<String> {
    use image_digest_pin::registry::Pruned;
    let keep: BTreeSet<String> = found
        .values()
        .filter(|r| r.pinned)
        .map(|r| r.key.clone())
        .collect();
    let mut names: Vec<String> = keep
        .iter()
        .filter_map(|k| k.split_once('@').map(|(n, _)| n.to_owned()))
        .collect();
    names.dedup();
    let (mut removed, mut failed) = (0, Vec::new());
    for (name, answer) in registry::prune_all(&names, prefix, &keep, dry_run, options) {
        match answer {
            Ok(tags) => {
                for (tag, done) in tags {
                    match done {
                        Ok(Pruned::Removed) => {
                            removed += 1;
                            eprintln!(
                                "history: unprotected {name}:{tag} (its digest left the keep-list)"
                            );
                        }
                        Ok(Pruned::WouldRemove) => {
                            removed += 1;
                            eprintln!("history: would unprotect {name}:{tag} (--dry-run)");
                        }
                        Err(why) => {
                            failed.push(format!("history: cannot unprotect {name}:{tag}: {why}"))
                        }
                    }
                }
            }
            Err(e) => failed.push(format!(
                "history: cannot prune the protection tags of {name}: {e}"
            )),
        }
    }
    eprintln!(
        "history: prune: {removed} protection tags {}, {} failed",
        if dry_run { "to remove" } else { "removed" },
        failed.len()
    );
    failed
}

/// Asks the registry for every pinned reference, and words each answer once.
fn verify(found: &BTreeMap<String, Referenced>, options: &Options) -> HashMap<String, Check> {
    let keys: Vec<String> = found
        .values()
        .filter(|r| r.pinned)
        .map(|r| r.key.clone())
        .collect();
    registry::verify_all(&keys, options)
        .into_iter()
        .filter_map(|(k, answer)| {
            let r = found.get(&k)?;
            let rollback = format!(
                "rolling back to {} ({}, {:?}) would fail",
                r.last.short, r.last.date, r.last.subject
            );
            let check = match answer {
                Ok(Presence::Present) => Check::Present,
                Ok(Presence::Gone { code, .. }) => Check::Gone {
                    rule: Tool::DigestGone,
                    text: format!("gone from its registry ({code}): {rollback} to pull it"),
                },
                Ok(Presence::ChildGone {
                    platform,
                    digest,
                    code,
                    ..
                }) => Check::Gone {
                    rule: Tool::PlatformManifestGone,
                    text: format!(
                        "its {platform} manifest {digest} is gone ({}): the index answers, but a pull on {platform} fails; {rollback} there",
                        code
                    ),
                },
                Ok(Presence::BlobGone {
                    manifest,
                    what,
                    blob,
                    code,
                    ..
                }) => Check::Gone {
                    rule: Tool::BlobGone,
                    text: format!(
                        "the {what} blob {blob} of manifest {manifest} is gone ({}): the manifest answers, but every pull of it fails",
                        code
                    ),
                },
                Err(ResolveError {
                    registry, reason, ..
                }) => Check::Unchecked(format!("registry {registry}: {reason}")),
            };
            Some((k, check))
        })
        .collect()
}

/// The report's items (one per image referenced), the registry's answers and the counts.
fn fill(
    report: &mut Report,
    request: &Request<'_>,
    commits: &[Commit],
    found: &BTreeMap<String, Referenced>,
    checks: &HashMap<String, Check>,
) {
    let (mut pinned, mut gone, mut unchecked) = (0, 0, 0);
    for r in found.values() {
        let span = format!(
            "first {}, last {}",
            commit_words(&r.first),
            commit_words(&r.last)
        );
        let (rule, message): (RuleId, String) = match checks.get(&r.key) {
            // Not a digest the history pinned, nor an image without one: nothing to roll back
            // to, and a finding in its own right (a mistyped digest reads as "no digest").
            _ if r.invalid.is_some() => (
                Rule::InvalidRef.into(),
                format!(
                    "not a valid image reference: {} ({span})",
                    r.invalid.as_deref().unwrap_or_default()
                ),
            ),
            _ if !r.pinned => (
                Tool::NoRollbackDigest.into(),
                format!("not rollback-safe: no digest ({span})"),
            ),
            Some(Check::Gone { rule, text }) => {
                gone += 1;
                ((*rule).into(), text.clone())
            }
            Some(Check::Unchecked(why)) => {
                unchecked += 1;
                (
                    Tool::DigestUnchecked.into(),
                    format!("could not be checked: {why}"),
                )
            }
            Some(Check::Present) => (
                Tool::PinnedDigest.into(),
                format!("{span}: present in the registry"),
            ),
            None => (Tool::PinnedDigest.into(), span),
        };
        pinned += usize::from(r.pinned);
        let mut item = Item::new(rule, r.key.clone(), message);
        item.file = Some(r.file.clone());
        item.line = r.line.max(1);
        item.column = r.column.max(1);
        item.path = Some(r.label.clone());
        item.image = Some(r.image.clone());
        item.reference = r.pinned.then(|| r.key.clone());
        item.data = Some(json!({"first": r.first.json(), "last": r.last.json()}));
        report.items.push(item);
        if let Some(check) = checks.get(&r.key) {
            report.digests.push(DigestState {
                reference: r.key.clone(),
                present: match check {
                    Check::Present => Some(true),
                    Check::Gone { .. } => Some(false),
                    Check::Unchecked(_) => None,
                },
                commit: Some(r.last.short.clone()),
            });
        }
    }
    let without = found.len() - pinned;
    let span = match (commits.first(), commits.last()) {
        (Some(a), Some(b)) => format!("{}..{}", a.short, b.short),
        _ => String::new(),
    };
    let mut text = format!(
        "history: {} commits read ({span}): {pinned} digests pinned, {without} images without a digest",
        commits.len()
    );
    let mut counts = BTreeMap::from([
        ("commits", commits.len()),
        ("digests", pinned),
        ("withoutDigest", without),
    ]);
    if request.verify {
        let present = pinned - gone - unchecked;
        text.push_str(&format!(
            "; registry: {present} present, {gone} gone, {unchecked} not checked"
        ));
        counts.extend([
            ("present", present),
            ("gone", gone),
            ("unchecked", unchecked),
        ]);
    }
    report.totals.push(Total {
        command: "history",
        text,
        counts,
    });
}

fn commit_words(at: &At) -> String {
    format!("{} {} {:?}", at.short, at.date, at.subject)
}
