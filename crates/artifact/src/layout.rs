//! The policy as an OCI artifact, written as a standard OCI image layout so any OCI tool
//! (skopeo, oras, crane) can push it: config `application/vnd.wasm.config.v1+json`, one layer
//! `application/vnd.wasm.content.layer.v1+wasm` holding the annotated module.

use crate::error::{Error, Result};
use oci_spec::image::{
    Descriptor, DescriptorBuilder, ImageIndexBuilder, ImageManifest, ImageManifestBuilder,
    MediaType, Sha256Digest,
};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The config media type of a Kubewarden policy artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v1+json";
/// The layer media type of the wasm module in a Kubewarden policy artifact.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn descriptor(
    media_type: MediaType,
    bytes: &[u8],
    annotations: Option<HashMap<String, String>>,
) -> Result<Descriptor> {
    let digest = digest_of(bytes);
    let hex = digest.trim_start_matches("sha256:");
    let mut b = DescriptorBuilder::default()
        .media_type(media_type)
        .digest(Sha256Digest::from_str(hex).map_err(layout)?)
        .size(u64::try_from(bytes.len()).map_err(layout)?);
    if let Some(a) = annotations {
        b = b.annotations(a);
    }
    b.build().map_err(layout)
}

/// Manifest annotations from `metadata.yml`: every annotation but the README, each value on a
/// single line (registries and tools mangle multi-line annotation values), plus the standard
/// `org.opencontainers.image.*` keys.
pub fn manifest_annotations(metadata: &Map<String, Value>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(Value::Object(a)) = metadata.get("annotations") {
        for (k, v) in a {
            if k == crate::metadata::USAGE {
                continue;
            }
            if let Some(s) = v.as_str() {
                out.insert(
                    k.clone(),
                    s.split_whitespace().collect::<Vec<_>>().join(" "),
                );
            }
        }
    }
    let pairs = [
        (
            "io.kubewarden.policy.source",
            "org.opencontainers.image.source",
        ),
        ("io.kubewarden.policy.url", "org.opencontainers.image.url"),
        (
            "io.kubewarden.policy.version",
            "org.opencontainers.image.version",
        ),
        (
            "io.kubewarden.policy.title",
            "org.opencontainers.image.title",
        ),
        (
            "io.kubewarden.policy.description",
            "org.opencontainers.image.description",
        ),
        (
            "io.kubewarden.policy.license",
            "org.opencontainers.image.licenses",
        ),
        (
            "io.kubewarden.policy.author",
            "org.opencontainers.image.authors",
        ),
    ];
    for (from, to) in pairs {
        if let Some(v) = out.get(from).cloned() {
            out.insert(to.to_owned(), v);
        }
    }
    out
}

/// The config blob: small and deterministic, so the same module always gives the same digest.
pub fn config_blob() -> Vec<u8> {
    br#"{"architecture":"wasm","os":"wasip1"}"#.to_vec()
}

/// Writes `dir` as an OCI image layout holding the artifact under `tag`; returns the manifest
/// digest.
pub fn write(dir: &Path, wasm: &[u8], metadata: &Map<String, Value>, tag: &str) -> Result<String> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|source| Error::Write {
        path: blobs.clone(),
        source,
    })?;
    let config = config_blob();
    let layer_annotations = HashMap::from([(
        "org.opencontainers.image.title".to_owned(),
        "policy.wasm".to_owned(),
    )]);
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::Other(CONFIG_MEDIA_TYPE.into()),
            &config,
            None,
        )?)
        .layers(vec![descriptor(
            MediaType::Other(LAYER_MEDIA_TYPE.into()),
            wasm,
            Some(layer_annotations),
        )?])
        .annotations(manifest_annotations(metadata))
        .build()
        .map_err(layout)?;
    let manifest_bytes = canonical_json(&manifest)?;
    for blob in [&config[..], wasm, &manifest_bytes[..]] {
        let name = digest_of(blob);
        let path = blobs.join(name.trim_start_matches("sha256:"));
        std::fs::write(&path, blob).map_err(|source| Error::Write { path, source })?;
    }
    let ref_name = HashMap::from([(
        "org.opencontainers.image.ref.name".to_owned(),
        tag.to_owned(),
    )]);
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![descriptor(
            MediaType::ImageManifest,
            &manifest_bytes,
            Some(ref_name),
        )?])
        .build()
        .map_err(layout)?;
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|source| Error::Write { path, source })
    };
    write(dir.join("index.json"), &canonical_json(&index)?)?;
    write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(digest_of(&manifest_bytes))
}

/// A document of the layout that cannot be built or read.
fn layout(e: impl std::fmt::Display) -> Error {
    Error::Layout(e.to_string())
}

/// JSON with every object's keys sorted. oci-spec keeps annotations in `HashMap`s, whose order
/// changes from run to run; the manifest's digest must not, or the same module would be two
/// artifacts. (`serde_json::Value` keeps keys sorted: no crate here enables `preserve_order`.)
fn canonical_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_value(value)
        .and_then(|v| serde_json::to_vec(&v))
        .map_err(layout)
}

/// Reads an artifact back from a layout: its manifest (by `tag`) and its wasm layer, every
/// blob checked against its digest.
pub fn read(dir: &Path, tag: &str) -> Result<(ImageManifest, String, Vec<u8>)> {
    let path = dir.join("index.json");
    let bytes = std::fs::read(&path).map_err(|source| Error::Read { path, source })?;
    let index: oci_spec::image::ImageIndex = serde_json::from_slice(&bytes).map_err(layout)?;
    let entry = index
        .manifests()
        .iter()
        .find(|m| {
            m.annotations()
                .as_ref()
                .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                .map(String::as_str)
                == Some(tag)
        })
        .ok_or_else(|| Error::Layout(format!("no manifest tagged {tag} in {}", dir.display())))?;
    let manifest_bytes = blob(dir, entry.digest().as_ref())?;
    let manifest: ImageManifest = serde_json::from_slice(&manifest_bytes).map_err(layout)?;
    let layer = manifest
        .layers()
        .first()
        .ok_or_else(|| Error::Layout("the artifact has no layer".into()))?;
    let wasm = blob(dir, layer.digest().as_ref())?;
    Ok((manifest, digest_of(&manifest_bytes), wasm))
}

fn blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    let path = dir
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let bytes = std::fs::read(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    if digest_of(&bytes) != digest {
        return Err(Error::Layout(format!(
            "blob {} does not match its digest",
            path.display()
        )));
    }
    Ok(bytes)
}
