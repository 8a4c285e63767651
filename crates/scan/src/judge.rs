//! Whoever runs the policy: the native checker runs `policy.wasm` in wasmtime, the web build
//! runs the same core compiled to the browser's wasm. Everything around a verdict (reading,
//! requests, positions, reports) is shared; only this call differs.

use image_digest_policy::reference::Part;
use image_digest_policy::report::ReportData;
use image_digest_policy::rules::Rule;

/// Why a policy gave no answer a report can use: the runner failed (a trap, a host error), or
/// the module answered in words of another release. Never a rejection: the document is
/// counted as not checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    /// The policy could not run on the request.
    #[error("{0}")]
    Failed(String),
    /// The module files a finding under a rule this release does not know.
    #[error(
        "the policy module reports rule {id:?}, which this checker (image-digest-policy {}) does not know: run the checker of the module's release, or without --policy",
        image_digest_policy::VERSION
    )]
    UnknownRule {
        /// The rule's id as the module wrote it.
        id: String,
    },
    /// The module names a part of a reference this release does not know.
    #[error(
        "the policy module names a part {part:?} of a reference that this checker does not know: run the checker of the module's release, or without --policy"
    )]
    UnknownPart {
        /// The part as the module wrote it.
        part: String,
    },
}

/// A blocking finding as the policy reported it (its `report` function): where, which rule,
/// which part of the reference to edit, and the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The field path.
    pub path: String,
    /// The rule.
    pub rule: Rule,
    /// The part of the reference to edit.
    pub part: Part,
    /// The line without its path.
    pub detail: String,
    /// The reasons as one clause.
    pub reasons: String,
}

/// A warning as the policy reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warned {
    /// The field path.
    pub path: String,
    /// The rule.
    pub rule: Rule,
    /// The whole warning.
    pub text: String,
    /// What it says of the image.
    pub detail: String,
}

/// The policy's answer to one request: its verdict and message as the host receives them, and
/// its findings and warnings as data (with their rules), for every output format.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Whether the request may go on.
    pub accepted: bool,
    /// The reject message as the API server shows it.
    pub message: Option<String>,
    /// Every blocking finding.
    pub findings: Vec<Found>,
    /// Every warning.
    pub warnings: Vec<Warned>,
    /// The JSONPatch a mutating deployment would apply.
    pub patch: Option<serde_json::Value>,
}

impl Answer {
    /// The core's own verdict, in this process: the same release, so its rules are this
    /// release's (no ids to read back; the web build is smaller for it).
    pub fn from_verdict(v: image_digest_policy::Verdict) -> Answer {
        Answer {
            findings: v
                .findings
                .iter()
                .map(|f| Found {
                    path: f.path.clone(),
                    rule: f.rule(),
                    part: f.part(),
                    detail: f.detail(),
                    reasons: f.reasons(),
                })
                .collect(),
            warnings: v
                .warnings
                .iter()
                .map(|w| Warned {
                    path: w.path.clone(),
                    rule: w.rule,
                    text: w.text.clone(),
                    detail: w.detail().to_owned(),
                })
                .collect(),
            accepted: v.accepted,
            message: v.message,
            patch: None,
        }
    }

    /// The answer a module's `report` gave, its rules read back into this release's table: a
    /// rule this release does not know (a module of another release) is an error, never a
    /// finding filed under another rule.
    pub fn from_data(
        data: ReportData,
        patch: Option<serde_json::Value>,
    ) -> Result<Answer, JudgeError> {
        let rule = |id: &str| {
            Rule::from_id(id).ok_or_else(|| JudgeError::UnknownRule { id: id.to_owned() })
        };
        let findings = data
            .findings
            .into_iter()
            .map(|f| {
                Ok(Found {
                    rule: rule(&f.rule)?,
                    part: Part::from_name(&f.part).ok_or_else(|| JudgeError::UnknownPart {
                        part: f.part.clone(),
                    })?,
                    path: f.path,
                    detail: f.detail,
                    reasons: f.reasons,
                })
            })
            .collect::<Result<Vec<_>, JudgeError>>()?;
        let warnings = data
            .warning_details
            .into_iter()
            .map(|w| {
                Ok(Warned {
                    rule: rule(&w.rule)?,
                    path: w.path,
                    text: w.text,
                    detail: w.detail,
                })
            })
            .collect::<Result<Vec<_>, JudgeError>>()?;
        Ok(Answer {
            accepted: data.accepted,
            message: data.message,
            findings,
            warnings,
            patch,
        })
    }
}

/// Whoever runs the policy on a request.
pub trait Judge {
    /// Validates one AdmissionRequest (the `request` object, as JSON). An `Err` is a failure
    /// to run the policy (a trap, a host error), never a rejection.
    fn judge(&mut self, request: &[u8]) -> Result<Answer, JudgeError>;
}

/// The policy's core, run in this process: what the web build and the tests use.
pub struct Core {
    /// The settings, as JSON.
    pub settings: serde_json::Value,
}

impl Judge for Core {
    fn judge(&mut self, request: &[u8]) -> Result<Answer, JudgeError> {
        let settings = self.settings.to_string().into_bytes();
        let bytes = image_digest_policy::request::payload(request, &settings);
        Ok(Answer::from_verdict(image_digest_policy::validate(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_digest_policy::report::{FindingData, WarningData};

    /// A module's answer is read into this release's rules; one of a rule this release does
    /// not know is an error naming it, never a finding filed under another rule.
    #[test]
    fn a_report_is_read_into_the_rules_or_refused() {
        let finding = |rule: &str, part: &str| FindingData {
            path: "spec.containers[0]".into(),
            rule: rule.into(),
            part: part.into(),
            detail: "d".into(),
            reasons: "r".into(),
        };
        let data = |findings: Vec<FindingData>| ReportData {
            accepted: false,
            message: Some("m".into()),
            warnings: vec!["w".into()],
            mutated_object: None,
            findings,
            warning_details: vec![WarningData {
                path: "spec.containers[1]".into(),
                rule: "unpinned".into(),
                text: "w".into(),
                detail: "d".into(),
            }],
        };
        let read = Answer::from_data(data(vec![finding("missing-tag", "tag")]), None)
            .expect("known rules");
        assert_eq!(
            (
                read.findings[0].rule,
                read.findings[0].part,
                read.warnings[0].rule
            ),
            (Rule::MissingTag, Part::Tag, Rule::Unpinned)
        );
        for (rule, part, says) in [
            ("future-rule", "digest", "reports rule \"future-rule\""),
            ("mutable-tag", "platform", "names a part \"platform\""),
        ] {
            let e = Answer::from_data(data(vec![finding(rule, part)]), None)
                .expect_err("unknown to this release")
                .to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
