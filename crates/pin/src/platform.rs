//! `--platform os/arch[/variant]`: which entry of an image index to pin. Multi-arch images are
//! pinned by their index by default (one digest that runs on every node); a platform pins the
//! one manifest that node type runs.

use serde::Deserialize;
use std::fmt;
use std::str::FromStr;

/// An OCI platform (`os/architecture[/variant]`), as `--platform` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows`…
    pub os: String,
    /// `amd64`, `arm64`…
    pub architecture: String,
    /// `v7`, `v8`…, when the platform has one.
    pub variant: Option<String>,
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid =
            |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(format!(
                "platform {s:?} is not os/arch or os/arch/variant (such as linux/amd64 or linux/arm64/v8)"
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// The parts of an image index (or Docker manifest list) that choose a platform.
#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    digest: String,
    platform: Option<EntryPlatform>,
}

#[derive(Deserialize)]
struct EntryPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// Every platform manifest an index lists, as `(os/arch[/variant], digest)`, in its order;
/// attestation entries (`unknown/unknown`, as buildx writes them) are not images a node pulls
/// and are left out. A child whose digest is not a digest is an error.
pub fn children(index: &[u8]) -> Result<Vec<(String, String)>, String> {
    let index: Index = serde_json::from_slice(index)
        .map_err(|e| format!("the image index is not valid JSON: {e}"))?;
    let mut out = Vec::new();
    for e in index.manifests {
        let platform = match &e.platform {
            Some(p) if p.os == "unknown" && p.architecture == "unknown" => continue,
            Some(p) => match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            },
            None => "(no platform)".to_owned(),
        };
        image_digest_policy::reference::parse_digest(&e.digest).map_err(|why| {
            format!(
                "the index lists {:?} for {platform}, which is not a digest ({why})",
                e.digest
            )
        })?;
        out.push((platform, e.digest));
    }
    Ok(out)
}

/// The media types of a multi-platform manifest.
pub fn is_index(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.oci.image.index.v1+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json"
    )
}

/// The digest of the entry for `platform` in an index's bytes. Without a variant, an entry
/// with any variant matches only when it is the one entry of that os/arch (as `linux/arm64`
/// means `linux/arm64/v8` when nothing else is offered).
pub fn select(index: &[u8], platform: &Platform) -> Result<String, String> {
    let index: Index = serde_json::from_slice(index)
        .map_err(|e| format!("the image index is not valid JSON: {e}"))?;
    let same_arch: Vec<&Entry> = index
        .manifests
        .iter()
        .filter(|e| {
            e.platform
                .as_ref()
                .is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
        })
        .collect();
    let exact = same_arch.iter().find(|e| {
        e.platform.as_ref().and_then(|p| p.variant.as_deref()) == platform.variant.as_deref()
    });
    let chosen = match (exact, platform.variant.as_ref(), same_arch.as_slice()) {
        (Some(e), _, _) => Some(*e),
        (None, None, [only]) => Some(*only),
        _ => None,
    };
    chosen.map(|e| e.digest.clone()).ok_or_else(|| {
        let offered: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|e| e.platform.as_ref())
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect();
        format!(
            "the image index has no {platform} manifest (it offers: {})",
            if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"amd64"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cc","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#;

    #[test]
    fn platforms_parse_and_select_their_entry() {
        let cases = [
            ("linux/amd64", Ok("sha256:aa")),
            ("linux/arm64", Ok("sha256:bb")),
            ("linux/arm64/v8", Ok("sha256:bb")),
            (
                "linux/arm64/v7",
                Err(
                    "the image index has no linux/arm64/v7 manifest (it offers: linux/amd64, linux/arm64/v8, unknown/unknown)",
                ),
            ),
            (
                "windows/amd64",
                Err(
                    "the image index has no windows/amd64 manifest (it offers: linux/amd64, linux/arm64/v8, unknown/unknown)",
                ),
            ),
        ];
        for (platform, want) in cases {
            let p: Platform = platform.parse().unwrap();
            assert_eq!(p.to_string(), platform);
            let got = select(INDEX.as_bytes(), &p);
            assert_eq!(got.as_deref().map_err(String::as_str), want, "{platform}");
        }
    }

    #[test]
    fn malformed_platforms_say_what_is_expected() {
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v8/x",
            "linux amd64",
        ] {
            let err = bad.parse::<Platform>().unwrap_err();
            assert!(err.contains("os/arch"), "{bad}: {err}");
        }
    }
}
