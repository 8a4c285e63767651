//! Turning a manifest into the AdmissionRequest the API server would send for it.

use image_digest_policy::kinds::Kinds;
use image_digest_policy::kinds::Target;
use serde_json::{Value, json};

/// A workload manifest ready for evaluation.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The manifest's kind.
    pub kind: String,
    /// The namespace the request is made in.
    pub namespace: String,
    /// Where the namespace came from: a manifest without one gets `--namespace` or `default`,
    /// which the caller must not trust when the settings scope namespaces.
    pub namespace_from: NamespaceFrom,
    /// The object's name (or a generated name's prefix).
    pub name: String,
    /// The AdmissionRequest the API server would send.
    pub request: Value,
}

/// Where a request's namespace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceFrom {
    /// The manifest's `metadata.namespace`.
    Manifest,
    /// `--namespace`.
    Flag,
    /// Neither: `default`, a guess.
    Default,
}

/// A document the policy does not check, named `apiVersion kind` for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped(pub String);

/// The request for `object` if it is a kind the policy checks, else why it is skipped.
/// Namespace: the object's, else `default_namespace` (`--namespace`), else `default`.
pub fn request_for(
    object: &Value,
    default_namespace: Option<&str>,
    uid: &str,
    custom: &Kinds,
) -> Result<Prepared, Skipped> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    if Target::for_kind(group, kind, custom).is_none() {
        let label = match (api_version, kind) {
            ("", "") => "<no apiVersion or kind>".to_owned(),
            (v, k) => format!("{v} {k}").trim().to_owned(),
        };
        return Err(Skipped(label));
    }
    let metadata = object.get("metadata");
    let field = |k: &str| {
        metadata
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (namespace, namespace_from) = match (field("namespace"), default_namespace) {
        (Some(ns), _) => (ns, NamespaceFrom::Manifest),
        (None, Some(ns)) => (ns, NamespaceFrom::Flag),
        (None, None) => ("default", NamespaceFrom::Default),
    };
    let namespace = namespace.to_owned();
    let name = field("name")
        .map(str::to_owned)
        .or_else(|| field("generateName").map(|g| format!("{g}<generated>")))
        .unwrap_or_else(|| "<unnamed>".to_owned());
    let resource = plural(kind);
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    let request = json!({
        "uid": format!("image-digest-check:{uid}"),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": name,
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "image-digest-check"},
        "object": object,
        "oldObject": null,
        "dryRun": true,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    });
    Ok(Prepared {
        kind: kind.to_owned(),
        namespace,
        namespace_from,
        name,
        request,
    })
}

fn plural(kind: &str) -> String {
    format!("{}s", kind.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_become_create_requests() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}});
        let w = request_for(&d, Some("prod"), "1", &Kinds::default()).unwrap();
        assert_eq!(
            (w.kind.as_str(), w.namespace.as_str(), w.name.as_str()),
            ("Deployment", "prod", "api")
        );
        assert_eq!(
            w.request["kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(w.request["resource"]["resource"], "deployments");
        assert_eq!(w.request["operation"], "CREATE");
        let own = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "ops"}});
        assert_eq!(
            request_for(&own, Some("prod"), "2", &Kinds::default())
                .unwrap()
                .namespace,
            "ops"
        );
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}});
        let w = request_for(&pod, None, "3", &Kinds::default()).unwrap();
        assert_eq!(
            (w.namespace.as_str(), w.name.as_str()),
            ("default", "web-<generated>")
        );
        assert_eq!(w.namespace_from, NamespaceFrom::Default);
    }

    #[test]
    fn other_kinds_are_skipped() {
        for (d, label) in [
            (json!({"apiVersion": "v1", "kind": "Service"}), "v1 Service"),
            (
                json!({"apiVersion": "example.com/v1", "kind": "Deployment"}),
                "example.com/v1 Deployment",
            ),
            (json!({"kind": "Deployment"}), "Deployment"),
            (json!({"metadata": {}}), "<no apiVersion or kind>"),
        ] {
            let skipped = request_for(&d, None, "0", &Kinds::default()).err();
            assert_eq!(skipped, Some(Skipped(label.to_owned())), "{d}");
        }
    }
}
