//! The checker's suite, one test binary: the binary end to end through one harness.

// A test crate: a panic (an unwrap, an index) is a failing test; helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod checker;
mod fail_closed;
mod gitops;
mod harness;
mod history;
mod hostile;
mod kwctl;
mod live;
mod operators;
mod pin;
mod positions;
mod rules;
mod upstream;
mod values;
