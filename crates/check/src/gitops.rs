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
//! - What this reader does not apply (the `images` transformer, patches, replacements,
//!   components, generators and transformers of plugins, remote resources) is said, and the
//!   run is not a pass (exit 2) unless `--allow-partial`: the rendered result could differ.
//!
//! The values files a kustomization consumes are not read again as manifests.

use image_digest_policy::settings::Settings;
use image_digest_scan::input::{self, InputError};
use image_digest_scan::report::Report;
use image_digest_scan::run;
use image_digest_scan::values::{self, File};
use image_digest_scan::yaml;
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

/// What a kustomization holds for the check.
#[derive(Default)]
pub struct Kustomization {
    /// Its charts.
    pub charts: Vec<Chart>,
    /// The files it consumes (values files, the vendored chart's), not manifests.
    pub consumed: BTreeSet<PathBuf>,
    /// What it does that this reader does not apply, each said once.
    pub not_applied: Vec<String>,
    /// Files it names that cannot be read.
    pub errors: Vec<InputError>,
}

/// Fields of a kustomization that can change an image and that this reader does not apply.
const NOT_APPLIED: [(&str, &str); 9] = [
    ("images", "the images transformer"),
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
    let mut out = Kustomization::default();
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
    for (i, resource) in strings(doc.get("resources")).enumerate() {
        if resource.contains("://")
            || resource.starts_with("github.com/")
            || resource.contains("?ref=")
        {
            let line = positions
                .get(&format!("/resources/{i}"))
                .map_or(String::new(), |p| format!(":{}", p.line));
            out.not_applied.push(format!(
                "{name}{line}: remote resource {resource:?} not read: check the rendered output, or pass --allow-partial"
            ));
        }
    }
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
