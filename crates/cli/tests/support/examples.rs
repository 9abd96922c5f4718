//! What the tests of the examples share: their `prepare`, waiting until something answers, and a
//! steady loop of requests that counts what failed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{EXAMPLES, try_request};

/// Runs `examples/NAME/prepare --images`: the images the example runs or builds from (the
/// binaries it would build too, the test has already).
pub fn prepare_images(name: &str) {
    let script = format!("{EXAMPLES}/{name}/prepare");
    let output = Command::new(&script).arg("--images").output().unwrap();
    assert!(
        output.status.success(),
        "{script} --images failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `GET path` at `address`: the answer's status and body, or what went wrong.
pub fn try_get(address: SocketAddr, path: &str) -> Result<(u16, String), String> {
    try_request(address, "GET", path, "").map_err(|error| format!("GET http://{address}{path}: {error}"))
}

/// Calls `attempt` until it gives a value, every quarter of a second for at most `timeout`;
/// then fails with what the last attempt said.
pub fn eventually<T>(what: &str, timeout: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let give_up = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(problem) if Instant::now() >= give_up => {
                panic!("{what}: not within {timeout:?}; the last attempt said: {problem}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// `GET path` on 127.0.0.1:`port` until it answers 200 with a JSON body; the body.
pub fn json_when_ok(port: u16, path: &str, timeout: Duration) -> serde_json::Value {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    eventually(&format!("GET {path} on port {port}"), timeout, || {
        let (status, body) = try_get(address, path)?;
        if status != 200 {
            return Err(format!("status {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|error| format!("{error}: {body}"))
    })
}

/// `curl -k https://127.0.0.1:<port><path>`: the status and body, or why there is none.
/// curl, because the tests have no TLS client of their own.
pub fn curl_insecure(port: u16, path: &str) -> Result<(u16, String), String> {
    let url = format!("https://127.0.0.1:{port}{path}");
    let output = Command::new("curl")
        .args(["-sk", "--max-time", "5", "-w", "\n%{http_code}", &url])
        .output()
        .map_err(|error| format!("curl does not run: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "curl {url}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = status
        .trim()
        .parse()
        .map_err(|_| format!("curl {url}: no status in {text:?}"))?;
    Ok((status, body.to_owned()))
}

/// A client that requests one URL every `pause` on a thread of its own until finished.
pub struct RequestLoop {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Tally>,
}

/// What a [`RequestLoop`] saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests: usize,
    /// Each failed request: a status other than 200, or an error.
    pub failures: Vec<String>,
    /// The distinct bodies of the answers that succeeded, through `key`.
    pub answers: BTreeSet<String>,
}

impl RequestLoop {
    /// Starts requesting `path` at `address`; `key` picks what to keep of each answer's body.
    pub fn start(address: SocketAddr, path: &str, pause: Duration, key: fn(&str) -> String) -> RequestLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let path = path.to_owned();
        let thread = std::thread::spawn(move || {
            let mut tally = Tally::default();
            while !stopped.load(Ordering::SeqCst) {
                tally.requests += 1;
                match try_get(address, &path) {
                    Ok((200, body)) => {
                        tally.answers.insert(key(&body));
                    }
                    Ok((status, body)) => tally.failures.push(format!("status {status}: {body}")),
                    Err(problem) => tally.failures.push(problem),
                }
                std::thread::sleep(pause);
            }
            tally
        });
        RequestLoop { stop, thread }
    }

    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}
