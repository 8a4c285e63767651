//! SARIF 2.1.0, the format code-scanning services read: one rule per kind of finding (with
//! its help and fix), one result per finding and warning with its file, line and column, and
//! every input error as an error result on its file, so an upload never hides one.

use super::{Checked, Item, Report};
use crate::rules::{Level, RuleId, Tool};
use serde_json::{Value, json};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The SARIF 2.1.0 log of the report: every rule of the table, a result per finding, warning,
/// error or warning item, input error and note of the run.
pub fn render(report: &Report) -> String {
    let mut results = Vec::new();
    for r in &report.results {
        results.extend(results_of(r));
    }
    // Notes (a digest listed, a pin suggested) are for the text and JSON reports: code
    // scanning shows what asks for attention.
    results.extend(
        report
            .items
            .iter()
            .filter(|i| i.level() != Level::Note)
            .map(item),
    );
    let not_checked = RuleId::Tool(Tool::NotChecked);
    for e in &report.errors {
        let file = super::file_of(&e.source);
        let line = e.line.unwrap_or(1);
        results.push(result(not_checked, None, &e.message, Some((file, line, 1))));
    }
    for n in &report.notes {
        results.push(result(not_checked, None, n, None));
    }
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "image-digest-check",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/image-digest-policy/image-digest-policy",
                "rules": RuleId::ALL.into_iter().map(rule).collect::<Vec<_>>(),
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn results_of(r: &Checked) -> Vec<Value> {
    let subject = r.subject();
    let file = r.file.as_str();
    let mut out = Vec::new();
    if let Some(e) = &r.error {
        out.push(result(
            RuleId::Tool(Tool::NotChecked),
            None,
            &format!("{subject}: {e}"),
            Some((file, r.line, r.column)),
        ));
    } else if !r.allowed && !r.out_of_scope {
        for f in &r.findings {
            let text = format!("{subject}: {} {}", f.path, f.detail);
            let at = (f.file.as_deref().unwrap_or(file), f.line, f.column);
            out.push(result(f.rule, None, &text, Some(at)));
        }
        if r.findings.is_empty() {
            // A rejection the policy gave no finding for (an older module's message).
            let text = format!("{subject}: {}", r.summary.as_deref().unwrap_or("rejected"));
            out.push(result(
                RuleId::Tool(Tool::NotChecked),
                Some(Level::Error),
                &text,
                Some((file, r.line, r.column)),
            ));
        }
    }
    for w in &r.warnings {
        out.push(result(
            w.rule,
            Some(Level::Warning),
            &format!("{subject}: {}", w.message),
            Some((w.file.as_deref().unwrap_or(file), w.line, w.column)),
        ));
    }
    out
}

fn item(i: &Item) -> Value {
    let at = i.file.as_deref().map(|f| (f, i.line, i.column));
    result(
        i.rule,
        Some(i.level()),
        &format!("{}: {}", i.who(), i.message),
        at,
    )
}

fn rule(r: RuleId) -> Value {
    let r = r.info();
    json!({
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.short},
        "fullDescription": {"text": r.short},
        "help": {"text": r.help, "markdown": format!("**{}** {}", r.short, r.help)},
        "defaultConfiguration": {"level": r.level.as_str()},
        "properties": {"tags": ["supply-chain", "containers"]},
    })
}

/// One result; `level` overrides the rule's (a policy rule shown as a warning).
fn result(
    rule: RuleId,
    level: Option<Level>,
    text: &str,
    at: Option<(&str, usize, usize)>,
) -> Value {
    let mut v = json!({
        "ruleId": rule.id(),
        "ruleIndex": rule.index(),
        "level": level.unwrap_or(rule.level()).as_str(),
        "message": {"text": text},
    });
    if let (Some((file, line, column)), Some(map)) = (at, v.as_object_mut()) {
        map.insert(
            "locations".into(),
            json!([{"physicalLocation": {
                "artifactLocation": {"uri": uri(file)},
                "region": {"startLine": line.max(1), "startColumn": column.max(1)},
            }}]),
        );
    }
    v
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
