//! A TCP proxy in front of a registry that lets a number of HTTP requests through and then
//! goes away (open connections cut, the port refusing): "the registry stopped mid-run",
//! at exactly the same point every time.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A TCP proxy to a registry that stops answering after a number of requests.
pub struct CuttingProxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    stopped: Arc<AtomicBool>,
    manifests: Arc<Manifests>,
}

/// Manifest requests relayed, by method.
#[derive(Default)]
struct Manifests {
    get: AtomicUsize,
    head: AtomicUsize,
}

impl CuttingProxy {
    /// Manifest requests (`GET|HEAD /v2/<name>/manifests/<ref>`) relayed so far.
    pub fn manifest_requests(&self) -> usize {
        let (get, head) = self.manifest_requests_by_method();
        get + head
    }

    /// Manifest requests relayed so far, `(GET, HEAD)`: a `GET` counts against a registry's
    /// pull limit (Docker Hub's), a `HEAD` does not.
    pub fn manifest_requests_by_method(&self) -> (usize, usize) {
        (
            self.manifests.get.load(Ordering::SeqCst),
            self.manifests.head.load(Ordering::SeqCst),
        )
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

/// Forwards to `127.0.0.1:target` until `requests` HTTP requests have been seen.
pub fn start(target: u16, requests: usize) -> CuttingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a proxy port");
    let port = listener.local_addr().expect("an address").port();
    listener.set_nonblocking(true).expect("nonblocking accept");
    let stopped = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let manifests = Arc::new(Manifests::default());
    let (flag, counted) = (stopped.clone(), manifests.clone());
    std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((client, _)) => {
                    let (flag, seen, counted) = (flag.clone(), seen.clone(), counted.clone());
                    std::thread::spawn(move || {
                        relay(client, target, requests, &seen, &counted, &flag)
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        // The listener is dropped here: the port now refuses connections.
    });
    CuttingProxy {
        port,
        stopped,
        manifests,
    }
}

fn relay(
    client: TcpStream,
    target: u16,
    limit: usize,
    seen: &AtomicUsize,
    manifests: &Manifests,
    stopped: &AtomicBool,
) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let (Ok(mut c_in), Ok(mut s_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut s_in, mut c_out) = (server, client);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_in, &mut c_out);
        let _ = c_out.shutdown(Shutdown::Both);
    });
    let mut buf = [0u8; 16384];
    loop {
        let n = match c_in.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        let requests = count_requests(chunk);
        if seen.fetch_add(requests, Ordering::SeqCst) + requests > limit
            || stopped.load(Ordering::SeqCst)
        {
            stopped.store(true, Ordering::SeqCst);
            break;
        }
        let (get, head) = count_manifest_requests(chunk);
        manifests.get.fetch_add(get, Ordering::SeqCst);
        manifests.head.fetch_add(head, Ordering::SeqCst);
        if s_out.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = s_out.shutdown(Shutdown::Both);
    let _ = c_in.shutdown(Shutdown::Both);
    let _ = back.join();
}

fn count_requests(chunk: &[u8]) -> usize {
    let text = String::from_utf8_lossy(chunk);
    ["GET /", "HEAD /", "POST /", "PUT /"]
        .iter()
        .map(|m| text.matches(m).count())
        .sum()
}

/// `(GET, HEAD)` manifest requests in a chunk.
fn count_manifest_requests(chunk: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(chunk);
    let count = |method: &str| {
        text.lines()
            .filter(|l| l.starts_with(method) && l.contains("/manifests/"))
            .count()
    };
    (count("GET /v2/"), count("HEAD /v2/"))
}
