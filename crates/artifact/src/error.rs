//! The artifact library's errors, typed (anyhow is for the binary): a file that cannot be read
//! or written, metadata that is not what kwctl needs, a module or layout that is not sound.

use std::path::PathBuf;

/// Everything that can go wrong building or reading the release artefacts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `metadata.yml` (or the questions UI) is not what the package needs.
    #[error("{0}")]
    Metadata(String),
    /// The module is not a sound wasm module (before or after annotating).
    #[error("{0}")]
    Module(String),
    /// The OCI layout or one of its documents is not sound.
    #[error("{0}")]
    Layout(String),
}

/// The library's results.
pub type Result<T> = std::result::Result<T, Error>;
