//! Expanding the command line's paths into the files to read.
//!
//! Directories are walked with `walkdir`, links followed (a linked chart directory is part of
//! the repo), each file read once however many ways it is reached, and a link that points
//! back at one of its own ancestors reported once as an input error instead of followed.

use crate::input::InputError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The files to check, in a stable order, and every path that could not be expanded.
#[derive(Debug, Default)]
pub struct Expanded {
    pub files: Vec<PathBuf>,
    pub errors: Vec<InputError>,
    /// What a directory held that is not a file to read (a FIFO, a socket, a device): never
    /// opened (a FIFO would block the run), counted as skipped with why.
    pub skipped: Vec<String>,
}

/// Files as given, directories recursively (their `.yaml`, `.yml` and `.json` files, sorted),
/// `-` for stdin.
pub fn expand(paths: &[PathBuf]) -> Expanded {
    let mut out = Expanded::default();
    let mut seen = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.files.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut seen, &mut out);
        } else if p.exists() {
            add(p, &mut seen, &mut out.files);
        } else {
            out.errors.push(error(p, "no such file or directory"));
        }
    }
    out
}

fn walk(dir: &Path, seen: &mut HashSet<PathBuf>, out: &mut Expanded) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() && is_manifest(e.path()) => {
                add(e.path(), seen, &mut out.files)
            }
            Ok(e) => {
                if let Some(what) = special(&e.file_type()) {
                    out.skipped.push(format!(
                        "not a regular file ({what}, not read): {}",
                        e.path().display()
                    ));
                }
            }
            Err(e) => out.errors.push(walk_error(dir, &e)),
        }
    }
}

/// Adds `path` unless the same file was already reached by another path.
fn add(path: &Path, seen: &mut HashSet<PathBuf>, files: &mut Vec<PathBuf>) {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if seen.insert(key) {
        files.push(path.to_path_buf());
    }
}

/// What a special file is, or `None` for a file or a directory.
fn special(t: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_block_device() || t.is_char_device() {
        Some("a device")
    } else {
        None
    }
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    ) || path.file_name().and_then(|n| n.to_str()) == Some("Kustomization")
}

fn walk_error(dir: &Path, e: &walkdir::Error) -> InputError {
    let at = e.path().unwrap_or(dir);
    if let Some(ancestor) = e.loop_ancestor() {
        return error(
            at,
            &format!(
                "a symbolic link loop back to {}: not followed (remove the link, or name the files)",
                ancestor.display()
            ),
        );
    }
    let why = e
        .io_error()
        .map(ToString::to_string)
        .unwrap_or_else(|| e.to_string());
    error(at, &format!("cannot read: {why}"))
}

fn error(path: &Path, message: &str) -> InputError {
    InputError {
        source: path.display().to_string(),
        message: message.to_owned(),
        line: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_once_and_a_loop_reported_once() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let root = tmp.path();
        let sub = root.join("sub");
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join("a.yaml"), "kind: Pod\n").expect("write");
        std::fs::write(sub.join("notes.txt"), "no").expect("write");
        std::os::unix::fs::symlink(root, sub.join("up")).expect("symlink");
        std::os::unix::fs::symlink(sub.join("a.yaml"), root.join("b.yml")).expect("symlink");
        let out = expand(&[root.to_path_buf(), sub.join("a.yaml")]);
        assert_eq!(out.files, [root.join("b.yml")], "{:?}", out.errors);
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert!(
            out.errors[0].message.contains("symbolic link loop"),
            "{}",
            out.errors[0]
        );
    }

    #[test]
    fn unreadable_directories_and_missing_paths_are_errors() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let out = expand(&[tmp.path().join("missing.yaml")]);
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0]
                .to_string()
                .ends_with("missing.yaml: no such file or directory")
        );
        std::os::unix::fs::symlink(tmp.path().join("gone"), tmp.path().join("dangling.yaml"))
            .expect("symlink");
        let out = expand(&[tmp.path().to_path_buf()]);
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert!(
            out.errors[0].message.contains("cannot read"),
            "{}",
            out.errors[0]
        );
    }
}
