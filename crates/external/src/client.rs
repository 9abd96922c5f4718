//! One provider process and the JSON-RPC calls made to it.
//!
//! The process's pipes are served by three threads of their own (writing requests, reading
//! responses, reading the log), so calls can come from any task of any runtime: a call
//! writes its request, then waits for the response with the same id, or its timeout.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stack_protocol::{Handshake, Initialize, PROTOCOL_VERSION, Request, Response, RpcError, method};
use tokio::sync::oneshot;

/// How long a provider may take to exit once its input is closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// Why a call has no result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The provider answered with an error.
    Refused(RpcError),
    /// No answer within the timeout; the provider keeps running for other calls.
    TimedOut(Duration),
    /// The provider stopped, or broke the protocol and was stopped: says what happened.
    Stopped(String),
    /// The result does not have the shape the method returns.
    Malformed(String),
}

impl CallError {
    /// What happened, for a message that names the provider and the object first.
    pub fn describe(&self, method: &str) -> String {
        match self {
            CallError::Refused(error) => error.message.clone(),
            CallError::TimedOut(timeout) => {
                format!("no answer to `{method}` within {}s", timeout.as_secs_f64())
            }
            CallError::Stopped(why) => why.clone(),
            CallError::Malformed(why) => {
                format!("its answer to `{method}` is not what the protocol says: {why}")
            }
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            CallError::Refused(error) => error.hint(),
            CallError::TimedOut(_) => Some(
                "the provider may be stuck: run with --verbose to see its log, or raise `timeout` in its `provider` block",
            ),
            CallError::Stopped(_) | CallError::Malformed(_) => Some(
                "this is a bug of the provider: run with --verbose to see its log; the next apply retries",
            ),
        }
    }
}

type Reply = oneshot::Sender<Result<Value, CallError>>;

/// The calls waiting for an answer, and why the provider stopped once it has.
#[derive(Default)]
struct Calls {
    waiting: HashMap<u64, Reply>,
    stopped: Option<String>,
}

impl Calls {
    /// Fails every waiting call, and every later one, with `why`.
    fn stop(&mut self, why: String) {
        for (_, reply) in self.waiting.drain() {
            let _ = reply.send(Err(CallError::Stopped(why.clone())));
        }
        self.stopped.get_or_insert(why);
    }
}

/// A running provider.
pub struct Client {
    /// The name it is declared under: every message says it.
    name: String,
    program: PathBuf,
    timeout: Duration,
    next_id: AtomicU64,
    requests: Mutex<Option<mpsc::Sender<String>>>,
    calls: Arc<Mutex<Calls>>,
    child: Arc<Mutex<Child>>,
}

impl Client {
    /// Starts `program` for the provider declared as `name`, in the stack's directory `dir`,
    /// and makes the handshake. Its log (standard error) is copied to ours, each line prefixed
    /// with the name, when `verbose`.
    pub async fn start(
        name: &str,
        program: &Path,
        dir: &Path,
        timeout: Duration,
        verbose: bool,
    ) -> Result<(Client, Handshake), String> {
        let client = Client::spawn(name, program, dir, timeout, verbose)?;
        let handshake: Handshake = client
            .call(
                method::INITIALIZE,
                &Initialize {
                    protocol_version: PROTOCOL_VERSION,
                },
            )
            .await
            .map_err(|error| format!("{}: {}", client.describe(), error.describe(method::INITIALIZE)))?;
        if handshake.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "{} speaks version {} of the provider protocol; this stack speaks version {PROTOCOL_VERSION}",
                client.describe(),
                handshake.protocol_version
            ));
        }
        Ok((client, handshake))
    }

    fn spawn(
        name: &str,
        program: &Path,
        dir: &Path,
        timeout: Duration,
        verbose: bool,
    ) -> Result<Client, String> {
        let mut child = Command::new(program)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start provider `{name}` ({}): {error}", program.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(format!("provider `{name}`: its pipes could not be opened"));
        };
        let calls = Arc::new(Mutex::new(Calls::default()));
        let child = Arc::new(Mutex::new(child));
        let (requests, outgoing) = mpsc::channel();
        spawn_writer(stdin, outgoing, Arc::clone(&calls));
        spawn_reader(stdout, Arc::clone(&calls), Arc::clone(&child));
        spawn_log(stderr, name.to_owned(), verbose);
        Ok(Client {
            name: name.to_owned(),
            program: program.to_path_buf(),
            timeout,
            next_id: AtomicU64::new(1),
            requests: Mutex::new(Some(requests)),
            calls,
            child,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long a call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `provider `NAME` (PATH)`, as messages name it.
    pub fn describe(&self) -> String {
        format!("provider `{}` ({})", self.name, self.program.display())
    }

    /// Calls `method` and waits for its result, at most the provider's timeout.
    pub async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, CallError> {
        self.call_within(method, params, self.timeout).await
    }

    /// [`Client::call`] for a method that may take `extra` longer (`wait`).
    pub async fn call_within<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let params = serde_json::to_value(params).map_err(|error| CallError::Malformed(error.to_string()))?;
        let line = serde_json::to_string(&Request::new(id, method, params))
            .map_err(|error| CallError::Malformed(error.to_string()))?;
        let (reply, answer) = oneshot::channel();
        {
            let mut calls = lock(&self.calls);
            if let Some(why) = &calls.stopped {
                return Err(CallError::Stopped(why.clone()));
            }
            calls.waiting.insert(id, reply);
        }
        let sent = lock(&self.requests)
            .as_ref()
            .is_some_and(|requests| requests.send(line).is_ok());
        if !sent {
            lock(&self.calls).waiting.remove(&id);
            return Err(CallError::Stopped("it was stopped".to_owned()));
        }
        let result = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(CallError::Stopped("it stopped answering".to_owned())),
            Err(_) => {
                lock(&self.calls).waiting.remove(&id);
                return Err(CallError::TimedOut(timeout));
            }
        };
        serde_json::from_value(result).map_err(|error| CallError::Malformed(error.to_string()))
    }

    /// Closes the provider's input, which tells it to exit, and kills it if it has not
    /// within a few seconds. Later calls fail.
    pub fn stop(&self) {
        lock(&self.requests).take();
        let deadline = Instant::now() + EXIT_GRACE;
        let mut child = lock(&self.child);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes each request on a line of its own; a provider that closed its input fails every call.
fn spawn_writer(mut stdin: ChildStdin, outgoing: mpsc::Receiver<String>, calls: Arc<Mutex<Calls>>) {
    std::thread::spawn(move || {
        for line in outgoing {
            if writeln!(stdin, "{line}").and_then(|()| stdin.flush()).is_err() {
                lock(&calls).stop("it closed its input".to_owned());
                return;
            }
        }
    });
}

/// Hands each response to the call waiting for it. A line that is not a response breaks the
/// protocol: the provider is stopped, and every call fails saying so.
fn spawn_reader(stdout: std::process::ChildStdout, calls: Arc<Mutex<Calls>>, child: Arc<Mutex<Child>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Response>(&line) {
                Ok(response) if response.id.is_some() => {
                    // An answer after its call timed out has nobody waiting for it.
                    let reply = response.id.and_then(|id| lock(&calls).waiting.remove(&id));
                    if let Some(reply) = reply {
                        let _ = reply.send(response.outcome().map_err(CallError::Refused));
                    }
                }
                _ => {
                    // The line is not quoted: it could hold anything, a secret included.
                    lock(&calls).stop(format!(
                        "it wrote {} bytes that are not a JSON-RPC response to a call, and was stopped",
                        line.len()
                    ));
                    let _ = lock(&child).kill();
                    return;
                }
            }
        }
        let status = exit_status(&child);
        lock(&calls).stop(format!("it exited ({status})"));
    });
}

/// How the process ended, once its output closed: it may take a moment to exit.
fn exit_status(child: &Mutex<Child>) -> String {
    let deadline = Instant::now() + EXIT_GRACE;
    while Instant::now() < deadline {
        match lock(child).try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return error.to_string(),
        }
    }
    "its output closed".to_owned()
}

/// The provider's log: shown with `--verbose`, prefixed with its name; read away otherwise,
/// so that a provider writing much never blocks.
fn spawn_log(stderr: std::process::ChildStderr, name: String, verbose: bool) {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if verbose {
                eprintln!("provider {name}: {line}");
            }
        }
    });
}
