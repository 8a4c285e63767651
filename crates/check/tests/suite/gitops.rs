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
    for (dir, code, rejected, at) in [
        (
            "e2e-tests/gitops/agents-drifted",
            1,
            Some("registry.ide-newton.ts.net/lab/jangar:latest"),
            "kustomization.yaml:14:16: HelmValues agents/controllers: controllers.image.digest",
        ),
        ("e2e-tests/gitops/agents-pinned", 0, None, ""),
        // A multi-source Application: the chart from one source, `$values/…` from the other.
        ("e2e-tests/gitops/argocd-multisource", 0, None, ""),
        // Argo CD's order: the chart's values, valueFiles, values, valuesObject, parameters.
        (
            "e2e-tests/gitops/argocd-helm",
            1,
            Some("registry.ide-newton.ts.net/lab/jangar:latest"),
            "application.yaml:32:18: HelmValues agents/controllers: controllers.image.digest",
        ),
        // Flux's: the chart's values, valuesFrom (a ConfigMap of the tree), spec.values.
        (
            "e2e-tests/gitops/flux-helm",
            1,
            Some("registry.ide-newton.ts.net/lab/jangar-control-plane:latest"),
            "helmrelease.yaml:24:14: HelmValues agents/controlPlane: controlPlane.image.digest",
        ),
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
                    out.contains(&format!("{dir}/{at}"))
                        && out.contains(&format!("image \"{image}\""))
                        && out.contains("[mutable-tag]"),
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
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - https://github.com/example/base?ref=v1\npatches:\n  - path: patch.yaml\n",
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
        out.contains("kustomization.yaml:7: `patches` (patches, 1 entry) not applied")
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

/// The lines of a text report without where they are: what was found, to compare a GitOps
/// directory with the render written by hand.
fn said(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter(|l| !l.contains(" documents: "))
        .map(|l| {
            // `file:line:column: Kind ns/name: …`
            l.splitn(4, ':').nth(3).unwrap_or(l).trim().to_owned()
        })
        .collect()
}

/// kustomize's own `images` example and an overlay that moves a pinned base to `latest`: the
/// same findings as the renders, each at the `images` entry that set the image.
#[test]
fn the_images_transformer_is_applied_as_kustomize_applies_it() {
    for (dir, code, at) in [
        (
            "e2e-tests/gitops/kustomize-images",
            1,
            "e2e-tests/gitops/kustomize-images/kustomization.yaml:14:14: Deployment agents/the-deployment: spec.template.spec.containers[2] (container \"myapp\"): image \"my-app:latest\"",
        ),
        (
            "e2e-tests/gitops/overlay-latest",
            1,
            "e2e-tests/gitops/overlay-latest/overlays/prod/kustomization.yaml:9:13: Deployment agents/web: spec.template.spec.containers[0] (container \"web\"): image \"nginx:latest\"",
        ),
    ] {
        let mut c = TestCommand::checker();
        c.arg(dir);
        let out = c.assert_exit(code);
        let mut r = TestCommand::checker();
        r.arg(format!("{dir}.rendered.yaml"));
        let rendered = r.assert_exit(code);
        assert!(out.contains(at), "{out}");
        assert_eq!(said(&out), said(&rendered), "{out}\n{rendered}");
        // The base is read through the overlay only (no second, untransformed verdict).
        assert_eq!(out.matches(" documents: ").count(), 1, "{out}");
        assert!(out.contains("1 documents: 1 workloads checked"), "{out}");
    }
}

/// Kustomize's matching and rewriting, entry by entry (`IsImageMatched`, `imageTagUpdater`).
#[test]
fn image_entries_match_and_rewrite_as_kustomize() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let pod = |image: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: agents}}\nspec:\n  containers:\n    - name: c\n      image: {image}\n"
        )
    };
    let digest = format!("sha256:{}", "a".repeat(64));
    // (image as written, the entry, the image rendered)
    let cases = [
        ("nginx:1.27", "newTag: \"1.28\"", "nginx:1.28".to_owned()),
        ("nginx", format!("digest: {digest}").as_str().to_owned().leak(), format!("nginx@{digest}")),
        ("nginx:1.27", format!("newTag: \"1.27\"\n    digest: {digest}").leak(), format!("nginx:1.27@{digest}")),
        ("nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000000", "newName: registry.example/nginx", "registry.example/nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000000".to_owned()),
        ("nginx-unrelated:1.27", "newTag: latest", "nginx-unrelated:1.27".to_owned()),
    ];
    for (image, entry, want) in cases {
        std::fs::write(dir.join("pod.yaml"), pod(image)).expect("written");
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!("resources:\n  - pod.yaml\nimages:\n  - name: nginx\n    {entry}\n"),
        )
        .expect("written");
        std::fs::write(dir.join("want.yaml"), pod(&want)).expect("written");
        let run = |path: &std::path::Path| {
            let mut c = TestCommand::checker();
            c.arg(path).arg("--output").arg("json");
            let out = c.output();
            let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            (
                out.status.code(),
                doc["results"][0]["allowed"].clone(),
                doc["results"][0]["findings"]
                    .as_array()
                    .map(|f| f.iter().map(|f| f["rule"].clone()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        };
        let kustomized = run(dir);
        std::fs::remove_file(dir.join("kustomization.yaml")).expect("removed");
        std::fs::remove_file(dir.join("pod.yaml")).expect("removed");
        assert_eq!(
            kustomized,
            run(&dir.join("want.yaml")),
            "{image} with {entry}"
        );
        std::fs::remove_file(dir.join("want.yaml")).expect("removed");
    }
}

/// A Flux Kustomization whose path this work tree does not have (another repository): its
/// image overrides cannot be applied to anything here: said, exit 2, never green.
#[test]
fn a_flux_kustomization_of_another_repository_is_never_a_silent_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("apps.yaml");
    std::fs::write(
        &file,
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/prod\n  sourceRef: {kind: GitRepository, name: lab}\n  images:\n    - name: nginx\n      newTag: latest\n",
    )
    .expect("written");
    let mut c = TestCommand::checker();
    c.arg(&file).arg("--allow-empty");
    let out = c.assert_exit(2);
    assert!(
        out.contains(
            "apps.yaml:6: Flux Kustomization apps: path \"./apps/prod\" is not in this work tree"
        ),
        "{out}"
    );
}

/// A Flux Kustomization's `spec.images` and an Argo CD Application's `kustomize.images` are
/// applied last, over the kustomization their path holds (which is not judged again on its
/// own): the same findings as the renders, the Flux one at its `spec.images` entry.
#[test]
fn flux_and_argo_image_overrides_are_applied_over_their_path() {
    for (dir, code, at) in [
        (
            "e2e-tests/gitops/flux-kustomization",
            1,
            Some("e2e-tests/gitops/flux-kustomization/apps.yaml:17:15: Deployment agents/web"),
        ),
        ("e2e-tests/gitops/argocd-kustomize", 0, None),
    ] {
        let mut c = TestCommand::checker();
        c.arg(dir);
        let out = c.assert_exit(code);
        let mut r = TestCommand::checker();
        r.arg(format!("{dir}.rendered.yaml"));
        let rendered = r.assert_exit(code);
        if let Some(at) = at {
            assert!(out.contains(at), "{out}");
        }
        assert_eq!(said(&out), said(&rendered), "{out}\n{rendered}");
        assert!(out.contains(": 1 workloads checked"), "{out}");
    }
}

/// `values` given a GitOps source says what to run instead: judging a kustomization's inline
/// block on its own, without the values file it overrides, would be a verdict on nothing real.
#[test]
fn values_refuses_a_gitops_source() {
    let mut c = TestCommand::checker();
    c.args([
        "values",
        "e2e-tests/gitops/agents-drifted/kustomization.yaml",
    ]);
    let out = c.assert_exit(2);
    assert!(
        out.contains("a GitOps source (a kustomization, an Argo CD Application, a Flux HelmRelease), not a values file: check its directory with `image-digest-check e2e-tests/gitops/agents-drifted`"),
        "{out}"
    );
}

/// A kustomization's `namespace` (the outermost one's) puts its resources there, as kustomize's
/// namespace transformer does: the settings' scope judges that namespace.
#[test]
fn a_kustomization_namespace_is_the_one_judged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("base")).expect("dir");
    std::fs::create_dir_all(dir.join("prod")).expect("dir");
    std::fs::write(
        dir.join("base/web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: dev}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:latest\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("base/kustomization.yaml"),
        "namespace: staging\nresources:\n  - web.yaml\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("prod/kustomization.yaml"),
        "namespace: kube-system\nresources:\n  - ../base\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("s.yaml"),
        "namespaces:\n  exclude: [kube-system]\n",
    )
    .expect("written");
    let prod = dir.join("prod");
    let settings = dir.join("s.yaml");
    let mut c = TestCommand::checker();
    c.arg("--settings")
        .arg(&settings)
        .arg(&prod)
        .arg("--allow-empty");
    let out = c.assert_exit(0);
    assert!(out.contains("1 out of scope"), "{out}");
    let mut c = TestCommand::checker();
    c.arg(&prod).arg("--output").arg("json");
    let json = c.assert_exit(1);
    let doc: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(doc["results"][0]["namespace"], "kube-system", "{doc}");
}

/// A chart whose composed values render no image contributed nothing: never a pass because
/// the other sources were fine (`--allow-empty` accepts it).
#[test]
fn a_chart_that_renders_no_image_is_not_a_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("app/charts/agents")).expect("dir");
    std::fs::write(
        dir.join("app/charts/agents/Chart.yaml"),
        "name: agents\nversion: 1.0.0\n",
    )
    .expect("written");
    std::fs::write(dir.join("app/charts/agents/values.yaml"), "replicas: 1\n").expect("written");
    std::fs::write(
        dir.join("app/kustomization.yaml"),
        "helmCharts:\n  - name: agents\n    valuesInline:\n      replicas: 2\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("pod.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: default}}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27@sha256:{}\n",
            "0".repeat(64)
        ),
    )
    .expect("written");
    let mut c = TestCommand::checker();
    c.arg(dir);
    let out = c.assert_exit(2);
    assert!(
        out.contains("kustomization.yaml: helmCharts[0] (agents): nothing was checked: 2 values files read, no image in scope"),
        "{out}"
    );
    let mut c = TestCommand::checker();
    c.arg(dir).arg("--allow-empty");
    c.assert_exit(0);
}

/// A path a source names that leaves what its tool reads (kustomize's directory, the
/// repository) is refused, never read: exit 2, naming it.
#[test]
fn a_named_path_outside_the_root_is_never_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("app/charts/agents")).expect("dir");
    std::fs::write(
        dir.join("app/charts/agents/Chart.yaml"),
        "name: agents\nversion: 1.0.0\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("app/charts/agents/values.yaml"),
        "controlPlane:\n  image:\n    repository: x/cp\n    tag: \"1\"\n    digest: \"\"\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("outside.yaml"),
        "controlPlane:\n  image:\n    digest: \"\"\n",
    )
    .expect("written");
    std::fs::write(
        dir.join("app/kustomization.yaml"),
        "helmCharts:\n  - name: agents\n    valuesFile: ../outside.yaml\n",
    )
    .expect("written");
    let mut c = TestCommand::checker();
    c.arg(dir.join("app"));
    let out = c.assert_exit(2);
    assert!(
        out.contains("\"../outside.yaml\" is outside the kustomization's directory, which the tool refuses to read"),
        "{out}"
    );
}

/// `pin` finds GitOps sources as the check does: an image an Argo CD `kustomize.images`
/// override pins renders pinned, so nothing is looked up (the resource's own `latest` was
/// looked up at its registry before, and pinned where the render ignores it).
#[test]
fn pin_reads_an_application_override_as_the_check_does() {
    let mut c = TestCommand::bare();
    c.args([
        "pin",
        "--dry-run",
        "--timeout",
        "1",
        "e2e-tests/gitops/argocd-kustomize",
    ]);
    let out = c.assert_exit_both(0);
    assert!(
        out.stderr
            .contains("would pin 0 images in 0 files; 1 already pinned"),
        "{}",
        out.stderr
    );
}
