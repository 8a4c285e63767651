//! `artifacthub-pkg.yml`, generated from `metadata.yml` and `questions-ui.yml` with the fields
//! Kubewarden's tooling writes, so ArtifactHub and Rancher's UI show the policy.

use crate::error::{Error, Result};
use crate::metadata::annotation;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    version: String,
    name: String,
    display_name: String,
    created_at: String,
    description: String,
    license: String,
    #[serde(rename = "homeURL")]
    home_url: String,
    containers_images: Vec<NameImage>,
    keywords: Vec<String>,
    links: Vec<NameUrl>,
    install: String,
    maintainers: Vec<Maintainer>,
    provider: Provider,
    recommendations: Vec<Recommendation>,
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct NameImage {
    name: String,
    image: String,
}

#[derive(Serialize)]
struct NameUrl {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct Maintainer {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct Provider {
    name: String,
}

#[derive(Serialize)]
struct Recommendation {
    url: String,
}

/// A YAML writer's failure, as the package's.
fn yaml(e: impl std::fmt::Display) -> Error {
    Error::Metadata(format!("cannot write the package as YAML: {e}"))
}

/// The first lines of the generated file, which say where to edit instead.
pub const HEADER: &str = "# Kubewarden ArtifactHub package config, generated from metadata.yml and questions-ui.yml\n# by `make artifacthub-pkg.yml`: edit those, not this file.\n";

/// `artifacthub-pkg.yml` from the policy's metadata and its questions UI.
pub fn generate(
    metadata: &Map<String, Value>,
    questions_ui: &str,
    created_at: &str,
) -> Result<String> {
    let a = |k: &str| {
        annotation(metadata, k)
            .map(str::to_owned)
            .ok_or_else(|| Error::Metadata(format!("metadata.yml lacks the annotation {k}")))
    };
    let version = a("io.kubewarden.policy.version")?;
    let oci = a("io.kubewarden.policy.ociUrl")?;
    let source = a("io.kubewarden.policy.source")?;
    let image = format!("{oci}:v{version}");
    let rules = serde_saphyr::to_string(
        metadata
            .get("rules")
            .ok_or_else(|| Error::Metadata("metadata.yml has no rules".into()))?,
    )
    .map_err(yaml)?;
    let context_aware = serde_saphyr::to_string(
        metadata
            .get("contextAwareResources")
            .unwrap_or(&Value::Array(Vec::new())),
    )
    .map_err(yaml)?;
    let mutating = metadata
        .get("mutating")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("kubewarden/mutation".to_owned(), mutating.to_string());
    annotations.insert(
        "kubewarden/resources".to_owned(),
        a("io.artifacthub.resources")?,
    );
    annotations.insert("kubewarden/rules".to_owned(), rules);
    annotations.insert(
        "kubewarden/questions-ui".to_owned(),
        questions_ui.to_owned(),
    );
    annotations.insert("kubewarden/contextAwareResources".to_owned(), context_aware);
    if let Some(Value::Array(caps)) = metadata.get("hostCapabilities") {
        let caps: Vec<&str> = caps.iter().filter_map(Value::as_str).collect();
        annotations.insert("kubewarden/hostCapabilities".to_owned(), caps.join(", "));
    }
    let package = Package {
        version: version.clone(),
        name: a("io.kubewarden.policy.title")?,
        display_name: a("io.artifacthub.displayName")?,
        created_at: created_at.to_owned(),
        description: a("io.kubewarden.policy.description")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        license: a("io.kubewarden.policy.license")?,
        home_url: a("io.kubewarden.policy.url")?,
        containers_images: vec![NameImage {
            name: "policy".into(),
            image: image.clone(),
        }],
        keywords: a("io.artifacthub.keywords")?
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        links: vec![
            NameUrl {
                name: "policy".into(),
                url: format!("{source}/releases/download/v{version}/policy.wasm"),
            },
            NameUrl {
                name: "source".into(),
                url: source.clone(),
            },
        ],
        install: format!(
            "The policy can be obtained using [`kwctl`](https://github.com/kubewarden/kwctl):\n```console\nkwctl pull {image}\n```\nThen, generate the policy manifest and tune it to your liking. For example:\n```console\nkwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n```\n"
        ),
        maintainers: vec![Maintainer {
            name: a("io.kubewarden.policy.author")?,
            email: "maintainers@image-digest-policy.dev".into(),
        }],
        provider: Provider {
            name: "kubewarden".into(),
        },
        recommendations: vec![Recommendation {
            url: "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller".into(),
        }],
        annotations,
    };
    Ok(format!(
        "{HEADER}{}",
        serde_saphyr::to_string(&package).map_err(yaml)?
    ))
}

/// The `createdAt` of an existing package file, so regenerating it is reproducible.
pub fn created_at_of(existing: &str) -> Option<String> {
    let v: Value = serde_saphyr::from_str(existing).ok()?;
    v.get("createdAt")?.as_str().map(str::to_owned)
}
