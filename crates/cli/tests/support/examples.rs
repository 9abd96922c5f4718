//! What the tests of the examples share: an example copied into a live stack's folder, waiting
//! until something answers, and a steady loop of requests that counts what failed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{LiveStack, try_get};

/// The folder `examples/<path>` of the repository.
pub fn example_dir(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path)
}

impl LiveStack {
    /// A live stack whose folder is a copy of `examples/<path>`, build contexts included: what
    /// the test writes there (certificates, uploads) stays out of the repository.
    pub fn example(path: &str) -> Option<LiveStack> {
        let live = LiveStack::new()?;
        copy_folder(&example_dir(path), live.dir.path());
        Some(live)
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            // Keeps the permissions: the examples' scripts stay executable.
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
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
