//! `image-digest-check history` on a real Git repository in the chart note's layout, against
//! a real `docker-registry` with deletion on: a manifest deleted through the registry API and
//! collected by the registry's own garbage collector is named with the commit that pinned it.

use crate::harness::run;
use image_digest_testkit::images::push_release;
use image_digest_testkit::registry::{Registry, start_deletable};
use std::path::Path;
use std::process::{Command, Output};

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

fn history(dir: &Path, registry: &Registry, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-digest-check"));
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
    run(c, None)
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
    let list = history(&repo, &registry, &["--output", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    assert_eq!(text(&list.stdout), format!("{}\n", expected.join("\n")));

    // --range and --since limit what is read.
    let ranged = history(
        &repo,
        &registry,
        &["--output", "list", "--range", "HEAD~4..HEAD~2"],
    );
    assert_eq!(ranged.status.code(), Some(0), "{}", text(&ranged.stderr));
    // c3 and c4: the controllers' override (j3), the control plane (cp2), the render (j2).
    let mut want = [
        key("jangar", &j2),
        key("jangar", &j3),
        key("jangar-control-plane", &cp2),
    ];
    want.sort();
    assert_eq!(text(&ranged.stdout), format!("{}\n", want.join("\n")));
    let since = history(
        &repo,
        &registry,
        &["--output", "list", "--since", "2026-10-05"],
    );
    assert_eq!(since.status.code(), Some(0), "{}", text(&since.stderr));
    // c5 and c6: the values on j3 and cp2, and the render committed before (j2).
    let mut want = [
        key("jangar", &j2),
        key("jangar", &j3),
        key("jangar-control-plane", &cp2),
    ];
    want.sort();
    assert_eq!(text(&since.stdout), format!("{}\n", want.join("\n")));

    // The text report names the tag-only image as not rollback-safe.
    let report = history(&repo, &registry, &[]);
    let out = text(&report.stdout);
    assert_eq!(
        report.status.code(),
        Some(0),
        "{out}{}",
        text(&report.stderr)
    );
    assert!(
        out.contains(&format!(
            "deploy/debug.yaml:9:18: not rollback-safe: no digest: \"{HOST}/lab/tools:1\""
        )),
        "{out}"
    );
    assert!(out.contains("history: 6 commits read"), "{out}");

    // Every digest present: exit 0.
    let verified = history(&repo, &registry, &["--verify-registry"]);
    let out = text(&verified.stdout);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{out}{}",
        text(&verified.stderr)
    );
    assert!(
        out.contains("registry: 5 present, 0 gone, 0 not checked"),
        "{out}"
    );

    // j1 deleted through the API, collected by the registry's garbage collector.
    assert_eq!(registry.delete_manifest("lab/jangar", &j1), 202);
    registry.stop();
    registry.garbage_collect();
    registry.restart();
    let gone = history(&repo, &registry, &["--verify-registry"]);
    let out = text(&gone.stdout);
    assert_eq!(gone.status.code(), Some(1), "{out}{}", text(&gone.stderr));
    let first = git_short(&repo, "HEAD~5");
    let finding = format!(
        "values/prod.yaml:3:8: {} is gone (MANIFEST_UNKNOWN): rolling back to {first} (2026-10-01, \"promote 1.0\") would fail to pull it",
        key("jangar", &j1)
    );
    assert!(out.contains(&finding), "{out}");
    assert_eq!(
        out.matches(" is gone ").count(),
        1,
        "exactly the deleted digest: {out}"
    );
    let github = history(
        &repo,
        &registry,
        &["--verify-registry", "--output", "github"],
    );
    assert_eq!(github.status.code(), Some(1));
    assert!(
        text(&github.stdout).starts_with(
            "::error file=values/prod.yaml,line=3,col=8,title=image-digest-check%3A digest-gone::"
        ),
        "{}",
        text(&github.stdout)
    );
    let sarif = history(
        &repo,
        &registry,
        &["--verify-registry", "--output", "sarif"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
    let region = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(3), Some(8)),
        "{doc}"
    );

    // The registry down: nothing verified, exit 2, never 0.
    registry.stop();
    let down = history(&repo, &registry, &["--verify-registry", "--lookups", "2"]);
    let out = text(&down.stdout);
    assert_eq!(down.status.code(), Some(2), "{out}{}", text(&down.stderr));
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
fn history_outside_a_repository_or_in_a_shallow_clone_is_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("values.yaml"),
        "image: {repository: a, tag: b}\n",
    )
    .expect("written");
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-digest-check"));
    c.current_dir(tmp.path())
        .args(["history", "--values", "values.yaml"]);
    let out = run(c, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not inside a Git work tree"),
        "{}",
        text(&out.stderr)
    );

    let origin = tmp.path().join("origin");
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
    let shallow = tmp.path().join("shallow");
    let out = Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(&shallow)
        .output()
        .expect("git clone");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Commits that hold no image a reader knows: exit 2, not an empty green list.
    std::fs::write(origin.join("notes.yaml"), "just: text\n").expect("written");
    git(&origin, &["add", "-A"], "2026-10-04T10:00:00Z");
    git(
        &origin,
        &["commit", "-q", "-m", "notes"],
        "2026-10-04T10:00:00Z",
    );
    for (args, want) in [(&[][..], Some(2)), (&["--allow-empty"][..], Some(0))] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_image-digest-check"));
        c.current_dir(&origin)
            .args(["history", "notes.yaml"])
            .args(args);
        let out = run(c, None);
        assert_eq!(out.status.code(), want, "{args:?}: {}", text(&out.stderr));
        if want == Some(2) {
            assert!(
                text(&out.stderr).contains("no image found"),
                "{}",
                text(&out.stderr)
            );
        }
    }
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-digest-check"));
    c.current_dir(&shallow)
        .args(["history", "--values", "values.yaml"]);
    let out = run(c, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("is a shallow clone"),
        "{}",
        text(&out.stderr)
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_image-digest-check"));
    c.current_dir(&shallow).args([
        "history",
        "--values",
        "values.yaml",
        "--range",
        "HEAD~2..HEAD",
    ]);
    let out = run(c, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("is not a commit in this repository"),
        "{}",
        text(&out.stderr)
    );
}
