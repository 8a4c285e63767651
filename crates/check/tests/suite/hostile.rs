//! Hostile and unusual input (issue 32): every reader either reads it as kubectl, git or
//! helm would, or says what it did not read and exits 2, and every output stays valid for
//! the strict readers of its format whatever a name holds.

use crate::harness::{TestCommand, assert_schema_value_valid, checker, python, workspace, write};
use serde_json::Value;
use std::path::Path;

fn pod(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: ns\nspec:\n  containers:\n  - name: c\n    image: {image}\n"
    )
}

/// Rows: (what, file name, text, exit, a line the report must hold).
#[test]
fn manifests_are_read_as_kubectl_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: [(&str, &str, String, i32, &str); 4] = [
        (
            "a List inside a List",
            "nested.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: inner, namespace: ns}\n    spec:\n      containers:\n      - {name: c, image: \"nginx:latest\"}\n".to_owned(),
            1,
            "nested.yaml:12:26: Pod ns/inner: spec.containers[0]",
        ),
        (
            "a typed list whose items carry no kind, as the API returns them",
            "typed.json",
            r#"{"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [{"metadata": {"name": "web", "namespace": "ns"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}}}]}"#.to_owned(),
            1,
            "typed.json:1:181: Deployment ns/web: spec.template.spec.containers[0]",
        ),
        (
            "flow-style YAML that starts like JSON",
            "flow.yaml",
            "{apiVersion: v1, kind: Pod, metadata: {name: flow, namespace: ns}, spec: {containers: [{name: c, image: \"nginx:latest\"}]}}\n".to_owned(),
            1,
            "flow.yaml:1:105: Pod ns/flow: spec.containers[0]",
        ),
        (
            "JSON that is not JSON, in a .json file: a JSON error",
            "bad.json",
            "{apiVersion: v1}\n".to_owned(),
            2,
            "error: bad.json: document 1: invalid JSON",
        ),
    ];
    for (what, name, text, code, want) in rows {
        let path = tmp.path().join(name);
        write(&path, &text);
        let mut c = checker();
        c.current_dir(tmp.path()).arg(name);
        let out = c.assert_exit(code);
        assert!(out.contains(want), "{what}: {out}");
    }
}

#[test]
fn a_fifo_in_a_directory_is_skipped_with_why_and_a_huge_file_is_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    write(&dir.join("p.yaml"), &pod("p", "nginx:1.27"));
    let fifo = dir.join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut c = checker();
    c.current_dir(tmp.path()).arg("d");
    let out = c.assert_exit(0);
    assert!(
        out.contains(
            "1 skipped (kinds not checked: not a regular file (a FIFO, not read): d/pipe.yaml 1)"
        ),
        "{out}"
    );
    let mut c = checker();
    c.args(["--max-file-size", "1000000", "/dev/zero"]);
    let out = c.assert_exit(2);
    assert!(
        out.contains("error: /dev/zero: larger than 1000000 bytes (--max-file-size): not read"),
        "{out}"
    );
}

/// wasmtime reserves 4 GiB of address space per memory by default: under `ulimit -v` the
/// checker sizes its reservation to the module instead of failing every check.
#[test]
fn the_checker_runs_under_an_address_space_limit() {
    let script = format!(
        "ulimit -v 4000000 && exec {} --policy {} --quiet examples/agents-render-drifted.yaml",
        env!("CARGO_BIN_EXE_image-digest-check"),
        image_digest_testkit::policy::policy_wasm().display()
    );
    let mut sh = std::process::Command::new("bash");
    // The suites' module cache: the limited engine's entry is compiled once, then reused.
    sh.args(["-c", &script]).env(
        "IMAGE_DIGEST_CHECK_CACHE",
        image_digest_testkit::policy::module_cache(),
    );
    let out = TestCommand::of(sh).assert_exit(1);
    assert!(
        out.contains("2 workloads checked, 1 accepted (1 with warnings), 1 rejected"),
        "{out}"
    );
}

#[test]
fn a_cache_path_that_is_a_file_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cache");
    write(&file, "not a directory");
    let mut c = TestCommand::bare();
    c.env("IMAGE_DIGEST_CHECK_CACHE", &file)
        .args(["--quiet", "examples/agents-render.yaml"]);
    let out = c.assert_exit_both(0);
    assert_eq!(
        out.stderr
            .matches("not using the compiled-module cache")
            .count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);
}

/// Names that hold what YAML, XML or a line-oriented reader cannot take: DEL, C1 controls,
/// U+FFFE, U+FFFF, a line break (that would forge a `file:line:col:` finding), and files whose
/// names hold `:` (a URI scheme), `#` (a fragment; an input error filed under `bad`) and `,`.
/// (as written in double-quoted YAML, the name it reads as).
const NAMES: [(&str, &str); 6] = [
    ("del\\x7fx", "del\u{7f}x"),
    ("c1\\x85\\x9fx", "c1\u{85}\u{9f}x"),
    ("nonchar\\uFFFE\\uFFFFx", "nonchar\u{fffe}\u{ffff}x"),
    ("a_b", "a_b"),
    ("a-b", "a-b"),
    (
        "nl\\nforged.yaml:1:1: accepted",
        "nl\nforged.yaml:1:1: accepted",
    ),
];

fn hostile_tree(dir: &Path) {
    let mut stream = String::new();
    for (n, _) in NAMES {
        let quoted = format!("\"{n}\"");
        stream.push_str(&pod(&quoted, "nginx:latest"));
        stream.push_str("---\n");
    }
    write(&dir.join("co:lon,a.yaml"), &stream);
    write(&dir.join("bad#1.yaml"), "kind: [unclosed\n");
}

fn run(dir: &Path, format: &str) -> String {
    let mut c = checker();
    c.current_dir(dir)
        .args(["--output", format, "co:lon,a.yaml", "bad#1.yaml"]);
    c.assert_exit(2)
}

/// JUnit XML read back by a strict XML 1.0 parser.
fn assert_well_formed_xml(junit: &str) {
    let out = python(
        "import sys, xml.dom.minidom\nxml.dom.minidom.parseString(sys.stdin.buffer.read())\nprint('ok')",
        junit,
    );
    assert!(
        out.status.success(),
        "{}\n{junit}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An OpenReports stream read back by a strict YAML reader, each document valid against the
/// `Report` CRD.
fn openreports_read_back(reports: &str) -> Vec<Value> {
    let out = python(
        "import sys, json, yaml\nprint(json.dumps(list(yaml.safe_load_all(sys.stdin.read()))))",
        reports,
    );
    assert!(
        out.status.success(),
        "{}\n{reports}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let text = std::fs::read_to_string(
        workspace().join("e2e-tests/openreports/openreports.io_reports.yaml"),
    )
    .unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    let schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    for d in &docs {
        assert_schema_value_valid(&schema, d);
    }
    docs
}

#[test]
fn every_output_stays_valid_whatever_a_name_holds() {
    let tmp = tempfile::tempdir().unwrap();
    hostile_tree(tmp.path());

    // Text: one line per finding; no name starts a line of its own.
    let text = run(tmp.path(), "text");
    assert!(
        !text.lines().any(|l| l.starts_with("forged.yaml")),
        "{text}"
    );
    assert_eq!(text.matches("[mutable-tag]").count(), NAMES.len(), "{text}");
    assert!(
        text.contains("error: bad#1.yaml: document 1: invalid YAML"),
        "{text}"
    );

    // GitHub: the file property escaped (`:` and `,` end a property).
    let github = run(tmp.path(), "github");
    assert!(
        github.contains("::error file=co%3Alon%2Ca.yaml,line="),
        "{github}"
    );
    assert!(
        github.contains("file=bad#1.yaml"),
        "filed under its own name: {github}"
    );
    assert!(!github.lines().any(|l| l.starts_with("forged")), "{github}");

    // SARIF: valid against the schema, URIs percent-encoded relative references.
    let sarif = run(tmp.path(), "sarif");
    crate::harness::assert_schema_valid("crates/check/tests/data/sarif-schema-2.1.0.json", &sarif);
    let doc: Value = serde_json::from_str(&sarif).unwrap();
    let uris: std::collections::BTreeSet<String> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        uris.into_iter().collect::<Vec<_>>(),
        ["bad%231.yaml", "co%3Alon%2Ca.yaml"]
    );

    // JUnit: well-formed XML 1.0.
    assert_well_formed_xml(&run(tmp.path(), "junit"));

    // OpenReports: a YAML stream a strict reader takes, every document valid against its
    // CRD, every name a DNS-1123 subdomain, and no two resources sharing one report.
    let docs = openreports_read_back(&run(tmp.path(), "openreports"));
    let mut names = std::collections::BTreeSet::new();
    for d in &docs {
        let name = d["metadata"]["name"].as_str().unwrap().to_owned();
        assert!(
            name.len() <= 253
                && name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'.'),
            "{name}"
        );
        names.insert(name);
    }
    assert_eq!(
        names.len(),
        NAMES.len(),
        "one report per resource: {names:?}"
    );
    // The values read back are the names as written.
    let scoped: std::collections::BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d["scope"]["name"].as_str())
        .collect();
    for (_, n) in NAMES {
        assert!(scoped.contains(n), "{n:?} in {scoped:?}");
    }
}

/// A Pod of `kubectl get pods -o json`, running `image` as `image_id`.
fn running_pod(name: &str, image: &str, image_id: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"containers": [{"name": "web", "image": image}]},
        "status": {"containerStatuses": [{"name": "web", "image": image, "imageID": image_id, "ready": true}]},
    })
}

fn pods(items: &[Value]) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// An `imageID` that is not a registry digest (too short, a TAB in it) is never written as a
/// pin; the same pod twice (two snapshots) is an input error, not silently the last one.
#[test]
fn live_trusts_no_image_id_it_did_not_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let good = format!("docker.io/library/redis@sha256:{}", "a".repeat(64));
    let input = pods(&[
        running_pod("short", "nginx:1.27", "docker.io/library/nginx@sha256:abc"),
        running_pod(
            "tab",
            "busybox:1.36",
            &format!("docker.io/library/busy\tbox@sha256:{}", "b".repeat(64)),
        ),
        running_pod("fine", "redis:7", &good),
    ]);
    write(&tmp.path().join("pods.json"), &input);
    let mut c = checker();
    c.current_dir(tmp.path())
        .args(["live", "--output", "pins", "pods.json"]);
    let out = c.assert_exit(0);
    assert_eq!(
        out,
        format!("shop/Pod/fine\tweb\tredis:7@sha256:{}\n", "a".repeat(64))
    );

    let twice = pods(&[
        running_pod("fine", "redis:7", &good),
        running_pod(
            "fine",
            "redis:7",
            &format!("docker.io/library/redis@sha256:{}", "c".repeat(64)),
        ),
    ]);
    write(&tmp.path().join("twice.json"), &twice);
    let mut c = checker();
    c.current_dir(tmp.path()).args(["live", "twice.json"]);
    let out = c.assert_exit(2);
    assert!(out.contains("Pod shop/fine is here a second time"), "{out}");
    write(&tmp.path().join("deploy.yaml"), &pod("p", "redis:7"));
    let mut c = TestCommand::bare();
    c.current_dir(tmp.path())
        .args(["pin", "--from-live", "twice.json", "deploy.yaml"]);
    let out = c.assert_exit_both(2);
    assert!(out.stderr.contains("a second time"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("deploy.yaml")).unwrap(),
        pod("p", "redis:7")
    );
}

#[test]
fn pin_never_writes_a_digest_that_is_not_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, _) = scripted_registry("200 OK", "Docker-Content-Digest: sha256:abc\r\n", "");
    let out = pin_one(tmp.path(), port);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("answered \"sha256:abc\" as the manifest's digest, which is not a digest"),
        "{said}"
    );
}

/// A registry that answers every manifest request with `status` and the `extra` headers
/// (`Docker-Content-Digest: …`, `Retry-After: …`), and a `GET` with `body`: what a hostile
/// registry, a truncating proxy or a rate limit looks like. Counts the manifest requests.
fn scripted_registry(
    status: &'static str,
    extra: &'static str,
    body: &'static str,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use image_digest_testkit::scripted::{Answer, serve};
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let port = serve(64, move |_, path| {
        if path.contains("/manifests/") {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let headers =
                format!("Content-Type: application/vnd.oci.image.index.v1+json\r\n{extra}");
            Answer::new(status, &headers, body)
        } else {
            Answer::new("200 OK", "", "")
        }
    });
    (port, seen)
}

fn pin_one(tmp: &Path, port: u16) -> crate::harness::Ran {
    let image = format!("127.0.0.1:{port}/lab/web:1.0");
    write(&tmp.join("deploy.yaml"), &pod("p", &image));
    let mut c = TestCommand::bare();
    c.current_dir(tmp)
        .env("DOCKER_CONFIG", tmp.join("none"))
        .args([
            "pin",
            "--insecure-registry",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "5",
            "deploy.yaml",
        ]);
    let out = c.assert_exit_both(2);
    assert_eq!(
        std::fs::read_to_string(tmp.join("deploy.yaml")).unwrap(),
        pod("p", &image)
    );
    out
}

/// Without the digest header the body is read: a truncated one is refused, never hashed.
#[test]
fn pin_never_hashes_a_body_that_is_not_a_whole_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, _) = scripted_registry(
        "200 OK",
        "",
        "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\", \"manif",
    );
    let out = pin_one(tmp.path(), port);
    assert!(
        out.stderr
            .contains("bytes that are not a manifest (truncated?"),
        "{}",
        out.stderr
    );
}

/// A 429's `Retry-After` is waited for, then the lookup tried again (three attempts).
#[test]
fn pin_honours_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, seen) = scripted_registry("429 Too Many Requests", "Retry-After: 1\r\n", "");
    let started = std::time::Instant::now();
    let out = pin_one(tmp.path(), port);
    assert!(
        out.stderr.contains("too many requests; Retry-After 1 s"),
        "{}",
        out.stderr
    );
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "three attempts"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "waited as asked"
    );
}

/// `live` reads a `kubectl get pods -A -o json` List item by item, in batches: its memory
/// grows with the input by less than 3× (the text itself, then one batch of documents and
/// the results), not with a parsed copy of the whole dump.
#[test]
fn live_memory_grows_less_than_three_times_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    // A Pod as the API returns it (the live fixture's first), under new names.
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("e2e-tests/live/pods.json")).unwrap(),
    )
    .unwrap();
    let template = fixture["items"][0].clone();
    let peak = |pods: usize| -> (u64, u64) {
        let items: Vec<Value> = (0..pods)
            .map(|i| {
                let mut p = template.clone();
                p["metadata"]["name"] = Value::String(format!("web-{i}"));
                p["metadata"]["uid"] = Value::String(format!("uid-{i}"));
                p
            })
            .collect();
        let text = serde_json::to_string_pretty(
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )
        .unwrap();
        let path = tmp.path().join(format!("pods-{pods}.json"));
        write(&path, &text);
        let mut c = checker();
        c.arg("--stats")
            .args(["live", "--output", "pins"])
            .arg(&path);
        let out = c.assert_exit_both(0);
        let kb: u64 = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("peak memory: "))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}", out.stderr));
        (text.len() as u64, kb * 1024)
    };
    let (small_in, small_peak) = peak(200);
    let (big_in, big_peak) = peak(3500);
    let grown = big_peak.saturating_sub(small_peak);
    let input = big_in - small_in;
    println!("live: memory grew {grown} bytes for {input} more bytes of input");
    assert!(
        grown <= 3 * input,
        "memory grew {grown} bytes for {input} more bytes of input"
    );
}

/// Image volumes run too: the kubelet reports what it mounted as the volume's `imageRef`
/// (KEP-5365: `status.containerStatuses[].volumeMounts[].volumeStatus.image.imageRef`), read
/// like a container's `imageID`: the running digest of a tag-only reference is its pin.
#[test]
fn live_reads_the_running_digest_of_an_image_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", "d".repeat(64));
    let mut pod = running_pod(
        "model",
        "redis:7",
        &format!("docker.io/library/redis@sha256:{}", "a".repeat(64)),
    );
    pod["spec"]["volumes"] = serde_json::json!([{"name": "models", "image": {"reference": "quay.io/crio/artifact:v2", "pullPolicy": "IfNotPresent"}}]);
    pod["status"]["containerStatuses"][0]["volumeMounts"] = serde_json::json!([{
        "name": "models", "mountPath": "/models", "readOnly": true,
        "volumeStatus": {"image": {"imageRef": format!("quay.io/crio/artifact@{digest}")}}
    }]);
    write(&tmp.path().join("pods.json"), &pods(&[pod]));
    let mut c = checker();
    c.current_dir(tmp.path())
        .args(["live", "--output", "pins", "pods.json"]);
    let out = c.assert_exit(0);
    assert!(
        out.contains(&format!(
            "shop/Pod/model\tmodels\tquay.io/crio/artifact:v2@{digest}\n"
        )),
        "{out}"
    );
}

/// `live --verify-registry` against the real registry: a running digest the registry lost is
/// named with its pods (the next reschedule fails), exit 1; while it is there, exit 0.
#[test]
fn live_verify_registry_names_a_running_digest_the_registry_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let mut registry =
        image_digest_testkit::registry::start_deletable(&tmp.path().join("registry"));
    let pushed = image_digest_testkit::images::push_release(
        &registry,
        tmp.path(),
        "lab/app",
        "1.0",
        &[("linux", "amd64")],
    );
    let host = format!("127.0.0.1:{}", registry.port);
    let pod = running_pod(
        "app-1",
        &format!("{host}/lab/app:1.0"),
        &format!("{host}/lab/app@{}", pushed.digest),
    );
    write(&tmp.path().join("pods.json"), &pods(&[pod]));
    let live = |registry: &image_digest_testkit::registry::Registry, extra: &[&str]| {
        let mut c = checker();
        c.current_dir(tmp.path())
            .env("DOCKER_CONFIG", tmp.path().join("none"))
            .args([
                "live",
                "pods.json",
                "--verify-registry",
                "--insecure-registry",
            ])
            .arg(format!("127.0.0.1:{}", registry.port))
            .args(["--timeout", "5"])
            .args(extra);
        c
    };
    let out = live(&registry, &[]).assert_exit(0);
    assert!(
        out.contains("live: registry: 1 running digests present, 0 gone, 0 not checked"),
        "{out}"
    );
    assert_eq!(registry.delete_manifest("lab/app", &pushed.digest), 202);
    registry.stop();
    registry.garbage_collect();
    registry.restart();
    let out = live(&registry, &[]).assert_exit(1);
    assert!(
        out.contains(&format!(
            "Pod shop/app-1 container \"web\": runs {host}/lab/app@{} (pods app-1), and the registry no longer has it"
        , pushed.digest)),
        "{out}"
    );
    assert!(
        out.contains("live: registry: 0 running digests present, 1 gone, 0 not checked"),
        "{out}"
    );
    let json = live(&registry, &["--output", "json"]).assert_exit(1);
    let doc: Value = serde_json::from_str(&json).unwrap();
    let reference = format!("{host}/lab/app@{}", pushed.digest);
    let state = doc["registry"]
        .as_array()
        .and_then(|states| states.iter().find(|s| s["reference"] == reference.as_str()));
    assert_eq!(
        state.map(|s| &s["present"]),
        Some(&Value::Bool(false)),
        "{json}"
    );
    let metrics = live(&registry, &["--output", "prometheus"]).assert_exit(1);
    assert!(
        metrics.contains(&format!(
            "image_digest_present{{repository=\"{host}/lab/app\",digest=\"{}\"}} 0\n",
            pushed.digest
        )),
        "{metrics}"
    );
}

/// `--verify-tags` against the real registry: a tag re-pushed to another image is reported
/// with both digests (a warning: the digest still decides what runs); an unchanged tag is
/// not; a registry that cannot be asked is exit 2.
#[test]
fn verify_tags_reports_a_tag_that_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = image_digest_testkit::registry::start(&tmp.path().join("registry"), None);
    let one = [("linux", "amd64")];
    let first =
        image_digest_testkit::images::push_release(&registry, tmp.path(), "lab/app", "1.0", &one);
    let second =
        image_digest_testkit::images::push_release(&registry, tmp.path(), "lab/app", "2.0", &one);
    let host = format!("127.0.0.1:{}", registry.port);
    let manifest = format!(
        "{}---\n{}",
        pod("one", &format!("{host}/lab/app:1.0@{}", first.digest)),
        pod("two", &format!("{host}/lab/app:2.0@{}", second.digest))
    );
    write(&tmp.path().join("deploy.yaml"), &manifest);
    let check = |port: u16| {
        let mut c = checker();
        c.current_dir(tmp.path())
            .env("DOCKER_CONFIG", tmp.path().join("none"))
            .args(["--verify-tags", "--insecure-registry"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--timeout", "5", "deploy.yaml"]);
        c
    };
    let out = check(registry.port).assert_exit(0);
    assert!(!out.contains("tag-moved"), "{out}");

    // 1.0 re-pushed to the 2.0 image.
    image_digest_testkit::registry::skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/lab/app:2.0"),
        &format!("docker://{host}/lab/app:1.0"),
    ]);
    let out = check(registry.port).assert_exit(0);
    assert!(
        out.contains(&format!(
            "deploy.yaml:9:12: Pod ns/one: warning: image \"{host}/lab/app:1.0@{}\": tag `1.0` now points to {}, not to the pinned {}",
            first.digest, second.digest, first.digest
        )),
        "{out}"
    );
    assert_eq!(out.matches("[tag-moved]").count(), 1, "{out}");

    // The same through Helm values: the composed image's tag is asked.
    write(
        &tmp.path().join("values.yaml"),
        &format!(
            "image:\n  repository: {host}/lab/app\n  tag: \"1.0\"\n  digest: \"{}\"\n",
            first.digest
        ),
    );
    let mut c = checker();
    c.current_dir(tmp.path())
        .env("DOCKER_CONFIG", tmp.path().join("none"))
        .args([
            "values",
            "values.yaml",
            "--verify-tags",
            "--insecure-registry",
        ])
        .arg(&host)
        .args(["--timeout", "5"]);
    let out = c.assert_exit(0);
    assert!(
        out.contains(&format!(
            "tag `1.0` now points to {}, not to the pinned {}",
            second.digest, first.digest
        )),
        "{out}"
    );
    assert!(out.contains("1 accepted (1 with warnings)"), "{out}");

    // Nothing answers: not verified, exit 2.
    let out = check(9).assert_exit(2);
    assert!(
        out.contains("--verify-tags could not verify its tag"),
        "{out}"
    );
}

/// Asked to verify against the registry, with nothing to ask about: not a pass (exit 2)
/// unless `--allow-empty`, for `--verify-tags` (check and values), `live --verify-registry`
/// and `history --verify-registry`.
#[test]
fn verifying_nothing_is_not_a_pass() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("deploy.yaml"), &pod("p", "nginx:1.27"));
    write(
        &tmp.path().join("values.yaml"),
        "image:\n  repository: nginx\n  tag: \"1.27\"\n",
    );
    let local = running_pod("l", "app:dev", "docker://sha256:0123");
    write(&tmp.path().join("pods.json"), &pods(&[local]));
    let runs: [&[&str]; 3] = [
        &["--verify-tags", "deploy.yaml"],
        &["values", "--verify-tags", "values.yaml"],
        &["live", "--verify-registry", "pods.json"],
    ];
    for args in runs {
        let mut c = checker();
        c.current_dir(tmp.path()).args(args);
        let out = c.assert_exit_both(2);
        assert!(
            out.stdout.contains("nothing was verified")
                || out.stdout.contains("no tag was verified"),
            "{args:?}: {}",
            out.stdout
        );
        let mut c = checker();
        c.current_dir(tmp.path()).args(args).arg("--allow-empty");
        c.assert_exit(0);
    }
}

/// `live`'s items (what runs, read from the cluster) in every format that renders them stay
/// valid whatever a pod's or a container's name holds: text and GitHub one line each, SARIF
/// valid against its schema, JUnit well-formed XML, OpenReports a YAML stream valid against
/// its CRD whose names read back as written.
#[test]
fn live_items_stay_valid_whatever_a_name_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let mut items = Vec::new();
    for (i, (_, n)) in NAMES.iter().enumerate() {
        // Two pods of one workload (the pod name's prefix) on two digests: drift, an error item.
        let owner = format!("w{i}{n}");
        for (pod, d) in [("x", 'a'), ("y", 'b')] {
            let mut p = running_pod(
                &format!("{owner}-{pod}"),
                "nginx:1.27",
                &format!("docker.io/library/nginx@{}", digest(d)),
            );
            p["metadata"]["ownerReferences"] = serde_json::json!([{"kind": "ReplicaSet", "name": format!("{owner}-5f6d7c8b9"), "controller": true}]);
            p["metadata"]["name"] = Value::String(format!("{owner}-5f6d7c8b9-{pod}"));
            p["spec"]["containers"][0]["name"] = Value::String(format!("c{n}"));
            p["status"]["containerStatuses"][0]["name"] = Value::String(format!("c{n}"));
            items.push(p);
        }
    }
    write(&tmp.path().join("pods.json"), &pods(&items));
    let live = |format: &str| {
        let mut c = checker();
        c.current_dir(tmp.path())
            .args(["live", "pods.json", "--output", format]);
        c.assert_exit(1)
    };
    let text = live("text");
    assert_eq!(text.matches("[drift]").count(), NAMES.len(), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("forged")), "{text}");
    let github = live("github");
    assert_eq!(
        github.lines().filter(|l| l.starts_with("::error ")).count(),
        NAMES.len(),
        "{github}"
    );
    assert!(!github.lines().any(|l| l.starts_with("forged")), "{github}");
    let sarif = live("sarif");
    crate::harness::assert_schema_valid("crates/check/tests/data/sarif-schema-2.1.0.json", &sarif);
    assert_well_formed_xml(&live("junit"));
    let reports = live("openreports");
    let docs = openreports_read_back(&reports);
    let drifts: Vec<&str> = docs
        .iter()
        .flat_map(|d| d["results"].as_array().into_iter().flatten())
        .filter(|r| r["rule"] == "drift")
        .filter_map(|r| r["message"].as_str())
        .collect();
    assert_eq!(drifts.len(), NAMES.len(), "{reports}");
    for (_, n) in NAMES {
        assert!(
            drifts
                .iter()
                .any(|m| m.contains(&format!("container \"c{}\"", n.escape_debug()))),
            "{n:?} in {drifts:?}"
        );
    }
}
