//! Real CRDs from each project's published examples (`e2e-tests/upstream/`): every image the
//! kubelet would pull is found by the checker at its line and column, and `pin` pins them in
//! place against a real registry (issue 22). On main before the fix, the Argo inline templates
//! and Tekton's nested pipelines were "accepted" with exit 0 under `requireDigest`, and the
//! analyses, experiments and StepActions were skipped.

use crate::harness::{checker, findings, pin_stage, settings_file, workspace};
use serde_json::{Value, json};

fn settings() -> Value {
    json!({"requireDigest": true, "presets": ["argo-rollouts", "argo-workflows", "tekton-pipelines"]})
}

#[test]
fn every_upstream_image_is_found_at_its_line_and_column() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut c = checker();
    c.arg("--settings")
        .arg(settings_file(tmp.path(), &settings()))
        .args([
            "--namespace",
            "ci",
            "--output",
            "json",
            "e2e-tests/upstream",
        ]);
    let report: Value = serde_json::from_str(&c.assert_exit(1)).expect("JSON");
    let (found, _) = findings(&report);
    let want = [
        "argo-dag-inline.yaml:23:24 no-digest spec.templates[0].dag.tasks[0].inline.container.image",
        "argo-steps-inline.yaml:20:24 no-digest spec.templates[0].steps[0][0].inline.container.image",
        "argo-steps-inline.yaml:24:24 no-digest spec.templates[0].steps[1][0].inline.script.image",
        "knative-controller.yaml:23:18 invalid-ref spec.template.spec.containers[0]",
        "rollouts-analysis-templates.yaml:20:28 no-digest spec.metrics[0].provider.job.spec.template.spec.containers[0]",
        "rollouts-analysis-templates.yaml:42:28 no-digest spec.metrics[0].provider.job.spec.template.spec.containers[0]",
        "rollouts-experiment.yaml:24:22 no-digest spec.templates[0].template.spec.containers[0]",
        "rollouts-experiment.yaml:38:22 no-digest spec.templates[1].template.spec.containers[0]",
        "tekton-pipelinerun-nested.yaml:28:28 mutable-tag spec.pipelineSpec.tasks[0].pipelineSpec.finally[0].taskSpec.steps[0].image",
        "tekton-pipelinerun-nested.yaml:21:34 no-digest spec.pipelineSpec.tasks[0].pipelineSpec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image",
        "tekton-pipelines-in-pipelines.yaml:18:26 mutable-tag spec.tasks[0].pipelineSpec.tasks[0].taskSpec.steps[0].image",
        "tekton-stepaction.yaml:12:10 no-digest spec.image",
    ];
    assert_eq!(found, want);
    assert_eq!(report["summary"]["skipped"], 0, "no kind is skipped");
}

/// Knative's release source names `ko://` import paths: the finding says what it is and how
/// to resolve it, not that a registry port is empty.
#[test]
fn a_ko_placeholder_is_reported_with_the_fix_that_builds_it() {
    let mut c = checker();
    c.arg("e2e-tests/upstream/knative-controller.yaml");
    let out = c.assert_exit(1);
    assert!(
        out.contains("image \"ko://knative.dev/serving/cmd/controller\": not a valid image reference: `ko://` makes it a placeholder (ko, Skaffold) or a transport prefix, not an image. Fix: build it first: `ko resolve -f FILE` writes each ko:// image as repository@sha256:<digest>. [invalid-ref]"),
        "{out}"
    );
    assert!(!out.contains("registry port"), "{out}");
}

#[test]
fn pin_pins_the_images_of_the_upstream_kinds() {
    let files = [
        "argo-dag-inline.yaml",
        "argo-steps-inline.yaml",
        "rollouts-analysis-templates.yaml",
        "rollouts-experiment.yaml",
        "tekton-stepaction.yaml",
    ];
    let sources: Vec<String> = files
        .iter()
        .map(|f| format!("e2e-tests/upstream/{f}"))
        .collect();
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    let stage = pin_stage(
        &[
            ("argoproj/argosay", "v2"),
            ("library/python", "alpine3.6"),
            ("library/alpine", "3.8"),
            ("argoproj/rollouts-demo", "blue"),
            ("argoproj/rollouts-demo", "yellow"),
            ("library/bash", "3.2"),
        ],
        &sources,
    );
    let work = &stage.work;
    let settings = settings_file(stage.tmp.path(), &settings());
    // Pinned where the kubelet reads them: the checker now accepts every file under
    // requireDigest, and the only changes are the digests appended.
    stage.pin_and_check(
        &settings,
        &["docker.io"],
        &files,
        "pin: pinned 8 images in 5 files",
        "ci",
    );
    let before =
        std::fs::read_to_string(workspace().join("e2e-tests/upstream/argo-steps-inline.yaml"))
            .expect("read");
    let after = std::fs::read_to_string(work.join("argo-steps-inline.yaml")).expect("read");
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|(a, b)| b.starts_with(a) && b[a.len()..].starts_with("@sha256:")),
        "{changed:?}"
    );
}
