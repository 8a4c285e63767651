//! The runner's suite, one test binary: the e2e table and the adversarial requests on the
//! wasm and the native core, the image corpus, the bounds and the fuzz corpus replay.

// A test crate: a panic (an unwrap, an index) is a failing test; helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod corpus;
mod e2e;
