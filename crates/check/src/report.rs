//! The checker's verdicts and their summary, in one shape every output format renders.

pub mod junit;

use crate::input::InputError;
use serde::Serialize;
use std::collections::BTreeMap;

/// The version of the JSON report's shape (`docs/check-report.schema.json`); raised on any
/// change a reader could trip over.
pub const SCHEMA_VERSION: u32 = 1;

/// The verdict on one workload document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Result {
    pub location: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub allowed: bool,
    /// The namespace is outside the settings' `namespaces` scope: the policy lets it through
    /// unchecked, and the summary does not count it as accepted.
    pub out_of_scope: bool,
    /// The policy's whole message.
    pub message: Option<String>,
    /// Its first line (or the runner's error).
    pub summary: Option<String>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    /// The JSONPatch a mutating deployment would apply (`pinDigests`).
    pub patch: Option<serde_json::Value>,
    /// The runner failed (a trap, a host error, a crash): never counted as accepted.
    pub error: Option<String>,
}

impl Result {
    pub fn new(location: String, kind: String, namespace: String, name: String) -> Result {
        Result {
            location,
            kind,
            namespace,
            name,
            allowed: false,
            out_of_scope: false,
            message: None,
            summary: None,
            findings: Vec::new(),
            warnings: Vec::new(),
            patch: None,
            error: None,
        }
    }

    /// `file#doc: Kind namespace/name`, the subject of every line about this result.
    pub fn subject(&self) -> String {
        format!(
            "{}: {} {}/{}",
            self.location, self.kind, self.namespace, self.name
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The field path (`spec.template.spec.containers[0]`).
    pub path: String,
    /// The rest of the policy's line: container, image, reasons and fix.
    pub detail: String,
}

/// Splits the policy's reject message into its first line and one finding per `- ` line.
pub fn split_message(message: &str) -> (Option<String>, Vec<Finding>) {
    let mut lines = message.lines();
    let summary = lines.next().map(str::to_owned);
    let findings = lines
        .filter_map(|l| l.strip_prefix("- "))
        .map(|l| match l.split_once(' ') {
            Some((path, detail)) => Finding {
                path: path.to_owned(),
                detail: detail.to_owned(),
            },
            None => Finding {
                path: l.to_owned(),
                detail: String::new(),
            },
        })
        .collect();
    (summary, findings)
}

/// Counts over a run. Every evaluated workload is in exactly one of `accepted`, `rejected`,
/// `errored` and `outOfScope`.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub documents: usize,
    /// Workloads the policy checked (in scope, evaluated without an error).
    pub workloads: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub errored: usize,
    pub with_warnings: usize,
    pub out_of_scope: usize,
    /// Documents of kinds the policy does not check, by `apiVersion kind`.
    pub skipped: usize,
    pub skipped_kinds: BTreeMap<String, usize>,
    pub input_errors: usize,
}

impl Summary {
    pub fn count(&mut self, r: &Result) {
        if r.error.is_some() {
            self.errored += 1;
        } else if r.out_of_scope {
            self.out_of_scope += 1;
        } else if r.allowed {
            self.workloads += 1;
            self.accepted += 1;
        } else {
            self.workloads += 1;
            self.rejected += 1;
        }
        if r.error.is_none() && !r.warnings.is_empty() {
            self.with_warnings += 1;
        }
    }

    pub fn skip(&mut self, kind: String) {
        self.skipped += 1;
        *self.skipped_kinds.entry(kind).or_default() += 1;
    }

    /// `2 skipped (v1 ConfigMap 1, argoproj.io/v1alpha1 Rollout 1)`
    fn skipped_text(&self) -> String {
        if self.skipped_kinds.is_empty() {
            return format!("{} skipped", self.skipped);
        }
        let kinds: Vec<String> = self
            .skipped_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        format!(
            "{} skipped (kinds not checked: {})",
            self.skipped,
            kinds.join(", ")
        )
    }
}

/// Everything a format needs.
pub struct Report<'a> {
    pub results: &'a [Result],
    pub errors: &'a [InputError],
    pub summary: &'a Summary,
    /// Why the run is not a pass although nothing was rejected (nothing checked, say).
    pub notes: &'a [String],
}

pub fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    for r in report.results {
        let subject = r.subject();
        if let Some(e) = &r.error {
            out.push_str(&format!("{subject}: ERROR: {e}\n"));
        } else if !r.allowed {
            if r.findings.is_empty() {
                out.push_str(&format!(
                    "{subject}: REJECTED: {}\n",
                    r.summary.as_deref().unwrap_or("")
                ));
            }
            for f in &r.findings {
                out.push_str(&format!("{subject}: {} {}\n", f.path, f.detail));
            }
        }
        for w in &r.warnings {
            out.push_str(&format!("{subject}: warning: {w}\n"));
        }
        for op in r.patch.iter().filter_map(|p| p.as_array()).flatten() {
            let path = op.get("path").and_then(|p| p.as_str()).unwrap_or("");
            let value = op.get("value").map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!("{subject}: would pin {path} = {value}\n"));
        }
    }
    for e in report.errors {
        out.push_str(&format!("error: {e}\n"));
    }
    for n in report.notes {
        out.push_str(&format!("error: {n}\n"));
    }
    let s = report.summary;
    out.push_str(&format!(
        "{} documents: {} workloads checked, {} accepted ({} with warnings), {} rejected, {} errored; {} out of scope; {}; {} input errors\n",
        s.documents,
        s.workloads,
        s.accepted,
        s.with_warnings,
        s.rejected,
        s.errored,
        s.out_of_scope,
        s.skipped_text(),
        s.input_errors
    ));
    out
}

pub fn json(report: &Report<'_>) -> String {
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    let doc = serde_json::json!({
        "schemaVersion": SCHEMA_VERSION,
        "results": report.results,
        "inputErrors": errors,
        "notes": report.notes,
        "summary": report.summary,
    });
    // Serialising plain data into a string cannot fail; an empty report would still be
    // caught by the exit code the caller returns.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_into_findings() {
        let (summary, findings) = split_message(
            "Pod a/b: 2 container images break the contract:\n- spec.containers[0] (container \"x\"): bad.\n- spec.containers[1] (container \"y\"): worse.",
        );
        assert_eq!(
            summary.as_deref(),
            Some("Pod a/b: 2 container images break the contract:")
        );
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[1].path, "spec.containers[1]");
        assert_eq!(findings[1].detail, "(container \"y\"): worse.");
    }

    #[test]
    fn every_result_is_counted_once() {
        let mut s = Summary::default();
        let base = Result::new("f#1".into(), "Pod".into(), "ns".into(), "p".into());
        let errored = Result {
            error: Some("trap".into()),
            warnings: vec!["w".into()],
            ..base.clone()
        };
        let accepted = Result {
            allowed: true,
            warnings: vec!["w".into()],
            ..base.clone()
        };
        let out = Result {
            allowed: true,
            out_of_scope: true,
            ..base.clone()
        };
        for r in [&errored, &accepted, &out, &base] {
            s.count(r);
        }
        s.skip("v1 ConfigMap".into());
        s.skip("v1 ConfigMap".into());
        assert_eq!(
            (
                s.workloads,
                s.accepted,
                s.rejected,
                s.errored,
                s.out_of_scope,
                s.with_warnings
            ),
            (2, 1, 1, 1, 1, 1)
        );
        assert_eq!(
            s.skipped_text(),
            "2 skipped (kinds not checked: v1 ConfigMap 2)"
        );
    }
}
