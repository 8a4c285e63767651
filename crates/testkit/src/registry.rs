//! A `docker-registry` on a free loopback port, stopped when dropped.

use crate::tool;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `docker-registry` on 127.0.0.1, stopped when dropped.
pub struct Registry {
    child: Child,
    /// The configuration file it runs with (for `garbage-collect` and restarts).
    config: std::path::PathBuf,
    /// The port it listens on.
    pub port: u16,
    /// `user:password` when the registry asks for basic auth.
    pub credentials: Option<(String, String)>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// `127.0.0.1:<port>`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// skopeo's `--dest-creds`/`--creds` arguments for this registry.
    pub fn creds_args(&self, flag: &str) -> Vec<String> {
        match &self.credentials {
            Some((u, p)) => vec![format!("{flag}={u}:{p}")],
            None => Vec::new(),
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a registry storing under `dir`; with `basic`, behind htpasswd basic auth.
pub fn start(dir: &Path, basic: Option<(&str, &str)>) -> Registry {
    start_with(dir, basic, false)
}

/// Starts a registry under `dir` that accepts `DELETE` of manifests (storage deletion on), as
/// a registry with retention rules or garbage collection behaves.
pub fn start_deletable(dir: &Path) -> Registry {
    start_with(dir, None, true)
}

fn start_with(dir: &Path, basic: Option<(&str, &str)>, delete: bool) -> Registry {
    std::fs::create_dir_all(dir).expect("registry dir");
    let port = free_port();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n{}http:\n  addr: 127.0.0.1:{port}\n",
        dir.join("storage").display(),
        if delete {
            "  delete:\n    enabled: true\n"
        } else {
            ""
        }
    );
    if let Some((user, password)) = basic {
        let htpasswd = dir.join("htpasswd");
        let out = Command::new(tool("htpasswd"))
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd runs");
        assert!(
            out.status.success(),
            "htpasswd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&htpasswd, &out.stdout).expect("htpasswd written");
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: image-digest-tests\n    path: {}\n",
            htpasswd.display()
        ));
    }
    let file = dir.join("registry.yml");
    std::fs::write(&file, config).expect("config written");
    Registry {
        child: serve(&file, port),
        config: file,
        port,
        credentials: basic.map(|(u, p)| (u.to_owned(), p.to_owned())),
    }
}

/// `docker-registry serve CONFIG`, once it listens on `port`.
fn serve(config: &Path, port: u16) -> Child {
    let child = Command::new(tool("docker-registry"))
        .arg("serve")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the registry did not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Registry {
    /// Stops the registry (the port then refuses connections).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.child = serve(&self.config, self.port);
    }

    /// `docker-registry garbage-collect CONFIG`, the registry's own collector: blobs no
    /// manifest references are removed. Run it while the registry is stopped.
    pub fn garbage_collect(&self) -> String {
        self.collect(&[])
    }

    /// `docker-registry garbage-collect --delete-untagged CONFIG`: every manifest no tag names
    /// goes too, as the retention of registries that keep only what is tagged.
    pub fn garbage_collect_untagged(&self) -> String {
        self.collect(&["--delete-untagged"])
    }

    fn collect(&self, flags: &[&str]) -> String {
        let out = Command::new(tool("docker-registry"))
            .arg("garbage-collect")
            .args(flags)
            .arg(&self.config)
            .output()
            .expect("docker-registry garbage-collect runs");
        assert!(
            out.status.success(),
            "garbage-collect: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `DELETE /v2/<repository>/manifests/<digest>` through the registry API; the status code.
    pub fn delete_manifest(&self, repository: &str, digest: &str) -> u16 {
        self.request(
            "DELETE",
            &format!("/v2/{repository}/manifests/{digest}"),
            "",
        )
        .0
    }

    /// `DELETE /v2/<repository>/blobs/<digest>`: a layer or config gone from storage.
    pub fn delete_blob(&self, repository: &str, digest: &str) -> u16 {
        self.request("DELETE", &format!("/v2/{repository}/blobs/{digest}"), "")
            .0
    }

    /// One plain HTTP/1.1 request to the registry: the status code and the body.
    pub fn request(&self, method: &str, path: &str, accept: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connected");
        let accept = if accept.is_empty() {
            String::new()
        } else {
            format!("Accept: {accept}\r\n")
        };
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{accept}Connection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        )
        .expect("request sent");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let code = answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }
}

/// Runs skopeo; its stdout, or a panic with its stderr.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new(tool("skopeo"))
        .args(args)
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
