//! Where the images are (which kinds are read, and how, is `kinds`): every container and every image volume of every pod spec of the
//! kinds the policy covers (`docs/contract.md` §3), each with the field path a user can find
//! it at. An image volume (`volumes[].image.reference`, Kubernetes 1.31+) is pulled by the
//! kubelet exactly like a container image, so it is an image here like any other.

use crate::json::type_name;
use crate::kinds::{CustomKind, Shape, Target};
use crate::request::{
    CronJobObject, ImageField, Metadata, NamedObject, Obj, PodObject, PodSpec, TemplateObject,
    parse_at,
};
use serde_json::Value;
use std::borrow::Cow;

/// The lists of a pod spec that hold images, in the order findings are reported and digests
/// looked up: the three container lists, then the image volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerList {
    /// `initContainers`.
    Init,
    /// `containers` (and a custom kind's single image fields).
    Regular,
    /// `ephemeralContainers`.
    Ephemeral,
    /// `volumes[i].image.reference`.
    Volume,
}

impl ContainerList {
    /// The list's field name in a pod spec.
    pub fn field(self) -> &'static str {
        match self {
            ContainerList::Init => "initContainers",
            ContainerList::Regular => "containers",
            ContainerList::Ephemeral => "ephemeralContainers",
            ContainerList::Volume => "volumes",
        }
    }

    /// What holds the image, as messages name it: `container "app"`, `volume "models"`.
    pub fn noun(self) -> &'static str {
        match self {
            ContainerList::Volume => "volume",
            _ => "container",
        }
    }

    /// The field path a user reads and the JSON pointer of the image field of item `index`
    /// of this list, in a pod spec at `path` / `pointer`: `spec.containers[0]` and
    /// `/spec/containers/0/image`, or `spec.volumes[1].image.reference` and
    /// `/spec/volumes/1/image/reference`.
    pub fn locate(self, path: &str, pointer: &str, index: usize) -> (String, String) {
        let field = self.field();
        match self {
            ContainerList::Volume => (
                format!("{path}.{field}[{index}].image.reference"),
                format!("{pointer}/{field}/{index}/image/reference"),
            ),
            _ => (
                format!("{path}.{field}[{index}]"),
                format!("{pointer}/{field}/{index}/image"),
            ),
        }
    }
}

/// One image found in an object: a container's (or a custom kind's image field), or an image
/// volume's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundContainer<'a> {
    /// Which list it is in.
    pub list: ContainerList,
    /// Its index there.
    pub index: usize,
    /// Its name (empty when it has none).
    pub name: Cow<'a, str>,
    /// Its image, whatever its type.
    pub image: ImageField<'a>,
    /// Where a user finds it: `spec.template.spec.initContainers[1]`, or for a custom kind's
    /// image field the field itself, `spec.templates[2].script.image`.
    pub path: String,
    /// The `image` field as a JSON pointer, for rewriting it in place. For a composed image,
    /// its tag's (else its repository's) field.
    pub image_pointer: String,
    /// A composed image's digest field (path, JSON pointer, key), there or not: a pin writes
    /// the digest there, not into the image.
    pub digest_at: Option<Box<(String, String, String)>>,
    /// The reason of the `exemptPaths` entry the image is under: judged for validity only,
    /// and reported as exempt.
    pub exempt: Option<String>,
    /// An operator's image field that is not set: the operator runs its own default image
    /// there, a tag without a digest (the image is [`ImageField::Missing`]).
    pub operator_default: bool,
}

/// Reads the images of `object` (raw JSON) as `target` says; `at` prefixes error paths.
pub fn read_target<'a>(
    target: &Target<'_>,
    object: &'a str,
    at: &str,
) -> Result<ObjectImages<'a>, String> {
    match target {
        Target::Builtin(shape) => read(*shape, object, at),
        Target::Custom(kind) => read_custom(kind, object, at),
    }
}

/// An object's identity and every image it holds (containers and image volumes).
pub struct ObjectImages<'a> {
    /// The object's metadata.
    pub metadata: Metadata<'a>,
    /// Every image, in the order they are reported and looked up.
    pub containers: Vec<FoundContainer<'a>>,
}

/// Reads the containers of `object` (raw JSON) as a `shape`; `at` prefixes error paths.
pub fn read<'a>(shape: Shape, object: &'a str, at: &str) -> Result<ObjectImages<'a>, String> {
    let (metadata, spec) = match shape {
        Shape::Pod => {
            let Obj(o): Obj<PodObject> = parse_at(object, at)?;
            (o.metadata, o.spec)
        }
        Shape::Template => {
            let Obj(o): Obj<TemplateObject> = parse_at(object, at)?;
            let spec = o.spec.and_then(|s| s.0.template).and_then(|t| t.0.spec);
            (o.metadata, spec)
        }
        Shape::CronJob => {
            let Obj(o): Obj<CronJobObject> = parse_at(object, at)?;
            let spec = o
                .spec
                .and_then(|s| s.0.job_template)
                .and_then(|j| j.0.spec)
                .and_then(|s| s.0.template)
                .and_then(|t| t.0.spec);
            (o.metadata, spec)
        }
    };
    let (path, pointer) = (shape.pod_spec_path(), shape.pod_spec_pointer());
    let volumes = spec.as_ref().and_then(|s| s.0.volumes);
    let mut containers = spec.map(|s| containers_of(s.0)).unwrap_or_default();
    for c in &mut containers {
        (c.path, c.image_pointer) = c.list.locate(path, pointer, c.index);
    }
    if let Some(raw) = volumes {
        let value: Value =
            serde_json::from_str(raw.get()).map_err(|e| format!("{at}.{path}.volumes: {e}"))?;
        volumes_in(&value, path, pointer, at, &mut containers)?;
    }
    Ok(ObjectImages {
        metadata: metadata.0,
        containers,
    })
}

/// Reads a custom kind: its metadata as any object's, then every pod spec and image field its
/// paths reach, then marks the images under its `exemptPaths`. The object is parsed once into
/// a JSON value; custom kinds are few and small.
pub fn read_custom<'a>(
    kind: &CustomKind,
    object: &'a str,
    at: &str,
) -> Result<ObjectImages<'a>, String> {
    let Obj(named): Obj<NamedObject> = parse_at(object, at)?;
    let value: Value = serde_json::from_str(object).map_err(|e| format!("{at}: {e}"))?;
    let paths = kind.paths.resolve();
    let mut containers = Vec::new();
    for (specs, patch) in [(&paths.pod_specs, false), (&paths.patches, true)] {
        for path in specs {
            for m in path.matches(&value) {
                pod_spec_containers(&m, at, patch, &mut containers)?;
            }
        }
    }
    for path in &paths.images {
        for m in path.matches(&value) {
            containers.push(FoundContainer {
                list: ContainerList::Regular,
                index: containers.len(),
                name: Cow::Owned(nearest_name(&value, &m.pointer)),
                image: ImageField::of(Some(m.value)),
                path: m.path,
                image_pointer: m.pointer,
                digest_at: None,
                exempt: None,
                operator_default: false,
            });
        }
    }
    for composed in &paths.composed {
        for block in composed.path.matches(&value) {
            let index = containers.len();
            containers.extend(compose(composed, &block, &value, index));
        }
    }
    for path in &paths.volumes {
        for m in path.matches(&value) {
            let index = containers.len();
            if let Some(found) = volume(m.value, &m.path, &m.pointer, index, at)? {
                containers.push(found);
            }
        }
    }
    for (path, alternatives) in &paths.defaults {
        let block = matches!(path.parent_node(&value), Some(Value::Object(_)));
        let absent =
            path.first(&value).is_none() && alternatives.iter().all(|a| a.first(&value).is_none());
        if let (true, true, Some((shown, pointer))) = (block, absent, path.place("", "")) {
            containers.push(FoundContainer {
                list: ContainerList::Regular,
                index: containers.len(),
                name: Cow::Owned(String::new()),
                image: ImageField::Missing,
                path: shown,
                image_pointer: pointer,
                digest_at: None,
                exempt: None,
                operator_default: true,
            });
        }
    }
    for (path, reason) in &kind.exempt {
        for m in path.matches(&value) {
            let below = format!("{}/", m.pointer);
            for c in containers
                .iter_mut()
                .filter(|c| c.image_pointer == m.pointer || c.image_pointer.starts_with(&below))
            {
                c.exempt = Some(reason.clone());
            }
        }
    }
    Ok(ObjectImages {
        metadata: named.metadata.0,
        containers,
    })
}

/// The image a composed block renders: `registry/repository:tag@digest`, each part left out
/// when empty; `None` when the block has none of the parts (no image there). A part that is
/// not a string or number makes the image a wrong type, as a container's would be.
fn compose(
    c: &crate::kinds::Composed,
    block: &crate::path::Match<'_>,
    root: &Value,
    index: usize,
) -> Option<FoundContainer<'static>> {
    // registry, repository, tag, digest: each as found, and as text.
    let found = [&c.registry, &c.repository, &c.tag, &c.digest].map(|p| p.first(block.value));
    if found.iter().all(Option::is_none) {
        return None;
    }
    let mut parts: [String; 4] = Default::default();
    let mut wrong = None;
    for (text, value) in parts.iter_mut().zip(found) {
        match value {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => text.push_str(s),
            Some(Value::Number(n)) => *text = n.to_string(),
            Some(other) => wrong = Some(type_name(other)),
        }
    }
    let [registry, repository, tag, digest] = parts;
    let image = match wrong {
        Some(t) => ImageField::NotString(t),
        None if repository.is_empty() => ImageField::Missing,
        None => {
            let mut image = match registry.trim_end_matches('/') {
                "" => repository,
                r => format!("{r}/{repository}"),
            };
            for (sep, part) in [(':', tag), ('@', digest)] {
                if !part.is_empty() {
                    image.push(sep);
                    image.push_str(&part);
                }
            }
            ImageField::Str(Cow::Owned(image))
        }
    };
    // Findings point at the tag (what a user edits), else at the repository.
    let shown = match found {
        [_, _, Some(_), _] => &c.tag,
        _ => &c.repository,
    };
    let (path, image_pointer) = shown.place(&block.path, &block.pointer)?;
    let digest_at = match (
        c.digest.place(&block.path, &block.pointer),
        c.digest.last_key(),
    ) {
        (Some((path, pointer)), Some(key)) => Some(Box::new((path, pointer, key.to_owned()))),
        _ => None,
    };
    Some(FoundContainer {
        list: ContainerList::Regular,
        index,
        name: Cow::Owned(nearest_name(root, &format!("{}/_", block.pointer))),
        image,
        path,
        image_pointer,
        digest_at,
        exempt: None,
        operator_default: false,
    })
}

/// The three container lists of a pod spec a path reached, read as a Pod's would be; in a
/// `patch`, a container without `image` is skipped (the operator fills it in).
fn pod_spec_containers(
    spec: &crate::path::Match<'_>,
    at: &str,
    patch: bool,
    out: &mut Vec<FoundContainer<'static>>,
) -> Result<(), String> {
    let Value::Object(map) = spec.value else {
        return Err(format!(
            "{at}.{}: invalid type: {}, expected an object",
            spec.path,
            type_name(spec.value)
        ));
    };
    for list in [
        ContainerList::Init,
        ContainerList::Regular,
        ContainerList::Ephemeral,
    ] {
        let items = match map.get(list.field()) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(format!(
                    "{at}.{}.{}: invalid type: {}, expected a sequence",
                    spec.path,
                    list.field(),
                    type_name(other)
                ));
            }
        };
        for (index, item) in items.iter().enumerate() {
            let (path, image_pointer) = list.locate(&spec.path, &spec.pointer, index);
            let Value::Object(c) = item else {
                return Err(format!(
                    "{at}.{path}: invalid type: {}, expected an object",
                    type_name(item)
                ));
            };
            if patch && !c.contains_key("image") {
                // Merged by name into the operator's own container, whose image it keeps.
                continue;
            }
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            out.push(FoundContainer {
                list,
                index,
                name: Cow::Owned(name.to_owned()),
                image: ImageField::of(c.get("image")),
                image_pointer,
                path,
                digest_at: None,
                exempt: None,
                operator_default: false,
            });
        }
    }
    match map.get("volumes") {
        Some(volumes) => volumes_in(volumes, &spec.path, &spec.pointer, at, out),
        None => Ok(()),
    }
}

/// The image volumes of a pod spec's `volumes` (the value at `path` / `pointer` + `volumes`).
fn volumes_in(
    volumes: &Value,
    path: &str,
    pointer: &str,
    at: &str,
    out: &mut Vec<FoundContainer<'_>>,
) -> Result<(), String> {
    let items = match volumes {
        Value::Null => return Ok(()),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "{at}.{path}.volumes: invalid type: {}, expected a sequence",
                type_name(other)
            ));
        }
    };
    for (index, item) in items.iter().enumerate() {
        let path = format!("{path}.volumes[{index}]");
        let pointer = format!("{pointer}/volumes/{index}");
        if let Some(found) = volume(item, &path, &pointer, index, at)? {
            out.push(found);
        }
    }
    Ok(())
}

/// The image of one volume (a Kubernetes `Volume` at `path` / `pointer`), when it is an image
/// volume; `None` for every other volume source. A volume or `image` of the wrong type is
/// malformed, as the API server would also refuse it.
fn volume(
    item: &Value,
    path: &str,
    pointer: &str,
    index: usize,
    at: &str,
) -> Result<Option<FoundContainer<'static>>, String> {
    let Value::Object(v) = item else {
        return Err(format!(
            "{at}.{path}: invalid type: {}, expected an object",
            type_name(item)
        ));
    };
    let source = match v.get("image") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(source)) => source,
        Some(other) => {
            return Err(format!(
                "{at}.{path}.image: invalid type: {}, expected an object",
                type_name(other)
            ));
        }
    };
    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
    Ok(Some(FoundContainer {
        list: ContainerList::Volume,
        index,
        name: Cow::Owned(name.to_owned()),
        image: ImageField::of(source.get("reference")),
        path: format!("{path}.image.reference"),
        image_pointer: format!("{pointer}/image/reference"),
        digest_at: None,
        exempt: None,
        operator_default: false,
    }))
}

/// The `name` of the closest object around an image field (a Tekton step, an Argo template),
/// for the message; `""` when none has one.
fn nearest_name(root: &Value, pointer: &str) -> String {
    let mut at = pointer;
    while let Some((parent, _)) = at.rsplit_once('/') {
        if let Some(name) = root
            .pointer(parent)
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
        {
            return name.to_owned();
        }
        at = parent;
    }
    String::new()
}

fn containers_of(spec: PodSpec<'_>) -> Vec<FoundContainer<'_>> {
    let lists = [
        (ContainerList::Init, spec.init_containers),
        (ContainerList::Regular, spec.containers),
        (ContainerList::Ephemeral, spec.ephemeral_containers),
    ];
    let mut out = Vec::new();
    for (list, containers) in lists {
        for (index, Obj(c)) in containers.into_iter().flatten().enumerate() {
            out.push(FoundContainer {
                list,
                index,
                name: c.name.unwrap_or(Cow::Borrowed("")),
                image: c.image,
                path: String::new(),
                image_pointer: String::new(),
                digest_at: None,
                exempt: None,
                operator_default: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec() -> serde_json::Value {
        json!({
            "initContainers": [{"name": "init", "image": "busybox:1"}],
            "containers": [{"name": "app", "image": "nginx:1"}, {"name": "side", "image": 5}],
            "ephemeralContainers": [{"name": "debug"}],
            "volumes": [
                {"name": "config", "configMap": {"name": "app"}},
                {"name": "models", "image": {"reference": "quay.io/crio/artifact:latest", "pullPolicy": "IfNotPresent"}},
                {"name": "empty", "image": null}
            ]
        })
    }

    #[test]
    fn every_kind_and_list_is_found_with_its_path() {
        let kinds = [
            (
                "",
                "Pod",
                json!({"metadata": {"name": "p"}, "spec": pod_spec()}),
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "batch",
                "Job",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "",
                "ReplicationController",
                json!({"spec": {"template": {"spec": pod_spec()}}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}}}),
            ),
        ];
        for (group, kind, object) in kinds {
            let shape = Shape::of(group, kind).unwrap();
            let text = object.to_string();
            let w = read(shape, &text, "object").unwrap();
            let paths: Vec<String> = w.containers.iter().map(|c| c.path.clone()).collect();
            let base = shape.pod_spec_path();
            assert_eq!(
                paths,
                [
                    format!("{base}.initContainers[0]"),
                    format!("{base}.containers[0]"),
                    format!("{base}.containers[1]"),
                    format!("{base}.ephemeralContainers[0]"),
                    format!("{base}.volumes[1].image.reference"),
                ],
                "{kind}"
            );
            let pointer = shape.pod_spec_pointer();
            let volume = w.containers.last().unwrap();
            assert_eq!(
                volume.image_pointer,
                format!("{pointer}/volumes/1/image/reference")
            );
            assert_eq!(
                (volume.list.noun(), volume.name.as_ref()),
                ("volume", "models")
            );
            let images: Vec<&ImageField> = w.containers.iter().map(|c| &c.image).collect();
            assert_eq!(
                images,
                [
                    &ImageField::Str("busybox:1".into()),
                    &ImageField::Str("nginx:1".into()),
                    &ImageField::NotString("a number"),
                    &ImageField::Missing,
                    &ImageField::Str("quay.io/crio/artifact:latest".into()),
                ]
            );
        }
    }

    #[test]
    fn other_kinds_are_not_ours() {
        for (g, k) in [
            ("", "ConfigMap"),
            ("example.com", "Deployment"),
            ("apps", "Pod"),
            ("", "Deployment"),
        ] {
            assert_eq!(Shape::of(g, k), None, "{g}/{k}");
        }
    }

    #[test]
    fn empty_or_missing_specs_have_no_containers() {
        for object in [
            json!({}),
            json!({"spec": null}),
            json!({"spec": {}}),
            json!({"spec": {"template": {}}}),
        ] {
            let text = object.to_string();
            assert!(
                read(Shape::Template, &text, "object")
                    .unwrap()
                    .containers
                    .is_empty()
            );
        }
    }

    #[test]
    fn wrong_types_name_their_path() {
        let cases = [
            (
                json!({"spec": {"template": {"spec": {"containers": {"name": "x"}}}}}),
                "object.spec.template.spec.containers: invalid type: map, expected a sequence",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [5]}}}}),
                "object.spec.template.spec.containers[0]: invalid type: integer `5`",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [{"name": 3}]}}}}),
                "object.spec.template.spec.containers[0].name: invalid type: integer `3`",
            ),
            (
                json!({"spec": {"template": {"spec": {"volumes": [{"name": "v", "image": "nginx"}]}}}}),
                "object.spec.template.spec.volumes[0].image: invalid type: a string, expected an object",
            ),
            (
                json!({"spec": {"template": {"spec": {"volumes": {"name": "v"}}}}}),
                "object.spec.template.spec.volumes: invalid type: an object, expected a sequence",
            ),
            (
                json!({"metadata": []}),
                "object.metadata: invalid type: sequence, expected an object",
            ),
            (
                json!([]),
                "object: invalid type: sequence, expected an object",
            ),
            (
                json!({"spec": {"template": {"spec": {"containers": [["a", "nginx"]]}}}}),
                "object.spec.template.spec.containers[0]: invalid type: sequence, expected an object",
            ),
        ];
        for (object, want) in cases {
            let text = object.to_string();
            let err = read(Shape::Template, &text, "object").err().unwrap();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
