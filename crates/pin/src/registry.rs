//! Tags resolved to manifest digests over the OCI distribution API, with `oci-client`: one
//! `HEAD` of the manifest per distinct image with the index and manifest media types accepted,
//! the digest taken from `Docker-Content-Digest` (a `HEAD` does not count against Docker
//! Hub's pull limit; a `GET` does, which is why Renovate resolves digests this way too). A
//! `GET` only where it is needed: a registry that omits the header (the body's digest is then
//! computed and checked against any header), and `--platform`, which must read the index (one
//! `GET`: the chosen entry's digest is in the index, which its own digest covers). A bounded number of lookups run at once, each with a
//! timeout, and only transient failures (connection errors, timeouts, 429, 5xx) are retried.

use crate::credentials;
use crate::platform::{self, Platform};
use image_digest_policy::reference;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::{Client, Reference};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

const ACCEPT: &[&str] = &[
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
];

/// How lookups are made.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pin this platform's manifest instead of the index.
    pub platform: Option<Platform>,
    /// Registries spoken to over plain HTTP.
    pub insecure: Vec<String>,
    /// `(registry, mirror)`: look images of `registry` up at `mirror` (the digest is the same
    /// content address there); what is written still names `registry`.
    pub mirrors: Vec<(String, String)>,
    /// Lookups in flight at once.
    pub jobs: usize,
    /// Per attempt, connecting and reading included.
    pub timeout: Duration,
    /// Attempts per image for transient failures.
    pub attempts: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            platform: None,
            insecure: Vec::new(),
            mirrors: Vec::new(),
            jobs: 8,
            timeout: Duration::from_secs(30),
            attempts: 3,
        }
    }
}

/// Why an image could not be resolved: the registry asked, and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    /// The registry asked (or `registry::CLUSTER` for running pods).
    pub registry: String,
    /// Its answer, or why there was none.
    pub reason: String,
    /// The registry answered that the manifest does not exist (404, `MANIFEST_UNKNOWN`):
    /// an answer about the image, unlike a refusal or a registry that cannot be reached.
    pub gone: bool,
}

/// Whether a `repository@digest` is still in its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// The registry has the manifest.
    Present,
    /// The registry's answer (`MANIFEST_UNKNOWN`, or the HTTP status).
    Gone(String),
}

/// Asks the registry for every distinct `repository@digest` once: a `HEAD` of the manifest by
/// digest (a registry that omits `Docker-Content-Digest` gets a `GET`), with the same client,
/// credentials, mirrors, limits and retries as [`resolve_all`]. A manifest the registry says
/// it does not have is [`Presence::Gone`]; any other failure is an error (not checked).
pub fn verify_all(
    references: &[String],
    options: &Options,
) -> BTreeMap<String, Result<Presence, ResolveError>> {
    let options = Options {
        platform: None,
        ..options.clone()
    };
    resolve_all(references, &options)
        .into_iter()
        .map(|(reference, answer)| {
            let presence = match answer {
                Ok(_) => Ok(Presence::Present),
                Err(e) if e.gone => Ok(Presence::Gone(e.reason)),
                Err(e) => Err(e),
            };
            (reference, presence)
        })
        .collect()
}

/// The `registry` of an answer taken from running pods (`pin --from-live`), not a registry.
pub const CLUSTER: &str = "the cluster";

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.registry == CLUSTER {
            write!(f, "the running pods say: {}", self.reason)
        } else {
            write!(f, "registry {} answered: {}", self.registry, self.reason)
        }
    }
}

/// Resolves every distinct image once; the answer for each, by image.
pub fn resolve_all(
    images: &[String],
    options: &Options,
) -> BTreeMap<String, Result<String, ResolveError>> {
    let distinct: std::collections::BTreeSet<&String> = images.iter().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let error = ResolveError {
                registry: "-".into(),
                reason: format!("cannot start the network runtime: {e}"),
                gone: false,
            };
            return distinct
                .into_iter()
                .map(|i| (i.clone(), Err(error.clone())))
                .collect();
        }
    };
    install_crypto_provider();
    let client = Arc::new(Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(options.insecure.clone()),
        connect_timeout: Some(options.timeout),
        read_timeout: Some(options.timeout),
        ..ClientConfig::default()
    }));
    let limit = Arc::new(tokio::sync::Semaphore::new(options.jobs.max(1)));
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for image in distinct {
            let (client, limit, options, image) = (
                client.clone(),
                limit.clone(),
                options.clone(),
                image.clone(),
            );
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let answer = resolve_with_retries(&client, &image, &options).await;
                (image, answer)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok((image, answer)) = done {
                out.insert(image, answer);
            }
        }
        out
    })
}

/// reqwest is built without a default TLS provider (aws-lc builds for minutes); ring is ours.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn resolve_with_retries(
    client: &Client,
    image: &str,
    options: &Options,
) -> Result<String, ResolveError> {
    let reference = reference_for(image, options)?;
    let registry = reference.resolve_registry().to_owned();
    let auth = credentials::for_registry(&registry).map_err(|reason| ResolveError {
        registry: registry.clone(),
        reason,
        gone: false,
    })?;
    let mut attempt = 1;
    loop {
        let once = tokio::time::timeout(
            options.timeout,
            resolve_once(client, &reference, &auth, options),
        );
        let result = match once.await {
            Ok(r) => r,
            Err(_) => Err(Failure::transient(format!(
                "no answer within {} s",
                options.timeout.as_secs()
            ))),
        };
        // Every digest a registry answers is checked before it is written: a header of
        // `sha256:abc` is not a content address.
        let result = result.and_then(|digest| match reference::parse_digest(&digest) {
            Ok(_) => Ok(digest),
            Err(e) => Err(Failure {
                reason: format!(
                    "answered {:?} as the manifest's digest, which is not a digest ({e}): nothing pinned from it",
                    reference::truncate(&digest, 100)
                ),
                transient: false,
                gone: false,
            }),
        });
        match result {
            Ok(digest) => return Ok(digest),
            Err(f) if f.transient && attempt < options.attempts => {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                attempt += 1;
            }
            Err(f) => {
                let tries = if attempt > 1 {
                    format!(" (after {attempt} attempts)")
                } else {
                    String::new()
                };
                return Err(ResolveError {
                    registry,
                    reason: format!("{}{tries}", f.reason),
                    gone: f.gone,
                });
            }
        }
    }
}

/// The reference to look up: the image as written, at its mirror when one is configured.
fn reference_for(image: &str, options: &Options) -> Result<Reference, ResolveError> {
    let mut reference: Reference = image.parse().map_err(|e| ResolveError {
        registry: "-".into(),
        reason: format!("not a reference the registry client understands: {e}"),
        gone: false,
    })?;
    if let Some((_, mirror)) = options
        .mirrors
        .iter()
        .find(|(from, _)| from == reference.registry() || from == reference.resolve_registry())
    {
        reference.set_mirror_registry(mirror.clone());
    }
    Ok(reference)
}

struct Failure {
    reason: String,
    transient: bool,
    /// The registry said the manifest does not exist.
    gone: bool,
}

impl Failure {
    fn transient(reason: String) -> Failure {
        Failure {
            reason,
            transient: true,
            gone: false,
        }
    }
}

async fn resolve_once(
    client: &Client,
    reference: &Reference,
    auth: &oci_client::secrets::RegistryAuth,
    options: &Options,
) -> Result<String, Failure> {
    let Some(platform) = &options.platform else {
        return client
            .fetch_manifest_digest(reference, auth)
            .await
            .map_err(classify);
    };
    let (body, digest) = client
        .pull_manifest_raw(reference, auth, ACCEPT)
        .await
        .map_err(classify)?;
    let media_type = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("mediaType")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if !platform::is_index(&media_type) {
        // A single-platform image: its manifest is what every node runs.
        return Ok(digest);
    }
    // The index was verified against its digest by the client, so the entry it lists for the
    // platform is the manifest's content address: no second request.
    platform::select(&body, platform).map_err(|reason| Failure {
        reason,
        transient: false,
        gone: false,
    })
}

/// The registry's answer in one line, and whether asking again may help.
fn classify(e: OciDistributionError) -> Failure {
    let transient = match &e {
        OciDistributionError::RequestError(r) => r.is_connect() || r.is_timeout() || r.is_request(),
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|x| x.code == OciErrorCode::Toomanyrequests),
        _ => false,
    };
    let gone = match &e {
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|x| x.code == OciErrorCode::ManifestUnknown),
        _ => false,
    };
    Failure {
        reason: one_line(&e),
        transient,
        gone,
    }
}

fn one_line(e: &OciDistributionError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
