//! Helm values, checked before anything is rendered: the files merged as
//! `helm template -f a.yaml -f b.yaml` merges them, every image block found, the image each
//! one would render composed exactly as the chart does, and that image judged by the policy
//! itself (as the one container of a Pod), so no rule is written twice.
//!
//! The layouts read:
//! - the chart note's: a root `image` block (`repository`, `tag`, `digest`) that its components
//!   (`controlPlane.image`, `controllers.image`) override key by key;
//! - the community's, at any depth: `registry` + `repository` + `tag` + `digest` (Bitnami and
//!   most charts), `sha` for the digest's hex (kube-prometheus-stack), `registry` + `image`
//!   with `repository` as a full override (ingress-nginx), and `image.name` under the global
//!   `imageRegistry`/`imageNamespace` (cert-manager).
//!
//! A block under an `enabled: false` (its own mapping's or an ancestor's) renders nothing: it
//! is set aside and counted as skipped. An empty tag renders the chart's `appVersion` in most
//! charts: supplied by `--chart`/`--app-version`, else the image is reported as not judged.

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
        line: None,
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

impl File {
    /// The layer's values.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// A values layer that is a block of another document (a kustomization's
    /// `valuesInline`, an Application's `valuesObject`): its value and its positions, re-rooted
    /// at the block ([`Positions::subtree`]), named by the file that holds it.
    pub fn from_parts(name: &str, value: Value, positions: Positions) -> Result<File, InputError> {
        match value {
            Value::Null => Ok(File {
                name: name.to_owned(),
                value: Value::Object(Map::new()),
                positions,
            }),
            v @ Value::Object(_) => Ok(File {
                name: name.to_owned(),
                value: v,
                positions,
            }),
            other => Err(InputError {
                source: name.to_owned(),
                message: format!(
                    "inline values must be a mapping, found {}",
                    image_digest_policy::json::type_name(&other)
                ),
                line: None,
            }),
        }
    }

    /// The layer with every empty value left out (`""`, `false`, `0`, `null`, empty maps
    /// and lists): kustomize merges `valuesInline` over the values file with mergo's
    /// `WithOverride`, which lets only non-empty values override, so `digest: ""` inline does
    /// not clear a digest the values file sets.
    pub fn without_empty_values(mut self) -> File {
        fn strip(v: &mut Value) -> bool {
            match v {
                Value::Object(m) => {
                    m.retain(|_, x| !strip(x));
                    m.is_empty()
                }
                Value::Array(a) => a.is_empty(),
                Value::String(s) => s.is_empty(),
                Value::Bool(b) => !*b,
                Value::Number(n) => n.as_f64() == Some(0.0),
                Value::Null => true,
            }
        }
        if let Value::Object(m) = &mut self.value {
            m.retain(|_, x| !strip(x));
        }
        self
    }
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

    /// Which layer (its index, in merge order) set the node at `pointer`.
    pub fn layer_of(&self, pointer: &str) -> Option<usize> {
        self.origin.get(pointer).map(|(layer, _)| *layer)
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
    /// For `registry`, `repository`, `image`, `name`, `tag`, `digest` and `sha`: the JSON
    /// pointer of the block that supplied it (the component's own, or the root `image` block).
    pub keys: Vec<(&'static str, String)>,
    /// The key the digest goes in: `digest` (`sha256:<hex>`), or `sha` (kube-prometheus-stack:
    /// the hex alone, rendered as `@sha256:<sha>`).
    pub digest_key: &'static str,
    /// Why the image as composed is not what will run, when the values alone cannot say.
    pub problem: Option<ValuesProblem>,
    /// The image is one string (`sidecar.image: "busybox:1.36"`, `initImage: busybox`), not a
    /// block: `block` is the string's own YAML path, and a digest goes into the string.
    pub string: bool,
}

impl Image {
    /// The JSON pointer of the key `name` (`tag`, `repository`, …) this image took, if any.
    pub fn key(&self, name: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.as_str())
    }
}

/// What keeps a composed image from being judged as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuesProblem {
    /// No tag: most charts render `.Chart.AppVersion` then, which the values do not hold
    /// (`values --chart DIR` or `--app-version V` supplies it).
    NoTag,
    /// The component's own `repository` with the root block's digest: a digest of another
    /// repository (the chart overrides key by key).
    BorrowedDigest {
        /// The key the digest comes from (`image.digest`).
        from: String,
        /// The repository that digest belongs to.
        from_repository: String,
    },
    /// A mapping shaped like an image block whose image cannot be composed from the values
    /// (`repository: ""` with nothing to inherit it from, a block with only a tag): never
    /// dropped, reported as not judged with why.
    Uncomposable(String),
}

/// A block that renders nothing: it, or a mapping above it, has `enabled: false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    /// The block's YAML path (`metrics.image`).
    pub block: String,
    /// The switch that turns it off (`metrics.enabled`).
    pub by: String,
}

/// Every image the values render, and the blocks they would render if enabled.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The images, in a stable order.
    pub images: Vec<Image>,
    /// The image blocks under an `enabled: false`, skipped.
    pub disabled: Vec<Disabled>,
}

/// The chart note's components: the only blocks that inherit the root `image` block key by key.
/// A nested block in any other chart (Bitnami's `kubectl.image`, `metrics.image`) is an image
/// of its own, and the root block is then judged as what it is.
const COMPONENTS: [&str; 2] = ["controlPlane", "controllers"];

/// Every image the merged values render, in a stable order; `app_version` is what an empty tag
/// renders (the chart's `appVersion`), when known.
pub fn images(values: &Value, app_version: Option<&str>) -> Found {
    let mut found = Found::default();
    let cx = Cx {
        values,
        app_version,
    };
    let root = values.get("image").filter(|v| cx.block_at("image", v, &[]));
    let mut claimed = Vec::new();
    if let (Some(root), Some(top)) = (root, values.as_object()) {
        for name in COMPONENTS {
            let Some(v) = top.get(name).filter(|v| v.is_object()) else {
                continue;
            };
            claimed.push(format!("/{name}/image"));
            if v.get("enabled") == Some(&Value::Bool(false)) {
                found.disabled.push(Disabled {
                    block: format!("{name}.image"),
                    by: format!("{name}.enabled"),
                });
                continue;
            }
            found.images.push(cx.component(name, v, root));
        }
        // The root block is the components' defaults: judged on its own only when no enabled
        // component of the chart's layout is there to render it.
        if !found.images.is_empty() {
            claimed.push("/image".to_owned());
        }
    }
    let mut walk = Walk {
        claimed: &claimed,
        ancestors: Vec::new(),
    };
    cx.community(values, "", "", None, false, &mut walk, &mut found);
    let inherited_global = found.images.iter().any(|i| {
        i.key("repository")
            .is_some_and(|p| p.starts_with("/global/image"))
    });
    // argo-cd's `global.image` (and kyverno's, ingress-nginx's `global.image.registry`) is
    // the other blocks' defaults: judged as an image of its own only when it names a
    // repository that no block inherited.
    if let Some(global) = values.pointer("/global/image").and_then(Value::as_object)
        && !inherited_global
        && global
            .get("repository")
            .and_then(Value::as_str)
            .is_some_and(|r| !r.is_empty())
    {
        found
            .images
            .push(cx.block_image(global, "/global/image", &[]));
    }
    found
}

/// What the walk over the values carries: the chart layout's own blocks, and the mappings
/// above the node (for `global.hub`).
struct Walk<'a, 'v> {
    claimed: &'a [String],
    ancestors: Vec<(&'v Map<String, Value>, String)>,
}

/// The mappings above a node, outermost first, each with its JSON pointer.
type Ancestors<'v> = [(&'v Map<String, Value>, String)];

/// The keys that make a mapping under an image-named key (`image`, `*Image`) an image block
/// to compose, or to report as not composable: never one silently dropped.
const BLOCK_KEYS: [&str; 9] = [
    "repository",
    "registry",
    "tag",
    "digest",
    "sha",
    "name",
    "version",
    "hub",
    "image",
];

/// Whether `key` names an image (`image`, `initImage`, `exportSidecarImage`).
fn image_key(key: &str) -> bool {
    key == "image" || key.ends_with("Image")
}

struct Cx<'v> {
    values: &'v Value,
    app_version: Option<&'v str>,
}

impl Cx<'_> {
    /// Whether the mapping `v` at key `key` is an image block: a `repository` (with a tag, a
    /// digest or a `sha`, or under a key that names an image), ingress-nginx's `registry` +
    /// `image`, cert-manager's `image.name` under its global `imageRegistry`/`imageNamespace`,
    /// NVIDIA's `repository` + `image` + `version`, linkerd's `name` + `version`, istio's
    /// `image` under a `hub`; and, under a key that names an image, any mapping holding one of
    /// [`BLOCK_KEYS`] (composed if it can be, else reported as not composable).
    fn block_at(&self, key: &str, v: &Value, ancestors: &Ancestors<'_>) -> bool {
        let named_image = image_key(key);
        let string = |k: &str| v.get(k).and_then(Value::as_str);
        let pinned_or_tagged = ["tag", "digest", "sha"].iter().any(|k| v.get(*k).is_some());
        let repository = string("repository").is_some_and(|r| !r.is_empty());
        let ingress = string("image").is_some() && string("registry").is_some();
        let cert_manager = key == "image"
            && string("name").is_some()
            && (self.values.get("imageRegistry").is_some()
                || self.values.get("imageNamespace").is_some());
        let nvidia = repository
            && string("image").is_some()
            && v.get("registry").is_none()
            && v.get("tag").is_none();
        let linkerd = string("name").is_some() && v.get("version").is_some();
        let istio = string("image").is_some()
            && (v.get("hub").is_some() || nearest_global(ancestors, self.values, "hub").is_some());
        let shaped = named_image
            && v.as_object()
                .is_some_and(|m| BLOCK_KEYS.iter().any(|k| m.contains_key(*k)));
        v.is_object()
            && ((repository && (pinned_or_tagged || named_image))
                || ingress
                || cert_manager
                || nvidia
                || linkerd
                || istio
                || shaped)
    }

    /// A component of the chart's layout: its own keys, else the root block's, key by key.
    fn component(&self, name: &str, v: &Value, root: &Value) -> Image {
        let own = v.get("image").filter(|i| i.is_object());
        let own_pointer = format!("/{}/image", escape(name));
        let pick = |k: &str| -> Option<(&Value, String)> {
            match own.and_then(|o| o.get(k)) {
                Some(x) => Some((x, format!("{own_pointer}/{k}"))),
                None => root.get(k).map(|x| (x, format!("/image/{k}"))),
            }
        };
        let mut image = self.compose_with(&pick, name.to_owned(), format!("{name}.image"));
        let own_repository = own.and_then(|o| o.get("repository")).map(scalar);
        let root_repository = root.get("repository").map(scalar).unwrap_or_default();
        let root_digest = root.get("digest").map(scalar).unwrap_or_default();
        let own_digest = own.is_some_and(|o| o.get("digest").is_some());
        if let Some(own_repository) = own_repository
            && own_repository != root_repository
            && !own_digest
            && !root_digest.is_empty()
        {
            image.problem = Some(ValuesProblem::BorrowedDigest {
                from: "image.digest".to_owned(),
                from_repository: root_repository,
            });
        }
        image
    }

    /// Image blocks and image strings anywhere (except the chart's own), `enabled: false`
    /// ones set aside.
    #[allow(clippy::too_many_arguments)]
    fn community<'v>(
        &self,
        v: &'v Value,
        pointer: &str,
        key: &str,
        disabled_by: Option<&str>,
        in_block: bool,
        walk: &mut Walk<'_, 'v>,
        found: &mut Found,
    ) {
        match v {
            Value::Object(m) => {
                let switch = (m.get("enabled") == Some(&Value::Bool(false)))
                    .then(|| yaml_path(&format!("{pointer}/enabled")));
                let disabled_by = disabled_by.map(str::to_owned).or(switch);
                let claimed = walk.claimed.iter().any(|c| c == pointer);
                let is_block = !claimed
                    && pointer != "/global/image"
                    && self.block_at(key, v, &walk.ancestors);
                if is_block {
                    match &disabled_by {
                        Some(by) => found.disabled.push(Disabled {
                            block: yaml_path(pointer),
                            by: by.clone(),
                        }),
                        None => found
                            .images
                            .push(self.block_image(m, pointer, &walk.ancestors)),
                    }
                }
                walk.ancestors.push((m, pointer.to_owned()));
                for (k, child) in m {
                    let child_pointer = format!("{pointer}/{}", escape(k));
                    self.community(
                        child,
                        &child_pointer,
                        k,
                        disabled_by.as_deref(),
                        is_block || claimed,
                        walk,
                        found,
                    );
                }
                walk.ancestors.pop();
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    self.community(
                        child,
                        &format!("{pointer}/{i}"),
                        "",
                        disabled_by,
                        false,
                        walk,
                        found,
                    );
                }
            }
            Value::String(text)
                if !in_block
                    && image_key(key)
                    && !text.trim().is_empty()
                    && !pointer.starts_with("/global/") =>
            {
                let parent = walk.ancestors.last().map(|(m, _)| *m);
                match disabled_by {
                    Some(by) => found.disabled.push(Disabled {
                        block: yaml_path(pointer),
                        by: by.to_owned(),
                    }),
                    None => found
                        .images
                        .push(self.string_image(text, pointer, key, parent)),
                }
            }
            _ => {}
        }
    }

    /// An image written as one string. linkerd's `controllerImage` takes its tag from the
    /// sibling `controllerImageVersion` (else the root `linkerdVersion`) when the string has
    /// none.
    fn string_image(
        &self,
        text: &str,
        pointer: &str,
        key: &str,
        parent: Option<&Map<String, Value>>,
    ) -> Image {
        let path = yaml_path(pointer);
        let version_key = format!("{key}Version");
        let mut image = text.trim().to_owned();
        let mut keys = vec![("image", pointer.to_owned())];
        let mut problem = None;
        if let Some(version) = parent.and_then(|p| p.get(&version_key)) {
            let has_tag = image_digest_policy::reference::parse(&image)
                .is_ok_and(|r| r.tag.is_some() || r.digest.is_some());
            if !has_tag {
                let version = Some(scalar(version))
                    .filter(|v| !v.is_empty())
                    .or_else(|| {
                        self.values
                            .get("linkerdVersion")
                            .map(scalar)
                            .filter(|v| !v.is_empty())
                    })
                    .or_else(|| self.app_version.map(str::to_owned));
                match version {
                    Some(v) => image = format!("{image}:{v}"),
                    None => problem = Some(ValuesProblem::NoTag),
                }
                let parent_pointer = pointer.rsplit_once('/').map_or("", |(p, _)| p);
                keys.push(("tag", format!("{parent_pointer}/{}", escape(&version_key))));
            }
        }
        Image {
            component: path.clone(),
            block: path,
            image,
            keys,
            digest_key: "image",
            problem,
            string: true,
        }
    }

    fn block_image(
        &self,
        m: &Map<String, Value>,
        pointer: &str,
        ancestors: &Ancestors<'_>,
    ) -> Image {
        let path = yaml_path(pointer);
        let own = |k: &str| m.get(k).map(|x| (x, format!("{pointer}/{k}")));
        let global_image = self.values.pointer("/global/image");
        let nonempty = |x: &Value| !scalar(x).is_empty();
        let pick = |k: &str| -> Option<(&Value, String)> {
            let mine = own(k);
            if mine.as_ref().is_some_and(|(x, _)| nonempty(x)) {
                return mine;
            }
            let from_global = |k: &str| {
                global_image
                    .and_then(|g| g.get(k))
                    .filter(|x| nonempty(x))
                    .map(|x| (x, format!("/global/image/{k}")))
            };
            let istio = m.get("image").is_some_and(Value::is_string)
                && !m.contains_key("registry")
                && !m.contains_key("repository");
            let inherited = match k {
                // argo-cd: an empty `repository` is `global.image.repository`, an empty tag
                // `global.image.tag` (then the chart's appVersion).
                "repository" if mine.is_some() => from_global("repository"),
                "tag" => mine
                    .as_ref()
                    .and_then(|_| from_global("tag"))
                    // istio: `tag`, else the nearest `global.tag`.
                    .or_else(|| {
                        istio
                            .then(|| nearest_global(ancestors, self.values, "tag"))
                            .flatten()
                    }),
                // kyverno: `registry`, else `global.image.registry`, else `defaultRegistry`;
                // ingress-nginx's `global.image.registry` fills an empty one too.
                "registry" => from_global("registry")
                    .or_else(|| own("defaultRegistry").filter(|(x, _)| nonempty(x))),
                // istio: `hub`, else the nearest `global.hub`.
                "hub" if istio => nearest_global(ancestors, self.values, "hub"),
                _ => None,
            };
            inherited.or(mine)
        };
        self.compose_with(&pick, path.clone(), path)
    }

    /// The image a block renders, each key taken through `pick` (the block's own, or
    /// inherited), in the layout its keys say.
    fn compose_with<'a>(
        &self,
        pick: &dyn Fn(&str) -> Option<(&'a Value, String)>,
        component: String,
        block: String,
    ) -> Image {
        let get = |k: &str| pick(k).map(|(x, _)| scalar(x)).unwrap_or_default();
        let has = |k: &str| pick(k).is_some();
        let repository = get("repository");
        let name = get("name");
        let registry = get("registry");
        let hub = get("hub");
        let image_key = pick("image").and_then(|(x, _)| x.as_str()).unwrap_or("");
        // NVIDIA gpu-operator: `repository/image:version` (a `version` that is a digest is
        // written `@version`); linkerd: `name:version`.
        let versioned = has("version") && !has("tag");
        // NVIDIA: `repository` + `image` with no registry and no tag (the version, when not
        // set, is the chart's appVersion).
        let nvidia = !image_key.is_empty()
            && !repository.is_empty()
            && !has("registry")
            && !has("tag")
            && !has("hub");
        let repo = if (versioned || nvidia) && !image_key.is_empty() {
            join(&[&repository, image_key])
        } else if !image_key.is_empty() && !hub.is_empty() && !has("repository") {
            // istio: `hub/image` (an image with a `/` is a full name of its own).
            if image_key.contains('/') {
                image_key.to_owned()
            } else {
                join(&[&hub, image_key])
            }
        } else if !image_key.is_empty() {
            // ingress-nginx: `repository` is a full override, else `registry/image`.
            if repository.is_empty() {
                join(&[&registry, image_key])
            } else {
                repository.clone()
            }
        } else if !repository.is_empty() {
            join(&[&registry, &repository])
        } else if versioned && name.contains('/') {
            name.clone()
        } else if !name.is_empty()
            && (self.values.get("imageRegistry").is_some()
                || self.values.get("imageNamespace").is_some())
        {
            // cert-manager: `imageRegistry/imageNamespace/name`.
            let global = |k: &str| self.values.get(k).map(scalar).unwrap_or_default();
            join(&[&global("imageRegistry"), &global("imageNamespace"), &name])
        } else if versioned && !name.is_empty() {
            name.clone()
        } else {
            String::new()
        };
        let (mut tag, tag_key) = if versioned {
            (get("version"), "version")
        } else if !has("tag") && has("release") {
            // Gatekeeper: `repository:release`.
            (get("release"), "release")
        } else {
            (get("tag"), "tag")
        };
        let (mut digest, mut digest_key) = match (get("digest"), get("sha")) {
            (d, _) if !d.is_empty() => (d, "digest"),
            (_, sha) if !sha.is_empty() => (format!("sha256:{sha}"), "sha"),
            _ if has("sha") => (String::new(), "sha"),
            _ => (String::new(), "digest"),
        };
        if versioned && tag.starts_with("sha256:") {
            // gpu-operator renders a digest `version` as `@sha256:…`.
            (digest, tag, digest_key) = (tag, String::new(), "version");
        }
        if versioned && tag.is_empty() && digest.is_empty() {
            // linkerd: an empty version is the root `linkerdVersion`.
            tag = self
                .values
                .get("linkerdVersion")
                .map(scalar)
                .unwrap_or_default();
        }
        let tag_label = get("tagLabel");
        let problem = if repo.is_empty() {
            Some(ValuesProblem::Uncomposable(uncomposable_reason(
                &get,
                has("repository"),
            )))
        } else if !tag.is_empty() || (versioned && !digest.is_empty()) {
            None
        } else if let Some(v) = self.app_version {
            // jenkins: an empty tag with a `tagLabel` is `<appVersion>-<tagLabel>`.
            tag = if tag_label.is_empty() {
                v.to_owned()
            } else {
                format!("{v}-{tag_label}")
            };
            None
        } else {
            Some(ValuesProblem::NoTag)
        };
        let keys = [
            "registry",
            "repository",
            "image",
            "name",
            "hub",
            tag_key,
            "digest",
            "sha",
        ]
        .iter()
        .filter_map(|k| {
            pick(k).map(|(_, p)| {
                // The key a user edits for the tag is `tag` in every layout's reports.
                (
                    if matches!(*k, "version" | "release") {
                        "tag"
                    } else {
                        *k
                    },
                    p,
                )
            })
        })
        .collect();
        Image {
            component,
            block,
            image: compose(&repo, &tag, &digest),
            keys,
            digest_key,
            problem,
            string: false,
        }
    }
}

/// Why a block shaped like an image names none.
fn uncomposable_reason(get: &dyn Fn(&str) -> String, has_repository: bool) -> String {
    if has_repository {
        "its repository is empty, and no global.image.repository fills it (argo-cd's layout); set the repository".to_owned()
    } else if !get("tag").is_empty() || !get("digest").is_empty() {
        "it sets a tag or digest but no repository, registry/image, name or hub to apply it to; the chart's template decides the image, so check the rendered output (helm template) instead".to_owned()
    } else {
        "no repository, registry/image, name or hub in it; check the rendered output (helm template) instead".to_owned()
    }
}

/// The nearest `global.<key>` above the node (istio's `global.hub`, `global.tag`), an
/// ancestor named `global` itself included.
fn nearest_global<'v>(
    ancestors: &Ancestors<'v>,
    root: &'v Value,
    key: &str,
) -> Option<(&'v Value, String)> {
    let nonempty = |x: &&Value| !scalar(x).is_empty();
    for (a, pointer) in ancestors.iter().rev() {
        if pointer.ends_with("/global")
            && let Some(x) = a.get(key).filter(nonempty)
        {
            return Some((x, format!("{pointer}/{key}")));
        }
        if let Some(x) = a.get("global").and_then(|g| g.get(key)).filter(nonempty) {
            return Some((x, format!("{pointer}/global/{key}")));
        }
    }
    root.get("global")
        .and_then(|g| g.get(key))
        .filter(nonempty)
        .map(|x| (x, format!("/global/{key}")))
}

/// The non-empty parts joined by `/`, each without its trailing `/`.
fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/")
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
/// renders it (the registry is already joined to the repository: [`join`]).
fn compose(repository: &str, tag: &str, digest: &str) -> String {
    let mut image = repository.to_owned();
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
            "sidecar": {"proxy": {"image": {"repository": "envoy", "tag": "v1"}}}
        });
        let found = images(&v, None);
        let got: Vec<(String, String)> = found
            .images
            .iter()
            .map(|i| (i.component.clone(), i.image.clone()))
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
        assert!(found.images.iter().all(|i| i.problem.is_none()));
        assert_eq!(
            compose(&join(&["ghcr.io/", "a/b"]), "", "sha256:x"),
            "ghcr.io/a/b@sha256:x"
        );
        assert_eq!(yaml_path("/a/0/b~1c"), "a[0].b/c");
    }

    /// One row per layout real charts use (issue 22), written from each chart's values.yaml:
    /// (what, values, app version, every image rendered with its problem, the disabled blocks).
    #[test]
    fn real_chart_layouts_compose_what_their_templates_render() {
        use ValuesProblem::*;
        let borrowed = || {
            Some(BorrowedDigest {
                from: "image.digest".into(),
                from_repository: "registry.ide-newton.ts.net/lab/jangar".into(),
            })
        };
        type Rendered<'a> = Vec<(&'a str, &'a str, Option<ValuesProblem>)>;
        type Row<'a> = (&'a str, Value, Option<&'a str>, Rendered<'a>, Vec<&'a str>);
        let rows: Vec<Row<'_>> = vec![
            (
                "Bitnami redis: the root block is Redis itself; kubectl.image is its own image; metrics, sentinel and volumePermissions are off",
                serde_json::json!({
                    "image": {"registry": "docker.io", "repository": "bitnami/redis", "tag": "latest", "digest": ""},
                    "kubectl": {"image": {"registry": "docker.io", "repository": "bitnami/kubectl", "tag": "1.33.1", "digest": "sha256:bb"}},
                    "sentinel": {"enabled": false, "image": {"registry": "docker.io", "repository": "bitnami/redis-sentinel", "tag": "8.0.2"}},
                    "metrics": {"enabled": false, "image": {"registry": "docker.io", "repository": "bitnami/redis-exporter", "tag": "1.73.0"}},
                    "volumePermissions": {"enabled": false, "image": {"registry": "docker.io", "repository": "bitnami/os-shell", "tag": "12"}},
                }),
                None,
                vec![
                    ("image", "docker.io/bitnami/redis:latest", None),
                    (
                        "kubectl.image",
                        "docker.io/bitnami/kubectl:1.33.1@sha256:bb",
                        None,
                    ),
                ],
                vec![
                    "metrics.image (metrics.enabled)",
                    "sentinel.image (sentinel.enabled)",
                    "volumePermissions.image (volumePermissions.enabled)",
                ],
            ),
            (
                "ingress-nginx: registry + image + tag + digest, repository a full override",
                serde_json::json!({"controller": {
                    "image": {"registry": "registry.k8s.io", "image": "ingress-nginx/controller", "tag": "v1.12.1", "digest": "sha256:cc", "digestChroot": "sha256:dd"},
                    "admissionWebhooks": {"patch": {"image": {"registry": "registry.k8s.io", "image": "ingress-nginx/kube-webhook-certgen", "repository": "mirror.example/certgen", "tag": "v1.5.2", "digest": ""}}}
                }}),
                None,
                vec![
                    (
                        "controller.admissionWebhooks.patch.image",
                        "mirror.example/certgen:v1.5.2",
                        None,
                    ),
                    (
                        "controller.image",
                        "registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:cc",
                        None,
                    ),
                ],
                vec![],
            ),
            (
                "kube-prometheus-stack: sha beside tag renders @sha256:<sha>; an empty tag is the chart's",
                serde_json::json!({"prometheus": {"prometheusSpec": {"image": {"registry": "quay.io", "repository": "prometheus/prometheus", "tag": "v3.4.1", "sha": "ee"}}},
                                  "alertmanager": {"alertmanagerSpec": {"image": {"registry": "quay.io", "repository": "prometheus/alertmanager", "tag": "", "sha": ""}}}}),
                None,
                vec![
                    (
                        "alertmanager.alertmanagerSpec.image",
                        "quay.io/prometheus/alertmanager",
                        Some(NoTag),
                    ),
                    (
                        "prometheus.prometheusSpec.image",
                        "quay.io/prometheus/prometheus:v3.4.1@sha256:ee",
                        None,
                    ),
                ],
                vec![],
            ),
            (
                "cert-manager: global imageRegistry/imageNamespace + image.name; the tag from --app-version",
                serde_json::json!({"imageRegistry": "quay.io", "imageNamespace": "jetstack",
                                  "image": {"name": "cert-manager-controller", "repository": "", "pullPolicy": "IfNotPresent"},
                                  "webhook": {"image": {"name": "cert-manager-webhook", "pullPolicy": "IfNotPresent"}},
                                  "cainjector": {"enabled": false, "image": {"name": "cert-manager-cainjector"}}}),
                Some("v1.20.0"),
                vec![
                    (
                        "image",
                        "quay.io/jetstack/cert-manager-controller:v1.20.0",
                        None,
                    ),
                    (
                        "webhook.image",
                        "quay.io/jetstack/cert-manager-webhook:v1.20.0",
                        None,
                    ),
                ],
                vec!["cainjector.image (cainjector.enabled)"],
            ),
            (
                "the chart note: a component with its own repository borrows the root digest",
                serde_json::json!({
                    "image": {"repository": "registry.ide-newton.ts.net/lab/jangar", "tag": "5b72ee1e", "digest": "sha256:aa"},
                    "controlPlane": {"image": {"repository": "registry.ide-newton.ts.net/lab/jangar-control-plane", "tag": "latest"}},
                }),
                None,
                vec![(
                    "controlPlane",
                    "registry.ide-newton.ts.net/lab/jangar-control-plane:latest@sha256:aa",
                    borrowed(),
                )],
                vec![],
            ),
        ];
        for (what, values, app_version, want, disabled) in rows {
            let found = images(&values, app_version);
            let got: Vec<(&str, &str, Option<ValuesProblem>)> = found
                .images
                .iter()
                .map(|i| (i.component.as_str(), i.image.as_str(), i.problem.clone()))
                .collect();
            assert_eq!(got, want, "{what}");
            let off: Vec<String> = found
                .disabled
                .iter()
                .map(|d| format!("{} ({})", d.block, d.by))
                .collect();
            assert_eq!(off, disabled, "{what}");
        }
    }
}
