//! `--verify-tags`: the offline counterpart of the policy's `verifyTagDigest`, for a nightly
//! job. For each `repository:tag@digest` of the manifests, one `HEAD` of the tag: a tag that
//! now resolves to another digest is a warning (`tag-moved`) with both digests (the digest
//! still decides what runs, but an update is pending or the tag was rewritten upstream); a tag
//! the registry could not be asked about is an input error (exit 2: nothing verified it).

use crate::work::Unit;
use image_digest_pin::registry::{self, Options};
use image_digest_policy::reference;
use image_digest_policy::rules::Rule;
use image_digest_policy::settings::Settings;
use image_digest_scan::document::Out;
use image_digest_scan::input::{self, InputError};
use image_digest_scan::report::{Pos, Warning};
use image_digest_scan::{images, input::Document};
use std::collections::BTreeMap;

/// A pinned image as written, where it is.
struct Pinned {
    file: String,
    pos: Pos,
    image: String,
    /// `repository:tag`, what the registry is asked.
    tag_ref: String,
    tag: String,
    digest: String,
}

/// Asks the registry for every pinned image's tag and puts what it answered into `outs`
/// (warnings on the document that holds the image) and `errors`.
pub fn apply(
    units: &[Unit],
    settings: &Settings,
    options: &Options,
    outs: &mut [Out],
    errors: &mut Vec<InputError>,
) {
    let pinned = pinned_images(units, settings);
    let tags: Vec<String> = pinned.iter().map(|p| p.tag_ref.clone()).collect();
    let answers = registry::resolve_all(&tags, options);
    for p in &pinned {
        match answers.get(&p.tag_ref) {
            Some(Ok(current)) if *current == p.digest => {}
            Some(Ok(current)) => attach(
                outs,
                p,
                format!(
                    "image {:?}: tag `{}` now points to {current}, not to the pinned {}: an update is pending, or the tag was rewritten upstream (the digest still decides what runs); re-pin it (image-digest-check pin) or keep the digest on purpose",
                    p.image, p.tag, p.digest
                ),
            ),
            Some(Err(e)) => errors.push(InputError {
                source: format!("{}:{}:{}", p.file, p.pos.line, p.pos.column),
                message: format!(
                    "image {:?}: --verify-tags could not verify its tag: {e}",
                    p.image
                ),
            }),
            None => errors.push(InputError {
                source: p.file.clone(),
                message: format!(
                    "image {:?}: --verify-tags got no answer for its tag",
                    p.image
                ),
            }),
        }
    }
}

/// `values --verify-tags`: the same for every image the values compose (`Checked::image`).
pub fn apply_to_values(
    results: &mut [image_digest_scan::report::Checked],
    errors: &mut Vec<InputError>,
    options: &Options,
) {
    let pinned: Vec<(usize, Pinned)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let image = r.image.clone()?;
            let parsed = reference::parse(&image).ok()?;
            let (tag, digest) = (parsed.tag?, parsed.digest?);
            let name = match parsed.domain {
                Some(d) => format!("{d}/{}", parsed.path),
                None => parsed.path.to_owned(),
            };
            Some((
                i,
                Pinned {
                    file: r.file.clone(),
                    pos: r.start(),
                    tag_ref: format!("{name}:{tag}"),
                    tag: tag.to_owned(),
                    digest: digest.to_string(),
                    image: image.clone(),
                },
            ))
        })
        .collect();
    let tags: Vec<String> = pinned.iter().map(|(_, p)| p.tag_ref.clone()).collect();
    let answers = registry::resolve_all(&tags, options);
    for (i, p) in &pinned {
        match answers.get(&p.tag_ref) {
            Some(Ok(current)) if *current == p.digest => {}
            Some(Ok(current)) => {
                if let Some(r) = results.get_mut(*i) {
                    r.warnings.push(Warning {
                        rule: Rule::TagMoved,
                        message: moved(p, current),
                        path: None,
                        line: p.pos.line,
                        column: p.pos.column,
                    });
                }
            }
            Some(Err(e)) => errors.push(not_verified(p, &e.to_string())),
            None => errors.push(not_verified(p, "no answer")),
        }
    }
}

fn moved(p: &Pinned, current: &str) -> String {
    format!(
        "image {:?}: tag `{}` now points to {current}, not to the pinned {}: an update is pending, or the tag was rewritten upstream (the digest still decides what runs); re-pin it (image-digest-check pin) or keep the digest on purpose",
        p.image, p.tag, p.digest
    )
}

fn not_verified(p: &Pinned, why: &str) -> InputError {
    InputError {
        source: format!("{}:{}:{}", p.file, p.pos.line, p.pos.column),
        message: format!(
            "image {:?}: --verify-tags could not verify its tag: {why}",
            p.image
        ),
    }
}

/// Every `repository:tag@digest` of the units' documents.
fn pinned_images(units: &[Unit], settings: &Settings) -> Vec<Pinned> {
    let mut docs: Vec<Document> = Vec::new();
    for unit in units {
        match unit {
            Unit::Chunk(chunk) => docs.extend(input::parse_chunk(chunk).0),
            Unit::Doc(doc) => docs.push(doc.clone()),
            Unit::Request { .. } | Unit::Skipped(_) => {}
        }
    }
    let mut out = Vec::new();
    for doc in &docs {
        for at in images::of_document(doc, settings) {
            let image = at.image.as_str().to_owned();
            let Ok(r) = reference::parse(&image) else {
                continue;
            };
            let (Some(tag), Some(digest)) = (r.tag, r.digest) else {
                continue;
            };
            let name = match r.domain {
                Some(d) => format!("{d}/{}", r.path),
                None => r.path.to_owned(),
            };
            out.push(Pinned {
                file: doc.source.clone(),
                pos: at.pos,
                tag_ref: format!("{name}:{tag}"),
                tag: tag.to_owned(),
                digest: digest.to_string(),
                image,
            });
        }
    }
    out
}

/// The warning, on the result of the document that holds the image (the last one of its file
/// that starts at or before it).
fn attach(outs: &mut [Out], p: &Pinned, message: String) {
    let mut best: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (i, out) in outs.iter().enumerate() {
        for (j, r) in out.results.iter().enumerate() {
            if r.file == p.file && r.line <= p.pos.line {
                best.insert(r.line, (i, j));
            }
        }
    }
    if let Some((_, (i, j))) = best.into_iter().next_back()
        && let Some(result) = outs.get_mut(i).and_then(|o| o.results.get_mut(j))
    {
        result.warnings.push(Warning {
            rule: Rule::TagMoved,
            message,
            path: None,
            line: p.pos.line,
            column: p.pos.column,
        });
    }
}
