//! Minimal text edits: a digest appended to an `image:` value where it stands, or a values
//! block's `digest:` set (added under its `tag:` with the same indentation when absent).
//! Comments, key order, quoting, indentation, line endings and every other byte stay as they
//! were; an edit that does not find exactly what it expects at its position fails instead of
//! guessing.

use std::fmt;

/// One edit, at a 1-based line and column (in characters) of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The scalar at the position is `image` (plain or quoted): make it `image@digest`.
    AppendDigest {
        /// The 1-based line of the image.
        line: usize,
        /// The 1-based column where the image starts.
        column: usize,
        /// The image as written there.
        image: String,
        /// The digest to append.
        digest: String,
    },
    /// The scalar at the position is a values block's `digest:` value: replace it.
    ReplaceScalar {
        /// The 1-based line of the scalar.
        line: usize,
        /// The 1-based column where the scalar starts.
        column: usize,
        /// Its new value.
        value: String,
    },
    /// The block has no digest key: add `<name>: <digest>` after the line of its `tag:` key,
    /// indented like it.
    InsertAfterKey {
        /// The 1-based line of the key (the block's `tag:`).
        line: usize,
        /// The key the new line follows.
        key: String,
        /// The new key (`digest`; a custom kind's composed image names its own).
        name: String,
        /// The digest the new `digest:` line holds.
        digest: String,
    },
    /// An Argo CD `helm.parameters` entry whose `value:` sets a tag: add the entry
    /// `- name: <name>` / `value: <digest>` after it, indented like it.
    InsertParameter {
        /// The 1-based line of the tag entry's `value:` key.
        line: usize,
        /// The new parameter's name (`image.digest`).
        name: String,
        /// Its value.
        digest: String,
    },
}

impl Edit {
    fn line(&self) -> usize {
        match self {
            Edit::AppendDigest { line, .. }
            | Edit::ReplaceScalar { line, .. }
            | Edit::InsertAfterKey { line, .. }
            | Edit::InsertParameter { line, .. } => *line,
        }
    }
}

/// Why an edit could not be made; the file is then left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The file has no such line (it changed since it was read).
    NoSuchLine(usize),
    /// The line does not hold what the edit expects at that column.
    NotThere {
        /// The 1-based line.
        line: usize,
        /// The 1-based column.
        column: usize,
        /// What was expected there.
        expected: String,
    },
    /// The line is not the key the edit inserts after.
    NotAKey {
        /// The 1-based line.
        line: usize,
        /// The key expected on it.
        key: String,
    },
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::NoSuchLine(l) => write!(f, "line {l} is not in the file"),
            EditError::NotThere {
                line,
                column,
                expected,
            } => write!(
                f,
                "line {line}, column {column} does not hold {expected:?} as a plain or quoted scalar on one line: edit it by hand"
            ),
            EditError::NotAKey { line, key } => {
                write!(
                    f,
                    "line {line} is not a block `{key}:` key: edit it by hand"
                )
            }
        }
    }
}

impl std::error::Error for EditError {}

/// Applies every edit to `text`, or none: the first that fails is returned.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, EditError> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let mut ordered: Vec<&Edit> = edits.iter().collect();
    // Bottom-up, so an inserted line never moves a later edit's position.
    ordered.sort_by_key(|e| std::cmp::Reverse(e.line()));
    for edit in ordered {
        apply_one(&mut lines, edit)?;
    }
    Ok(lines.concat())
}

/// Line `index` (known to exist: `apply_one` looked it up) becomes `new`.
fn replace_line(lines: &mut [String], index: usize, new: String) {
    if let Some(slot) = lines.get_mut(index) {
        *slot = new;
    }
}

fn apply_one(lines: &mut Vec<String>, edit: &Edit) -> Result<(), EditError> {
    let index = edit.line().checked_sub(1).ok_or(EditError::NoSuchLine(0))?;
    let line = lines.get(index).ok_or(EditError::NoSuchLine(edit.line()))?;
    match edit {
        Edit::AppendDigest {
            column,
            image,
            digest,
            ..
        } => {
            let new = splice(line, *column, image, |s| format!("{s}@{digest}"))
                .ok_or_else(|| not_there(edit.line(), *column, image))?;
            replace_line(lines, index, new);
        }
        Edit::ReplaceScalar { column, value, .. } => {
            let new = replace_scalar(line, *column, value)
                .ok_or_else(|| not_there(edit.line(), *column, "a scalar"))?;
            replace_line(lines, index, new);
        }
        Edit::InsertAfterKey {
            key, name, digest, ..
        } => {
            let indent: String = line.chars().take_while(|c| *c == ' ').collect();
            if !line
                .get(indent.len()..)
                .is_some_and(|rest| rest.starts_with(&format!("{key}:")))
            {
                return Err(EditError::NotAKey {
                    line: edit.line(),
                    key: key.clone(),
                });
            }
            let ending = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
            let mut current = line.clone();
            if !current.ends_with('\n') {
                current.push_str(ending);
                replace_line(lines, index, current);
            }
            lines.insert(index + 1, format!("{indent}{name}: {digest}{ending}"));
        }
        Edit::InsertParameter { name, digest, .. } => {
            // `  value: latest` inside `- name: image.tag`: the new entry's dash two columns
            // to the left of `value:`, as the entry it follows is written.
            let indent: String = line.chars().take_while(|c| *c == ' ').collect();
            let is_value = line
                .get(indent.len()..)
                .is_some_and(|rest| rest.starts_with("value:"));
            let Some(dash) = indent.len().checked_sub(2).filter(|_| is_value) else {
                return Err(EditError::NotAKey {
                    line: edit.line(),
                    key: "value".into(),
                });
            };
            let ending = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
            let mut current = line.clone();
            if !current.ends_with('\n') {
                current.push_str(ending);
                replace_line(lines, index, current);
            }
            let pad = " ".repeat(dash);
            lines.insert(
                index + 1,
                format!("{pad}- name: {name}{ending}{indent}value: {digest}{ending}"),
            );
        }
    }
    Ok(())
}

fn not_there(line: usize, column: usize, expected: &str) -> EditError {
    EditError::NotThere {
        line,
        column,
        expected: expected.to_owned(),
    }
}

/// The byte offset of a 1-based character column.
fn byte_at(line: &str, column: usize) -> Option<usize> {
    let skip = column.checked_sub(1)?;
    line.char_indices()
        .map(|(i, _)| i)
        .chain([line.len()])
        .nth(skip)
}

/// `line` with the scalar `expected` at `column` (plain, or in matching quotes) replaced by
/// `f(expected)`, the quotes kept.
fn splice(line: &str, column: usize, expected: &str, f: impl Fn(&str) -> String) -> Option<String> {
    let start = byte_at(line, column)?;
    let rest = line.get(start..)?;
    let (open, body) = match rest.chars().next()? {
        q @ ('"' | '\'') => (q.len_utf8(), rest.get(1..)?),
        _ => (0, rest),
    };
    if !body.starts_with(expected) {
        return None;
    }
    let after = body.get(expected.len()..)?;
    let closes = match open {
        0 => after.is_empty() || after.starts_with([' ', '\t', '\r', '\n', ',', '}', ']', '#']),
        _ => after.starts_with(rest.chars().next()?),
    };
    if !closes {
        return None;
    }
    let head = line.get(..start + open)?;
    Some(format!("{head}{}{after}", f(expected)))
}

/// `line` with the scalar at `column` (empty quotes, a quoted or a plain value up to a comment
/// or the end of the line) replaced by `value`, quoted as it was.
fn replace_scalar(line: &str, column: usize, value: &str) -> Option<String> {
    let start = byte_at(line, column)?;
    let rest = line.get(start..)?;
    let end = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => 1 + rest.get(1..)?.find(q)? + 1,
        _ => rest
            .find(" #")
            .or_else(|| rest.find(['\r', '\n']))
            .unwrap_or(rest.len()),
    };
    let old = rest.get(..end)?;
    let new = match old.chars().next() {
        Some(q @ ('"' | '\'')) => format!("{q}{value}{q}"),
        _ => value.to_owned(),
    };
    Some(format!("{}{new}{}", line.get(..start)?, rest.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = image_digest_testkit::policy::TEST_DIGEST;

    fn append(line: usize, column: usize, image: &str) -> Edit {
        Edit::AppendDigest {
            line,
            column,
            image: image.into(),
            digest: D.into(),
        }
    }

    #[test]
    fn a_digest_is_appended_where_the_image_stands_and_nothing_else_moves() {
        let text = "spec:\n  containers:\n  - name: a # the app\n    image: nginx:1.27   # pinned by CI\n  - {name: b, image: 'redis:7'}\n  - name: c\n    image: \"busybox:1.36\"\r\n";
        let edits = [
            append(4, 12, "nginx:1.27"),
            append(5, 22, "redis:7"),
            append(7, 12, "busybox:1.36"),
        ];
        let out = apply(text, &edits).expect("applies");
        assert_eq!(
            out,
            format!(
                "spec:\n  containers:\n  - name: a # the app\n    image: nginx:1.27@{D}   # pinned by CI\n  - {{name: b, image: 'redis:7@{D}'}}\n  - name: c\n    image: \"busybox:1.36@{D}\"\r\n"
            )
        );
    }

    #[test]
    fn values_digests_are_set_or_added_under_the_tag() {
        let text = "image:\n  repository: r\n  tag: 5b72ee1e\n  digest: \"\"\ncontrolPlane:\n  image:\n    repository: cp\n    tag: 5b72ee1e   # kept\n";
        let edits = [
            Edit::ReplaceScalar {
                line: 4,
                column: 11,
                value: D.into(),
            },
            Edit::InsertAfterKey {
                line: 8,
                key: "tag".into(),
                name: "digest".into(),
                digest: D.into(),
            },
        ];
        let out = apply(text, &edits).expect("applies");
        assert_eq!(
            out,
            format!(
                "image:\n  repository: r\n  tag: 5b72ee1e\n  digest: \"{D}\"\ncontrolPlane:\n  image:\n    repository: cp\n    tag: 5b72ee1e   # kept\n    digest: {D}\n"
            )
        );
        let crlf = apply(
            "tag: x\r\n",
            &[Edit::InsertAfterKey {
                line: 1,
                key: "tag".into(),
                name: "digest".into(),
                digest: D.into(),
            }],
        )
        .expect("applies");
        assert_eq!(crlf, format!("tag: x\r\ndigest: {D}\r\n"));
        let plain = apply(
            "  digest:  # none yet\n",
            &[Edit::ReplaceScalar {
                line: 1,
                column: 11,
                value: D.into(),
            }],
        );
        assert_eq!(
            plain.expect("applies"),
            format!("  digest: {D} # none yet\n")
        );
    }

    #[test]
    fn an_edit_that_does_not_find_what_it_expects_changes_nothing() {
        let text = "image: nginx:1.27\n";
        let cases = [
            append(1, 8, "nginx:1.2"),
            append(1, 9, "nginx:1.27"),
            append(3, 8, "nginx:1.27"),
            Edit::InsertAfterKey {
                line: 1,
                key: "tag".into(),
                name: "digest".into(),
                digest: D.into(),
            },
        ];
        for edit in cases {
            assert!(
                apply(text, std::slice::from_ref(&edit)).is_err(),
                "{edit:?}"
            );
        }
        let both = apply(text, &[append(1, 8, "nginx:1.27"), append(2, 1, "x")]);
        assert_eq!(both, Err(EditError::NoSuchLine(2)));
    }
}
