//! The one harness every checker test uses: the binary with the workspace's policy, a run
//! with optional stdin, settings written to a temp file, and the strict validators that the
//! reports must satisfy.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn workspace() -> PathBuf {
    image_digest_testkit::policy::workspace_root()
}

/// One command under test, as ripgrep's suites have it: built like a `Command` (it derefs to
/// one), given its standard input with `.stdin(text)`, and run by an assertion on its exit code
/// that returns its standard output, or fails naming the command, both outputs and the code.
pub struct TestCommand {
    cmd: Command,
    input: Option<String>,
}

impl TestCommand {
    /// `image-digest-check --policy <the workspace's policy.wasm> --quiet`, run from the root,
    /// with the suites' module cache.
    pub fn checker() -> TestCommand {
        let policy = image_digest_testkit::policy::policy_wasm();
        assert!(
            policy.exists(),
            "{} is missing: run `make policy.wasm` first",
            policy.display()
        );
        let mut t = TestCommand::bare();
        t.arg("--policy").arg(policy).arg("--quiet").env(
            "IMAGE_DIGEST_CHECK_CACHE",
            image_digest_testkit::policy::module_cache(),
        );
        t
    }

    /// `image-digest-check` alone, run from the workspace root.
    pub fn bare() -> TestCommand {
        TestCommand::of(Command::new(env!("CARGO_BIN_EXE_image-digest-check")))
    }

    /// Any other program, run from the workspace root.
    pub fn of(mut cmd: Command) -> TestCommand {
        cmd.current_dir(workspace());
        TestCommand { cmd, input: None }
    }

    /// Text for standard input (else it is empty).
    pub fn stdin(&mut self, text: &str) -> &mut TestCommand {
        self.input = Some(text.to_owned());
        self
    }

    /// Runs the command.
    pub fn output(&mut self) -> Output {
        run_command(&mut self.cmd, self.input.as_deref())
    }

    /// Runs it, asserts its exit code, and returns its standard output.
    pub fn assert_exit(&mut self, code: i32) -> String {
        self.assert_exit_both(code).stdout
    }

    /// Runs it, asserts its exit code, and returns both its outputs.
    pub fn assert_exit_both(&mut self, code: i32) -> Ran {
        let out = self.output();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.cmd
        );
        Ran { stdout, stderr }
    }
}

/// What a command that exited as expected printed.
pub struct Ran {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl std::ops::Deref for TestCommand {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.cmd
    }
}

impl std::ops::DerefMut for TestCommand {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

/// `TestCommand::checker()`, the command most tests start from.
pub fn checker() -> TestCommand {
    TestCommand::checker()
}

fn run_command(c: &mut Command, stdin: Option<&str>) -> Output {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("the command starts");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("stdin is written");
    }
    child.wait_with_output().expect("the command finishes")
}

pub fn settings_file(dir: &Path, settings: &Value) -> PathBuf {
    let p = dir.join("settings.json");
    let bytes = serde_json::to_vec(settings).expect("settings serialise");
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

pub fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs a Python snippet with `stdin`; Python's XML parser and `jsonschema` are the strict,
/// independent readers the reports are held to.
pub fn python(script: &str, stdin: &str) -> Output {
    let mut c = Command::new("python3");
    c.args(["-c", script]);
    run_command(&mut c, Some(stdin))
}

/// Fails the test unless `json` is valid against the schema at `schema` (relative to the
/// workspace).
/// Validates `doc` against a JSON schema given as a value (a CRD's `openAPIV3Schema`).
pub fn assert_schema_value_valid(schema: &Value, doc: &Value) {
    let script = "import json, sys, jsonschema\n\
         pair = json.load(sys.stdin)\n\
         jsonschema.validate(pair['doc'], pair['schema'])\n\
         print('valid')";
    let pair = serde_json::json!({"schema": schema, "doc": doc});
    let out = python(script, &pair.to_string());
    assert!(
        out.status.success(),
        "not valid: {}\n{doc}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn assert_schema_valid(schema: &str, json: &str) {
    let path = workspace().join(schema);
    let script = format!(
        "import json, sys, jsonschema\n\
         schema = json.load(open({path:?}))\n\
         jsonschema.validators.validator_for(schema).check_schema(schema)\n\
         jsonschema.validate(json.load(sys.stdin), schema)\n\
         print('valid')",
        path = path.display().to_string()
    );
    let out = python(&script, json);
    assert!(
        out.status.success(),
        "not valid against {schema}: {}\n{json}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real registry holding one single-platform image per `(repository, tag)`, and a work
/// directory holding copies of workspace `files` (each under its own name): where the `pin`
/// tests pin fixtures in place.
pub struct PinStage {
    /// Keeps the registry's storage and the work directory alive.
    pub tmp: tempfile::TempDir,
    pub registry: image_digest_testkit::registry::Registry,
    pub work: PathBuf,
}

pub fn pin_stage(images: &[(&str, &str)], files: &[&str]) -> PinStage {
    let tmp = tempfile::tempdir().expect("tmp");
    let registry = image_digest_testkit::registry::start(&tmp.path().join("registry"), None);
    for (repository, tag) in images {
        image_digest_testkit::images::push(
            &registry,
            tmp.path(),
            repository,
            tag,
            &[("linux", "amd64")],
        );
    }
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    for f in files {
        let source = workspace().join(f);
        let name = source.file_name().expect("a file name");
        std::fs::copy(&source, work.join(name)).expect("copied");
    }
    PinStage {
        tmp,
        registry,
        work,
    }
}

impl PinStage {
    /// Pins with `pin` (its arguments given to `args`), asserts the summary line `pinned`, then
    /// asserts the checker accepts the work directory under `settings`: pinned where it reads.
    pub fn pin_and_check(
        &self,
        settings: &Path,
        hosts: &[&str],
        args: &[&str],
        pinned: &str,
        namespace: &str,
    ) {
        let mut c = self.pin(settings, hosts);
        c.args(args);
        let out = c.assert_exit_both(0);
        assert!(out.stderr.contains(pinned), "{}", out.stderr);
        let mut c = checker();
        c.arg("--settings")
            .arg(settings)
            .args(["--namespace", namespace])
            .arg(&self.work);
        c.assert_exit(0);
    }

    /// `pin --settings SETTINGS` in the work directory, every registry of `hosts` mirrored to
    /// the local one, no credentials.
    pub fn pin(&self, settings: &Path, hosts: &[&str]) -> TestCommand {
        let local = format!("127.0.0.1:{}", self.registry.port);
        let mut c = TestCommand::bare();
        c.current_dir(&self.work)
            .env("DOCKER_CONFIG", self.work.join(".docker-none"))
            .arg("pin")
            .arg("--settings")
            .arg(settings)
            .args(["--insecure-registry", &local]);
        for host in hosts {
            c.args(["--mirror", &format!("{host}={local}")]);
        }
        c
    }
}

/// `file:line:column rule path` of every finding, and the names of the accepted documents.
pub fn findings(report: &Value) -> (Vec<String>, Vec<String>) {
    let mut found = Vec::new();
    let mut accepted = Vec::new();
    for r in report["results"].as_array().expect("results") {
        let file = r["file"].as_str().unwrap_or("");
        let file = file.rsplit('/').next().unwrap_or("");
        if r["allowed"] == true {
            accepted.push(format!(
                "{} {}",
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            ));
        }
        for f in r["findings"].as_array().expect("findings") {
            found.push(format!(
                "{file}:{}:{} {} {}",
                f["line"],
                f["column"],
                f["rule"].as_str().unwrap_or(""),
                f["path"].as_str().unwrap_or("")
            ));
        }
    }
    (found, accepted)
}
