//! Small, real OCI images: a config, one (empty tar) layer and a manifest per platform, and an
//! image index over them for a multi-platform image, built from oci-spec types and written as
//! an OCI image layout. The bytes are deterministic (sorted JSON, content seeded by the name),
//! so an image's digests are the same on every run and expected files can name them.

use crate::registry::{Registry, skopeo};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Os, PlatformBuilder, RootFsBuilder,
    Sha256Digest,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

/// What was pushed: the digest a tag resolves to, and each platform's manifest digest.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The pushed manifest's (or index's) digest.
    pub digest: String,
    /// Per platform (`os/arch`), its manifest's digest.
    pub platforms: Vec<(String, String)>,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// JSON with sorted keys (serde_json's map is ordered), so the bytes never vary.
fn canonical(value: &impl serde::Serialize) -> Vec<u8> {
    let v: Value = serde_json::to_value(value).expect("serialisable");
    serde_json::to_vec(&v).expect("serialisable")
}

fn descriptor(media_type: MediaType, bytes: &[u8], platform: Option<(&str, &str)>) -> Descriptor {
    let digest = digest_of(bytes);
    let mut b = DescriptorBuilder::default()
        .media_type(media_type)
        .digest(Sha256Digest::from_str(digest.trim_start_matches("sha256:")).expect("sha256"))
        .size(bytes.len() as u64);
    if let Some((os, arch)) = platform {
        b = b.platform(
            PlatformBuilder::default()
                .os(Os::from(os))
                .architecture(Arch::from(arch))
                .build()
                .expect("platform"),
        );
    }
    b.build().expect("descriptor")
}

struct Blobs<'a>(&'a Path);

impl Blobs<'_> {
    fn put(&self, bytes: &[u8]) {
        let dir = self.0.join("blobs/sha256");
        std::fs::create_dir_all(&dir).expect("blobs dir");
        let name = digest_of(bytes);
        std::fs::write(dir.join(name.trim_start_matches("sha256:")), bytes).expect("blob");
    }
}

/// One platform's manifest (returned as bytes) over a config naming `seed`.
fn manifest(blobs: &Blobs<'_>, seed: &str, os: &str, arch: &str) -> Vec<u8> {
    // An empty tar archive: two 512-byte zero blocks. Its diff ID is its own digest.
    let layer = vec![0u8; 1024];
    let config = ImageConfigurationBuilder::default()
        .os(Os::from(os))
        .architecture(Arch::from(arch))
        .config(
            ConfigBuilder::default()
                .labels(HashMap::from([("seed".to_owned(), seed.to_owned())]))
                .build()
                .expect("config"),
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![digest_of(&layer)])
                .build()
                .expect("rootfs"),
        )
        .build()
        .expect("image configuration");
    let config = canonical(&config);
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, &config, None))
        .layers(vec![descriptor(MediaType::ImageLayer, &layer, None)])
        .build()
        .expect("manifest");
    let manifest = canonical(&manifest);
    for b in [&layer[..], &config[..], &manifest[..]] {
        blobs.put(b);
    }
    manifest
}

/// Writes an OCI layout at `dir` holding `tag`: one manifest for one platform, an image index
/// over one manifest per platform for several. `seed` makes images of different names differ.
pub fn layout(dir: &Path, seed: &str, tag: &str, platforms: &[(&str, &str)]) -> Pushed {
    let blobs = Blobs(dir);
    let manifests: Vec<(String, Vec<u8>)> = platforms
        .iter()
        .map(|(os, arch)| (format!("{os}/{arch}"), manifest(&blobs, seed, os, arch)))
        .collect();
    let (top, media_type, per_platform) = match manifests.as_slice() {
        [(name, only)] => (
            only.clone(),
            MediaType::ImageManifest,
            vec![(name.clone(), digest_of(only))],
        ),
        _ => {
            let index = ImageIndexBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageIndex)
                .manifests(
                    platforms
                        .iter()
                        .zip(&manifests)
                        .map(|((os, arch), (_, m))| {
                            descriptor(MediaType::ImageManifest, m, Some((os, arch)))
                        })
                        .collect::<Vec<_>>(),
                )
                .build()
                .expect("index");
            let index = canonical(&index);
            blobs.put(&index);
            let per = manifests
                .iter()
                .map(|(n, m)| (n.clone(), digest_of(m)))
                .collect();
            (index, MediaType::ImageIndex, per)
        }
    };
    let mut entry = descriptor(media_type, &top, None);
    entry.set_annotations(Some(HashMap::from([(
        "org.opencontainers.image.ref.name".to_owned(),
        tag.to_owned(),
    )])));
    let layout_index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .manifests(vec![entry])
        .build()
        .expect("layout index");
    std::fs::write(dir.join("index.json"), canonical(&layout_index)).expect("index.json");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    Pushed {
        digest: digest_of(&top),
        platforms: per_platform,
    }
}

/// Builds the image in a fresh layout under `work` and pushes it to `registry` as
/// `repository:tag` with skopeo, digests preserved. The content depends on the repository
/// only, so every tag of one repository is the same image ([`push_release`] makes each tag
/// an image of its own).
pub fn push(
    registry: &Registry,
    work: &Path,
    repository: &str,
    tag: &str,
    platforms: &[(&str, &str)],
) -> Pushed {
    push_seeded(registry, work, repository, tag, repository, platforms)
}

/// Like [`push`], but the image differs per tag, as releases of one repository do.
pub fn push_release(
    registry: &Registry,
    work: &Path,
    repository: &str,
    tag: &str,
    platforms: &[(&str, &str)],
) -> Pushed {
    let seed = format!("{repository}:{tag}");
    push_seeded(registry, work, repository, tag, &seed, platforms)
}

fn push_seeded(
    registry: &Registry,
    work: &Path,
    repository: &str,
    tag: &str,
    seed: &str,
    platforms: &[(&str, &str)],
) -> Pushed {
    let dir = work.join(format!("layout-{}-{tag}", repository.replace('/', "_")));
    let pushed = layout(&dir, seed, tag, platforms);
    let source = format!("oci:{}:{tag}", dir.display());
    let dest = format!("docker://{}/{repository}:{tag}", registry.host());
    let creds = registry.creds_args("--dest-creds");
    let mut args = vec![
        "copy",
        "--quiet",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
    ];
    args.extend(creds.iter().map(String::as_str));
    args.extend([source.as_str(), dest.as_str()]);
    skopeo(&args);
    pushed
}
