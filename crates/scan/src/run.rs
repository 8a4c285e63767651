//! A whole run, from texts to the report and the exit code: what the native checker does
//! around its worker threads, and what the web build and the Node command do in one go. The
//! counting, the notes and every format are here once.

use crate::document::{self, Out};
use crate::input::{self, InputError};
use crate::judge::Judge;
use crate::outcome;
use crate::report::{self, Checked, Report, Summary, Words};
use crate::values::{self, Merged};
use crate::values_judge;
use image_digest_policy::settings::{NamespaceScope, Settings};
use serde_json::Value;

/// The report formats: each renders a [`Report`] and nothing else. A command offers the
/// ones that say something about what it found (its `--output` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Lines a person reads.
    Text,
    /// The JSON report.
    Json,
    /// JUnit XML.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub workflow commands.
    Github,
    /// OpenReports `Report`/`ClusterReport` documents, a YAML stream.
    OpenReports,
}

impl Format {
    /// The formats of a check (and of the web build), as their names.
    pub const CHECK: [&'static str; 6] =
        ["text", "json", "junit", "sarif", "github", "openreports"];

    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::OpenReports => "openreports",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    /// One of [`Format::CHECK`] (what the web build and the Node command offer).
    fn from_str(s: &str) -> std::result::Result<Format, String> {
        Ok(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "junit" => Format::Junit,
            "sarif" => Format::Sarif,
            "github" => Format::Github,
            "openreports" => Format::OpenReports,
            other => {
                return Err(format!(
                    "unknown output format {other:?}: use {}",
                    Format::CHECK.join(", ")
                ));
            }
        })
    }
}

impl Report {
    /// Counts the documents' outputs, in input order, once each.
    pub fn from_documents(
        outs: Vec<Out>,
        mut errors: Vec<InputError>,
        scope: &NamespaceScope,
        allow_empty: bool,
    ) -> Report {
        let mut summary = Summary::default();
        let mut results = Vec::new();
        for out in outs {
            summary.documents += out.documents;
            out.skipped.into_iter().for_each(|k| summary.skip(k));
            results.extend(out.results);
            errors.extend(out.errors);
        }
        Report::finish(results, errors, summary, scope, allow_empty)
    }

    /// Counts a values run: `files` values files read, every image judged in `namespace`.
    pub fn from_values(
        mut results: Vec<Checked>,
        errors: Vec<InputError>,
        disabled: &[String],
        files: usize,
        scope: &NamespaceScope,
        namespace: &str,
        allow_empty: bool,
    ) -> Report {
        let mut summary = Summary {
            documents: files,
            words: Words {
                read: "values files",
                judged: "images",
                skipped: "disabled",
            },
            ..Default::default()
        };
        for block in disabled {
            summary.skip(block.clone());
        }
        for r in &mut results {
            r.out_of_scope = !scope.covers(namespace);
        }
        Report::finish(results, errors, summary, scope, allow_empty)
    }

    fn finish(
        results: Vec<Checked>,
        errors: Vec<InputError>,
        mut summary: Summary,
        scope: &NamespaceScope,
        allow_empty: bool,
    ) -> Report {
        results.iter().for_each(|r| summary.count(r));
        summary.input_errors = errors.len();
        let notes = outcome::notes(&summary, scope, allow_empty);
        Report {
            results,
            errors,
            summary: Some(summary),
            notes,
            ..Default::default()
        }
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => report::text(self),
            Format::Json => report::json(self),
            Format::Junit => report::junit::render(self),
            Format::Sarif => report::sarif::render(self),
            Format::Github => report::github::render(self),
            Format::OpenReports => report::openreports::render(self),
        }
    }

    /// Adds what a later pass found (`--verify-tags`: warnings on results, input errors) and
    /// counts it.
    pub fn amend(&mut self, change: impl FnOnce(&mut Vec<Checked>, &mut Vec<InputError>)) {
        change(&mut self.results, &mut self.errors);
        if let Some(summary) = &mut self.summary {
            summary.with_warnings = self
                .results
                .iter()
                .filter(|r| r.error.is_none() && !r.warnings.is_empty())
                .count();
            summary.input_errors = self.errors.len();
        }
    }
}

/// Settings as a file holds them: the `settings:` object, YAML or JSON, or a whole
/// ClusterAdmissionPolicy (its `spec.settings`); empty means the defaults.
pub fn settings_from_text(text: &str) -> std::result::Result<Value, crate::yaml::Error> {
    // Read like the manifests (one YAML reader instantiated, which keeps the web build small).
    let (value, _) = crate::yaml::parse(text)?;
    let is_policy = matches!(
        value.get("kind").and_then(Value::as_str),
        Some("ClusterAdmissionPolicy" | "AdmissionPolicy")
    );
    Ok(if is_policy {
        value
            .pointer("/spec/settings")
            .cloned()
            .unwrap_or(Value::Object(Default::default()))
    } else if value.is_null() {
        Value::Object(Default::default())
    } else {
        value
    })
}

/// Checks manifests given as `(name, text)` in this thread: each document in turn.
pub fn manifests(
    inputs: &[(String, String)],
    cx: &document::Context<'_>,
    judge: &mut dyn Judge,
) -> Vec<Out> {
    inputs
        .iter()
        .map(|(name, text)| {
            let (docs, errors) = input::parse(name, text);
            let mut out = Out {
                errors,
                ..Out::default()
            };
            for doc in &docs {
                document::check(cx, doc, judge, &mut out);
            }
            out
        })
        .collect()
}

/// Values files read and merged, ready to judge: the judge must be built with `effective`.
pub struct Values {
    /// The values files, merged as Helm merges them.
    pub merged: Merged,
    /// The settings the chart's own switch implies (`imagePolicy.requireDigest: true` turns
    /// `requireDigest` on).
    pub effective: Value,
    /// The namespace the images are judged in.
    pub namespace: String,
    /// What an empty tag renders: the chart's `appVersion` (`--chart`, `--app-version`).
    pub app_version: Option<String>,
    files: usize,
    errors: Vec<InputError>,
}

/// Reads and merges `inputs` in order (as `helm -f a -f b`) and picks the namespace the images
/// are judged in: `given`, else `default` unless the settings scope namespaces (guessing could
/// then skip a check: an input error). `errors` are the caller's own (unreadable files).
pub fn prepare_values(
    inputs: &[(String, String)],
    settings: &Value,
    parsed: &Settings,
    given: Option<&str>,
    mut errors: Vec<InputError>,
) -> Values {
    let mut read = Vec::new();
    for (name, text) in inputs {
        match values::read(name, text) {
            Ok(f) => read.push(f),
            Err(e) => errors.push(e),
        }
    }
    let first = inputs.first().map_or("<values>", |(n, _)| n.as_str());
    prepare_layers(read, first, settings, parsed, given, errors)
}

/// [`prepare_values`] over layers already read (a GitOps source's: files and inline blocks);
/// `first` names the release in messages.
pub fn prepare_layers(
    read: Vec<values::File>,
    first: &str,
    settings: &Value,
    parsed: &Settings,
    given: Option<&str>,
    mut errors: Vec<InputError>,
) -> Values {
    let merged = values::merge(&read);
    let mut effective = settings.clone();
    if values::require_digest(&merged.value)
        && let Value::Object(map) = &mut effective
    {
        map.insert("requireDigest".into(), Value::Bool(true));
    }
    let namespace = values_namespace(given, parsed, first).unwrap_or_else(|e| {
        errors.push(e);
        "default".to_owned()
    });
    Values {
        merged,
        effective,
        namespace,
        app_version: None,
        files: read.len(),
        errors,
    }
}

fn values_namespace(
    given: Option<&str>,
    settings: &Settings,
    first_file: &str,
) -> std::result::Result<String, InputError> {
    let scope = &settings.namespaces;
    match (given, document::is_scoped(scope)) {
        (Some(ns), _) => Ok(ns.to_owned()),
        (None, false) => Ok("default".to_owned()),
        (None, true) => Err(InputError {
            source: first_file.to_owned(),
            message: format!(
                "values name no namespace, and the settings check only some namespaces (include {:?}, exclude {:?}): pass --namespace NAME, the namespace of the release (as `helm template -n NAME`)",
                scope.include, scope.exclude
            ),
            line: None,
        }),
    }
}

/// Judges the prepared values unless reading them failed.
pub fn values(
    prepared: Values,
    settings: &Settings,
    judge: &mut dyn Judge,
    allow_empty: bool,
) -> Report {
    let Values {
        merged,
        namespace,
        app_version,
        files,
        mut errors,
        ..
    } = prepared;
    let mut disabled = Vec::new();
    let results = if errors.is_empty() {
        let outcome = values_judge::judge(judge, &merged, &namespace, app_version.as_deref());
        errors.extend(outcome.errors);
        disabled = outcome.disabled;
        outcome.results
    } else {
        Vec::new()
    };
    Report::from_values(
        results,
        errors,
        &disabled,
        files,
        &settings.namespaces,
        &namespace,
        allow_empty,
    )
}
