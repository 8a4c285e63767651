//! GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=…::message` per
//! finding, `::warning` per warning, so findings appear on the pull request's lines without an
//! upload step. The summary line follows as plain text.

use super::{Checked, Report};
use crate::rules::{Level, RuleId, Tool};

/// GitHub workflow commands: one annotation per finding, warning, failing or warning item,
/// input error and note, then the summary. Notes (a digest listed, a pin suggested) are for
/// the text and JSON reports: an annotation asks for attention.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.results {
        annotations(r, &mut out);
    }
    for i in &report.items {
        let level = match i.level() {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => continue,
        };
        let at = i.file.as_deref().map(|f| (f, i.line, i.column));
        out.push_str(&command(
            level,
            at,
            &title(i.rule),
            &format!("{}: {}", i.who(), i.message),
        ));
    }
    let not_checked = title(RuleId::Tool(Tool::NotChecked));
    for e in &report.errors {
        let file = super::file_of(&e.source);
        let at = Some((file, e.line.unwrap_or(1), 1));
        out.push_str(&command("error", at, &not_checked, &e.message));
    }
    for n in &report.notes {
        out.push_str(&command("error", None, &not_checked, n));
    }
    out.push_str(&super::summary_lines(report));
    out
}

/// Every annotation's title: the project and the rule.
fn title(rule: RuleId) -> String {
    format!("image-digest-policy: {}", rule.id())
}

fn annotations(r: &Checked, out: &mut String) {
    let subject = r.subject();
    let file = r.file.as_str();
    if let Some(e) = &r.error {
        out.push_str(&command(
            "error",
            Some((file, r.line, r.column)),
            &title(RuleId::Tool(Tool::NotChecked)),
            &format!("{subject}: {e}"),
        ));
    } else if !r.allowed && !r.out_of_scope {
        for f in &r.findings {
            out.push_str(&command(
                "error",
                Some((f.file.as_deref().unwrap_or(file), f.line, f.column)),
                &title(f.rule),
                &format!("{subject}: {} {}", f.path, f.detail),
            ));
        }
    }
    for w in &r.warnings {
        out.push_str(&command(
            "warning",
            Some((w.file.as_deref().unwrap_or(file), w.line, w.column)),
            &title(w.rule),
            &format!("{subject}: {}", w.message),
        ));
    }
}

fn command(level: &str, at: Option<(&str, usize, usize)>, title: &str, message: &str) -> String {
    let mut props = Vec::new();
    if let Some((file, line, col)) = at {
        props.push(format!("file={}", property(file)));
        props.push(format!("line={line}"));
        props.push(format!("col={col}"));
    }
    props.push(format!("title={}", property(title)));
    format!("::{level} {}::{}\n", props.join(","), data(message))
}

/// The escaping GitHub's runner undoes in a command's message.
pub fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The escaping of a command's property values, which also end at `:` and `,`.
pub fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_escape_what_the_runner_splits_on() {
        assert_eq!(
            command("error", Some(("a,b:c.yaml", 3, 7)), "t: x", "50% of\nlines"),
            "::error file=a%2Cb%3Ac.yaml,line=3,col=7,title=t%3A x::50%25 of%0Alines\n"
        );
    }
}
