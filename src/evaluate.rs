//! The whole evaluation of one admission request: payload in, verdict out. Pure (no waPC, no
//! I/O), so the wasm entry points, the native tests and the benchmarks all run this same code.

use crate::host::{DigestResolver, Lookups, NoHost};
use crate::kinds::{Shape, Target};
use crate::reference;
use crate::report::{self, Finding, Warning};
use crate::request::{AdmissionRequest, ImageField, Obj, ValidatePayload, parse_at};
use crate::rules::{self, ImageVerdict, Problem};
use crate::settings::{PinDigests, Settings, VerifyTagDigest};
use crate::workload::{self, ContainerList, FoundContainer, ObjectImages};
use serde_json::value::RawValue;

/// What `validate` answers, before it is serialised for the host; the native tools also read
/// its findings and warnings as data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// Whether the request may go on.
    pub accepted: bool,
    /// The reject message: the subject, then every blocking finding up to the cap.
    pub message: Option<String>,
    /// Every blocking finding (the message lists the first [`report::MAX_LISTED`]).
    pub findings: Vec<Finding>,
    /// Every warning, uncapped; the response carries [`Verdict::warning_texts`].
    pub warnings: Vec<Warning>,
    /// The object with tag-only images pinned (`pinDigests`), when anything was pinned.
    pub mutated_object: Option<serde_json::Value>,
}

impl Verdict {
    /// The verdict as the `report` function answers it.
    pub fn data(&self) -> report::ReportData {
        report::ReportData {
            accepted: self.accepted,
            message: self.message.clone(),
            warnings: self.warning_texts(),
            mutated_object: self.mutated_object.clone(),
            findings: self.findings.iter().map(Into::into).collect(),
            warning_details: self.warnings.iter().map(Into::into).collect(),
        }
    }

    /// [`Verdict::data`] as JSON, written by hand: serde's derived serialisers for it cost the
    /// policy module 7.6 KB, this 3.8 KB (`report` is there for the tools, and every byte
    /// of the module is compiled and loaded by every policy-server; the budget is 400,000). A
    /// test holds it equal to `data()` read back.
    pub fn data_json(&self) -> Vec<u8> {
        use report::json_string as s;
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"accepted\":");
        out.extend_from_slice(if self.accepted { b"true" } else { b"false" });
        out.extend_from_slice(b",\"message\":");
        match &self.message {
            Some(m) => s(&mut out, m),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"warnings\":[");
        for (i, w) in self.warning_texts().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            s(&mut out, w);
        }
        out.extend_from_slice(b"],\"mutated_object\":");
        match &self.mutated_object {
            Some(o) => {
                let _ = serde_json::to_writer(&mut out, o);
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"findings\":[");
        for (i, f) in self.findings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let fields = [
                ("path", f.path.as_str()),
                ("rule", f.rule().id()),
                ("part", f.part().name()),
                ("detail", &f.detail()),
                ("reasons", &f.reasons()),
            ];
            report::json_object(&mut out, &fields);
        }
        out.extend_from_slice(b"],\"warning_details\":[");
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let fields = [
                ("path", w.path.as_str()),
                ("rule", w.rule.id()),
                ("text", w.text.as_str()),
                ("detail", w.detail()),
            ];
            report::json_object(&mut out, &fields);
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// The warnings as the response carries them: capped, with a count of the rest.
    pub fn warning_texts(&self) -> Vec<String> {
        report::cap_warnings(self.warnings.iter().map(|w| w.text.clone()).collect())
    }

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
    /// Whether the settings are valid.
    pub valid: bool,
    /// Every problem, when they are not.
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

/// The contract applied to a parsed request, as a pipeline: scope (operation, kind,
/// namespace) → discover the images (built-in kinds or custom ones) → judge each (rules,
/// exemptions, pinning, tag verification) → report.
pub fn evaluate(
    request: &AdmissionRequest<'_>,
    settings: &Settings,
    resolver: &mut dyn DigestResolver,
) -> Verdict {
    let (target, object) = match scope(request, settings) {
        Ok(Some(found)) => found,
        Ok(None) => return Verdict::accept(),
        Err(e) => return Verdict::malformed(e),
    };
    let workload = match workload::read_target(&target, object.get(), "request.object") {
        Ok(w) => w,
        Err(e) => return Verdict::malformed(e),
    };
    let Some(namespace) = namespace_in_scope(request, &workload, settings) else {
        return Verdict::accept();
    };
    let existing = existing_violations(request, &target, settings);
    let pinning = match settings.pin_digests {
        PinDigests::Off => false,
        PinDigests::All => true,
        PinDigests::PodsOnly => matches!(&target, Target::Builtin(Shape::Pod)),
    };
    let judged = judge_all(&workload.containers, settings, pinning, &existing, resolver);
    conclude(request, &workload, namespace, judged, object.get())
}

/// The request's object and what to read it as, when the request is this policy's
/// business. A missing operation or object is malformed; another operation, kind or
/// namespace is not checked.
fn scope<'r, 's>(
    request: &AdmissionRequest<'r>,
    settings: &'s Settings,
) -> Result<Option<(Target<'s>, &'r RawValue)>, &'static str> {
    match request.operation.as_deref() {
        Some("CREATE" | "UPDATE") => {}
        Some(_) => return Ok(None),
        None => return Err("request.operation is missing"),
    }
    let Some(target) = target_of(request, settings) else {
        return Ok(None);
    };
    if let Some(ns) = request_namespace(request)
        && !settings.namespaces.covers(ns)
    {
        return Ok(None);
    }
    match request.object {
        Some(object) => Ok(Some((target, object))),
        None => Err("request.object is missing"),
    }
}

fn request_namespace<'r>(request: &'r AdmissionRequest<'_>) -> Option<&'r str> {
    request.namespace.as_deref().filter(|n| !n.is_empty())
}

/// The namespace the object is in (the request's, else the object's, else `default`), when
/// the settings check it.
fn namespace_in_scope<'w>(
    request: &'w AdmissionRequest<'_>,
    workload: &'w ObjectImages<'_>,
    settings: &Settings,
) -> Option<&'w str> {
    let from_request = request_namespace(request);
    let from_object = workload
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty());
    let namespace = from_request.or(from_object).unwrap_or("default");
    (from_request.is_some() || settings.namespaces.covers(namespace)).then_some(namespace)
}

/// The outcome of judging every container.
#[derive(Default)]
struct Judged {
    blocking: Vec<Finding>,
    warnings: Vec<Warning>,
    /// (JSON pointer of an image field, the pinned image, and for a composed image's digest
    /// field the key to add when it is not there)
    pins: Vec<(String, String, Option<String>)>,
}

/// Judges every container; `pinning` says whether this object's tag-only images are pinned.
fn judge_all(
    containers: &[FoundContainer<'_>],
    settings: &Settings,
    pinning: bool,
    existing: &[Key],
    resolver: &mut dyn DigestResolver,
) -> Judged {
    let mut judged = Judged::default();
    let mut lookups = Lookups::new(resolver);
    for c in containers {
        if c.operator_default {
            operator_default(c, settings, existing, &mut judged);
            continue;
        }
        let verdict = rules::judge(&c.image, settings);
        if let (Some(reason), ImageVerdict::Violates(_) | ImageVerdict::Unpinned) =
            (&c.exempt, &verdict)
        {
            // Said every time, never silent: the field cannot hold a digest.
            let problem = Problem::ExemptPath {
                reason: reason.clone(),
            };
            let detail = format!("image {} {problem}", report::quote(c.image.as_str()));
            judged.warnings.push(warning(c, problem, detail));
            continue;
        }
        if pinning && is_pinnable(&verdict) {
            pin(c, &verdict, settings, &mut lookups, &mut judged);
            continue;
        }
        match verdict {
            ImageVerdict::Exempt => {}
            ImageVerdict::Accepted => verify(c, settings, &mut lookups, &mut judged),
            ImageVerdict::Unpinned if settings.warn_unpinned => judged.warnings.push(warning(
                c,
                Problem::Unpinned,
                format!(
                    "image {} {}; {} (requireDigest: true will reject it)",
                    report::quote(c.image.as_str()),
                    Problem::Unpinned,
                    report::fix(c.image.as_str(), &verdict),
                ),
            )),
            ImageVerdict::Unpinned => {}
            verdict @ (ImageVerdict::Invalid(_) | ImageVerdict::Violates(_)) => {
                let fix = report::fix(c.image.as_str(), &verdict);
                let finding = finding(c, verdict.into_problems(), fix);
                if existing.contains(&key(c)) {
                    let (rule, detail) = (finding.rule(), finding.detail());
                    let before = format!(
                        "existing violation kept by allowExistingViolations: {} ",
                        finding.path
                    );
                    judged.warnings.push(Warning::new(
                        finding.path,
                        rule,
                        finding.problems,
                        &before,
                        &detail,
                    ));
                } else {
                    judged.blocking.push(finding);
                }
            }
        }
    }
    judged
}

/// An operator's image field that is not set: its default image is a tag without a digest.
/// Under `requireDigest` the workload the operator creates would be rejected by this policy, so
/// the resource is; otherwise it is an unpinned image (a warning while `warnUnpinned`). An
/// `exemptPaths` entry or an existing violation (`allowExistingViolations`) makes it a warning.
fn operator_default(
    c: &FoundContainer<'_>,
    settings: &Settings,
    existing: &[Key],
    judged: &mut Judged,
) {
    let fix = format!(
        "set {} to the image the operator should run, as repository:tag@sha256:<digest>",
        c.path
    );
    if let Some(reason) = &c.exempt {
        let problem = Problem::ExemptPath {
            reason: reason.clone(),
        };
        let detail = format!("the operator's default image {problem}");
        judged.warnings.push(warning(c, problem, detail));
    } else if !settings.require_digest {
        if settings.warn_unpinned {
            let detail = format!(
                "not set: the operator runs its own default image, which {} ({fix})",
                Problem::Unpinned
            );
            judged.warnings.push(warning(c, Problem::Unpinned, detail));
        }
    } else if existing.contains(&key(c)) {
        let detail = format!(
            "existing violation kept by allowExistingViolations: {}",
            Problem::OperatorDefault
        );
        judged
            .warnings
            .push(warning(c, Problem::OperatorDefault, detail));
    } else {
        judged
            .blocking
            .push(finding(c, vec![Problem::OperatorDefault], fix));
    }
}

/// `path (container "name")` or `path (volume "name")`, how a warning names what holds the
/// image.
fn at(c: &FoundContainer<'_>) -> String {
    format!("{} ({} {})", c.path, c.list.noun(), report::quote(&c.name))
}

/// A warning about `c`'s image: `detail` after where it is.
fn warning(c: &FoundContainer<'_>, problem: Problem, detail: String) -> Warning {
    let rule = problem.rule();
    let before = format!("{}: ", at(c));
    Warning::new(c.path.clone(), rule, vec![problem], &before, &detail)
}

/// `pinDigests`: the image rewritten to `image@digest`, or, when the host cannot say, a
/// rejection under `requireDigest` and a warning otherwise.
fn pin(
    c: &FoundContainer<'_>,
    verdict: &ImageVerdict,
    settings: &Settings,
    lookups: &mut Lookups<'_>,
    judged: &mut Judged,
) {
    let image = c.image.as_str();
    match lookups
        .resolve(image)
        .and_then(|d| settings.allows_digest(&d).map(|()| d))
    {
        // A composed image gets its digest in its own field.
        Ok(digest) => judged.pins.push(match &c.digest_at {
            Some(at) => (at.1.clone(), digest, Some(at.2.clone())),
            None => (c.image_pointer.clone(), format!("{image}@{digest}"), None),
        }),
        Err(reason) if settings.require_digest => {
            let fix = format!(
                "make the image resolvable, or {}",
                report::fix(image, verdict)
            );
            judged
                .blocking
                .push(finding(c, vec![Problem::LookupFailed { reason }], fix));
        }
        Err(reason) => {
            let problem = Problem::NotPinned { reason };
            let detail = format!("image {} {problem}", report::quote(image));
            judged.warnings.push(warning(c, problem, detail));
        }
    }
}

/// `verifyTagDigest`: a pinned image whose tag now points elsewhere (or cannot be checked).
fn verify(
    c: &FoundContainer<'_>,
    settings: &Settings,
    lookups: &mut Lookups<'_>,
    judged: &mut Judged,
) {
    if settings.verify_tag_digest == VerifyTagDigest::Off {
        return;
    }
    match verify_tag(c.image.as_str(), lookups) {
        None => {}
        Some(problem @ Problem::TagMoved { .. })
            if settings.verify_tag_digest == VerifyTagDigest::Reject =>
        {
            let fix =
                "re-pin the image to the digest you mean to run, with the tag it was built from";
            judged
                .blocking
                .push(finding(c, vec![problem], fix.to_owned()));
        }
        Some(problem) => {
            let detail = format!("image {}: {problem}", report::quote(c.image.as_str()));
            judged.warnings.push(warning(c, problem, detail));
        }
    }
}

/// The verdict from what was judged: a rejection listing every blocking finding, else an
/// acceptance with the warnings and, when anything was pinned, the pinned object.
fn conclude(
    request: &AdmissionRequest<'_>,
    workload: &ObjectImages<'_>,
    namespace: &str,
    judged: Judged,
    object: &str,
) -> Verdict {
    let warnings = judged.warnings;
    if !judged.blocking.is_empty() {
        let kind = request.kind.as_ref().map(|k| k.kind.as_ref()).unwrap_or("");
        let subject = report::subject(kind, namespace, &object_name(request, workload));
        return Verdict {
            accepted: false,
            message: Some(report::reject_message(&subject, &judged.blocking)),
            findings: judged.blocking,
            warnings,
            mutated_object: None,
        };
    }
    let mutated_object = if judged.pins.is_empty() {
        None
    } else {
        match pinned_object(object, &judged.pins) {
            Ok(o) => Some(o),
            Err(e) => return Verdict::malformed(e),
        }
    };
    Verdict {
        accepted: true,
        message: None,
        findings: Vec::new(),
        warnings,
        mutated_object,
    }
}

/// The object's name as a message shows it: its own, the request's, a generated one's
/// prefix, or `<unnamed>`.
fn object_name(request: &AdmissionRequest<'_>, workload: &ObjectImages<'_>) -> String {
    workload
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
        .unwrap_or_else(|| "<unnamed>".to_owned())
}

/// A tag-only image whose only problem (if any) is the missing digest: pinning fixes it.
/// Drifting, invalid, exempt and otherwise rejected images are never looked up.
fn is_pinnable(verdict: &ImageVerdict) -> bool {
    match verdict {
        ImageVerdict::Unpinned => true,
        ImageVerdict::Violates(p) => p.iter().all(|p| *p == Problem::NoDigest),
        _ => false,
    }
}

/// `repo:tag@digest`: does `repo:tag` still resolve to `digest`? `None` when it does;
/// [`Problem::TagMoved`] or [`Problem::TagUnverified`] otherwise.
fn verify_tag(image: &str, lookups: &mut Lookups<'_>) -> Option<Problem> {
    let r = reference::parse(image).ok()?;
    let (tag, pinned) = (r.tag?, r.digest?);
    let tagged = image.split_once('@').map_or(image, |(t, _)| t);
    let pinned = pinned.to_string();
    match lookups.resolve(tagged) {
        Ok(current) if current == pinned => None,
        Ok(current) => Some(Problem::TagMoved {
            tag: tag.to_owned(),
            current,
            pinned,
        }),
        Err(reason) => Some(Problem::TagUnverified {
            tag: tag.to_owned(),
            pinned,
            reason,
        }),
    }
}

/// The object with each pinned image (or composed image's digest) written in place; nothing
/// else changes.
fn pinned_object(
    object: &str,
    pins: &[(String, String, Option<String>)],
) -> Result<serde_json::Value, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(object).map_err(|e| format!("request.object: {e}"))?;
    for (pointer, image, key) in pins {
        let new = serde_json::Value::String(image.clone());
        if let Some(slot) = value.pointer_mut(pointer) {
            *slot = new;
            continue;
        }
        // A composed image's digest field that is not there yet: added to its block.
        let block = pointer
            .rsplit_once('/')
            .and_then(|(parent, _)| value.pointer_mut(parent)?.as_object_mut());
        let (Some(block), Some(key)) = (block, key) else {
            return Err(format!("request.object{pointer} vanished while pinning"));
        };
        block.insert(key.clone(), new);
    }
    Ok(value)
}

/// What to read the request's object as, or `None` when the request is not this policy's
/// business. The `pods/ephemeralcontainers` subresource (how `kubectl debug` adds containers)
/// carries a whole Pod; other subresources (status, scale, binding…) cannot change an image.
/// Built-in kinds first; then the custom kinds the settings name.
fn target_of<'s>(request: &AdmissionRequest<'_>, settings: &'s Settings) -> Option<Target<'s>> {
    let sub = request.sub_resource.as_deref().unwrap_or("");
    let resource = request
        .resource
        .as_ref()
        .map(|r| r.resource.as_ref())
        .unwrap_or("");
    if !sub.is_empty() {
        return (resource == "pods" && sub == "ephemeralcontainers")
            .then_some(Target::Builtin(Shape::Pod));
    }
    let kind = request.kind.as_ref()?;
    Target::for_kind(&kind.group, &kind.kind, &settings.custom_kinds)
}

/// A finding's identity across an UPDATE: the same container (by list and name) with the
/// same image. Indexes are not part of it, since reordering containers is harmless.
type Key = (ContainerList, String, Option<String>);

fn key(c: &FoundContainer<'_>) -> Key {
    let image = matches!(c.image, ImageField::Str(_)).then(|| c.image.as_str().to_owned());
    (c.list, c.name.to_string(), image)
}

/// The findings the old object already had, on an UPDATE under `allowExistingViolations`.
/// An old object that cannot be read grants nothing: its findings then block as new ones
/// (fail closed). A list searched linearly: a hash set would add 8.7 KB of hashing code to
/// the module, a sorted list 9.5 KB and a `BTreeSet` 19 KB (measured), while only an UPDATE
/// under this setting pays the scan (n old violations × n containers: `make bench`'s row with
/// 1,000 kept violations takes 15.3 ms, 13.2 ms with the hash set).
fn existing_violations(
    request: &AdmissionRequest<'_>,
    target: &Target<'_>,
    settings: &Settings,
) -> Vec<Key> {
    if !settings.allow_existing_violations || request.operation.as_deref() != Some("UPDATE") {
        return Vec::new();
    }
    let Some(old) = request.old_object else {
        return Vec::new();
    };
    let Ok(old) = workload::read_target(target, old.get(), "request.oldObject") else {
        return Vec::new();
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

/// The finding for `c`: its problems (moved in, not cloned) and the fix, which each caller
/// words for its own case.
fn finding(c: &FoundContainer<'_>, problems: Vec<Problem>, fix: String) -> Finding {
    let (image, normalized) = match &c.image {
        ImageField::Str(s) => (
            Some(s.to_string()),
            reference::parse(s).ok().map(|r| r.normalized()),
        ),
        _ => (None, None),
    };
    // A composed image is fixed in its parts: say where its digest goes.
    let fix = match &c.digest_at {
        Some(at)
            if problems
                .iter()
                .all(|p| p.part() == crate::reference::Part::Digest) =>
        {
            match &image {
                Some(image) if problems.iter().all(|p| *p == Problem::NoDigest) => {
                    format!(
                        "set {} to the digest of {image} (`image-digest-check pin` writes it)",
                        at.0
                    )
                }
                _ => format!("{fix}; the digest goes in {}", at.0),
            }
        }
        _ => fix,
    };
    Finding {
        path: c.path.clone(),
        noun: c.list.noun(),
        container: c.name.to_string(),
        image,
        normalized,
        problems,
        fix,
    }
}

#[cfg(test)]
mod tests;
