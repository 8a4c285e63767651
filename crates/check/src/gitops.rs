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
use image_digest_scan::report::Report;
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
}

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
    /// The kustomization that holds it.
    pub file: String,
    /// Where the entry is (its `newTag`, else `digest`, else `newName`).
    pub pos: Pos,
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
    read_nested(path, max_file_size, 0)
}

/// How deep kustomizations may read one another (a cycle is an error long before).
const MAX_DEPTH: usize = 16;

fn read_nested(path: &Path, max_file_size: u64, depth: usize) -> Kustomization {
    let mut out = Kustomization {
        path: path.to_path_buf(),
        ..Kustomization::default()
    };
    let name = input::source_name(path);
    let text = match input::read_limited(path, max_file_size) {
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
    let rules: Vec<ImageRule> = doc
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, e)| {
            let field = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
            let at = |k: &str| positions.get(&format!("/images/{i}/{k}"));
            Some(ImageRule {
                name: field("name")?,
                new_name: field("newName"),
                new_tag: field("newTag").or_else(|| {
                    e.get("newTag")
                        .filter(|v| v.is_number())
                        .map(Value::to_string)
                }),
                digest: field("digest"),
                file: name.clone(),
                pos: at("newTag")
                    .or_else(|| at("digest"))
                    .or_else(|| at("newName"))
                    .or_else(|| positions.get(&format!("/images/{i}")))
                    .unwrap_or(Pos { line: 1, column: 1 }),
            })
        })
        .collect();
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
            if target.is_file() {
                out.resources.push(Resource {
                    path: target,
                    rules: rules.clone(),
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
                let sub = read_nested(&inner, max_file_size, depth + 1);
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
        let label = format!("{name}: helmCharts[{i}] ({chart_name} {version})")
            .trim_end()
            .to_owned();
        let vendored = dir.join(chart_home).join(chart_name);
        let defaults_path = vendored.join("values.yaml");
        let mut layers = Vec::new();
        // helm applies the chart's own values first, whatever the kustomization says.
        let defaults = (!chart_name.is_empty() && defaults_path.is_file())
            .then(|| layer_file(&defaults_path, max_file_size, &mut out))
            .flatten();
        if !chart_name.is_empty() && !vendored.is_dir() {
            out.not_applied.push(format!(
                "{label}: the chart is not vendored at {}: its own values (what an unset key renders) are not known; vendor it (`helm pull --untar --untardir {chart_home}`) or check the rendered output, or pass --allow-partial",
                input::source_name(&vendored)
            ));
        }
        let values_file = chart
            .get("valuesFile")
            .and_then(Value::as_str)
            .map(|f| dir.join(f))
            .unwrap_or_else(|| defaults_path.clone());
        let file = if values_file == defaults_path {
            None
        } else {
            layer_file(&values_file, max_file_size, &mut out)
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
            layers.extend(layer_file(&dir.join(extra), max_file_size, &mut out));
        }
        let app_version = std::fs::read_to_string(vendored.join("Chart.yaml"))
            .ok()
            .and_then(|t| yaml::parse(&t).ok())
            .and_then(|(c, _)| match c.get("appVersion") {
                Some(Value::String(v)) if !v.is_empty() => Some(v.clone()),
                Some(v @ Value::Number(_)) => Some(v.to_string()),
                _ => None,
            });
        if vendored.is_dir() {
            out.consumed.extend(files_under(&vendored));
        }
        let namespace = chart
            .get("namespace")
            .or_else(|| doc.get("namespace"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        out.charts.push(Chart {
            label,
            layers,
            namespace,
            app_version,
        });
    }
    if !rules.is_empty() && doc.get("helmCharts").is_some_and(|c| !is_empty(c)) {
        out.not_applied.push(format!(
            "{name}: `images` not applied to the render of its helmCharts: their values are judged as the chart renders them; check the rendered output, or pass --allow-partial"
        ));
    }
    out
}

/// Judges a chart's composed values with the policy, as `values` does.
pub fn judge(
    chart: Chart,
    settings_json: &Value,
    settings: &Settings,
    namespace: Option<&str>,
    judge: &mut dyn image_digest_scan::judge::Judge,
    allow_empty: bool,
) -> Report {
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
    run::values(prepared, settings, judge, allow_empty)
}

/// The settings the chart's values imply (`imagePolicy.requireDigest`), for the evaluator.
pub fn effective_settings(chart: &Chart, settings_json: &Value) -> Value {
    let merged = values::merge(&chart.layers);
    let mut effective = settings_json.clone();
    if values::require_digest(&merged.value)
        && let Value::Object(map) = &mut effective
    {
        map.insert("requireDigest".into(), Value::Bool(true));
    }
    effective
}

fn layer_file(path: &Path, max: u64, out: &mut Kustomization) -> Option<File> {
    out.consumed.insert(path.to_path_buf());
    let text = match input::read_limited(path, max) {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(e);
            return None;
        }
    };
    match values::read(&input::source_name(path), &text) {
        Ok(f) => Some(f),
        Err(e) => {
            out.errors.push(e);
            None
        }
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
            for at in image_digest_scan::images::of_document(&doc, settings) {
                let list = at.path.rsplit('.').next().unwrap_or("");
                let transformed =
                    list.starts_with("containers[") || list.starts_with("initContainers[");
                let image_digest_policy::request::ImageField::Str(image) = &at.image else {
                    continue;
                };
                if !transformed {
                    continue;
                }
                let mut current = image.to_string();
                let mut by = None;
                for rule in &r.rules {
                    if rule.matches(&current) {
                        current = rule.apply(&current);
                        by = Some(rule);
                    }
                }
                let Some(rule) = by else { continue };
                if let Some(slot) = doc.value.pointer_mut(&at.pointer) {
                    *slot = Value::String(current);
                    out.placed.insert(
                        (doc.location(), at.path.clone()),
                        (rule.file.clone(), rule.pos),
                    );
                }
            }
            out.docs.push(doc);
        }
    }
    out
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
