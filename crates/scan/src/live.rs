//! What runs: the Pods of a cluster as `kubectl get pods -A -o json` prints them, grouped by
//! workload, compared with what their specs say. Kubernetes records the digest each started
//! container runs in `status.containerStatuses[].imageID` (and the init and ephemeral
//! lists): two pods of one workload running two digests for the same tag is drift that has
//! already happened; one digest for a tag-only image is the pin that changes nothing in the
//! cluster.

use crate::input::Document;
use image_digest_policy::reference;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A workload: the Pods' controller, followed up to the object a user deploys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    /// Its namespace.
    pub namespace: String,
    /// Its kind (`Deployment`, or `Pod` for a bare pod).
    pub kind: String,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What a container's `imageID` says it runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Running {
    /// A registry digest: `repository@sha256:…` (containerd, CRI-O) or
    /// `docker-pullable://repository@sha256:…` (cri-dockerd).
    Digest {
        /// The repository the runtime pulled.
        repository: String,
        /// The digest it runs.
        digest: String,
    },
    /// A bare image ID (`sha256:…`, a locally loaded image): not a registry digest.
    Local(String),
    /// Not started (no `imageID` yet, e.g. `ContainerCreating`), with the reason when known.
    Unknown(String),
}

impl Running {
    /// Reads an `imageID` as the runtimes write it.
    pub fn parse(image_id: &str) -> Running {
        let id = image_id
            .strip_prefix("docker-pullable://")
            .unwrap_or(image_id);
        if id.is_empty() {
            return Running::Unknown("no imageID yet".into());
        }
        if let Some(local) = id.strip_prefix("docker://") {
            return Running::Local(local.to_owned());
        }
        match id.rsplit_once('@') {
            Some((repository, digest)) if digest.contains(':') => {
                // A value from the cluster is checked before it is trusted: a digest that is
                // not one, or a repository that is not a reference, is never pinned.
                match image_digest_policy::reference::parse(id) {
                    Ok(r) if r.digest.is_some() => Running::Digest {
                        repository: repository.to_owned(),
                        digest: digest.to_owned(),
                    },
                    Ok(_) => Running::Unknown(format!("imageID {id:?} holds no digest")),
                    Err(e) => Running::Unknown(format!(
                        "imageID {id:?} is not a registry reference ({e}): what runs is unknown"
                    )),
                }
            }
            _ => Running::Local(id.to_owned()),
        }
    }
}

/// One container of one workload, as its pods run it.
#[derive(Debug, Clone)]
pub struct Container {
    /// The workload the pod belongs to.
    pub workload: Owner,
    /// `containers`, `initContainers`, `ephemeralContainers`, or `volumes` for an image volume.
    pub list: &'static str,
    /// The container's (or init container's) name.
    pub name: String,
    /// The image as the pods' spec writes it.
    pub image: String,
    /// Pod name → what it runs.
    pub pods: BTreeMap<String, Running>,
}

/// What `live` found about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Pods run more than one digest for the same image: digest → pods.
    Drift(BTreeMap<String, Vec<String>>),
    /// A tag-only image that every started pod runs at one digest: the pin.
    RunningDigest {
        /// `image@digest`, the pin to write.
        pinned: String,
    },
    /// A pinned spec whose pods run another digest (a mirror or runtime rewrote it).
    Mismatch {
        /// The digest the pods run.
        running: String,
    },
    /// Runs a locally loaded image: cannot be pinned from the cluster.
    Local(Vec<String>),
    /// Pods whose container has not started: what they run is unknown.
    Unknown(Vec<String>),
    /// Pinned, and the pods run that digest.
    Agrees,
}

impl Container {
    /// The distinct registry digests the started pods run, with their pods.
    pub fn digests(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (pod, running) in &self.pods {
            if let Running::Digest { digest, .. } = running {
                out.entry(digest.clone()).or_default().push(pod.clone());
            }
        }
        out
    }

    /// Everything worth saying about this container, most serious first.
    pub fn observe(&self) -> Vec<Observation> {
        let mut out = Vec::new();
        let digests = self.digests();
        let spec_digest = reference::parse(&self.image)
            .ok()
            .and_then(|r| r.digest.map(|d| d.to_string()));
        if digests.len() > 1 {
            out.push(Observation::Drift(digests.clone()));
        } else if let Some(running) = digests.keys().next() {
            match &spec_digest {
                Some(pinned) if pinned != running => out.push(Observation::Mismatch {
                    running: running.clone(),
                }),
                Some(_) => out.push(Observation::Agrees),
                None => out.push(Observation::RunningDigest {
                    pinned: format!("{}@{running}", self.image),
                }),
            }
        }
        let pods = |f: fn(&Running) -> bool| -> Vec<String> {
            self.pods
                .iter()
                .filter(|(_, r)| f(r))
                .map(|(p, _)| p.clone())
                .collect()
        };
        let local = pods(|r| matches!(r, Running::Local(_)));
        if !local.is_empty() {
            out.push(Observation::Local(local));
        }
        let unknown = pods(|r| matches!(r, Running::Unknown(_)));
        if !unknown.is_empty() {
            out.push(Observation::Unknown(unknown));
        }
        out
    }
}

/// The containers of every workload in `docs` (Pods; other kinds are skipped), in a stable
/// order; `in_scope` says whether a namespace is checked.
pub fn containers(docs: &[Document], in_scope: impl Fn(&str) -> bool) -> Vec<Container> {
    let mut gathered = Gathered::default();
    gathered.add(docs, in_scope);
    gathered.finish()
}

/// Containers gathered batch by batch, so a 50,000-pod dump need not be held as documents
/// all at once (`live` reads it in batches of items).
#[derive(Default)]
pub struct Gathered {
    by_key: BTreeMap<(Owner, &'static str, String, String), Container>,
}

impl Gathered {
    /// The containers of the Pods among `docs`, added to those gathered so far.
    pub fn add(&mut self, docs: &[Document], in_scope: impl Fn(&str) -> bool) {
        add_containers(&mut self.by_key, docs, in_scope);
    }

    /// Every container gathered, in a stable order.
    pub fn finish(self) -> Vec<Container> {
        self.by_key.into_values().collect()
    }
}

fn add_containers(
    by_key: &mut BTreeMap<(Owner, &'static str, String, String), Container>,
    docs: &[Document],
    in_scope: impl Fn(&str) -> bool,
) {
    for doc in docs {
        let v = &doc.value;
        if v.get("kind").and_then(Value::as_str) != Some("Pod") {
            continue;
        }
        let namespace = str_at(v, "/metadata/namespace").unwrap_or("default");
        if !in_scope(namespace) {
            continue;
        }
        let pod = str_at(v, "/metadata/name")
            .unwrap_or("<unnamed>")
            .to_owned();
        let workload = owner(v, namespace, &pod);
        let lists = [
            ("initContainers", "initContainerStatuses"),
            ("containers", "containerStatuses"),
            ("ephemeralContainers", "ephemeralContainerStatuses"),
        ];
        for (list, statuses) in lists {
            let status = |name: &str| {
                v.pointer(&format!("/status/{statuses}"))
                    .and_then(Value::as_array)
                    .and_then(|s| {
                        s.iter()
                            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
                    })
            };
            for c in v
                .pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let image = c
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let running = match status(&name) {
                    Some(s) => match s.get("imageID").and_then(Value::as_str) {
                        Some(id) if !id.is_empty() => Running::parse(id),
                        _ => Running::Unknown(waiting_reason(s)),
                    },
                    None => Running::Unknown("no status yet".into()),
                };
                let key = (workload.clone(), list, name.clone(), image.clone());
                by_key
                    .entry(key)
                    .or_insert_with(|| Container {
                        workload: workload.clone(),
                        list,
                        name,
                        image,
                        pods: BTreeMap::new(),
                    })
                    .pods
                    .insert(pod.clone(), running);
            }
        }
        add_image_volumes(by_key, v, &workload, &pod);
    }
}

/// The image volumes of a Pod (`spec.volumes[].image.reference`) and what the kubelet mounted
/// for each: the `imageRef` (KEP-5365) in the volume's mount status,
/// `status.containerStatuses[].volumeMounts[].volumeStatus.image.imageRef` (of any container,
/// init or ephemeral one that mounts it), read like a container's `imageID`.
fn add_image_volumes(
    by_key: &mut BTreeMap<(Owner, &'static str, String, String), Container>,
    v: &Value,
    workload: &Owner,
    pod: &str,
) {
    let statuses: Vec<&Value> = [
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| v.pointer(&format!("/status/{k}")).and_then(Value::as_array))
    .flatten()
    .collect();
    for volume in v
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(reference) = volume.pointer("/image/reference").and_then(Value::as_str) else {
            continue;
        };
        let name = volume
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let image_ref = statuses.iter().find_map(|s| {
            s.get("volumeMounts")
                .and_then(Value::as_array)?
                .iter()
                .find(|m| m.get("name").and_then(Value::as_str) == Some(name.as_str()))?
                .pointer("/volumeStatus/image/imageRef")
                .and_then(Value::as_str)
        });
        let running = match image_ref {
            Some(id) if !id.is_empty() => Running::parse(id),
            _ => Running::Unknown(
                "no imageRef in the pod's status for this volume (the kubelet reports it from Kubernetes 1.35, KEP-5365)".into(),
            ),
        };
        let key = (
            workload.clone(),
            "volumes",
            name.clone(),
            reference.to_owned(),
        );
        by_key
            .entry(key)
            .or_insert_with(|| Container {
                workload: workload.clone(),
                list: "volumes",
                name,
                image: reference.to_owned(),
                pods: BTreeMap::new(),
            })
            .pods
            .insert(pod.to_owned(), running);
    }
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn waiting_reason(status: &Value) -> String {
    status
        .pointer("/state/waiting/reason")
        .and_then(Value::as_str)
        .map_or_else(
            || "not started".to_owned(),
            |r| format!("not started ({r})"),
        )
}

/// The workload a Pod belongs to: its controller (`ownerReferences` with `controller: true`,
/// else the first), a ReplicaSet followed to its Deployment through the `pod-template-hash`
/// label, a Job named `<cronjob>-<scheduled minute>` to its CronJob; a bare Pod is its own.
fn owner(pod: &Value, namespace: &str, pod_name: &str) -> Owner {
    let refs = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let controller = refs
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| refs.first());
    let workload = |kind: &str, name: &str| Owner {
        namespace: namespace.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
    };
    let Some(r) = controller else {
        return workload("Pod", pod_name);
    };
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    match kind {
        "ReplicaSet" => {
            let hash = str_at(pod, "/metadata/labels/pod-template-hash");
            match hash.and_then(|h| name.strip_suffix(&format!("-{h}"))) {
                Some(deployment) => workload("Deployment", deployment),
                None => workload("ReplicaSet", name),
            }
        }
        "Job" => match name.rsplit_once('-') {
            Some((cronjob, minute))
                if minute.len() >= 8 && minute.bytes().all(|b| b.is_ascii_digit()) =>
            {
                workload("CronJob", cronjob)
            }
            _ => workload("Job", name),
        },
        "" => workload("Pod", pod_name),
        other => workload(other, name),
    }
}

/// For `pin --from-live`: each image as the specs write it (tag-only), the running digests
/// across every workload that runs it, with the workloads.
pub fn running_digests(
    containers: &[Container],
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for c in containers {
        for digest in c.digests().keys() {
            out.entry(c.image.clone())
                .or_default()
                .entry(digest.clone())
                .or_default()
                .insert(format!("{} container {:?}", c.workload, c.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_image_id_form_is_read() {
        let d = image_digest_testkit::policy::TEST_DIGEST;
        let digest = |repository: &str| Running::Digest {
            repository: repository.to_owned(),
            digest: d.to_owned(),
        };
        for (id, want) in [
            (
                format!("docker.io/library/nginx@{d}"),
                digest("docker.io/library/nginx"),
            ),
            (format!("docker-pullable://nginx@{d}"), digest("nginx")),
            (d.to_owned(), Running::Local(d.to_owned())),
            (format!("docker://{d}"), Running::Local(d.to_owned())),
            (String::new(), Running::Unknown("no imageID yet".into())),
        ] {
            assert_eq!(Running::parse(&id), want, "{id}");
        }
    }
}
