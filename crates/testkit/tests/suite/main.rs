//! The runner's suite, one test binary: the e2e table and the adversarial requests on the
//! wasm and the native core, the image corpus, the bounds and the fuzz corpus replay.

mod corpus;
mod e2e;
