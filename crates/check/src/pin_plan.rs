//! What `pin` would change: every image written in the manifests and Helm values files, found
//! with the same readers as the checks (so the same kinds, custom kinds and positions), and
//! for each one what to do. Only a valid, non-exempt image with a tag and no digest is looked
//! up; one that is pinned or exempt is left alone, and one that is invalid or has no tag is
//! reported, since no lookup can say what the user meant.

use image_digest_policy::reference;
use image_digest_policy::request::ImageField;
use image_digest_policy::rules::{self, ImageVerdict};
use image_digest_policy::settings::Settings;
use image_digest_scan::images;
use image_digest_scan::input::{self, Document, InputError};
use image_digest_scan::values::{self, Merged};
use image_digest_scan::yaml::Pos;
use std::borrow::Cow;
use std::path::PathBuf;

/// One place an image is written, and what `pin` does there.
#[derive(Debug, Clone)]
pub struct Site {
    /// The file as the user named it, and where in it.
    pub source: String,
    pub pos: Pos,
    /// `Deployment web, spec.template.spec.containers[0] (container "api")` or
    /// `values controlPlane.image`.
    pub label: String,
    /// The image as written (manifests) or as the chart renders it (values).
    pub image: String,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// Look `image` up (as written, or at its mirror) and make this edit with its digest.
    Pin(Planned),
    /// Already pinned by a digest.
    Pinned,
    /// Matches `exemptImages`.
    Exempt,
    /// Cannot be pinned: why, and what to do.
    Refused(String),
}

/// An edit to make once the digest is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Planned {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub kind: EditKind,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EditKind {
    /// `image: repo:tag` → `image: repo:tag@digest`.
    Append { image: String },
    /// A values block's existing `digest:` value.
    Replace,
    /// A values block without `digest:`: added under its `tag:` (at `line`).
    InsertUnderTag,
    /// A kustomization's `images` entry without `digest:`: added under its `newTag:`.
    InsertUnderNewTag,
    /// An Argo CD `helm.parameters` entry sets the tag: a parameter of this name added after it.
    NewParameter(String),
    /// A custom kind's composed image without its digest field: `name: <digest>` added after
    /// the line of its `key` (the tag's).
    InsertAfter { key: String, name: String },
}

/// A file read for pinning.
#[derive(Clone)]
pub struct Source {
    pub path: PathBuf,
    pub name: String,
    pub text: String,
}

/// Every image of the manifests in `file`.
pub fn manifests(file: &Source, settings: &Settings) -> (Vec<Site>, Vec<InputError>) {
    let (docs, errors) = input::parse(&file.name, &file.text);
    let mut sites = Vec::new();
    for doc in &docs {
        sites.extend(document_sites(file, doc, settings));
    }
    (sites, errors)
}

fn document_sites(file: &Source, doc: &Document, settings: &Settings) -> Vec<Site> {
    images::of_document(doc, settings)
        .into_iter()
        .map(|at| {
            let planned = |image: &str| Planned {
                file: file.path.clone(),
                line: at.pos.line,
                column: at.pos.column,
                kind: EditKind::Append {
                    image: image.to_owned(),
                },
            };
            let action = match &at.digest {
                _ if at.operator_default => Action::Refused(format!(
                    "{} is not set: the operator runs its own default image, a tag; set it to the image to run (repository:tag), then pin it",
                    at.path
                )),
                None => decide(&at.image, settings, planned),
                Some(digest) => composed_action(file, &at, digest, settings),
            };
            Site {
                source: file.name.clone(),
                pos: at.pos,
                label: format!(
                    "{} {}, {} ({} {:?})",
                    at.kind, at.name, at.path, at.holder, at.container
                ),
                image: at.image.as_str().to_owned(),
                action,
            }
        })
        .collect()
}

/// A custom kind's composed image is pinned in its own digest field: replaced when it is
/// there (empty), else added after the tag's line in the same block; a digest field elsewhere
/// that is not there is refused, since where to write it is the user's to say.
fn composed_action(
    file: &Source,
    at: &images::Located,
    digest: &images::ComposedDigest,
    settings: &Settings,
) -> Action {
    let after = at.pointer.rsplit_once('/').map(|(_, k)| k.to_owned());
    let planned = match digest.pos {
        Some(pos) => Some(Planned {
            file: file.path.clone(),
            line: pos.line,
            column: pos.column,
            kind: EditKind::Replace,
        }),
        None => after
            .filter(|k| digest.beside_tag && !k.contains('~'))
            .map(|key| Planned {
                file: file.path.clone(),
                line: at.pos.line,
                column: at.pos.column,
                kind: EditKind::InsertAfter {
                    key,
                    name: digest.key.clone(),
                },
            }),
    };
    // The core's rules decide whether it is pinned, exempt or refused; where to write is ours.
    let judged = decide(&at.image, settings, |_| Planned {
        file: file.path.clone(),
        line: at.pos.line,
        column: at.pos.column,
        kind: EditKind::Replace,
    });
    match (judged, planned) {
        (Action::Pin(_), Some(edit)) => Action::Pin(edit),
        (Action::Pin(_), None) => Action::Refused(format!(
            "its digest field {} is not there and not beside the tag: add `{}: <digest>` there, then pin it",
            digest.path, digest.key
        )),
        (other, _) => other,
    }
}

/// Every image of a kustomization's resource document, as kustomize renders it: an image an
/// `images` entry sets the tag of is pinned in that entry (`digest:` added under `newTag:`, or
/// its `digest:` replaced), so the render reads `name:newTag@digest`; one an entry only
/// renames is pinned in the resource, with the digest of the renamed image.
pub fn kustomized_sites(
    file: &Source,
    doc: &Document,
    rules: &[crate::gitops::ImageRule],
    settings: &Settings,
) -> Vec<Site> {
    images::of_document(doc, settings)
        .into_iter()
        .map(|at| {
            let written = at.image.as_str().to_owned();
            let mut label = format!(
                "{} {}, {} ({} {:?})",
                at.kind, at.name, at.path, at.holder, at.container
            );
            let transformed = crate::gitops::transform(rules, &at);
            let Some(t) = transformed else {
                let planned = |text: &str| Planned {
                    file: file.path.clone(),
                    line: at.pos.line,
                    column: at.pos.column,
                    kind: EditKind::Append {
                        image: text.to_owned(),
                    },
                };
                return Site {
                    source: file.name.clone(),
                    pos: at.pos,
                    label,
                    image: written,
                    action: decide(&at.image, settings, planned),
                };
            };
            if let Some(rule) = t.tag.or(t.renamed) {
                label = format!("{label} via {} images[{}]", rule.file, rule.name);
            }
            // The entry that sets the tag gets the digest (under its `newTag`: an entry that
            // sets a digest renders pinned already); a rename alone keeps the resource's tag,
            // so the resource's image gets the digest of the renamed one.
            let planned = |_: &str| match t.tag {
                Some(rule) => Planned {
                    file: rule.path.clone(),
                    line: rule.pos.line,
                    column: rule.pos.column,
                    kind: EditKind::InsertUnderNewTag,
                },
                None => Planned {
                    file: file.path.clone(),
                    line: at.pos.line,
                    column: at.pos.column,
                    kind: EditKind::Append {
                        image: written.clone(),
                    },
                },
            };
            let field = ImageField::Str(Cow::Owned(t.image.clone()));
            let action = match (decide(&field, settings, planned), t.tag) {
                (Action::Pin(_), Some(rule)) if !rule.pinnable => Action::Refused(format!(
                    "its tag is set by {}'s kustomize.images string {:?}: write the digest there (name:tag@digest)",
                    rule.file, rule.name
                )),
                (action, _) => action,
            };
            Site {
                source: file.name.clone(),
                pos: at.pos,
                label,
                image: t.image.clone(),
                action,
            }
        })
        .collect()
}

/// What to do with one image, judged by the core's own rules (validity, exemptions).
fn decide(
    image: &ImageField<'_>,
    settings: &Settings,
    planned: impl Fn(&str) -> Planned,
) -> Action {
    let verdict = rules::judge(image, settings);
    match verdict {
        ImageVerdict::Exempt => return Action::Exempt,
        ImageVerdict::Invalid(reason) => {
            return Action::Refused(format!("{reason}; fix the reference, then pin it"));
        }
        _ => {}
    }
    let text = image.as_str();
    match reference::parse(text) {
        Ok(r) if r.digest.is_some() => Action::Pinned,
        Ok(r) if r.tag.is_none() => Action::Refused(format!(
            "no tag, so no lookup can say which version you mean; write it as {}:<tag> (the contract's form is repository:tag@digest), then pin it",
            r.normalized_repository()
        )),
        Ok(_) => Action::Pin(planned(text)),
        Err(e) => Action::Refused(format!("not a valid image reference: {e}")),
    }
}

/// Every image block of the merged values files, with the edit in the file that sets it.
pub fn values_sites(files: &[Source], merged: &Merged, settings: &Settings) -> Vec<Site> {
    // Blocks under `enabled: false` render nothing: nothing to pin.
    values::images(&merged.value, None)
        .images
        .into_iter()
        .map(|image| value_site(files, merged, settings, &image))
        .collect()
}

fn value_site(
    files: &[Source],
    merged: &Merged,
    settings: &Settings,
    image: &values::Image,
) -> Site {
    let tag = image.key("tag");
    let origin = |pointer: &str| merged.origin(pointer).map(|(f, pos)| (f.to_owned(), pos));
    let at = tag
        .and_then(origin)
        .or_else(|| origin(image.key("repository")?));
    let (source, pos) = at.unwrap_or_else(|| ("<values>".into(), Pos::default()));
    let field = ImageField::Str(Cow::Borrowed(image.image.as_str()));
    if image.string {
        return string_site(files, merged, settings, image);
    }
    let action = match (&image.problem, tag) {
        (Some(values::ValuesProblem::Uncomposable(why)), _) => {
            Action::Refused(format!("{} cannot be composed: {why}", image.block))
        }
        (Some(values::ValuesProblem::BorrowedDigest { from, .. }), _) => Action::Refused(format!(
            "its digest comes from {from}, another repository's; set {}.digest to this image's digest (or `digest: \"\"`), then pin it",
            image.block
        )),
        (Some(values::ValuesProblem::NoTag), _) => Action::Refused(format!(
            "no tag here: the chart decides it, usually its appVersion; set {}.tag, then pin it",
            image.block
        )),
        (None, Some(tag)) => decide(&field, settings, |_| digest_edit(files, merged, tag)),
        (None, None) => match decide(&field, settings, |_| digest_edit(files, merged, "")) {
            Action::Pin(_) => Action::Refused(format!(
                "the block has no tag; set {}.tag, then pin it",
                image.block
            )),
            other => other,
        },
    };
    Site {
        source,
        pos,
        label: format!("values {}", image.block),
        image: image.image.clone(),
        action,
    }
}

/// An image written as one string in the values: the digest is appended to the string where
/// the file that set it last wrote it, as in a manifest.
fn string_site(
    files: &[Source],
    merged: &Merged,
    settings: &Settings,
    image: &values::Image,
) -> Site {
    let pointer = image.key("image").unwrap_or_default();
    let (source, pos) = merged
        .origin(pointer)
        .map(|(f, pos)| (f.to_owned(), pos))
        .unwrap_or_else(|| ("<values>".into(), Pos::default()));
    let path = files
        .iter()
        .find(|f| f.name == source)
        .map(|f| f.path.clone())
        .unwrap_or_default();
    let field = ImageField::Str(Cow::Borrowed(image.image.as_str()));
    let action = match &image.problem {
        Some(values::ValuesProblem::NoTag) => Action::Refused(format!(
            "no version here: the chart decides it; set the version beside {}, then pin it",
            image.block
        )),
        // The string as written is the image only without a composed version.
        _ if image.keys.len() > 1 => Action::Refused(format!(
            "its tag comes from another key; write {} as repository:tag@digest, or pin the rendered output",
            image.block
        )),
        _ => decide(&field, settings, |text| Planned {
            file: path.clone(),
            line: pos.line,
            column: pos.column,
            kind: EditKind::Append {
                image: text.to_owned(),
            },
        }),
    };
    Site {
        source,
        pos,
        label: format!("values {}", image.block),
        image: image.image.clone(),
        action,
    }
}

/// Where the digest goes: the `digest:` of the block that sets the tag (so a component never
/// borrows another block's digest), replaced where a file at least as late as the tag's sets
/// it, else added under the tag in the tag's file (a later file overrides an earlier one).
fn digest_edit(files: &[Source], merged: &Merged, tag_pointer: &str) -> Planned {
    let index_of = |name: &str| files.iter().position(|f| f.name == name);
    let path_of = |name: &str| {
        index_of(name)
            .and_then(|i| files.get(i))
            .map(|f| f.path.clone())
            .unwrap_or_default()
    };
    let block = tag_pointer.rsplit_once('/').map_or("", |(b, _)| b);
    let tag_at = merged.origin(tag_pointer);
    let digest_at = merged.origin(&format!("{block}/digest"));
    match (tag_at, digest_at) {
        (Some((tag_file, _)), Some((digest_file, p)))
            if index_of(digest_file) >= index_of(tag_file) =>
        {
            Planned {
                file: path_of(digest_file),
                line: p.line,
                column: p.column,
                kind: EditKind::Replace,
            }
        }
        (Some((tag_file, p)), _) => Planned {
            file: path_of(tag_file),
            line: p.line,
            column: p.column,
            kind: EditKind::InsertUnderTag,
        },
        (None, _) => Planned {
            file: PathBuf::new(),
            line: 0,
            column: 0,
            kind: EditKind::InsertUnderTag,
        },
    }
}
