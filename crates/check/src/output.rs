//! What `--output` writes: every command's report in a format of `scan` (text, JSON, SARIF,
//! GitHub, JUnit, OpenReports), or in one of the command-local formats here, each rendering
//! the same `Report` and nothing else: `list` (history's keep-list), `pins` (live's running
//! digests) and `prometheus` (what registries said). They live here, not in `scan`, because
//! the web build offers none of them and pays for none.

use image_digest_scan::report::{Report, push_line};
use image_digest_scan::rules::{RuleId, Tool};
use image_digest_scan::run::Format;

/// A report format of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One of `scan`'s.
    Report(Format),
    /// One `repository@digest` per line.
    List,
    /// The running digest of each tag-only container.
    Pins,
    /// node-exporter textfile metrics.
    Prometheus,
}

impl Output {
    /// The report in this format.
    pub fn render(self, report: &Report) -> String {
        match self {
            Output::Report(format) => report.render(format),
            Output::List => list(report),
            Output::Pins => pins(report),
            Output::Prometheus => prometheus(report),
        }
    }

    /// Whether the format carries input errors and notes (`list`, `pins` and `prometheus`
    /// have no place for them: they go to stderr).
    pub fn carries_problems(self) -> bool {
        matches!(self, Output::Report(_))
    }
}

/// `--output list`: one `repository@digest` per line, every digest the items list (the
/// keep-list of `history`), each once, in order.
fn list(report: &Report) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::new();
    for r in report.items.iter().filter_map(|i| i.reference.as_ref()) {
        if seen.insert(r) {
            push_line(&mut out, r);
        }
    }
    out
}

/// `--output pins`: the running digest of every tag-only container whose pods agree
/// (`live`'s `running-digest` items): `namespace/Kind/name<TAB>container<TAB>image@digest`.
fn pins(report: &Report) -> String {
    let mut out = String::new();
    for i in &report.items {
        if let (RuleId::Tool(Tool::RunningDigest), Some(r), Some(c), Some(p)) =
            (i.rule, &i.resource, &i.container, &i.reference)
        {
            // The fields come from the pods as read: a tab in one would make a column of its
            // own (`push_line` keeps tabs), so each is written with its tabs escaped.
            let field = |f: &str| f.replace('\t', "\\t");
            push_line(
                &mut out,
                &format!(
                    "{}/{}/{}\t{}\t{}",
                    field(&r.namespace),
                    field(&r.kind),
                    field(&r.name),
                    field(c),
                    field(p)
                ),
            );
        }
    }
    out
}

/// `--output prometheus`: node-exporter's textfile format, for `history` and `live` with
/// `--verify-registry`, so the alerting stack pages before the registry's next garbage
/// collection: `image_digest_present{…} 1|0` per checked digest, `image_digest_unchecked{…} 1` per one
/// that could not be asked (an outage never reads as "gone" nor as "present"). Labels:
/// `repository`, `digest`, and `commit` (the last that pinned it) for `history`'s.
fn prometheus(report: &Report) -> String {
    let whose = if report.digests.iter().any(|d| d.commit.is_some()) {
        "the Git history pinned"
    } else {
        "the cluster runs"
    };
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut present = String::new();
    let mut unchecked = String::new();
    for d in &report.digests {
        let (repository, digest) = d.reference.split_once('@').unwrap_or((&d.reference, ""));
        let mut labels = vec![("repository", repository), ("digest", digest)];
        if let Some(commit) = &d.commit {
            labels.push(("commit", commit));
        }
        let labels = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        match d.present {
            Some(up) => present.push_str(&format!(
                "image_digest_present{{{labels}}} {}\n",
                u8::from(up)
            )),
            None => unchecked.push_str(&format!("image_digest_unchecked{{{labels}}} 1\n")),
        }
    }
    format!(
        "# HELP image_digest_present Whether a digest {whose} can still be pulled from its registry.\n# TYPE image_digest_present gauge\n{present}# HELP image_digest_unchecked A digest {whose} that the registry could not be asked about.\n# TYPE image_digest_unchecked gauge\n{unchecked}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_digest_scan::report::{Item, Resource};

    /// Three tab-separated columns per pin, whatever the pods' names hold.
    #[test]
    fn a_pin_line_has_three_columns_whatever_the_names_hold() {
        let mut item = Item::new(
            Tool::RunningDigest,
            "Deployment a/b".into(),
            "runs x".into(),
        );
        item.resource = Some(Resource {
            namespace: "ns\tx".into(),
            kind: "Deployment".into(),
            name: "we\nb".into(),
        });
        item.container = Some("c\t1".into());
        item.reference = Some("nginx:1@sha256:0".into());
        let report = Report {
            items: vec![item],
            ..Report::default()
        };
        let out = pins(&report);
        assert_eq!(out.lines().count(), 1, "{out:?}");
        assert_eq!(out.trim_end().split('\t').count(), 3, "{out:?}");
    }
}
