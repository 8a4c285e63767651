//! Every kind the policy reads: the built-in workloads (`Shape`), and custom resources
//! whose images the policy checks: the built-in presets for the projects
//! people run most, and the kinds users describe in `customKinds`. Each kind names where its
//! pod specs are (their three container lists are read as a Pod's) and where single image
//! fields are (a Tekton step, an Argo script).
//!
//! Settings are read on every request (policy-server makes a fresh instance per request), so
//! a preset stays a static table of path strings until a request of its kind comes: only then
//! are its few paths parsed. A user's `customKinds` are parsed when the settings are read,
//! since that is where their mistakes must be reported.

use crate::json::type_name;
use crate::path::{FieldPath, PathError};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The kinds that carry a pod spec, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Pod: `spec`.
    Pod,
    /// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController:
    /// `spec.template.spec`.
    Template,
    /// CronJob: `spec.jobTemplate.spec.template.spec`.
    CronJob,
}

impl Shape {
    /// The shape of a `group`/`kind`, or `None` for kinds that are not this policy's business.
    /// The group is checked so that a custom resource that happens to be called `Deployment`
    /// is not read as one.
    pub fn of(group: &str, kind: &str) -> Option<Shape> {
        match (group, kind) {
            ("", "Pod") => Some(Shape::Pod),
            ("", "ReplicationController") => Some(Shape::Template),
            ("apps" | "extensions", "Deployment" | "ReplicaSet" | "DaemonSet") => {
                Some(Shape::Template)
            }
            ("apps", "StatefulSet") | ("batch", "Job") => Some(Shape::Template),
            ("batch", "CronJob") => Some(Shape::CronJob),
            _ => None,
        }
    }

    /// The pod spec as a JSON pointer, for rewriting images in place.
    pub fn pod_spec_pointer(self) -> &'static str {
        match self {
            Shape::Pod => "/spec",
            Shape::Template => "/spec/template/spec",
            Shape::CronJob => "/spec/jobTemplate/spec/template/spec",
        }
    }

    /// The pod spec as a field path, for messages.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            Shape::Pod => "spec",
            Shape::Template => "spec.template.spec",
            Shape::CronJob => "spec.jobTemplate.spec.template.spec",
        }
    }
}

/// What to read an object as: a built-in shape, or a custom kind's paths.
#[derive(Debug, Clone)]
pub enum Target<'s> {
    /// A built-in workload kind.
    Builtin(Shape),
    /// A preset's kind (made from its line when a request of it comes) or the settings'
    /// custom kind.
    Custom(Cow<'s, CustomKind>),
}

impl<'s> Target<'s> {
    /// What to read a `group`/`kind` as: a built-in shape first, then the settings'
    /// `customKinds`, then the presets turned on; `None` for kinds not checked.
    pub fn for_kind(group: &str, kind: &str, kinds: &'s Kinds) -> Option<Target<'s>> {
        if let Some(shape) = Shape::of(group, kind) {
            return Some(Target::Builtin(shape));
        }
        kinds.find(group, kind).map(Target::Custom)
    }
}

/// The kinds the settings check beyond the built-in ones. Settings are read on every request
/// (a fresh instance each), so a preset turned on is kept as its table text until a request
/// of a kind that is not built in comes: a Deployment with all twelve presets on pays for
/// twelve name comparisons, not for forty kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kinds {
    /// `customKinds`, parsed (with their `exemptPaths`).
    pub custom: Vec<CustomKind>,
    /// The table text of each preset turned on.
    pub presets: Vec<&'static str>,
    /// `exemptPaths` entries for presets' kinds: (API group if given, kind, path, reason).
    pub exempt: Vec<(Option<String>, String, FieldPath, String)>,
}

impl Kinds {
    /// The custom kind `group`/`kind`: a `customKinds` entry, else a preset's.
    pub fn find(&self, group: &str, kind: &str) -> Option<Cow<'_, CustomKind>> {
        if let Some(k) = self.custom.iter().find(|k| k.is(group, kind)) {
            return Some(Cow::Borrowed(k));
        }
        let (group, kind, paths) = self
            .presets
            .iter()
            .flat_map(|body| body.lines())
            .find_map(|line| preset_line(line, group, kind))?;
        let exempt = self
            .exempt
            .iter()
            .filter(|(g, k, ..)| k == kind && g.as_deref().is_none_or(|g| g == group))
            .map(|(_, _, path, reason)| (path.clone(), reason.clone()))
            .collect();
        Some(Cow::Owned(CustomKind {
            api_group: Cow::Borrowed(group),
            kind: Cow::Borrowed(kind),
            paths: KindPaths::Preset(paths),
            exempt,
        }))
    }

    /// Whether a preset turned on reads `kind` (of `group`, when given).
    fn preset_reads(&self, group: Option<&str>, kind: &str) -> bool {
        self.presets.iter().flat_map(|b| b.lines()).any(|line| {
            let mut parts = line.splitn(3, ' ');
            let (Some(g), Some(kinds)) = (parts.next(), parts.next()) else {
                return false;
            };
            group.is_none_or(|want| want == g) && kinds.split(',').any(|k| k == kind)
        })
    }
}

/// A preset line's group, kind and paths when it is the line of `group`/`kind`.
fn preset_line(
    line: &'static str,
    group: &str,
    kind: &str,
) -> Option<(&'static str, &'static str, &'static str)> {
    let mut parts = line.splitn(3, ' ');
    let (g, kinds) = (parts.next()?, parts.next()?);
    if g != group {
        return None;
    }
    let k = kinds.split(',').find(|k| *k == kind)?;
    Some((g, k, parts.next().unwrap_or("")))
}

/// A kind the policy checks beyond the built-in workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomKind {
    /// The kind's API group (`argoproj.io`).
    pub api_group: Cow<'static, str>,
    /// The kind (`Rollout`).
    pub kind: Cow<'static, str>,
    /// Where its images are.
    pub paths: KindPaths,
    /// The settings' `exemptPaths` for this kind: a path, and the reason its images are
    /// judged for validity only.
    pub exempt: Vec<(FieldPath, String)>,
}

impl CustomKind {
    /// Whether this is the kind `group`/`kind`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.api_group == group && self.kind == kind
    }
}

/// A kind's paths: a preset's, still as written in [`PRESETS`], or a user's, parsed and
/// validated when the settings were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindPaths {
    /// A preset line's paths (`image=spec.image patch=spec`), parsed when a request of its
    /// kind comes.
    Preset(&'static str),
    /// A user's paths.
    Parsed(Box<Parsed>),
}

/// Where one kind's images are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Pod specs: their containers, init containers, ephemeral containers and image volumes.
    pub pod_specs: Vec<FieldPath>,
    /// Pod specs an operator completes (`podSpecPatches`): a container without `image` is a
    /// patch merged by name into the operator's own container, not a missing image.
    pub patches: Vec<FieldPath>,
    /// Single image fields.
    pub images: Vec<FieldPath>,
    /// Kubernetes `Volume` objects outside a pod spec (Argo's, Tekton's `volumes[*]`).
    pub volumes: Vec<FieldPath>,
    /// Images an operator composes from parts (`hub` + `tag`).
    pub composed: Vec<Composed>,
    /// Image fields an operator fills with its own default image when they are absent (and
    /// their block is there), unless one of the alternatives is set (CloudNativePG's
    /// `imageCatalogRef`): the default is a tag without a digest, which this policy rejects
    /// under `requireDigest` when the operator creates its workload, so it is said here first.
    pub defaults: Vec<(FieldPath, Vec<FieldPath>)>,
}

/// An image written in parts: at every block `path` reaches, the `registry`, `repository`,
/// `tag` and `digest` fields under it, composed as the values reader composes a chart's
/// block: `registry/repository:tag@digest`, each part left out when empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The blocks (`spec`, `spec.components[*]`).
    pub path: FieldPath,
    /// Each part, a plain path under the block (keys and indexes only, so `pin` knows where
    /// a missing digest goes).
    pub registry: FieldPath,
    /// See [`Composed::registry`].
    pub repository: FieldPath,
    /// See [`Composed::registry`].
    pub tag: FieldPath,
    /// See [`Composed::registry`].
    pub digest: FieldPath,
}

impl KindPaths {
    /// The paths, parsed. A preset's paths are valid by construction (a test parses them all).
    pub fn resolve(&self) -> Cow<'_, Parsed> {
        match self {
            KindPaths::Preset(line) => {
                let mut out = Parsed::default();
                for token in line.split(' ') {
                    let Some((what, text)) = token.split_once('=') else {
                        continue;
                    };
                    let Ok(path) = FieldPath::parse(text.split('|').next().unwrap_or(text)) else {
                        continue;
                    };
                    match what {
                        "default" => {
                            let alternatives = text.split('|').skip(1);
                            let alternatives =
                                alternatives.filter_map(|t| FieldPath::parse(t).ok());
                            out.defaults.push((path, alternatives.collect()));
                        }
                        "pod" => out.pod_specs.push(path),
                        "patch" => out.patches.push(path),
                        "image" => out.images.push(path),
                        "volume" => out.volumes.push(path),
                        _ => {}
                    }
                }
                Cow::Owned(out)
            }
            KindPaths::Parsed(parsed) => Cow::Borrowed(parsed),
        }
    }
}

/// The presets, as data: the name, then one line per kind or kinds of the same paths,
/// `group Kind[,Kind…] what=path…`, where `what` is `pod` (a pod spec), `patch` (a pod spec an
/// operator completes, whose containers without `image` are patches), `image` (one image
/// field), `volume` (a Kubernetes `Volume`) or `default` (an image field the operator fills
/// with its own default, a bare tag, when it is absent and its block is there; `a|b` when
/// setting `b` instead also names the image). A table of text, not of Rust slices: the
/// module carries the paths once, without a pointer and a length for each (the slices cost
/// about 3 KB of the 400 KB budget), and a request parses only its own kind's line.
///
/// Why each path (docs/contract.md §3 lists them for users):
/// - argo-rollouts: a Rollout with `workloadRef` has no template; an analysis with a `job`
///   provider runs a Job, an Experiment a ReplicaSet per template.
/// - argo-workflows: images in every template (`..templates`, a CronWorkflow's too) and in
///   every template a step or DAG task carries `inline` (`..inline`); `..volumes` are
///   Kubernetes `Volume`s passed to the pods.
/// - tekton-pipelines: embedded task specs at any depth (`..taskSpec`: pipelines embed
///   pipelines); a StepAction is the image a step runs by `ref`.
/// - prometheus-operator: `spec.image` (and a Prometheus's Thanos sidecar `spec.thanos.image`);
///   `spec.containers`/`spec.initContainers` are merged by name into the operator's containers
///   (a patch), and `spec.volumes` are Kubernetes `Volume`s. The deprecated `baseImage`,
///   `tag`, `sha` and `version` are not read (docs/contract.md says so).
/// - cloudnative-pg: `spec.imageName`, extension image volumes
///   (`spec.postgresql.extensions[*].image.reference`, 1.27+), the catalogs' images, and a
///   Pooler's pod template, which the operator completes with its pgbouncer container.
/// - opentelemetry-operator: the collector's, target allocator's and OpAMP bridge's
///   `spec.image`, a collector's `initContainers` (a pod spec's list) and
///   `additionalContainers`, and each instrumentation language's image.
/// - eck: every kind's `spec.image`; pod templates the operator completes.
/// - crossplane: a package (`spec.package`) is an OCI image; a DeploymentRuntimeConfig's pod
///   template patches the package's runtime.
/// - kubevirt: a container disk and a kernel boot container are images the node pulls.
/// - strimzi: the `image` overrides of every component.
pub const PRESETS: [(&str, &str); 12] = [
    (
        "argo-rollouts",
        "\
argoproj.io Rollout pod=spec.template.spec
argoproj.io AnalysisTemplate,ClusterAnalysisTemplate,AnalysisRun pod=spec.metrics[*].provider.job.spec.template.spec
argoproj.io Experiment pod=spec.templates[*].template.spec
",
    ),
    (
        "argo-workflows",
        "\
argoproj.io Workflow,WorkflowTemplate,ClusterWorkflowTemplate,CronWorkflow \
image=spec..templates[*].container.image image=spec..templates[*].script.image \
image=spec..templates[*].initContainers[*].image image=spec..templates[*].sidecars[*].image \
image=spec..templates[*].containerSet.containers[*].image \
image=spec..templates[*]..inline.container.image image=spec..templates[*]..inline.script.image \
image=spec..templates[*]..inline.initContainers[*].image image=spec..templates[*]..inline.sidecars[*].image \
image=spec..templates[*]..inline.containerSet.containers[*].image volume=spec..volumes[*]
",
    ),
    (
        "knative-serving",
        "\
serving.knative.dev Service,Configuration pod=spec.template.spec
serving.knative.dev Revision pod=spec
",
    ),
    (
        "tekton-pipelines",
        "\
tekton.dev Task,ClusterTask image=spec.steps[*].image image=spec.sidecars[*].image image=spec.stepTemplate.image volume=spec.volumes[*]
tekton.dev Pipeline image=spec..taskSpec.steps[*].image image=spec..taskSpec.sidecars[*].image \
image=spec..taskSpec.stepTemplate.image volume=spec..taskSpec.volumes[*]
tekton.dev PipelineRun image=spec..taskSpec.steps[*].image image=spec..taskSpec.sidecars[*].image \
image=spec..taskSpec.stepTemplate.image volume=spec..taskSpec.volumes[*] volume=spec.taskRunTemplate.podTemplate.volumes[*]
tekton.dev TaskRun image=spec.taskSpec.steps[*].image image=spec.taskSpec.sidecars[*].image \
image=spec.taskSpec.stepTemplate.image volume=spec.taskSpec.volumes[*] volume=spec.podTemplate.volumes[*]
tekton.dev StepAction image=spec.image
",
    ),
    (
        "keda",
        "\
keda.sh ScaledJob pod=spec.jobTargetRef.template.spec
",
    ),
    (
        "prometheus-operator",
        "\
monitoring.coreos.com Prometheus image=spec.image image=spec.thanos.image patch=spec \
default=spec.image default=spec.thanos.image
monitoring.coreos.com PrometheusAgent,Alertmanager,ThanosRuler image=spec.image patch=spec default=spec.image
",
    ),
    (
        "cloudnative-pg",
        "\
postgresql.cnpg.io Cluster image=spec.imageName image=spec.postgresql.extensions[*].image.reference \
default=spec.imageName|spec.imageCatalogRef
postgresql.cnpg.io ImageCatalog,ClusterImageCatalog image=spec.images[*].image
postgresql.cnpg.io Pooler patch=spec.template.spec
",
    ),
    (
        "opentelemetry-operator",
        "\
opentelemetry.io OpenTelemetryCollector image=spec.image image=spec.targetAllocator.image \
image=spec.additionalContainers[*].image pod=spec default=spec.image
opentelemetry.io TargetAllocator,OpAMPBridge image=spec.image default=spec.image
opentelemetry.io Instrumentation image=spec.java.image image=spec.java.extensions[*].image \
image=spec.nodejs.image image=spec.python.image image=spec.dotnet.image image=spec.go.image \
image=spec.apacheHttpd.image image=spec.nginx.image
",
    ),
    (
        "eck",
        "\
elasticsearch.k8s.elastic.co Elasticsearch image=spec.image default=spec.image patch=spec.nodeSets[*].podTemplate.spec
kibana.k8s.elastic.co Kibana image=spec.image default=spec.image patch=spec.podTemplate.spec
apm.k8s.elastic.co ApmServer image=spec.image default=spec.image patch=spec.podTemplate.spec
enterprisesearch.k8s.elastic.co EnterpriseSearch image=spec.image default=spec.image patch=spec.podTemplate.spec
maps.k8s.elastic.co ElasticMapsServer image=spec.image default=spec.image patch=spec.podTemplate.spec
logstash.k8s.elastic.co Logstash image=spec.image default=spec.image patch=spec.podTemplate.spec
agent.k8s.elastic.co Agent image=spec.image default=spec.image patch=spec.deployment.podTemplate.spec \
patch=spec.daemonSet.podTemplate.spec patch=spec.statefulSet.podTemplate.spec
beat.k8s.elastic.co Beat image=spec.image default=spec.image patch=spec.deployment.podTemplate.spec patch=spec.daemonSet.podTemplate.spec
",
    ),
    (
        "crossplane",
        "\
pkg.crossplane.io Provider,Function,Configuration image=spec.package
pkg.crossplane.io DeploymentRuntimeConfig patch=spec.deploymentTemplate.spec.template.spec
",
    ),
    (
        "kubevirt",
        "\
kubevirt.io VirtualMachineInstance image=spec.volumes[*].containerDisk.image \
image=spec.domain.firmware.kernelBoot.container.image
kubevirt.io VirtualMachine,VirtualMachineInstanceReplicaSet image=spec.template.spec.volumes[*].containerDisk.image \
image=spec.template.spec.domain.firmware.kernelBoot.container.image
pool.kubevirt.io VirtualMachinePool image=spec.virtualMachineTemplate.spec.template.spec.volumes[*].containerDisk.image \
image=spec.virtualMachineTemplate.spec.template.spec.domain.firmware.kernelBoot.container.image
",
    ),
    (
        "strimzi",
        "\
kafka.strimzi.io Kafka image=spec.kafka.image image=spec.zookeeper.image image=spec.entityOperator.topicOperator.image \
image=spec.entityOperator.userOperator.image image=spec.entityOperator.tlsSidecar.image \
image=spec.cruiseControl.image image=spec.kafkaExporter.image default=spec.kafka.image default=spec.zookeeper.image \
default=spec.entityOperator.topicOperator.image default=spec.entityOperator.userOperator.image \
default=spec.cruiseControl.image default=spec.kafkaExporter.image
kafka.strimzi.io KafkaConnect,KafkaMirrorMaker2,KafkaMirrorMaker,KafkaBridge image=spec.image default=spec.image
",
    ),
];

/// The table text of preset `name`, or `None` for a name that is not a preset.
pub fn preset_body(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| *body)
}

/// The preset's kinds, or `None` for a name that is not a preset.
pub fn preset(name: &str) -> Option<Vec<CustomKind>> {
    let mut out = Vec::new();
    for line in preset_body(name)?.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(group), Some(kinds)) = (parts.next(), parts.next()) else {
            continue;
        };
        let paths = parts.next().unwrap_or("");
        out.extend(kinds.split(',').map(|kind| CustomKind {
            api_group: Cow::Borrowed(group),
            kind: Cow::Borrowed(kind),
            paths: KindPaths::Preset(paths),
            exempt: Vec::new(),
        }));
    }
    Some(out)
}

/// The presets' names, in the table's order.
pub fn preset_list() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(name, _)| *name)
}

/// The presets' names, for messages.
pub fn preset_names() -> String {
    preset_list().collect::<Vec<_>>().join(", ")
}

const KIND_KEYS: [&str; 7] = [
    "apiGroup",
    "kind",
    "podSpecs",
    "podSpecPatches",
    "images",
    "volumes",
    "composed",
];

/// Reads one `customKinds` entry; every problem is reported with the entry's index.
pub fn custom_kind(i: usize, v: &Value, problems: &mut Vec<String>) -> Option<CustomKind> {
    let at = format!("customKinds[{i}]");
    let Value::Object(map) = v else {
        problems.push(format!(
            "{at} must be an object with apiGroup, kind and podSpecs, images or volumes, found {}",
            type_name(v)
        ));
        return None;
    };
    let before = problems.len();
    unknown_keys(map, &KIND_KEYS, &at, problems);
    let api_group = string(map, "apiGroup", &at, true, problems);
    let kind = string(map, "kind", &at, false, problems);
    let parsed = Parsed {
        pod_specs: paths(map, "podSpecs", &at, problems),
        patches: paths(map, "podSpecPatches", &at, problems),
        images: paths(map, "images", &at, problems),
        volumes: paths(map, "volumes", &at, problems),
        composed: composed_list(map, &at, problems),
        defaults: Vec::new(),
    };
    let empty = parsed.pod_specs.is_empty()
        && parsed.patches.is_empty()
        && parsed.images.is_empty()
        && parsed.volumes.is_empty()
        && parsed.composed.is_empty();
    if empty && problems.len() == before {
        problems.push(format!(
            "{at}: give podSpecs, podSpecPatches, images, volumes or composed (any of them): where the images are"
        ));
    }
    if Shape::of(&api_group, &kind).is_some() {
        problems.push(format!(
            "{at}: {api_group}/{kind} is a built-in kind, already checked"
        ));
    }
    (problems.len() == before).then_some(CustomKind {
        api_group: Cow::Owned(api_group),
        kind: Cow::Owned(kind),
        paths: KindPaths::Parsed(Box::new(parsed)),
        exempt: Vec::new(),
    })
}

const COMPOSED_KEYS: [&str; 5] = ["path", "registry", "repository", "tag", "digest"];

/// `composed`: each entry a block path and its parts, each part defaulting to its own name.
fn composed_list(map: &Map<String, Value>, at: &str, problems: &mut Vec<String>) -> Vec<Composed> {
    let mut out = Vec::new();
    let items = match map.get("composed") {
        None | Some(Value::Null) => return out,
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.push(format!(
                "{at}.composed must be a list, found {}",
                type_name(other)
            ));
            return out;
        }
    };
    for (j, item) in items.iter().enumerate() {
        let here = format!("{at}.composed[{j}]");
        let Value::Object(entry) = item else {
            problems.push(format!(
                "{here} must be an object {{path, repository, tag, digest, registry}}, found {}",
                type_name(item)
            ));
            continue;
        };
        let before = problems.len();
        unknown_keys(entry, &COMPOSED_KEYS, &here, problems);
        let path = one_path(entry, "path", &here, false, problems);
        let mut parts = Vec::with_capacity(4);
        for key in ["registry", "repository", "tag", "digest"] {
            parts.push(one_path(entry, key, &here, true, problems));
        }
        if let (Ok([registry, repository, tag, digest]), true) =
            (<[FieldPath; 4]>::try_from(parts), problems.len() == before)
        {
            out.push(Composed {
                path,
                registry,
                repository,
                tag,
                digest,
            });
        }
    }
    out
}

/// The path under `key` of an entry; a `part` of a composed image defaults to its own name
/// and names one field (keys and indexes).
#[inline(never)]
fn one_path(
    entry: &Map<String, Value>,
    key: &str,
    at: &str,
    part: bool,
    problems: &mut Vec<String>,
) -> FieldPath {
    let text = match entry.get(key) {
        None if part => key,
        Some(Value::String(text)) => text.as_str(),
        None => {
            problems.push(format!("{at}.{key} is missing"));
            return FieldPath::key(key);
        }
        Some(other) => {
            problems.push(format!(
                "{at}.{key} must be a path string, found {}",
                type_name(other)
            ));
            return FieldPath::key(key);
        }
    };
    match FieldPath::parse(text) {
        Ok(p) if !part || p.is_plain() => p,
        Ok(_) => {
            problems.push(format!(
                "{at}.{key} `{text}`: a part names one field under the block (no `[*]` or `..`)"
            ));
            FieldPath::key(key)
        }
        Err(e) => {
            problems.push(format!("{at}.{key} `{text}`: {e}"));
            FieldPath::key(key)
        }
    }
}

fn unknown_keys(map: &Map<String, Value>, known: &[&str], at: &str, problems: &mut Vec<String>) {
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        problems.push(format!(
            "{at}: unknown key `{key}`; known keys: {}",
            known.join(", ")
        ));
    }
}

const EXEMPT_PATH_KEYS: [&str; 4] = ["apiGroup", "kind", "path", "reason"];

/// One `exemptPaths` entry, `{kind, path, reason}` (and `apiGroup` where two kinds share a
/// name), attached to the custom kinds it names, so a request of another kind never reads it.
/// A field whose schema cannot hold a digest is exempt only with a reason, and only for kinds
/// the settings check: an entry no kind takes is a mistake, not a no-op.
pub fn exempt_path(i: usize, v: &Value, kinds: &mut Kinds, problems: &mut Vec<String>) {
    let at = format!("exemptPaths[{i}]");
    let Value::Object(map) = v else {
        problems.push(format!(
            "{at} must be an object {{kind, path, reason}}, found {}",
            type_name(v)
        ));
        return;
    };
    let before = problems.len();
    unknown_keys(map, &EXEMPT_PATH_KEYS, &at, problems);
    let group = map.get("apiGroup").and_then(Value::as_str);
    let kind = string(map, "kind", &at, false, problems);
    let path = one_path(map, "path", &at, false, problems);
    let reason = string(map, "reason", &at, false, problems);
    if problems.len() > before {
        return;
    }
    let mut taken = false;
    for k in kinds
        .custom
        .iter_mut()
        .filter(|k| k.kind == kind && group.is_none_or(|g| k.api_group == g))
    {
        k.exempt.push((path.clone(), reason.clone()));
        taken = true;
    }
    if kinds.preset_reads(group, &kind) {
        kinds
            .exempt
            .push((group.map(str::to_owned), kind.clone(), path, reason));
        taken = true;
    }
    if !taken {
        problems.push(format!(
            "{at}: no preset or customKinds entry of these settings reads kind `{kind}` (exemptPaths apply to custom kinds; a built-in kind's image can always hold a digest)"
        ));
    }
}

fn string(
    map: &Map<String, Value>,
    key: &str,
    at: &str,
    may_be_empty: bool,
    problems: &mut Vec<String>,
) -> String {
    match map.get(key) {
        Some(Value::String(s)) if may_be_empty || !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            problems.push(format!("{at}.{key} is empty"));
            String::new()
        }
        None => {
            problems.push(format!("{at}.{key} is missing"));
            String::new()
        }
        Some(other) => {
            problems.push(format!(
                "{at}.{key} must be a string, found {}",
                type_name(other)
            ));
            String::new()
        }
    }
}

fn paths(
    map: &Map<String, Value>,
    key: &str,
    at: &str,
    problems: &mut Vec<String>,
) -> Vec<FieldPath> {
    let items = match map.get(key) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.push(format!(
                "{at}.{key} must be a list of paths, found {}",
                type_name(other)
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (j, item) in items.iter().enumerate() {
        match item.as_str().map(FieldPath::parse) {
            Some(Ok(p)) => out.push(p),
            Some(Err(e)) => problems.push(path_problem(at, key, j, item, &e)),
            None => problems.push(format!(
                "{at}.{key}[{j}] must be a path string, found {}",
                type_name(item)
            )),
        }
    }
    out
}

fn path_problem(at: &str, key: &str, j: usize, item: &Value, e: &PathError) -> String {
    format!(
        "{at}.{key}[{j}] `{}`: {e} (paths look like `spec.template.spec` or `spec.steps[*].image`)",
        item.as_str().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_preset_parses_completely() {
        let names: Vec<&str> = preset_list().collect();
        assert_eq!(names.len(), 12, "{names:?}");
        for name in names {
            let kinds = preset(name).expect("a preset");
            assert!(!kinds.is_empty(), "{name}");
            for k in &kinds {
                let KindPaths::Preset(line) = k.paths else {
                    panic!("{name}: a preset's paths are its line");
                };
                let tokens: Vec<&str> = line.split(' ').collect();
                let resolved = k.paths.resolve();
                let count = resolved.pod_specs.len()
                    + resolved.patches.len()
                    + resolved.images.len()
                    + resolved.volumes.len()
                    + resolved.defaults.len();
                for (path, alternatives) in &resolved.defaults {
                    assert!(path.is_plain(), "{name} {}: a default is one field", k.kind);
                    assert!(alternatives.iter().all(FieldPath::is_plain));
                }
                assert_eq!(count, tokens.len(), "{name} {}: {line}", k.kind);
                assert!(Shape::of(&k.api_group, &k.kind).is_none(), "{}", k.kind);
            }
        }
        assert!(preset("argo").is_none());
        assert!(preset("[keda]").is_none());
    }

    #[test]
    fn custom_kinds_are_validated_entry_by_entry() {
        let mut problems = Vec::new();
        let ok = custom_kind(
            0,
            &json!({"apiGroup": "example.com", "kind": "Job2", "images": ["spec.runner.image"]}),
            &mut problems,
        );
        assert!(ok.is_some() && problems.is_empty(), "{problems:?}");
        let volumes_only = custom_kind(
            1,
            &json!({"apiGroup": "example.com", "kind": "Batch", "volumes": ["spec.volumes[*]"]}),
            &mut problems,
        );
        assert!(
            volumes_only.is_some_and(|k| k.paths.resolve().volumes.len() == 1)
                && problems.is_empty(),
            "{problems:?}"
        );
        let cases = [
            (json!("x"), "customKinds[0] must be an object"),
            (
                json!({"apiGroup": "a", "kind": "K"}),
                "give podSpecs, podSpecPatches, images, volumes or composed",
            ),
            (
                json!({"apiGroup": "a", "images": ["x"]}),
                "customKinds[0].kind is missing",
            ),
            (
                json!({"apiGroup": "a", "kind": "K", "images": ["spec...image"]}),
                "customKinds[0].images[0] `spec...image`: a key between dots is empty",
            ),
            (
                json!({"apiGroup": "a", "kind": "K", "podSpec": ["spec"]}),
                "unknown key `podSpec`",
            ),
            (
                json!({"apiGroup": "apps", "kind": "Deployment", "podSpecs": ["spec"]}),
                "apps/Deployment is a built-in kind",
            ),
            (
                json!({"apiGroup": "a", "kind": "K", "composed": [{"tag": "version"}]}),
                "customKinds[0].composed[0].path is missing",
            ),
            (
                json!({"apiGroup": "a", "kind": "K", "composed": [{"path": "spec", "tag": "tags[*]"}]}),
                "customKinds[0].composed[0].tag `tags[*]`: a part names one field",
            ),
            (
                json!({"apiGroup": "a", "kind": "K", "composed": [{"path": "spec", "hub": "x"}]}),
                "customKinds[0].composed[0]: unknown key `hub`",
            ),
            (
                json!({"apiGroup": "a", "kind": "K", "images": ["metadata.annotations[\"a/b"]}),
                "a `[` is not closed",
            ),
        ];
        for (v, want) in cases {
            let mut problems = Vec::new();
            assert!(custom_kind(0, &v, &mut problems).is_none(), "{v}");
            assert!(
                problems.iter().any(|p| p.contains(want)),
                "{v}: {problems:?}"
            );
        }
    }
}
