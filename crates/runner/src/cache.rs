//! An opt-in cache of compiled modules, for processes that load the same policy again and
//! again (the checker in a CI loop, the kwctl stand-in, the test suites): compiling
//! `policy.wasm` with cranelift takes most of a short run, loading the compiled code takes
//! a millisecond.
//!
//! A file is named by the SHA-256 of the module and wasmtime's compatibility hash of the
//! engine (version and settings), so a changed module or a new wasmtime never reads a stale
//! entry; an entry that cannot be loaded is compiled again and replaced. Entries are written
//! to a temporary file and renamed, so a reader never sees half a file.
//!
//! Trust: compiled code is native code. Loading it is `unsafe` in wasmtime's sense because
//! wasmtime cannot verify machine code; whoever can write the cache directory can run code
//! in the process that reads it. That is why the cache is off unless a directory is given,
//! and why it belongs in a directory only the user writes (a build's `target/`, `~/.cache`).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

/// The compiled `bytes`, from `dir` when it holds them, else compiled and stored there.
pub fn module(engine: &Engine, bytes: &[u8], dir: &Path) -> anyhow::Result<Module> {
    let path = entry(engine, bytes, dir);
    // Read into memory rather than mapped: a mapped file truncated by another process would
    // kill this one with SIGBUS.
    if let Ok(compiled) = std::fs::read(&path) {
        // SAFETY: the file is one this function wrote with `Module::serialize` for an engine
        // with the same compatibility hash (it is in the name); see the module's note on
        // trusting the directory. wasmtime still checks the header, version and settings.
        if let Ok(module) = unsafe { Module::deserialize(engine, &compiled) } {
            return Ok(module);
        }
    }
    let module = Module::new(engine, bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A cache that cannot be written only costs the next run a compile.
    let _ = store(&module, dir, &path);
    Ok(module)
}

fn entry(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("{hex}-{:016x}.cwasm", h.finish()))
}

fn store(module: &Module, dir: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let serialized = module.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, serialized)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
