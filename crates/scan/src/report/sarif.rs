//! SARIF 2.1.0, the format code-scanning services read: one rule per kind of finding (with
//! its help and fix), one result per finding and warning with its file, line and column, and
//! every input error as an error result on its file, so an upload never hides one.

use super::rules::{self, Rule};
use super::{Report, Result};
use serde_json::{Value, json};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub fn render(report: &Report<'_>) -> String {
    let mut results = Vec::new();
    for r in report.results {
        results.extend(results_of(r));
    }
    for e in report.errors {
        let (uri, line) = file_and_line(&e.source, &e.message);
        results.push(result(
            &rules::RULES[rules::RULES.len() - 1],
            &e.message,
            &uri,
            line,
            1,
        ));
    }
    for n in report.notes {
        results.push(json!({
            "ruleId": "runner-error",
            "ruleIndex": rules::RULES.len() - 1,
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
                "rules": rules::RULES.iter().map(rule).collect::<Vec<_>>(),
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn results_of(r: &Result) -> Vec<Value> {
    let subject = r.subject();
    let mut out = Vec::new();
    if let Some(e) = &r.error {
        let rule = &rules::RULES[rules::RULES.len() - 1];
        out.push(result(
            rule,
            &format!("{subject}: {e}"),
            &r.file,
            r.line,
            r.column,
        ));
    } else if !r.allowed && !r.out_of_scope {
        for f in &r.findings {
            let rule = rules::classify(&f.detail, "invalid-ref");
            let text = format!("{subject}: {} {}", f.path, f.detail);
            out.push(result(rule, &text, &r.file, f.line, f.column));
        }
        if r.findings.is_empty() {
            let text = format!("{subject}: {}", r.summary.as_deref().unwrap_or("rejected"));
            out.push(result(&rules::RULES[0], &text, &r.file, r.line, r.column));
        }
    }
    for w in &r.warnings {
        let rule = rules::classify(&w.message, "unpinned");
        let mut v = result(
            rule,
            &format!("{subject}: {}", w.message),
            &r.file,
            w.line,
            w.column,
        );
        v["level"] = json!("warning");
        out.push(v);
    }
    out
}

fn rule(r: &Rule) -> Value {
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

fn result(rule: &Rule, text: &str, file: &str, line: usize, column: usize) -> Value {
    json!({
        "ruleId": rule.id,
        "ruleIndex": rules::index_of(rule),
        "level": rule.level,
        "message": {"text": text},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": uri(file)},
            "region": {"startLine": line.max(1), "startColumn": column.max(1)},
        }}],
    })
}

/// A relative path as a URI reference (what code scanning matches against the repository).
fn uri(file: &str) -> String {
    let file = file.strip_prefix("./").unwrap_or(file);
    file.chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            '#' => "%23".to_owned(),
            '%' => "%25".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// An input error's file, and its line when the message names one (`… at line 3 …`).
fn file_and_line(source: &str, message: &str) -> (String, usize) {
    let file = source.split('#').next().unwrap_or(source).to_owned();
    let line = message
        .split("line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (file, line)
}
