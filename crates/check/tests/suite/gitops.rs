//! GitOps sources in the default check (issue 35): a kustomization's `helmCharts` composed as
//! kustomize composes them, on fixtures laid out as the chart note lays out its application,
//! each beside the render written by hand (`e2e-tests/gitops/`).

use crate::harness::{TestCommand, workspace};
use serde_json::Value;
use std::collections::BTreeSet;

const PROD: &str = "examples/settings/prod.yaml";

fn check(args: &[&str]) -> TestCommand {
    let mut c = TestCommand::checker();
    c.args(["--settings", PROD]).args(args);
    c
}

/// The images of a render, as written in its `image:` lines.
fn rendered_images(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace().join(file)).expect("the render");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(str::to_owned)
        .collect()
}

/// The images the checker composed from a directory, with their verdicts.
fn composed(dir: &str) -> (Value, BTreeSet<(String, bool)>) {
    let json = check(&[dir, "--output", "json"]).output();
    let doc: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let images = doc["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    Some((
                        r["image"].as_str()?.to_owned(),
                        r["allowed"].as_bool().unwrap_or(false),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    (doc, images)
}

/// The chart note's layout, its controllers overridden to `latest` in `valuesInline`: exit 1 at
/// the inline line, and the same images and verdicts as the render kustomize would produce.
#[test]
fn a_kustomization_renders_its_chart_as_kustomize_does() {
    for (dir, code, rejected) in [
        (
            "e2e-tests/gitops/agents-drifted",
            1,
            Some("registry.ide-newton.ts.net/lab/jangar:latest"),
        ),
        ("e2e-tests/gitops/agents-pinned", 0, None),
    ] {
        let out = check(&[dir]).assert_exit(code);
        let render = format!("{dir}.rendered.yaml");
        let rendered = check(&[&render]).assert_exit(code);
        let (doc, images) = composed(dir);
        let composed_images: BTreeSet<String> = images.iter().map(|(i, _)| i.clone()).collect();
        assert_eq!(composed_images, rendered_images(&render), "{dir}: {doc}");
        match rejected {
            Some(image) => {
                assert!(
                    out.contains(&format!(
                        "{dir}/kustomization.yaml:14:16: HelmValues agents/controllers: controllers.image.digest (component \"controllers\"): image \"{image}\""
                    )) && out.contains("[mutable-tag]"),
                    "{out}"
                );
                assert!(
                    rendered.contains(&format!("image \"{image}\"")),
                    "{rendered}"
                );
                assert!(images.contains(&(image.to_owned(), false)), "{doc}");
            }
            None => assert!(images.iter().all(|(_, ok)| *ok), "{doc}"),
        }
        // The values files the kustomization consumes are not read as manifests.
        assert!(!out.contains("<no apiVersion or kind>"), "{out}");
    }
}

/// What the reader does not apply is said, and the run is not a pass unless the user says
/// that is fine; `--no-gitops` reads a kustomization as a kind the policy does not check.
#[test]
fn what_is_not_applied_is_never_a_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - https://github.com/example/base?ref=v1\nimages:\n  - name: nginx\n    newTag: latest\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: agents}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    )
    .expect("written");
    let path = dir.to_str().unwrap_or_default();
    let out = check(&[path]).assert_exit(2);
    assert!(
        out.contains("kustomization.yaml:7: `images` (the images transformer, 1 entry) not applied")
            && out.contains("remote resource \"https://github.com/example/base?ref=v1\" not read"),
        "{out}"
    );
    check(&[path, "--allow-partial"]).assert_exit(0);
    let plain = check(&[path, "--no-gitops"]).assert_exit(0);
    assert!(
        plain.contains("kustomize.config.k8s.io/v1beta1 Kustomization 1"),
        "{plain}"
    );
}
