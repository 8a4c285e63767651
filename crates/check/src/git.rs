//! The Git history `history` reads, through the `git` command: no library to build (a Git
//! crate would add its whole dependency tree to a build this project keeps short; libgit2 is a
//! C build), and `git` is where the repository is anyway. Two processes per run however long the history: one
//! `git log --raw` for the commits that touched the paths and the blobs they left, one
//! `git cat-file --batch` for the contents, each blob read once.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A Git work tree.
pub struct Repo {
    root: PathBuf,
}

/// One commit of the first-parent history, with the files under the paths it changed.
#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    pub short: String,
    /// `2026-10-02` (committer date).
    pub date: String,
    pub subject: String,
    /// Path (from the repository's root) → what it holds after this commit, `None` when the
    /// commit deleted it.
    pub changes: Vec<(String, Option<Entry>)>,
}

/// What a path holds in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file: its blob.
    Blob(String),
    /// A symbolic link (mode 120000): Git stores the target's path, not the file.
    Link,
    /// A submodule (mode 160000): another repository's commit, whose files this history
    /// does not hold.
    Submodule,
}

impl Entry {
    /// From a `git ls-tree`/`git log --raw` mode and object name.
    fn of(mode: &str, object: &str) -> Entry {
        match mode {
            "120000" => Entry::Link,
            "160000" => Entry::Submodule,
            _ => Entry::Blob(object.to_owned()),
        }
    }
}

/// Which commits to read.
pub enum Span<'a> {
    /// Every commit reachable from `HEAD`.
    All,
    /// `git log --since=DATE`.
    Since(&'a str),
    /// `A..B`.
    Range(&'a str),
}

impl Repo {
    /// The repository holding `path` (a file or directory, existing or not).
    pub fn discover(path: &Path) -> Result<Repo> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }
        };
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .context("cannot run git (history reads the Git history with the git command)")?;
        if !out.status.success() {
            bail!(
                "{} is not inside a Git work tree: history reads the Git history of the files, so run it in a clone ({})",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(Repo { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn git(&self) -> Command {
        let mut c = Command::new("git");
        c.arg("-C")
            .arg(&self.root)
            .args(["-c", "core.quotePath=false"]);
        c
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .git()
            .args(args)
            .output()
            .with_context(|| format!("cannot run git {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `path` as a pathspec from the repository's root.
    pub fn relative(&self, path: &Path) -> Result<String> {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()?.join(path)
        };
        // Canonical where it exists (symbolic links, `..`), else its parent's.
        let canonical = absolute.canonicalize().or_else(|_| {
            let parent = absolute.parent().map(Path::canonicalize).transpose()?;
            Ok::<_, std::io::Error>(match (parent, absolute.file_name()) {
                (Some(p), Some(name)) => p.join(name),
                _ => absolute.clone(),
            })
        })?;
        let root = self.root.canonicalize()?;
        let rel = canonical.strip_prefix(&root).with_context(|| {
            format!(
                "{} is not in the repository at {}",
                path.display(),
                root.display()
            )
        })?;
        let rel = rel.to_string_lossy().replace('\\', "/");
        // The root itself: `.` (an empty pathspec is refused by git).
        Ok(if rel.is_empty() { ".".to_owned() } else { rel })
    }

    /// Checks that the history asked for is all there: a shallow clone cuts it off.
    pub fn check_span(&self, span: &Span<'_>) -> Result<()> {
        if let Span::Range(range) = span {
            let (from, to) = range
                .split_once("..")
                .with_context(|| format!("--range {range:?} is not REV..REV"))?;
            for rev in [from, to].into_iter().filter(|r| !r.is_empty()) {
                self.run(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
                    .with_context(|| {
                        format!("--range {range:?}: {rev} is not a commit in this repository (a shallow clone may lack it: git fetch --unshallow)")
                    })?;
            }
        }
        if self.run(&["rev-parse", "--is-shallow-repository"])?.trim() == "true"
            && !matches!(span, Span::Range(_))
        {
            bail!(
                "{} is a shallow clone: its history is cut off, so digests pinned before the cut would be missing from the list. Fetch the history (git fetch --unshallow; in CI, a full checkout such as actions/checkout with fetch-depth: 0) or pass --range for commits you have",
                self.root.display()
            );
        }
        Ok(())
    }

    /// The first-parent commits that touched `pathspecs`, oldest first, with their changes.
    pub fn commits(&self, span: &Span<'_>, pathspecs: &[String]) -> Result<Vec<Commit>> {
        let mut args = vec![
            "log".to_owned(),
            "--first-parent".into(),
            "--diff-merges=first-parent".into(),
            "--reverse".into(),
            "--no-renames".into(),
            "--raw".into(),
            "--no-abbrev".into(),
            // NUL-separated paths: a name git would C-quote (`"`, `\\`, tab, newline,
            // non-ASCII) comes through as it is.
            "-z".into(),
            "--format=%x01%H%x1f%h%x1f%cs%x1f%s".into(),
        ];
        push_span(&mut args, span);
        args.push("--".into());
        args.extend(pathspecs.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = self.run(&refs)?;
        Ok(parse_log(&text))
    }

    /// The blobs under `pathspecs` in the parent of `sha` (the state before the first commit
    /// read), or nothing when `sha` has no parent.
    pub fn tree_before(&self, sha: &str, pathspecs: &[String]) -> Result<BTreeMap<String, Entry>> {
        let parent = format!("{sha}^");
        if self
            .run(&[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{parent}^{{commit}}"),
            ])
            .is_err()
        {
            return Ok(BTreeMap::new());
        }
        let mut args = vec!["ls-tree", "-r", "-z", "--full-tree", &parent, "--"];
        args.extend(pathspecs.iter().map(String::as_str));
        let text = self.run(&args)?;
        Ok(text
            .split('\0')
            .filter_map(|l| {
                let (meta, path) = l.split_once('\t')?;
                let mut meta = meta.split_whitespace();
                let (mode, object) = (meta.next()?, meta.nth(1)?);
                Some((path.to_owned(), Entry::of(mode, object)))
            })
            .collect())
    }

    /// The renames of the first-parent history (whole tree, `-M`), oldest first: `(from,
    /// to)`. `history` follows a path back through them, so `git mv deploy manifests` does
    /// not cut the digests pinned under `deploy/` off the keep-list.
    pub fn renames(&self, span: &Span<'_>) -> Result<Vec<(String, String)>> {
        let mut args = vec![
            "log".to_owned(),
            "--first-parent".into(),
            "--diff-merges=first-parent".into(),
            "--reverse".into(),
            "-M".into(),
            "--diff-filter=R".into(),
            "--raw".into(),
            "--no-abbrev".into(),
            "-z".into(),
            "--format=%x01".into(),
        ];
        push_span(&mut args, span);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = self.run(&refs)?;
        let mut out = Vec::new();
        let mut tokens = text.split('\0');
        while let Some(token) = tokens.next() {
            let token = token.trim_start_matches(['\n', '\x01']);
            let Some(meta) = token.strip_prefix(':') else {
                continue;
            };
            let status = meta.split_whitespace().nth(4).unwrap_or_default();
            let paths = if status.starts_with(['R', 'C']) { 2 } else { 1 };
            let taken: Vec<&str> = tokens.by_ref().take(paths).collect();
            if let [from, to] = taken[..] {
                out.push((from.to_owned(), to.to_owned()));
            }
        }
        Ok(out)
    }

    /// A reader of blob contents (`git cat-file --batch`).
    pub fn blobs(&self) -> Result<Blobs> {
        let mut child = self
            .git()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot run git cat-file")?;
        let input = child.stdin.take().context("git cat-file: no stdin")?;
        let output = child.stdout.take().context("git cat-file: no stdout")?;
        Ok(Blobs {
            child,
            input,
            output: BufReader::new(output),
        })
    }
}

/// The revisions of `span`, as `git log` takes them.
fn push_span(args: &mut Vec<String>, span: &Span<'_>) {
    match span {
        Span::All => args.push("HEAD".into()),
        Span::Since(date) => {
            args.push(format!("--since={date}"));
            args.push("HEAD".into());
        }
        Span::Range(range) => args.push((*range).to_owned()),
    }
}

/// `git log --raw -z` with `%x01` before each commit's header: NUL-separated tokens, a
/// header, then per change its `:meta` and its path.
fn parse_log(text: &str) -> Vec<Commit> {
    let mut commits: Vec<Commit> = Vec::new();
    let mut tokens = text.split('\0');
    while let Some(token) = tokens.next() {
        let token = token.trim_start_matches('\n');
        if let Some(header) = token.strip_prefix('\x01') {
            let mut fields = header.split('\x1f');
            if let (Some(sha), Some(short), Some(date), subject) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            {
                commits.push(Commit {
                    sha: sha.to_owned(),
                    short: short.get(..7).unwrap_or(short).to_owned(),
                    date: date.to_owned(),
                    subject: subject.unwrap_or_default().to_owned(),
                    changes: Vec::new(),
                });
            }
        } else if let Some(meta) = token.strip_prefix(':') {
            let Some(path) = tokens.next() else { break };
            let parts: Vec<&str> = meta.split_whitespace().collect();
            let (Some(mode), Some(object), Some(status)) =
                (parts.get(1), parts.get(3), parts.get(4))
            else {
                continue;
            };
            let entry = (!status.starts_with('D')).then(|| Entry::of(mode, object));
            if let Some(c) = commits.last_mut() {
                c.changes.push((path.to_owned(), entry));
            }
        }
    }
    commits
}

/// A running `git cat-file --batch`.
pub struct Blobs {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Blobs {
    /// The content of blob `sha` as text.
    pub fn read(&mut self, sha: &str) -> Result<String> {
        writeln!(self.input, "{sha}").context("git cat-file stopped")?;
        self.input.flush()?;
        let mut header = String::new();
        self.output.read_line(&mut header)?;
        let mut parts = header.split_whitespace();
        let size: usize = match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some("blob"), Some(size)) => size.parse()?,
            _ => bail!("git cat-file cannot read blob {sha}: {}", header.trim()),
        };
        let mut content = vec![0; size + 1];
        self.output.read_exact(&mut content)?;
        content.pop();
        String::from_utf8(content).with_context(|| format!("blob {sha} is not UTF-8 text"))
    }
}

impl Drop for Blobs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_log_is_read_commit_by_commit() {
        let text = "\x01aaaa\x1faa\x1f2026-10-02\x1fpromote 1\0\n:000000 100644 0000 bbbb A\0values/we\"ird\tname.yaml\0:000000 120000 0000 dddd A\0link.yaml\0\x01cccc\x1fcc\x1f2026-10-03\x1fdrop\0\n:100644 000000 bbbb 0000 D\0values/we\"ird\tname.yaml\0";
        let commits = parse_log(text);
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].subject, "promote 1");
        assert_eq!(
            commits[0].changes,
            [
                (
                    "values/we\"ird\tname.yaml".to_owned(),
                    Some(Entry::Blob("bbbb".to_owned()))
                ),
                ("link.yaml".to_owned(), Some(Entry::Link)),
            ]
        );
        assert_eq!(
            commits[1].changes,
            [("values/we\"ird\tname.yaml".to_owned(), None)]
        );
    }
}
