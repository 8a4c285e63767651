//! Files changed all at once or not at all: each new text goes to a temporary file next to the
//! original (same directory, so the rename is atomic on one filesystem) with the original's
//! permissions, then replaces it. `--dry-run` shows the same change as a unified diff.

use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Replaces `path` with `text` atomically; the original is untouched on any error. A symbolic
/// link is followed: its target is rewritten and the link stays a link.
pub fn atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let (tmp, target) = stage(path, text)?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// The new text in a temporary file beside the file it will replace (its link target), with
/// its permissions, synced: all that can fail before anything is replaced.
fn stage(path: &Path, text: &str) -> std::io::Result<(NamedTempFile, PathBuf)> {
    let target = std::fs::canonicalize(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let permissions = std::fs::metadata(&target)?.permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".image-digest-pin.")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.as_file().set_permissions(permissions)?;
    Ok((tmp, target))
}

/// One file to replace: where, the text it has now, the text it gets.
pub struct Change<'a> {
    /// The file as given (a link is followed).
    pub path: &'a Path,
    /// Its text as read, to restore it if a later replacement fails.
    pub old: &'a str,
    /// Its new text.
    pub new: &'a str,
}

/// Why the files were not all replaced, and what became of each: a caller tells "nothing
/// changed" from "some files could not be restored" without reading words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A new text could not be staged beside its file: no file was changed.
    #[error("cannot write {}: {why}; no file was changed", path.display())]
    NotStaged {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// A rename failed: the files replaced before it were restored, but for `lost`.
    #[error("cannot replace {}: {why}; {restored} replaced before it restored; {}", path.display(), if lost.is_empty() { "no file was changed".to_owned() } else { format!("could not restore {}", lost.join(", ")) })]
    NotReplaced {
        /// The file whose rename failed.
        path: std::path::PathBuf,
        /// Why.
        why: String,
        /// How many files replaced before it got their old text back.
        restored: usize,
        /// The files that could not be restored (each holds the new text), with why.
        lost: Vec<String>,
    },
}

/// Replaces every file or none. Every new text is staged first (anything that can fail
/// usually fails there, and then no file is touched); the renames follow, and if one fails
/// the files already replaced get their old text back. The error says what happened to each.
pub fn all_or_none(changes: &[Change<'_>]) -> Result<(), WriteError> {
    let mut staged = Vec::with_capacity(changes.len());
    for c in changes {
        match stage(c.path, c.new) {
            Ok(s) => staged.push((c, s)),
            Err(e) => {
                return Err(WriteError::NotStaged {
                    path: c.path.to_owned(),
                    why: e.to_string(),
                });
            }
        }
    }
    let mut replaced: Vec<&Change<'_>> = Vec::new();
    for (c, (tmp, target)) in staged {
        if let Err(e) = tmp.persist(&target) {
            let mut restored = Vec::new();
            let mut lost = Vec::new();
            for r in &replaced {
                match atomically(r.path, r.old) {
                    Ok(()) => restored.push(r.path.display().to_string()),
                    Err(e2) => lost.push(format!(
                        "{} ({e2}: it holds the new text)",
                        r.path.display()
                    )),
                }
            }
            return Err(WriteError::NotReplaced {
                path: c.path.to_owned(),
                why: e.error.to_string(),
                restored: restored.len(),
                lost,
            });
        }
        replaced.push(c);
    }
    Ok(())
}

/// A unified diff of `name` from `old` to `new`, as `diff -u` and `git apply` read it.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_keep_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.yaml");
        std::fs::write(&path, "a: 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        atomically(&path, "a: 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: 2\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        assert!(atomically(&dir.path().join("missing.yaml"), "x").is_err());
    }

    #[test]
    fn every_file_is_written_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.yaml");
        std::fs::write(&first, "a: 1\n").unwrap();
        let gone = dir.path().join("b.yaml");
        let changes = [
            Change {
                path: &first,
                old: "a: 1\n",
                new: "a: 2\n",
            },
            Change {
                path: &gone,
                old: "b: 1\n",
                new: "b: 2\n",
            },
        ];
        let err = all_or_none(&changes).unwrap_err();
        assert!(
            matches!(&err, WriteError::NotStaged { path, .. } if path == &gone),
            "{err}"
        );
        let err = err.to_string();
        assert!(
            err.contains("b.yaml") && err.ends_with("no file was changed"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "a: 1\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        std::fs::write(&gone, "b: 1\n").unwrap();
        all_or_none(&changes).unwrap();
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "a: 2\n");
        assert_eq!(std::fs::read_to_string(&gone).unwrap(), "b: 2\n");
    }

    #[test]
    fn a_symbolic_link_stays_a_link_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("shared-values.yaml");
        std::fs::write(&target, "tag: 1\n").unwrap();
        let link = dir.path().join("values.yaml");
        std::os::unix::fs::symlink("shared-values.yaml", &link).unwrap();
        atomically(&link, "tag: 1\ndigest: sha256:ab\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "tag: 1\ndigest: sha256:ab\n"
        );
    }

    #[test]
    fn diffs_are_unified_with_file_headers() {
        let diff = unified_diff(
            "deploy.yaml",
            "a: 1\nimage: x:1\nb: 2\n",
            "a: 1\nimage: x:1@sha256:ab\nb: 2\n",
        );
        assert_eq!(
            diff,
            "--- a/deploy.yaml\n+++ b/deploy.yaml\n@@ -1,3 +1,3 @@\n a: 1\n-image: x:1\n+image: x:1@sha256:ab\n b: 2\n"
        );
    }
}
