//! A registry behind the distribution token flow, as Docker Hub and GHCR serve anonymous pulls:
//! every request without `Authorization: Bearer <token>` is answered 401 with
//! `WWW-Authenticate: Bearer realm=…,service=…`, the realm hands out the token (recording the
//! scope asked for), and requests that carry it are relayed to the real registry behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "test-token-4f1c";

/// A registry front that asks for an anonymous bearer token first, as Docker Hub does.
pub struct TokenGate {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The `scope` of every token request, in order.
    pub scopes: Arc<Mutex<Vec<String>>>,
}

/// Starts the gate in front of `127.0.0.1:registry`.
pub fn start(registry: u16) -> TokenGate {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a gate port");
    let port = listener.local_addr().expect("an address").port();
    let scopes = Arc::new(Mutex::new(Vec::new()));
    let seen = scopes.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(client, port, registry, &seen));
        }
    });
    TokenGate { port, scopes }
}

/// One connection: requests (GET and HEAD, no bodies) answered until the client closes.
fn serve(client: TcpStream, port: u16, registry: u16, scopes: &Mutex<Vec<String>>) {
    let Ok(mut out) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(client);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push(line),
            }
        }
        let request_line = head.first().cloned().unwrap_or_default();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        let authorized = head.iter().any(|h| {
            h.to_ascii_lowercase().starts_with("authorization:")
                && h.trim_end().ends_with(&format!("Bearer {TOKEN}"))
        });
        let answer = if let Some(query) = path.strip_prefix("/token?") {
            let scope = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope="))
                .unwrap_or("")
                .replace("%3A", ":")
                .replace("%2F", "/");
            scopes.lock().map(|mut s| s.push(scope)).ok();
            let body =
                format!(r#"{{"token":"{TOKEN}","access_token":"{TOKEN}","expires_in":300}}"#);
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
        } else if !authorized {
            let body =
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"token-gate\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        } else {
            relay(&head, registry)
        };
        if out.write_all(&answer).is_err() {
            return;
        }
    }
}

/// The request, without its credentials, sent to the registry on a fresh connection; the
/// registry's whole answer (it closes after one response).
fn relay(head: &[String], registry: u16) -> Vec<u8> {
    let mut request = String::new();
    for h in head {
        let lower = h.to_ascii_lowercase();
        if !lower.starts_with("authorization:") && !lower.starts_with("connection:") {
            request.push_str(h);
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    let mut answer = Vec::new();
    if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", registry)) {
        let _ = upstream.write_all(request.as_bytes());
        let _ = upstream.read_to_end(&mut answer);
    }
    answer
}
