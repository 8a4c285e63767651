//! `image-digest-policy`: a Kubewarden policy that enforces the image tag/digest contract
//! (`repository:tag@digest`: the digest decides what runs, the tag stays for people).
//!
//! The core (`reference`, `settings`, `workload`, `rules`, `report`, `evaluate`) is pure: no
//! waPC and no I/O, so the wasm entry points in `guest`, the native tests, the offline
//! checker's parity tests and the benchmarks all run the same code.

pub mod evaluate;
pub mod exemption;
pub mod glob;
pub mod host;
pub mod json;
pub mod kinds;
pub mod path;
pub mod reference;
pub mod report;
pub mod request;
pub mod rules;
pub mod settings;
pub mod workload;

#[cfg(any(all(target_arch = "wasm32", target_os = "wasi"), test))]
mod guest;

/// The hex of a digest valid under the contract (the chart's own), for every unit test here.
#[cfg(test)]
pub(crate) const TEST_H64: &str =
    "96e72f5e649b1738ba4a48f9e786f5cdcb2ad5d63838d4009f5c71c80c2e6809";

/// The policy's own version, as its package declares it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use evaluate::{SettingsVerdict, Verdict, validate, validate_settings, validate_with};
pub use host::{DigestResolver, NoHost};

#[cfg(test)]
mod layering {
    //! The core's modules point one way: read every `crate::<module>` a module names (its
    //! `use` lines and inline paths, tests included) and fail on any cycle, naming it.
    use std::collections::{BTreeMap, BTreeSet};

    fn edges() -> BTreeMap<String, BTreeSet<String>> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in files {
            let rel = file.strip_prefix(&src).expect("under src");
            // `evaluate/tests.rs` belongs to `evaluate`.
            let module = rel
                .iter()
                .next()
                .and_then(|c| c.to_str())
                .map(|c| c.trim_end_matches(".rs").to_owned())
                .expect("a module name");
            let text = std::fs::read_to_string(&file).expect("readable");
            for (i, _) in text.match_indices("crate::") {
                let rest = text.get(i + "crate::".len()..).unwrap_or("");
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module && name != "lib" {
                    graph.entry(module.clone()).or_default().insert(name);
                }
            }
        }
        graph
    }

    #[test]
    fn no_module_cycles() {
        let graph = edges();
        assert!(
            graph.get("workload").is_some_and(|d| d.contains("kinds")),
            "the reader sees workload -> kinds: {graph:?}"
        );
        // Depth-first search for a back edge.
        fn visit(
            m: &str,
            graph: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|p| p == m) {
                let mut cycle = path.split_off(at);
                cycle.push(m.to_owned());
                return Some(cycle);
            }
            if done.contains(m) {
                return None;
            }
            path.push(m.to_owned());
            for next in graph.get(m).into_iter().flatten() {
                if let Some(c) = visit(next, graph, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(m.to_owned());
            None
        }
        let mut done = BTreeSet::new();
        for m in graph.keys() {
            let cycle = visit(m, &graph, &mut Vec::new(), &mut done);
            assert!(
                cycle.is_none(),
                "module cycle: {}",
                cycle.unwrap_or_default().join(" -> ")
            );
        }
    }
}
