//! The release artifacts: the annotated module, the OCI round trip through a real registry
//! on loopback, and the committed package files kept in step with metadata.yml.

// A test crate: a panic (an unwrap, an index) is a failing test; helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use image_digest_artifact::{annotate, artifacthub, layout, metadata};
use image_digest_runner::Policy;
use image_digest_testkit::cases;
use image_digest_testkit::registry::{self, skopeo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn annotated() -> Vec<u8> {
    let path = root().join("annotated-policy.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `make annotated-policy.wasm` first",
            path.display()
        )
    })
}

fn read_text(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn meta() -> serde_json::Map<String, Value> {
    metadata::load(&root().join("metadata.yml")).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn the_annotated_module_carries_the_metadata() {
    let wasm = annotated();
    let section = annotate::read(&wasm)
        .expect("parses")
        .expect("has the io.kubewarden.metadata section");
    let m: Value = serde_json::from_slice(&section).expect("the section is JSON");
    assert_eq!(
        m["protocolVersion"], "v1",
        "taken from the module's own protocol_version"
    );
    assert_eq!(m["executionMode"], "kubewarden-wapc");
    assert_eq!(m["mutating"], true);
    assert_eq!(m["backgroundAudit"], true);
    assert_eq!(m["hostCapabilities"][0], "oci/v1/manifest_digest");
    let resources: Vec<&str> = m["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["resources"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    for r in [
        "pods",
        "pods/ephemeralcontainers",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "replicationcontrollers",
    ] {
        assert!(resources.contains(&r), "rules lack {r}: {resources:?}");
    }
    // The user's README, its links into the repository made absolute for ArtifactHub.
    let readme = metadata::absolute_links(
        &read_text("README.md"),
        "https://github.com/image-digest-policy/image-digest-policy/blob/main/",
    );
    assert_eq!(
        m["annotations"][metadata::USAGE].as_str(),
        Some(readme.as_str())
    );
    assert!(readme.contains(
        "(https://github.com/image-digest-policy/image-digest-policy/blob/main/docs/policy.md)"
    ));
    assert_eq!(
        m["annotations"]["io.kubewarden.policy.version"],
        env!("CARGO_PKG_VERSION")
    );
    // The annotated module still runs.
    let policy = Policy::from_bytes(&wasm, Default::default()).expect("loads");
    assert_eq!(policy.protocol_version().unwrap_or_default(), "v1");
}

#[test]
fn oci_round_trip_through_a_real_registry() {
    let wasm = annotated();
    let m = meta();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let pushed = tmp.path().join("layout");
    let digest = layout::write(&pushed, &wasm, &m, &version).expect("layout written");

    let registry = registry::start(tmp.path(), None);
    let remote = format!("127.0.0.1:{}/kubewarden/image-digest-policy", registry.port);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:{version}", pushed.display()),
        &format!("docker://{remote}:{version}"),
    ]);

    // The registry serves the manifest exactly as written.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{remote}:{version}"),
    ]);
    assert_eq!(
        layout::digest_of(raw.as_bytes()),
        digest,
        "the manifest digest survives the push"
    );
    let manifest: Value = serde_json::from_str(&raw).expect("manifest JSON");
    assert_eq!(manifest["config"]["mediaType"], layout::CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(manifest["layers"][0]["mediaType"], layout::LAYER_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["digest"], layout::digest_of(&wasm));
    assert_eq!(
        manifest["annotations"]["io.kubewarden.policy.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.source"],
        manifest["annotations"]["io.kubewarden.policy.source"]
    );
    for (k, v) in manifest["annotations"].as_object().into_iter().flatten() {
        assert!(
            !v.as_str().unwrap_or("").contains('\n'),
            "annotation {k} is not single-line"
        );
    }

    // Pull back by tag and by digest; both give the same artifact.
    let by_tag = tmp.path().join("by-tag");
    let by_digest = tmp.path().join("by-digest");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{remote}:{version}"),
        &format!("oci:{}:pulled", by_tag.display()),
    ]);
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{remote}@{digest}"),
        &format!("oci:{}:pulled", by_digest.display()),
    ]);
    drop(registry);
    let mut pulled = None;
    for dir in [&by_tag, &by_digest] {
        let (manifest, manifest_digest, layer) =
            layout::read(dir, "pulled").expect("the pulled layout reads back");
        assert_eq!(manifest_digest, digest, "{}", dir.display());
        assert_eq!(
            manifest.config().media_type().to_string(),
            layout::CONFIG_MEDIA_TYPE
        );
        assert_eq!(
            layer, wasm,
            "the wasm layer is byte for byte what was pushed"
        );
        pulled = Some(layer);
    }

    // The pulled module evaluates the e2e table like the local one.
    let policy = Policy::from_bytes(&pulled.expect("pulled twice"), Default::default())
        .expect("the pulled module loads");
    let dir = cases::e2e_dir();
    let table = cases::load(&dir).expect("the table loads");
    let failures: Vec<String> = table
        .iter()
        .filter_map(|case| match cases::wasm_outcome(&policy, case, &dir) {
            Ok(o) => case.check(&o).err(),
            Err(e) => Some(format!("{e:#}")),
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "oci round trip: {} e2e cases passed on the pulled module",
        table.len()
    );
}

#[test]
fn artifacthub_pkg_is_current() {
    let committed = std::fs::read_to_string(root().join("artifacthub-pkg.yml"))
        .expect("artifacthub-pkg.yml is committed");
    let created = artifacthub::created_at_of(&committed).expect("it has createdAt");
    let questions = std::fs::read_to_string(root().join("questions-ui.yml"))
        .expect("questions-ui.yml is committed");
    let fresh = artifacthub::generate(&meta(), &questions, &created).expect("generates");
    assert!(
        fresh == committed,
        "artifacthub-pkg.yml is stale: run `make artifacthub-pkg.yml` and commit it"
    );
}

#[test]
fn one_version_everywhere() {
    let cargo = env!("CARGO_PKG_VERSION");
    assert_eq!(
        metadata::annotation(&meta(), "io.kubewarden.policy.version"),
        Some(cargo),
        "metadata.yml"
    );
    assert_eq!(
        image_digest_policy::VERSION,
        cargo,
        "the policy package's own version"
    );
    let pkg: Value = serde_saphyr::from_str(&read_text("artifacthub-pkg.yml")).expect("yaml");
    assert_eq!(pkg["version"].as_str(), Some(cargo), "artifacthub-pkg.yml");
    let m = meta();
    let oci = metadata::annotation(&m, "io.kubewarden.policy.ociUrl").unwrap_or("");
    assert_eq!(
        pkg["containersImages"][0]["image"].as_str(),
        Some(format!("{oci}:v{cargo}").as_str())
    );
}

#[test]
fn questions_ui_covers_every_setting_with_valid_defaults() {
    let q: Value = serde_saphyr::from_str(&read_text("questions-ui.yml")).expect("yaml");
    let mut settings = serde_json::Map::new();
    let mut namespaces = serde_json::Map::new();
    let mut variables = Vec::new();
    for question in q["questions"].as_array().expect("a questions list") {
        let var = question["variable"].as_str().expect("variable").to_owned();
        let default: Value = serde_json::to_value(&question["default"]).expect("default");
        assert!(
            question["description"]
                .as_str()
                .is_some_and(|d| d.len() > 20),
            "{var} needs help text"
        );
        match var.strip_prefix("namespaces.") {
            Some(k) => namespaces.insert(k.to_owned(), default),
            None => settings.insert(var.clone(), default),
        };
        variables.push(var);
    }
    settings.insert("namespaces".into(), Value::Object(namespaces));
    variables.sort();
    assert_eq!(
        variables,
        [
            "allowExistingViolations",
            "allowedDigestAlgorithms",
            "customKinds",
            "exemptImages",
            "exemptPaths",
            "mutableTags",
            "namespaces.exclude",
            "namespaces.include",
            "pinDigests",
            "presets",
            "requireDigest",
            "requireTag",
            "verifyTagDigest",
            "warnUnpinned"
        ]
    );
    let policy = Policy::from_bytes(&annotated(), Default::default()).expect("loads");
    let verdict = policy
        .validate_settings(&Value::Object(settings))
        .expect("validate_settings runs");
    assert!(
        verdict.valid,
        "the form's defaults are valid settings: {:?}",
        verdict.message
    );
}

/// The artifact of a policy about digests must have one digest: `annotate` and `layout` run
/// twice on the same module give byte-identical files and the same manifest digest.
#[test]
fn annotate_and_layout_are_reproducible() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let mut digests = Vec::new();
    let mut trees = Vec::new();
    for run in ["one", "two"] {
        let dir = tmp.path().join(run);
        let annotated = dir.join("annotated-policy.wasm");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        artifact(&[
            "annotate",
            "--metadata",
            "metadata.yml",
            "--readme",
            "README.md",
            "-o",
            &annotated.display().to_string(),
            &image_digest_testkit::policy::policy_wasm()
                .display()
                .to_string(),
        ]);
        let layout = dir.join("oci-layout");
        artifact(&[
            "layout",
            "--metadata",
            "metadata.yml",
            "-o",
            &layout.display().to_string(),
            &annotated.display().to_string(),
        ]);
        let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
        let (_, digest, _) = layout::read(&layout, &tag).expect("the layout reads back");
        digests.push(digest);
        trees.push(files_under(&dir));
    }
    assert_eq!(
        digests[0], digests[1],
        "the manifest digest changed between two runs"
    );
    assert_eq!(trees[0].len(), trees[1].len());
    for ((a, bytes_a), (b, bytes_b)) in trees[0].iter().zip(&trees[1]) {
        assert_eq!(a, b);
        assert!(
            bytes_a == bytes_b,
            "{} differs between two runs",
            a.display()
        );
    }
}

fn artifact(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_image-digest-artifact"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("image-digest-artifact runs");
    assert!(
        out.status.success(),
        "image-digest-artifact {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file below `dir`, by path relative to it, sorted, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let rel = path.strip_prefix(dir).expect("below dir").to_path_buf();
                out.push((rel, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Size is deterministic: a regression in the module's size fails CI, not a benchmark.
#[test]
fn policy_wasm_fits_its_size_budget() {
    const BUDGET: u64 = 400_000;
    let path = image_digest_testkit::policy::policy_wasm();
    let size = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `make policy.wasm`", path.display()))
        .len();
    eprintln!("policy.wasm: {size} bytes (budget {BUDGET})");
    assert!(
        size <= BUDGET,
        "policy.wasm is {size} bytes, over its {BUDGET}-byte budget"
    );
}
