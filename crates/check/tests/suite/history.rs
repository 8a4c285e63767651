//! `image-digest-check history` on a real Git repository in the chart note's layout, against
//! a real `docker-registry` with deletion on: a manifest deleted through the registry API and
//! collected by the registry's own garbage collector is named with the commit that pinned it.

use crate::harness::{TestCommand, settings_file};
use image_digest_testkit::images::push_release;
use image_digest_testkit::registry::{Registry, start_deletable};
use std::path::{Path, PathBuf};
use std::process::Command;

const HOST: &str = "registry.example.test";

fn git(dir: &Path, args: &[&str], date: &str) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.test")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn commit(dir: &Path, files: &[(&str, &str)], date: &str, subject: &str) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("dir");
        std::fs::write(&p, text).expect("written");
    }
    git(dir, &["add", "-A"], date);
    git(dir, &["commit", "-q", "-m", subject], date);
}

/// The chart note's values: the root `image` (jangar, which the controllers render unless
/// they override it) and `controlPlane.image` (its own repository).
fn values(jangar: (&str, &str), cp: (&str, &str), controllers: Option<(&str, &str)>) -> String {
    let mut v = format!(
        "image:\n  repository: {HOST}/lab/jangar\n  tag: \"{}\"\n  digest: \"{}\"\n\ncontrolPlane:\n  image:\n    repository: {HOST}/lab/jangar-control-plane\n    tag: \"{}\"\n    digest: \"{}\"\n\ncontrollers:\n  enabled: true\n",
        jangar.0, jangar.1, cp.0, cp.1
    );
    if let Some((tag, digest)) = controllers {
        v.push_str(&format!(
            "  image:\n    tag: \"{tag}\"\n    digest: \"{digest}\"\n"
        ));
    }
    v
}

fn render(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: agents, namespace: agents}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: agents\n          image: {image}\n"
    )
}

fn history(dir: &Path, registry: &Registry, args: &[&str]) -> TestCommand {
    let mut c = TestCommand::bare();
    let mirror = format!("{HOST}=127.0.0.1:{}", registry.port);
    let insecure = format!("127.0.0.1:{}", registry.port);
    c.current_dir(dir)
        .env("DOCKER_CONFIG", dir.join(".docker-none"))
        .args(["history", "deploy", "--values", "values/prod.yaml"])
        .args([
            "--mirror",
            &mirror,
            "--insecure-registry",
            &insecure,
            "--timeout",
            "5",
        ])
        .args(args);
    c
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn history_lists_the_rollback_targets_and_names_a_collected_digest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut registry = start_deletable(&tmp.path().join("registry"));
    let one = [("linux", "amd64")];
    let d = |repo: &str, tag: &str| push_release(&registry, tmp.path(), repo, tag, &one).digest;
    let (j1, j2, j3) = (
        d("lab/jangar", "1.0"),
        d("lab/jangar", "1.1"),
        d("lab/jangar", "1.2"),
    );
    let (cp1, cp2) = (
        d("lab/jangar-control-plane", "1.0"),
        d("lab/jangar-control-plane", "1.1"),
    );
    let all = [&j1, &j2, &j3, &cp1, &cp2];
    let mut distinct: Vec<&&String> = all.iter().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "five distinct digests");

    let repo = tmp.path().join("gitops");
    std::fs::create_dir_all(&repo).expect("repo dir");
    git(&repo, &["init", "-q", "-b", "main"], "2026-10-01T10:00:00Z");
    commit(
        &repo,
        &[(
            "values/prod.yaml",
            &values(("1.0", &j1), ("1.0", &cp1), None),
        )],
        "2026-10-01T10:00:00Z",
        "promote 1.0",
    );
    commit(
        &repo,
        &[(
            "values/prod.yaml",
            &values(("1.1", &j2), ("1.1", &cp2), None),
        )],
        "2026-10-02T10:00:00Z",
        "promote 1.1",
    );
    commit(
        &repo,
        &[(
            "values/prod.yaml",
            &values(("1.1", &j2), ("1.1", &cp2), Some(("1.2", &j3))),
        )],
        "2026-10-03T10:00:00Z",
        "controllers ahead on 1.2",
    );
    commit(
        &repo,
        &[(
            "deploy/render.yaml",
            &render(&format!("{HOST}/lab/jangar:1.1@{j2}")),
        )],
        "2026-10-04T10:00:00Z",
        "commit the render",
    );
    commit(
        &repo,
        &[(
            "values/prod.yaml",
            &values(("1.2", &j3), ("1.1", &cp2), None),
        )],
        "2026-10-05T10:00:00Z",
        "promote 1.2",
    );
    commit(
        &repo,
        &[(
            "deploy/debug.yaml",
            &render(&format!("{HOST}/lab/tools:1")).replace("name: agents,", "name: debug,"),
        )],
        "2026-10-06T10:00:00Z",
        "a debug pod",
    );

    // The keep-list: every digest, sorted and unique.
    let key = |repo: &str, digest: &str| format!("{HOST}/lab/{repo}@{digest}");
    let mut expected = [
        key("jangar", &j1),
        key("jangar", &j2),
        key("jangar", &j3),
        key("jangar-control-plane", &cp1),
        key("jangar-control-plane", &cp2),
    ];
    expected.sort();
    let list = |args: &[&str]| {
        history(&repo, &registry, &[&["--output", "list"], args].concat()).assert_exit(0)
    };
    assert_eq!(list(&[]), format!("{}\n", expected.join("\n")));

    // --range and --since limit what is read: c3 and c4 (the controllers' override j3, the
    // control plane cp2, the render j2), and c5 and c6 (the values on j3 and cp2, and the
    // render committed before, j2), the same three.
    let mut want = [
        key("jangar", &j2),
        key("jangar", &j3),
        key("jangar-control-plane", &cp2),
    ];
    want.sort();
    let want = format!("{}\n", want.join("\n"));
    assert_eq!(list(&["--range", "HEAD~4..HEAD~2"]), want);
    assert_eq!(list(&["--since", "2026-10-05"]), want);

    // The text report names the tag-only image as not rollback-safe.
    let report = history(&repo, &registry, &[]).assert_exit_both(0);
    let out = report.stdout;
    assert!(
        out.contains(&format!(
            "deploy/debug.yaml:9:18: {HOST}/lab/tools:1 (Deployment debug"
        )) && out.contains(
            "warning: not rollback-safe: no digest (first bd588db 2026-10-06 \"a debug pod\""
        ) && out.contains("[no-rollback-digest]"),
        "{out}"
    );
    assert!(out.contains("history: 6 commits read"), "{out}");

    // Every digest present: exit 0.
    let verified = history(&repo, &registry, &["--verify-registry"]).assert_exit_both(0);
    let out = verified.stdout;
    assert!(
        out.contains("registry: 5 present, 0 gone, 0 not checked"),
        "{out}"
    );

    // j1 deleted through the API, collected by the registry's garbage collector.
    assert_eq!(registry.delete_manifest("lab/jangar", &j1), 202);
    registry.stop();
    registry.garbage_collect();
    registry.restart();
    let gone = history(&repo, &registry, &["--verify-registry"]).assert_exit_both(1);
    let out = gone.stdout;
    let first = git_short(&repo, "HEAD~5");
    let finding = format!(
        "values/prod.yaml:3:8: {} (values controllers.image): gone from its registry (MANIFEST_UNKNOWN): rolling back to {first} (2026-10-01, \"promote 1.0\") would fail to pull it",
        key("jangar", &j1)
    );
    assert!(out.contains(&finding), "{out}");
    assert_eq!(
        out.matches("gone from its registry").count(),
        1,
        "exactly the deleted digest: {out}"
    );
    let github = history(
        &repo,
        &registry,
        &["--verify-registry", "--output", "github"],
    )
    .assert_exit_both(1);
    assert!(
        github.stdout.starts_with(
            "::error file=values/prod.yaml,line=3,col=8,title=image-digest-policy%3A digest-gone::"
        ),
        "{}",
        github.stdout
    );
    let sarif = history(
        &repo,
        &registry,
        &["--verify-registry", "--output", "sarif"],
    )
    .assert_exit(1);
    let doc: serde_json::Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    let region = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(3), Some(8)),
        "{doc}"
    );

    // The registry down: nothing verified, exit 2, never 0.
    registry.stop();
    let down =
        history(&repo, &registry, &["--verify-registry", "--lookups", "2"]).assert_exit_both(2);
    let out = down.stdout;
    assert!(out.contains("could not be checked"), "{out}");
}

fn git_short(dir: &Path, rev: &str) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "--short=7", rev])
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn history_outside_a_repository_is_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("values.yaml"),
        "image: {repository: a, tag: b}\n",
    )
    .expect("written");
    let mut c = TestCommand::bare();
    c.current_dir(tmp.path())
        .args(["history", "--values", "values.yaml"]);
    let out = c.assert_exit_both(2);
    assert!(
        out.stderr.contains("is not inside a Git work tree"),
        "{}",
        out.stderr
    );
}

/// A repository of three commits of a values file, and a `--depth 1` clone of it.
fn origin_and_shallow_clone(tmp: &Path) -> (PathBuf, PathBuf) {
    let origin = tmp.join("origin");
    std::fs::create_dir_all(&origin).expect("dir");
    git(
        &origin,
        &["init", "-q", "-b", "main"],
        "2026-10-01T10:00:00Z",
    );
    for (i, tag) in ["1", "2", "3"].iter().enumerate() {
        commit(
            &origin,
            &[(
                "values.yaml",
                &format!("image:\n  repository: a/b\n  tag: \"{tag}\"\n"),
            )],
            &format!("2026-10-0{}T10:00:00Z", i + 1),
            &format!("tag {tag}"),
        );
    }
    let url = format!("file://{}", origin.display());
    let shallow = tmp.join("shallow");
    let out = Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(&shallow)
        .output()
        .expect("git clone");
    assert!(out.status.success(), "{}", text(&out.stderr));
    (origin, shallow)
}

#[test]
fn history_of_commits_without_any_image_is_not_an_empty_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (origin, _) = origin_and_shallow_clone(tmp.path());
    std::fs::write(origin.join("notes.yaml"), "just: text\n").expect("written");
    git(&origin, &["add", "-A"], "2026-10-04T10:00:00Z");
    git(
        &origin,
        &["commit", "-q", "-m", "notes"],
        "2026-10-04T10:00:00Z",
    );
    let mut c = TestCommand::bare();
    c.current_dir(&origin).args(["history", "notes.yaml"]);
    let out = c.assert_exit_both(2);
    assert!(out.stdout.contains("no image found"), "{}", out.stdout);
    let mut c = TestCommand::bare();
    c.current_dir(&origin)
        .args(["history", "notes.yaml", "--allow-empty"]);
    c.assert_exit(0);
}

#[test]
fn history_in_a_shallow_clone_needs_a_range() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_, shallow) = origin_and_shallow_clone(tmp.path());
    let mut c = TestCommand::bare();
    c.current_dir(&shallow)
        .args(["history", "--values", "values.yaml"]);
    let out = c.assert_exit_both(2);
    assert!(out.stderr.contains("is a shallow clone"), "{}", out.stderr);
}

#[test]
fn history_of_a_range_names_a_revision_that_is_not_there() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_, shallow) = origin_and_shallow_clone(tmp.path());
    let mut c = TestCommand::bare();
    c.current_dir(&shallow).args([
        "history",
        "--values",
        "values.yaml",
        "--range",
        "HEAD~2..HEAD",
    ]);
    let out = c.assert_exit_both(2);
    assert!(
        out.stderr.contains("is not a commit in this repository"),
        "{}",
        out.stderr
    );
}

/// A digest of 64 hex digits made of `c`.
fn fake(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A new repository in `tmp/name` on branch main.
fn repo_in(tmp: &Path, name: &str) -> PathBuf {
    let repo = tmp.join(name);
    std::fs::create_dir_all(&repo).expect("repo dir");
    git(&repo, &["init", "-q", "-b", "main"], "2026-10-01T10:00:00Z");
    repo
}

fn history_in(dir: &Path, args: &[&str]) -> TestCommand {
    let mut c = TestCommand::bare();
    c.current_dir(dir).arg("history").args(args);
    c
}

/// The chart note's failure mode (issue 32): a values file given as a path beside a manifest
/// directory was read as manifests, held no object, and vanished from the keep-list, exit 0.
#[test]
fn history_reads_a_values_file_given_as_a_path_as_values() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    let v = |d: &str| {
        format!("image:\n  repository: r.example/lab/jangar\n  tag: \"1\"\n  digest: \"{d}\"\n")
    };
    commit(
        &repo,
        &[("values.yaml", &v(&fake('a')))],
        "2026-10-01T10:00:00Z",
        "a",
    );
    commit(
        &repo,
        &[("values.yaml", &v(&fake('b')))],
        "2026-10-02T10:00:00Z",
        "b",
    );
    let app = format!("x/y@{}", fake('c'));
    commit(
        &repo,
        &[("apps/p.yaml", &render(&app))],
        "2026-10-03T10:00:00Z",
        "app",
    );
    let out = history_in(&repo, &["--output", "list", "values.yaml", "apps"]).assert_exit_both(0);
    let mut want = [
        format!("r.example/lab/jangar@{}", fake('a')),
        format!("r.example/lab/jangar@{}", fake('b')),
        format!("x/y@{}", fake('c')),
    ];
    want.sort();
    assert_eq!(
        out.stdout,
        format!("{}\n", want.join("\n")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("values.yaml: a YAML mapping without apiVersion/kind: read as Helm values"),
        "{}",
        out.stderr
    );
}

/// A path that adds nothing (a typo, a file never committed) is named, exit 2; --allow-empty
/// takes it.
#[test]
fn history_names_a_path_that_contributed_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    let app = format!("x/y@{}", fake('c'));
    commit(
        &repo,
        &[("apps/p.yaml", &render(&app))],
        "2026-10-03T10:00:00Z",
        "app",
    );
    std::fs::write(repo.join("draft.yaml"), render("x/z:1")).expect("written");
    let out =
        history_in(&repo, &["--output", "list", "apps", "aps", "draft.yaml"]).assert_exit_both(2);
    assert_eq!(out.stdout, format!("x/y@{}\n", fake('c')));
    for name in ["aps", "draft.yaml"] {
        assert!(
            out.stderr.contains(&format!(
                "history: {name} contributed nothing: no commit read touched it"
            )),
            "{}",
            out.stderr
        );
    }
    history_in(&repo, &["--output", "list", "apps", "aps", "--allow-empty"]).assert_exit(0);
    // A directory that holds only files of no workload: named too.
    commit(
        &repo,
        &[(
            "docs/notes.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\n",
        )],
        "2026-10-04T10:00:00Z",
        "notes",
    );
    let out = history_in(&repo, &["--output", "list", "apps", "docs"]).assert_exit_both(2);
    assert!(
        out.stderr
            .contains("history: docs contributed nothing: no image"),
        "{}",
        out.stderr
    );
}

/// Names git C-quotes (a quote, a backslash, a tab, a newline, non-ASCII with
/// core.quotePath on) are read as they are.
#[test]
fn history_reads_file_names_git_would_quote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    git(
        &repo,
        &["config", "core.quotePath", "true"],
        "2026-10-01T10:00:00Z",
    );
    let names = [
        "deploy/we\"ird.yaml",
        "deploy/back\\slash.yaml",
        "deploy/t\tab.yaml",
        "deploy/new\nline.yaml",
        "deploy/é.yaml",
    ];
    let hex = ['1', '2', '3', '4', '5'];
    let files: Vec<(String, String)> = names
        .iter()
        .zip(hex)
        .map(|(n, h)| ((*n).to_owned(), render(&format!("x/y@{}", fake(h)))))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    commit(&repo, &refs, "2026-10-01T10:00:00Z", "odd names");
    let out = history_in(&repo, &["--output", "list", "deploy"]).assert_exit(0);
    let want: Vec<String> = hex.iter().map(|h| format!("x/y@{}", fake(*h))).collect();
    assert_eq!(out, format!("{}\n", want.join("\n")));
}

/// `git mv deploy manifests`: the digests pinned under the old name are still rollback targets.
#[test]
fn history_follows_a_renamed_directory() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[("deploy/a.yaml", &render(&format!("x/y:1@{}", fake('a'))))],
        "2026-10-01T10:00:00Z",
        "a",
    );
    commit(
        &repo,
        &[(
            "values/prod.yaml",
            &format!(
                "image:\n  repository: r/v\n  tag: \"1\"\n  digest: \"{}\"\n",
                fake('d')
            ),
        )],
        "2026-10-01T11:00:00Z",
        "v",
    );
    git(
        &repo,
        &["mv", "deploy", "manifests"],
        "2026-10-02T10:00:00Z",
    );
    git(
        &repo,
        &["mv", "values/prod.yaml", "values/production.yaml"],
        "2026-10-02T10:00:00Z",
    );
    git(
        &repo,
        &["commit", "-q", "-m", "rename"],
        "2026-10-02T10:00:00Z",
    );
    commit(
        &repo,
        &[("manifests/a.yaml", &render(&format!("x/y:2@{}", fake('b'))))],
        "2026-10-03T10:00:00Z",
        "b",
    );
    let out = history_in(
        &repo,
        &[
            "--output",
            "list",
            "manifests",
            "--values",
            "values/production.yaml",
        ],
    )
    .assert_exit_both(0);
    assert_eq!(
        out.stdout,
        format!("r/v@{}\nx/y@{}\nx/y@{}\n", fake('d'), fake('a'), fake('b')),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("deploy/a.yaml"),
        "the rename is said: {}",
        out.stderr
    );
}

/// `history .` at the root reads the whole tree; a symbolic link tracked in Git is skipped
/// with a note, never an error on every run.
#[test]
fn history_of_the_root_with_a_tracked_link() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[("deploy/a.yaml", &render(&format!("x/y:1@{}", fake('a'))))],
        "2026-10-01T10:00:00Z",
        "a",
    );
    std::os::unix::fs::symlink("deploy/a.yaml", repo.join("link.yaml")).expect("link");
    git(&repo, &["add", "-A"], "2026-10-02T10:00:00Z");
    git(
        &repo,
        &["commit", "-q", "-m", "link"],
        "2026-10-02T10:00:00Z",
    );
    let out = history_in(&repo, &["--output", "list", "."]).assert_exit_both(0);
    assert_eq!(out.stdout, format!("x/y@{}\n", fake('a')), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("link.yaml: a symbolic link in Git: not followed"),
        "{}",
        out.stderr
    );
}

/// history's own finding for an image without a digest has an id of its own: the policy's
/// `no-digest` means "a digest is required here", another thing.
#[test]
fn history_names_an_unpinned_image_with_its_own_rule() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[("deploy/a.yaml", &render("x/y:1"))],
        "2026-10-01T10:00:00Z",
        "tag only",
    );
    let sarif = history_in(&repo, &["--output", "sarif", "deploy"]).assert_exit(0);
    let doc: serde_json::Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    assert_eq!(
        doc["runs"][0]["results"][0]["ruleId"], "no-rollback-digest",
        "{doc}"
    );
    let github = history_in(&repo, &["--output", "github", "deploy"]).assert_exit(0);
    assert!(
        github.contains("::warning file=deploy/a.yaml,line=9,col=18,title=image-digest-policy%3A no-rollback-digest::"),
        "{github}"
    );
}

/// Issue 34's first failure path, against the real registry: "delete untagged" removes the
/// platform manifests under an index; the index still answers `HEAD`, every pull on that
/// platform fails. `--verify-registry` asks for each child and names the platform and digest.
#[test]
fn verify_registry_names_a_platform_manifest_gone_under_a_live_index() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut registry = start_deletable(&tmp.path().join("registry"));
    let two = [("linux", "amd64"), ("linux", "arm64")];
    let pushed = push_release(&registry, tmp.path(), "lab/multi", "1.0", &two);
    let arm = pushed
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/arm64")
        .expect("arm64")
        .1
        .clone();
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[(
            "values.yaml",
            &format!(
                "image:\n  repository: {HOST}/lab/multi\n  tag: \"1.0\"\n  digest: \"{}\"\n",
                pushed.digest
            ),
        )],
        "2026-10-01T10:00:00Z",
        "pin the index",
    );
    let verify = |registry: &Registry, extra: &[&str]| {
        let mut c = TestCommand::bare();
        c.current_dir(&repo)
            .env("DOCKER_CONFIG", repo.join(".docker-none"))
            .args(["history", "--values", "values.yaml", "--verify-registry"])
            .args(["--mirror", &format!("{HOST}=127.0.0.1:{}", registry.port)])
            .args([
                "--insecure-registry",
                &format!("127.0.0.1:{}", registry.port),
            ])
            .args(["--timeout", "5"])
            .args(extra);
        c
    };
    let out = verify(&registry, &[]).assert_exit(0);
    assert!(out.contains("registry: 1 present, 0 gone"), "{out}");
    verify(&registry, &["--deep"]).assert_exit(0);

    // --deep: a layer blob of the amd64 manifest deleted; the manifests all answer.
    let amd = pushed
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .expect("amd64")
        .1
        .clone();
    let (code, manifest) = registry.request(
        "GET",
        &format!("/v2/lab/multi/manifests/{amd}"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(code, 200, "{manifest}");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("a manifest");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .expect("a layer")
        .to_owned();

    assert_eq!(registry.delete_blob("lab/multi", &layer), 202);
    verify(&registry, &[]).assert_exit(0);
    let out = verify(&registry, &["--deep"]).assert_exit(1);
    assert!(
        out.contains(&format!(
            "the layer 0 blob {layer} of manifest {amd} is gone (BLOB_UNKNOWN): the manifest answers, but every pull of it fails"
        )),
        "{out}"
    );

    assert_eq!(registry.delete_manifest("lab/multi", &arm), 202);
    registry.stop();
    registry.garbage_collect();
    registry.restart();
    let out = verify(&registry, &[]).assert_exit(1);
    assert!(
        out.contains(&format!("values.yaml:3:8: {HOST}/lab/multi@{} (", pushed.digest))
            && out.contains(&format!(
                "its linux/arm64 manifest {arm} is gone (MANIFEST_UNKNOWN): the index answers, but a pull on linux/arm64 fails"
            ))
            && out.contains("[platform-manifest-gone]"),
        "{out}"
    );
    assert!(out.contains("registry: 0 present, 1 gone"), "{out}");
    // A cluster of amd64 nodes only asks for its own platform.
    let out = verify(&registry, &["--platform", "linux/amd64"]).assert_exit(0);
    assert!(out.contains("registry: 1 present, 0 gone"), "{out}");

    // The nightly job's output for the alerting stack, read back by the text format's rules.
    let metrics = verify(&registry, &["--output", "prometheus"]).assert_exit(1);
    let samples = parse_prometheus(&metrics);
    assert_eq!(
        samples,
        [(
            "image_digest_present".to_owned(),
            vec![
                ("repository".to_owned(), format!("{HOST}/lab/multi")),
                ("digest".to_owned(), pushed.digest.clone()),
                ("commit".to_owned(), git_short(&repo, "HEAD")),
            ],
            0.0
        )],
        "{metrics}"
    );
}

type Sample = (String, Vec<(String, String)>, f64);

/// The Prometheus text exposition format, strictly: `# HELP`/`# TYPE` lines, and samples
/// `name{label="value",…} number` with `\\`, `\"` and `\n` the only escapes.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(matches!(kind, "HELP" | "TYPE") && is_name(name), "{line}");
            if kind == "TYPE" {
                assert_eq!(parts.next(), Some("gauge"), "{line}");
            }
            continue;
        }
        let (name, rest) = line.split_once('{').expect("labels");
        assert!(is_name(name), "{line}");
        let mut labels = Vec::new();
        let mut chars = rest.chars().peekable();
        loop {
            let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
            assert!(is_name(&key), "{line}");
            assert_eq!(
                (chars.next(), chars.next()),
                (Some('='), Some('"')),
                "{line}"
            );
            let mut value = String::new();
            loop {
                match chars.next().expect("a closing quote") {
                    '"' => break,
                    '\\' => value.push(match chars.next() {
                        Some('n') => '\n',
                        Some(c @ ('\\' | '"')) => c,
                        other => panic!("bad escape {other:?}: {line}"),
                    }),
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            match chars.next() {
                Some(',') => continue,
                Some('}') => break,
                other => panic!("{other:?}: {line}"),
            }
        }
        let value: String = chars.collect();
        let value = value
            .strip_prefix(' ')
            .expect("a space")
            .parse()
            .expect("a number");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

/// Issue 34's second failure path: retention keeps what is tagged, not what Git pins by
/// digest. `--protect` tags every keep-list digest (`keep-sha256-<hex>`, the manifest's own
/// bytes), idempotently; then the release tag is moved on and the registry collects every
/// untagged manifest: the protected digest still answers, an unprotected one is gone.
#[test]
fn protect_keeps_the_rollback_targets_through_untagged_garbage_collection() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut registry = start_deletable(&tmp.path().join("registry"));
    let one = [("linux", "amd64")];
    let a = push_release(&registry, tmp.path(), "lab/app", "1.0", &one).digest;
    let b = push_release(&registry, tmp.path(), "lab/app", "2.0", &one).digest;
    let control = push_release(&registry, tmp.path(), "lab/ctl", "1.0", &one).digest;
    push_release(&registry, tmp.path(), "lab/ctl", "2.0", &one);
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[(
            "values.yaml",
            &format!("image:\n  repository: {HOST}/lab/app\n  tag: \"1.0\"\n  digest: \"{a}\"\n"),
        )],
        "2026-10-01T10:00:00Z",
        "pin 1.0",
    );
    let port = registry.port;
    let history = |args: &[&str]| {
        let mut c = TestCommand::bare();
        c.current_dir(&repo)
            .env("DOCKER_CONFIG", repo.join(".docker-none"))
            .args(["history", "--values", "values.yaml"])
            .args(["--mirror", &format!("{HOST}=127.0.0.1:{port}")])
            .args(["--insecure-registry", &format!("127.0.0.1:{port}")])
            .args(["--timeout", "5"])
            .args(args);
        c
    };
    let tag = format!("keep-{}", a.replace(':', "-"));
    let dry = history(&["--protect", "--dry-run"]).assert_exit_both(0);
    assert!(
        dry.stderr.contains(&format!(
            "would protect {HOST}/lab/app@{a} as {HOST}/lab/app:{tag}"
        )),
        "{}",
        dry.stderr
    );
    let first = history(&["--protect"]).assert_exit_both(0);
    assert!(
        first
            .stderr
            .contains("protection: 1 tagged, 0 already protected, 0 failed"),
        "{}",
        first.stderr
    );
    let again = history(&["--protect"]).assert_exit_both(0);
    assert!(
        again
            .stderr
            .contains("protection: 0 tagged, 1 already protected, 0 failed"),
        "{}",
        again.stderr
    );

    // The release tags move on; the registry keeps only what is tagged.
    for name in ["lab/app", "lab/ctl"] {
        image_digest_testkit::registry::skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://127.0.0.1:{}/{name}:2.0", registry.port),
            &format!("docker://127.0.0.1:{}/{name}:1.0", registry.port),
        ]);
    }
    registry.stop();
    registry.garbage_collect_untagged();
    registry.restart();
    let accept =
        "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
    assert_eq!(
        registry
            .request("HEAD", &format!("/v2/lab/ctl/manifests/{control}"), accept)
            .0,
        404,
        "the unprotected digest was collected (the control)"
    );
    assert_eq!(
        registry
            .request("HEAD", &format!("/v2/lab/app/manifests/{a}"), accept)
            .0,
        200,
        "the protected digest still answers"
    );
    let out = history(&["--verify-registry"]).assert_exit(0);
    assert!(out.contains("registry: 1 present, 0 gone"), "{out}");

    // 2.0 promoted; the keep-list of the last commit alone no longer holds 1.0's digest, so
    // its protection tag is stale. Docker's registry deletes by digest only (every tag on the
    // manifest with it): the tag alone cannot go, which is said, and nothing else is deleted.
    commit(
        &repo,
        &[(
            "values.yaml",
            &format!("image:\n  repository: {HOST}/lab/app\n  tag: \"2.0\"\n  digest: \"{b}\"\n"),
        )],
        "2026-10-02T10:00:00Z",
        "promote 2.0",
    );
    let last = ["--range", "HEAD~1..HEAD", "--protect", "--prune"];
    let dry = history(&[&last[..], &["--dry-run"]].concat()).assert_exit_both(0);
    assert!(
        dry.stderr
            .contains(&format!("would unprotect {HOST}/lab/app:{tag} (--dry-run)")),
        "{}",
        dry.stderr
    );
    let refused = history(&last).assert_exit_both(2);
    assert!(
        refused.stdout.contains(&format!(
            "cannot unprotect {HOST}/lab/app:{tag}: the registry refused to delete the tag alone"
        )),
        "{}",
        refused.stdout
    );
    assert_eq!(
        registry
            .request("HEAD", &format!("/v2/lab/app/manifests/{a}"), accept)
            .0,
        200,
        "nothing was deleted by digest"
    );
}

/// `--prune` on a registry that deletes a tag alone (OCI distribution 1.1): only the
/// protection tags of digests off the keep-list go, each by its tag.
#[test]
fn prune_deletes_only_stale_protection_tags() {
    use image_digest_testkit::scripted::{Answer, serve};
    let (keep, stale) = ("a".repeat(64), "b".repeat(64));
    let deleted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = deleted.clone();
    let (k, st) = (keep.clone(), stale.clone());
    let port = serve(32, move |method, path| {
        if path.ends_with("/tags/list") {
            let tags = format!(
                "{{\"name\":\"lab/app\",\"tags\":[\"1.0\",\"keep-sha256-{k}\",\"keep-sha256-{st}\"]}}"
            );
            Answer::new("200 OK", "Content-Type: application/json\r\n", &tags)
        } else if method == "HEAD" && path.contains(&format!("keep-sha256-{k}")) {
            let headers = format!(
                "Content-Type: application/vnd.oci.image.index.v1+json\r\nDocker-Content-Digest: sha256:{k}\r\n"
            );
            Answer::new("200 OK", &headers, "")
        } else if method == "DELETE" {
            seen.lock().expect("lock").push(path.to_owned());
            Answer::new("202 Accepted", "", "")
        } else if path == "/v2/" {
            Answer::new("200 OK", "", "")
        } else {
            Answer::new("404 Not Found", "", "")
        }
    });
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[(
            "values.yaml",
            &format!(
                "image:\n  repository: 127.0.0.1:{port}/lab/app\n  tag: \"1.0\"\n  digest: \"sha256:{keep}\"\n"
            ),
        )],
        "2026-10-01T10:00:00Z",
        "pin",
    );
    let mut c = TestCommand::bare();
    c.current_dir(&repo)
        .env("DOCKER_CONFIG", repo.join(".docker-none"))
        .args(["history", "--values", "values.yaml", "--protect", "--prune"])
        .args([
            "--insecure-registry",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "5",
        ]);
    let out = c.assert_exit_both(0);
    assert!(
        out.stderr
            .contains("protection: 0 tagged, 1 already protected, 0 failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("prune: 1 protection tags removed, 0 failed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        deleted.lock().expect("lock").clone(),
        [format!("/v2/lab/app/manifests/keep-sha256-{stale}")]
    );
}

/// history's own outputs hold file names from Git: a `:` and a `,` (GitHub properties end at
/// them; a URI scheme), a quote and a line break. Each output is read back by its rules.
#[test]
fn history_outputs_stay_valid_for_odd_file_names() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    let names = ["deploy/co:lon,a\"b.yaml", "deploy/new\nline.yaml"];
    // One image per file: history lists each distinct image once.
    let files: Vec<(&str, String)> = names
        .iter()
        .zip(["x/a:1", "x/b:1"])
        .map(|(n, image)| (*n, render(image)))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    commit(&repo, &refs, "2026-10-01T10:00:00Z", "odd names");

    // GitHub: every line a workflow command whose file property unescapes to the name.
    let github = history_in(&repo, &["--output", "github", "deploy"]).assert_exit(0);
    let mut files_seen: Vec<String> = github
        .lines()
        .filter(|l| !l.starts_with("history: "))
        .map(|l| {
            let props = l
                .strip_prefix("::warning ")
                .and_then(|r| r.split_once("::"))
                .map(|(p, _)| p)
                .unwrap_or_else(|| panic!("not a workflow command: {l:?}\n{github}"));
            let file = props
                .split(',')
                .find_map(|p| p.strip_prefix("file="))
                .expect("a file property");
            file.replace("%3A", ":")
                .replace("%2C", ",")
                .replace("%0D", "\r")
                .replace("%0A", "\n")
                .replace("%25", "%")
        })
        .collect();
    files_seen.sort();
    let mut want: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    want.sort();
    assert_eq!(files_seen, want, "{github}");

    // SARIF: valid against the schema, the URIs percent-encoded references to the files.
    let sarif = history_in(&repo, &["--output", "sarif", "deploy"]).assert_exit(0);
    crate::harness::assert_schema_valid("crates/check/tests/data/sarif-schema-2.1.0.json", &sarif);
    let doc: serde_json::Value = serde_json::from_str(&sarif).expect("JSON");
    let mut uris: Vec<String> = doc["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("a uri")
                .to_owned()
        })
        .collect();
    uris.sort();
    assert_eq!(
        uris,
        ["deploy/co%3Alon%2Ca%22b.yaml", "deploy/new%0Aline.yaml"]
    );

    // Text: one line per finding and the summary; no name starts a line of its own.
    let text = history_in(&repo, &["deploy"]).assert_exit(0);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("deploy/") || l.starts_with("history: ")),
        "{text}"
    );
}

/// `--verify-registry` over commits that pin nothing by digest verified nothing: exit 2.
#[test]
fn history_verifying_no_digest_is_not_a_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[("deploy/a.yaml", &render("x/y:1"))],
        "2026-10-01T10:00:00Z",
        "tag only",
    );
    let out = history_in(&repo, &["--verify-registry", "deploy"]).assert_exit_both(2);
    assert!(
        out.stdout.contains("so nothing was verified"),
        "{}",
        out.stdout
    );
    history_in(&repo, &["--verify-registry", "--allow-empty", "deploy"]).assert_exit(0);
}

/// Every command reports in the one model: history's JSON follows the same schema as the
/// check's (items with rule, level, file, line, subject, fix; totals; no workload summary).
#[test]
fn history_json_follows_the_one_report_schema() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    commit(
        &repo,
        &[
            ("deploy/a.yaml", &render(&format!("x/y:1@{}", fake('a')))),
            ("deploy/b.yaml", &render("x/z:2")),
        ],
        "2026-10-01T10:00:00Z",
        "one pinned, one not",
    );
    let json = history_in(&repo, &["deploy", "--output", "json"]).assert_exit(0);
    crate::harness::assert_schema_valid("docs/check-report.schema.json", &json);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let rules: Vec<&str> = doc["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["rule"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(rules, ["pinned-digest", "no-rollback-digest"], "{doc}");
    assert_eq!(doc["summary"], serde_json::Value::Null, "{doc}");
    assert_eq!(doc["totals"]["history"]["digests"], 1, "{doc}");
    assert_eq!(doc["items"][0]["reference"], format!("x/y@{}", fake('a')));
}

/// GitOps sources are followed through history: digests pinned in a kustomization's
/// `valuesInline` (the chart vendored beside it) and in an overlay's `images` entry are on the
/// keep-list, each at its file and line, for every commit that pinned them.
#[test]
fn history_follows_kustomizations() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "gitops");
    let chart = format!(
        "image:\n  repository: x/jangar\n  tag: latest\n  digest: \"\"\ncontrolPlane:\n  image:\n    repository: x/cp\n    tag: \"1\"\n    digest: \"{}\"\ncontrollers:\n  enabled: true\n",
        fake('c')
    );
    let kustomization = |d: char| {
        format!(
            "helmCharts:\n  - name: agents\n    valuesInline:\n      image:\n        tag: \"1\"\n        digest: {}\n",
            fake(d)
        )
    };
    let overlay = |d: char| {
        format!(
            "resources:\n  - ../base\nimages:\n  - name: x/web\n    newTag: \"2\"\n    digest: {}\n",
            fake(d)
        )
    };
    commit(
        &repo,
        &[
            ("apps/agents/kustomization.yaml", &kustomization('a')),
            (
                "apps/agents/charts/agents/Chart.yaml",
                "apiVersion: v2\nname: agents\nversion: 0.9.1\n",
            ),
            ("apps/agents/charts/agents/values.yaml", &chart),
            ("apps/base/kustomization.yaml", "resources:\n  - web.yaml\n"),
            ("apps/base/web.yaml", &render("x/web:1")),
            ("apps/prod/kustomization.yaml", &overlay('d')),
        ],
        "2026-10-01T10:00:00Z",
        "first pins",
    );
    commit(
        &repo,
        &[
            ("apps/agents/kustomization.yaml", &kustomization('b')),
            ("apps/prod/kustomization.yaml", &overlay('e')),
        ],
        "2026-10-02T10:00:00Z",
        "new pins",
    );
    let out = history_in(&repo, &["apps", "--output", "list"]).assert_exit_both(0);
    let mut want = [
        format!("x/cp@{}", fake('c')),
        format!("x/jangar@{}", fake('a')),
        format!("x/jangar@{}", fake('b')),
        format!("x/web@{}", fake('d')),
        format!("x/web@{}", fake('e')),
    ];
    want.sort();
    assert_eq!(
        out.stdout,
        format!("{}\n", want.join("\n")),
        "{}",
        out.stderr
    );
    let text = history_in(&repo, &["apps"]).assert_exit(0);
    assert!(
        text.contains(&format!(
            "x/jangar@{} (values controllers.image)",
            fake('b')
        )) && text.contains(&format!("x/web@{} (Deployment agents", fake('e'))),
        "{text}"
    );
}

/// An operator's resource under its preset (issue 36): the digests it pinned in each commit
/// are on the keep-list, as a Deployment's would be; without the preset nothing was found.
#[test]
fn history_keeps_the_digests_an_operators_resource_pinned() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "ops");
    let alertmanager = |digest: &str| {
        format!(
            "apiVersion: monitoring.coreos.com/v1\nkind: Alertmanager\nmetadata: {{name: main, namespace: monitoring}}\nspec:\n  image: quay.io/prometheus/alertmanager:v0.28.1@{digest}\n  containers:\n    - name: alertmanager\n      resources: {{}}\n"
        )
    };
    let (a, b) = (fake('a'), fake('b'));
    commit(
        &repo,
        &[("am.yaml", &alertmanager(&a))],
        "2026-10-02T10:00:00Z",
        "a",
    );
    commit(
        &repo,
        &[("am.yaml", &alertmanager(&b))],
        "2026-10-03T10:00:00Z",
        "b",
    );
    let settings = settings_file(
        tmp.path(),
        &serde_json::json!({"presets": ["prometheus-operator"]}),
    );
    let settings = settings.display().to_string();
    let out = history_in(
        &repo,
        &["am.yaml", "--output", "list", "--settings", &settings],
    )
    .assert_exit_both(0);
    for digest in [&a, &b] {
        assert!(
            out.stdout
                .contains(&format!("quay.io/prometheus/alertmanager@{digest}")),
            "{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    let out = history_in(&repo, &["am.yaml"]).assert_exit_both(2);
    assert!(out.stdout.contains("no image found"), "{}", out.stdout);
}

/// A mistyped digest is not a digest the history pinned, nor an image merely without one: it
/// was read as "no digest", a warning, exit 0, and `--output list` printed nothing. It is an
/// invalid reference (exit 1), said on stderr where the format has no place for it.
#[test]
fn history_names_an_invalid_reference_and_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = repo_in(tmp.path(), "bad");
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: p}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: w, image: \"nginx:1.27@sha256:sha256:aaaa\"}\n";
    commit(
        &repo,
        &[("d.yaml", deployment)],
        "2026-10-02T10:00:00Z",
        "a",
    );
    let out = history_in(&repo, &["d.yaml"]).assert_exit(1);
    assert!(
        out.contains("d.yaml:8:28: nginx:1.27@sha256:sha256:aaaa (Deployment w, spec.template.spec.containers[0] (container \"w\")): not a valid image reference"),
        "{out}"
    );
    let out = history_in(&repo, &["d.yaml", "--output", "list"]).assert_exit_both(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "error: d.yaml:8:28: nginx:1.27@sha256:sha256:aaaa (Deployment w, spec.template.spec.containers[0] (container \"w\")): not a valid image reference"
        ) && out.stderr.contains("[invalid-ref]"),
        "{}",
        out.stderr
    );
}
