//! The benchmark requests, shared by the harness (`make bench`) and the criterion benches so
//! every figure is taken on the same payloads.

use serde_json::{Value, json};

use image_digest_testkit::cases::admission_request as request;
use image_digest_testkit::policy::TEST_DIGEST_HEX as H;

fn container(i: usize, image: &str) -> Value {
    json!({
        "name": format!("c{i}"),
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080 + i % 100, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "production"}, {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "uri"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File"
    })
}

fn pod(n: usize, image: impl Fn(usize) -> String) -> Value {
    let containers: Vec<Value> = (0..n).map(|i| container(i, &image(i))).collect();
    pod_with(containers, json!(null))
}

fn pod_with(containers: Vec<Value>, volumes: Value) -> Value {
    let n = containers.len();
    let mut spec = json!({"containers": containers, "restartPolicy": "Always", "serviceAccountName": "default"});
    if let (Some(spec), false) = (spec.as_object_mut(), volumes.is_null()) {
        spec.insert("volumes".into(), volumes);
    }
    request(
        ("", "Pod", "pods"),
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{n}"), "namespace": "agents", "labels": {"app": "bench"}},
            "spec": spec
        }),
    )
}

/// A one-container Pod as the API server stores it: the service account's projected
/// `kube-api-access-*` volume (admission adds it to nearly every Pod), so the row measures
/// the reading of `spec.volumes` that image volumes brought to every real request.
fn stored_pod() -> Value {
    let mut c = container(0, &format!("registry.example.com/team/app0:1.0@sha256:{H}"));
    if let Some(c) = c.as_object_mut() {
        c.insert(
            "volumeMounts".into(),
            json!([{
                "name": "kube-api-access-9xk2p", "readOnly": true,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"
            }]),
        );
    }
    pod_with(
        vec![c],
        json!([{
            "name": "kube-api-access-9xk2p",
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]}
        }]),
    )
}

/// `request` as an UPDATE whose old object is the same: every finding is an existing one, so
/// the row measures the search of the old object's findings (a list, searched linearly).
fn update_keeping(mut request: Value) -> Value {
    let object = request.get("object").cloned().unwrap_or(Value::Null);
    if let Some(r) = request.as_object_mut() {
        r.insert("operation".into(), json!("UPDATE"));
        r.insert("oldObject".into(), object);
    }
    request
}

/// The chart's control plane with two sidecars, every image pinned, as a `kind` of
/// `api_version` (`(group, kind, resource)`).
fn chart_workload(api_version: &str, kind: (&str, &str, &str)) -> Value {
    let images = [
        format!("registry.ide-newton.ts.net/lab/jangar-control-plane:5b72ee1e@sha256:{H}"),
        format!("registry.ide-newton.ts.net/lab/jangar:5b72ee1e@sha256:{H}"),
        format!("docker.io/envoyproxy/envoy:v1.31.2@sha256:{H}"),
    ];
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| container(i, im))
        .collect();
    request(
        kind,
        json!({
            "apiVersion": api_version, "kind": kind.1,
            "metadata": {"name": "agents", "namespace": "agents", "labels": {"app.kubernetes.io/name": "agents", "helm.sh/chart": "agents-0.9.1"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "agents"}},
                     "template": {"metadata": {"labels": {"app.kubernetes.io/name": "agents"}},
                                  "spec": {"containers": containers, "serviceAccountName": "agents"}}}
        }),
    )
}

/// The chart's Deployment.
fn chart_deployment() -> Value {
    chart_workload("apps/v1", ("apps", "Deployment", "deployments"))
}

/// An Argo Rollout with the chart's three pinned containers in its pod template.
fn rollout() -> Value {
    chart_workload(
        "argoproj.io/v1alpha1",
        ("argoproj.io", "Rollout", "rollouts"),
    )
}

/// `(name, containers, payload)` for every benchmark request, with the prod settings (and,
/// for the preset rows, every preset on: the settings are parsed on every request).
pub fn requests() -> Vec<(&'static str, usize, Vec<u8>)> {
    let prod = json!({"requireDigest": true});
    let keep = json!({"allowExistingViolations": true});
    let all: Vec<&str> = image_digest_policy::kinds::preset_list().collect();
    let presets = json!({"requireDigest": true, "presets": all});
    let pinned = |i: usize| format!("registry.example.com/team/app{i}:1.{i}@sha256:{H}");
    let cases = [
        ("Deployment, chart render", 3, chart_deployment(), &prod),
        (
            "Deployment, chart render, all presets on",
            3,
            chart_deployment(),
            &presets,
        ),
        (
            "Rollout (argo-rollouts), all presets on",
            3,
            rollout(),
            &presets,
        ),
        ("Pod", 1, pod(1, pinned), &prod),
        (
            "Pod as stored (kube-api-access volume)",
            1,
            stored_pod(),
            &prod,
        ),
        ("Pod", 100, pod(100, pinned), &prod),
        ("Pod", 1000, pod(1000, pinned), &prod),
        (
            "Pod, rejected (all latest)",
            100,
            pod(100, |i| format!("registry.example.com/team/app{i}:latest")),
            &prod,
        ),
        (
            "Pod UPDATE, every violation kept (allowExistingViolations)",
            1000,
            update_keeping(pod(1000, |i| {
                format!("registry.example.com/team/app{i}:latest")
            })),
            &keep,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, n, req, settings)| {
            let payload = serde_json::to_vec(&json!({"request": req, "settings": settings}))
                .unwrap_or_default();
            (name, n, payload)
        })
        .collect()
}

/// `n` workload documents as one multi-document YAML stream, for the checker's throughput.
pub fn manifests(n: usize) -> String {
    let mut out = String::with_capacity(n * 700);
    for i in 0..n {
        let image = if i % 10 == 0 {
            format!("ghcr.io/example/svc{i}:latest")
        } else {
            format!("ghcr.io/example/svc{i}:1.{i}@sha256:{H}")
        };
        out.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc{i}\n  namespace: team{}\n  labels: {{app: svc{i}}}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: svc{i}}}\n  template:\n    metadata:\n      labels: {{app: svc{i}}}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n        ports: [{{containerPort: 8080}}]\n        resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}\n      - name: proxy\n        image: docker.io/envoyproxy/envoy:v1.31.2@sha256:{H}\n",
            i % 20
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::requests;
    use image_digest_runner::{NoCapabilities, Policy};
    use image_digest_testkit::policy as testkit;
    use std::sync::Arc;

    /// Memory is deterministic where time is not: the ordinary requests (everything up to a
    /// 100-container Pod) must run in the module's initial memory, without a `memory.grow` on
    /// the fresh instance policy-server makes per request (`build.rs` sets the figure).
    #[test]
    fn ordinary_requests_run_in_the_initial_memory() {
        let policy = Policy::load(&testkit::policy_wasm()).expect("run `make policy.wasm`");
        let mut ordinary = 0;
        for (name, n, payload) in requests() {
            if n > 100 || name.contains("rejected") {
                continue;
            }
            ordinary += 1;
            let instance = policy
                .instantiate(Arc::new(NoCapabilities))
                .expect("instantiates");
            let start = instance.memory_bytes().expect("exports its memory");
            instance.call("validate", &payload).expect("validates");
            let end = instance.memory_bytes().expect("exports its memory");
            assert_eq!(
                start, end,
                "{name} ({n} containers) grew the memory from {start} to {end} bytes: raise the initial memory in build.rs"
            );
        }
        assert_eq!(ordinary, 6, "the rows this budget covers");
    }
}
