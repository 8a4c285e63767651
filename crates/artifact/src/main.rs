//! `image-digest-artifact`: the release side of the policy.
//!
//! - `annotate`: embed metadata.yml (+ the module's own protocol version, + the README) in
//!   the module, as `kwctl annotate` does;
//! - `layout`: write the annotated module as an OCI image layout, ready for `skopeo copy`;
//! - `artifacthub`: (re)generate artifacthub-pkg.yml;
//! - `inspect`: print the metadata embedded in a module.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use image_digest_artifact::{annotate, artifacthub, layout, metadata};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "image-digest-artifact",
    version,
    about = "Annotate, package and describe the policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed the Kubewarden metadata in the module.
    Annotate {
        #[arg(long, default_value = "metadata.yml")]
        metadata: PathBuf,
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
        #[arg(long, short, default_value = "annotated-policy.wasm")]
        output: PathBuf,
        /// The module to annotate.
        #[arg(default_value = "policy.wasm")]
        policy: PathBuf,
    },
    /// Write the annotated module as an OCI image layout.
    Layout {
        #[arg(long, default_value = "metadata.yml")]
        metadata: PathBuf,
        #[arg(long, short, default_value = "build/oci-layout")]
        output: PathBuf,
        /// The tag to record in the layout [default: v<io.kubewarden.policy.version>].
        #[arg(long)]
        tag: Option<String>,
        #[arg(default_value = "annotated-policy.wasm")]
        policy: PathBuf,
    },
    /// Generate artifacthub-pkg.yml from metadata.yml and questions-ui.yml.
    Artifacthub {
        #[arg(long, default_value = "metadata.yml")]
        metadata: PathBuf,
        #[arg(long, default_value = "questions-ui.yml")]
        questions: PathBuf,
        #[arg(long, short, default_value = "artifacthub-pkg.yml")]
        output: PathBuf,
        /// RFC 3339 creation time [default: the existing file's, else required].
        #[arg(long)]
        created_at: Option<String>,
    },
    /// Print the metadata embedded in a module.
    Inspect {
        #[arg(default_value = "annotated-policy.wasm")]
        policy: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("image-digest-artifact: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Annotate {
            metadata,
            readme,
            output,
            policy,
        } => {
            let module = std::fs::read(&policy)
                .with_context(|| format!("cannot read {}", policy.display()))?;
            let meta = metadata::load(&metadata)?;
            let readme = std::fs::read_to_string(&readme)
                .with_context(|| format!("cannot read {}", readme.display()))?;
            let protocol = image_digest_runner::Policy::from_bytes(&module, Default::default())?
                .protocol_version()?;
            let json = serde_json::to_vec(&metadata::embedded(&meta, &protocol, &readme))?;
            std::fs::write(&output, annotate::annotate(&module, &json)?)?;
            eprintln!(
                "{} written ({} bytes of metadata, protocol {protocol})",
                output.display(),
                json.len()
            );
        }
        Command::Layout {
            metadata,
            output,
            tag,
            policy,
        } => {
            let meta = metadata::load(&metadata)?;
            let wasm = std::fs::read(&policy)
                .with_context(|| format!("cannot read {}", policy.display()))?;
            anyhow::ensure!(
                annotate::read(&wasm)?.is_some(),
                "{} is not annotated: run `make annotated-policy.wasm`",
                policy.display()
            );
            let tag = match tag {
                Some(t) => t,
                None => format!(
                    "v{}",
                    metadata::annotation(&meta, "io.kubewarden.policy.version")
                        .context("metadata.yml has no io.kubewarden.policy.version")?
                ),
            };
            if output.exists() {
                std::fs::remove_dir_all(&output)?;
            }
            let digest = layout::write(&output, &wasm, &meta, &tag)?;
            println!("{digest}");
            eprintln!("{} written: tag {tag}, manifest {digest}", output.display());
        }
        Command::Artifacthub {
            metadata,
            questions,
            output,
            created_at,
        } => {
            let meta = metadata::load(&metadata)?;
            let questions = std::fs::read_to_string(&questions)
                .with_context(|| format!("cannot read {}", questions.display()))?;
            let created_at = match created_at {
                Some(c) => c,
                None => std::fs::read_to_string(&output)
                    .ok()
                    .and_then(|t| artifacthub::created_at_of(&t))
                    .context("no --created-at and no existing createdAt to keep")?,
            };
            std::fs::write(
                &output,
                artifacthub::generate(&meta, &questions, &created_at)?,
            )?;
        }
        Command::Inspect { policy } => {
            let wasm = std::fs::read(&policy)
                .with_context(|| format!("cannot read {}", policy.display()))?;
            let section = annotate::read(&wasm)?
                .context("the module has no io.kubewarden.metadata section")?;
            let v: serde_json::Value = serde_json::from_slice(&section)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}
