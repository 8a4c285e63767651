//! A `docker-registry` on a free loopback port, stopped when dropped.

use crate::tool;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
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
    std::fs::create_dir_all(dir).expect("registry dir");
    let port = free_port();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("storage").display()
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
    let child = Command::new(tool("docker-registry"))
        .arg("serve")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let registry = Registry {
        child,
        port,
        credentials: basic.map(|(u, p)| (u.to_owned(), p.to_owned())),
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the registry did not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    registry
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
