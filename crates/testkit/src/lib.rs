//! The test harness for what the tests talk to over the network, all on 127.0.0.1: a real
//! `docker-registry` (anonymous or behind htpasswd basic auth), OCI images built from oci-spec
//! types and pushed with skopeo, and a proxy that stops answering after a number of requests.
//! Missing tools fail the test with the command that installs them; nothing here skips.
//! It also holds the policy's own harness: where `policy.wasm` is and loading it (`policy`),
//! the one test digest, the one AdmissionRequest builder, and the e2e case table every runner
//! shares (`cases`). Dev-only: no shipped crate depends on it.

pub mod cases;
pub mod images;
pub mod policy;
pub mod proxy;
pub mod registry;
pub mod scripted;
pub mod token_gate;

use std::path::PathBuf;

/// A tool on PATH, or a panic saying how `.ci/run` installs it.
pub fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: `apt-get install -y docker-registry skopeo apache2-utils` (.ci/run does this); this test never skips")
    })
}
