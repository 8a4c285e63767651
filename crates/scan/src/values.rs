//! Helm values, checked before anything is rendered: the files merged as
//! `helm template -f a.yaml -f b.yaml` merges them, every image block found, the image each
//! one would render composed exactly as the chart does, and that image judged by the policy
//! itself (as the one container of a Pod), so no rule is written twice.
//!
//! Two layouts are read:
//! - the chart's: a root `image` block (`repository`, `tag`, `digest`) that component blocks
//!   (`<component>.image`, such as `controlPlane.image` and `controllers.image`) override key by
//!   key; a component with `enabled: false` renders nothing and is skipped;
//! - the community's: any other mapping with `repository` and `tag` and/or `digest` (and an
//!   optional `registry`), at any depth.

use crate::input::InputError;
use crate::yaml::{self, Pos, Positions};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One values file as read.
pub struct File {
    /// The file's name as messages show it.
    pub name: String,
    value: Value,
    positions: Positions,
}

/// Reads a values file; an empty file is an empty map, as for helm.
pub fn read(name: &str, text: &str) -> Result<File, InputError> {
    let error = |message: String| InputError {
        source: name.to_owned(),
        message,
    };
    let (value, positions) = yaml::parse(text).map_err(|e| error(format!("invalid YAML: {e}")))?;
    let value = match value {
        Value::Null => Value::Object(Map::new()),
        v @ Value::Object(_) => v,
        other => {
            return Err(error(format!(
                "a values file must be a mapping, found {}",
                image_digest_policy::json::type_name(&other)
            )));
        }
    };
    Ok(File {
        name: name.to_owned(),
        value,
        positions,
    })
}

/// The merged values and, for every node, the file that set it last and where.
pub struct Merged {
    /// The merged values.
    pub value: Value,
    origin: HashMap<String, (usize, Pos)>,
    names: Vec<String>,
}

impl Merged {
    /// The file and position that set the node at `pointer`.
    pub fn origin(&self, pointer: &str) -> Option<(&str, Pos)> {
        let (file, pos) = self.origin.get(pointer)?;
        Some((self.names.get(*file)?.as_str(), *pos))
    }
}

/// Merges the files in order: maps deeply, anything else replaced by the later file (and a
/// `null` deletes the key, as in helm).
pub fn merge(files: &[File]) -> Merged {
    let mut merged = Merged {
        value: Value::Object(Map::new()),
        origin: HashMap::new(),
        names: files.iter().map(|f| f.name.clone()).collect(),
    };
    for (i, f) in files.iter().enumerate() {
        let mut origin = std::mem::take(&mut merged.origin);
        merge_into(
            &mut merged.value,
            &f.value,
            String::new(),
            &mut |p: &str| {
                if let Some(pos) = f.positions.get(p) {
                    origin.insert(p.to_owned(), (i, pos));
                }
            },
        );
        merged.origin = origin;
    }
    merged
}

fn merge_into(base: &mut Value, over: &Value, pointer: String, mark: &mut dyn FnMut(&str)) {
    mark(&pointer);
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                let child = format!("{pointer}/{}", escape(k));
                if v.is_null() {
                    b.remove(k);
                    continue;
                }
                let slot = b.entry(k.clone()).or_insert(Value::Null);
                if !(slot.is_object() && v.is_object()) {
                    *slot = Value::Null;
                }
                merge_into(slot, v, child, mark);
            }
        }
        (b, o) => {
            *b = o.clone();
            mark_all(o, &pointer, mark);
        }
    }
}

fn mark_all(v: &Value, pointer: &str, mark: &mut dyn FnMut(&str)) {
    mark(pointer);
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| mark_all(v, &format!("{pointer}/{}", escape(k)), mark)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| mark_all(v, &format!("{pointer}/{i}"), mark)),
        _ => {}
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// An image the values would render, and the keys it was composed from.
#[derive(Debug, Clone)]
pub struct Image {
    /// The component (`controlPlane`) or, in the community layout, the block's YAML path.
    pub component: String,
    /// The YAML path of the block a user edits for this component (`controlPlane.image`).
    pub block: String,
    /// The image as the chart renders it.
    pub image: String,
    /// For `registry`, `repository`, `tag` and `digest`: the JSON pointer of the block that
    /// supplied it (the component's own, or the root `image` block).
    pub keys: Vec<(&'static str, String)>,
}

const KEYS: [&str; 4] = ["registry", "repository", "tag", "digest"];

/// Every image the merged values render, in a stable order.
pub fn images(values: &Value) -> Vec<Image> {
    let mut out = Vec::new();
    let root = values.get("image").filter(|v| is_block(v));
    let mut claimed = vec![String::new()];
    if let (Some(root), Some(top)) = (root, values.as_object()) {
        for (name, v) in top {
            if let Some(image) = component(name, v, root) {
                claimed.push(format!("/{}/image", escape(name)));
                out.push(image);
            }
        }
        // With no component of its own left, the root block is what renders: judge it.
        if !out.is_empty() {
            claimed.push("/image".to_owned());
        }
    }
    community(values, "", &claimed, &mut out);
    out
}

/// A component of the chart's layout: a top-level map with an `image` block (or one of the
/// chart's own components without one), not disabled.
fn component(name: &str, v: &Value, root: &Value) -> Option<Image> {
    let own = v.get("image").filter(|i| i.is_object());
    let known = matches!(name, "controlPlane" | "controllers");
    if name == "image" || !v.is_object() || (own.is_none() && !known) {
        return None;
    }
    if v.get("enabled") == Some(&Value::Bool(false)) {
        return None;
    }
    let own_pointer = format!("/{}/image", escape(name));
    let keys = KEYS
        .iter()
        .filter_map(|k| {
            let from_own = own.and_then(|o| o.get(*k)).is_some();
            let from_root = root.get(*k).is_some();
            match (from_own, from_root) {
                (true, _) => Some((*k, format!("{own_pointer}/{k}"))),
                (false, true) => Some((*k, format!("/image/{k}"))),
                _ => None,
            }
        })
        .collect::<Vec<_>>();
    let get = |k: &str| {
        own.and_then(|o| o.get(k))
            .or_else(|| root.get(k))
            .map(scalar)
            .unwrap_or_default()
    };
    Some(Image {
        component: name.to_owned(),
        block: format!("{name}.image"),
        image: compose(
            &get("registry"),
            &get("repository"),
            &get("tag"),
            &get("digest"),
        ),
        keys,
    })
}

/// Mappings with `repository` and `tag` and/or `digest` anywhere, except the chart's blocks.
fn community(v: &Value, pointer: &str, claimed: &[String], out: &mut Vec<Image>) {
    match v {
        Value::Object(m) => {
            if is_block(v) && !claimed.iter().any(|c| c == pointer) {
                out.push(block_image(m, pointer));
            }
            for (k, child) in m {
                community(child, &format!("{pointer}/{}", escape(k)), claimed, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                community(child, &format!("{pointer}/{i}"), claimed, out);
            }
        }
        _ => {}
    }
}

fn block_image(m: &Map<String, Value>, pointer: &str) -> Image {
    let get = |k: &str| m.get(k).map(scalar).unwrap_or_default();
    let path = yaml_path(pointer);
    Image {
        component: path.clone(),
        block: path,
        image: compose(
            &get("registry"),
            &get("repository"),
            &get("tag"),
            &get("digest"),
        ),
        keys: KEYS
            .iter()
            .filter(|k| m.contains_key(**k))
            .map(|k| (*k, format!("{pointer}/{k}")))
            .collect(),
    }
}

fn is_block(v: &Value) -> bool {
    v.get("repository").is_some_and(|r| r.is_string())
        && (v.get("tag").is_some() || v.get("digest").is_some())
}

/// A scalar as the chart's template prints it (`tag: 1.27` is the number 1.27, printed `1.27`).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `repository:tag@digest` when `digest` is non-empty, else `repository:tag`, as the chart
/// renders it; an empty tag leaves the `:` out, so the contract names what is missing.
pub fn compose(registry: &str, repository: &str, tag: &str, digest: &str) -> String {
    let mut image = match registry {
        "" => repository.to_owned(),
        r => format!("{}/{repository}", r.trim_end_matches('/')),
    };
    if !tag.is_empty() {
        image.push(':');
        image.push_str(tag);
    }
    if !digest.is_empty() {
        image.push('@');
        image.push_str(digest);
    }
    image
}

/// `/controlPlane/image/tag` as people write it: `controlPlane.image.tag`.
pub fn yaml_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// Whether the merged values turn on the chart's own switch.
pub fn require_digest(values: &Value) -> bool {
    values.pointer("/imagePolicy/requireDigest") == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> File {
        read(name, text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn later_files_win_key_by_key_and_remember_who_set_what() {
        let a = file(
            "a.yaml",
            "image:\n  repository: r\n  tag: latest\n  digest: ''\ncontrolPlane:\n  image:\n    repository: cp\n",
        );
        let b = file("b.yaml", "image:\n  tag: '1.2'\n");
        let m = merge(&[a, b]);
        assert_eq!(m.value["image"]["repository"], "r");
        assert_eq!(m.value["image"]["tag"], "1.2");
        let (name, pos) = m.origin("/image/tag").expect("an origin");
        assert_eq!((name, pos.line, pos.column), ("b.yaml", 2, 8));
        assert_eq!(m.origin("/image/repository").map(|o| o.0), Some("a.yaml"));
    }

    #[test]
    fn chart_components_override_the_root_block_and_disabled_ones_are_skipped() {
        let v: Value = serde_json::json!({
            "image": {"repository": "reg/jangar", "tag": "5b72ee1e", "digest": "sha256:aa"},
            "controlPlane": {"image": {"repository": "reg/cp", "digest": ""}},
            "controllers": {"enabled": true},
            "worker": {"enabled": false, "image": {"tag": "x"}},
            "sidecar": {"proxy": {"image": {"repository": "envoy", "tag": "v1"}}}
        });
        let got: Vec<(String, String)> = images(&v)
            .into_iter()
            .map(|i| (i.component, i.image))
            .collect();
        assert_eq!(
            got,
            [
                ("controlPlane".to_owned(), "reg/cp:5b72ee1e".to_owned()),
                (
                    "controllers".to_owned(),
                    "reg/jangar:5b72ee1e@sha256:aa".to_owned()
                ),
                ("sidecar.proxy.image".to_owned(), "envoy:v1".to_owned()),
            ]
        );
        assert_eq!(
            compose("ghcr.io/", "a/b", "", "sha256:x"),
            "ghcr.io/a/b@sha256:x"
        );
        assert_eq!(yaml_path("/a/0/b~1c"), "a[0].b/c");
    }
}
