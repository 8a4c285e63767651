//! The checker's suite, one test binary: the binary end to end through one harness.

mod checker;
mod fail_closed;
mod harness;
mod history;
mod kwctl;
mod live;
mod pin;
mod positions;
mod rules;
mod values;
