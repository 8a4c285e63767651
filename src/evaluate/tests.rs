//! Table-driven tests of whole requests through `validate`.

use super::*;
use crate::host::FakeHost;
use serde_json::{Value, json};

const H64: &str = crate::TEST_H64;

fn pinned(repo: &str) -> String {
    format!("{repo}@sha256:{H64}")
}

/// An AdmissionRequest as the API server sends it. The core's own (the testkit's
/// `admission_request` serves every other crate): a dev-dependency of the core on the testkit,
/// which depends on the core, would compile the core twice for its unit tests.
fn request(op: &str, group: &str, kind: &str, resource: &str, ns: &str, object: Value) -> Value {
    let version = "v1";
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "namespace": ns,
        "operation": op,
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    })
}

fn pod(name: &str, ns: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image, "ports": [{"containerPort": 80}]}))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"containers": containers, "restartPolicy": "Always"}
    })
}

fn deployment(name: &str, ns: &str, images: &[&str]) -> Value {
    let p = pod(name, ns, images);
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": p["spec"]}}
    })
}

fn payload(request: Value, settings: Value) -> String {
    json!({"request": request, "settings": settings}).to_string()
}

fn run(request: Value, settings: Value) -> Verdict {
    validate(payload(request, settings).as_bytes())
}

fn assert_verdict(
    v: &Verdict,
    accepted: bool,
    message_parts: &[&str],
    warning_parts: &[&str],
    ctx: &str,
) {
    assert_eq!(v.accepted, accepted, "{ctx}: {v:?}");
    let message = v.message.clone().unwrap_or_default();
    for part in message_parts {
        assert!(
            message.contains(part),
            "{ctx}: message {message:?} lacks {part:?}"
        );
    }
    let warnings = v.warning_texts().join("\n");
    for part in warning_parts {
        assert!(
            warnings.contains(part),
            "{ctx}: warnings {warnings:?} lack {part:?}"
        );
    }
    if warning_parts.is_empty() {
        assert!(
            v.warnings.is_empty(),
            "{ctx}: unexpected warnings {:?}",
            v.warnings
        );
    }
}

#[test]
fn every_kind_and_container_list_is_checked_with_its_path() {
    let spec = json!({
        "initContainers": [{"name": "init", "image": pinned("busybox:1.36")}, {"name": "migrate", "image": "busybox"}],
        "containers": [{"name": "app", "image": pinned("nginx:1.27")}, {"name": "side", "image": "envoy:latest"}],
        "ephemeralContainers": [{"name": "debug", "image": "Debug:1"}]
    });
    let kinds: [(&str, &str, &str, Value); 8] = [
        (
            "",
            "Pod",
            "pods",
            json!({"metadata": {"name": "w"}, "spec": spec}),
        ),
        (
            "apps",
            "Deployment",
            "deployments",
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        ),
        (
            "apps",
            "ReplicaSet",
            "replicasets",
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        ),
        (
            "apps",
            "StatefulSet",
            "statefulsets",
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        ),
        (
            "apps",
            "DaemonSet",
            "daemonsets",
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        ),
        (
            "batch",
            "Job",
            "jobs",
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        ),
        (
            "",
            "ReplicationController",
            "replicationcontrollers",
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": spec}}}),
        ),
        (
            "batch",
            "CronJob",
            "cronjobs",
            json!({"metadata": {"name": "w"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
        ),
    ];
    for (group, kind, resource, object) in kinds {
        let v = run(
            request("CREATE", group, kind, resource, "team", object),
            json!({}),
        );
        let base = Shape::of(group, kind).unwrap().pod_spec_path();
        assert_verdict(
            &v,
            false,
            &[
                &format!("{kind} team/w: 3 container images break"),
                &format!(
                    "- {base}.initContainers[1] (container \"migrate\"): image \"busybox\" (docker.io/library/busybox:latest): no tag and no digest"
                ),
                &format!("- {base}.containers[1] (container \"side\"): image \"envoy:latest\""),
                &format!(
                    "- {base}.ephemeralContainers[0] (container \"debug\"): image \"Debug:1\": not a valid image reference: the repository must be lowercase"
                ),
            ],
            &[],
            kind,
        );
        let message = v.message.unwrap_or_default();
        assert!(
            !message.contains("initContainers[0]")
                && !message.contains("containers[0] (container \"app\")"),
            "{kind}: pinned images listed: {message}"
        );
    }
}

#[test]
fn contract_examples_as_whole_requests() {
    let cases: Vec<(String, Value, bool, &str)> = vec![
        (
            format!("registry.ide-newton.ts.net/lab/jangar:5b72ee1e@sha256:{H64}"),
            json!({}),
            true,
            "",
        ),
        ("nginx:1.27".into(), json!({}), true, ""),
        (
            "nginx:1.27".into(),
            json!({"requireDigest": true}),
            false,
            "no digest, and requireDigest is on",
        ),
        ("nginx".into(), json!({}), false, "runs `latest` implicitly"),
        (
            "nginx:latest".into(),
            json!({}),
            false,
            "tag `latest` is mutable",
        ),
        (
            "localhost:5000/app".into(),
            json!({}),
            false,
            "runs `latest` implicitly",
        ),
        (pinned("nginx:latest"), json!({}), true, ""),
        (pinned("nginx"), json!({}), false, "a digest but no tag"),
        (pinned("nginx"), json!({"requireTag": false}), true, ""),
        (
            "nginx:1.27@sha256:abc".into(),
            json!({}),
            false,
            "must be 64 lowercase hex digits",
        ),
        (
            format!("nginx:1.27@sha256:{}", H64.to_uppercase()),
            json!({}),
            false,
            "hex must be lowercase",
        ),
        (
            format!("nginx:1.27@md5:{}", "0".repeat(32)),
            json!({}),
            false,
            "unsupported digest algorithm `md5`",
        ),
        (
            "Nginx:1.27".into(),
            json!({}),
            false,
            "repository must be lowercase",
        ),
        (
            format!("nginx:1.27@sha256:{H64}@sha256:{H64}"),
            json!({}),
            false,
            "more than one digest",
        ),
    ];
    for (image, settings, accepted, part) in cases {
        let v = run(
            request(
                "CREATE",
                "",
                "Pod",
                "pods",
                "default",
                pod("p", "default", &[&image]),
            ),
            settings.clone(),
        );
        assert_eq!(v.accepted, accepted, "{image} {settings}: {v:?}");
        assert!(
            v.message.as_deref().unwrap_or("").contains(part),
            "{image}: {v:?}"
        );
    }
}

#[test]
fn unpinned_images_warn_while_warn_unpinned_is_on() {
    let req = || {
        request(
            "CREATE",
            "",
            "Pod",
            "pods",
            "default",
            pod("p", "default", &["nginx:1.27"]),
        )
    };
    let v = run(req(), json!({}));
    assert_verdict(
        &v,
        true,
        &[],
        &[
            "spec.containers[0] (container \"c0\"): image \"nginx:1.27\" is not pinned by a digest; pin it as nginx:1.27@sha256:<digest>",
        ],
        "warn",
    );
    assert_verdict(
        &run(req(), json!({"warnUnpinned": false})),
        true,
        &[],
        &[],
        "no warn",
    );
}

#[test]
fn operations_other_than_create_and_update_are_accepted() {
    for op in ["DELETE", "CONNECT"] {
        let v = run(
            request(
                op,
                "",
                "Pod",
                "pods",
                "default",
                pod("p", "default", &["nginx"]),
            ),
            json!({}),
        );
        assert_verdict(&v, true, &[], &[], op);
    }
    let update = request(
        "UPDATE",
        "",
        "Pod",
        "pods",
        "default",
        pod("p", "default", &["nginx"]),
    );
    assert!(!run(update, json!({})).accepted);
}

#[test]
fn other_kinds_and_subresources_are_not_ours() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "nginx"}});
    assert_verdict(
        &run(
            request("CREATE", "", "ConfigMap", "configmaps", "default", cm),
            json!({}),
        ),
        true,
        &[],
        &[],
        "configmap",
    );
    let mut status = request(
        "UPDATE",
        "",
        "Pod",
        "pods",
        "default",
        pod("p", "default", &["nginx"]),
    );
    status["subResource"] = json!("status");
    assert_verdict(&run(status, json!({})), true, &[], &[], "pods/status");
    let crd = request(
        "CREATE",
        "example.com",
        "Deployment",
        "deployments",
        "default",
        json!({"spec": {"template": "not a template"}}),
    );
    assert_verdict(&run(crd, json!({})), true, &[], &[], "custom Deployment");
}

#[test]
fn the_ephemeral_containers_subresource_is_checked_like_a_pod() {
    let mut object = pod("p", "default", &[&pinned("nginx:1.27")]);
    object["spec"]["ephemeralContainers"] =
        json!([{"name": "debugger-x1", "image": "busybox", "targetContainerName": "c0"}]);
    let mut req = request("UPDATE", "", "Pod", "pods", "default", object);
    req["subResource"] = json!("ephemeralcontainers");
    let v = run(req, json!({}));
    assert_verdict(
        &v,
        false,
        &[
            "Pod default/p",
            "spec.ephemeralContainers[0] (container \"debugger-x1\"): image \"busybox\"",
        ],
        &[],
        "kubectl debug",
    );
}

#[test]
fn namespace_scope() {
    let settings = json!({"requireDigest": true, "namespaces": {"include": ["prod-*"], "exclude": ["prod-sandbox"]}});
    let cases = [("prod-eu", false), ("prod-sandbox", true), ("dev", true)];
    for (ns, accepted) in cases {
        let v = run(
            request(
                "CREATE",
                "apps",
                "Deployment",
                "deployments",
                ns,
                deployment("d", ns, &["nginx:1.27"]),
            ),
            settings.clone(),
        );
        assert_eq!(v.accepted, accepted, "{ns}: {v:?}");
    }
    // Offline requests carry no namespace: the object's, else `default`.
    let mut offline = request(
        "CREATE",
        "apps",
        "Deployment",
        "deployments",
        "",
        deployment("d", "prod-eu", &["nginx:1.27"]),
    );
    offline.as_object_mut().unwrap().remove("namespace");
    let v = run(offline, settings.clone());
    assert_verdict(
        &v,
        false,
        &["Deployment prod-eu/d"],
        &[],
        "offline namespace",
    );
    let mut no_ns = deployment("d", "", &["nginx:1.27"]);
    no_ns["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    let mut req = request("CREATE", "apps", "Deployment", "deployments", "", no_ns);
    req.as_object_mut().unwrap().remove("namespace");
    assert_verdict(
        &run(req.clone(), json!({"requireDigest": true})),
        false,
        &["Deployment default/d"],
        &[],
        "default namespace",
    );
    assert_verdict(&run(req, settings), true, &[], &[], "default is not prod-*");
}

#[test]
fn exemptions_skip_rules_but_not_validity() {
    let settings =
        json!({"requireDigest": true, "exemptImages": ["registry.example.com/*", "busybox:1.36"]});
    let images = [
        "registry.example.com/team/app:latest",
        "busybox:1.36",
        "registry.example.com.evil.io/x:1",
        "busybox:1.37",
        "registry.example.com/Team/app:1",
    ];
    let v = run(
        request(
            "CREATE",
            "",
            "Pod",
            "pods",
            "default",
            pod("p", "default", &images),
        ),
        settings,
    );
    assert_verdict(
        &v,
        false,
        &[
            "3 container images break",
            "containers[2]",
            "containers[3]",
            "containers[4]",
        ],
        &[],
        "exemptions",
    );
    let m = v.message.unwrap_or_default();
    assert!(
        !m.contains("containers[0]") && !m.contains("containers[1]"),
        "{m}"
    );
}

#[test]
fn update_with_and_without_existing_violations() {
    let old = deployment("d", "team", &["nginx:latest", &pinned("redis:7")]);
    let new = deployment(
        "d",
        "team",
        &["nginx:latest", "redis:latest", &pinned("envoy:1")],
    );
    let mut req = request("UPDATE", "apps", "Deployment", "deployments", "team", new);
    req["oldObject"] = old;
    let blocked = run(req.clone(), json!({}));
    assert_verdict(
        &blocked,
        false,
        &["2 container images break", "containers[0]", "containers[1]"],
        &[],
        "without allowExistingViolations",
    );
    let kept = run(req.clone(), json!({"allowExistingViolations": true}));
    assert_verdict(
        &kept,
        false,
        &[
            "1 container image breaks",
            "containers[1] (container \"c1\"): image \"redis:latest\"",
        ],
        &[
            "existing violation kept by allowExistingViolations: spec.template.spec.containers[0] (container \"c0\"): image \"nginx:latest\"",
        ],
        "with allowExistingViolations",
    );
    // Same container, different bad image: a new finding.
    req["oldObject"] = deployment("d", "team", &["nginx:1.0-latest-x", "redis:latest"]);
    req["object"] = deployment("d", "team", &["nginx:latest", "redis:latest"]);
    let v = run(req.clone(), json!({"allowExistingViolations": true}));
    assert_verdict(
        &v,
        false,
        &["1 container image breaks", "containers[0]"],
        &["containers[1]"],
        "changed image",
    );
    // CREATE never has existing violations.
    let create = request(
        "CREATE",
        "apps",
        "Deployment",
        "deployments",
        "team",
        deployment("d", "team", &["nginx:latest"]),
    );
    assert!(!run(create, json!({"allowExistingViolations": true})).accepted);
}

#[test]
fn invalid_settings_reject_the_request() {
    let v = run(
        request(
            "CREATE",
            "",
            "Pod",
            "pods",
            "default",
            pod("p", "default", &[&pinned("a:1")]),
        ),
        json!({"requireDigests": true}),
    );
    assert_verdict(
        &v,
        false,
        &["invalid settings: unknown key `requireDigests`"],
        &[],
        "typo",
    );
}

#[test]
fn malformed_requests_say_what_is_wrong() {
    let good = request(
        "CREATE",
        "",
        "Pod",
        "pods",
        "default",
        pod("p", "default", &["nginx:1"]),
    );
    let mut no_op = good.clone();
    no_op.as_object_mut().unwrap().remove("operation");
    let mut no_object = good.clone();
    no_object["object"] = Value::Null;
    let mut bad_containers = good.clone();
    bad_containers["object"]["spec"]["containers"] = json!("nginx");
    let mut bad_name = good.clone();
    bad_name["object"]["spec"]["containers"][0]["name"] = json!(["x"]);
    let mut bad_op = good.clone();
    bad_op["operation"] = json!(7);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"not json".to_vec(),
            "malformed admission request: payload: expected ident",
        ),
        (b"".to_vec(), "malformed admission request: payload: EOF"),
        (vec![0xff, 0xfe], "the payload is not UTF-8"),
        (b"[]".to_vec(), "payload: invalid type: sequence"),
        (b"{}".to_vec(), "the payload has no `request`"),
        (
            br#"{"request": 5}"#.to_vec(),
            "request: invalid type: integer `5`",
        ),
        (
            br#"{"request": {}} trailing"#.to_vec(),
            "payload: trailing characters",
        ),
        (
            json!({"request": no_op}).to_string().into_bytes(),
            "request.operation is missing",
        ),
        (
            json!({"request": no_object}).to_string().into_bytes(),
            "request.object is missing",
        ),
        (
            json!({"request": bad_containers}).to_string().into_bytes(),
            "request.object.spec.containers: invalid type: string \"nginx\", expected a sequence",
        ),
        (
            json!({"request": bad_name}).to_string().into_bytes(),
            "request.object.spec.containers[0].name: invalid type: sequence",
        ),
        (
            json!({"request": bad_op}).to_string().into_bytes(),
            "request.operation: invalid type: integer `7`",
        ),
    ];
    for (payload, part) in cases {
        let v = validate(&payload);
        assert!(!v.accepted, "{part}");
        let m = v.message.unwrap_or_default();
        assert!(m.contains(part), "{m:?} lacks {part:?}");
    }
}

#[test]
fn non_string_images_are_findings_not_malformed_requests() {
    let mut object = pod("p", "default", &["nginx:1"]);
    object["spec"]["containers"] = json!([{"name": "a", "image": 5}, {"name": "b", "image": null}, {"name": "c"}, {"name": "d", "image": {"x": 1}}, {"name": "e", "image": ""}]);
    let v = run(
        request("CREATE", "", "Pod", "pods", "default", object),
        json!({}),
    );
    assert_verdict(
        &v,
        false,
        &[
            "5 container images break",
            "must be a string, found a number",
            "the image is null",
            "no image",
            "found an object",
            "the image is empty",
        ],
        &[],
        "types",
    );
}

#[test]
fn many_findings_are_capped_and_counted() {
    let images: Vec<String> = (0..30).map(|i| format!("app{i}:latest")).collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let v = run(
        request(
            "CREATE",
            "",
            "Pod",
            "pods",
            "default",
            pod("p", "default", &refs),
        ),
        json!({}),
    );
    let m = v.message.unwrap_or_default();
    assert!(
        m.starts_with("Pod default/p: 30 container images break"),
        "{m}"
    );
    assert!(m.ends_with("… and 10 more"), "{m}");
}

#[test]
fn settings_validation_entry_point() {
    assert_eq!(
        validate_settings(b"{}"),
        SettingsVerdict {
            valid: true,
            message: None
        }
    );
    assert_eq!(
        validate_settings(b"null"),
        SettingsVerdict {
            valid: true,
            message: None
        }
    );
    let bad = validate_settings(br#"{"requireDigests": true, "mutableTags": "latest"}"#);
    assert!(!bad.valid);
    let m = bad.message.unwrap_or_default();
    assert!(
        m.contains("`requireDigests`") && m.contains("mutableTags must be a list"),
        "{m}"
    );
    let not_json = validate_settings(b"{");
    assert!(!not_json.valid && not_json.message.unwrap_or_default().contains("not JSON"));
}

fn run_with(request: Value, settings: Value, host: &mut FakeHost) -> Verdict {
    validate_with(payload(request, settings).as_bytes(), host)
}

const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn pin_digests_rewrites_tag_only_images_once_per_distinct_image() {
    let digest = format!("sha256:{H64}");
    let mut host = FakeHost::new(&[("nginx:1.27", Ok(&digest)), ("redis:7", Ok(&digest))]);
    let images = [
        "nginx:1.27",
        "redis:7",
        "nginx:1.27",
        &pinned("envoy:1"),
        "busybox:1.36",
    ];
    let object = pod("p", "default", &images);
    let settings = json!({"pinDigests": true, "exemptImages": ["busybox"]});
    let v = run_with(
        request("CREATE", "", "Pod", "pods", "default", object.clone()),
        settings,
        &mut host,
    );
    assert_verdict(&v, true, &[], &[], "pinned");
    assert_eq!(
        host.calls,
        ["nginx:1.27", "redis:7"],
        "one lookup per distinct image; pinned and exempt ones untouched"
    );
    let mut expected = object;
    expected["spec"]["containers"][0]["image"] = json!(format!("nginx:1.27@{digest}"));
    expected["spec"]["containers"][1]["image"] = json!(format!("redis:7@{digest}"));
    expected["spec"]["containers"][2]["image"] = json!(format!("nginx:1.27@{digest}"));
    assert_eq!(
        v.mutated_object,
        Some(expected),
        "only the image fields change"
    );
}

#[test]
fn pin_digests_lookup_failures() {
    let req = || {
        request(
            "CREATE",
            "apps",
            "Deployment",
            "deployments",
            "team",
            deployment("d", "team", &["ghcr.io/x/app:2"]),
        )
    };
    let mut host = FakeHost::new(&[]);
    let v = run_with(req(), json!({"pinDigests": true}), &mut host);
    assert_verdict(
        &v,
        true,
        &[],
        &[
            "image \"ghcr.io/x/app:2\" was not pinned: the host could not resolve its digest: manifest unknown: ghcr.io/x/app:2",
        ],
        "warn",
    );
    assert_eq!(v.mutated_object, None);
    let v = run_with(
        req(),
        json!({"pinDigests": true, "requireDigest": true}),
        &mut host,
    );
    assert_verdict(
        &v,
        false,
        &[
            "Deployment team/d",
            "no digest, and the host could not resolve one to pin it: manifest unknown: ghcr.io/x/app:2",
        ],
        &[],
        "reject",
    );
    // The host answering garbage is a failure, not a pin.
    let mut liar = FakeHost::new(&[("ghcr.io/x/app:2", Ok("sha256:nope"))]);
    let v = run_with(
        req(),
        json!({"pinDigests": true, "requireDigest": true}),
        &mut liar,
    );
    assert_verdict(&v, false, &["not a valid digest"], &[], "garbage");
    // A digest of an algorithm the settings do not allow is a failure too.
    let mut sha256 = FakeHost::new(&[("ghcr.io/x/app:2", Ok(OTHER))]);
    let v = run_with(
        req(),
        json!({"pinDigests": true, "requireDigest": true, "allowedDigestAlgorithms": ["sha512"]}),
        &mut sha256,
    );
    assert_verdict(
        &v,
        false,
        &["which allowedDigestAlgorithms does not allow"],
        &[],
        "algorithm",
    );
}

#[test]
fn pin_digests_never_looks_up_rejected_images() {
    let mut host = FakeHost::new(&[]);
    let v = run_with(
        request(
            "CREATE",
            "",
            "Pod",
            "pods",
            "default",
            pod("p", "default", &["nginx:latest", "Bad:1", "nginx"]),
        ),
        json!({"pinDigests": true}),
        &mut host,
    );
    assert_verdict(&v, false, &["3 container images break"], &[], "rejected");
    assert!(host.calls.is_empty(), "{:?}", host.calls);
    assert_eq!(v.mutated_object, None);
}

#[test]
fn verify_tag_digest_warns_and_rejects() {
    let image = pinned("registry.example.com/lab/app:5b72ee1e");
    let req = || {
        request(
            "CREATE",
            "",
            "Pod",
            "pods",
            "default",
            pod("p", "default", &[&image, &image]),
        )
    };
    let same = format!("sha256:{H64}");
    let mut host = FakeHost::new(&[("registry.example.com/lab/app:5b72ee1e", Ok(&same))]);
    let v = run_with(req(), json!({"verifyTagDigest": "reject"}), &mut host);
    assert_verdict(&v, true, &[], &[], "tag still matches");
    assert_eq!(host.calls.len(), 1, "one lookup for two containers");

    let mut moved = FakeHost::new(&[("registry.example.com/lab/app:5b72ee1e", Ok(OTHER))]);
    let v = run_with(req(), json!({"verifyTagDigest": "warn"}), &mut moved);
    let part = format!("tag `5b72ee1e` now points to {OTHER}, not to the pinned sha256:{H64}");
    assert_verdict(&v, true, &[], &[&part, &part], "warn");
    let v = run_with(req(), json!({"verifyTagDigest": "reject"}), &mut moved);
    assert_verdict(
        &v,
        false,
        &["Pod default/p: 2 container images break", &part],
        &[],
        "reject",
    );

    let mut down = FakeHost::new(&[]);
    let v = run_with(req(), json!({"verifyTagDigest": "reject"}), &mut down);
    assert_verdict(
        &v,
        true,
        &[],
        &["could not be verified", "could not be verified"],
        "lookup failure is a warning",
    );

    let mut untouched = FakeHost::new(&[]);
    let v = run_with(req(), json!({}), &mut untouched);
    assert_verdict(&v, true, &[], &[], "off");
    assert!(untouched.calls.is_empty());
}

/// The `report` function's hand-written JSON reads back as `Verdict::data`, whatever the
/// verdict holds: findings, warnings (past the cap), a mutation, text that needs escaping.
#[test]
fn the_report_json_is_the_verdict_as_data() {
    let hostile = "nginx:\u{1}\"\\\n\u{2028}latest";
    let many: Vec<String> = (0..30).map(|i| format!("r{i}:1")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let digest = format!("sha256:{H64}");
    let mut pin = FakeHost::new(&[("nginx:1.27", Ok(digest.as_str()))]);
    let cases: Vec<Verdict> = vec![
        run(
            request(
                "CREATE",
                "",
                "Pod",
                "pods",
                "ns",
                pod("p", "ns", &["nginx:latest", hostile]),
            ),
            json!({}),
        ),
        run(
            request("CREATE", "", "Pod", "pods", "ns", pod("p", "ns", &many)),
            json!({}),
        ),
        run(
            request(
                "CREATE",
                "",
                "Pod",
                "pods",
                "ns",
                pod("p", "ns", &[&pinned("nginx:1.27")]),
            ),
            json!({}),
        ),
        validate_with(
            payload(
                request(
                    "CREATE",
                    "",
                    "Pod",
                    "pods",
                    "ns",
                    pod("p", "ns", &["nginx:1.27"]),
                ),
                json!({"pinDigests": true}),
            )
            .as_bytes(),
            &mut pin,
        ),
        validate(b"not json"),
    ];
    assert!(
        cases.iter().any(|v| v.mutated_object.is_some()),
        "a mutation"
    );
    assert!(cases.iter().any(|v| !v.findings.is_empty()), "findings");
    assert!(
        cases
            .iter()
            .any(|v| v.warnings.len() > report::MAX_WARNINGS),
        "capped"
    );
    for v in cases {
        let read: report::ReportData =
            serde_json::from_slice(&v.data_json()).expect("the report is JSON of its shape");
        assert_eq!(read, v.data());
    }
}

/// A composed image is pinned in its own digest field (added under the block when it is not
/// there), a quoted key's image in place, and a patch container without image is not looked
/// up; an exempt path is accepted with its reason.
#[test]
fn composed_images_and_patches_under_pin_digests() {
    let digest = format!("sha256:{H64}");
    let mut host = FakeHost::new(&[
        ("docker.io/istio/proxyv2:1.27.0", Ok(&digest)),
        ("envoy:1", Ok(&digest)),
    ]);
    let object = json!({
        "apiVersion": "mesh.example.com/v1", "kind": "Gateway",
        "metadata": {"name": "g", "annotations": {"example.com/sidecar-image": "envoy:1"}},
        "spec": {"hub": "docker.io/istio", "repository": "proxyv2", "tag": "1.27.0",
                 "template": {"spec": {"containers": [{"name": "proxy", "resources": {}}]}}}
    });
    let settings = json!({"pinDigests": true, "requireDigest": true, "customKinds": [{
        "apiGroup": "mesh.example.com", "kind": "Gateway",
        "composed": [{"path": "spec", "registry": "hub"}],
        "images": ["metadata.annotations[\"example.com/sidecar-image\"]"],
        "podSpecPatches": ["spec.template.spec"]
    }]});
    let gateway = request(
        "CREATE",
        "mesh.example.com",
        "Gateway",
        "gateways",
        "mesh",
        object.clone(),
    );
    let v = run_with(gateway.clone(), settings.clone(), &mut host);
    assert_verdict(&v, true, &[], &[], "pinned");
    let mut expected = object.clone();
    expected["spec"]["digest"] = json!(digest);
    expected["metadata"]["annotations"]["example.com/sidecar-image"] =
        json!(format!("envoy:1@{digest}"));
    assert_eq!(v.mutated_object, Some(expected));

    // Without pinning: both found at their paths; with exemptPaths, accepted and said.
    let mut settings = settings;
    settings["pinDigests"] = json!(false);
    let v = run(gateway.clone(), settings.clone());
    assert_verdict(
        &v,
        false,
        &[
            "- metadata.annotations[\"example.com/sidecar-image\"] ",
            "- spec.tag (unnamed container): image \"docker.io/istio/proxyv2:1.27.0\"",
            "set spec.digest to the digest of docker.io/istio/proxyv2:1.27.0",
        ],
        &[],
        "composed",
    );
    settings["exemptPaths"] =
        json!([{"kind": "Gateway", "path": "spec", "reason": "no digest field"}]);
    let v = run(gateway, settings);
    assert_eq!(v.findings.len(), 1, "{:?}", v.message);
    assert!(
        v.warnings
            .iter()
            .any(|w| w.text.contains("accepted by exemptPaths: no digest field")),
        "{:?}",
        v.warnings
    );
}
