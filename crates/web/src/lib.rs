//! The contract in JavaScript: wasm-bindgen exports over `api`, which returns JSON values.
//! Results cross as plain objects (`JSON.parse` of what the native checker would print);
//! problems with the input (unreadable settings, unknown options) throw an `Error` with the
//! message. Nothing here panics on input: a panic would trap the module for good.

pub mod api;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** One image's verdict under the settings. */
export interface ImageResult {
  image: string;
  verdict: "accepted" | "unpinned" | "exempt" | "rejected" | "invalid" | "out of scope";
  allowed: boolean;
  /** The fully qualified form, `docker.io/library/nginx:1.27`; null when invalid. */
  normalized: string | null;
  reasons: string[];
  /** The pinned form to write, `nginx:1.27@sha256:<digest>`; null when nothing to fix. */
  fix: string | null;
}
/** policy-server's answer to one AdmissionRequest (no host capabilities). */
export interface RequestResult {
  settingsValid: boolean; accepted?: boolean; message?: string | null; warnings?: string[];
}
export interface SettingsProblem { key: string; message: string; }
export interface SettingsResult { valid: boolean; message?: string; problems: SettingsProblem[]; }
export interface Input { name: string; text: string; }
export interface Options {
  /** Namespace for workloads that name none (`--namespace`). */
  namespace?: string;
  /** Exit 0 when nothing was checked. */
  allowEmpty?: boolean;
  /** Also render the report: "text" | "json" | "junit" | "sarif" | "github" | "openreports". */
  format?: string;
  /** Inputs the caller could not read: reported and counted, so the run cannot pass. */
  inputErrors?: { source: string; message: string }[];
  /** Helm values: what an empty `tag` renders, the chart's appVersion (`--app-version`). */
  appVersion?: string;
}
export interface Position { line: number; column: number; }
export interface Finding extends Position { path: string; rule: string; detail: string; }
export interface Warning extends Position { path?: string; rule: string; message: string; }
export interface Result extends Position {
  location: string; file: string; kind: string; namespace: string; name: string;
  allowed: boolean; outOfScope: boolean; message?: string; summary?: string;
  findings: Finding[]; warnings: Warning[]; error?: string;
}
/** What `image-digest-check --output json` prints (docs/check-report.schema.json), with the exit code. */
export interface Item extends Position {
  rule: string; level: "error" | "warning" | "note"; file: string | null; subject: string;
  path: string | null; message: string; image: string | null; reference: string | null;
  /** What to do about it (the rule's fix). */
  fix: string;
}
export interface CheckReport {
  schemaVersion: 2;
  results: Result[];
  /** What a command says beyond the workloads' findings (none for a check). */
  items: Item[];
  /** `file#document: message` for every input that could not be read. */
  inputErrors: string[];
  notes: string[];
  summary: { documents: number; workloads: number; accepted: number; rejected: number;
             errored: number; outOfScope: number; skipped: number; inputErrors: number };
  /** 0 all accepted, 1 something rejected, 2 anything not checked. */
  exitCode: 0 | 1 | 2;
  /** The report in `options.format`, when asked. */
  rendered?: string;
  /** checkManifests only: every image where it is written, with its own verdict. */
  images?: ImageEntry[];
}
export interface ImageEntry extends ImageResult, Position {
  file: string; kind: string; name: string; namespace: string;
  /** `spec.template.spec.containers[0]`, or `spec.volumes[0].image.reference` for an image volume */
  path: string;
  /** What holds the image: a container (or a custom kind's image field), or an image volume. */
  holder: "container" | "volume";
  /** The container's or the volume's name. */
  container: string;
}
"#;

fn to_js(value: &serde_json::Value) -> Result<JsValue, JsError> {
    js_sys::JSON::parse(&value.to_string())
        .map_err(|_| JsError::new("internal error: a result did not cross into JavaScript"))
}

fn inputs(inputs: JsValue) -> Result<Vec<api::Input>, JsError> {
    let text = js_sys::JSON::stringify(&inputs)
        .map_err(|_| JsError::new("inputs must be an array of {name, text}"))?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| {
        JsError::new(&format!(
            "inputs must be an array of {{name, text}} with valid Unicode text: {e}"
        ))
    })
}

fn options(options: JsValue) -> Result<Option<String>, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    Ok(js_sys::JSON::stringify(&options)
        .map_err(|_| JsError::new("options must be an object"))?
        .as_string())
}

/// The version of the policy these rules are.
#[wasm_bindgen]
pub fn version() -> String {
    image_digest_policy::VERSION.to_owned()
}

/// The report formats `checkManifests` and `checkValues` render (`options.format`), comma-
/// separated: the npm command's `--output` reads them here, so the two never list different
/// ones. (A string: wasm-bindgen's glue for a `Vec<String>` cost the module 2.4 KB.)
#[wasm_bindgen]
pub fn formats() -> String {
    image_digest_scan::run::Format::CHECK.join(",")
}

/// Checks one image reference under `settings` (YAML or JSON text; "" for the defaults).
#[wasm_bindgen(js_name = checkImage, unchecked_return_type = "ImageResult")]
pub fn check_image(image: &str, settings: &str) -> Result<JsValue, JsError> {
    to_js(&api::check_image(image, settings).map_err(|e| JsError::new(&e))?)
}

/// Judges one AdmissionRequest (`request` object as JSON text) as policy-server would.
#[wasm_bindgen(js_name = validateRequest, unchecked_return_type = "RequestResult")]
pub fn validate_request(request: &str, settings: &str) -> Result<JsValue, JsError> {
    to_js(&api::validate_request(request, settings).map_err(|e| JsError::new(&e))?)
}

/// Validates settings text: every problem, as the policy reports it.
#[wasm_bindgen(js_name = validateSettings, unchecked_return_type = "SettingsResult")]
pub fn validate_settings(settings: &str) -> Result<JsValue, JsError> {
    to_js(&api::validate_settings(settings))
}

/// Checks manifests (multi-document YAML or JSON), each `{name, text}`, as `image-digest-check` does.
#[wasm_bindgen(js_name = checkManifests, unchecked_return_type = "CheckReport")]
pub fn check_manifests(
    #[wasm_bindgen(unchecked_param_type = "Input[]")] files: JsValue,
    settings: &str,
    #[wasm_bindgen(unchecked_param_type = "Options | undefined")] opts: JsValue,
) -> Result<JsValue, JsError> {
    check(files, settings, opts, api::check_manifests)
}

/// Checks Helm values files, merged in order, as `image-digest-check values` does.
#[wasm_bindgen(js_name = checkValues, unchecked_return_type = "CheckReport")]
pub fn check_values(
    #[wasm_bindgen(unchecked_param_type = "Input[]")] files: JsValue,
    settings: &str,
    #[wasm_bindgen(unchecked_param_type = "Options | undefined")] opts: JsValue,
) -> Result<JsValue, JsError> {
    check(files, settings, opts, api::check_values)
}

type Check = fn(&[api::Input], &str, Option<&str>) -> Result<serde_json::Value, String>;

fn check(files: JsValue, settings: &str, opts: JsValue, f: Check) -> Result<JsValue, JsError> {
    let files = inputs(files)?;
    let opts = options(opts)?;
    to_js(&f(&files, settings, opts.as_deref()).map_err(|e| JsError::new(&e))?)
}
