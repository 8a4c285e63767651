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
use image_digest_policy::settings::Settings;
use image_digest_scan::input::InputError;
use image_digest_scan::report::{github, one_line, sarif};
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
    pub output: Output,
    pub options: Options,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
    List,
    Github,
    Sarif,
    /// node-exporter's textfile format (`--verify-registry` only).
    Prometheus,
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
        rule: &'static str,
        text: String,
    },
    Unchecked(String),
}

/// Runs `history`; the exit code: 0 (listed; with `--verify-registry`, every digest present),
/// 1 a digest is gone, 2 anything not read or not checked.
pub fn run(request: &Request<'_>, settings: &Settings) -> Result<u8> {
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
    if commits.is_empty() {
        eprintln!(
            "history: no commit in {} touched {}: nothing to list (check the paths and the range)",
            repo.root().display(),
            given.names().join(", ")
        );
        return Ok(2);
    }
    let mut reader = Reader::new(&repo, settings, &given)?;
    if let Some(oldest) = commits.first() {
        reader.state = repo.tree_before(&oldest.sha, &pathspecs)?;
    }
    let before: Vec<String> = reader.state.keys().cloned().collect();
    reader.seen.extend(before);
    let mut found: BTreeMap<String, Referenced> = BTreeMap::new();
    let mut errors: Vec<String> = Vec::new();
    for commit in &commits {
        for (path, entry) in &commit.changes {
            reader.seen.insert(path.clone());
            match entry {
                Some(e) => reader.state.insert(path.clone(), e.clone()),
                None => reader.state.remove(path),
            };
        }
        let (sites, unreadable) = reader.sites()?;
        errors.extend(
            unreadable
                .into_iter()
                .map(|e| format!("{} ({} {}): {e}", commit.short, commit.date, commit.subject)),
        );
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
    let idle = given.idle(&reader);
    for (name, why) in &idle {
        eprintln!("history: {name} contributed nothing: {why}");
    }
    if found.is_empty() && errors.is_empty() && !request.allow_empty {
        eprintln!(
            "history: {} commits read, but no image found in them: check the paths (only workloads of the kinds the policy reads, and values files in the chart layouts `values` reads, are searched), or pass --allow-empty if that is expected",
            commits.len()
        );
        return Ok(2);
    }
    let checks = if request.verify {
        verify(&found, &request.options)
    } else {
        HashMap::new()
    };
    let mut code = report(request, &commits, &found, &checks, &errors);
    if request.verify && checks.is_empty() && !request.allow_empty {
        // Asked to verify the registry, and no digest pinned to ask about: nothing verified.
        eprintln!(
            "history: --verify-registry: the commits read pin no image by digest, so nothing was verified (exit 2; --allow-empty accepts that)"
        );
        code = code.max(2);
    }
    if let Some(prefix) = &request.protect {
        code = code.max(protect(&found, prefix, request.dry_run, &request.options));
        if request.prune {
            code = code.max(prune(&found, prefix, request.dry_run, &request.options));
        }
    }
    Ok(if idle.is_empty() || request.allow_empty {
        code
    } else {
        code.max(2)
    })
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
        for path in paths {
            let Some(blob) = self.blob(&path) else {
                continue;
            };
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
    let parsed = reference::parse(&site.image).ok();
    let (key, pinned) = match parsed.as_ref().and_then(|r| r.digest.map(|d| (r, d))) {
        Some((r, d)) => (format!("{}@{d}", r.name()), true),
        None => (site.image.clone(), false),
    };
    let at = At::of(commit);
    let entry = found.entry(key.clone()).or_insert_with(|| Referenced {
        key,
        image: site.image.clone(),
        pinned,
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
/// stderr; a digest that could not be tagged is exit 2.
fn protect(
    found: &BTreeMap<String, Referenced>,
    prefix: &str,
    dry_run: bool,
    options: &Options,
) -> u8 {
    use image_digest_pin::registry::Protected;
    let keys: Vec<String> = found
        .values()
        .filter(|r| r.pinned)
        .map(|r| r.key.clone())
        .collect();
    let answers = registry::protect_all(&keys, prefix, dry_run, options);
    let (mut tagged, mut already, mut failed) = (0, 0, 0);
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
            Err(e) => {
                failed += 1;
                eprintln!("error: history: cannot protect {key} as {tag}: {e}");
            }
        }
    }
    eprintln!(
        "history: protection: {tagged} {}, {already} already protected, {failed} failed",
        if dry_run { "to tag" } else { "tagged" }
    );
    if failed > 0 { 2 } else { 0 }
}

/// `--prune`: the protection tags of this prefix whose digest left the keep-list (of the
/// commits read) deleted, tag by tag; what could not be deleted is exit 2.
fn prune(
    found: &BTreeMap<String, Referenced>,
    prefix: &str,
    dry_run: bool,
    options: &Options,
) -> u8 {
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
    let (mut removed, mut failed) = (0, 0);
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
                            failed += 1;
                            eprintln!("error: history: cannot unprotect {name}:{tag}: {why}");
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: history: cannot prune the protection tags of {name}: {e}");
            }
        }
    }
    eprintln!(
        "history: prune: {removed} protection tags {}, {failed} failed",
        if dry_run { "to remove" } else { "removed" }
    );
    if failed > 0 { 2 } else { 0 }
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
                Ok(Presence::Gone(why)) => Check::Gone {
                    rule: "digest-gone",
                    text: format!("{k} is gone ({}): {rollback} to pull it", gone_code(&why)),
                },
                Ok(Presence::ChildGone {
                    platform,
                    digest,
                    reason,
                }) => Check::Gone {
                    rule: "platform-manifest-gone",
                    text: format!(
                        "{k}: its {platform} manifest {digest} is gone ({}): the index answers, but a pull on {platform} fails; {rollback} there",
                        gone_code(&reason)
                    ),
                },
                Ok(Presence::BlobGone {
                    manifest,
                    what,
                    blob,
                    reason,
                }) => Check::Gone {
                    rule: "blob-gone",
                    text: format!(
                        "{k}: the {what} blob {blob} of manifest {manifest} is gone ({}): the manifest answers, but every pull of it fails",
                        gone_code(&reason)
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

/// Prints the report and returns the exit code.
fn report(
    request: &Request<'_>,
    commits: &[Commit],
    found: &BTreeMap<String, Referenced>,
    checks: &HashMap<String, Check>,
    errors: &[String],
) -> u8 {
    let pinned: Vec<&Referenced> = found.values().filter(|r| r.pinned).collect();
    let unpinned: Vec<&Referenced> = found.values().filter(|r| !r.pinned).collect();
    let gone = pinned
        .iter()
        .filter(|r| matches!(checks.get(&r.key), Some(Check::Gone { .. })))
        .count();
    let unchecked = pinned
        .iter()
        .filter(|r| {
            request.verify
                && !matches!(
                    checks.get(&r.key),
                    Some(Check::Present | Check::Gone { .. })
                )
        })
        .count();
    let span = match (commits.first(), commits.last()) {
        (Some(a), Some(b)) => format!("{}..{}", a.short, b.short),
        _ => String::new(),
    };
    let mut out = String::new();
    match request.output {
        Output::Prometheus => out.push_str(&prometheus(&pinned, checks)),
        Output::List => {
            for r in &pinned {
                out.push_str(&r.key);
                out.push('\n');
            }
        }
        Output::Sarif => {
            let results: Vec<Value> = pinned
                .iter()
                .filter_map(|r| match checks.get(&r.key) {
                    Some(Check::Gone { rule, text }) => Some((*rule, "error", text.clone(), *r)),
                    Some(Check::Unchecked(why)) => {
                        Some(("digest-unchecked", "error", unchecked_text(r, why), *r))
                    }
                    _ => None,
                })
                .chain(unpinned.iter().map(|r| {
                    let text = format!("not rollback-safe: no digest: {}", r.image);
                    ("no-rollback-digest", "warning", text, *r)
                }))
                .map(|(rule, level, text, r)| {
                    json!({
                        "ruleId": rule, "level": level, "message": {"text": text},
                        "locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": sarif::uri(&r.file)},
                            "region": {"startLine": r.line.max(1), "startColumn": r.column.max(1)}
                        }}]
                    })
                })
                .collect();
            let rule = |id: &str, text: &str| json!({"id": id, "shortDescription": {"text": text}});
            let doc = json!({
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "version": "2.1.0",
                "runs": [{
                    "tool": {"driver": {"name": "image-digest-check history", "rules": [
                        rule("digest-gone", "A digest the Git history pinned is gone from its registry: rolling back to it would fail."),
                        rule("digest-unchecked", "The registry could not be asked whether a pinned digest is still there."),
                        rule("blob-gone", "A config or layer blob of a manifest the Git history pinned is gone: every pull of it fails (--deep)."),
                        rule("platform-manifest-gone", "An index the Git history pinned answers, but one platform's manifest under it is gone: a pull on that platform fails."),
                        rule("no-rollback-digest", "An image in the history without a digest: not rollback-safe."),
                    ]}},
                    "results": results,
                }],
            });
            out.push_str(&serde_json::to_string_pretty(&doc).unwrap_or_default());
            out.push('\n');
        }
        Output::Json => {
            let image = |r: &Referenced| {
                let mut v = json!({
                    "reference": r.key, "image": r.image, "pinned": r.pinned,
                    "first": r.first.json(), "last": r.last.json(),
                    "file": r.file, "line": r.line, "column": r.column, "where": r.label,
                });
                if let Some(check) = checks.get(&r.key) {
                    let (state, reason) = match check {
                        Check::Present => ("present", None),
                        Check::Gone { text, .. } => ("gone", Some(text)),
                        Check::Unchecked(why) => ("unchecked", Some(why)),
                    };
                    if let Some(map) = v.as_object_mut() {
                        map.insert("registry".into(), json!(state));
                        map.insert("reason".into(), json!(reason));
                    }
                }
                v
            };
            let doc = json!({
                "schemaVersion": 1,
                "commits": commits.len(),
                "span": span,
                "pinned": pinned.iter().map(|r| image(r)).collect::<Vec<_>>(),
                "notRollbackSafe": unpinned.iter().map(|r| image(r)).collect::<Vec<_>>(),
                "errors": errors,
                "summary": {"digests": pinned.len(), "withoutDigest": unpinned.len(), "gone": gone, "unchecked": unchecked},
            });
            out.push_str(&serde_json::to_string_pretty(&doc).unwrap_or_default());
            out.push('\n');
        }
        Output::Text | Output::Github => {
            for r in &pinned {
                let line = match checks.get(&r.key) {
                    Some(Check::Gone { rule, text }) => finding_line(request.output, r, rule, text),
                    Some(Check::Unchecked(why)) => finding_line(
                        request.output,
                        r,
                        "digest-unchecked",
                        &unchecked_text(r, why),
                    ),
                    // GitHub shows annotations; the list of what is fine is for the text report.
                    _ if request.output == Output::Github => String::new(),
                    Some(Check::Present) => format!("{}: present in the registry\n", describe(r)),
                    None => format!("{}\n", describe(r)),
                };
                out.push_str(&line);
            }
            for r in &unpinned {
                let text = format!(
                    "not rollback-safe: no digest: {} ({}, first {}, last {})",
                    image_digest_policy::report::quote(&r.image),
                    r.label,
                    commit_words(&r.first),
                    commit_words(&r.last)
                );
                out.push_str(&match request.output {
                    Output::Github => format!(
                        "::warning file={},line={},col={},title=image-digest-check%3A no-rollback-digest::{}\n",
                        github::property(&r.file),
                        r.line,
                        r.column,
                        github::data(&text)
                    ),
                    _ => format!("{}:{}:{}: {}\n", one_line(&r.file), r.line, r.column, one_line(&text)),
                });
            }
            out.push_str(&format!(
                "history: {} commits read ({span}): {} digests pinned, {} images without a digest{}\n",
                commits.len(),
                pinned.len(),
                unpinned.len(),
                if request.verify {
                    format!("; registry: {} present, {gone} gone, {unchecked} not checked", pinned.len() - gone - unchecked)
                } else {
                    String::new()
                }
            ));
        }
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    for e in errors {
        eprintln!("error: {e}: its images are not in the list");
    }
    if !errors.is_empty() || unchecked > 0 {
        2
    } else if gone > 0 {
        1
    } else {
        0
    }
}

/// The verified digests as node-exporter textfile metrics: 1 present, 0 gone (a platform
/// manifest or a blob gone too); a digest that could not be checked is in
/// `image_digest_unchecked` instead, so an outage never reads as "gone" nor as "present".
fn prometheus(pinned: &[&Referenced], checks: &HashMap<String, Check>) -> String {
    let rows: Vec<crate::metrics::Row> = pinned
        .iter()
        .map(|r| {
            let (repository, digest) = r.key.split_once('@').unwrap_or((&r.key, ""));
            let state = match checks.get(&r.key) {
                Some(Check::Present) => Some(true),
                Some(Check::Gone { .. }) => Some(false),
                Some(Check::Unchecked(_)) | None => None,
            };
            (
                vec![
                    ("repository", repository.to_owned()),
                    ("digest", digest.to_owned()),
                    ("commit", r.last.short.clone()),
                ],
                state,
            )
        })
        .collect();
    crate::metrics::render(&rows, "the Git history pinned")
}

fn commit_words(at: &At) -> String {
    format!("{} {} {:?}", at.short, at.date, at.subject)
}

fn describe(r: &Referenced) -> String {
    format!(
        "{}:{}:{}: {} ({}): first {}, last {}",
        one_line(&r.file),
        r.line,
        r.column,
        r.key,
        one_line(&r.label),
        commit_words(&r.first),
        commit_words(&r.last)
    )
}

/// The registry's answer for a digest it no longer has, as its code where it gave one
/// (`MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`), else as it said it.
fn gone_code(why: &str) -> String {
    let lower = why.to_ascii_lowercase();
    if ["manifest unknown", "manifest_unknown", "manifestunknown"]
        .iter()
        .any(|c| lower.contains(c))
    {
        "MANIFEST_UNKNOWN".to_owned()
    } else if lower.contains("blob_unknown") {
        "BLOB_UNKNOWN".to_owned()
    } else if lower.contains("404") {
        "HTTP 404".to_owned()
    } else {
        why.to_owned()
    }
}

fn unchecked_text(r: &Referenced, why: &str) -> String {
    format!("{} could not be checked: {why}", r.key)
}

/// The line of a finding about a pinned digest: a workflow command for GitHub, else
/// `file:line:col: text` (the error level: every such finding blocks).
fn finding_line(output: Output, r: &Referenced, rule: &str, text: &str) -> String {
    match output {
        Output::Github => format!(
            "::error file={},line={},col={},title=image-digest-check%3A {rule}::{}\n",
            github::property(&r.file),
            r.line,
            r.column,
            github::data(text)
        ),
        _ => format!(
            "{}:{}:{}: {}\n",
            one_line(&r.file),
            r.line,
            r.column,
            one_line(text)
        ),
    }
}
