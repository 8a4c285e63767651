//! A cache of compiled modules, for processes that load the same policy again and again (the
//! checker run by pre-commit, an editor or a CI loop, the kwctl stand-in, the test suites):
//! compiling `policy.wasm` with cranelift takes most of a short run (about 0.8 s here),
//! loading the compiled code a few milliseconds.
//!
//! An entry is named by the SHA-256 of the module and wasmtime's compatibility hash of the
//! engine (version and settings), so a changed module or a new wasmtime never reads a stale
//! entry. Its content starts with a header holding the module's SHA-256 and the SHA-256 of the
//! compiled code: a truncated, corrupt or foreign entry (another module's code under this
//! name) fails the check and is compiled again and replaced, never loaded. Entries are
//! written to a temporary file and renamed, so a reader never sees half a file.
//!
//! Trust: compiled code is native code. Loading it is `unsafe` in wasmtime's sense because
//! wasmtime cannot verify machine code; whoever can write the cache directory can run code
//! in the process that reads it. So a directory is used only when it is the user's own: it
//! is created `0700`, and a directory or entry owned by someone else, or writable by the
//! group or others, is not read ([`Cache::open`] says why, once) — the module is compiled
//! instead.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

/// What an entry starts with, before the two SHA-256 digests and the compiled code.
const MAGIC: &[u8; 8] = b"IDPCWSM1";
const HEADER: usize = 8 + 32 + 32;

/// A cache directory that passed the trust check.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The directory, created `0700` when missing, when it is the user's own; else why not.
    pub fn open(dir: &Path) -> crate::Result<Cache> {
        create_private(dir).map_err(|e| {
            crate::Error::Cache(format!(
                "cannot create the module cache {}: {e}",
                dir.display()
            ))
        })?;
        trusted(dir).map_err(crate::Error::Cache)?;
        // A regular file of that name (IMAGE_DIGEST_CHECK_CACHE naming a file): every entry
        // written under it would fail, each run, without a word.
        if !dir.is_dir() {
            return Err(crate::Error::Cache(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled `bytes`, from the cache when it holds a sound entry for them, else
    /// compiled and stored.
    pub fn module(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Module> {
        let module_hash: [u8; 32] = Sha256::digest(bytes).into();
        let path = self.entry(engine, &module_hash);
        if let Some(module) = load(engine, &path, &module_hash) {
            return Ok(module);
        }
        let module = Module::new(engine, bytes)?;
        // A cache that cannot be written only costs the next run a compile.
        let _ = self.store(&module, &module_hash, &path);
        Ok(module)
    }

    fn entry(&self, engine: &Engine, module_hash: &[u8; 32]) -> PathBuf {
        let hex: String = module_hash.iter().map(|b| format!("{b:02x}")).collect();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        self.dir.join(format!("{hex}-{:016x}.cwasm", h.finish()))
    }

    fn store(&self, module: &Module, module_hash: &[u8; 32], path: &Path) -> wasmtime::Result<()> {
        let code = module.serialize()?;
        let mut content = Vec::with_capacity(HEADER + code.len());
        content.extend_from_slice(MAGIC);
        content.extend_from_slice(module_hash);
        content.extend_from_slice(&Sha256::digest(&code));
        content.extend_from_slice(&code);
        let tmp = self.dir.join(format!(
            ".tmp-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        write_private(&tmp, &content)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// The entry at `path`, when it is the user's own, whole, and compiled from `module_hash`.
fn load(engine: &Engine, path: &Path, module_hash: &[u8; 32]) -> Option<Module> {
    trusted(path).ok()?;
    // Read into memory rather than mapped: a mapped file truncated by another process would
    // kill this one with SIGBUS.
    let content = std::fs::read(path).ok()?;
    let (magic, rest) = content.split_first_chunk::<8>()?;
    let (module, rest) = rest.split_first_chunk::<32>()?;
    let (code_hash, code) = rest.split_first_chunk::<32>()?;
    if magic != MAGIC
        || module != module_hash
        || *code_hash != <[u8; 32]>::from(Sha256::digest(code))
    {
        return None;
    }
    // SAFETY: the code is what `Module::serialize` wrote for this module (its hash is in the
    // header, the code's own hash checked) into a directory and file only this user can
    // write; wasmtime still checks the header, version and engine settings.
    unsafe { Module::deserialize(engine, code) }.ok()
}

/// The default cache directory: `$XDG_CACHE_HOME/image-digest-check`, else
/// `$HOME/.cache/image-digest-check`; `None` when neither is set.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("image-digest-check"))
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content)
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// Whether `path` is the current user's own and writable by no one else.
#[cfg(unix)]
fn trusted(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // First: a link's own mode is always 777, which would be the wrong reason to give.
    if meta.file_type().is_symlink() {
        return Err(format!("{} is a symbolic link", path.display()));
    }

    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to user {}, not to you (user {me})",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by {} (mode {:o})",
            path.display(),
            if meta.mode() & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            },
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A module small enough to compile in a blink.
    const WAT: &str = r#"(module (func (export "f") (result i32) i32.const 7))"#;

    fn engine() -> Engine {
        Engine::default()
    }

    fn only_entry(dir: &Path) -> PathBuf {
        let entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries.into_iter().next().unwrap_or_default()
    }

    #[test]
    fn the_cache_is_created_private_and_reused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("a/image-digest-check");
        let cache = Cache::open(&dir).expect("opened");
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let bytes = wat::parse_str(WAT).expect("wat");
        cache.module(&engine(), &bytes).expect("compiled");
        let entry = only_entry(&dir);
        let entry_mode = std::fs::metadata(&entry)
            .expect("entry")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(entry_mode, 0o600);
        let before = std::fs::read(&entry).expect("entry");
        cache.module(&engine(), &bytes).expect("loaded");
        assert_eq!(
            std::fs::read(&entry).expect("entry"),
            before,
            "read, not rewritten"
        );
    }

    #[test]
    fn a_linked_cache_is_refused_as_a_link() {
        let tmp = tempfile::tempdir().expect("tmp");
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).expect("dir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let err = Cache::open(&link)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.ends_with("is a symbolic link"), "{err}");
    }

    #[test]
    fn a_group_or_world_writable_cache_is_not_trusted() {
        let tmp = tempfile::tempdir().expect("tmp");
        for (mode, word) in [(0o770, "its group"), (0o707, "everyone")] {
            let dir = tmp.path().join(format!("c{mode:o}"));
            std::fs::create_dir(&dir).expect("dir");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let err = Cache::open(&dir)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(&format!("writable by {word}")), "{err}");
        }
    }

    #[test]
    fn a_foreign_owned_cache_is_not_trusted() {
        // `/` belongs to root: for any other user it is foreign. As root, a directory given
        // to another user stands in for it.
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("theirs");
        std::fs::create_dir(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        // SAFETY: plain libc calls on a path we own.
        let me = unsafe { libc::geteuid() };
        if me == 0 {
            let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("path");
            // SAFETY: a valid NUL-terminated path; uid/gid 65534 is `nobody`.
            assert_eq!(unsafe { libc::chown(path.as_ptr(), 65534, 65534) }, 0);
        } else {
            let err = Cache::open(Path::new("/"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("not to you"), "{err}");
            return;
        }
        let err = Cache::open(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("belongs to user 65534, not to you"), "{err}");
    }

    #[test]
    fn truncated_corrupt_and_foreign_entries_are_compiled_again() {
        let tmp = tempfile::tempdir().expect("tmp");
        let cache = Cache::open(tmp.path()).expect("opened");
        let bytes = wat::parse_str(WAT).expect("wat");
        let other = wat::parse_str(r#"(module (func (export "g") (result i32) i32.const 9))"#)
            .expect("wat");
        cache.module(&engine(), &bytes).expect("compiled");
        let entry = only_entry(tmp.path());
        let good = std::fs::read(&entry).expect("entry");
        let foreign = {
            let c2 = tempfile::tempdir().expect("tmp");
            let cache2 = Cache::open(c2.path()).expect("opened");
            cache2.module(&engine(), &other).expect("compiled");
            std::fs::read(only_entry(c2.path())).expect("entry")
        };
        let mut flipped = good.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 0xff;
        }
        for (what, content) in [
            ("truncated", good[..good.len() / 2].to_vec()),
            ("corrupt", flipped),
            ("foreign", foreign),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&entry, &content).expect("written");
            let module = cache.module(&engine(), &bytes).expect(what);
            assert!(module.get_export("f").is_some(), "{what}: the right module");
            assert_eq!(
                std::fs::read(&entry).expect("entry"),
                good,
                "{what}: replaced"
            );
        }
    }
}
