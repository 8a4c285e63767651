//! The whole evaluation of one admission request: payload in, verdict out. Pure (no waPC, no
//! I/O), so the wasm entry points, the native tests and the benchmarks all run this same code.

use crate::reference;
use crate::report::{self, Finding};
use crate::request::{AdmissionRequest, ImageField, Obj, ValidatePayload, parse_at};
use crate::rules::{self, ImageVerdict};
use crate::settings::Settings;
use crate::workload::{self, ContainerList, FoundContainer, Shape};
use std::collections::HashSet;

/// What `validate` answers, before it is serialised for the host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    pub accepted: bool,
    pub message: Option<String>,
    pub warnings: Vec<String>,
}

impl Verdict {
    fn accept() -> Verdict {
        Verdict {
            accepted: true,
            ..Verdict::default()
        }
    }

    fn reject(message: String) -> Verdict {
        Verdict {
            accepted: false,
            message: Some(message),
            warnings: Vec::new(),
        }
    }

    fn malformed(what: impl std::fmt::Display) -> Verdict {
        Verdict::reject(format!("malformed admission request: {what}"))
    }
}

/// What `validate_settings` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsVerdict {
    pub valid: bool,
    pub message: Option<String>,
}

/// `validate_settings`: the payload is the settings object itself.
pub fn validate_settings(payload: &[u8]) -> SettingsVerdict {
    let value: Option<serde_json::Value> = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            return SettingsVerdict {
                valid: false,
                message: Some(format!("invalid settings: not JSON: {e}")),
            };
        }
    };
    match Settings::from_json(value.as_ref()) {
        Ok(_) => SettingsVerdict {
            valid: true,
            message: None,
        },
        Err(e) => SettingsVerdict {
            valid: false,
            message: Some(e.to_string()),
        },
    }
}

/// `validate`: `{"request": AdmissionRequest, "settings": {...}}` in, verdict out. Never
/// panics; anything it cannot make sense of is a rejection that says what was wrong.
pub fn validate(payload: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(payload) else {
        return Verdict::malformed("the payload is not UTF-8");
    };
    let Obj(envelope): Obj<ValidatePayload> = match parse_at(text, "payload") {
        Ok(p) => p,
        Err(e) => return Verdict::malformed(e),
    };
    // Settings that fail validation are refused by the server before any request; checking
    // them again here keeps the offline path and a skipped validation fail-closed.
    let settings = match Settings::from_json(envelope.settings.as_ref()) {
        Ok(s) => s,
        Err(e) => return Verdict::reject(e.to_string()),
    };
    let Some(raw_request) = envelope.request else {
        return Verdict::malformed("the payload has no `request`");
    };
    let Obj(request): Obj<AdmissionRequest> = match parse_at(raw_request.get(), "request") {
        Ok(r) => r,
        Err(e) => return Verdict::malformed(e),
    };
    evaluate(&request, &settings)
}

/// The rules of CONTRACT sections 3 to 5 applied to a parsed request.
pub fn evaluate(request: &AdmissionRequest<'_>, settings: &Settings) -> Verdict {
    match request.operation.as_deref() {
        Some("CREATE" | "UPDATE") => {}
        Some(_) => return Verdict::accept(),
        None => return Verdict::malformed("request.operation is missing"),
    }
    let Some(shape) = shape_of(request) else {
        return Verdict::accept();
    };
    let request_namespace = request.namespace.as_deref().filter(|n| !n.is_empty());
    if let Some(ns) = request_namespace
        && !settings.namespaces.covers(ns)
    {
        return Verdict::accept();
    }
    let Some(object) = request.object else {
        return Verdict::malformed("request.object is missing");
    };
    let workload = match workload::read(shape, object.get(), "request.object") {
        Ok(w) => w,
        Err(e) => return Verdict::malformed(e),
    };
    let namespace = request_namespace
        .or(workload
            .metadata
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty()))
        .unwrap_or("default");
    if request_namespace.is_none() && !settings.namespaces.covers(namespace) {
        return Verdict::accept();
    }

    let existing =
        if settings.allow_existing_violations && request.operation.as_deref() == Some("UPDATE") {
            existing_violations(request, shape, settings)
        } else {
            HashSet::new()
        };

    let mut blocking = Vec::new();
    let mut warnings = Vec::new();
    for c in &workload.containers {
        let verdict = rules::judge(&c.image, settings);
        match &verdict {
            ImageVerdict::Accepted | ImageVerdict::Exempt => {}
            ImageVerdict::Unpinned => {
                if settings.warn_unpinned
                    && let ImageField::Str(image) = &c.image
                {
                    warnings.push(format!(
                        "{} (container {}): image {} is not pinned by a digest; {} (requireDigest: true will reject it)",
                        c.path(shape),
                        report::quote(&c.name),
                        report::quote(image.as_ref()),
                        rules::fix(image.as_ref(), &verdict),
                    ));
                }
            }
            ImageVerdict::Invalid(_) | ImageVerdict::Violates(_) => {
                let finding = finding(c, shape, &verdict);
                if existing.contains(&key(c)) {
                    warnings.push(format!(
                        "existing violation kept by allowExistingViolations: {}",
                        finding.render()
                    ));
                } else {
                    blocking.push(finding);
                }
            }
        }
    }

    let name = workload
        .metadata
        .name
        .as_deref()
        .or(request.name.as_deref())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            workload
                .metadata
                .generate_name
                .as_deref()
                .map(|g| format!("{g}<generated>"))
        })
        .unwrap_or_else(|| "<unnamed>".to_owned());
    let kind = request.kind.as_ref().map(|k| k.kind.as_ref()).unwrap_or("");
    let warnings = report::cap_warnings(warnings);
    if blocking.is_empty() {
        Verdict {
            accepted: true,
            message: None,
            warnings,
        }
    } else {
        let subject = report::subject(kind, namespace, &name);
        Verdict {
            accepted: false,
            message: Some(report::reject_message(&subject, &blocking)),
            warnings,
        }
    }
}

/// Which pod-spec shape the request's object has, or `None` when the request is not this
/// policy's business. The `pods/ephemeralcontainers` subresource (how `kubectl debug` adds
/// containers) carries a whole Pod; other subresources (status, scale, binding…) cannot
/// change an image.
fn shape_of(request: &AdmissionRequest<'_>) -> Option<Shape> {
    let sub = request.sub_resource.as_deref().unwrap_or("");
    let resource = request
        .resource
        .as_ref()
        .map(|r| r.resource.as_ref())
        .unwrap_or("");
    if !sub.is_empty() {
        return (resource == "pods" && sub == "ephemeralcontainers").then_some(Shape::Pod);
    }
    let kind = request.kind.as_ref()?;
    Shape::of(&kind.group, &kind.kind)
}

/// A finding's identity across an UPDATE: the same container (by list and name) with the
/// same image. Indexes are not part of it, since reordering containers is harmless.
type Key = (ContainerList, String, Option<String>);

fn key(c: &FoundContainer<'_>) -> Key {
    let image = match &c.image {
        ImageField::Str(s) => Some(s.to_string()),
        _ => None,
    };
    (c.list, c.name.to_string(), image)
}

/// The findings the old object already had. An old object that cannot be read grants
/// nothing: its findings then block as new ones (fail closed).
fn existing_violations(
    request: &AdmissionRequest<'_>,
    shape: Shape,
    settings: &Settings,
) -> HashSet<Key> {
    let Some(old) = request.old_object else {
        return HashSet::new();
    };
    let Ok(old) = workload::read(shape, old.get(), "request.oldObject") else {
        return HashSet::new();
    };
    old.containers
        .iter()
        .filter(|c| {
            matches!(
                rules::judge(&c.image, settings),
                ImageVerdict::Invalid(_) | ImageVerdict::Violates(_)
            )
        })
        .map(key)
        .collect()
}

fn finding(c: &FoundContainer<'_>, shape: Shape, verdict: &ImageVerdict) -> Finding {
    let (image, normalized) = match &c.image {
        ImageField::Str(s) => (
            Some(s.to_string()),
            reference::parse(s).ok().map(|r| r.normalized()),
        ),
        _ => (None, None),
    };
    let reasons = match verdict {
        ImageVerdict::Invalid(why) => why.clone(),
        ImageVerdict::Violates(problems) => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    };
    let fix = rules::fix(image.as_deref().unwrap_or(""), verdict);
    Finding {
        path: c.path(shape),
        container: c.name.to_string(),
        image,
        normalized,
        reasons,
        fix,
    }
}

#[cfg(test)]
mod tests;
