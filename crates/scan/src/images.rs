//! Every image a manifest document holds (containers and image volumes), where it is written: the core's own reading
//! of the object (built-in kinds, presets and custom kinds), with the line and column of each
//! `image` value. `pin` edits these places; the playground lists every image, not only the
//! ones with findings.

use crate::input::Document;
use crate::yaml::Pos;
use image_digest_policy::kinds::Target;
use image_digest_policy::request::ImageField;
use image_digest_policy::settings::Settings;
use serde_json::Value;

/// One image as written in a document.
#[derive(Debug, Clone)]
pub struct Located {
    /// Where the image is written.
    pub pos: Pos,
    /// `Deployment`, and the object's name.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// `spec.template.spec.containers[0]` (or `spec.volumes[0].image.reference`), what holds
    /// the image (`container` or `volume`) and its name.
    pub path: String,
    /// `container` or `volume`: what holds the image.
    pub holder: &'static str,
    /// Its name.
    pub container: String,
    /// The image field as written.
    pub image: ImageField<'static>,
    /// The JSON pointer of the image value (`/spec/template/spec/containers/0/image`); for a
    /// composed image, its tag's.
    pub pointer: String,
    /// A composed image's digest field: its path, JSON pointer and key, and where it is written
    /// when it is there (`pin` replaces it, or adds it under the tag).
    pub digest: Option<ComposedDigest>,
    /// An operator's image field that is not set (the operator runs its default): placed at
    /// the closest block that is there.
    pub operator_default: bool,
}

/// Where a composed image's digest goes.
#[derive(Debug, Clone)]
pub struct ComposedDigest {
    /// `spec.digest`
    pub path: String,
    /// Its key (`digest`).
    pub key: String,
    /// Where its value is written, when the field is there.
    pub pos: Option<Pos>,
    /// Whether it shares the tag's block (where `pin` can add it).
    pub beside_tag: bool,
}

/// The images of `doc`, or none when it is not a kind the policy reads (or cannot be read: the
/// checks report that).
pub fn of_document(doc: &Document, settings: &Settings) -> Vec<Located> {
    let field = |k: &str| doc.value.get(k).and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
        return Vec::new();
    };
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let Some(target) = Target::for_kind(group, kind, &settings.custom_kinds) else {
        return Vec::new();
    };
    let object = doc.value.to_string();
    let Ok(workload) = image_digest_policy::workload::read_target(&target, &object, "") else {
        return Vec::new();
    };
    let name = workload.metadata.name.as_deref().unwrap_or("<unnamed>");
    workload
        .containers
        .iter()
        .filter_map(|c| {
            let pos = match c.operator_default {
                true => doc.closest(&c.image_pointer),
                false => doc.position(&c.image_pointer)?,
            };
            Some(Located {
                pos,
                kind: kind.to_owned(),
                name: name.to_owned(),
                path: c.path.clone(),
                holder: c.list.noun(),
                container: c.name.to_string(),
                image: owned(&c.image),
                operator_default: c.operator_default,
                pointer: c.image_pointer.clone(),
                digest: c.digest_at.as_ref().map(|at| {
                    let (path, pointer, key) = at.as_ref();
                    let parent = |p: &str| p.rsplit_once('/').map(|(p, _)| p.to_owned());
                    ComposedDigest {
                        path: path.clone(),
                        key: key.clone(),
                        pos: doc.position(pointer),
                        beside_tag: parent(pointer) == parent(&c.image_pointer),
                    }
                }),
            })
        })
        .collect()
}

fn owned(image: &ImageField<'_>) -> ImageField<'static> {
    match image {
        ImageField::Missing => ImageField::Missing,
        ImageField::Null => ImageField::Null,
        ImageField::Str(s) => ImageField::Str(s.to_string().into()),
        ImageField::NotString(t) => ImageField::NotString(t),
    }
}
