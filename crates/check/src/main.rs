//! `image-digest-check`: evaluates Kubernetes manifests with the image-digest-policy wasm,
//! for GitOps CI and laptops, before anything reaches a cluster.
//!
//! Exit codes: 0 every workload accepted, 1 something rejected, 2 usage or input errors.

mod git;
mod gitops;
mod history;
mod live;
mod output;
mod pin_plan;
mod pin_run;
mod verify_tags;
mod walk;
mod work;

use image_digest_scan::input;
use image_digest_scan::report::Report;
use image_digest_scan::run::{self, Format};
use output::Output;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use image_digest_pin::platform::Platform;
use image_digest_pin::registry::Options;
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
    after_help = "Examples:\n  image-digest-check --settings prod.yaml rendered/\n  helm template agents charts/agents | image-digest-check --settings prod.yaml -\n\nWithout a command, the arguments are those of `check`.\nExit codes: 0 all accepted, 1 something rejected, 2 usage or input errors, or anything not checked."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The default command's arguments (`image-digest-check PATH…` is `check PATH…`).
    #[command(flatten)]
    check: CheckArgs,
    #[command(flatten)]
    common: Common,
}

/// What every command reads the same way.
#[derive(clap::Args, Debug)]
struct Common {
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
    /// Exit 0 when nothing was checked (no workload in scope, nothing verified); by default
    /// that is exit 2, since an empty run proves nothing.
    #[arg(long, global = true)]
    allow_empty: bool,
    /// No progress on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Read at most this many bytes of one file (larger ones are input errors, exit 2).
    #[arg(long, value_name = "BYTES", default_value_t = input::MAX_FILE_SIZE, global = true)]
    max_file_size: u64,
    /// Print timing and peak memory on stderr.
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
    /// Check manifests (the default command): every workload evaluated by the policy module.
    Check(CheckArgs),
    /// Check Helm values files before rendering: merged in the order given (as `helm template
    /// -f a.yaml -f b.yaml`), every image block composed as the chart renders it and judged by
    /// the policy; `imagePolicy.requireDigest: true` in the values requires digests.
    Values(ValuesArgs),
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
    Live(LiveArgs),
}

#[derive(clap::Args, Debug, Default)]
struct CheckArgs {
    /// Manifests: files, directories (searched recursively for .yaml, .yml, .json), or - for stdin.
    paths: Vec<PathBuf>,
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
    /// Read Kustomize kustomizations as plain documents (skipped kinds) instead of composing
    /// their Helm charts' values as kustomize does.
    #[arg(long)]
    no_gitops: bool,
    /// Exit as the rest of the run says although a GitOps source does what this checker does
    /// not apply (kustomize's images transformer, patches, remote resources, a chart that is not
    /// vendored): by default that is exit 2, since the rendered result could differ.
    #[arg(long)]
    allow_partial: bool,
    #[command(flatten)]
    judged: Judged,
}

/// What `check` and `values` share: the tags asked for, the registries, the format.
#[derive(clap::Args, Debug, Default)]
struct Judged {
    /// For each `repository:tag@digest` (in values: each composed one), ask the registry what
    /// the tag means now (one HEAD): a tag that moved is a warning with both digests; one that
    /// cannot be asked is exit 2.
    #[arg(long)]
    verify_tags: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Report format.
    #[arg(long, short, value_enum, default_value_t)]
    output: CheckFormat,
}

#[derive(clap::Args, Debug)]
struct ValuesArgs {
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
    #[command(flatten)]
    judged: Judged,
}

#[derive(clap::Args, Debug)]
struct LiveArgs {
    /// Files of Pods, or - for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Ask the registry for every running digest (an index down to its platform
    /// manifests): a pod running a digest the registry lost fails at its next reschedule.
    #[arg(long)]
    verify_registry: bool,
    /// Parallel evaluations of the pods' specs [default: 1].
    #[arg(long, short)]
    jobs: Option<usize>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Report format (`prometheus` needs --verify-registry).
    #[arg(
        long,
        short,
        value_enum,
        default_value_t,
        requires_if("prometheus", "verify_registry")
    )]
    output: LiveFormat,
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
    #[arg(long, value_name = "DATE", conflicts_with = "range")]
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
        requires = "verify_registry",
        value_parser = parse_platform
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
        requires = "protect",
        value_parser = parse_protect_prefix
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
    /// Report format (`prometheus` needs --verify-registry).
    #[arg(
        long,
        short,
        value_enum,
        default_value_t,
        requires_if("prometheus", "verify_registry")
    )]
    output: HistoryFormat,
}

/// How registries are asked (`pin`, `--verify-tags`, `--verify-registry`).
#[derive(clap::Args, Debug, Default)]
struct RegistryArgs {
    /// Speak plain HTTP to this registry (host[:port]); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
    /// Look images of REGISTRY up at MIRROR (same digests); the files keep naming REGISTRY.
    #[arg(long = "mirror", value_name = "REGISTRY=MIRROR", value_parser = parse_mirror)]
    mirrors: Vec<(String, String)>,
    /// Registry lookups in flight at once.
    #[arg(long, default_value_t = 8)]
    lookups: usize,
    /// Seconds per registry request before it counts as failed (and is retried).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

impl RegistryArgs {
    fn options(&self) -> Options {
        Options {
            insecure: self.insecure.clone(),
            mirrors: self.mirrors.clone(),
            jobs: self.lookups,
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
            ..Default::default()
        }
    }
}

/// `--mirror REGISTRY=MIRROR`, refused at parse time when it is not that.
fn parse_mirror(m: &str) -> std::result::Result<(String, String), String> {
    m.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| format!("{m:?} is not REGISTRY=MIRROR"))
}

/// `--platform OS/ARCH[/VARIANT]`, refused at parse time when it is not one.
fn parse_platform(p: &str) -> std::result::Result<String, String> {
    p.parse::<Platform>().map(|_| p.to_owned())
}

/// A protection tag's prefix: a tag starts with a letter, digit or `_` and holds letters,
/// digits, `_`, `.` and `-`; at most 40 here, so the digest fits the 128 a tag may have.
fn parse_protect_prefix(prefix: &str) -> std::result::Result<String, String> {
    let fits = prefix.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && prefix.len() <= 40;
    if fits {
        Ok(prefix.to_owned())
    } else {
        Err(format!(
            "{prefix:?}: a tag starts with a letter, digit or `_` and holds only letters, digits, `_`, `.` and `-` (at most 40 characters here, so the digest fits the 128 a tag may have)"
        ))
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  image-digest-check pin deploy/\n  image-digest-check pin --values charts/agents/values.yaml --values gitops/prod.yaml --dry-run\n\nWrites: every file or none. Every lookup and edit is made and checked first; the new texts are then staged beside their files and renamed into place, and if one rename fails the files already replaced get their old text back (the error says which).\nReports on stderr (stdout carries the --dry-run diff).\nExit codes: 0 done (or nothing to pin), 1 --dry-run found changes, 2 anything not done (nothing is written then).\nCredentials: the docker config.json ($DOCKER_CONFIG or ~/.docker), as `docker login` writes it; a config that exists but cannot be read or is not JSON stops pin before any lookup (exit 2)."
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
    #[arg(long, value_name = "OS/ARCH", value_parser = clap::value_parser!(Platform))]
    platform: Option<Platform>,
    /// Take each digest from the running pods in PODS (`kubectl get pods -A -o json`) instead of
    /// the registry: the digest the cluster runs now, so the pin changes nothing that runs.
    #[arg(long, value_name = "PODS", conflicts_with = "platform")]
    from_live: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The formats of `check` and `values`.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum CheckFormat {
    #[default]
    Text,
    Json,
    Junit,
    Sarif,
    Github,
    /// OpenReports `Report`/`ClusterReport` documents (a YAML stream for `kubectl apply -f -`).
    Openreports,
}

/// The formats of `history`.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum HistoryFormat {
    #[default]
    Text,
    Json,
    Junit,
    Sarif,
    Github,
    /// One `repository@digest` per line: the keep-list.
    List,
    /// node-exporter textfile metrics, `image_digest_present{repository, digest, commit} 0|1`.
    Prometheus,
}

/// The formats of `live`.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum LiveFormat {
    #[default]
    Text,
    Json,
    Junit,
    Sarif,
    Github,
    /// OpenReports `Report` documents per workload.
    Openreports,
    /// The running digest of each tag-only container, `repository:tag@digest`.
    Pins,
    /// node-exporter textfile metrics, `image_digest_present{repository, digest} 0|1`.
    Prometheus,
}

impl From<CheckFormat> for Output {
    fn from(f: CheckFormat) -> Output {
        Output::Report(match f {
            CheckFormat::Text => Format::Text,
            CheckFormat::Json => Format::Json,
            CheckFormat::Junit => Format::Junit,
            CheckFormat::Sarif => Format::Sarif,
            CheckFormat::Github => Format::Github,
            CheckFormat::Openreports => Format::OpenReports,
        })
    }
}

impl From<HistoryFormat> for Output {
    fn from(f: HistoryFormat) -> Output {
        match f {
            HistoryFormat::Text => Output::Report(Format::Text),
            HistoryFormat::Json => Output::Report(Format::Json),
            HistoryFormat::Junit => Output::Report(Format::Junit),
            HistoryFormat::Sarif => Output::Report(Format::Sarif),
            HistoryFormat::Github => Output::Report(Format::Github),
            HistoryFormat::List => Output::List,
            HistoryFormat::Prometheus => Output::Prometheus,
        }
    }
}

impl From<LiveFormat> for Output {
    fn from(f: LiveFormat) -> Output {
        match f {
            LiveFormat::Text => Output::Report(Format::Text),
            LiveFormat::Json => Output::Report(Format::Json),
            LiveFormat::Junit => Output::Report(Format::Junit),
            LiveFormat::Sarif => Output::Report(Format::Sarif),
            LiveFormat::Github => Output::Report(Format::Github),
            LiveFormat::Openreports => Output::Report(Format::OpenReports),
            LiveFormat::Pins => Output::Pins,
            LiveFormat::Prometheus => Output::Prometheus,
        }
    }
}

/// Parses the command line; the default command's flags given before another command
/// (`image-digest-check --output json history …`) are refused, never silently ignored.
fn parse() -> std::result::Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(std::env::args_os())?;
    if let Some((name, _)) = matches.subcommand() {
        let check = <CheckArgs as clap::Args>::augment_args(clap::Command::new("check"));
        let given = check
            .get_arguments()
            .find(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine));
        if let Some(arg) = given {
            let id = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => format!("<{}>", arg.get_id().as_str().to_ascii_uppercase()),
            };
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "`{id}` is an argument of the default command (check); give {name}'s own arguments after `{name}`"
                ),
            ));
        }
    }
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
}

fn main() -> ExitCode {
    let cli = match parse() {
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
    let started = std::time::Instant::now();
    let outcome = run(cli);
    let code = match outcome {
        Ok((report, format, to)) => {
            let text = format.render(&report);
            // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
            let _ = match to {
                To::Stdout => {
                    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())
                }
                To::Stderr => {
                    std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes())
                }
            };
            if !format.carries_problems() {
                // `list`, `pins` and `prometheus` have no place for them: stderr does.
                for e in &report.errors {
                    eprintln!("error: {e}");
                }
                for n in &report.notes {
                    eprintln!("error: {n}");
                }
                // Nor for what makes the run fail: said, not only counted in the exit code.
                for i in report
                    .items
                    .iter()
                    .filter(|i| i.rule.level() == image_digest_policy::rules::Level::Error)
                {
                    // As the text report prints it, on one line whatever a file name holds.
                    let line = image_digest_scan::report::one_line(&i.text_line());
                    eprintln!("error: {line}");
                }
            }
            if STATS.load(std::sync::atomic::Ordering::Relaxed) {
                print_stats(&report, started.elapsed());
            }
            report.exit_code()
        }
        Err(e) => {
            eprintln!("image-digest-check: {e:#}");
            2
        }
    };
    ExitCode::from(code)
}

/// `--stats`, read once the report is written.
static STATS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Where the report goes: stdout, or stderr when stdout carries something else (`pin
/// --dry-run`'s diff).
enum To {
    Stdout,
    Stderr,
}

/// Runs the command into its report, and says how to print it.
fn run(cli: Cli) -> Result<(Report, Output, To)> {
    let Cli {
        command,
        check,
        common,
    } = cli;
    STATS.store(common.stats, std::sync::atomic::Ordering::Relaxed);
    Ok(match command.unwrap_or(Command::Check(check)) {
        Command::Check(args) => {
            let format = args.judged.output.into();
            (run_check(&common, &args)?, format, To::Stdout)
        }
        Command::Values(args) => {
            let format = args.judged.output.into();
            (run_values(&common, &args)?, format, To::Stdout)
        }
        Command::Pin(args) => (
            run_pin(&common, &args)?,
            Output::Report(Format::Text),
            To::Stderr,
        ),
        Command::History(args) => {
            let format = args.output.into();
            (run_history(&common, &args)?, format, To::Stdout)
        }
        Command::Live(args) => {
            let format = args.output.into();
            (run_live(&common, &args)?, format, To::Stdout)
        }
    })
}

/// Whether a file `values` was given is a GitOps source rather than values.
fn is_gitops_source(path: &Path, text: &str) -> bool {
    gitops::is_kustomization(path)
        || input::parse(&input::source_name(path), text)
            .0
            .iter()
            .any(gitops::is_app)
}

/// The settings, read once for every command: as the file holds them (what the policy module
/// validates), and as the core reads them.
struct Loaded {
    json: Value,
    settings: Settings,
}

impl Loaded {
    fn read(common: &Common) -> Result<Loaded> {
        let json = read_settings(common.settings.as_deref())?;
        let settings = Settings::from_json(Some(&json)).map_err(|e| match &common.settings {
            Some(path) => anyhow::anyhow!("settings {}: {e}", path.display()),
            None => anyhow::anyhow!("{e}"),
        })?;
        Ok(Loaded { json, settings })
    }
}

/// `image-digest-check [check] PATH…`.
fn run_check(common: &Common, args: &CheckArgs) -> Result<Report> {
    if args.paths.is_empty() && args.requests.is_empty() {
        bail!(
            "no input: give manifest files, directories, - for stdin, or --request FILE (see --help)"
        );
    }
    let loaded = Loaded::read(common)?;
    let policy = load_policy(common)?;
    let evaluator = policy.with_settings(loaded.json.clone())?;
    let recording = args.replay.as_deref().map(Recording::load).transpose()?;
    let (units, errors, kustomizations) = read_units(common, args);
    let cx = work::Context {
        evaluator: &evaluator,
        recording: recording.as_ref(),
        namespace: common.namespace.as_deref(),
        settings: &loaded.settings,
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        progress: !common.quiet && units.len() >= 1000,
    };
    let mut outs = work::run(&cx, &units);
    let mut errors = errors;
    let asked = if args.judged.verify_tags {
        verify_tags::apply(
            &units,
            &loaded.settings,
            &args.judged.registry.options(),
            &mut outs,
            &mut errors,
        )
    } else {
        usize::MAX
    };
    // "Nothing was checked" is decided once the GitOps sources are judged too.
    let mut report = Report::from_documents(outs, errors, &loaded.settings.namespaces, true);
    for k in kustomizations {
        report.errors.extend(k.errors);
        if let Some(summary) = &mut report.summary {
            // Composed here, not a kind the check skipped.
            k.composed.iter().for_each(|kind| summary.unskip(kind));
        }
        let rendered = gitops::render(&k.resources, &loaded.settings, common.max_file_size);
        report.errors.extend(rendered.errors);
        let units: Vec<Unit> = rendered.docs.into_iter().map(Unit::Doc).collect();
        let mut outs = work::run(&cx, &units);
        for out in &mut outs {
            gitops::place(&mut out.results, &rendered.placed);
        }
        report.absorb(Report::from_documents(
            outs,
            Vec::new(),
            &loaded.settings.namespaces,
            true,
        ));
        for why in k.not_applied {
            if args.allow_partial {
                eprintln!("warning: {why}");
            } else {
                report.note(why);
            }
        }
        for chart in k.charts {
            let label = chart.label.clone();
            let prepared = gitops::prepare(
                chart,
                &loaded.json,
                &loaded.settings,
                common.namespace.as_deref(),
            );
            let evaluator = policy.with_settings(prepared.effective.clone())?;
            let mut judge = work::Wasm::new(&evaluator);
            // A chart whose values render no image contributed nothing: said, as `values` says
            // it, naming the chart (the other sources' verdicts do not make it a pass).
            let mut judged =
                run::values(prepared, &loaded.settings, &mut judge, common.allow_empty);
            for note in &mut judged.notes {
                *note = format!("{label}: {note}");
            }
            report.absorb(judged);
        }
    }
    if let Some(summary) = &report.summary {
        let empty = image_digest_scan::outcome::notes(
            summary,
            &loaded.settings.namespaces,
            common.allow_empty,
        );
        report.notes.extend(empty);
    }
    if asked == 0 {
        verify_tags::nothing_asked(&mut report, common.allow_empty);
    }
    Ok(report)
}

/// `image-digest-check values FILE…`.
fn run_values(common: &Common, args: &ValuesArgs) -> Result<Report> {
    let app_version = match (&args.chart, &args.app_version) {
        (Some(dir), _) => Some(chart_app_version(dir)?),
        (None, v) => v.clone(),
    };
    let loaded = Loaded::read(common)?;
    let policy = load_policy(common)?;
    policy.with_settings(loaded.json.clone())?;
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    for path in &args.files {
        match input::read(path) {
            // A GitOps source is not a values file: its values are composed with the files it
            // names, which `values` alone would not read.
            Ok(text) if is_gitops_source(path, &text) => errors.push(input::InputError {
                source: input::source_name(path),
                message: format!(
                    "a GitOps source (a kustomization, an Argo CD Application, a Flux HelmRelease), not a values file: check its directory with `image-digest-check {}`, which composes its values as its tool does",
                    path.parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .map_or(".".into(), |p| p.display().to_string())
                ),
                line: None,
            }),
            Ok(text) => texts.push((input::source_name(path), text)),
            Err(e) => errors.push(e),
        }
    }
    let mut prepared = run::prepare_values(
        &texts,
        &loaded.json,
        &loaded.settings,
        common.namespace.as_deref(),
        errors,
    );
    prepared.app_version = app_version;
    let evaluator = policy.with_settings(prepared.effective.clone())?;
    let mut judge = work::Wasm::new(&evaluator);
    let mut report = run::values(prepared, &loaded.settings, &mut judge, common.allow_empty);
    if args.judged.verify_tags {
        let options = args.judged.registry.options();
        let mut asked = 0;
        report.amend(|results, errors| {
            asked = verify_tags::apply_to_values(results, errors, &options);
        });
        if asked == 0 {
            verify_tags::nothing_asked(&mut report, common.allow_empty);
        }
    }
    Ok(report)
}

/// `image-digest-check pin`: needs no policy module, only the core's reading of the settings
/// (exemptions, custom kinds, allowed digest algorithms).
fn run_pin(common: &Common, args: &PinArgs) -> Result<Report> {
    let loaded = Loaded::read(common)?;
    let request = pin_run::Request {
        manifests: &args.paths,
        values: &args.values,
        dry_run: args.dry_run,
        allow_empty: common.allow_empty,
        options: Options {
            platform: args.platform.clone(),
            ..args.registry.options()
        },
        from_live: args
            .from_live
            .as_deref()
            .map(|pods| live::running(pods, &loaded.settings))
            .transpose()?,
    };
    pin_run::run(&request, &loaded.settings)
}

/// `image-digest-check history`: the core's reading of the settings (kinds, presets, custom
/// kinds) and the Git history; no policy module.
fn run_history(common: &Common, args: &HistoryArgs) -> Result<Report> {
    let loaded = Loaded::read(common)?;
    let request = history::Request {
        paths: &args.paths,
        values: &args.values,
        since: args.since.as_deref(),
        range: args.range.as_deref(),
        verify: args.verify_registry,
        protect: args.protect.then(|| args.protect_prefix.clone()),
        dry_run: args.dry_run,
        prune: args.prune,
        allow_empty: common.allow_empty,
        options: Options {
            deep: args.deep,
            platforms: args.platforms.clone(),
            ..args.registry.options()
        },
    };
    history::run(&request, &loaded.settings)
}

/// `image-digest-check live FILE…`.
fn run_live(common: &Common, args: &LiveArgs) -> Result<Report> {
    let loaded = Loaded::read(common)?;
    let policy = load_policy(common)?;
    let evaluator = policy.with_settings(loaded.json.clone())?;
    let cx = work::Context {
        evaluator: &evaluator,
        recording: None,
        namespace: common.namespace.as_deref(),
        settings: &loaded.settings,
        jobs: args.jobs.unwrap_or(1).max(1),
        progress: false,
    };
    let options = args.registry.options();
    Ok(live::run(
        &cx,
        &args.files,
        common.max_file_size,
        common.allow_empty,
        args.verify_registry.then_some(&options),
    ))
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
fn load_policy(common: &Common) -> Result<Policy> {
    let cache = module_cache(common);
    match &common.policy {
        Some(path) => Ok(Policy::load_cached(path, cache.as_ref())?),
        None => Policy::from_bytes_cached(EMBEDDED_POLICY, cache.as_ref())
            .context("cannot load the embedded policy module"),
    }
}

/// The compiled-module cache, on by default: `--no-cache` or `IMAGE_DIGEST_CHECK_CACHE=off`
/// turn it off, `IMAGE_DIGEST_CHECK_CACHE=DIR` moves it, else the per-user cache directory.
/// A directory that is not the user's own is not used, and that is said once (compiled code
/// is native code: see the runner's `cache.rs`).
fn module_cache(common: &Common) -> Option<Cache> {
    let setting = std::env::var_os("IMAGE_DIGEST_CHECK_CACHE").filter(|v| !v.is_empty());
    if common.no_cache || setting.as_deref() == Some(std::ffi::OsStr::new("off")) {
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
fn read_units(
    common: &Common,
    args: &CheckArgs,
) -> (
    Vec<Unit>,
    Vec<input::InputError>,
    Vec<gitops::Kustomization>,
) {
    let expanded = walk::expand(&args.paths);
    let mut errors = expanded.errors;
    let mut units = Vec::new();
    if !expanded.skipped.is_empty() {
        units.push(Unit::Skipped(expanded.skipped));
    }
    // GitOps sources first: the files they consume are not manifests of their own.
    let mut kustomizations = Vec::new();
    let mut consumed = std::collections::BTreeSet::new();
    if !args.no_gitops {
        let found = gitops::discover(&expanded.files, &|_| None, common.max_file_size);
        kustomizations = found.sources;
        consumed = found.consumed;
    }
    for file in expanded
        .files
        .iter()
        .filter(|f| consumed.is_empty() || !consumed.contains(&gitops::identity(f)))
    {
        let text = match input::read_limited(file, common.max_file_size) {
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
    for path in &args.requests {
        match std::fs::read(path) {
            Ok(bytes) => units.push(Unit::Request {
                location: path.display().to_string(),
                bytes,
            }),
            Err(e) => errors.push(input::InputError {
                source: path.display().to_string(),
                message: e.to_string(),
                line: None,
            }),
        }
    }
    (units, errors, kustomizations)
}

/// `--stats`: how long the run took, how much it read, and its peak memory.
fn print_stats(report: &Report, elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64();
    if let Some(summary) = &report.summary {
        eprintln!(
            "evaluated: {} documents in {secs:.3} s ({:.0}/s)",
            summary.documents,
            summary.documents as f64 / secs.max(1e-9)
        );
    } else {
        eprintln!("ran in {secs:.3} s");
    }
    eprintln!("peak memory: {}", peak_memory());
}

/// The process's peak resident memory (Linux `VmHWM`).
fn peak_memory() -> String {
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
