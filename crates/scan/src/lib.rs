//! The checker's pure half: manifests and Helm values read with the line and column of every
//! node (`yaml`, `input`, `values`), each workload turned into the request the API server
//! would send (`admission`), judged by whoever runs the policy (`judge`: `policy.wasm` in
//! wasmtime natively, the core itself in the browser), and reported (`report`). No threads,
//! no runtime, no I/O beyond reading a named file, so the web build runs exactly this code.

pub mod admission;
pub mod document;
pub mod images;
pub mod input;
pub mod judge;
pub mod live;
pub mod outcome;
pub mod report;
pub mod rules;
pub mod run;
pub mod values;
pub mod values_judge;
pub mod yaml;
