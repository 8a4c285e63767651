//! The runner's errors, typed: what went wrong is a variant a caller can match on (a module
//! that cannot be read, one that is not a waPC guest, a guest that failed in a call, an answer
//! that is not what the operation answers, settings the policy refused, a session that cannot
//! be replayed). Binaries add their context with `anyhow`; this library never does.

use std::path::PathBuf;

/// Everything that can go wrong running a policy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module file could not be read.
    #[error("cannot read policy module {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// wasmtime could not compile or link the module, or start its engine.
    #[error("cannot load the policy module: {0}")]
    Load(String),
    /// The module is not a waPC guest, or its start functions failed.
    #[error("cannot instantiate the policy: {0}")]
    Instantiate(String),
    /// The guest failed in a call: a trap, the deadline, a guest error.
    #[error("the policy failed in `{operation}`: {why}")]
    Guest {
        /// The waPC operation.
        operation: String,
        /// What the guest or the runtime said.
        why: String,
    },
    /// The module has no such function (a release before it).
    #[error(
        "the policy module has no `{operation}` function (it predates image-digest-policy {version}), which the checker reads its findings from: run the checker of the module's release, or without --policy"
    )]
    NoFunction {
        /// The waPC operation.
        operation: String,
        /// This release.
        version: &'static str,
    },
    /// The guest answered something that is not what the operation answers.
    #[error("the policy's `{operation}` answered something that is not {expected}: {answer}")]
    Answer {
        /// The waPC operation.
        operation: &'static str,
        /// What it should have answered.
        expected: &'static str,
        /// What it answered (as text, cut by the caller's message).
        answer: String,
    },
    /// The policy refused its settings.
    #[error("{0}")]
    Settings(String),
    /// The compiled-module cache cannot be used (not the user's own, not a directory).
    #[error("{0}")]
    Cache(String),
    /// A recorded host session cannot be read or replayed.
    #[error("{0}")]
    Session(String),
}

/// The runner's results.
pub type Result<T> = std::result::Result<T, Error>;
