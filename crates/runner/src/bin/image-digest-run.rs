//! `image-digest-run`: evaluate one recorded request with a policy module, like `kwctl run`,
//! for those without kwctl. Prints the policy's answer (with the JSONPatch a mutation
//! produces) as JSON; exit 0 when accepted, 1 when rejected, 2 on errors.
//!
//! image-digest-run [--settings-json JSON] [--replay-host-capabilities-interactions FILE]
//!                  --request-path FILE POLICY.wasm

use anyhow::{Context, Result, bail};
use image_digest_runner::replay::Recording;
use image_digest_runner::{Host, NoCapabilities, Policy};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: image-digest-run [--settings-json JSON] [--replay-host-capabilities-interactions FILE] --request-path FILE POLICY.wasm";

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("image-digest-run: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    let mut settings = serde_json::json!({});
    let mut request = None;
    let mut replay = None;
    let mut policy = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--settings-json" => {
                settings = serde_json::from_str(&value("--settings-json")?)
                    .context("--settings-json is not JSON")?
            }
            "--request-path" | "-r" => request = Some(PathBuf::from(value("--request-path")?)),
            "--replay-host-capabilities-interactions" => {
                replay = Some(PathBuf::from(value(
                    "--replay-host-capabilities-interactions",
                )?))
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(true);
            }
            a if a.starts_with('-') => bail!("unknown option {a}\n{USAGE}"),
            a => policy = Some(PathBuf::from(a)),
        }
    }
    let (Some(policy), Some(request)) = (policy, request) else {
        bail!("{USAGE}");
    };
    let policy = Policy::load(&policy)?;
    let evaluator = policy.with_settings(settings)?;
    let host: Arc<dyn Host> = match replay {
        Some(path) => Arc::new(Recording::load(&path)?.session()),
        None => Arc::new(NoCapabilities),
    };
    let bytes =
        std::fs::read(&request).with_context(|| format!("cannot read {}", request.display()))?;
    let response = evaluator.validate_raw(&bytes, host)?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(response.accepted)
}
