//! Helm values judged: each image the merged values render is judged by the policy as the one
//! container of a Pod, and every finding is put back on the values key a user has to change,
//! in the file that set it.

use crate::input::InputError;
use crate::judge::Judge;
use crate::judge::{Found, Warned};
use crate::report::{self, Checked, Finding};
use crate::values::{self, Image, Merged, ValuesProblem};
use crate::yaml::Pos;
use image_digest_policy::reference::Part;
use serde_json::{Value, json};

/// What a values run produced, for the common report.
pub struct Outcome {
    /// One result per image.
    pub results: Vec<Checked>,
    /// What could not be read.
    pub errors: Vec<InputError>,
    /// The image blocks set aside by an `enabled: false` (`metrics.image (metrics.enabled)`).
    pub disabled: Vec<String>,
}

/// Judges every image of `merged` with `judge` in `namespace`; `app_version` is what an
/// empty tag renders, when known (`--chart`, `--app-version`).
pub fn judge(
    judge: &mut dyn Judge,
    merged: &Merged,
    namespace: &str,
    app_version: Option<&str>,
) -> Outcome {
    let found = values::images(&merged.value, app_version);
    let mut out = Outcome {
        results: Vec::new(),
        errors: Vec::new(),
        disabled: found
            .disabled
            .iter()
            .map(|d| format!("{} ({}: false)", d.block, d.by))
            .collect(),
    };
    for image in &found.images {
        out.results.push(match &image.problem {
            Some(ValuesProblem::NoTag) => not_judged(merged, image, namespace),
            Some(ValuesProblem::Uncomposable(why)) => uncomposable(merged, image, namespace, why),
            _ => judge_one(judge, merged, image, namespace),
        });
    }
    out
}

/// An image whose tag the chart decides: reported, never judged as `latest` (which most
/// charts would not render) nor accepted.
fn not_judged(merged: &Merged, image: &Image, namespace: &str) -> Checked {
    let at = key_origin(merged, image, key_name(image, Part::Repository));
    let mut result = result_at(image, namespace, at);
    result.error = Some(format!(
        "{}: image {:?}: no tag here: the chart decides it, usually its appVersion; pass --chart DIR (or --app-version V) to judge the image it renders, or set {}",
        key_path(image, "tag"),
        image.image,
        key_path(image, "tag")
    ));
    result
}

/// A block shaped like an image that names none: reported with its key and why, never
/// dropped (a summary of "3 images checked" must count every block it saw).
fn uncomposable(merged: &Merged, image: &Image, namespace: &str, why: &str) -> Checked {
    let mut result = result_at(image, namespace, block_origin(merged, image));
    result.error = Some(format!("{}: not judged: {why}", image.block));
    result
}

/// A result for `image`, placed at `at`.
fn result_at(image: &Image, namespace: &str, at: (String, Pos)) -> Checked {
    let (file, pos) = at;
    let mut result = Checked::new(
        file.clone(),
        "HelmValues".to_owned(),
        namespace.to_owned(),
        image.component.clone(),
    );
    (result.file, result.line, result.column) = (file, pos.line, pos.column);
    result.image = Some(image.image.clone());
    result
}

fn judge_one(judge: &mut dyn Judge, merged: &Merged, image: &Image, namespace: &str) -> Checked {
    let mut result = result_at(image, namespace, block_origin(merged, image));
    let request = pod(image, namespace);
    let response = judge.judge(request.to_string().as_bytes());
    match response {
        Ok(r) => {
            result.allowed = r.accepted;
            if let Some(m) = r.message {
                result.summary = Some(format!(
                    "component {:?}: its image breaks the image tag/digest contract",
                    image.component
                ));
                result.findings = r
                    .findings
                    .iter()
                    .map(|f| place(merged, image, f, &mut result.file))
                    .collect();
                result.message = Some(m);
            }
            result.warnings = r
                .warnings
                .iter()
                .map(|w| warning(merged, image, w))
                .collect();
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    if let Some(ValuesProblem::BorrowedDigest {
        from,
        from_repository,
    }) = &image.problem
    {
        // At the component's own repository: the block the user edits.
        let (file, pos) = key_origin(merged, image, "repository");
        result.allowed = false;
        result.summary.get_or_insert_with(|| {
            format!(
                "component {:?}: its image breaks the image tag/digest contract",
                image.component
            )
        });
        result.findings.push(Finding {
            path: format!("{}.digest", image.block),
            rule: crate::rules::Tool::BorrowedDigest.into(),
            detail: format!(
                "(component {:?}): image {:?}: its digest comes from {from}, a digest of {from_repository:?}, not of this repository: it would fail to pull (or pull what no one chose). Fix: set {}.digest to this image's digest, or {}.digest: \"\" to render the tag alone.",
                image.component, image.image, image.block, image.block
            ),
            line: pos.line,
            column: pos.column,
            file: None,
        });
        result.file = file;
    }
    result
}

/// The Pod a component's image would run in; its container is named after the component.
fn pod(image: &Image, namespace: &str) -> Value {
    let object = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": image.component, "namespace": namespace},
        "spec": {"containers": [{"name": image.component, "image": image.image}]},
    });
    json!({
        "uid": format!("image-digest-check:values:{}", image.component),
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": namespace,
        "operation": "CREATE",
        "object": object,
    })
}

/// The key a finding is about: the tag for a missing tag, the part of the reference an invalid
/// one is wrong in, else the digest (a missing or mutable pin, an algorithm, a lookup).
fn key_for(image: &Image, f: &Found) -> &'static str {
    key_name(image, f.part)
}

/// The key that holds `part` in this image's layout: the digest's `digest` or `sha`, the
/// repository's `repository`, `image` (ingress-nginx) or `name` (cert-manager).
fn key_name(image: &Image, part: Part) -> &'static str {
    match part {
        Part::Tag => "tag",
        Part::Digest => image.digest_key,
        Part::Repository => ["repository", "image", "name"]
            .into_iter()
            .find(|k| image.key(k).is_some())
            .unwrap_or("repository"),
    }
}

/// How to fill the digest key of this layout.
fn digest_fix(image: &Image) -> &'static str {
    match image.digest_key {
        "sha" => " to the hex of the image's sha256 digest (the chart adds `sha256:`)",
        _ => " to the image's sha256 digest",
    }
}

/// A policy finding on the values: the YAML path of the key to set, its file and line, and a
/// fix that names it.
fn place(merged: &Merged, image: &Image, f: &Found, file: &mut String) -> Finding {
    let key = key_for(image, f);
    let path = key_path(image, key);
    let (origin_file, pos) = key_origin(merged, image, key);
    *file = origin_file;
    let fix = if image.string {
        format!("write {path} as repository:tag@sha256:<digest>")
    } else if key == image.digest_key {
        format!("set {path}{}", digest_fix(image))
    } else {
        format!("set {path}")
    };
    Finding {
        path: path.clone(),
        rule: f.rule.into(),
        detail: format!(
            "(component {:?}): image {:?}: {}. Fix: {fix}.",
            image.component, image.image, f.reasons,
        ),
        line: pos.line,
        column: pos.column,
        file: None,
    }
}

fn warning(merged: &Merged, image: &Image, w: &Warned) -> report::Warning {
    let key = image.digest_key;
    let (_, pos) = key_origin(merged, image, key);
    let path = key_path(image, key);
    report::Warning {
        rule: w.rule.into(),
        message: format!(
            "{path} (component {:?}): image {:?}: {}; set {path} to pin it",
            image.component, image.image, w.detail,
        ),
        path: Some(path.clone()),
        line: pos.line,
        column: pos.column,
        file: None,
    }
}

/// The YAML path a user edits for `key` of this image: `block.key`, or the string itself.
fn key_path(image: &Image, key: &str) -> String {
    if image.string {
        image.block.clone()
    } else {
        format!("{}.{key}", image.block)
    }
}

/// Where `key` was set for this image; a key that is not set points at the block's tag, else
/// at the block itself.
/// Where the user sets `key` of this image: where it is written for this block, else (a key the
/// block takes from another, the root block's `digest`, or none) at the block's own tag, where
/// the key goes, in the file and line that set the tag last (a kustomization's `valuesInline`,
/// say), else at the block.
fn key_origin(merged: &Merged, image: &Image, key: &str) -> (String, Pos) {
    let own = |p: &&str| {
        let block = format!("/{}/", image.block.replace('.', "/"));
        p.starts_with(&block)
    };
    // Of the key and the tag (the block's own first), the one the latest layer set: where the
    // user last decided this image (an override's tag rather than the chart's empty digest).
    let candidates = [
        image.key(key).filter(own),
        image.key("tag").filter(own),
        image.key(key),
        image.key("tag"),
    ];
    let mut best: Option<(usize, &str)> = None;
    for p in candidates.into_iter().flatten() {
        let Some(layer) = merged.layer_of(p) else {
            continue;
        };
        if best.is_none_or(|(l, _)| layer > l) {
            best = Some((layer, p));
        }
    }
    best.and_then(|(_, p)| merged.origin(p))
        .map(|(f, p)| (f.to_owned(), p))
        .unwrap_or_else(|| block_origin(merged, image))
}

fn block_origin(merged: &Merged, image: &Image) -> (String, Pos) {
    let pointer = format!("/{}", image.block.replace('.', "/"));
    merged
        .origin(&pointer)
        .or_else(|| image.keys.first().and_then(|(_, p)| merged.origin(p)))
        .map(|(f, p)| (f.to_owned(), p))
        .unwrap_or_else(|| (String::from("<values>"), Pos { line: 1, column: 1 }))
}
