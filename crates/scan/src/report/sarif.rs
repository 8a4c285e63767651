//! SARIF 2.1.0, the format code-scanning services read: one rule per kind of finding (with
//! its help and fix), one result per finding and warning with its file, line and column, and
//! every input error as an error result on its file, so an upload never hides one.

use super::{Checked, Report};
use image_digest_policy::rules::Rule;
use serde_json::{Value, json};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The SARIF 2.1.0 log of the run.
pub fn render(report: &Report<'_>) -> String {
    let mut results = Vec::new();
    for r in report.results {
        results.extend(results_of(r));
    }
    for e in report.errors {
        let (uri, line) = file_and_line(&e.source, &e.message);
        results.push(result(Rule::NotChecked, &e.message, &uri, line, 1));
    }
    for n in report.notes {
        results.push(json!({
            "ruleId": Rule::NotChecked.id(),
            "ruleIndex": index_of(Rule::NotChecked),
            "level": "error",
            "message": {"text": n},
        }));
    }
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "image-digest-check",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/image-digest-policy/image-digest-policy",
                "rules": Rule::ALL.into_iter().map(rule).collect::<Vec<_>>(),
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn results_of(r: &Checked) -> Vec<Value> {
    let subject = r.subject();
    let mut out = Vec::new();
    if let Some(e) = &r.error {
        out.push(result(
            Rule::NotChecked,
            &format!("{subject}: {e}"),
            &r.file,
            r.line,
            r.column,
        ));
    } else if !r.allowed && !r.out_of_scope {
        for f in &r.findings {
            let text = format!("{subject}: {} {}", f.path, f.detail);
            out.push(result(f.rule, &text, &r.file, f.line, f.column));
        }
        if r.findings.is_empty() {
            let text = format!("{subject}: {}", r.summary.as_deref().unwrap_or("rejected"));
            out.push(result(Rule::InvalidRef, &text, &r.file, r.line, r.column));
        }
    }
    for w in &r.warnings {
        let mut v = result(
            w.rule,
            &format!("{subject}: {}", w.message),
            &r.file,
            w.line,
            w.column,
        );
        if let Some(map) = v.as_object_mut() {
            map.insert("level".into(), json!("warning"));
        }
        out.push(v);
    }
    out
}

fn rule(r: Rule) -> Value {
    let r = r.info();
    json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.short},
        "fullDescription": {"text": r.short},
        "help": {"text": r.help, "markdown": format!("**{}** {}", r.short, r.help)},
        "defaultConfiguration": {"level": r.level},
        "properties": {"tags": ["supply-chain", "containers"]},
    })
}

/// The rule's index in the driver's `rules`, which lists `Rule::ALL` in order.
fn index_of(rule: Rule) -> usize {
    Rule::ALL.iter().position(|r| *r == rule).unwrap_or(0)
}

fn result(rule: Rule, text: &str, file: &str, line: usize, column: usize) -> Value {
    json!({
        "ruleId": rule.id(),
        "ruleIndex": index_of(rule),
        "level": rule.info().level,
        "message": {"text": text},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": uri(file)},
            "region": {"startLine": line.max(1), "startColumn": column.max(1)},
        }}],
    })
}

/// A relative path as a URI reference (what code scanning matches against the repository):
/// every byte but the unreserved characters and `/` percent-encoded, so `co:lon.yaml` is not
/// read as a scheme, nor `a#b.yaml` as a fragment.
pub fn uri(file: &str) -> String {
    let file = file.strip_prefix("./").unwrap_or(file);
    let mut out = String::with_capacity(file.len());
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An input error's file, and its line when the message names one (`… at line 3 …`).
fn file_and_line(source: &str, message: &str) -> (String, usize) {
    let file = super::file_of(source).to_owned();
    let line = message
        .split("line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (file, line)
}
