//! Turning findings into the words a user reads (`docs/contract.md` §5): one reject message
//! that lists every finding, capped, and one warning per non-blocking finding.

use crate::reference::{self, ReferenceError, truncate};
use crate::rules::{self, ImageVerdict, Problem, Rule};

/// How many findings a reject message lists before it says how many more there were. The
/// API server shows the whole message to `kubectl`; past a screenful it stops helping.
pub const MAX_LISTED: usize = 20;
/// How many warnings a response carries; the API server truncates beyond a few anyway.
pub const MAX_WARNINGS: usize = 20;
/// Images longer than this are shown cut, with their length, so a hostile 1 MB image string
/// cannot blow up the message.
pub const MAX_IMAGE_SHOWN: usize = 256;

/// One line of a reject message: where, what, which rules it breaks and the fix. The native
/// tools read it as data (`Verdict::findings`); the wasm's response carries its `render()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `spec.template.spec.initContainers[1]`, `spec.volumes[0].image.reference`
    pub path: String,
    /// What holds the image (`container` or `volume`: `ContainerList::noun`).
    pub noun: &'static str,
    /// The container's (or volume's) name as written.
    pub container: String,
    /// The image exactly as written (or a description when it was not a string).
    pub image: Option<String>,
    /// The normalised form, shown next to the original when it adds information.
    pub normalized: Option<String>,
    /// Every reason, in the order the rules found them (never empty).
    pub problems: Vec<Problem>,
    /// How to fix it, in one step.
    pub fix: String,
}

impl Finding {
    /// The rule the finding is filed under: the most fundamental of its problems'.
    pub fn rule(&self) -> Rule {
        self.problems
            .iter()
            .map(Problem::rule)
            .min()
            .unwrap_or(Rule::InvalidRef)
    }

    /// The part of the reference the user edits to fix it: the tag for a missing tag, the part
    /// an invalid reference is wrong in, else the digest (a missing or mutable pin, an
    /// algorithm, a lookup).
    pub fn part(&self) -> reference::Part {
        match self.rule() {
            Rule::MissingTag => reference::Part::Tag,
            Rule::InvalidRef => self
                .problems
                .iter()
                .find(|p| p.rule() == Rule::InvalidRef)
                .map_or(reference::Part::Repository, Problem::part),
            _ => reference::Part::Digest,
        }
    }

    /// The reasons as one clause, `; `-separated.
    pub fn reasons(&self) -> String {
        self.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The line without its path: `(container "app"): image "nginx": … Fix: ….`
    pub fn detail(&self) -> String {
        let container = if self.container.is_empty() {
            format!("unnamed {}", self.noun)
        } else {
            format!("{} {}", self.noun, quote(&self.container))
        };
        let image = match &self.image {
            None => String::new(),
            Some(i) => {
                let mut s = format!(" image {}", quote(i));
                if let Some(n) = self.normalized.as_deref().filter(|n| *n != i) {
                    s.push_str(&format!(" ({n})"));
                }
                s.push(':');
                s
            }
        };
        format!(
            "({container}):{image} {}. Fix: {}.",
            self.reasons(),
            self.fix
        )
    }

    /// The line as the reject message lists it.
    pub fn render(&self) -> String {
        format!("{} {}", self.path, self.detail())
    }
}

/// One warning of an accepted (or rejected) request, as data: where, which rule, and the
/// text the response carries (what it says of the image is the text's tail: [`Warning::detail`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The field path of the container or volume.
    pub path: String,
    /// The rule it is filed under.
    pub rule: Rule,
    /// The reasons behind it.
    pub problems: Vec<Problem>,
    /// The whole warning, as the response carries it.
    pub text: String,
    /// Where in `text` the part about the image starts.
    detail_at: usize,
}

impl Warning {
    /// A warning whose text is `before` (where the image is) followed by `detail`.
    pub fn new(
        path: String,
        rule: Rule,
        problems: Vec<Problem>,
        before: &str,
        detail: &str,
    ) -> Warning {
        Warning {
            path,
            rule,
            problems,
            text: format!("{before}{detail}"),
            detail_at: before.len(),
        }
    }

    /// What is said about the image, after where it is (`image "nginx:1" is not pinned…`).
    pub fn detail(&self) -> &str {
        self.text.get(self.detail_at..).unwrap_or_default()
    }
}

/// A finding as the tools read it from the `report` function: where, which rule (its id), and
/// the words; everything a report shows, nothing a reader must recompute.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FindingData {
    /// The field path.
    pub path: String,
    /// The rule's id (`mutable-tag`).
    pub rule: String,
    /// The part of the reference to edit ([`Finding::part`]: `repository`, `tag`, `digest`).
    pub part: String,
    /// The line without its path ([`Finding::detail`]).
    pub detail: String,
    /// The reasons as one clause ([`Finding::reasons`]).
    pub reasons: String,
}

/// A warning as the tools read it from the `report` function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WarningData {
    /// The field path.
    pub path: String,
    /// The rule's id (`unpinned`).
    pub rule: String,
    /// The whole warning, as the response carries it.
    pub text: String,
    /// What it says of the image ([`Warning::detail`]).
    pub detail: String,
}

impl From<&Finding> for FindingData {
    fn from(f: &Finding) -> FindingData {
        FindingData {
            path: f.path.clone(),
            rule: f.rule().id().to_owned(),
            part: f.part().name().to_owned(),
            detail: f.detail(),
            reasons: f.reasons(),
        }
    }
}

impl From<&Warning> for WarningData {
    fn from(w: &Warning) -> WarningData {
        WarningData {
            path: w.path.clone(),
            rule: w.rule.id().to_owned(),
            text: w.text.clone(),
            detail: w.detail().to_owned(),
        }
    }
}

/// What the `report` function answers: the `validate` response's fields (the same verdict,
/// message, capped warnings and mutated object), and the findings and warnings as data. The
/// tools evaluate each document once, on the module they run, and read both from it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportData {
    /// Whether the request may go on.
    pub accepted: bool,
    /// The reject message.
    pub message: Option<String>,
    /// The warnings as the response carries them (capped).
    pub warnings: Vec<String>,
    /// The mutated object (`pinDigests`).
    pub mutated_object: Option<serde_json::Value>,
    /// Every blocking finding.
    pub findings: Vec<FindingData>,
    /// Every warning, uncapped.
    pub warning_details: Vec<WarningData>,
}

/// Appends `text` as a JSON string (serde_json's escaping).
pub fn json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Appends an object of string fields.
pub fn json_object(out: &mut Vec<u8>, fields: &[(&str, &str)]) {
    out.push(b'{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(out, k);
        out.push(b':');
        json_string(out, v);
    }
    out.push(b'}');
}

/// Quotes an untrusted string for a message, cut to a readable length.
pub fn quote(s: &str) -> String {
    let shown = truncate(s, MAX_IMAGE_SHOWN);
    if shown.len() < s.len() {
        format!("{:?}… ({} bytes)", shown, s.len())
    } else {
        format!("{s:?}")
    }
}

/// `Deployment agents/agents`
pub fn subject(kind: &str, namespace: &str, name: &str) -> String {
    let kind = if kind.is_empty() { "object" } else { kind };
    format!(
        "{} {}/{}",
        truncate(kind, 64),
        truncate(namespace, 253),
        truncate(name, 253)
    )
}

/// The reject message: the subject, then every finding up to the cap.
pub fn reject_message(subject: &str, findings: &[Finding]) -> String {
    let n = findings.len();
    let noun = if n == 1 {
        "image breaks"
    } else {
        "images break"
    };
    let mut out = format!("{subject}: {n} container {noun} the image tag/digest contract:");
    for f in findings.iter().take(MAX_LISTED) {
        out.push_str("\n- ");
        out.push_str(&f.render());
    }
    if n > MAX_LISTED {
        out.push_str(&format!("\n… and {} more", n - MAX_LISTED));
    }
    out
}

/// Caps a warning list the same way.
pub fn cap_warnings(mut warnings: Vec<String>) -> Vec<String> {
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!("… and {more} more warnings"));
    }
    warnings
}

/// How to fix an image: the pinned form it should take, built from what was written.
pub fn fix(image: &str, verdict: &ImageVerdict) -> String {
    // A `scheme://` placeholder: the verdict already says which scheme (`reference::parse`).
    if let ImageVerdict::Invalid(Problem::Invalid(ReferenceError::Scheme(s))) = verdict {
        return match s.as_str() {
            "ko" => "build it first: `ko resolve -f FILE` writes each ko:// image as repository@sha256:<digest>".into(),
            s => format!("resolve the `{s}://` reference to the image it names before applying"),
        };
    }
    let Ok(r) = reference::parse(image) else {
        return "write it as [registry/]repository:tag@sha256:<64 lowercase hex digits>".into();
    };
    let name = r.name();
    let tag = r
        .tag
        .filter(|_| !rules::is_drift_only(verdict))
        .unwrap_or("<tag>");
    match (verdict, r.digest) {
        (ImageVerdict::Violates(p), Some(d))
            if !p
                .iter()
                .any(|p| matches!(p, rules::Problem::AlgorithmNotAllowed { .. })) =>
        {
            format!("add the tag the digest was built from: {name}:<tag>@{d}")
        }
        (ImageVerdict::Violates(_), Some(_)) => {
            format!("pin it with an allowed algorithm: {name}:{tag}@sha256:<digest>")
        }
        _ => format!("pin it as {name}:{tag}@sha256:<digest>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ImageField;
    use crate::settings::Settings;

    fn finding(i: usize) -> Finding {
        Finding {
            path: format!("spec.containers[{i}]"),
            noun: "container",
            container: format!("c{i}"),
            image: Some("nginx".into()),
            normalized: Some("docker.io/library/nginx:latest".into()),
            problems: vec![Problem::Drift { tag: None }],
            fix: "pin it as nginx:<tag>@sha256:<digest>".into(),
        }
    }

    #[test]
    fn a_finding_names_path_container_image_reason_and_fix() {
        assert_eq!(
            finding(0).render(),
            "spec.containers[0] (container \"c0\"): image \"nginx\" (docker.io/library/nginx:latest): no tag and no digest: it runs `latest` implicitly, which drifts. Fix: pin it as nginx:<tag>@sha256:<digest>."
        );
    }

    #[test]
    fn a_volume_is_named_as_a_volume() {
        let f = Finding {
            path: "spec.volumes[1].image.reference".into(),
            noun: "volume",
            container: "models".into(),
            image: Some("quay.io/crio/artifact:latest".into()),
            normalized: None,
            problems: vec![Problem::Drift {
                tag: Some("latest".into()),
            }],
            fix: "pin it as quay.io/crio/artifact:<tag>@sha256:<digest>".into(),
        };
        assert_eq!(
            f.render(),
            "spec.volumes[1].image.reference (volume \"models\"): image \"quay.io/crio/artifact:latest\": tag `latest` is mutable and no digest pins it (drift). Fix: pin it as quay.io/crio/artifact:<tag>@sha256:<digest>."
        );
        let unnamed = Finding {
            container: String::new(),
            ..f
        };
        assert!(
            unnamed
                .render()
                .starts_with("spec.volumes[1].image.reference (unnamed volume):")
        );
    }

    #[test]
    fn the_message_is_capped_with_a_count() {
        let findings: Vec<Finding> = (0..25).map(finding).collect();
        let m = reject_message("Pod default/p", &findings);
        assert!(m.starts_with("Pod default/p: 25 container images break"));
        assert_eq!(
            m.lines().filter(|l| l.starts_with("- ")).count(),
            MAX_LISTED
        );
        assert!(m.ends_with("… and 5 more"));
        let one = reject_message("Pod default/p", &findings[..1]);
        assert!(one.starts_with("Pod default/p: 1 container image breaks"));
    }

    #[test]
    fn huge_images_are_cut() {
        let big = "a".repeat(1 << 20);
        let q = quote(&big);
        assert!(q.len() < 300, "{}", q.len());
        assert!(q.ends_with("… (1048576 bytes)"));
    }

    #[test]
    fn warnings_are_capped() {
        let w: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let capped = cap_warnings(w);
        assert_eq!(capped.len(), MAX_WARNINGS);
        assert_eq!(
            capped.last().map(String::as_str),
            Some("… and 11 more warnings")
        );
        assert_eq!(cap_warnings(vec!["a".into()]), ["a"]);
    }

    #[test]
    fn a_ko_placeholder_is_fixed_by_building_it() {
        let image = "ko://knative.dev/serving/cmd/controller";
        let v = rules::judge(&ImageField::Str(image.into()), &Settings::default());
        assert_eq!(
            fix(image, &v),
            "build it first: `ko resolve -f FILE` writes each ko:// image as repository@sha256:<digest>"
        );
    }

    #[test]
    fn fixes_show_the_pinned_form() {
        let d = Settings::default();
        let cases = [
            ("nginx:latest", "pin it as nginx:<tag>@sha256:<digest>"),
            ("nginx", "pin it as nginx:<tag>@sha256:<digest>"),
            (
                "registry.example.com:5000/team/app:1.2",
                "pin it as registry.example.com:5000/team/app:1.2@sha256:<digest>",
            ),
            (
                "Nginx",
                "write it as [registry/]repository:tag@sha256:<64 lowercase hex digits>",
            ),
        ];
        for (image, want) in cases {
            let v = rules::judge(&ImageField::Str(image.into()), &d);
            assert_eq!(fix(image, &v), want, "{image}");
        }
        let digest_only = format!("nginx@sha256:{}", crate::TEST_H64);
        assert_eq!(
            fix(
                &digest_only,
                &rules::judge(&ImageField::Str(digest_only.as_str().into()), &d)
            ),
            format!(
                "add the tag the digest was built from: nginx:<tag>@sha256:{}",
                crate::TEST_H64
            )
        );
    }
}
