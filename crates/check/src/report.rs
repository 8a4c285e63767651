//! The checker's output: text for people, JSON and JUnit for CI systems.

use crate::input::InputError;
use serde::Serialize;

/// The verdict on one workload document.
#[derive(Debug, Clone, Serialize)]
pub struct Result {
    pub location: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub allowed: bool,
    /// The first line of the policy's message (or the runner's error).
    pub summary: Option<String>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    /// The JSONPatch a mutating deployment would apply (`pinDigests`).
    pub patch: Option<serde_json::Value>,
    /// The runner failed (a trap, a host error): never counted as accepted.
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
            summary: None,
            findings: Vec::new(),
            warnings: Vec::new(),
            patch: None,
            error: None,
        }
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

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub documents: usize,
    pub workloads: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub with_warnings: usize,
    pub skipped: usize,
    pub errors: usize,
}

pub fn text(results: &[Result], errors: &[InputError], summary: &Summary) -> String {
    let mut out = String::new();
    for r in results {
        let subject = format!("{}: {} {}/{}", r.location, r.kind, r.namespace, r.name);
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
    for e in errors {
        out.push_str(&format!("error: {e}\n"));
    }
    out.push_str(&format!(
        "{} documents: {} workloads checked, {} accepted ({} with warnings), {} rejected; {} skipped (not workloads); {} input errors\n",
        summary.documents, summary.workloads, summary.accepted, summary.with_warnings, summary.rejected, summary.skipped, summary.errors
    ));
    out
}

pub fn json(results: &[Result], errors: &[InputError], summary: &Summary) -> String {
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let doc = serde_json::json!({"results": results, "inputErrors": errors, "summary": summary});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

pub fn junit(results: &[Result], errors: &[InputError], summary: &Summary) -> String {
    let failures = summary.rejected;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"image-digest-check\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n",
        results.len() + errors.len(),
        errors.len() + results.iter().filter(|r| r.error.is_some()).count()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"image-digest-policy\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n",
        results.len() + errors.len(),
        errors.len() + results.iter().filter(|r| r.error.is_some()).count()
    ));
    for r in results {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n",
            xml(&r.location),
            xml(&format!("{} {}/{}", r.kind, r.namespace, r.name))
        ));
        if let Some(e) = &r.error {
            out.push_str(&format!("      <error message=\"{}\"/>\n", xml(e)));
        } else if !r.allowed {
            let body: Vec<String> = r
                .findings
                .iter()
                .map(|f| format!("{} {}", f.path, f.detail))
                .collect();
            out.push_str(&format!(
                "      <failure message=\"{}\">{}</failure>\n",
                xml(r.summary.as_deref().unwrap_or("rejected")),
                xml(&body.join("\n"))
            ));
        }
        if !r.warnings.is_empty() {
            out.push_str(&format!(
                "      <system-out>{}</system-out>\n",
                xml(&r.warnings.join("\n"))
            ));
        }
        out.push_str("    </testcase>\n");
    }
    for e in errors {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"input\">\n      <error message=\"{}\"/>\n    </testcase>\n",
            xml(&e.source),
            xml(&e.message)
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
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
    fn xml_is_escaped() {
        assert_eq!(
            xml("a<b & \"c\"\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&#10;&#1;"
        );
    }
}
