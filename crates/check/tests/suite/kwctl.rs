//! `e2e-tests/kwctl.bats` under bats with the kwctl stand-in on PATH: kwctl cannot be
//! installed in CI, but the suite's shell logic (exit codes under `set -e`, message parts,
//! warnings, the base64 JSONPatch) must still fail CI when it is wrong.

use crate::harness::{TestCommand, workspace};
use std::process::Command;

#[test]
fn the_kwctl_suite_passes_under_bats_with_the_stand_in() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let cases = tmp.path().join("cases.jsonl");
    let table = image_digest_testkit::cases::kwctl_table().unwrap_or_else(|e| panic!("{e:#}"));
    std::fs::write(&cases, &table).unwrap_or_else(|e| panic!("{}: {e}", cases.display()));
    let stand_in = workspace().join("e2e-tests/kwctl-stand-in");
    let path = format!(
        "{}:{}",
        stand_in.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = TestCommand::of(Command::new("bats"));
    c.args(["--tap", "e2e-tests/kwctl.bats"])
        .env("PATH", path)
        .env("CASES", &cases)
        .env("POLICY", image_digest_testkit::policy::policy_wasm())
        .env(
            "IMAGE_DIGEST_CHECK",
            env!("CARGO_BIN_EXE_image-digest-check"),
        )
        .env(
            "IMAGE_DIGEST_CHECK_CACHE",
            image_digest_testkit::policy::module_cache(),
        );
    // bats reports on stdout (TAP); the suite's notes go to stderr. A bats that is not
    // installed fails to start, naming the command (.ci/run installs it).
    let out = c.assert_exit_both(0);
    let text = format!("{}{}", out.stdout, out.stderr);
    let summary = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("# kwctl: ")
                .or_else(|| l.strip_prefix("kwctl: "))
        })
        .unwrap_or_else(|| panic!("no summary line: {text}"));
    let passed: usize = summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let total = table.lines().count();
    let refused = table.matches("\"kwctl\":false").count();
    eprintln!("kwctl suite (stand-in): {summary}");
    assert!(summary.contains(" 0 failed"), "{text}");
    assert!(
        summary.ends_with(&format!(" {refused} skipped")),
        "{summary}: {refused} cases are marked kwctl_refuses"
    );
    assert_eq!(
        passed + refused,
        total,
        "{passed} of {total} cases ran: {text}"
    );
    // kwctl's own behaviour (strict replay order, leftovers, refusals), copied by the
    // stand-in: every test of the file ran and passed.
    let tests = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(tests, 5, "{text}");
}
