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
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest as _, Sha256};
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
    /// `verify_all`: also ask for every manifest's config and layer blobs (`--deep`).
    pub deep: bool,
    /// `verify_all`: only these platforms of an index (`os/arch[/variant]`; empty: all).
    pub platforms: Vec<String>,
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
            deep: false,
            platforms: Vec::new(),
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
    /// What kind of failure: what a caller decides on, never read from `reason`.
    pub cause: Cause,
}

/// Why a registry question had no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The registry answered that it does not have it (HTTP 404): an answer about the image,
    /// with the distribution spec's code for what was asked (`MANIFEST_UNKNOWN`,
    /// `BLOB_UNKNOWN`).
    NotFound(&'static str),
    /// It refused (401, 403, another 4xx), or answered something that is not usable (not a
    /// digest, not a manifest): asking again gives the same.
    Refused,
    /// It could not be reached, timed out, or was busy (5xx, 429): asking again may help.
    Transient,
}

impl ResolveError {
    /// The registry said it does not have it.
    pub fn is_not_found(&self) -> bool {
        matches!(self.cause, Cause::NotFound(_))
    }
}

/// Whether a `repository@digest` is still in its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// The registry has the manifest.
    Present,
    /// The registry does not have it: its code (`MANIFEST_UNKNOWN`) and answer.
    Gone {
        /// The distribution spec's code for the answer.
        code: &'static str,
        /// The registry's answer.
        reason: String,
    },
    /// The manifest answers, but a blob it names (its config or a layer) is gone: every pull
    /// fails (`--deep`).
    BlobGone {
        /// The manifest that names it (a platform's, for an index).
        manifest: String,
        /// `config` or `layer N`.
        what: String,
        /// The blob's digest.
        blob: String,
        /// The distribution spec's code for the answer (`BLOB_UNKNOWN`).
        code: &'static str,
        /// The registry's answer.
        reason: String,
    },
    /// The index answers, but a platform's manifest under it is gone ("delete untagged"
    /// cleanups take an index's children for untagged images): a pull on that platform fails.
    ChildGone {
        /// `linux/arm64`.
        platform: String,
        /// The child manifest's digest.
        digest: String,
        /// The distribution spec's code for the answer (`MANIFEST_UNKNOWN`).
        code: &'static str,
        /// The registry's answer.
        reason: String,
    },
}

/// Asks the registry for every distinct `repository@digest` once: a `HEAD` of the manifest by
/// digest (a registry that omits `Docker-Content-Digest` gets a `GET`), with the same client,
/// credentials, mirrors, limits and retries as [`resolve_all`]; for an index, its children too
/// (one `GET` of the index, then a `HEAD` of each platform's manifest, each distinct child asked
/// once in the run): an index whose arm64 manifest was deleted still answers, but an arm64 pull
/// fails. A manifest the registry says it does not have is gone; any other failure is an error
/// (not checked).
pub fn verify_all(
    references: &[String],
    options: &Options,
) -> BTreeMap<String, Result<Presence, ResolveError>> {
    let options = Options {
        platform: None,
        ..options.clone()
    };
    let children: Children = Arc::default();
    with_network(references, &options, move |net, reference, options| {
        let children = children.clone();
        Box::pin(async move { verify_one(&net, &reference, &options, &children).await })
    })
}

/// The answer for each child manifest (and, with `--deep`, each blob) asked in a run, asked
/// once however many indexes share it.
type Children = Arc<
    std::sync::Mutex<BTreeMap<String, Arc<tokio::sync::OnceCell<Result<Presence, ResolveError>>>>>,
>;

/// The one cell of `key` in the run.
fn once(
    asked: &Children,
    key: String,
) -> Arc<tokio::sync::OnceCell<Result<Presence, ResolveError>>> {
    match asked.lock() {
        Ok(mut map) => map.entry(key).or_default().clone(),
        // A poisoned map only costs asking again.
        Err(_) => Arc::default(),
    }
}

async fn verify_one(
    net: &Net,
    reference: &str,
    options: &Options,
    children: &Children,
) -> Result<Presence, ResolveError> {
    let (_, media_type) = match resolve_with_retries(net, reference, options).await {
        Ok(answer) => answer,
        Err(ResolveError {
            cause: Cause::NotFound(code),
            reason,
            ..
        }) => return Ok(Presence::Gone { code, reason }),
        Err(e) => return Err(e),
    };
    let name = reference.split_once('@').map_or(reference, |(n, _)| n);
    if !media_type.as_deref().is_some_and(platform::is_index) {
        if options.deep {
            let top = reference.split_once('@').map_or("", |(_, d)| d);
            return deep(net, name, top, options, children).await;
        }
        return Ok(Presence::Present);
    }
    let (parsed, auth, registry) = prepare(reference, options)?;
    let (body, _) = read_manifest(net, &parsed, &auth, reference)
        .await
        .map_err(|why| ResolveError::at(&registry, format!("the index answers, but {why}")))?;
    let entries =
        platform::children(&body).map_err(|reason| ResolveError::at(&registry, reason))?;
    let wanted = |p: &str| {
        options.platforms.is_empty()
            || options
                .platforms
                .iter()
                .any(|w| p == w || p.starts_with(&format!("{w}/")))
    };
    for (platform, digest) in entries.into_iter().filter(|(p, _)| wanted(p)) {
        let child = format!("{name}@{digest}");
        let answer = once(children, child.clone())
            .get_or_init(|| async {
                match resolve_with_retries(net, &child, options).await {
                    Ok(_) => Ok(Presence::Present),
                    Err(ResolveError {
                        cause: Cause::NotFound(code),
                        reason,
                        ..
                    }) => Ok(Presence::Gone { code, reason }),
                    Err(e) => Err(e),
                }
            })
            .await
            .clone();
        if let Presence::Gone { code, reason } = answer? {
            return Ok(Presence::ChildGone {
                platform,
                digest,
                code,
                reason,
            });
        }
        if options.deep {
            let blobs = deep(net, name, &digest, options, children).await?;
            if blobs != Presence::Present {
                return Ok(blobs);
            }
        }
    }
    Ok(Presence::Present)
}

/// `--deep`: the manifest `name@digest` read (one `GET`), and a `HEAD` of its config and of
/// each layer, each distinct blob once per run.
async fn deep(
    net: &Net,
    name: &str,
    digest: &str,
    options: &Options,
    asked: &Children,
) -> Result<Presence, ResolveError> {
    let manifest = format!("{name}@{digest}");
    let (parsed, auth, registry) = prepare(&manifest, options)?;
    let error = |reason: String| ResolveError::at(&registry, reason);
    let (_, value) = read_manifest(net, &parsed, &auth, &manifest)
        .await
        .map_err(error)?;
    let mut blobs = Vec::new();
    if let Some(d) = value
        .pointer("/config/digest")
        .and_then(serde_json::Value::as_str)
    {
        blobs.push(("config".to_owned(), d.to_owned()));
    }
    for (i, layer) in value
        .get("layers")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(d) = layer.get("digest").and_then(serde_json::Value::as_str) {
            blobs.push((format!("layer {i}"), d.to_owned()));
        }
    }
    for (what, blob) in blobs {
        reference::parse_digest(&blob).map_err(|e| {
            error(format!(
                "{manifest}: its {what} digest {blob:?} is not a digest ({e})"
            ))
        })?;
        let answer = once(asked, format!("{name}@blob:{blob}"))
            .get_or_init(|| async {
                match head_blob(net, &parsed, &auth, options, &blob).await {
                    Ok(()) => Ok(Presence::Present),
                    Err(Failure {
                        cause: Cause::NotFound(code),
                        reason,
                        ..
                    }) => Ok(Presence::Gone { code, reason }),
                    Err(f) => Err(error(f.reason)),
                }
            })
            .await
            .clone();
        if let Presence::Gone { code, reason } = answer? {
            return Ok(Presence::BlobGone {
                manifest: digest.to_owned(),
                what,
                blob,
                code,
                reason,
            });
        }
    }
    Ok(Presence::Present)
}

/// `HEAD /v2/<name>/blobs/<digest>` on oci-client's credentials and token.
async fn head_blob(
    net: &Net,
    reference: &Reference,
    auth: &oci_client::secrets::RegistryAuth,
    options: &Options,
    blob: &str,
) -> Result<(), Failure> {
    let url = v2_url(reference, options, "blobs", blob);
    let token = net
        .client
        .auth(reference, auth, RegistryOperation::Pull)
        .await
        .map_err(classify)?;
    let r = authorized(net.http.head(&url), token.as_deref(), auth);
    let response = r
        .send()
        .await
        .map_err(|e| Failure::transient(format!("HEAD {url}: {}", one_line(&e))))?;
    check_status(&response, &url, "BLOB_UNKNOWN")
}

/// What `protect_all` did for one `repository@digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protected {
    /// The tag already named the digest: nothing written.
    Already,
    /// The tag was written (the manifest's own bytes, `PUT` by tag) and reads back as the digest.
    Tagged,
    /// `--dry-run`: it would be written.
    WouldTag,
}

/// The protection tag of a digest: `prefix` + `sha256-<hex>`, cut to the 128 characters the
/// OCI tag grammar allows (a sha512 digest then keeps the first hex digits).
pub fn protection_tag(prefix: &str, digest: &str) -> String {
    let mut tag = format!("{prefix}{}", digest.replace(':', "-"));
    tag.truncate(128);
    tag
}

/// Tags every `repository@digest` in its own repository with `protection_tag(prefix, digest)`,
/// so registries whose retention keeps tags (Harbor, ECR, zot, GHCR cleanups) keep what Git
/// pins by digest: the manifest is read by digest and written back by tag, byte for byte (its
/// digest cannot change), then the tag is read back and must name the digest. A tag that
/// already names it is left alone.
pub fn protect_all(
    references: &[String],
    prefix: &str,
    dry_run: bool,
    options: &Options,
) -> BTreeMap<String, Result<Protected, ResolveError>> {
    let options = Options {
        platform: None,
        ..options.clone()
    };
    let prefix = prefix.to_owned();
    with_network(references, &options, move |net, reference, options| {
        let prefix = prefix.clone();
        Box::pin(async move { protect_one(&net, &reference, &prefix, dry_run, &options).await })
    })
}

async fn protect_one(
    net: &Net,
    reference: &str,
    prefix: &str,
    dry_run: bool,
    options: &Options,
) -> Result<Protected, ResolveError> {
    let Some((name, digest)) = reference.split_once('@') else {
        return Err(ResolveError::at(
            "-",
            format!("{reference} is not repository@digest"),
        ));
    };
    let tagged = format!("{name}:{}", protection_tag(prefix, digest));
    match resolve_with_retries(net, &tagged, options).await {
        Ok((current, _)) if current == digest => return Ok(Protected::Already),
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    if dry_run {
        return Ok(Protected::WouldTag);
    }
    let (source, auth, registry) = prepare(reference, options)?;
    let (target, _, _) = prepare(&tagged, options)?;
    let error = |reason: String| ResolveError::at(&registry, reason);
    let (body, value) = read_manifest(net, &source, &auth, reference)
        .await
        .map_err(error)?;
    let media_type = value
        .get("mediaType")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if value.get("manifests").is_some() {
                OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned()
            } else {
                OCI_IMAGE_MEDIA_TYPE.to_owned()
            }
        });
    if !ACCEPT.contains(&media_type.as_str()) {
        return Err(error(format!(
            "{reference} is a {media_type:?} document, not an image manifest or index: not tagged"
        )));
    }
    let content_type = reqwest::header::HeaderValue::from_str(&media_type)
        .map_err(|e| error(format!("{reference}: media type {media_type:?}: {e}")))?;
    net.client
        .auth(&target, &auth, RegistryOperation::Push)
        .await
        .map_err(|e| error(format!("{tagged}: {}", classify(e).reason)))?;
    net.client
        .push_manifest_raw(&target, body, content_type)
        .await
        .map_err(|e| error(format!("writing {tagged}: {}", classify(e).reason)))?;
    match resolve_with_retries(net, &tagged, options).await {
        Ok((read, _)) if read == digest => Ok(Protected::Tagged),
        Ok((read, _)) => Err(error(format!(
            "{tagged} reads back as {read}, not {digest}: the registry changed the manifest"
        ))),
        Err(e) => Err(e),
    }
}

/// A repository's protection tags that `prune_all` took up, each with what was done or why not.
pub type TagsPruned = Vec<(String, Result<Pruned, String>)>;

/// What `prune_all` did with one protection tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pruned {
    /// Deleted (the tag alone: OCI distribution 1.1's `DELETE` by tag).
    Removed,
    /// `--dry-run`: it would be deleted.
    WouldRemove,
}

/// The protection tags (`prefix…`) of each repository whose digest is not in `keep` (the
/// `repository@digest` keep-list), deleted one by one by tag: (tag, what was done). The digest
/// is read from the tag's name, so nothing else is asked; a registry that cannot delete a tag
/// alone (Docker's registry 2.8 deletes manifests, with every tag on them, by digest only)
/// answers an error for that tag, and nothing is deleted by digest instead.
pub fn prune_all(
    repositories: &[String],
    prefix: &str,
    keep: &std::collections::BTreeSet<String>,
    dry_run: bool,
    options: &Options,
) -> BTreeMap<String, Result<TagsPruned, ResolveError>> {
    let options = Options {
        platform: None,
        ..options.clone()
    };
    let (prefix, keep) = (prefix.to_owned(), Arc::new(keep.clone()));
    with_network(repositories, &options, move |net, name, options| {
        let (prefix, keep) = (prefix.clone(), keep.clone());
        Box::pin(async move { prune_one(&net, &name, &prefix, &keep, dry_run, &options).await })
    })
}

async fn prune_one(
    net: &Net,
    name: &str,
    prefix: &str,
    keep: &std::collections::BTreeSet<String>,
    dry_run: bool,
    options: &Options,
) -> Result<TagsPruned, ResolveError> {
    let (reference, auth, registry) = prepare(&format!("{name}:latest"), options)?;
    let error = |reason: String| ResolveError::at(&registry, reason);
    let tags = net
        .client
        .list_tags(&reference, &auth, None, None)
        .await
        .map_err(|e| {
            error(format!(
                "listing the tags of {name}: {}",
                classify(e).reason
            ))
        })?;
    // The digest each protection tag names, read from the tag (and checked as a digest).
    let stale: Vec<String> = tags
        .tags
        .into_iter()
        .filter(|t| {
            t.strip_prefix(prefix)
                .and_then(|rest| rest.split_once('-'))
                .map(|(algorithm, hex)| format!("{algorithm}:{hex}"))
                .is_some_and(|digest| {
                    reference::parse_digest(&digest).is_ok()
                        && !keep.contains(&format!("{name}@{digest}"))
                })
        })
        .collect();
    let mut out = Vec::new();
    if stale.is_empty() {
        return Ok(out);
    }
    if dry_run {
        return Ok(stale
            .into_iter()
            .map(|t| (t, Ok(Pruned::WouldRemove)))
            .collect());
    }
    let token = net
        .client
        .auth(&reference, &auth, RegistryOperation::Push)
        .await
        .map_err(|e| error(format!("{name}: {}", classify(e).reason)))?;
    for tag in stale {
        let url = v2_url(&reference, options, "manifests", &tag);
        let r = authorized(net.http.delete(&url), token.as_deref(), &auth);
        let done = match r.send().await {
            Ok(response) if response.status().is_success() => Ok(Pruned::Removed),
            Ok(response) => Err(format!(
                "the registry refused to delete the tag alone (HTTP {}): it may not support deleting a tag (OCI distribution 1.1); remove {name}:{tag} with the registry's own tools",
                response.status()
            )),
            Err(e) => Err(format!("DELETE {url}: {}", one_line(&e))),
        };
        out.push((tag, done));
    }
    Ok(out)
}

/// The `registry` of an answer taken from running pods (`pin --from-live`), not a registry.
pub const CLUSTER: &str = "the cluster";

impl ResolveError {
    /// A failure that is not the registry saying the manifest is gone.
    fn at(registry: &str, reason: String) -> ResolveError {
        ResolveError {
            registry: registry.to_owned(),
            reason,
            cause: Cause::Refused,
        }
    }
}

impl std::error::Error for ResolveError {}

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
    with_network(images, options, |net, image, options| {
        Box::pin(async move {
            resolve_with_retries(&net, &image, &options)
                .await
                .map(|(digest, _)| digest)
        })
    })
}

/// The clients every lookup of a run shares.
#[derive(Clone)]
struct Net {
    client: Arc<Client>,
    http: reqwest::Client,
}

type Lookup<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, ResolveError>> + Send>>;

/// Runs `lookup` once per distinct item, at most `options.jobs` at once, on one runtime and
/// one pair of clients.
fn with_network<T: Send + 'static>(
    items: &[String],
    options: &Options,
    lookup: impl Fn(Net, String, Options) -> Lookup<T>,
) -> BTreeMap<String, Result<T, ResolveError>> {
    let distinct: std::collections::BTreeSet<&String> = items.iter().collect();
    // Without a runtime or an HTTP client nothing can be asked: every item says why.
    let unasked = |reason: String| {
        let error = ResolveError::at("-", reason);
        distinct
            .iter()
            .map(|i| ((*i).clone(), Err(error.clone())))
            .collect()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return unasked(format!("cannot start the network runtime: {e}")),
    };
    install_crypto_provider();
    let client = Arc::new(Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(options.insecure.clone()),
        connect_timeout: Some(options.timeout),
        read_timeout: Some(options.timeout),
        ..ClientConfig::default()
    }));
    let http = match reqwest::Client::builder()
        .connect_timeout(options.timeout)
        .read_timeout(options.timeout)
        .build()
    {
        Ok(h) => h,
        Err(e) => return unasked(format!("cannot start the HTTP client: {e}")),
    };
    let net = Net { client, http };
    let limit = Arc::new(tokio::sync::Semaphore::new(options.jobs.max(1)));
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for item in distinct {
            let (limit, item) = (limit.clone(), item.clone());
            let work = lookup(net.clone(), item.clone(), options.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (item, work.await)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok((item, answer)) = done {
                out.insert(item, answer);
            }
        }
        out
    })
}

/// reqwest is built without a default TLS provider (aws-lc builds for minutes); ring is ours.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The reference to ask (at its mirror), its credentials, and the registry asked.
fn prepare(
    image: &str,
    options: &Options,
) -> Result<(Reference, oci_client::secrets::RegistryAuth, String), ResolveError> {
    let reference = reference_for(image, options)?;
    let registry = reference.resolve_registry().to_owned();
    let auth = credentials::for_registry(&registry)
        .map_err(|e| ResolveError::at(&registry, e.to_string()))?;
    Ok((reference, auth, registry))
}

/// The digest `image` names and, when a `HEAD` said it, the manifest's media type.
async fn resolve_with_retries(
    net: &Net,
    image: &str,
    options: &Options,
) -> Result<(String, Option<String>), ResolveError> {
    let (http, client) = (&net.http, net.client.as_ref());
    let (reference, auth, registry) = prepare(image, options)?;
    let mut attempt = 1;
    loop {
        let once = tokio::time::timeout(
            options.timeout,
            resolve_once(http, client, &reference, &auth, options),
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
        let result = result.and_then(|(digest, media_type)| match reference::parse_digest(&digest) {
            Ok(_) => Ok((digest, media_type)),
            Err(e) => Err(Failure::refused(format!(
                "answered {:?} as the manifest's digest, which is not a digest ({e}): nothing pinned from it",
                reference::truncate(&digest, 100)
            ))),
        });
        match result {
            Ok(answer) => return Ok(answer),
            Err(f)
                if f.cause == Cause::Transient
                    && attempt < options.attempts
                    && f.retry_after.is_none_or(|d| d <= MAX_RETRY_AFTER) =>
            {
                // A 429 says how long to wait (`Retry-After`); else back off.
                let wait = f
                    .retry_after
                    .unwrap_or(Duration::from_millis(250 << attempt));
                tokio::time::sleep(wait).await;
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
                    cause: f.cause,
                });
            }
        }
    }
}

/// The reference to look up: the image as written, at its mirror when one is configured.
fn reference_for(image: &str, options: &Options) -> Result<Reference, ResolveError> {
    let mut reference: Reference = image.parse().map_err(|e| {
        ResolveError::at(
            "-",
            format!("not a reference the registry client understands: {e}"),
        )
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
    cause: Cause,
    /// A 429's `Retry-After`: how long the registry asked us to wait.
    retry_after: Option<Duration>,
}

impl Failure {
    fn transient(reason: String) -> Failure {
        Failure {
            reason,
            cause: Cause::Transient,
            retry_after: None,
        }
    }

    fn refused(reason: String) -> Failure {
        Failure {
            reason,
            cause: Cause::Refused,
            retry_after: None,
        }
    }
}

/// The longest `Retry-After` honoured: a registry asking for more is reported, not waited on.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

async fn resolve_once(
    http: &reqwest::Client,
    client: &Client,
    reference: &Reference,
    auth: &oci_client::secrets::RegistryAuth,
    options: &Options,
) -> Result<(String, Option<String>), Failure> {
    let Some(platform) = &options.platform else {
        return head_digest(http, client, reference, auth, options).await;
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
        return Ok((digest, Some(media_type)));
    }
    // The index was verified against its digest by the client, so the entry it lists for the
    // platform is the manifest's content address: no second request.
    platform::select(&body, platform)
        .map(|d| (d, None))
        .map_err(Failure::refused)
}

/// The digest a tag (or digest) names: one `HEAD` of the manifest, its
/// `Docker-Content-Digest` taken; a registry that omits the header gets one `GET`, whose body
/// must be a whole manifest of an accepted media type before its sha256 is the answer (a
/// truncated body is refused, never hashed and pinned). Made here, on oci-client's own
/// credentials and tokens, because its `fetch_manifest_digest` hashes whatever a `GET`
/// returned and hides a 429's `Retry-After`.
async fn head_digest(
    http: &reqwest::Client,
    client: &Client,
    reference: &Reference,
    auth: &oci_client::secrets::RegistryAuth,
    options: &Options,
) -> Result<(String, Option<String>), Failure> {
    let target = reference.digest().or(reference.tag()).unwrap_or("latest");
    let url = v2_url(reference, options, "manifests", target);
    let token = client
        .auth(reference, auth, RegistryOperation::Pull)
        .await
        .map_err(classify)?;
    let request = |method: reqwest::Method| {
        authorized(
            http.request(method, &url)
                .header("Accept", ACCEPT.join(", ")),
            token.as_deref(),
            auth,
        )
    };
    let head = request(reqwest::Method::HEAD)
        .send()
        .await
        .map_err(|e| Failure::transient(format!("HEAD {url}: {}", one_line(&e))))?;
    check_status(&head, &url, "MANIFEST_UNKNOWN")?;
    let head_type = content_type(head.headers());
    if let Some(digest) = head
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
    {
        return Ok((digest.trim().to_owned(), head_type));
    }
    let get = request(reqwest::Method::GET)
        .send()
        .await
        .map_err(|e| Failure::transient(format!("GET {url}: {}", one_line(&e))))?;
    check_status(&get, &url, "MANIFEST_UNKNOWN")?;
    let content_type = content_type(get.headers());
    let header_digest = get
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = get.bytes().await.map_err(|e| {
        Failure::transient(format!(
            "GET {url}: the body did not arrive whole: {}",
            one_line(&e)
        ))
    })?;
    manifest_digest(&body, content_type.as_deref(), header_digest.as_deref())
        .map(|digest| (digest, content_type))
        .map_err(|why| Failure::refused(format!("GET {url}: {why}: nothing pinned from it")))
}

/// A response's media type, without parameters.
fn content_type(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
}

/// `scheme://registry/v2/<repository>/<kind>/<target>` for `reference` (at its mirror, with
/// the mirror's `ns` parameter), plain HTTP for `--insecure-registry` hosts.
fn v2_url(reference: &Reference, options: &Options, kind: &str, target: &str) -> String {
    let registry = reference.resolve_registry();
    let scheme = if options.insecure.iter().any(|h| h == registry) {
        "http"
    } else {
        "https"
    };
    let ns = reference
        .namespace()
        .map(|ns| format!("?ns={ns}"))
        .unwrap_or_default();
    format!(
        "{scheme}://{registry}/v2/{}/{kind}/{target}{ns}",
        reference.repository()
    )
}

/// `request` with the registry's bearer token (from oci-client's token flow) or the docker
/// config's basic credentials.
fn authorized(
    request: reqwest::RequestBuilder,
    token: Option<&str>,
    auth: &oci_client::secrets::RegistryAuth,
) -> reqwest::RequestBuilder {
    match (token, auth) {
        (Some(t), _) => request.bearer_auth(t),
        (None, oci_client::secrets::RegistryAuth::Basic(user, password)) => {
            request.basic_auth(user, Some(password))
        }
        _ => request,
    }
}

/// A manifest read by digest (`GET`; oci-client checks the bytes against the digest), and its
/// JSON.
async fn read_manifest(
    net: &Net,
    reference: &Reference,
    auth: &oci_client::secrets::RegistryAuth,
    name: &str,
) -> Result<(Vec<u8>, serde_json::Value), String> {
    let (body, _) = net
        .client
        .pull_manifest_raw(reference, auth, ACCEPT)
        .await
        .map_err(|e| format!("reading {name}: {}", classify(e).reason))?;
    let value =
        serde_json::from_slice(&body).map_err(|e| format!("{name} is not a JSON manifest: {e}"))?;
    Ok((body.to_vec(), value))
}

/// The sha256 of a manifest body, once it is known to be one: JSON, of an accepted media type
/// (its `mediaType`, else the response's `Content-Type`), agreeing with any digest header.
fn manifest_digest(
    body: &[u8],
    content_type: Option<&str>,
    header: Option<&str>,
) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the registry sent {} bytes that are not a manifest (truncated? {e})",
            body.len()
        )
    })?;
    let media_type = value
        .get("mediaType")
        .and_then(serde_json::Value::as_str)
        .or(content_type)
        .unwrap_or_default();
    if !ACCEPT.contains(&media_type)
        || value
            .get("schemaVersion")
            .and_then(serde_json::Value::as_u64)
            != Some(2)
    {
        return Err(format!(
            "the registry sent a {media_type:?} document, not an image manifest or index (schemaVersion 2)"
        ));
    }
    let hex: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let digest = format!("sha256:{hex}");
    match header {
        Some(h) if h.trim() != digest && h.trim().starts_with("sha256:") => Err(format!(
            "the body's digest {digest} is not the {h} the registry named"
        )),
        _ => Ok(digest),
    }
}

/// A response's status as a failure: 404 gone (`unknown`: `MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`,
/// the distribution spec's code for what was asked), 429 with its `Retry-After`, 5xx
/// transient, any other non-success a refusal.
fn check_status(
    response: &reqwest::Response,
    url: &str,
    unknown: &'static str,
) -> Result<(), Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let reason = format!("{url}: HTTP {status}");
    Err(match status.as_u16() {
        404 => Failure {
            reason: format!("{reason} ({unknown})"),
            cause: Cause::NotFound(unknown),
            retry_after: None,
        },
        429 => {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_seconds)
                .map(Duration::from_secs);
            let said = retry_after
                .map(|d| format!("; Retry-After {} s", d.as_secs()))
                .unwrap_or_default();
            Failure {
                reason: format!("{reason} (too many requests{said})"),
                cause: Cause::Transient,
                retry_after,
            }
        }
        401 | 403 => Failure::refused(format!("Not authorized: {reason}")),
        code if code >= 500 => Failure::transient(reason),
        _ => Failure::refused(reason),
    })
}

/// `Retry-After` in seconds (the delay form; the HTTP-date form is read as the longest wait).
fn retry_after_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    value
        .parse()
        .ok()
        .or_else(|| (!value.is_empty()).then_some(MAX_RETRY_AFTER.as_secs() + 1))
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
    let cause = if gone {
        Cause::NotFound("MANIFEST_UNKNOWN")
    } else if transient {
        Cause::Transient
    } else {
        Cause::Refused
    };
    Failure {
        reason: one_line(&e),
        cause,
        retry_after: None,
    }
}

/// An error and its sources on one line (oci-client's and reqwest's alike).
fn one_line(e: &dyn std::error::Error) -> String {
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
