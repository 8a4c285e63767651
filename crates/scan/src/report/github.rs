//! GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=…::message` per
//! finding, `::warning` per warning, so findings appear on the pull request's lines without an
//! upload step. The summary line follows as plain text.

use super::{Checked, Report};

/// GitHub workflow commands: one annotation per finding, warning and error, then the summary.
pub fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    for r in report.results {
        annotations(r, &mut out);
    }
    for e in report.errors {
        let file = super::file_of(&e.source);
        out.push_str(&command(
            "error",
            Some((file, 1, 1)),
            "image-digest-check: input error",
            &e.message,
        ));
    }
    for n in report.notes {
        out.push_str(&command(
            "error",
            None,
            "image-digest-check: nothing checked",
            n,
        ));
    }
    let summary = super::text(&Report {
        results: &[],
        errors: &[],
        notes: &[],
        summary: report.summary,
    });
    out.push_str(&summary);
    out
}

fn annotations(r: &Checked, out: &mut String) {
    let subject = r.subject();
    if let Some(e) = &r.error {
        let at = Some((r.file.as_str(), r.line, r.column));
        out.push_str(&command(
            "error",
            at,
            "image-digest-check: not checked",
            &format!("{subject}: {e}"),
        ));
    } else if !r.allowed && !r.out_of_scope {
        for f in &r.findings {
            let at = Some((r.file.as_str(), f.line, f.column));
            let title = format!("image-digest-policy: {}", f.rule.id());
            out.push_str(&command(
                "error",
                at,
                &title,
                &format!("{subject}: {} {}", f.path, f.detail),
            ));
        }
    }
    for w in &r.warnings {
        let at = Some((r.file.as_str(), w.line, w.column));
        let title = format!("image-digest-policy: {}", w.rule.id());
        out.push_str(&command(
            "warning",
            at,
            &title,
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
