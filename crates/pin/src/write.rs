//! Files changed all at once or not at all: each new text goes to a temporary file next to the
//! original (same directory, so the rename is atomic on one filesystem) with the original's
//! permissions, then replaces it. `--dry-run` shows the same change as a unified diff.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `text` atomically; the original is untouched on any error. A symbolic
/// link is followed: its target is rewritten and the link stays a link.
pub fn atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let resolved = std::fs::canonicalize(path)?;
    let path = resolved.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let permissions = std::fs::metadata(path)?.permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".image-digest-pin.")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.as_file().set_permissions(permissions)?;
    tmp.persist(path).map_err(|e| e.error)?;
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
