//! The whole evaluation of one admission request: payload in, verdict out. Pure (no waPC, no
//! I/O), so the wasm entry points, the native tests and the benchmarks all run this same code.

use crate::host::{DigestResolver, Lookups, NoHost};
use crate::reference;
use crate::report::{self, Finding};
use crate::request::{AdmissionRequest, ImageField, Obj, ValidatePayload, parse_at};
use crate::rules::{self, ImageVerdict};
use crate::settings::{Settings, VerifyTagDigest};
use crate::workload::{self, ContainerList, FoundContainer, Shape};
use std::collections::HashSet;

/// What `validate` answers, before it is serialised for the host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    pub accepted: bool,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    /// The object with tag-only images pinned (`pinDigests`), when anything was pinned.
    pub mutated_object: Option<serde_json::Value>,
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
            ..Verdict::default()
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

/// `validate` without a host: the digest lookups of `pinDigests` and `verifyTagDigest` fail.
pub fn validate(payload: &[u8]) -> Verdict {
    validate_with(payload, &mut NoHost)
}

/// `validate`: `{"request": AdmissionRequest, "settings": {...}}` in, verdict out, asking
/// `resolver` for digests when the settings want them. Never panics; anything it cannot
/// make sense of is a rejection that says what was wrong.
pub fn validate_with(payload: &[u8], resolver: &mut dyn DigestResolver) -> Verdict {
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
    let Some(Obj(request)) = envelope.request else {
        return Verdict::malformed("the payload has no `request`");
    };
    evaluate(&request, &settings, resolver)
}

/// The rules of CONTRACT sections 3 to 6 applied to a parsed request.
pub fn evaluate(
    request: &AdmissionRequest<'_>,
    settings: &Settings,
    resolver: &mut dyn DigestResolver,
) -> Verdict {
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
    let mut pins: Vec<(String, String)> = Vec::new();
    let mut lookups = Lookups::new(resolver);
    for c in &workload.containers {
        let verdict = rules::judge(&c.image, settings);
        let image = match &c.image {
            ImageField::Str(s) => s.as_ref(),
            _ => "",
        };
        let at = || format!("{} (container {})", c.path(shape), report::quote(&c.name));
        if settings.pin_digests && is_pinnable(&verdict) {
            match lookups
                .resolve(image)
                .and_then(|d| allowed_digest(&d, settings))
            {
                Ok(digest) => pins.push((c.image_pointer(shape), format!("{image}@{digest}"))),
                Err(reason) if settings.require_digest => {
                    let mut f = finding(c, shape, &verdict);
                    f.reasons = format!(
                        "no digest, and the host could not resolve one to pin it: {reason}"
                    );
                    f.fix = format!(
                        "make the image resolvable, or {}",
                        rules::fix(image, &verdict)
                    );
                    blocking.push(f);
                }
                Err(reason) => warnings.push(format!(
                    "{}: image {} was not pinned: the host could not resolve its digest: {reason}",
                    at(),
                    report::quote(image)
                )),
            }
            continue;
        }
        match &verdict {
            ImageVerdict::Exempt => {}
            ImageVerdict::Accepted => {
                if settings.verify_tag_digest != VerifyTagDigest::Off
                    && let Some(problem) = verify_tag(image, &mut lookups)
                {
                    match problem {
                        TagCheck::Moved(reason)
                            if settings.verify_tag_digest == VerifyTagDigest::Reject =>
                        {
                            let mut f = finding(c, shape, &verdict);
                            f.reasons = reason;
                            f.fix = "re-pin the image to the digest you mean to run, with the tag it was built from".to_owned();
                            blocking.push(f);
                        }
                        TagCheck::Moved(reason) | TagCheck::Unverified(reason) => {
                            warnings.push(format!(
                                "{}: image {}: {reason}",
                                at(),
                                report::quote(image)
                            ));
                        }
                    }
                }
            }
            ImageVerdict::Unpinned => {
                if settings.warn_unpinned {
                    warnings.push(format!(
                        "{}: image {} is not pinned by a digest; {} (requireDigest: true will reject it)",
                        at(),
                        report::quote(image),
                        rules::fix(image, &verdict),
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
    if !blocking.is_empty() {
        let subject = report::subject(kind, namespace, &name);
        return Verdict {
            accepted: false,
            message: Some(report::reject_message(&subject, &blocking)),
            warnings,
            mutated_object: None,
        };
    }
    let mutated_object = if pins.is_empty() {
        None
    } else {
        match pinned_object(object.get(), &pins) {
            Ok(o) => Some(o),
            Err(e) => return Verdict::malformed(e),
        }
    };
    Verdict {
        accepted: true,
        message: None,
        warnings,
        mutated_object,
    }
}

/// A tag-only image whose only problem (if any) is the missing digest: pinning fixes it.
/// Drifting, invalid, exempt and otherwise rejected images are never looked up.
fn is_pinnable(verdict: &ImageVerdict) -> bool {
    match verdict {
        ImageVerdict::Unpinned => true,
        ImageVerdict::Violates(p) => p.iter().all(|p| *p == rules::Problem::NoDigest),
        _ => false,
    }
}

fn allowed_digest(digest: &str, settings: &Settings) -> Result<String, String> {
    let algorithm = digest.split_once(':').map_or("", |(a, _)| a);
    if settings
        .allowed_digest_algorithms
        .iter()
        .any(|a| a == algorithm)
    {
        Ok(digest.to_owned())
    } else {
        Err(format!(
            "the registry's digest {digest} uses {algorithm}, which allowedDigestAlgorithms does not allow"
        ))
    }
}

enum TagCheck {
    Moved(String),
    Unverified(String),
}

/// `repo:tag@digest`: does `repo:tag` still resolve to `digest`?
fn verify_tag(image: &str, lookups: &mut Lookups<'_>) -> Option<TagCheck> {
    let r = reference::parse(image).ok()?;
    let (tag, pinned) = (r.tag?, r.digest?);
    let tagged = image.split_once('@').map_or(image, |(t, _)| t);
    let pinned = pinned.to_string();
    match lookups.resolve(tagged) {
        Ok(current) if current == pinned => None,
        Ok(current) => Some(TagCheck::Moved(format!(
            "tag `{tag}` now points to {current}, not to the pinned {pinned}: the digest decides what runs, so the tag no longer describes it"
        ))),
        Err(reason) => Some(TagCheck::Unverified(format!(
            "tag `{tag}` could not be verified against the pinned {pinned}: {reason}"
        ))),
    }
}

/// The object with each pinned image written in place; nothing else changes.
fn pinned_object(object: &str, pins: &[(String, String)]) -> Result<serde_json::Value, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(object).map_err(|e| format!("request.object: {e}"))?;
    for (pointer, image) in pins {
        let slot = value
            .pointer_mut(pointer)
            .ok_or_else(|| format!("request.object{pointer} vanished while pinning"))?;
        *slot = serde_json::Value::String(image.clone());
    }
    Ok(value)
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
