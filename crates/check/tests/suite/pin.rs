//! `image-digest-check pin` against a real registry on 127.0.0.1: images built from oci-spec
//! types and pushed with skopeo, the fixtures under e2e-tests/pin/ pinned through
//! `--mirror registry.example.test=127.0.0.1:<port>` (so the expected files can name a fixed
//! registry), and the results compared with e2e-tests/pin/expected/ byte for byte.

use crate::harness::{TestCommand, workspace};
use image_digest_testkit::images::{Pushed, push};
use image_digest_testkit::proxy;
use image_digest_testkit::registry::{Registry, start};
use std::path::{Path, PathBuf};

const HOST: &str = "registry.example.test";

/// The images the fixtures name, pushed: `lab/api:1.4.2` single-platform, `lab/web:2.0` for
/// two platforms, and the chart defaults' `latest` tags.
fn push_fixture_images(registry: &Registry, work: &Path) -> Vec<(&'static str, Pushed)> {
    let one = [("linux", "amd64")];
    let two = [("linux", "amd64"), ("linux", "arm64")];
    vec![
        (
            "lab/api:1.4.2",
            push(registry, work, "lab/api", "1.4.2", &one),
        ),
        ("lab/web:2.0", push(registry, work, "lab/web", "2.0", &two)),
        (
            "lab/worker:v7",
            push(registry, work, "lab/worker", "v7", &one),
        ),
    ]
}

/// A copy of e2e-tests/pin/ in a temp dir, so the fixtures themselves never change.
fn copy_fixtures(to: &Path) -> PathBuf {
    let from = workspace().join("e2e-tests/pin");
    for dir in ["manifests", "values"] {
        std::fs::create_dir_all(to.join(dir)).expect("dir");
        for entry in std::fs::read_dir(from.join(dir)).expect("fixtures") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("a name");
            std::fs::copy(&path, to.join(dir).join(name)).expect("copied");
        }
    }
    std::fs::copy(from.join("settings.yaml"), to.join("settings.yaml")).expect("copied");
    to.to_path_buf()
}

fn pin(dir: &Path, port: u16, args: &[&str]) -> TestCommand {
    let mut c = TestCommand::bare();
    let mirror = format!("{HOST}=127.0.0.1:{port}");
    let insecure = format!("127.0.0.1:{port}");
    c.current_dir(dir)
        .env("DOCKER_CONFIG", dir.join("docker"))
        .args([
            "pin",
            "--settings",
            "settings.yaml",
            "--mirror",
            &mirror,
            "--insecure-registry",
            &insecure,
        ])
        .args(args);
    c
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An expected file; `PIN_BLESS=1` rewrites it from `actual` instead (review the git diff).
fn expect(name: &str, actual: &str) {
    let path = workspace().join("e2e-tests/pin/expected").join(name);
    if std::env::var_os("PIN_BLESS").is_some() {
        std::fs::write(&path, actual).expect("blessed");
    }
    assert_eq!(
        actual,
        read(&path),
        "{} (PIN_BLESS=1 rewrites it)",
        path.display()
    );
}

const ALL: &[&str] = &[
    "manifests",
    "--values",
    "values/chart-defaults.yaml",
    "--values",
    "values/gitops-prod.yaml",
];

#[test]
fn pins_manifests_and_values_in_place_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    push_fixture_images(&registry, tmp.path());
    let dir = copy_fixtures(&tmp.path().join("work"));

    let dry = pin(&dir, registry.port, &[ALL, &["--dry-run"]].concat()).assert_exit_both(1);
    expect("all.diff", &dry.stdout);
    assert_unchanged(&dir);
    let fixtures = workspace().join("e2e-tests/pin");

    // Through a counting proxy: 9 places (an image volume among them), 3 distinct images, 3
    // manifest requests, each a HEAD (no GET: nothing counts against a pull limit).
    let counting = proxy::start(registry.port, usize::MAX / 2);
    let stderr = pin(&dir, counting.port, ALL).assert_exit_both(0).stderr;
    assert_eq!(
        counting.manifest_requests_by_method(),
        (0, 3),
        "(GET, HEAD): one HEAD per distinct image"
    );
    for (f, want) in [
        ("manifests/app.yaml", "app.yaml"),
        ("manifests/pod.json", "pod.json"),
        ("values/gitops-prod.yaml", "gitops-prod.yaml"),
    ] {
        expect(want, &read(&dir.join(f)));
    }
    assert_eq!(
        read(&dir.join("values/chart-defaults.yaml")),
        read(&fixtures.join("values/chart-defaults.yaml")),
        "the chart's defaults stay as shipped"
    );
    assert!(
        stderr.contains(
            "pin: pinned 9 images in 3 files; 1 already pinned, 1 exempt, 0 not pinnable as written"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("manifests/app.yaml:15:18: Deployment api, spec.template.spec.containers[0] (container \"api\"): pinned \"registry.example.test/lab/api:1.4.2\" to sha256:"), "{stderr}");
    assert!(stderr.contains("manifests/app.yaml:28:24: Deployment api, spec.template.spec.volumes[1].image.reference (volume \"models\"): pinned \"registry.example.test/lab/worker:v7\" to sha256:"), "{stderr}");

    // Pinned files need nothing more: a second run changes nothing and says so.
    let again = pin(&dir, registry.port, &[ALL, &["--dry-run"]].concat()).assert_exit_both(0);
    assert_eq!(again.stdout, "");
}

/// Every fixture file, as it was before any run.
fn assert_unchanged(dir: &Path) {
    let fixtures = workspace().join("e2e-tests/pin");
    for f in [
        "manifests/app.yaml",
        "manifests/pod.json",
        "values/gitops-prod.yaml",
        "values/chart-defaults.yaml",
    ] {
        assert_eq!(
            read(&dir.join(f)),
            read(&fixtures.join(f)),
            "{f} changed although nothing was to be written"
        );
    }
    let stray: Vec<_> = std::fs::read_dir(dir.join("manifests"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

#[test]
fn basic_auth_credentials_come_from_the_docker_config() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(
        &tmp.path().join("registry"),
        Some(("pinner", "s3cret-pass")),
    );
    push_fixture_images(&registry, tmp.path());
    let dir = copy_fixtures(&tmp.path().join("work"));

    // No credentials: the registry's refusal, named per image, and nothing written.
    let refused = pin(&dir, registry.port, ALL).assert_exit_both(2);
    let stderr = refused.stderr;
    assert!(
        stderr.contains(
            "cannot resolve image \"registry.example.test/lab/api:1.4.2\": registry 127.0.0.1:"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("answered: Not authorized"), "{stderr}");
    assert!(stderr.contains("pin: nothing was written"), "{stderr}");
    assert_unchanged(&dir);

    // `docker login` leaves a base64 `auth` under the registry's host:port.
    let auth = base64(b"pinner:s3cret-pass");
    std::fs::create_dir_all(dir.join("docker")).expect("docker dir");
    std::fs::write(
        dir.join("docker/config.json"),
        format!(
            r#"{{"auths": {{"127.0.0.1:{}": {{"auth": "{auth}"}}}}}}"#,
            registry.port
        ),
    )
    .expect("config.json");
    pin(&dir, registry.port, ALL).assert_exit_both(0);
    expect("app.yaml", &read(&dir.join("manifests/app.yaml")));
    expect(
        "gitops-prod.yaml",
        &read(&dir.join("values/gitops-prod.yaml")),
    );
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn an_unknown_tag_names_the_image_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    let one = [("linux", "amd64")];
    push(&registry, tmp.path(), "lab/api", "1.4.2", &one);
    push(&registry, tmp.path(), "lab/worker", "v7", &one);
    // lab/web:2.0 is never pushed.
    let dir = copy_fixtures(&tmp.path().join("work"));
    let stderr = pin(&dir, registry.port, ALL).assert_exit_both(2).stderr;
    assert!(
        stderr.contains("manifests/app.yaml:18:18: Deployment api, spec.template.spec.containers[1] (container \"web\"): cannot resolve image \"registry.example.test/lab/web:2.0\": registry 127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("MANIFEST_UNKNOWN")
            || stderr.contains("NAME_UNKNOWN")
            || stderr.contains("manifest unknown"),
        "the registry's answer: {stderr}"
    );
    assert!(
        !stderr.contains("lab/api:1.4.2\": registry"),
        "api resolved: {stderr}"
    );
    assert_unchanged(&dir);
}

#[test]
fn a_registry_that_stops_mid_run_leaves_every_file_as_it_was() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    push_fixture_images(&registry, tmp.path());
    let dir = copy_fixtures(&tmp.path().join("work"));
    // Two requests get through (the first lookup: its /v2/ probe and its manifest), then the
    // registry is gone: open connections cut, the port refusing.
    let cut = proxy::start(registry.port, 2);
    let out = pin(
        &dir,
        cut.port,
        &[ALL, &["--lookups", "1", "--timeout", "5"]].concat(),
    )
    .assert_exit_both(2);
    let stderr = out.stderr;
    assert!(stderr.contains("cannot resolve image"), "{stderr}");
    assert!(
        stderr.contains("after 3 attempts"),
        "connection failures are retried: {stderr}"
    );
    assert!(stderr.contains("pin: nothing was written"), "{stderr}");
    assert_unchanged(&dir);
}

#[test]
fn a_platform_pins_its_own_manifest_instead_of_the_index() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    let images = push_fixture_images(&registry, tmp.path());
    let web = &images
        .iter()
        .find(|(n, _)| *n == "lab/web:2.0")
        .expect("web")
        .1;
    let arm = &web
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/arm64")
        .expect("arm64")
        .1;
    let dir = copy_fixtures(&tmp.path().join("work"));
    let counting = proxy::start(registry.port, usize::MAX / 2);
    pin(
        &dir,
        counting.port,
        &["manifests/app.yaml", "--platform", "linux/arm64"],
    )
    .assert_exit(0);
    // api, web (an index), worker: one GET each (a platform must read the manifest to know
    // whether it is an index), and no second request for the chosen entry.
    assert_eq!(
        counting.manifest_requests_by_method(),
        (3, 0),
        "(GET, HEAD)"
    );
    let pinned = read(&dir.join("manifests/app.yaml"));
    assert!(
        pinned.contains(&format!("'registry.example.test/lab/web:2.0@{arm}'")),
        "{pinned}"
    );
    assert!(
        !pinned.contains(&web.digest),
        "the index digest is not used: {pinned}"
    );
    // A single-platform image is its own manifest on every platform.
    let api = &images
        .iter()
        .find(|(n, _)| *n == "lab/api:1.4.2")
        .expect("api")
        .1;
    assert!(
        pinned.contains(&format!("lab/api:1.4.2@{}", api.digest)),
        "{pinned}"
    );

    let overlay = pin(
        &dir,
        registry.port,
        &[
            "manifests/pod.json",
            "--values",
            "values/gitops-prod.yaml",
            "--platform",
            "linux/s390x",
        ],
    )
    .assert_exit_both(2);
    // lab/worker is single-platform; nothing in these files is an index: accepted as is. The
    // overlay alone sets controlPlane.image's tag with no repository to apply it to: named,
    // never dropped (issue 32), so the run is not a pass.
    assert!(
        overlay.stderr.contains("values controlPlane.image: not pinned: image \":2.0\": controlPlane.image cannot be composed"),
        "{}",
        overlay.stderr
    );
    let copy = copy_fixtures(&tmp.path().join("again"));
    let none = pin(
        &copy,
        registry.port,
        &["manifests/app.yaml", "--platform", "linux/s390x"],
    )
    .assert_exit_both(2);
    let stderr = none.stderr;
    assert!(
        stderr.contains(
            "the image index has no linux/s390x manifest (it offers: linux/amd64, linux/arm64)"
        ),
        "{stderr}"
    );
}

#[test]
fn images_that_cannot_be_pinned_as_written_are_reported_and_the_rest_pinned() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    push_fixture_images(&registry, tmp.path());
    let dir = tmp.path().join("work");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("settings.yaml"), "{}\n").expect("settings");
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: registry.example.test/lab/api:1.4.2}\n    - {name: b, image: registry.example.test/lab/api}\n    - {name: c, image: \"Registry.Example.Test/API:x\"}\n";
    std::fs::write(dir.join("pod.yaml"), manifest).expect("pod");
    let stderr = pin(&dir, registry.port, &["pod.yaml"])
        .assert_exit_both(2)
        .stderr;
    assert!(stderr.contains("pod.yaml:7:24: Pod p, spec.containers[1] (container \"b\"): not pinned: image \"registry.example.test/lab/api\": no tag, so no lookup can say which version you mean; write it as registry.example.test/lab/api:<tag>"), "{stderr}");
    assert!(stderr.contains("pod.yaml:8:24: Pod p, spec.containers[2] (container \"c\"): not pinned: image \"Registry.Example.Test/API:x\": not a valid image reference"), "{stderr}");
    assert!(
        stderr.contains(
            "pin: pinned 1 images in 1 files; 0 already pinned, 0 exempt, 2 not pinnable as written"
        ),
        "{stderr}"
    );
    let pinned = read(&dir.join("pod.yaml"));
    assert!(
        pinned.contains("image: registry.example.test/lab/api:1.4.2@sha256:"),
        "{pinned}"
    );
    assert!(
        pinned.contains("image: registry.example.test/lab/api}"),
        "{pinned}"
    );
}

/// The closing note's demonstration: the chart's bundled defaults, pinned with --dry-run.
#[test]
fn the_bundled_chart_defaults_pin_with_a_dry_run_diff() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    let one = [("linux", "amd64")];
    push(
        &registry,
        tmp.path(),
        "lab/jangar",
        "latest",
        &[("linux", "amd64"), ("linux", "arm64")],
    );
    push(
        &registry,
        tmp.path(),
        "lab/jangar-control-plane",
        "latest",
        &one,
    );
    let root = workspace();
    let counting = proxy::start(registry.port, usize::MAX / 2);
    let mut c = TestCommand::bare();
    let mirror = format!("registry.ide-newton.ts.net=127.0.0.1:{}", counting.port);
    let insecure = format!("127.0.0.1:{}", counting.port);
    c.current_dir(&root)
        .env("DOCKER_CONFIG", tmp.path().join("docker"))
        .args([
            "pin",
            "--values",
            "examples/values/chart-defaults.yaml",
            "--dry-run",
            "--mirror",
            &mirror,
            "--insecure-registry",
            &insecure,
        ]);
    let out = c.assert_exit_both(1);
    expect("chart-defaults.diff", &out.stdout);
    // Two distinct images (jangar is an index): one HEAD each, no GET.
    assert_eq!(
        counting.manifest_requests_by_method(),
        (0, 2),
        "(GET, HEAD)"
    );
}

/// Anonymous pulls through the token flow (`WWW-Authenticate: Bearer`), as public registries
/// serve them: the client fetches a pull token for each repository and retries with it.
#[test]
fn anonymous_bearer_token_auth_is_followed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    push_fixture_images(&registry, tmp.path());
    let dir = copy_fixtures(&tmp.path().join("work"));
    let gate = image_digest_testkit::token_gate::start(registry.port);
    pin(&dir, gate.port, &["manifests/pod.json"]).assert_exit_both(0);
    expect("pod.json", &read(&dir.join("manifests/pod.json")));
    let scopes = gate.scopes.lock().expect("scopes").clone();
    assert_eq!(scopes, vec!["repository:lab/api:pull".to_owned()]);
}

/// A file that does not parse stops the run before any registry is asked: nothing written.
#[test]
fn unreadable_input_stops_pinning_before_any_lookup() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = copy_fixtures(tmp.path());
    std::fs::write(dir.join("manifests/broken.yaml"), "kind: Pod\nspec: [\n").expect("written");
    // Port 9 (discard) on loopback: a lookup would fail, but none is made.
    let stderr = pin(&dir, 9, &["manifests"]).assert_exit_both(2).stderr;
    assert!(
        stderr.contains("error: manifests/broken.yaml: document 1: invalid YAML"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pin: nothing was written: 1 input errors"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot resolve"), "{stderr}");
    assert_unchanged(&dir);
}

/// A docker config that exists but is not JSON is an error naming the file, before any
/// lookup; it never means anonymous access (the credentials crate reports a malformed file and
/// a missing one alike).
#[test]
fn a_malformed_docker_config_stops_pin_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = copy_fixtures(tmp.path());
    std::fs::create_dir_all(dir.join("docker")).expect("docker dir");
    std::fs::write(dir.join("docker/config.json"), "{\"auths\": {\n").expect("written");
    let stderr = pin(&dir, 9, ALL).assert_exit_both(2).stderr;
    assert!(
        stderr
            .contains("docker/config.json: the docker config is not valid JSON: EOF while parsing"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "once, not per image: {stderr}"
    );
    assert!(
        !stderr.contains("cannot resolve"),
        "no lookup was made: {stderr}"
    );
    assert_unchanged(&dir);
}

/// Inputs without any image are not "nothing to pin": exit 2 unless --allow-empty.
#[test]
fn no_image_at_all_is_not_a_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = copy_fixtures(tmp.path());
    std::fs::write(
        dir.join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {image: nginx:1}\n",
    )
    .expect("written");
    let stderr = pin(&dir, 9, &["config.yaml"]).assert_exit_both(2).stderr;
    assert!(
        stderr.contains("pin: no image found in 1 manifest files and 0 values files"),
        "{stderr}"
    );
    pin(&dir, 9, &["config.yaml", "--allow-empty"]).assert_exit_both(0);
}

/// A kustomization's `images` entry that sets a tag gets the digest under its `newTag` (the
/// render then reads `name:newTag@digest`); the base it renders is not touched, and a rename
/// alone pins the base with the digest of the renamed image. Checked afterwards: accepted.
#[test]
fn an_overlay_images_entry_gains_its_digest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    let one = [("linux", "amd64")];
    let app = push(&registry, tmp.path(), "lab/api", "1.4.2", &one);
    let worker = push(&registry, tmp.path(), "lab/worker", "v7", &one);
    let dir = tmp.path().join("work");
    std::fs::create_dir_all(dir.join("base")).expect("dir");
    std::fs::create_dir_all(dir.join("overlays/prod")).expect("dir");
    std::fs::write(dir.join("settings.yaml"), "requireDigest: true\n").expect("written");
    let base = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: agents}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {HOST}/lab/api:1.0\n        - name: worker\n          image: {HOST}/lab/old-worker:v7\n"
    );
    std::fs::write(dir.join("base/deployment.yaml"), &base).expect("written");
    std::fs::write(
        dir.join("base/kustomization.yaml"),
        "resources:\n  - deployment.yaml\n",
    )
    .expect("written");
    let overlay = format!(
        "resources:\n  - ../../base\nimages:\n  - name: {HOST}/lab/api\n    newTag: \"1.4.2\"  # the release\n  - name: {HOST}/lab/old-worker\n    newName: {HOST}/lab/worker\n"
    );
    std::fs::write(dir.join("overlays/prod/kustomization.yaml"), &overlay).expect("written");
    pin(
        &dir,
        registry.port,
        &["overlays/prod", "base/deployment.yaml"],
    )
    .assert_exit(0);
    assert_eq!(
        read(&dir.join("overlays/prod/kustomization.yaml")),
        format!(
            "resources:\n  - ../../base\nimages:\n  - name: {HOST}/lab/api\n    newTag: \"1.4.2\"  # the release\n    digest: {}\n  - name: {HOST}/lab/old-worker\n    newName: {HOST}/lab/worker\n",
            app.digest
        )
    );
    assert_eq!(
        read(&dir.join("base/deployment.yaml")),
        base.replace(
            &format!("{HOST}/lab/old-worker:v7"),
            &format!("{HOST}/lab/old-worker:v7@{}", worker.digest)
        )
    );
    // The overlay renders both images pinned.
    let mut check = TestCommand::checker();
    check
        .current_dir(&dir)
        .args(["--settings", "settings.yaml", "overlays/prod"]);
    check.assert_exit(0);
}

/// A registry holding `lab/api:1.4.2` and `lab/worker:v7`, and a work directory with
/// `settings.yaml` (`requireDigest`) and the agents chart vendored at `chart` (relative to it),
/// whose own values leave both images at `latest` with an empty digest.
fn agents_chart(chart: &str) -> (tempfile::TempDir, Registry, Pushed, Pushed, PathBuf) {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = start(&tmp.path().join("registry"), None);
    let one = [("linux", "amd64")];
    let api = push(&registry, tmp.path(), "lab/api", "1.4.2", &one);
    let worker = push(&registry, tmp.path(), "lab/worker", "v7", &one);
    let dir = tmp.path().join("work");
    let chart = dir.join(chart);
    std::fs::create_dir_all(&chart).expect("dir");
    std::fs::write(dir.join("settings.yaml"), "requireDigest: true\n").expect("written");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: agents\nversion: 0.9.1\nappVersion: \"1.4.2\"\n",
    )
    .expect("written");
    std::fs::write(
        chart.join("values.yaml"),
        format!("image:\n  repository: {HOST}/lab/api\n  tag: latest\n  digest: \"\"\ncontrolPlane:\n  image:\n    repository: {HOST}/lab/worker\n    tag: latest\n    digest: \"\"\ncontrollers:\n  enabled: true\n"),
    )
    .expect("written");
    (tmp, registry, api, worker, dir)
}

/// The chart note's layout: `pin` writes each digest into the layer that sets the tag — the
/// kustomization's `valuesInline` block or the values file — and never into the vendored
/// chart; the directory then checks clean under `requireDigest`.
#[test]
fn a_kustomization_chart_is_pinned_where_its_tags_are_set() {
    let (_tmp, registry, api, worker, dir) = agents_chart("app/charts/agents");
    let chart = dir.join("app/charts/agents");
    let defaults = read(&chart.join("values.yaml"));
    let values = "controlPlane:\n  image:\n    tag: v7\n".to_owned();
    std::fs::write(dir.join("app/values.yaml"), &values).expect("written");
    let kustomization = "helmCharts:\n  - name: agents\n    version: 0.9.1\n    namespace: agents\n    valuesFile: values.yaml\n    valuesInline:\n      image:\n        tag: \"1.4.2\"\n".to_owned();
    std::fs::write(dir.join("app/kustomization.yaml"), &kustomization).expect("written");
    pin(&dir, registry.port, &["app"]).assert_exit(0);
    assert_eq!(
        read(&dir.join("app/kustomization.yaml")),
        format!("{kustomization}        digest: {}\n", api.digest)
    );
    assert_eq!(
        read(&dir.join("app/values.yaml")),
        format!("{values}    digest: {}\n", worker.digest)
    );
    assert_eq!(
        read(&chart.join("values.yaml")),
        defaults,
        "the vendored chart is not edited"
    );
    let mut check = TestCommand::checker();
    check
        .current_dir(&dir)
        .args(["--settings", "settings.yaml", "app"]);
    check.assert_exit(0);

    // A tag only the vendored chart sets is refused, with where to set it.
    std::fs::write(dir.join("app/values.yaml"), "{}\n").expect("written");
    let out = pin(&dir, registry.port, &["app"]).assert_exit_both(2);
    assert!(
        out.stderr
            .contains("its tag is set only in the vendored chart"),
        "{}",
        out.stderr
    );
}

/// An Argo CD Application's `valuesObject` and a Flux HelmRelease's `spec.values` get the
/// digest under the tag they set; a tag set by a `helm.parameters` entry is refused (a
/// parameter for the digest is the user's to add, where the chart has the key).
#[test]
fn application_and_helm_release_values_are_pinned_in_place() {
    let (_tmp, registry, api, worker, dir) = agents_chart("charts/agents");
    std::fs::create_dir_all(dir.join("apps")).expect("dir");
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&dir)
        .status()
        .expect("git");
    assert!(git.success());
    let application = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: agents\nspec:\n  destination:\n    namespace: agents\n  source:\n    repoURL: https://example.test/lab.git\n    path: charts/agents\n    helm:\n      valuesObject:\n        image:\n          tag: \"1.4.2\"\n        controlPlane:\n          image:\n            tag: v7\n".to_owned();
    std::fs::write(dir.join("apps/application.yaml"), &application).expect("written");
    pin(&dir, registry.port, &["apps"]).assert_exit(0);
    let pinned = read(&dir.join("apps/application.yaml"));
    assert_eq!(
        pinned,
        application
            .replace(
                "          tag: \"1.4.2\"\n",
                &format!(
                    "          tag: \"1.4.2\"\n          digest: {}\n",
                    api.digest
                )
            )
            .replace(
                "            tag: v7\n",
                &format!(
                    "            tag: v7\n            digest: {}\n",
                    worker.digest
                )
            )
    );
    let mut check = TestCommand::checker();
    check
        .current_dir(&dir)
        .args(["--settings", "settings.yaml", "apps"]);
    check.assert_exit(0);

    // Flux: spec.values.
    std::fs::remove_file(dir.join("apps/application.yaml")).expect("removed");
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: agents\n  namespace: agents\nspec:\n  chart:\n    spec:\n      chart: ./charts/agents\n      sourceRef:\n        kind: GitRepository\n        name: lab\n  values:\n    image:\n      tag: \"1.4.2\"\n    controlPlane:\n      image:\n        tag: v7\n".to_owned();
    std::fs::write(dir.join("apps/release.yaml"), &release).expect("written");
    pin(&dir, registry.port, &["apps"]).assert_exit(0);
    assert_eq!(
        read(&dir.join("apps/release.yaml")),
        release
            .replace(
                "      tag: \"1.4.2\"\n",
                &format!("      tag: \"1.4.2\"\n      digest: {}\n", api.digest)
            )
            .replace(
                "        tag: v7\n",
                &format!("        tag: v7\n        digest: {}\n", worker.digest)
            )
    );

    // A parameter's tag: the digest becomes a parameter of its own, where the chart has the
    // key (`image.digest` in its values); a parameter the chart has no digest key beside is
    // refused, with what to do.
    std::fs::remove_file(dir.join("apps/release.yaml")).expect("removed");
    let with_parameter = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: agents\nspec:\n  destination:\n    namespace: agents\n  source:\n    repoURL: https://example.test/lab.git\n    path: charts/agents\n    helm:\n      valuesObject:\n        controlPlane:\n          image:\n            tag: v7\n            digest: PIN\n      parameters:\n        - name: image.tag\n          value: \"1.4.2\"\n".replace("PIN", &worker.digest);
    std::fs::write(dir.join("apps/application.yaml"), &with_parameter).expect("written");
    pin(&dir, registry.port, &["apps"]).assert_exit(0);
    assert_eq!(
        read(&dir.join("apps/application.yaml")),
        format!(
            "{with_parameter}        - name: image.digest\n          value: {}\n",
            api.digest
        )
    );
    let mut check = TestCommand::checker();
    check
        .current_dir(&dir)
        .args(["--settings", "settings.yaml", "apps"]);
    check.assert_exit(0);
    // A chart whose values have no `image.digest`: the parameter's tag is refused, never a
    // parameter the chart would ignore.
    std::fs::write(
        dir.join("charts/agents/values.yaml"),
        format!("image:\n  repository: {HOST}/lab/api\n  tag: latest\ncontrolPlane:\n  image:\n    repository: {HOST}/lab/worker\n    tag: latest\n    digest: \"\"\ncontrollers:\n  enabled: true\n"),
    )
    .expect("written");
    std::fs::write(dir.join("apps/application.yaml"), &with_parameter).expect("written");
    let out = pin(&dir, registry.port, &["apps"]).assert_exit_both(2);
    assert!(
        out.stderr.contains(
            "its tag is the helm parameter \"image.tag\", and the chart's values have no digest key beside it"
        ),
        "{}",
        out.stderr
    );
}
