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
#[derive(Debug, Clone, Copy)]
pub enum Target<'s> {
    /// A built-in workload kind.
    Builtin(Shape),
    /// A preset's or the settings' custom kind.
    Custom(&'s CustomKind),
}

impl<'s> Target<'s> {
    /// What to read a `group`/`kind` as: a built-in shape first, then a custom kind of
    /// `custom` (the settings' presets and `customKinds`); `None` for kinds not checked.
    pub fn for_kind(group: &str, kind: &str, custom: &'s [CustomKind]) -> Option<Target<'s>> {
        if let Some(shape) = Shape::of(group, kind) {
            return Some(Target::Builtin(shape));
        }
        custom
            .iter()
            .find(|k| k.is(group, kind))
            .map(Target::Custom)
    }
}

/// A kind the policy checks beyond the built-in workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomKind {
    /// The kind's API group (`argoproj.io`).
    pub api_group: Cow<'static, str>,
    /// The kind (`Rollout`).
    pub kind: Cow<'static, str>,
    /// Paths to pod specs (their containers, init containers, ephemeral containers and image volumes are read).
    pub pod_specs: Paths,
    /// Paths to single image fields.
    pub images: Paths,
    /// Paths to Kubernetes `Volume` objects outside a pod spec (Argo's `spec.volumes[*]`,
    /// Tekton's `spec.volumes[*]`): their image volumes are images too.
    pub volumes: Paths,
}

impl CustomKind {
    /// Whether this is the kind `group`/`kind`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.api_group == group && self.kind == kind
    }
}

/// A kind's paths: a preset's, still as written, or a user's, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paths {
    /// A preset's paths, parsed when a request of its kind comes.
    Preset(&'static [&'static str]),
    /// A user's paths, parsed when the settings were read.
    Parsed(Vec<FieldPath>),
}

impl Paths {
    /// The paths, parsed. A preset's paths are valid by construction (a test parses them all).
    pub fn resolve(&self) -> Cow<'_, [FieldPath]> {
        match self {
            Paths::Preset(texts) => Cow::Owned(
                texts
                    .iter()
                    .filter_map(|p| FieldPath::parse(p).ok())
                    .collect(),
            ),
            Paths::Parsed(paths) => Cow::Borrowed(paths),
        }
    }
}

/// One preset kind: group, kind, pod spec paths, image paths, volume paths.
type PresetKind = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// Argo Workflows' `spec.volumes`, each template's `volumes` and an inline template's are
/// Kubernetes `Volume`s, passed to the pods the workflow runs. `..volumes` finds them all, in a
/// Workflow's spec and in a CronWorkflow's `workflowSpec` alike.
const ARGO_VOLUMES: &[&str] = &["spec..volumes[*]"];
/// Tekton's `TaskSpec.volumes` and its pod template's `volumes` are Kubernetes `Volume`s.
/// Embedded task specs are found at any depth (`..taskSpec`): a Pipeline's task can embed a
/// whole Pipeline (`pipelineSpec`, pipelines in pipelines), whose tasks embed tasks, and so on.
const TEKTON_TASK_VOLUMES: &[&str] = &["spec.volumes[*]"];
const TEKTON_PIPELINE_VOLUMES: &[&str] = &["spec..taskSpec.volumes[*]"];
const TEKTON_PIPELINERUN_VOLUMES: &[&str] = &[
    "spec..taskSpec.volumes[*]",
    "spec.taskRunTemplate.podTemplate.volumes[*]",
];
const TEKTON_TASKRUN_VOLUMES: &[&str] =
    &["spec.taskSpec.volumes[*]", "spec.podTemplate.volumes[*]"];

/// Where Argo Workflows keeps images: in every template (`spec.templates`, a CronWorkflow's
/// `spec.workflowSpec.templates`: `..templates`) and in every template a step or DAG task
/// carries `inline` since Argo Workflows 3.2 (`steps[i][j].inline`, `dag.tasks[i].inline`:
/// `..inline`; an inline template cannot inline again).
const ARGO_IMAGES: &[&str] = &[
    "spec..templates[*].container.image",
    "spec..templates[*].script.image",
    "spec..templates[*].initContainers[*].image",
    "spec..templates[*].sidecars[*].image",
    "spec..templates[*].containerSet.containers[*].image",
    "spec..templates[*]..inline.container.image",
    "spec..templates[*]..inline.script.image",
    "spec..templates[*]..inline.initContainers[*].image",
    "spec..templates[*]..inline.sidecars[*].image",
    "spec..templates[*]..inline.containerSet.containers[*].image",
];

const TEKTON_TASK_IMAGES: &[&str] = &[
    "spec.steps[*].image",
    "spec.sidecars[*].image",
    "spec.stepTemplate.image",
];

/// Every task spec embedded in a Pipeline or PipelineRun, at any depth (tasks, finally, and the
/// tasks of pipelines embedded in them).
const TEKTON_PIPELINE_IMAGES: &[&str] = &[
    "spec..taskSpec.steps[*].image",
    "spec..taskSpec.sidecars[*].image",
    "spec..taskSpec.stepTemplate.image",
];

const TEKTON_TASKRUN_IMAGES: &[&str] = &[
    "spec.taskSpec.steps[*].image",
    "spec.taskSpec.sidecars[*].image",
    "spec.taskSpec.stepTemplate.image",
];

/// The pod template of every metric's Job provider of an analysis.
const ANALYSIS_JOBS: &[&str] = &["spec.metrics[*].provider.job.spec.template.spec"];

/// The presets, by the name the `presets` setting takes.
pub const PRESETS: &[(&str, &[PresetKind])] = &[
    (
        "argo-rollouts",
        // A Rollout with `workloadRef` has no template: no images of its own. An analysis
        // with a `job` provider runs a Job (its pod template), and an Experiment runs a
        // ReplicaSet per template.
        &[
            ("argoproj.io", "Rollout", &["spec.template.spec"], &[], &[]),
            ("argoproj.io", "AnalysisTemplate", ANALYSIS_JOBS, &[], &[]),
            (
                "argoproj.io",
                "ClusterAnalysisTemplate",
                ANALYSIS_JOBS,
                &[],
                &[],
            ),
            ("argoproj.io", "AnalysisRun", ANALYSIS_JOBS, &[], &[]),
            (
                "argoproj.io",
                "Experiment",
                &["spec.templates[*].template.spec"],
                &[],
                &[],
            ),
        ],
    ),
    (
        "argo-workflows",
        &[
            ("argoproj.io", "Workflow", &[], ARGO_IMAGES, ARGO_VOLUMES),
            (
                "argoproj.io",
                "WorkflowTemplate",
                &[],
                ARGO_IMAGES,
                ARGO_VOLUMES,
            ),
            (
                "argoproj.io",
                "ClusterWorkflowTemplate",
                &[],
                ARGO_IMAGES,
                ARGO_VOLUMES,
            ),
            (
                "argoproj.io",
                "CronWorkflow",
                &[],
                ARGO_IMAGES,
                ARGO_VOLUMES,
            ),
        ],
    ),
    (
        "knative-serving",
        &[
            (
                "serving.knative.dev",
                "Service",
                &["spec.template.spec"],
                &[],
                &[],
            ),
            (
                "serving.knative.dev",
                "Configuration",
                &["spec.template.spec"],
                &[],
                &[],
            ),
            ("serving.knative.dev", "Revision", &["spec"], &[], &[]),
        ],
    ),
    (
        "tekton-pipelines",
        &[
            (
                "tekton.dev",
                "Task",
                &[],
                TEKTON_TASK_IMAGES,
                TEKTON_TASK_VOLUMES,
            ),
            (
                "tekton.dev",
                "ClusterTask",
                &[],
                TEKTON_TASK_IMAGES,
                TEKTON_TASK_VOLUMES,
            ),
            (
                "tekton.dev",
                "Pipeline",
                &[],
                TEKTON_PIPELINE_IMAGES,
                TEKTON_PIPELINE_VOLUMES,
            ),
            (
                "tekton.dev",
                "PipelineRun",
                &[],
                TEKTON_PIPELINE_IMAGES,
                TEKTON_PIPELINERUN_VOLUMES,
            ),
            (
                "tekton.dev",
                "TaskRun",
                &[],
                TEKTON_TASKRUN_IMAGES,
                TEKTON_TASKRUN_VOLUMES,
            ),
            // A StepAction is the image and script a step runs by `ref`: its own kind.
            ("tekton.dev", "StepAction", &[], &["spec.image"], &[]),
        ],
    ),
    (
        "keda",
        &[(
            "keda.sh",
            "ScaledJob",
            &["spec.jobTargetRef.template.spec"],
            &[],
            &[],
        )],
    ),
];

/// The preset's kinds, or `None` for a name that is not a preset.
pub fn preset(name: &str) -> Option<Vec<CustomKind>> {
    let (_, kinds) = PRESETS.iter().find(|(n, _)| *n == name)?;
    Some(
        kinds
            .iter()
            .map(|(group, kind, pod_specs, images, volumes)| CustomKind {
                api_group: Cow::Borrowed(group),
                kind: Cow::Borrowed(kind),
                pod_specs: Paths::Preset(pod_specs),
                images: Paths::Preset(images),
                volumes: Paths::Preset(volumes),
            })
            .collect(),
    )
}

/// The presets' names, for messages.
pub fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

const KIND_KEYS: [&str; 5] = ["apiGroup", "kind", "podSpecs", "images", "volumes"];

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
    for key in map.keys().filter(|k| !KIND_KEYS.contains(&k.as_str())) {
        problems.push(format!(
            "{at}: unknown key `{key}`; known keys: {}",
            KIND_KEYS.join(", ")
        ));
    }
    let api_group = string(map, "apiGroup", &at, true, problems);
    let kind = string(map, "kind", &at, false, problems);
    let pod_specs = paths(map, "podSpecs", &at, problems);
    let images = paths(map, "images", &at, problems);
    let volumes = paths(map, "volumes", &at, problems);
    if pod_specs.is_empty() && images.is_empty() && volumes.is_empty() && problems.len() == before {
        problems.push(format!(
            "{at}: give podSpecs, images or volumes (any of them): where the images are"
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
        pod_specs: Paths::Parsed(pod_specs),
        images: Paths::Parsed(images),
        volumes: Paths::Parsed(volumes),
    })
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
        for (name, kinds) in PRESETS {
            let parsed = preset(name).expect("a preset");
            assert_eq!(parsed.len(), kinds.len());
            for ((_, _, pod_specs, images, volumes), k) in kinds.iter().zip(&parsed) {
                assert_eq!(
                    k.pod_specs.resolve().len(),
                    pod_specs.len(),
                    "{name} {}",
                    k.kind
                );
                assert_eq!(k.images.resolve().len(), images.len(), "{name} {}", k.kind);
                assert_eq!(
                    k.volumes.resolve().len(),
                    volumes.len(),
                    "{name} {}",
                    k.kind
                );
            }
        }
        assert!(preset("argo").is_none());
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
            volumes_only.is_some_and(|k| k.volumes.resolve().len() == 1) && problems.is_empty(),
            "{problems:?}"
        );
        let cases = [
            (json!("x"), "customKinds[0] must be an object"),
            (
                json!({"apiGroup": "a", "kind": "K"}),
                "give podSpecs, images or volumes",
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
