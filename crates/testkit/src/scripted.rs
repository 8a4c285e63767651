//! A scripted HTTP server on 127.0.0.1, for registry behaviours a real `docker-registry`
//! cannot be made to show (a digest header that is not a digest, a truncated body, a 429 with
//! `Retry-After`, tag-only deletes): each request is answered by a function of its method and
//! path. Connections are closed after each answer; a `HEAD` gets no body.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// One answer: `200 OK`, extra header lines (each ending in `\r\n`), a body.
pub struct Answer {
    /// The status line's code and phrase (`404 Not Found`).
    pub status: String,
    /// Header lines, each ending in `\r\n`.
    pub headers: String,
    /// The body (left out for a `HEAD`).
    pub body: String,
}

impl Answer {
    /// An answer of these parts.
    pub fn new(status: &str, headers: &str, body: &str) -> Answer {
        Answer {
            status: status.to_owned(),
            headers: headers.to_owned(),
            body: body.to_owned(),
        }
    }
}

/// Serves up to `requests` requests with `answer(method, path)`; returns the port.
pub fn serve(requests: usize, answer: impl Fn(&str, &str) -> Answer + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests).flatten() {
            let Ok(read) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(read);
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut parts = first.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let a = answer(method, path);
            let body = if method == "HEAD" {
                ""
            } else {
                a.body.as_str()
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {}\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                a.status,
                a.headers,
                body.len()
            );
        }
    });
    port
}
