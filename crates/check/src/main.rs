//! `image-digest-check`: evaluates Kubernetes manifests with the image-digest-policy wasm,
//! for GitOps CI and laptops, before anything reaches a cluster.
//!
//! Exit codes: 0 every workload accepted, 1 something rejected, 2 usage or input errors.

mod git;
mod history;
mod live;
mod metrics;
mod pin_plan;
mod pin_run;
mod verify_tags;
mod walk;
mod work;

use image_digest_scan::run::{self, Run};
use image_digest_scan::{input, report};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use image_digest_policy::settings::Settings;
use image_digest_runner::replay::Recording;
use image_digest_runner::{Cache, Policy, cache};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use work::Unit;

/// The policy module built from this tree, embedded at build time (build.rs).
const EMBEDDED_POLICY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/policy.wasm"));

/// `--version`: the checker's and the embedded policy's versions, and the module's sha256.
const VERSION_TEXT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (embedded policy ",
    env!("CARGO_PKG_VERSION"),
    ", sha256:",
    env!("EMBEDDED_POLICY_SHA256"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "image-digest-check",
    version = VERSION_TEXT,
    about = "Check Kubernetes manifests against the image tag/digest contract, offline",
    after_help = "Examples:\n  image-digest-check --settings prod.yaml rendered/\n  helm template agents charts/agents | image-digest-check --settings prod.yaml -\n\nExit codes: 0 all accepted, 1 something rejected, 2 usage or input errors."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Manifests: files, directories (searched recursively for .yaml, .yml, .json), or - for stdin.
    paths: Vec<PathBuf>,
    /// Policy settings, YAML or JSON: what a ClusterAdmissionPolicy's `settings:` holds (a whole
    /// ClusterAdmissionPolicy is accepted too).
    #[arg(long, short, global = true)]
    settings: Option<PathBuf>,
    /// A policy module to use instead of the embedded one (built from this checker's tree).
    #[arg(long, global = true)]
    policy: Option<PathBuf>,
    /// Namespace for manifests that name none (as `helm template -n` would install them).
    #[arg(long, short, global = true)]
    namespace: Option<String>,
    /// Report format.
    #[arg(long, short, value_enum, default_value_t = Format::Text, global = true)]
    output: Format,
    /// Evaluate recorded AdmissionRequest (or AdmissionReview) files as they are, like `kwctl run`.
    #[arg(long = "request", value_name = "FILE")]
    requests: Vec<PathBuf>,
    /// Answer host capabilities (pinDigests, verifyTagDigest) from a recorded session in kwctl's
    /// format; each evaluation replays it afresh. Without it, host lookups fail (and say so).
    #[arg(long = "replay-host-capabilities-interactions", value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Parallel evaluations [default: the number of CPUs].
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Exit 0 when nothing was checked (no workload in scope); by default that is exit 2,
    /// since an empty run proves nothing.
    #[arg(long, global = true)]
    allow_empty: bool,
    /// No progress on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// For each `repository:tag@digest`, ask the registry what the tag means now (one HEAD): a
    /// tag that moved is a warning with both digests; one that cannot be asked is exit 2.
    #[arg(long)]
    verify_tags: bool,
    /// How registries are asked (with --verify-tags).
    #[command(flatten)]
    registry: RegistryArgs,
    /// Read at most this many bytes of one file (larger ones are input errors, exit 2).
    #[arg(long, value_name = "BYTES", default_value_t = input::MAX_FILE_SIZE, global = true)]
    max_file_size: u64,
    /// Print timing and peak memory on stderr (`live` too: its peak memory).
    #[arg(long, global = true)]
    stats: bool,
    /// Compile the policy on every run instead of keeping the compiled module in the per-user
    /// cache ($XDG_CACHE_HOME or ~/.cache, image-digest-check/); IMAGE_DIGEST_CHECK_CACHE=off
    /// does the same, IMAGE_DIGEST_CHECK_CACHE=DIR uses DIR.
    #[arg(long, global = true)]
    no_cache: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check Helm values files before rendering: merged in the order given (as `helm template
    /// -f a.yaml -f b.yaml`), every image block composed as the chart renders it and judged by
    /// the policy; `imagePolicy.requireDigest: true` in the values requires digests.
    Values {
        /// Values files, later ones overriding earlier ones.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The chart's directory: its `Chart.yaml` `appVersion` is what an empty `tag` renders
        /// (`{{ .Values.image.tag | default .Chart.AppVersion }}`, as most charts write it).
        #[arg(long, value_name = "DIR", conflicts_with = "app_version")]
        chart: Option<PathBuf>,
        /// What an empty `tag` renders, when the chart is not at hand (its `appVersion`).
        #[arg(long, value_name = "VERSION")]
        app_version: Option<String>,
        /// For each composed `repository:tag@digest`, ask the registry what the tag means now:
        /// a tag that moved is a warning with both digests; one that cannot be asked is exit 2.
        #[arg(long)]
        verify_tags: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pin digests into the files: every image with a tag and no digest in the manifests and
    /// Helm values files is resolved at its registry and rewritten in place as
    /// `repository:tag@digest` (values: the block's `digest:` key), touching nothing else.
    Pin(PinArgs),
    /// List every image the Git history of the files pinned by digest (the rollback targets),
    /// and with --verify-registry check that the registry still has each one.
    History(HistoryArgs),
    /// What runs: Pods as `kubectl get pods -A -o json` prints them (a List, Pods, a stream;
    /// YAML too), grouped by workload: drift (pods of one workload running different digests
    /// of one image), the running digest of tag-only images (--output pins), a pinned spec
    /// running another digest; and the contract judged on every pod's spec.
    Live {
        /// Files of Pods, or - for stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Ask the registry for every running digest (an index down to its platform
        /// manifests): a pod running a digest the registry lost fails at its next reschedule.
        #[arg(long)]
        verify_registry: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  image-digest-check history --values charts/agents/values.yaml --values gitops/prod.yaml --verify-registry\n  image-digest-check history deploy/ --since 2026-01-01 --output list > keep.txt\n\nExit codes: 0 listed (with --verify-registry: every digest present), 1 a pinned digest is gone from its registry, 2 anything not read or not checked.\nReads first-parent commits that touched the paths (a merge counts as one commit); needs the full history (not a shallow clone) unless --range names commits you have."
)]
struct HistoryArgs {
    /// Manifests: files or directories in a Git work tree.
    paths: Vec<PathBuf>,
    /// A Helm values file; repeat in `helm -f` order.
    #[arg(long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// Only commits since this date (as `git log --since`: 2026-10-01, "3 months ago").
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only the commits of this range (REV..REV).
    #[arg(long, value_name = "REV..REV")]
    range: Option<String>,
    /// Ask the registry for every pinned digest (a HEAD of the manifest by digest; for an
    /// index, one GET of it and a HEAD of each platform's manifest).
    #[arg(long)]
    verify_registry: bool,
    /// With --verify-registry: also read each manifest (a GET: it counts as a pull on Docker
    /// Hub) and ask for its config and layer blobs.
    #[arg(long, requires = "verify_registry")]
    deep: bool,
    /// With --verify-registry: of an index, check only this platform's manifest (OS/ARCH[/VARIANT],
    /// repeatable; by default every platform the index lists).
    #[arg(
        long = "platform",
        value_name = "OS/ARCH",
        requires = "verify_registry"
    )]
    platforms: Vec<String>,
    /// Tag every keep-list digest in its own repository as PREFIXsha256-<hex> (the manifest's
    /// bytes, PUT by tag: the digest does not change), so retention rules that keep tags keep it.
    #[arg(long)]
    protect: bool,
    /// The protection tags' prefix (retention rules match it).
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "keep-",
        requires = "protect"
    )]
    protect_prefix: String,
    /// With --protect: list what would be tagged, write nothing.
    #[arg(long, requires = "protect")]
    dry_run: bool,
    /// With --protect: delete the protection tags (of this prefix) whose digest is no longer on
    /// the keep-list of the commits read (tag by tag; a registry that cannot delete a tag alone
    /// says so, and nothing is deleted by digest instead).
    #[arg(long, requires = "protect")]
    prune: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// How registries are asked (`pin`, `history --verify-registry`).
#[derive(clap::Args, Debug)]
struct RegistryArgs {
    /// Speak plain HTTP to this registry (host[:port]); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
    /// Look images of REGISTRY up at MIRROR (same digests); the files keep naming REGISTRY.
    #[arg(long = "mirror", value_name = "REGISTRY=MIRROR")]
    mirrors: Vec<String>,
    /// Registry lookups in flight at once.
    #[arg(long, default_value_t = 8)]
    lookups: usize,
    /// Seconds per registry request before it counts as failed (and is retried).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

impl RegistryArgs {
    fn options(
        &self,
        platform: Option<image_digest_pin::platform::Platform>,
    ) -> Result<image_digest_pin::registry::Options> {
        let mirrors = self
            .mirrors
            .iter()
            .map(|m| {
                m.split_once('=')
                    .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .with_context(|| format!("--mirror {m:?} is not REGISTRY=MIRROR"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(image_digest_pin::registry::Options {
            platform,
            insecure: self.insecure.clone(),
            mirrors,
            jobs: self.lookups,
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
            ..Default::default()
        })
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  image-digest-check pin deploy/\n  image-digest-check pin --values charts/agents/values.yaml --values gitops/prod.yaml --dry-run\n\nWrites: every file or none. Every lookup and edit is made and checked first; the new texts are then staged beside their files and renamed into place, and if one rename fails the files already replaced get their old text back (the error says which).\nExit codes: 0 done (or nothing to pin), 1 --dry-run found changes, 2 anything not done (nothing is written then).\nCredentials: the docker config.json ($DOCKER_CONFIG or ~/.docker), as `docker login` writes it; a config that exists but cannot be read or is not JSON stops pin before any lookup (exit 2)."
)]
struct PinArgs {
    /// Manifests: files or directories (searched recursively for .yaml, .yml, .json).
    paths: Vec<PathBuf>,
    /// A Helm values file; repeat in `helm -f` order (a digest goes where its block's tag is set).
    #[arg(long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// Print a unified diff instead of writing; exit 1 when anything would change.
    #[arg(long)]
    dry_run: bool,
    /// Pin this platform's manifest (os/arch[/variant]) instead of the multi-arch index.
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Take each digest from the running pods in PODS (`kubectl get pods -A -o json`) instead of
    /// the registry: the digest the cluster runs now, so the pin changes nothing that runs.
    #[arg(long, value_name = "PODS", conflicts_with = "platform")]
    from_live: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Github,
    /// `history` only: one `repository@digest` per line.
    List,
    /// OpenReports `Report`/`ClusterReport` documents (a YAML stream for `kubectl apply -f -`).
    Openreports,
    /// `live` only: the running digest of each tag-only container, `repository:tag@digest`.
    Pins,
    /// `history --verify-registry` only: node-exporter textfile metrics,
    /// `image_digest_present{repository, digest, commit} 0|1`, for the alerting stack.
    Prometheus,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("image-digest-check: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<u8> {
    if let Some(Command::Values {
        files,
        chart,
        app_version,
        verify_tags,
        registry,
    }) = &cli.command
    {
        let app_version = match (chart, app_version) {
            (Some(dir), _) => Some(chart_app_version(dir)?),
            (None, v) => v.clone(),
        };
        let verify = verify_tags.then(|| registry.options(None)).transpose()?;
        return run_values(cli, files, app_version, verify.as_ref());
    }
    if let Some(Command::Pin(args)) = &cli.command {
        return run_pin(cli, args);
    }
    if let Some(Command::History(args)) = &cli.command {
        return run_history(cli, args);
    }
    if let Some(Command::Live {
        files,
        verify_registry,
        registry,
    }) = &cli.command
    {
        let verify = verify_registry
            .then(|| registry.options(None))
            .transpose()?;
        return live::run(cli, files, verify.as_ref());
    }
    if matches!(cli.output, Format::List | Format::Pins | Format::Prometheus) {
        bail!(
            "--output list and prometheus are for history and --output pins for live; checks report as text, json, junit, sarif, github or openreports"
        );
    }
    if cli.paths.is_empty() && cli.requests.is_empty() {
        bail!(
            "no input: give manifest files, directories, - for stdin, or --request FILE (see --help)"
        );
    }
    let settings = read_settings(cli.settings.as_deref())?;
    let policy = load_policy(cli)?;
    let evaluator = policy.with_settings(settings.clone())?;
    let parsed = core_settings(&settings)?;
    let scope = &parsed.namespaces;
    let recording = cli.replay.as_deref().map(Recording::load).transpose()?;

    let (units, errors) = read_units(cli);
    let cx = work::Context {
        evaluator: &evaluator,
        recording: recording.as_ref(),
        namespace: cli.namespace.as_deref(),
        settings: &parsed,
        jobs: cli.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        progress: !cli.quiet && units.len() >= 1000,
    };
    let started = std::time::Instant::now();
    let mut outs = work::run(&cx, &units);
    let mut errors = errors;
    let mut floor = 0;
    if cli.verify_tags {
        let options = cli.registry.options(None)?;
        if verify_tags::apply(&units, &parsed, &options, &mut outs, &mut errors) == 0 {
            floor = verify_tags::nothing_asked(cli.allow_empty);
        }
    }
    let run = Run::from_documents(outs, errors, scope, cli.allow_empty);
    if cli.stats {
        print_stats(&run.summary, started.elapsed());
    }
    Ok(print(cli, &run).max(floor))
}

/// Writes the report in the chosen format and returns the exit code.
fn print(cli: &Cli, run: &Run) -> u8 {
    let format = match cli.output {
        Format::Text => run::Format::Text,
        Format::Json => run::Format::Json,
        Format::Junit => run::Format::Junit,
        Format::Sarif => run::Format::Sarif,
        Format::Github => run::Format::Github,
        Format::Openreports => run::Format::OpenReports,
        // Refused before any check runs (`run`).
        Format::List | Format::Pins | Format::Prometheus => run::Format::Text,
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), run.render(format).as_bytes());
    run.exit_code()
}

/// The settings as the core reads them (the namespace scope, the custom kinds), once the wasm
/// has accepted them. Both run the same code; should they ever disagree, that is an error,
/// never a silent fall back to defaults (an empty scope would check nothing it should).
fn core_settings(settings: &Value) -> Result<Settings> {
    Settings::from_json(Some(settings)).map_err(|e| {
        anyhow::anyhow!("the policy accepted the settings, but the checker's core did not: {e}")
    })
}

/// The `appVersion` of the chart in `dir` (its `Chart.yaml`): an error, not a guess, when the
/// file or the key is missing.
fn chart_app_version(dir: &std::path::Path) -> Result<String> {
    let path = dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--chart: cannot read {}", path.display()))?;
    let (chart, _) = image_digest_scan::yaml::parse(&text)
        .map_err(|e| anyhow::anyhow!("--chart: {} is not YAML: {e}", path.display()))?;
    let version = match chart.get("appVersion") {
        Some(serde_json::Value::String(v)) if !v.is_empty() => v.clone(),
        Some(v @ serde_json::Value::Number(_)) => v.to_string(),
        _ => bail!(
            "--chart: {} has no appVersion, so an empty tag renders nothing known: set the tags in the values, or pass --app-version",
            path.display()
        ),
    };
    // metrics-server and many others: `default (printf "v%s" .Chart.AppVersion) .tag`, an
    // appVersion of 0.7.2 rendering the tag v0.7.2.
    if !version.starts_with('v') && templates_prefix_v(&dir.join("templates")) {
        eprintln!(
            "values: --chart {}: its templates render the appVersion as v%s: an empty tag reads v{version}",
            dir.display()
        );
        return Ok(format!("v{version}"));
    }
    Ok(version)
}

/// Whether a chart's templates write the appVersion with a `v` before it
/// (`printf "v%s" .Chart.AppVersion`).
fn templates_prefix_v(dir: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let path = e.path();
        if path.is_dir() {
            return templates_prefix_v(&path);
        }
        std::fs::read_to_string(&path).is_ok_and(|t| {
            let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
            t.contains("printf \"v%s\" .Chart.AppVersion")
                || t.contains("printf \"v%s\" $.Chart.AppVersion")
        })
    })
}

/// `image-digest-check values FILE…`.
fn run_values(
    cli: &Cli,
    files: &[PathBuf],
    app_version: Option<String>,
    verify_tags: Option<&image_digest_pin::registry::Options>,
) -> Result<u8> {
    let settings = read_settings(cli.settings.as_deref())?;
    let policy = load_policy(cli)?;
    policy.with_settings(settings.clone())?;
    let parsed = core_settings(&settings)?;
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    for path in files {
        match input::read(path) {
            Ok(text) => texts.push((input::source_name(path), text)),
            Err(e) => errors.push(e),
        }
    }
    let mut prepared =
        run::prepare_values(&texts, &settings, &parsed, cli.namespace.as_deref(), errors);
    prepared.app_version = app_version;
    let evaluator = policy.with_settings(prepared.effective.clone())?;
    let mut judge = work::Wasm::new(&evaluator);
    let mut run = run::values(prepared, &parsed, &mut judge, cli.allow_empty);
    let mut floor = 0;
    if let Some(options) = verify_tags {
        let mut asked = 0;
        run.amend(|results, errors| {
            asked = verify_tags::apply_to_values(results, errors, options);
        });
        if asked == 0 {
            floor = verify_tags::nothing_asked(cli.allow_empty);
        }
    }
    Ok(print(cli, &run).max(floor))
}

/// `image-digest-check pin`: needs no policy module, only the core's reading of the settings
/// (exemptions, custom kinds, allowed digest algorithms).
fn run_pin(cli: &Cli, args: &PinArgs) -> Result<u8> {
    if !matches!(cli.output, Format::Text) {
        bail!("pin reports as text and --dry-run prints a unified diff; --output is for checks");
    }
    let settings = Settings::from_json(Some(&read_settings(cli.settings.as_deref())?))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let platform = args
        .platform
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let request = pin_run::Request {
        manifests: &args.paths,
        values: &args.values,
        dry_run: args.dry_run,
        allow_empty: cli.allow_empty,
        options: args.registry.options(platform)?,
        from_live: args
            .from_live
            .as_deref()
            .map(|pods| live::running(pods, &settings))
            .transpose()?,
    };
    pin_run::run(&request, &settings)
}

/// `image-digest-check history`: the core's reading of the settings (kinds, presets, custom
/// kinds) and the Git history; no policy module.
fn run_history(cli: &Cli, args: &HistoryArgs) -> Result<u8> {
    let output = match cli.output {
        Format::Text => history::Output::Text,
        Format::Json => history::Output::Json,
        Format::List => history::Output::List,
        Format::Github => history::Output::Github,
        Format::Sarif => history::Output::Sarif,
        Format::Prometheus if !args.verify_registry => {
            bail!("--output prometheus reports what the registry answered: add --verify-registry")
        }
        Format::Prometheus => history::Output::Prometheus,
        Format::Junit | Format::Openreports | Format::Pins => {
            bail!("history reports as text, json, list, sarif, github or prometheus")
        }
    };
    let settings = Settings::from_json(Some(&read_settings(cli.settings.as_deref())?))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let prefix = &args.protect_prefix;
    if !prefix.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        || prefix.len() > 40
    {
        bail!(
            "--protect-prefix {prefix:?}: a tag starts with a letter, digit or `_` and holds only letters, digits, `_`, `.` and `-` (at most 40 characters here, so the digest fits the 128 a tag may have)"
        );
    }
    let request = history::Request {
        paths: &args.paths,
        values: &args.values,
        since: args.since.as_deref(),
        range: args.range.as_deref(),
        verify: args.verify_registry,
        protect: args.protect.then(|| args.protect_prefix.clone()),
        dry_run: args.dry_run,
        prune: args.prune,
        allow_empty: cli.allow_empty,
        output,
        options: image_digest_pin::registry::Options {
            deep: args.deep,
            platforms: args
                .platforms
                .iter()
                .map(|p| {
                    p.parse::<image_digest_pin::platform::Platform>()
                        .map(|_| p.clone())
                        .map_err(|e| anyhow::anyhow!("--platform {p:?}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?,
            ..args.registry.options(None)?
        },
    };
    history::run(&request, &settings)
}

fn load_policy(cli: &Cli) -> Result<Policy> {
    let cache = module_cache(cli);
    match &cli.policy {
        Some(path) => Policy::load_cached(path, cache.as_ref()),
        None => Policy::from_bytes_cached(EMBEDDED_POLICY, cache.as_ref())
            .context("cannot load the embedded policy module"),
    }
}

/// The compiled-module cache, on by default: `--no-cache` or `IMAGE_DIGEST_CHECK_CACHE=off`
/// turn it off, `IMAGE_DIGEST_CHECK_CACHE=DIR` moves it, else the per-user cache directory.
/// A directory that is not the user's own is not used, and that is said once (compiled code
/// is native code: see the runner's `cache.rs`).
fn module_cache(cli: &Cli) -> Option<Cache> {
    let setting = std::env::var_os("IMAGE_DIGEST_CHECK_CACHE").filter(|v| !v.is_empty());
    if cli.no_cache || setting.as_deref() == Some(std::ffi::OsStr::new("off")) {
        return None;
    }
    let dir = setting.map(PathBuf::from).or_else(cache::default_dir)?;
    match Cache::open(&dir) {
        Ok(cache) => Some(cache),
        Err(why) => {
            eprintln!(
                "image-digest-check: not using the compiled-module cache: {why}; compiling the policy instead \
                 (make the directory yours and not group- or world-writable, or pass --no-cache)"
            );
            None
        }
    }
}

/// Reads every input into units of work; what cannot be read is an input error.
fn read_units(cli: &Cli) -> (Vec<Unit>, Vec<input::InputError>) {
    let expanded = walk::expand(&cli.paths);
    let mut errors = expanded.errors;
    let mut units = Vec::new();
    if !expanded.skipped.is_empty() {
        units.push(Unit::Skipped(expanded.skipped));
    }
    for file in &expanded.files {
        let text = match input::read_limited(file, cli.max_file_size) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let source = input::source_name(file);
        if let Some(mut items) = input::JsonItems::new(&source, &text) {
            // A JSON List (`kubectl get … -o json`): each item with its own positions, found
            // however large the list.
            let (docs, errs) = items.batch(0..items.len());
            errors.extend(errs);
            units.extend(docs.into_iter().map(Unit::Doc));
        } else if let Some((docs, errs)) = input::json_documents(&source, &text) {
            errors.extend(errs);
            units.extend(docs.into_iter().map(Unit::Doc));
        } else {
            units.extend(
                input::split_yaml(&source, &text)
                    .into_iter()
                    .map(Unit::Chunk),
            );
        }
    }
    for path in &cli.requests {
        match std::fs::read(path) {
            Ok(bytes) => units.push(Unit::Request {
                location: path.display().to_string(),
                bytes,
            }),
            Err(e) => errors.push(input::InputError {
                source: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }
    (units, errors)
}

fn print_stats(summary: &report::Summary, elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64();
    eprintln!(
        "evaluated: {} documents in {secs:.3} s ({:.0}/s)",
        summary.documents,
        summary.documents as f64 / secs.max(1e-9)
    );
    eprintln!("peak memory: {}", peak_memory());
}

/// The process's peak resident memory (Linux `VmHWM`).
pub(crate) fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn read_settings(path: Option<&Path>) -> Result<Value> {
    let Some(path) = path else {
        return Ok(Value::Object(Default::default()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read settings {}", path.display()))?;
    run::settings_from_text(&text).map_err(|e| {
        anyhow::anyhow!(
            "settings {} are not valid YAML or JSON: {e}",
            path.display()
        )
    })
}
