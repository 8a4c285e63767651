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

impl Pinned {
    /// `image` when it is `repository:tag@digest`.
    fn of(image: &str, file: &str, pos: Pos) -> Option<Pinned> {
        let r = reference::parse(image).ok()?;
        let (tag, digest) = (r.tag?, r.digest?);
        Some(Pinned {
            file: file.to_owned(),
            pos,
            image: image.to_owned(),
            tag_ref: format!("{}:{tag}", r.name()),
            tag: tag.to_owned(),
            digest: digest.to_string(),
        })
    }
}

/// The registry's answer for each pinned image's tag: `Ok(Some(current))` when the tag moved,
/// `Ok(None)` when it still names the pinned digest, `Err` when it could not be asked (an
/// input error: nothing verified it).
fn ask(pinned: &[&Pinned], options: &Options) -> Vec<Result<Option<String>, InputError>> {
    let tags: Vec<String> = pinned.iter().map(|p| p.tag_ref.clone()).collect();
    let answers = registry::resolve_all(&tags, options);
    pinned
        .iter()
        .map(|p| match answers.get(&p.tag_ref) {
            Some(Ok(current)) if *current == p.digest => Ok(None),
            Some(Ok(current)) => Ok(Some(current.clone())),
            Some(Err(e)) => Err(not_verified(p, &e.to_string())),
            None => Err(not_verified(p, "no answer")),
        })
        .collect()
}

/// Asks the registry for every pinned image's tag of `units` and puts what it answered into
/// `outs` (warnings on the document that holds the image) and `errors`; how many tags were
/// asked.
pub fn apply(
    units: &[Unit],
    settings: &Settings,
    options: &Options,
    outs: &mut [Out],
    errors: &mut Vec<InputError>,
) -> usize {
    let pinned = pinned_images(units, settings);
    let refs: Vec<&Pinned> = pinned.iter().collect();
    for (p, answer) in pinned.iter().zip(ask(&refs, options)) {
        match answer {
            Ok(None) => {}
            Ok(Some(current)) => {
                if let Some(result) = holder(outs, p) {
                    result.warnings.push(moved(p, &current));
                } else {
                    // Never dropped: a moved tag with no result to carry it is said all the same.
                    errors.push(InputError {
                        source: format!("{}:{}:{}", p.file, p.pos.line, p.pos.column),
                        message: moved(p, &current).message,
                        line: None,
                    });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    pinned.len()
}

/// `values --verify-tags`: the same for every image the values compose (`Checked::image`).
pub fn apply_to_values(
    results: &mut [image_digest_scan::report::Checked],
    errors: &mut Vec<InputError>,
    options: &Options,
) -> usize {
    let pinned: Vec<(usize, Pinned)> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, Pinned::of(r.image.as_deref()?, &r.file, r.start())?)))
        .collect();
    let refs: Vec<&Pinned> = pinned.iter().map(|(_, p)| p).collect();
    for ((i, p), answer) in pinned.iter().zip(ask(&refs, options)) {
        match answer {
            Ok(None) => {}
            Ok(Some(current)) => {
                if let Some(r) = results.get_mut(*i) {
                    r.warnings.push(moved(p, &current));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    pinned.len()
}

/// Nothing pinned to ask about: `--verify-tags` verified nothing, which is a note of the
/// report (exit 2) unless `--allow-empty`, and said on stderr either way.
pub fn nothing_asked(report: &mut image_digest_scan::report::Report, allow_empty: bool) {
    let why = "--verify-tags: no repository:tag@digest image in the input, so no tag was verified";
    if allow_empty {
        eprintln!("{why}");
    } else {
        report.note(format!("{why} (--allow-empty accepts that)"));
    }
}

/// The `tag-moved` warning at the image.
fn moved(p: &Pinned, current: &str) -> Warning {
    Warning {
        rule: Rule::TagMoved.into(),
        message: format!(
            "image {:?}: tag `{}` now points to {current}, not to the pinned {}: an update is pending, or the tag was rewritten upstream (the digest still decides what runs); re-pin it (image-digest-check pin) or keep the digest on purpose",
            p.image, p.tag, p.digest
        ),
        path: None,
        line: p.pos.line,
        column: p.pos.column,
        file: None,
    }
}

fn not_verified(p: &Pinned, why: &str) -> InputError {
    InputError {
        source: format!("{}:{}:{}", p.file, p.pos.line, p.pos.column),
        message: format!(
            "image {:?}: --verify-tags could not verify its tag: {why}",
            p.image
        ),
        line: None,
    }
}

/// Every `repository:tag@digest` of the units' documents (a chunk is parsed again here: only
/// with `--verify-tags`).
fn pinned_images(units: &[Unit], settings: &Settings) -> Vec<Pinned> {
    let mut out = Vec::new();
    let mut take = |doc: &Document| {
        for at in images::of_document(doc, settings) {
            out.extend(Pinned::of(at.image.as_str(), &doc.source, at.pos));
        }
    };
    for unit in units {
        match unit {
            Unit::Chunk(chunk) => input::parse_chunk(chunk).0.iter().for_each(&mut take),
            Unit::Doc(doc) => take(doc),
            Unit::Request { .. } | Unit::Skipped(_) => {}
        }
    }
    out
}

/// The result of the document that holds the image: the last one of its file that starts at
/// or before it.
fn holder<'o>(
    outs: &'o mut [Out],
    p: &Pinned,
) -> Option<&'o mut image_digest_scan::report::Checked> {
    outs.iter_mut()
        .flat_map(|o| o.results.iter_mut())
        .filter(|r| r.file == p.file && r.line <= p.pos.line)
        .max_by_key(|r| r.line)
}
