//! A TCP proxy in front of a registry that lets a number of HTTP requests through and then
//! goes away (open connections cut, the port refusing): "the registry stopped mid-run",
//! at exactly the same point every time.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub struct CuttingProxy {
    pub port: u16,
    stopped: Arc<AtomicBool>,
    manifests: Arc<AtomicUsize>,
}

impl CuttingProxy {
    /// Manifest requests (`GET|HEAD /v2/<name>/manifests/<ref>`) relayed so far.
    pub fn manifest_requests(&self) -> usize {
        self.manifests.load(Ordering::SeqCst)
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
    let manifests = Arc::new(AtomicUsize::new(0));
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
    manifests: &AtomicUsize,
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
        manifests.fetch_add(count_manifest_requests(chunk), Ordering::SeqCst);
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

fn count_manifest_requests(chunk: &[u8]) -> usize {
    String::from_utf8_lossy(chunk)
        .lines()
        .filter(|l| {
            (l.starts_with("GET /v2/") || l.starts_with("HEAD /v2/")) && l.contains("/manifests/")
        })
        .count()
}
