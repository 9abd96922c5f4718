//! A proxy on a unix socket that forwards to the daemon's socket and records
//! every HTTP request passing through: pointing `DOCKER_HOST` at it counts the
//! API requests a command makes, whatever client library it uses.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct CountingProxy {
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    /// Listens on `socket` and forwards each connection to `upstream`.
    pub fn start(socket: &Path, upstream: &Path) -> Result<CountingProxy, String> {
        let listener = UnixListener::bind(socket)
            .map_err(|error| format!("cannot listen on {}: {error}", socket.display()))?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let upstream = upstream.to_path_buf();
        // Lives as long as the process: it only blocks in accept.
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(daemon) = UnixStream::connect(&upstream) else {
                    continue;
                };
                forward(client, daemon, Arc::clone(&recorded));
            }
        });
        Ok(CountingProxy {
            socket: socket.to_path_buf(),
            requests,
        })
    }

    /// The `DOCKER_HOST` value that goes through the proxy.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The requests seen since the last call, as `METHOD /path` without the
    /// API version and the query.
    pub fn take(&self) -> Vec<String> {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *requests)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Copies both ways; requests are recorded before they reach the daemon, so
/// every request a finished client made is counted.
fn forward(client: UnixStream, daemon: UnixStream, requests: Arc<Mutex<Vec<String>>>) {
    let (Ok(client_reader), Ok(daemon_reader)) = (client.try_clone(), daemon.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let mut parser = RequestParser::new(requests);
        pipe(client_reader, daemon, |bytes| parser.feed(bytes));
    });
    thread::spawn(move || pipe(daemon_reader, client, |_| {}));
}

fn pipe(mut from: UnixStream, mut to: UnixStream, mut inspect: impl FnMut(&[u8])) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        inspect(&buffer[..read]);
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Splits an HTTP/1.1 request stream into requests: heads, then bodies by
/// `Content-Length` or chunked encoding. After an upgrade the stream is no
/// longer HTTP and is only passed on.
struct RequestParser {
    pending: Vec<u8>,
    state: State,
    requests: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone, Copy)]
enum State {
    Head,
    Body { left: usize, chunked: bool },
    ChunkSize,
    Trailer,
    Opaque,
}

impl RequestParser {
    fn new(requests: Arc<Mutex<Vec<String>>>) -> RequestParser {
        RequestParser {
            pending: Vec::new(),
            state: State::Head,
            requests,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Opaque) {
            return;
        }
        self.pending.extend_from_slice(bytes);
        loop {
            match self.state {
                State::Opaque => {
                    self.pending.clear();
                    return;
                }
                State::Body { left, chunked } => {
                    let skipped = left.min(self.pending.len());
                    self.pending.drain(..skipped);
                    if skipped < left {
                        self.state = State::Body {
                            left: left - skipped,
                            chunked,
                        };
                        return;
                    }
                    self.state = if chunked { State::ChunkSize } else { State::Head };
                }
                State::Head => {
                    let Some(head) = self.take_through(b"\r\n\r\n") else {
                        return;
                    };
                    self.state = self.on_head(&String::from_utf8_lossy(&head));
                }
                State::ChunkSize => {
                    let Some(line) = self.take_through(b"\r\n") else {
                        return;
                    };
                    let line = String::from_utf8_lossy(&line);
                    let size = line.trim().split(';').next().unwrap_or("");
                    self.state = match usize::from_str_radix(size, 16) {
                        Ok(0) => State::Trailer,
                        // The chunk and the line end after it.
                        Ok(size) => State::Body {
                            left: size + 2,
                            chunked: true,
                        },
                        Err(_) => State::Opaque,
                    };
                }
                State::Trailer => {
                    let Some(line) = self.take_through(b"\r\n") else {
                        return;
                    };
                    if line.len() == 2 {
                        self.state = State::Head;
                    }
                }
            }
        }
    }

    /// Removes and returns the pending bytes up to and including `end`.
    fn take_through(&mut self, end: &[u8]) -> Option<Vec<u8>> {
        let at = self.pending.windows(end.len()).position(|window| window == end)?;
        Some(self.pending.drain(..at + end.len()).collect())
    }

    /// Records the request and says what follows its head.
    fn on_head(&self, head: &str) -> State {
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("?");
        let target = parts.next().unwrap_or("?");
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(format!("{method} {}", normalize(target)));
        let mut next = State::Head;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => {
                    let left = value.parse().unwrap_or(0);
                    if left > 0 {
                        next = State::Body { left, chunked: false };
                    }
                }
                "transfer-encoding" if value.eq_ignore_ascii_case("chunked") => next = State::ChunkSize,
                "upgrade" => return State::Opaque,
                _ => {}
            }
        }
        next
    }
}

/// `/v1.41/containers/3f2a…/json?size=false` → `/containers/{id}/json`.
fn normalize(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let mut segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let versioned = |segment: &&str| {
        segment
            .strip_prefix('v')
            .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
    };
    if segments.first().is_some_and(versioned) {
        segments.remove(0);
    }
    let collections = ["containers", "networks", "volumes", "images"];
    let verbs = ["json", "create", "prune", "load", "search", "build"];
    if segments.len() >= 2 && collections.contains(&segments[0]) && !verbs.contains(&segments[1]) {
        segments[1] = "{id}";
    }
    format!("/{}", segments.join("/"))
}
