//! GitOps sources in the default check: a Kustomize `kustomization.yaml` is read as kustomize
//! composes it, not skipped as a kind the policy does not check.
//!
//! - `helmCharts[]`: the values helm renders, layered as kustomize's source layers them — the
//!   vendored chart's own `values.yaml` (`helmGlobals.chartHome`, default `charts`, then the
//!   chart's name; none when the chart is not vendored), then the values file (`valuesFile`,
//!   default that same `values.yaml`) with `valuesInline` merged into it (`valuesMerge`:
//!   `override`, the default, where only non-empty inline values override; `merge`, where the
//!   file wins; `replace`, inline alone), then `additionalValuesFiles` in order — judged as the
//!   `values` command judges, each finding at the key to set in the file (or the inline line)
//!   that set it. The chart's `appVersion` is what an empty tag renders when it is vendored.
//! - `resources` (and the deprecated `bases`) that are local files, or directories holding a
//!   kustomization (read the same way, recursively), are judged as kustomize renders them:
//!   with the `images` transformer of every kustomization on the way applied (the innermost
//!   first), as kustomize applies it (`name` matched as written, with or without a tag or
//!   digest; `newName` replaces the name; `newTag` and `digest` replace both the tag and the
//!   digest; both set, `name:newTag@digest`), to every `containers[].image` and
//!   `initContainers[].image`. A finding on an image an `images` entry set points at that
//!   entry. Only the roots are judged: a kustomization another one reads as a resource is
//!   read through it.
//! - What this reader does not apply (patches, replacements, components, generators and
//!   transformers of plugins, remote resources, the `images` transformer on a chart's render)
//!   is said, and the run is not a pass (exit 2) unless `--allow-partial`: the rendered result
//!   could differ.
//!
//! The files a kustomization consumes (values files, its resources) are not read again as
//! manifests of their own.

use image_digest_policy::settings::Settings;
use image_digest_scan::input::{self, InputError};
use image_digest_scan::run;
use image_digest_scan::values::{self, File};
use image_digest_scan::yaml::{self, Pos};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Whether `path` names a kustomization (kustomize reads these three names).
pub fn is_kustomization(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        matches!(
            n,
            "kustomization.yaml" | "kustomization.yml" | "Kustomization"
        )
    })
}

/// One `helmCharts` entry, its layers read.
pub struct Chart {
    /// `kustomization.yaml#helmCharts[0] (agents 0.9.1)`, for messages.
    pub label: String,
    /// The values layers, in the order helm applies them.
    pub layers: Vec<File>,
    /// The namespace the release is installed in, when the kustomization says.
    pub namespace: Option<String>,
    /// The vendored chart's `appVersion`.
    pub app_version: Option<String>,
    /// Each layer's name and file (an inline block's is the file that holds it), for `pin`.
    pub origins: Vec<(String, PathBuf)>,
    /// The vendored chart's directory, whose files `pin` never edits.
    pub vendored: Option<PathBuf>,
}

/// Texts `pin` holds in memory (edited, not yet written), read instead of the disk.
pub type Texts<'a> = &'a dyn Fn(&Path) -> Option<String>;

/// One `images:` entry of a kustomization.
#[derive(Debug, Clone)]
pub struct ImageRule {
    /// The image name it matches.
    pub name: String,
    /// `newName`.
    pub new_name: Option<String>,
    /// `newTag`.
    pub new_tag: Option<String>,
    /// `digest`.
    pub digest: Option<String>,
    /// The kustomization that holds it, as messages name it.
    pub file: String,
    /// Its path (what `pin` edits).
    pub path: PathBuf,
    /// Where the entry is (its `newTag`, else `digest`, else `newName`).
    pub pos: Pos,
    /// Whether `pin` can write a `digest:` under the entry's `newTag:` (an Argo CD
    /// `kustomize.images` string has no such key).
    pub pinnable: bool,
}

impl ImageRule {
    /// Whether `image` is `name`, with or without a tag and a digest (kustomize's
    /// `IsImageMatched`, the name taken as written).
    pub fn matches(&self, image: &str) -> bool {
        let Some(rest) = image.strip_prefix(self.name.as_str()) else {
            return false;
        };
        let (tag, digest) = match rest.split_once('@') {
            Some((t, d)) => (t, Some(d)),
            None => (rest, None),
        };
        let tag_ok = tag.is_empty()
            || tag.strip_prefix(':').is_some_and(|t| {
                t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.{}-".contains(c))
            });
        let digest_ok = digest.is_none_or(|d| d.starts_with("sha256:"));
        tag_ok && digest_ok
    }

    /// The image as the transformer rewrites it (kustomize's `imageTagUpdater`).
    pub fn apply(&self, image: &str) -> String {
        let (name, tag, digest) = split(image);
        let name = self.new_name.clone().unwrap_or(name);
        let (tag, digest) = match (&self.new_tag, &self.digest) {
            (Some(t), Some(d)) => (Some(t.clone()), Some(d.clone())),
            (Some(t), None) => (Some(t.clone()), None),
            (None, Some(d)) => (None, Some(d.clone())),
            (None, None) => (tag, digest),
        };
        let mut out = name;
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            out.push(':');
            out.push_str(&t);
        }
        if let Some(d) = digest.filter(|d| !d.is_empty()) {
            out.push('@');
            out.push_str(&d);
        }
        out
    }
}

/// The `images` entries of a kustomization (or a Flux Kustomization's `spec.images`) at
/// `at` (a JSON pointer), with the positions of `file`.
fn image_rules(
    entries: Option<&Value>,
    at: &str,
    positions: &yaml::Positions,
    file: &str,
    path: &Path,
) -> Vec<ImageRule> {
    entries
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| {
            let field = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
            let pos = |k: &str| positions.get(&format!("{at}/{i}/{k}"));
            Some(ImageRule {
                name: field("name")?,
                new_name: field("newName"),
                new_tag: field("newTag").or_else(|| {
                    e.get("newTag")
                        .filter(|v| v.is_number())
                        .map(Value::to_string)
                }),
                digest: field("digest"),
                file: file.to_owned(),
                path: path.to_path_buf(),
                pos: pos("newTag")
                    .or_else(|| pos("digest"))
                    .or_else(|| pos("newName"))
                    .or_else(|| positions.get(&format!("{at}/{i}")))
                    .unwrap_or(Pos { line: 1, column: 1 }),
                pinnable: true,
            })
        })
        .collect()
}

/// Argo CD's `kustomize.images` strings (`kustomize edit set image`'s form): `name=new:tag`,
/// `name:tag`, `name@digest`, `name:tag@digest`.
fn argo_image_rules(entries: &[&str], file: &str, path: &Path, pos: Pos) -> Vec<ImageRule> {
    entries
        .iter()
        .map(|e| {
            let (name, target) = match e.split_once('=') {
                Some((n, t)) => (n.to_owned(), t),
                None => (split(e).0, *e),
            };
            let (new_name, tag, digest) = split(target);
            ImageRule {
                new_name: (new_name != name).then_some(new_name),
                name,
                new_tag: tag,
                digest,
                file: file.to_owned(),
                path: path.to_path_buf(),
                pos,
                pinnable: false,
            }
        })
        .collect()
}

/// A kustomization that a Flux `Kustomization` (`spec.path`, `spec.images`) or an Argo CD
/// `Application` (a source `path`, `kustomize.images`) builds with image overrides of its
/// own: read as a root, the overrides applied last (outermost). A directory without a
/// kustomization is built as Flux and Argo CD build it: every manifest in it.
pub fn with_overrides(
    dir: &Path,
    by: &Path,
    rules: Vec<ImageRule>,
    namespace: Option<String>,
    max: u64,
) -> Kustomization {
    let found = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let mut k = match &found {
        Some(file) => read(file, max),
        None => {
            let mut k = Kustomization {
                path: dir.to_path_buf(),
                ..Kustomization::default()
            };
            k.resources = files_under(dir)
                .into_iter()
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .map(|path| Resource {
                    path,
                    rules: Vec::new(),
                    namespace: None,
                })
                .collect();
            k.consumed
                .extend(k.resources.iter().map(|r| r.path.clone()));
            k
        }
    };
    for r in &mut k.resources {
        r.rules.extend(rules.iter().cloned());
        if namespace.is_some() {
            r.namespace.clone_from(&namespace);
        }
    }
    if let Some(file) = found {
        k.consumed.insert(file.clone());
        k.nested.insert(file);
    }
    // Named by the source that builds it: it is a root of its own, not the kustomization it
    // reads (which is nested in it).
    k.path = by.to_path_buf();
    k
}

/// `name`, tag and digest of an image as written (a `:` after the last `/` starts the tag).
fn split(image: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_owned())),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest.get(slash..).and_then(|last| last.rfind(':')) {
        Some(colon) => {
            let at = slash + colon;
            (
                rest.get(..at).unwrap_or(rest).to_owned(),
                rest.get(at + 1..).map(str::to_owned),
                digest,
            )
        }
        None => (rest.to_owned(), None, digest),
    }
}

/// A manifest file a kustomization renders, with the `images` entries applied to it, the
/// innermost kustomization's first.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The file.
    pub path: PathBuf,
    /// The `images` entries, in the order kustomize applies them.
    pub rules: Vec<ImageRule>,
    /// The namespace the build puts it in (the outermost kustomization's `namespace`, a Flux
    /// Kustomization's `targetNamespace`): the one the settings' scope judges.
    pub namespace: Option<String>,
}

/// What a kustomization holds for the check.
#[derive(Default)]
pub struct Kustomization {
    /// The kustomization file.
    pub path: PathBuf,
    /// Its charts.
    pub charts: Vec<Chart>,
    /// The manifest files it renders (through other kustomizations too).
    pub resources: Vec<Resource>,
    /// The kustomizations it reads as resources (any depth): not roots of their own.
    pub nested: BTreeSet<PathBuf>,
    /// The files it consumes (values files, the vendored chart's), not manifests.
    pub consumed: BTreeSet<PathBuf>,
    /// What it does that this reader does not apply, each said once.
    pub not_applied: Vec<String>,
    /// Files it names that cannot be read.
    pub errors: Vec<InputError>,
    /// The name and file of every values layer read (for `pin`).
    pub layer_paths: Vec<(String, PathBuf)>,
    /// The kinds of the documents composed here (`argoproj.io/v1alpha1 Application`), which
    /// the check of the other documents counted as skipped.
    pub composed: Vec<String>,
    /// An Application's `helm.parameters` values: file, line, the parameter's name.
    pub parameter_lines: Vec<(String, usize, String)>,
}

/// The GitOps sources among some files, as the check and `pin` read them.
#[derive(Default)]
pub struct Discovered {
    /// The roots: kustomizations no other source reads, and the Applications, HelmReleases and
    /// Flux Kustomizations (with the kustomizations they build).
    pub sources: Vec<Kustomization>,
    /// Every file a source consumes (its own file, values files, resources), by [`identity`]:
    /// not read again as a manifest of its own.
    pub consumed: BTreeSet<PathBuf>,
}

/// The GitOps sources among `files`: kustomizations by name, Applications, HelmReleases and
/// Flux Kustomizations in the `.yaml`/`.yml` files no kustomization consumes (a large JSON
/// dump is not read twice for them), with the ConfigMaps and Secrets their `valuesFrom`
/// names. `texts` are the texts in hand (`pin`'s, edited), else the disk is read.
pub fn discover(files: &[PathBuf], texts: Texts<'_>, max: u64) -> Discovered {
    let mut out = Discovered::default();
    for file in files.iter().filter(|f| is_kustomization(f)) {
        let k = read_nested(file, texts(file).as_deref(), texts, max, 0);
        out.consumed.insert(identity(file));
        out.consumed.extend(k.consumed.iter().map(|p| identity(p)));
        out.sources.push(k);
    }
    let mentions = |t: &str, what: &str| {
        t.lines()
            .any(|l| l.trim_start().starts_with("kind:") && l.contains(what))
    };
    let mut apps = Vec::new();
    let mut objects = Vec::new();
    for file in files.iter().filter(|f| {
        // stdin is read once, by the check itself.
        f.as_os_str() != "-"
            && matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            && !out.consumed.contains(&identity(f))
    }) {
        let Some(text) = texts(file).or_else(|| input::read_limited(file, max).ok()) else {
            continue;
        };
        let app = ["Application", "HelmRelease", "Kustomization"]
            .iter()
            .any(|k| mentions(&text, k));
        let held = mentions(&text, "ConfigMap") || mentions(&text, "Secret");
        if !app && !held {
            continue;
        }
        let (docs, _) = input::parse(&input::source_name(file), &text);
        for doc in docs {
            if is_app(&doc) {
                apps.push((doc, text.clone(), file.clone()));
            } else if held {
                objects.push(doc);
            }
        }
    }
    for (doc, text, file) in apps {
        let root = repo_root(file.parent().unwrap_or(Path::new(".")));
        let field = |k: &str| doc.value.get(k).and_then(Value::as_str).unwrap_or("");
        let mut app = match field("kind") {
            "Application" => application(&doc, &text, &file, root.as_deref(), texts, max),
            "HelmRelease" => helm_release(&doc, &objects, &file, root.as_deref(), texts, max),
            _ => flux_kustomization(&doc, root.as_deref(), max),
        };
        for k in app.kustomizations.iter().chain([&app.source]) {
            out.consumed.extend(k.consumed.iter().map(|p| identity(p)));
        }
        out.sources.append(&mut app.kustomizations);
        app.source.path = file.clone();
        app.source.composed = vec![format!("{} {}", field("apiVersion"), field("kind"))];
        out.sources.push(app.source);
    }
    // Roots only: a kustomization another source reads is judged through it.
    let nested: BTreeSet<PathBuf> = out
        .sources
        .iter()
        .flat_map(|k| k.nested.iter().map(|p| identity(p)))
        .collect();
    out.sources.retain(|k| !nested.contains(&identity(&k.path)));
    out
}

/// A file's identity whether or not it is on disk (`history` reads the blobs of past commits):
/// the path as it is on disk when it is there, else its lexical form joined to the working
/// directory (`a/./b/../c` is `a/c`).
pub fn identity(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    match std::env::current_dir() {
        Ok(cwd) if out.is_relative() => std::fs::canonicalize(&cwd).unwrap_or(cwd).join(out),
        _ => out,
    }
}

/// Fields of a kustomization that can change an image and that this reader does not apply.
const NOT_APPLIED: [(&str, &str); 8] = [
    ("patches", "patches"),
    ("patchesStrategicMerge", "strategic-merge patches"),
    ("patchesJson6902", "JSON 6902 patches"),
    ("replacements", "replacements"),
    ("components", "components"),
    ("generators", "generator plugins"),
    ("transformers", "transformer plugins"),
    (
        "helmChartInflationGenerator",
        "the deprecated helm generator",
    ),
];

/// Reads the kustomization at `path`.
pub fn read(path: &Path, max_file_size: u64) -> Kustomization {
    read_nested(path, None, &|_| None, max_file_size, 0)
}

/// How deep kustomizations may read one another (a cycle is an error long before).
const MAX_DEPTH: usize = 16;

fn read_nested(
    path: &Path,
    given: Option<&str>,
    texts: Texts<'_>,
    max_file_size: u64,
    depth: usize,
) -> Kustomization {
    let mut out = Kustomization {
        path: path.to_path_buf(),
        ..Kustomization::default()
    };
    let name = input::source_name(path);
    let text = match given
        .map(str::to_owned)
        .map(Ok)
        .unwrap_or_else(|| input::read_limited(path, max_file_size))
    {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let (doc, positions) = match yaml::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            out.errors.push(InputError {
                source: name,
                message: format!("invalid YAML: {e}"),
                line: e.line,
            });
            return out;
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    for (key, what) in NOT_APPLIED {
        if let Some(v) = doc.get(key).filter(|v| !is_empty(v)) {
            let line = positions
                .get(&format!("/{key}"))
                .map_or(String::new(), |p| format!(":{}", p.line));
            let n = v.as_array().map_or(1, Vec::len);
            let entries = if n == 1 { "entry" } else { "entries" };
            out.not_applied.push(format!(
                "{name}{line}: `{key}` ({what}, {n} {entries}) not applied: it can change images; check the rendered output (`kustomize build --enable-helm`), or pass --allow-partial"
            ));
        }
    }
    let rules = image_rules(doc.get("images"), "/images", &positions, &name, path);
    let own_namespace = doc
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    for key in ["resources", "bases"] {
        for (i, resource) in strings(doc.get(key)).enumerate() {
            let line = positions
                .get(&format!("/{key}/{i}"))
                .map_or(String::new(), |p| format!(":{}", p.line));
            if resource.contains("://")
                || resource.starts_with("github.com/")
                || resource.contains("?ref=")
            {
                out.not_applied.push(format!(
                    "{name}{line}: remote resource {resource:?} not read: check the rendered output, or pass --allow-partial"
                ));
                continue;
            }
            let target = dir.join(resource);
            if target.is_file() && under(dir, resource).is_none() {
                out.errors
                    .push(outside(&name, resource, "the kustomization's directory"));
            } else if target.is_file() {
                out.resources.push(Resource {
                    path: target,
                    rules: rules.clone(),
                    namespace: own_namespace.clone(),
                });
            } else if target.is_dir() {
                let Some(inner) = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                    .iter()
                    .map(|n| target.join(n))
                    .find(|p| p.is_file())
                else {
                    out.errors.push(InputError {
                        source: format!("{name}{line}"),
                        message: format!(
                            "resource {resource:?} is a directory without a kustomization, which kustomize refuses: add one, or name its files"
                        ),
                        line: None,
                    });
                    continue;
                };
                if depth >= MAX_DEPTH {
                    out.errors.push(InputError {
                        source: format!("{name}{line}"),
                        message: format!(
                            "resource {resource:?}: kustomizations nested deeper than {MAX_DEPTH} (a cycle?): not read"
                        ),
                        line: None,
                    });
                    continue;
                }
                let sub = read_nested(
                    &inner,
                    texts(&inner).as_deref(),
                    texts,
                    max_file_size,
                    depth + 1,
                );
                out.nested.insert(inner.clone());
                out.nested.extend(sub.nested);
                out.consumed.insert(inner);
                out.consumed.extend(sub.consumed);
                out.errors.extend(sub.errors);
                out.not_applied.extend(sub.not_applied);
                if !sub.charts.is_empty() && !rules.is_empty() {
                    out.not_applied.push(format!(
                        "{name}: `images` not applied to the render of the charts of {}: their values are judged as the chart renders them; check the rendered output, or pass --allow-partial",
                        input::source_name(&sub.path)
                    ));
                }
                out.charts.extend(sub.charts);
                out.resources.extend(sub.resources.into_iter().map(|mut r| {
                    r.rules.extend(rules.iter().cloned());
                    // An outer kustomization's namespace wins, as kustomize applies it last.
                    if own_namespace.is_some() {
                        r.namespace.clone_from(&own_namespace);
                    }
                    r
                }));
            } else {
                out.errors.push(InputError {
                    source: format!("{name}{line}"),
                    message: format!("resource {resource:?}: no such file or directory"),
                    line: None,
                });
            }
        }
    }
    out.consumed
        .extend(out.resources.iter().map(|r| r.path.clone()));
    let chart_home = doc
        .pointer("/helmGlobals/chartHome")
        .and_then(Value::as_str)
        .unwrap_or("charts");
    let charts = doc.get("helmCharts").and_then(Value::as_array);
    for (i, chart) in charts.into_iter().flatten().enumerate() {
        let at = format!("/helmCharts/{i}");
        let chart_name = chart.get("name").and_then(Value::as_str).unwrap_or("");
        let version = chart.get("version").and_then(Value::as_str).unwrap_or("");
        let label = match version {
            "" => format!("{name}: helmCharts[{i}] ({chart_name})"),
            version => format!("{name}: helmCharts[{i}] ({chart_name} {version})"),
        };
        let vendored = dir.join(chart_home).join(chart_name);
        let defaults_path = vendored.join("values.yaml");
        let mut layers = Vec::new();
        // helm applies the chart's own values first, whatever the kustomization says.
        let defaults = (!chart_name.is_empty() && defaults_path.is_file())
            .then(|| layer_file(&defaults_path, texts, max_file_size, &mut out))
            .flatten();
        if !chart_name.is_empty() && !vendored.is_dir() {
            out.not_applied.push(format!(
                "{label}: the chart is not vendored at {}: its own values (what an unset key renders) are not known; vendor it (`helm pull --untar --untardir {chart_home}`) or check the rendered output, or pass --allow-partial",
                input::source_name(&vendored)
            ));
        }
        // Kustomize reads files at or below the kustomization's directory only (its default
        // load restrictor); a path that leaves it is refused, never read.
        let values_file = match chart.get("valuesFile").and_then(Value::as_str) {
            Some(f) => under(dir, f).unwrap_or_else(|| {
                out.errors
                    .push(outside(&name, f, "the kustomization's directory"));
                defaults_path.clone()
            }),
            None => defaults_path.clone(),
        };
        let file = if values_file == defaults_path {
            None
        } else {
            layer_file(&values_file, texts, max_file_size, &mut out)
        };
        let inline = chart.get("valuesInline").filter(|v| !v.is_null()).map(|v| {
            File::from_parts(
                &name,
                v.clone(),
                positions.subtree(&format!("{at}/valuesInline")),
            )
        });
        let inline = match inline.transpose() {
            Ok(i) => i,
            Err(e) => {
                out.errors.push(e);
                None
            }
        };
        let merge = chart
            .get("valuesMerge")
            .and_then(Value::as_str)
            .unwrap_or("override");
        layers.extend(defaults);
        match (merge, inline) {
            ("replace", Some(inline)) => layers.push(inline),
            ("merge", Some(inline)) => {
                // mergo without override: the file's values stay, inline fills the gaps.
                layers.push(inline.without_empty_values());
                layers.extend(file);
            }
            ("override" | "", Some(inline)) => {
                layers.extend(file);
                layers.push(inline.without_empty_values());
            }
            (other, Some(_)) => {
                out.errors.push(InputError {
                    source: name.clone(),
                    message: format!(
                        "helmCharts[{i}].valuesMerge {other:?}: kustomize takes merge, override or replace"
                    ),
                    line: positions.get(&format!("{at}/valuesMerge")).map(|p| p.line),
                });
            }
            (_, None) => layers.extend(file),
        }
        for extra in strings(chart.get("additionalValuesFiles")) {
            match under(dir, extra) {
                Some(p) => layers.extend(layer_file(&p, texts, max_file_size, &mut out)),
                None => out
                    .errors
                    .push(outside(&name, extra, "the kustomization's directory")),
            }
        }
        let app_version = chart_app_version(&vendored);
        if vendored.is_dir() {
            out.consumed.extend(files_under(&vendored));
        }
        let namespace = chart
            .get("namespace")
            .or_else(|| doc.get("namespace"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut origins = out.layer_paths.clone();
        origins.push((name.clone(), path.to_path_buf()));
        out.charts.push(Chart {
            label,
            layers,
            namespace,
            app_version,
            origins,
            vendored: vendored.is_dir().then(|| vendored.clone()),
        });
    }
    if !rules.is_empty() && doc.get("helmCharts").is_some_and(|c| !is_empty(c)) {
        out.not_applied.push(format!(
            "{name}: `images` not applied to the render of its helmCharts: their values are judged as the chart renders them; check the rendered output, or pass --allow-partial"
        ));
    }
    out
}

/// A chart's composed values, prepared as `values` prepares them (its `effective` settings
/// carry the chart's own `imagePolicy.requireDigest`, for the evaluator).
pub fn prepare(
    chart: Chart,
    settings_json: &Value,
    settings: &Settings,
    namespace: Option<&str>,
) -> run::Values {
    let namespace = chart.namespace.as_deref().or(namespace);
    let mut prepared = run::prepare_layers(
        chart.layers,
        &chart.label,
        settings_json,
        settings,
        namespace,
        Vec::new(),
    );
    prepared.app_version = chart.app_version;
    prepared
}

/// A values layer read from the texts in hand, else from disk; noted as consumed by `out`, with
/// its name and file (for `pin`).
fn layer_file(path: &Path, texts: Texts<'_>, max: u64, out: &mut Kustomization) -> Option<File> {
    out.consumed.insert(path.to_path_buf());
    let layer = match texts(path) {
        Some(text) => match values::read(&shown(path), &text) {
            Ok(f) => Some(f),
            Err(e) => {
                out.errors.push(e);
                None
            }
        },
        None => read_layer(path, max, &mut out.errors),
    };
    if let Some(f) = &layer {
        out.layer_paths.push((f.name.clone(), path.to_path_buf()));
    }
    layer
}

/// `rel` joined to `base`, when it stays at or below it (`a/../b` is fine, `../x` and `/x` are
/// not): the paths a source names, kept inside what its tool would read.
fn under(base: &Path, rel: &str) -> Option<PathBuf> {
    within(base, &base.join(rel))
}

/// `path` written without `.` and `..` (no file system asked: the file may not exist), when
/// it is at or below `base`.
fn within(base: &Path, path: &Path) -> Option<PathBuf> {
    let normal = |p: &Path| {
        let mut out = PathBuf::new();
        for part in p.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    if !out.pop() {
                        out.push("..");
                    }
                }
                other => out.push(other),
            }
        }
        out
    };
    let path = normal(path);
    path.starts_with(normal(base)).then_some(path)
}

/// A path a source names that leaves what its tool reads.
fn outside(source: &str, path: &str, what: &str) -> InputError {
    InputError {
        source: source.to_owned(),
        message: format!(
            "{path:?} is outside {what}, which the tool refuses to read: not read; move the file inside, or name the right one"
        ),
        line: None,
    }
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// A kustomization's resources as it renders them: their documents with the `images` entries
/// applied, and for each image an entry set, where its findings go (the entry).
#[derive(Default)]
pub struct Rendered {
    /// The documents, images transformed.
    pub docs: Vec<input::Document>,
    /// `(document location, container path)` → the entry that set the image.
    pub placed: std::collections::HashMap<(String, String), (String, Pos)>,
    /// Resources that cannot be read.
    pub errors: Vec<InputError>,
}

/// Reads and transforms `resources` (kustomize's `images` on `containers[].image` and
/// `initContainers[].image`, anywhere in the object, as its legacy filter does).
pub fn render(resources: &[Resource], settings: &Settings, max_file_size: u64) -> Rendered {
    let mut out = Rendered::default();
    for r in resources {
        let text = match input::read_limited(&r.path, max_file_size) {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        let (docs, errors) = input::parse(&input::source_name(&r.path), &text);
        out.errors.extend(errors);
        for mut doc in docs {
            // The namespace the build puts it in (kustomize's namespace transformer).
            if let (Some(ns), Some(Value::Object(meta))) =
                (&r.namespace, doc.value.get_mut("metadata"))
            {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            for at in image_digest_scan::images::of_document(&doc, settings) {
                let Some(t) = transform(&r.rules, &at) else {
                    continue;
                };
                if let Some(slot) = doc.value.pointer_mut(&at.pointer) {
                    *slot = Value::String(t.image);
                    out.placed.insert(
                        (doc.location(), at.path.clone()),
                        (t.last.file.clone(), t.last.pos),
                    );
                }
            }
            out.docs.push(doc);
        }
    }
    out
}

/// An image after a resource's `images` entries: what it renders as, and which entries set it.
pub struct Transformed<'r> {
    /// The image as rendered.
    pub image: String,
    /// The last entry that matched (where a finding on the rendered image goes).
    pub last: &'r ImageRule,
    /// The last entry that set the tag or the digest (where `pin` writes the digest).
    pub tag: Option<&'r ImageRule>,
    /// The last entry that only renamed it.
    pub renamed: Option<&'r ImageRule>,
}

/// Applies `rules` in order to the image at `at`, as kustomize's legacy filter does: to every
/// `containers[].image` and `initContainers[].image` written as a string, anywhere in the
/// object. `None` when no entry matched (or the field is not one the transformer touches).
pub fn transform<'r>(
    rules: &'r [ImageRule],
    at: &image_digest_scan::images::Located,
) -> Option<Transformed<'r>> {
    let list = at.path.rsplit('.').next().unwrap_or("");
    if !(list.starts_with("containers[") || list.starts_with("initContainers[")) {
        return None;
    }
    let image_digest_policy::request::ImageField::Str(written) = &at.image else {
        return None;
    };
    let mut image = written.to_string();
    let (mut last, mut tag, mut renamed) = (None, None, None);
    for rule in rules {
        // Each entry sees what the ones before it made (a rename then a tag).
        if !rule.matches(&image) {
            continue;
        }
        image = rule.apply(&image);
        last = Some(rule);
        if rule.new_tag.is_some() || rule.digest.is_some() {
            tag = Some(rule);
        } else {
            renamed = Some(rule);
        }
    }
    Some(Transformed {
        image,
        last: last?,
        tag,
        renamed,
    })
}

/// Puts every finding and warning on an image an `images` entry set at that entry.
pub fn place(
    results: &mut [image_digest_scan::report::Checked],
    placed: &std::collections::HashMap<(String, String), (String, Pos)>,
) {
    for r in results {
        for f in &mut r.findings {
            if let Some((file, pos)) = placed.get(&(r.location.clone(), f.path.clone())) {
                f.file = Some(file.clone());
                (f.line, f.column) = (pos.line, pos.column);
            }
        }
        for w in &mut r.warnings {
            let Some(path) = &w.path else { continue };
            if let Some((file, pos)) = placed.get(&(r.location.clone(), path.clone())) {
                w.file = Some(file.clone());
                (w.line, w.column) = (pos.line, pos.column);
            }
        }
    }
}

/// Whether a document is a GitOps source this reader composes: an Argo CD `Application` or a
/// Flux `HelmRelease`.
pub fn is_app(doc: &input::Document) -> bool {
    let field = |k: &str| doc.value.get(k).and_then(Value::as_str).unwrap_or("");
    let group = field("apiVersion").split('/').next().unwrap_or("");
    matches!(
        (group, field("kind")),
        ("argoproj.io", "Application")
            | ("helm.toolkit.fluxcd.io", "HelmRelease")
            | ("kustomize.toolkit.fluxcd.io", "Kustomization")
    )
}

/// A Flux `Kustomization`: the kustomization at `spec.path` (in this work tree) built with its
/// `spec.images` applied last; its `spec.patches` and `spec.postBuild` substitutions are not
/// applied here, and say so (they can change images).
pub fn flux_kustomization(doc: &input::Document, root: Option<&Path>, max: u64) -> App {
    let mut out = App::default();
    let name = doc
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    for (key, what) in [
        ("patches", "patches"),
        ("postBuild", "post-build substitutions"),
    ] {
        if doc
            .value
            .pointer(&format!("/spec/{key}"))
            .is_some_and(|v| !is_empty(v))
        {
            let at = doc
                .position(&format!("/spec/{key}"))
                .map_or(doc.location(), |p| format!("{}:{}", doc.source, p.line));
            out.source.not_applied.push(format!(
                "{at}: Flux Kustomization {name}: `spec.{key}` ({what}) not applied: it can change images; check the rendered output (`flux build kustomization`), or pass --allow-partial"
            ));
        }
    }
    let path = doc
        .value
        .pointer("/spec/path")
        .and_then(Value::as_str)
        .unwrap_or("./");
    let dir = root.and_then(|r| under(r, path));
    let Some(dir) = dir.filter(|d| d.is_dir()) else {
        out.source.not_applied.push(format!(
            "{}: Flux Kustomization {name}: path {path:?} is not in this work tree (another repository?): not read; check the rendered output, or pass --allow-partial",
            doc.position("/spec/path")
                .map_or(doc.location(), |p| format!("{}:{}", doc.source, p.line))
        ));
        return out;
    };
    let rules = image_rules(
        doc.value.pointer("/spec/images"),
        "/spec/images",
        &doc.positions,
        &doc.source,
        Path::new(&doc.source),
    );
    let target = doc
        .value
        .pointer("/spec/targetNamespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    out.kustomizations.push(with_overrides(
        &dir,
        Path::new(&doc.source),
        rules,
        target,
        max,
    ));
    out
}

/// What an `Application`, `HelmRelease` or Flux `Kustomization` renders, as far as this reader
/// composes it: a source of its own (its charts, what it consumes and does not apply), and the
/// kustomizations it builds with image overrides of its own (a Flux Kustomization's
/// `spec.path`, an Application's kustomize source), roots read through it.
#[derive(Default)]
pub struct App {
    pub source: Kustomization,
    pub kustomizations: Vec<Kustomization>,
}

/// The repository's root above `dir` (where `.git` is), for sources that name paths in it.
pub fn repo_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Reads an Argo CD `Application` (`spec.source`, or each of `spec.sources`): a Helm source's
/// values in Argo CD's order of precedence, lowest first — the chart's own `values.yaml` (a
/// chart in this repository), `helm.valueFiles` (relative to the source's path, or
/// `$ref/…` relative to the root of the source with that `ref`), `helm.values` (a YAML string),
/// `helm.valuesObject`, `helm.parameters`. `text` is the document's file, for the lines of a
/// `values` string. Paths are resolved in the Git work tree holding the file (Argo CD resolves
/// them in the repository it clones: a source of another repository is said, not read).
pub fn application(
    doc: &input::Document,
    text: &str,
    file: &Path,
    root: Option<&Path>,
    texts: Texts<'_>,
    max: u64,
) -> App {
    let mut out = App::default();
    out.source
        .layer_paths
        .push((doc.source.clone(), file.to_path_buf()));
    let name = doc
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_owned();
    let namespace = doc
        .value
        .pointer("/spec/destination/namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut sources: Vec<(String, &Value)> = Vec::new();
    if let Some(s) = doc.value.pointer("/spec/source") {
        sources.push(("/spec/source".into(), s));
    }
    for (i, s) in doc
        .value
        .pointer("/spec/sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        sources.push((format!("/spec/sources/{i}"), s));
    }
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .filter_map(|(_, s)| {
            Some((
                s.get("ref")?.as_str()?,
                s.get("path").and_then(Value::as_str).unwrap_or(""),
            ))
        })
        .collect();
    let here = |p: &str| -> String {
        doc.position(p)
            .map_or(doc.location(), |pos| format!("{}:{}", doc.source, pos.line))
    };
    for (at, source) in &sources {
        let field = |k: &str| source.get(k).and_then(Value::as_str);
        let helm = source.get("helm");
        let overrides: Vec<&str> =
            strings(source.get("kustomize").and_then(|k| k.get("images"))).collect();
        if !overrides.is_empty() {
            match (field("path"), root) {
                (Some(path), Some(root)) if root.join(path).is_dir() => {
                    let pos = doc
                        .position(&format!("{at}/kustomize/images"))
                        .unwrap_or(Pos { line: 1, column: 1 });
                    let rules = argo_image_rules(&overrides, &doc.source, file, pos);
                    out.kustomizations.push(with_overrides(
                        &root.join(path),
                        file,
                        rules,
                        None,
                        max,
                    ));
                    continue;
                }
                _ => out.source.not_applied.push(format!(
                    "{}: Application {name}: `kustomize.images` on a path not in this work tree: not applied; check the rendered output, or pass --allow-partial",
                    here(&format!("{at}/kustomize/images"))
                )),
            }
        }
        let chart_dir = match (field("chart"), field("path"), root) {
            (Some(chart), _, _) => {
                out.source.not_applied.push(format!(
                    "{}: Application {name}: chart {chart:?} of {:?}: its own values (what an unset key renders) are not known here; check the rendered output, or pass --allow-partial",
                    here(&format!("{at}/chart")),
                    field("repoURL").unwrap_or("")
                ));
                None
            }
            (None, Some(path), Some(root)) => under(root, path),
            _ => None,
        };
        let is_chart = chart_dir
            .as_ref()
            .is_some_and(|d| d.join("Chart.yaml").is_file());
        if helm.is_none() && !is_chart && field("chart").is_none() {
            // A directory of manifests or a kustomization: checked as what it is when given;
            // a path this work tree does not have is said.
            if field("ref").is_none() && !chart_dir.as_ref().is_some_and(|d| d.exists()) {
                out.source.not_applied.push(format!(
                    "{}: Application {name}: path {:?} is not in this work tree (another repository?): not read; check the rendered output, or pass --allow-partial",
                    here(&format!("{at}/path")),
                    field("path").unwrap_or("")
                ));
            }
            continue;
        }
        let label = format!(
            "{}: Application {name} ({})",
            doc.source,
            field("chart").or(field("path")).unwrap_or("")
        );
        let mut layers = Vec::new();
        let mut app_version = None;
        if let Some(dir) = chart_dir.as_ref().filter(|_| is_chart) {
            out.source.consumed.extend(files_under(dir));
            let defaults = dir.join("values.yaml");
            if defaults.is_file() {
                layers.extend(layer_file(&defaults, texts, max, &mut out.source));
            }
            app_version = chart_app_version(dir);
        } else if root.is_none() && field("path").is_some() {
            out.source.not_applied.push(format!(
                "{label}: not in a Git work tree: its path is not resolved; check the rendered output, or pass --allow-partial"
            ));
        }
        let ignore_missing = helm
            .and_then(|h| h.get("ignoreMissingValueFiles"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for (i, f) in strings(helm.and_then(|h| h.get("valueFiles"))).enumerate() {
            let path = match f.strip_prefix('$') {
                Some(rest) => {
                    let (r, file) = rest.split_once('/').unwrap_or((rest, ""));
                    match (refs.iter().find(|(name, _)| *name == r), root) {
                        (Some(_), Some(root)) => under(root, file),
                        _ => None,
                    }
                }
                None => chart_dir
                    .as_ref()
                    .zip(root)
                    .and_then(|(d, root)| within(root, &d.join(f))),
            };
            match path {
                Some(p) if p.is_file() => {
                    layers.extend(layer_file(&p, texts, max, &mut out.source));
                }
                Some(_) if ignore_missing => {}
                _ => out.source.errors.push(InputError {
                    source: here(&format!("{at}/helm/valueFiles/{i}")),
                    message: format!(
                        "Application {name}: value file {f:?} is not in this repository's work tree: its values are not known (a source of another repository?)"
                    ),
                    line: None,
                }),
            }
        }
        if let Some(Value::String(values)) = helm.and_then(|h| h.get("values")) {
            match yaml::parse(values) {
                Ok((value, mut positions)) => {
                    if let Some(pos) = doc.position(&format!("{at}/helm/values")) {
                        let first = text
                            .lines()
                            .skip(pos.line)
                            .find(|l| !l.trim().is_empty())
                            .unwrap_or("");
                        let indent = first.len() - first.trim_start().len();
                        positions.offset(pos.line, indent);
                    }
                    match File::from_parts(&doc.source, value, positions) {
                        Ok(f) => layers.push(f),
                        Err(e) => out.source.errors.push(e),
                    }
                }
                Err(e) => out.source.errors.push(InputError {
                    source: here(&format!("{at}/helm/values")),
                    message: format!("Application {name}: helm.values is not YAML: {e}"),
                    line: None,
                }),
            }
        }
        if let Some(object) = helm.and_then(|h| h.get("valuesObject")) {
            match File::from_parts(
                &doc.source,
                object.clone(),
                doc.positions.subtree(&format!("{at}/helm/valuesObject")),
            ) {
                Ok(f) => layers.push(f),
                Err(e) => out.source.errors.push(e),
            }
        }
        if let Some(params) = helm
            .and_then(|h| h.get("parameters"))
            .and_then(Value::as_array)
        {
            let mut value = Value::Object(serde_json::Map::new());
            let mut positions = yaml::Positions::default();
            for (i, p) in params.iter().enumerate() {
                let (Some(key), Some(v)) = (p.get("name").and_then(Value::as_str), p.get("value"))
                else {
                    continue;
                };
                let pointer = parameter_pointer(key);
                set_at(&mut value, &pointer, v.clone());
                if let Some(pos) = doc.position(&format!("{at}/helm/parameters/{i}/value")) {
                    positions.insert(pointer, pos);
                    out.source
                        .parameter_lines
                        .push((doc.source.clone(), pos.line, key.to_owned()));
                }
            }
            match File::from_parts(&doc.source, value, positions) {
                Ok(f) => layers.push(f),
                Err(e) => out.source.errors.push(e),
            }
        }
        out.source.charts.push(Chart {
            label,
            layers,
            namespace: namespace.clone(),
            app_version,
            origins: out.source.layer_paths.clone(),
            vendored: chart_dir.clone().filter(|_| is_chart),
        });
    }
    out
}

/// A Flux `HelmRelease`: `spec.valuesFrom` (ConfigMaps and Secrets found among `objects`, in
/// order, each at its `valuesKey`, default `values.yaml`, or its `targetPath`), then
/// `spec.values` on top; a chart of a `GitRepository` at a path in this work tree gives its
/// own values first. A `valuesFrom` that is not found (and not `optional`) is an input
/// error: its values are not known.
pub fn helm_release(
    doc: &input::Document,
    objects: &[input::Document],
    file: &Path,
    root: Option<&Path>,
    texts: Texts<'_>,
    max: u64,
) -> App {
    let mut out = App::default();
    out.source
        .layer_paths
        .push((doc.source.clone(), file.to_path_buf()));
    for o in objects {
        out.source
            .layer_paths
            .push((o.source.clone(), PathBuf::from(&o.source)));
    }
    let name = doc
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_owned();
    let namespace = doc
        .value
        .pointer("/spec/targetNamespace")
        .or_else(|| doc.value.pointer("/metadata/namespace"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let own_namespace = doc
        .value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let chart = doc
        .value
        .pointer("/spec/chart/spec/chart")
        .and_then(Value::as_str)
        .unwrap_or("");
    let source_kind = doc
        .value
        .pointer("/spec/chart/spec/sourceRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let here = |p: &str| -> String {
        doc.position(p)
            .map_or(doc.location(), |pos| format!("{}:{}", doc.source, pos.line))
    };
    let label = format!("{}: HelmRelease {name} ({chart})", doc.source);
    let mut layers = Vec::new();
    let mut app_version = None;
    let vendored = (source_kind == "GitRepository")
        .then_some(root)
        .flatten()
        .and_then(|r| under(r, chart))
        .filter(|d| d.join("Chart.yaml").is_file());
    match &vendored {
        Some(dir) => {
            out.source.consumed.extend(files_under(dir));
            let defaults = dir.join("values.yaml");
            if defaults.is_file() {
                layers.extend(layer_file(&defaults, texts, max, &mut out.source));
            }
            app_version = chart_app_version(dir);
        }
        None => out.source.not_applied.push(format!(
            "{}: HelmRelease {name}: chart {chart:?} ({source_kind}): its own values (what an unset key renders) are not known here; check the rendered output, or pass --allow-partial",
            here("/spec/chart")
        )),
    }
    for (i, from) in doc
        .value
        .pointer("/spec/valuesFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = |k: &str| from.get(k).and_then(Value::as_str).unwrap_or("");
        let (kind, from_name) = (field("kind"), field("name"));
        let key = Some(field("valuesKey"))
            .filter(|k| !k.is_empty())
            .unwrap_or("values.yaml");
        let optional = from
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let found = objects.iter().find(|o| {
            let f = |p: &str| o.value.pointer(p).and_then(Value::as_str).unwrap_or("");
            f("/kind") == kind
                && f("/metadata/name") == from_name
                && (f("/metadata/namespace").is_empty()
                    || own_namespace.is_empty()
                    || f("/metadata/namespace") == own_namespace)
        });
        let Some(object) = found else {
            if !optional {
                out.source.errors.push(InputError {
                    source: here(&format!("/spec/valuesFrom/{i}")),
                    message: format!(
                        "HelmRelease {name}: valuesFrom {kind} {from_name:?} is not among the files checked: its values are not known; give the file that holds it, or mark it optional if it may be absent"
                    ),
                    line: None,
                });
            }
            continue;
        };
        let text = match (
            object.value.pointer(&format!(
                "/data/{}",
                key.replace('~', "~0").replace('/', "~1")
            )),
            object.value.pointer(&format!(
                "/stringData/{}",
                key.replace('~', "~0").replace('/', "~1")
            )),
        ) {
            (Some(Value::String(s)), _) if kind == "Secret" => base64_decode(s),
            (Some(Value::String(s)), _) => Some(s.clone()),
            (_, Some(Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        let Some(text) = text else {
            if !optional {
                out.source.errors.push(InputError {
                    source: object.location(),
                    message: format!(
                        "HelmRelease {name}: {kind} {from_name:?} has no key {key:?} (valuesFrom[{i}].valuesKey): its values are not known"
                    ),
                    line: None,
                });
            }
            continue;
        };
        let target = field("targetPath");
        let layer = if target.is_empty() {
            yaml::parse(&text)
                .map_err(|e| e.to_string())
                .and_then(|(v, mut positions)| {
                    // A `data` string in the object's file: its lines there (a Secret's data
                    // is base64: no lines to point at).
                    let at = object
                        .position(&format!(
                            "/data/{}",
                            key.replace('~', "~0").replace('/', "~1")
                        ))
                        .filter(|_| kind != "Secret");
                    match (at, std::fs::read_to_string(&object.source)) {
                        (Some(pos), Ok(file)) => {
                            let first = file
                                .lines()
                                .skip(pos.line)
                                .find(|l| !l.trim().is_empty())
                                .unwrap_or("");
                            positions.offset(pos.line, first.len() - first.trim_start().len());
                        }
                        _ => positions = yaml::Positions::default(),
                    }
                    File::from_parts(&object.source, v, positions).map_err(|e| e.message)
                })
        } else {
            let mut value = Value::Object(serde_json::Map::new());
            set_at(&mut value, &parameter_pointer(target), Value::String(text));
            File::from_parts(&object.location(), value, yaml::Positions::default())
                .map_err(|e| e.message)
        };
        match layer {
            Ok(f) => layers.push(f),
            Err(e) => out.source.errors.push(InputError {
                source: object.location(),
                message: format!("HelmRelease {name}: valuesFrom[{i}]: {e}"),
                line: None,
            }),
        }
    }
    if let Some(values) = doc.value.pointer("/spec/values") {
        match File::from_parts(
            &doc.source,
            values.clone(),
            doc.positions.subtree("/spec/values"),
        ) {
            Ok(f) => layers.push(f),
            Err(e) => out.source.errors.push(e),
        }
    }
    out.source.charts.push(Chart {
        label,
        layers,
        namespace,
        app_version,
        origins: out.source.layer_paths.clone(),
        vendored,
    });
    out
}

/// A path as messages show it: relative to the working directory when it is under it.
fn shown(path: &Path) -> String {
    match std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
    {
        Some(rel) => input::source_name(&rel),
        None => input::source_name(path),
    }
}

fn read_layer(path: &Path, max: u64, errors: &mut Vec<InputError>) -> Option<File> {
    let text = match input::read_limited(path, max) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    match values::read(&shown(path), &text) {
        Ok(f) => Some(f),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

fn chart_app_version(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("Chart.yaml"))
        .ok()
        .and_then(|t| yaml::parse(&t).ok())
        .and_then(|(c, _)| match c.get("appVersion") {
            Some(Value::String(v)) if !v.is_empty() => Some(v.clone()),
            Some(v @ Value::Number(_)) => Some(v.to_string()),
            _ => None,
        })
}

/// `image.tag`, `a\.b.c`, `list[0].x` (Helm's `--set` paths, as Argo CD parameters and Flux
/// `targetPath` write them) as a JSON pointer.
fn parameter_pointer(path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            '.' => parts.push(std::mem::take(&mut current)),
            '[' => {
                parts.push(std::mem::take(&mut current));
                let index: String = chars.by_ref().take_while(|c| *c != ']').collect();
                parts.push(index);
                if chars.peek() == Some(&'.') {
                    chars.next();
                }
                current.clear();
                continue;
            }
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Sets `value` at `pointer`, making maps on the way (a list index is a map key here: the
/// values readers only look into maps).
fn set_at(root: &mut Value, pointer: &str, value: Value) {
    let mut at = root;
    let parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, path)) = parts.split_last() else {
        return;
    };
    for p in path {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else { return };
        at = map
            .entry(p.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = at {
        map.insert(last.clone(), value);
    }
}

/// A Secret's `data` value (standard base64); `None` when it is not base64 or not UTF-8.
fn base64_decode(text: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push(u8::try_from((bits >> n) & 0xff).ok()?);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_paths_stay_inside_their_root() {
        let root = Path::new("repo/apps");
        assert_eq!(
            under(root, "values.yaml"),
            Some(PathBuf::from("repo/apps/values.yaml"))
        );
        assert_eq!(
            under(root, "a/../b.yaml"),
            Some(PathBuf::from("repo/apps/b.yaml"))
        );
        assert_eq!(under(root, "./"), Some(PathBuf::from("repo/apps")));
        for out in ["../x.yaml", "a/../../x.yaml", "/etc/passwd"] {
            assert_eq!(under(root, out), None, "{out}");
        }
    }

    #[test]
    fn helm_paths_become_pointers() {
        assert_eq!(parameter_pointer("image.tag"), "/image/tag");
        assert_eq!(parameter_pointer("a\\.b.c"), "/a.b/c");
        assert_eq!(parameter_pointer("list[0].x"), "/list/0/x");
    }

    #[test]
    fn secret_data_is_decoded() {
        assert_eq!(
            base64_decode("aW1hZ2U6IHt9Cg==").as_deref(),
            Some("image: {}\n")
        );
        assert_eq!(base64_decode("!!"), None);
    }

    #[test]
    fn kustomize_splits_and_rewrites_images() {
        assert_eq!(
            split("localhost:5000/a/b:1@sha256:x"),
            (
                "localhost:5000/a/b".into(),
                Some("1".into()),
                Some("sha256:x".into())
            )
        );
        assert_eq!(
            split("localhost:5000/app"),
            ("localhost:5000/app".into(), None, None)
        );
    }
}
