//! `--output openreports`: the results as OpenReports (`openreports.io/v1alpha1`), the format
//! Kubewarden's audit-scanner (1.33+) and `kyverno apply --policy-report` write and Policy
//! Reporter shows, so CI results and audit results land in one place.
//!
//! Shaped like the audit-scanner's: one `Report` per resource in its namespace, `scope` naming
//! the resource (a `ClusterReport` for what is not in a namespace: Helm values), one
//! result per finding (`fail`), warning (`warn`), runner error (`error`) or clean workload
//! (`pass`), each with `source: image-digest-policy`, the policy, the rule id, the message,
//! and the severity and category of `metadata.yml`; `summary` counts the results. Printed as
//! a YAML stream that `kubectl apply -f -` accepts (each document in JSON form). No timestamps: the same input gives the
//! same bytes (and the browser build has no clock to ask).

use super::{Checked, Report};
use crate::rules::{ReportResult, RuleId, Tool};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `io.kubewarden.policy.severity` and `io.kubewarden.policy.category` of `metadata.yml`
/// (a test holds them equal): parsing the YAML at run time added 27 KB of YAML-to-JSON
/// code to the web module for two strings.
pub const SEVERITY: &str = "medium";
/// The category every OpenReports result carries (`metadata.yml`'s).
pub const CATEGORY: &str = "Supply chain";

/// `source` and `policy` of every result.
pub const SOURCE: &str = "image-digest-policy";

/// One result of a report, before it is grouped by resource.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The resource's namespace (empty: cluster-scoped).
    pub namespace: String,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The rule.
    pub rule: RuleId,
    /// What the result is.
    pub result: ReportResult,
    /// What the result says.
    pub message: String,
}

/// The entries of a report: every workload, with its findings, warnings or error, and every
/// item about a resource (`live`'s containers), each with its rule's result.
pub fn entries(report: &Report) -> Vec<Entry> {
    let mut out = results_entries(&report.results);
    for i in &report.items {
        if let Some(r) = &i.resource {
            out.push(Entry {
                namespace: r.namespace.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                rule: i.rule,
                result: i.rule.info().result,
                message: format!("{}: {}", i.who(), i.message),
            });
        }
    }
    out
}

fn results_entries(results: &[Checked]) -> Vec<Entry> {
    let mut out = Vec::new();
    for r in results {
        // A values file is not an object in a namespace (its "namespace" is the one the chart
        // would be installed in, often a guess): its results go to a ClusterReport.
        let namespace = if r.kind == "HelmValues" {
            String::new()
        } else {
            r.namespace.clone()
        };
        let entry = |rule: RuleId, result: ReportResult, message: String| Entry {
            namespace: namespace.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            rule,
            result,
            message,
        };
        if let Some(e) = &r.error {
            let rule = RuleId::Tool(Tool::NotChecked);
            out.push(entry(rule, rule.info().result, e.clone()));
            continue;
        }
        if r.out_of_scope {
            let rule = RuleId::Tool(Tool::NamespaceScope);
            out.push(entry(rule, rule.info().result, rule.info().short.into()));
            continue;
        }
        for f in &r.findings {
            out.push(entry(
                f.rule,
                ReportResult::Fail,
                format!("{} {}", f.path, f.detail),
            ));
        }
        for w in &r.warnings {
            out.push(entry(w.rule, ReportResult::Warn, w.message.clone()));
        }
        if r.findings.is_empty() && r.warnings.is_empty() {
            let rule = RuleId::Tool(Tool::Contract);
            let (result, message) = if r.allowed {
                (ReportResult::Pass, rule.info().short)
            } else {
                (ReportResult::Fail, "rejected")
            };
            out.push(entry(
                rule,
                result,
                r.summary.clone().unwrap_or_else(|| message.to_owned()),
            ));
        }
    }
    out
}

/// A name Kubernetes accepts (DNS-1123 subdomain): lowercase, `[a-z0-9.-]`, at most 253.
/// When the parts had to change to fit (`a_b` and `A-b` would both read `a-b`), a short hash
/// of them as written follows, so two resources never share one report (one would overwrite
/// the other on apply).
fn object_name(parts: &[&str]) -> String {
    let raw = parts.join("-");
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' {
                c
            } else if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    // Kinds are CamelCase by convention (`Deployment` is lowercased as it always was); any
    // other change, in the object's own name above all, could make two names one.
    let fits = |p: &str, upper: bool| {
        p.chars().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '.'
                || c == '-'
                || (upper && c.is_ascii_uppercase())
        })
    };
    let changed = parts
        .iter()
        .enumerate()
        .any(|(i, p)| !fits(p, i + 1 < parts.len()));
    name.truncate(if changed { 253 - 9 } else { 253 });
    let mut name = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if name.is_empty() {
        name = "report".to_owned();
    }
    if changed || name.len() != raw.len() {
        name.push_str(&format!("-{:08x}", fnv1a(raw.as_bytes())));
    }
    name
}

/// FNV-1a, 32 bits: a stable short hash for names (not for security), with no dependency.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The reports as documents: one per resource, in a stable order.
pub fn documents(entries: &[Entry]) -> Vec<Value> {
    let (severity, category) = (SEVERITY, CATEGORY);
    let mut by_resource: BTreeMap<(String, String, String), Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        by_resource
            .entry((e.namespace.clone(), e.kind.clone(), e.name.clone()))
            .or_default()
            .push(e);
    }
    by_resource
        .into_iter()
        .map(|((namespace, kind, name), entries)| {
            let mut summary: BTreeMap<&str, usize> =
                ReportResult::ALL.iter().map(|r| (r.as_str(), 0)).collect();
            let results: Vec<Value> = entries
                .iter()
                .map(|e| {
                    *summary.entry(e.result.as_str()).or_default() += 1;
                    let resource = with_namespace(json!({"kind": kind, "name": name}), &namespace);
                    json!({
                        "source": SOURCE, "policy": SOURCE, "rule": e.rule.id(), "result": e.result.as_str(),
                        "message": e.message, "severity": severity, "category": category,
                        "scored": true, "resources": [resource],
                    })
                })
                .collect();
            let scope = with_namespace(json!({"kind": kind, "name": name}), &namespace);
            let metadata = with_namespace(
                json!({
                    "name": object_name(&[SOURCE, &kind, &name]),
                    "labels": {"app.kubernetes.io/managed-by": "image-digest-check"},
                }),
                &namespace,
            );
            let report_kind = if namespace.is_empty() {
                "ClusterReport"
            } else {
                "Report"
            };
            json!({
                "apiVersion": "openreports.io/v1alpha1",
                "kind": report_kind,
                "metadata": metadata,
                "source": SOURCE,
                "scope": scope,
                "summary": summary,
                "results": results,
            })
        })
        .collect()
}

/// The reports as a YAML stream: each document written as JSON (which is YAML), after `---`.
/// A YAML serializer added 26 KB to the web module (its budget is 1,115,000 bytes) for
/// the same documents; `kubectl apply -f -` and every YAML reader take these as they are.
pub fn render(report: &Report) -> String {
    documents(&entries(report))
        .iter()
        .map(|d| {
            format!(
                "---\n{}\n",
                super::yaml_safe(&serde_json::to_string_pretty(d).unwrap_or_default())
            )
        })
        .collect()
}

/// `object` with `namespace` set, unless it is empty (cluster-scoped).
fn with_namespace(mut object: Value, namespace: &str) -> Value {
    if let (Some(map), false) = (object.as_object_mut(), namespace.is_empty()) {
        map.insert("namespace".into(), json!(namespace));
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_and_category_are_the_metadatas() {
        let text = include_str!("../../../../metadata.yml");
        let metadata: Value = serde_saphyr::from_str(text).expect("metadata.yml");
        let annotation = |k: &str| {
            metadata["annotations"][k]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(
            annotation("io.kubewarden.policy.severity").to_ascii_lowercase(),
            SEVERITY
        );
        assert_eq!(annotation("io.kubewarden.policy.category"), CATEGORY);
        // OpenReports' severities.
        assert!(["critical", "high", "medium", "low", "info"].contains(&SEVERITY));
    }

    #[test]
    fn what_has_no_namespace_goes_to_a_cluster_report_with_a_true_summary() {
        let entry = |namespace: &str, result: ReportResult| Entry {
            namespace: namespace.into(),
            kind: "HelmValues".into(),
            name: "controlPlane".into(),
            rule: RuleId::Policy(crate::rules::Rule::MutableTag),
            result,
            message: "m".into(),
        };
        let docs = documents(&[
            entry("", ReportResult::Fail),
            entry("", ReportResult::Warn),
            entry("agents", ReportResult::Pass),
        ]);
        assert_eq!(docs.len(), 2);
        let cluster = docs
            .iter()
            .find(|d| d["kind"] == "ClusterReport")
            .expect("cluster");
        assert!(cluster["metadata"].get("namespace").is_none());
        assert_eq!(cluster["summary"]["fail"], 1);
        assert_eq!(cluster["summary"]["warn"], 1);
        assert_eq!(cluster["summary"]["pass"], 0);
        let report = docs.iter().find(|d| d["kind"] == "Report").expect("report");
        assert_eq!(report["scope"]["namespace"], "agents");
    }

    #[test]
    fn names_are_valid_kubernetes_names_and_never_one_for_two() {
        assert_eq!(
            object_name(&[SOURCE, "Deployment", "agents-web"]),
            "image-digest-policy-deployment-agents-web"
        );
        let names: Vec<String> = ["a_b", "a-b", "A-b", "a.b", "a\u{7f}b", "a\nb", "é"]
            .iter()
            .map(|n| object_name(&[SOURCE, "HelmValues", n]))
            .collect();
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        for n in &names {
            assert!(
                n.len() <= 253
                    && n.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'.'
                        || b == b'-'),
                "{n}"
            );
        }
        let long = "x_".repeat(200);
        assert!(object_name(&[SOURCE, "Deployment", &long]).len() <= 253);
    }
}
