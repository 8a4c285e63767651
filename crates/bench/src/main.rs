//! `make bench`: every figure from one run, the policy next to the floor.
//!
//! - fresh: a new instance per request (`wapc_init` + `validate`), as policy-server runs it;
//! - warm: repeated `validate` calls on one instance;
//! - module sizes; the offline checker's throughput on generated documents.

use anyhow::{Context, Result};
use image_digest_runner::{NoCapabilities, Policy};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Stats {
    min: Duration,
    median: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().unwrap_or_default()
    };
    Stats {
        min: at(0.0),
        median: at(0.5),
        p99: at(0.99),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Samples until `budget` is spent (at least 20, at most 2,000).
fn sample(budget: Duration, mut f: impl FnMut() -> Result<()>) -> Result<Stats> {
    for _ in 0..3 {
        f()?;
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < 20 || (started.elapsed() < budget && samples.len() < 2000) {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed());
    }
    Ok(stats(samples))
}

fn fresh(policy: &Policy, payload: &[u8]) -> Result<Stats> {
    sample(Duration::from_millis(1500), || {
        policy
            .call("validate", payload, Arc::new(NoCapabilities))
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
}

fn warm(policy: &Policy, payload: &[u8]) -> Result<Stats> {
    let instance = policy.instantiate(Arc::new(NoCapabilities))?;
    sample(Duration::from_millis(1500), || {
        instance
            .call("validate", payload)
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
}

fn size(path: &Path) -> String {
    std::fs::metadata(path)
        .map(|m| format!("{:.1} KB", m.len() as f64 / 1000.0))
        .unwrap_or_else(|_| "missing".into())
}

fn main() -> Result<()> {
    let root = image_digest_testkit::policy::workspace_root();
    let policy_path = image_digest_testkit::policy::policy_wasm();
    let floor_path =
        image_digest_testkit::policy::target_dir().join("wasm32-wasip1/wasm/floor_policy.wasm");
    let policy = Policy::load(&policy_path)?;
    let floor = Policy::load(&floor_path).context("build the floor with `make bench`")?;

    println!(
        "## Per request (ms), policy-server model (fresh instance) and warm model (one instance)\n"
    );
    println!(
        "| request | containers | policy fresh min / median / p99 | floor fresh median | fresh ratio | policy warm median | floor warm median | warm ratio |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for (name, n, payload) in image_digest_bench::requests() {
        let pf = fresh(&policy, &payload)?;
        let ff = fresh(&floor, &payload)?;
        let pw = warm(&policy, &payload)?;
        let fw = warm(&floor, &payload)?;
        println!(
            "| {name} | {n} | {} / {} / {} | {} | {:.2}× | {} | {} | {:.2}× |",
            ms(pf.min),
            ms(pf.median),
            ms(pf.p99),
            ms(ff.median),
            pf.median.as_secs_f64() / ff.median.as_secs_f64(),
            ms(pw.median),
            ms(fw.median),
            pw.median.as_secs_f64() / fw.median.as_secs_f64(),
        );
    }

    println!("\n## Module sizes\n");
    println!("| module | size |\n|---|---:|");
    println!("| policy.wasm | {} |", size(&policy_path));
    println!(
        "| annotated-policy.wasm | {} |",
        size(&root.join("annotated-policy.wasm"))
    );
    println!("| floor policy | {} |", size(&floor_path));

    let checker = image_digest_testkit::policy::target_dir().join("release/image-digest-check");
    if checker.exists() {
        let docs = 10_000;
        let dir = std::env::temp_dir().join(format!("image-digest-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("manifests.yaml");
        std::fs::write(&file, image_digest_bench::manifests(docs))?;
        println!("\n## Offline checker, {docs} Deployments (2 containers each, 10% rejected)\n");
        println!("| jobs | wall time | documents/s | peak memory |\n|---:|---:|---:|---:|");
        for jobs in [1, 2] {
            let started = Instant::now();
            let out = Command::new(&checker)
                .args([
                    "--quiet",
                    "--stats",
                    "--jobs",
                    &jobs.to_string(),
                    "--policy",
                ])
                .arg(&policy_path)
                .arg(&file)
                .output()?;
            let wall = started.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let peak = stderr
                .lines()
                .find_map(|l| l.strip_prefix("peak memory: "))
                .unwrap_or("?")
                .to_owned();
            anyhow::ensure!(
                out.status.code() == Some(1),
                "the checker should reject the 10% drifted documents: {stderr}"
            );
            println!(
                "| {jobs} | {:.2} s | {:.0} | {peak} |",
                wall.as_secs_f64(),
                docs as f64 / wall.as_secs_f64()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!(
            "\n(checker throughput skipped: build target/release/image-digest-check; `make bench` does)"
        );
    }
    Ok(())
}
