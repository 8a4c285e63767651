//! JUnit XML through `quick-junit`, which escapes text and drops the characters XML 1.0
//! forbids (a control character in a manifest name must not make the whole report unreadable).
//!
//! One test case per workload: a rejection is a `failure`, a runner error an `error`, an
//! out-of-scope workload `skipped`; each input error and each note is one more `error` case,
//! so every problem is counted exactly once.

use super::{Checked, Item, Report};
use crate::rules::{Level, Outcome};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

/// JUnit XML: one test case per workload, one per subject of the items.
pub fn render(report: &Report) -> String {
    let mut suite = TestSuite::new("image-digest-policy");
    suite.add_test_cases(report.results.iter().map(case));
    // A command writes the items about one subject together (history: one per digest; live:
    // a container's observations in a row), so a run of equal subjects is one case.
    suite.add_test_cases(
        report
            .items
            .chunk_by(|a, b| a.subject == b.subject)
            .map(item_case),
    );
    for e in &report.errors {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(e.message.as_str());
        let mut c = TestCase::new("input", status);
        c.set_classname(e.source.as_str());
        suite.add_test_case(c);
    }
    for n in &report.notes {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(n.as_str());
        let mut c = TestCase::new("run", status);
        c.set_classname("image-digest-check");
        suite.add_test_case(c);
    }
    let mut doc = quick_junit::Report::new("image-digest-check");
    doc.add_test_suite(suite);
    // quick-xml escapes markup, not the characters XML 1.0 cannot carry at all.
    doc.to_string()
        .map(|xml| super::xml_safe(&xml))
        .unwrap_or_else(|e| format!("<!-- image-digest-check: cannot write JUnit: {e} -->\n"))
}

fn case(r: &Checked) -> TestCase {
    let status = if let Some(e) = &r.error {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_message(e.as_str());
        s
    } else if r.out_of_scope {
        let mut s = TestCaseStatus::skipped();
        s.set_message("namespace outside the settings' namespaces scope");
        s
    } else if !r.allowed {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(r.summary.as_deref().unwrap_or("rejected"));
        // The failure's type: the rules broken, each once, in the findings' order.
        let mut rules: Vec<&str> = Vec::new();
        for f in &r.findings {
            if !rules.contains(&f.rule.id()) {
                rules.push(f.rule.id());
            }
        }
        if !rules.is_empty() {
            s.set_type(rules.join(","));
        }
        let body: Vec<String> = r
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}: {} {} [{}]",
                    r.at_in(f.file.as_deref(), f.pos()),
                    f.path,
                    f.detail,
                    f.rule.id()
                )
            })
            .collect();
        s.set_description(body.join("\n"));
        s
    } else {
        TestCaseStatus::success()
    };
    let mut c = TestCase::new(format!("{} {}/{}", r.kind, r.namespace, r.name), status);
    c.set_classname(r.location.as_str());
    if !r.warnings.is_empty() {
        let lines: Vec<String> = r
            .warnings
            .iter()
            .map(|w| format!("{} [{}]", w.message, w.rule.id()))
            .collect();
        c.set_system_out(lines.join("\n"));
    }
    c
}

/// The items about one subject: an error if one could not be checked, else a failure if
/// one fails, else a success; the warnings and notes in its output.
fn item_case(items: &[Item]) -> TestCase {
    let subject = items.first().map_or("", |i| i.subject.as_str());
    let worst = items
        .iter()
        .map(|i| i.rule.info().outcome)
        .max()
        .unwrap_or(Outcome::Pass);
    let blocking: Vec<String> = items
        .iter()
        .filter(|i| i.level() == Level::Error)
        .map(|i| format!("{} [{}]", i.message, i.rule.id()))
        .collect();
    let mut status = match worst {
        Outcome::Pass => TestCaseStatus::success(),
        Outcome::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Outcome::NotChecked => TestCaseStatus::non_success(NonSuccessKind::Error),
    };
    if worst != Outcome::Pass {
        status.set_message(blocking.join("; "));
    }
    let mut c = TestCase::new(subject, status);
    if let Some(at) = items.iter().find_map(|i| i.at()) {
        c.set_classname(at);
    }
    let other: Vec<String> = items
        .iter()
        .filter(|i| i.level() != Level::Error)
        .map(|i| format!("{} [{}]", i.message, i.rule.id()))
        .collect();
    if !other.is_empty() {
        c.set_system_out(other.join("\n"));
    }
    c
}
