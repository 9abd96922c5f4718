//! The listeners: a thread per port accepting connections, each served on its own thread up
//! to a cap, and the stop on SIGTERM: close every port, wait for open connections, return.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::args::Config;
use crate::backends::{self, Backends};
use crate::control;
use crate::forward::{self, Timeouts};
use crate::resolve;

/// Proxied connections at once (two threads each); more are closed at once so a flood
/// cannot exhaust threads or file descriptors.
const MAX_CONNECTIONS: usize = 4096;
/// Control requests at once.
const MAX_CONTROL_CONNECTIONS: usize = 32;
/// The copy loops need little stack; thousands of threads at the default 2 MiB would not.
const THREAD_STACK: usize = 256 * 1024;
/// How often the main thread looks at the flag the SIGTERM handler sets.
const SIGNAL_POLL: Duration = Duration::from_millis(10);
/// How long a stop waits for an accept loop to see the stop and close its port.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Spawns a worker thread with a small stack; an error instead of std's panic when the
/// system is out of threads.
pub fn spawn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> io::Result<JoinHandle<T>> {
    thread::Builder::new().stack_size(THREAD_STACK).spawn(work)
}

pub struct Proxy {
    config: Config,
    listeners: Vec<(u16, TcpListener)>,
    control: TcpListener,
    backends: Backends,
}

impl Proxy {
    /// Binds every port first, so a port in use is an error before anything is served.
    pub fn bind(config: Config) -> Result<Proxy, String> {
        let bind = |port: u16| {
            TcpListener::bind((config.bind, port))
                .map_err(|error| format!("cannot listen on {}:{port}: {error}", config.bind))
        };
        let listeners = config
            .listen
            .iter()
            .map(|&port| bind(port).map(|listener| (port, listener)))
            .collect::<Result<_, _>>()?;
        let control = bind(config.control)?;
        let backends = Backends::new(config.backends.clone());
        Ok(Proxy {
            config,
            listeners,
            control,
            backends,
        })
    }

    /// Serves until `terminated` is set, then stops accepting, waits up to the drain time
    /// for open connections, and returns.
    pub fn run(self, terminated: &AtomicBool) -> Result<(), String> {
        let stopping = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let timeouts = Timeouts {
            connect: self.config.connect_timeout,
            hold: self.config.hold,
        };
        let mut loops = Vec::new();
        for (port, listener) in self.listeners {
            let backends = self.backends.clone();
            let handler = move |client| forward::forward(client, port, &backends, timeouts);
            let accept = AcceptLoop::new(port, &stopping, Arc::clone(&open), MAX_CONNECTIONS);
            loops.push(start(listener, accept, handler)?);
        }
        let backends = self.backends.clone();
        let followed = self.config.resolve.clone();
        let control_loop = AcceptLoop::new(
            self.config.control,
            &stopping,
            Arc::new(AtomicUsize::new(0)),
            MAX_CONTROL_CONNECTIONS,
        );
        loops.push(start(self.control, control_loop, move |stream| {
            control::serve(stream, &backends, followed.as_deref())
        })?);
        if let Some(name) = self.config.resolve.clone() {
            let (backends, stopping) = (self.backends.clone(), Arc::clone(&stopping));
            let interval = self.config.resolve_interval;
            spawn(move || resolve::follow(&name, interval, &backends, &stopping, resolve::lookup))
                .map_err(|error| format!("cannot start a thread: {error}"))?;
        }
        println!(
            "stack-proxy: listening on {} port {}; control on port {}",
            self.config.bind,
            join(&self.config.listen),
            self.config.control
        );
        match &self.config.resolve {
            Some(name) => println!("backends: what {name} resolves to"),
            None => println!("backends: {}", backends::describe(&self.backends.current())),
        }

        while !terminated.load(Ordering::SeqCst) {
            thread::sleep(SIGNAL_POLL);
        }
        println!("stack-proxy: stopping");
        stopping.store(true, Ordering::SeqCst);
        let wake_ip = if self.config.bind.is_unspecified() {
            Ipv4Addr::LOCALHOST
        } else {
            self.config.bind
        };
        for (port, _) in &loops {
            // The connection only wakes the blocked `accept`; the loop sees the flag and ends.
            let _ = TcpStream::connect_timeout(&SocketAddr::from((wake_ip, *port)), CLOSE_TIMEOUT);
        }
        let closing = Instant::now() + CLOSE_TIMEOUT;
        while loops.iter().any(|(_, handle)| !handle.is_finished()) && Instant::now() < closing {
            thread::sleep(SIGNAL_POLL);
        }

        let drained = Instant::now() + self.config.drain;
        while open.load(Ordering::SeqCst) > 0 && Instant::now() < drained {
            thread::sleep(SIGNAL_POLL);
        }
        let left = open.load(Ordering::SeqCst);
        if left > 0 {
            println!("stack-proxy: drain time over, closing {left} connections");
        }
        Ok(())
    }
}

fn join(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

/// What one accept loop shares with the rest of the proxy.
struct AcceptLoop {
    port: u16,
    stopping: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    limit: usize,
    /// Set while connections are being refused, so the log says so once, not per connection.
    refusing: bool,
}

impl AcceptLoop {
    fn new(port: u16, stopping: &Arc<AtomicBool>, open: Arc<AtomicUsize>, limit: usize) -> Self {
        AcceptLoop {
            port,
            stopping: Arc::clone(stopping),
            open,
            limit,
            refusing: false,
        }
    }
}

/// Accepts on its own thread until the stop, each connection handled on a new thread.
fn start(
    listener: TcpListener,
    mut accept: AcceptLoop,
    handler: impl Fn(TcpStream) + Clone + Send + 'static,
) -> Result<(u16, JoinHandle<()>), String> {
    let port = accept.port;
    let run = move || {
        for connection in listener.incoming() {
            if accept.stopping.load(Ordering::SeqCst) {
                break;
            }
            let stream = match connection {
                Ok(stream) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    eprintln!("port {}: accept failed: {error}", accept.port);
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if accept.open.load(Ordering::SeqCst) >= accept.limit {
                if !accept.refusing {
                    eprintln!(
                        "port {}: {} connections open, refusing more",
                        accept.port, accept.limit
                    );
                    accept.refusing = true;
                }
                continue;
            }
            accept.refusing = false;
            let guard = Open::enter(&accept.open);
            let handler = handler.clone();
            if let Err(error) = spawn(move || {
                let _guard = guard;
                handler(stream);
            }) {
                eprintln!("port {}: cannot start a thread: {error}", accept.port);
            }
        }
        // Returning drops the listener: the port refuses from here on.
    };
    let handle = spawn(run).map_err(|error| format!("cannot start a thread: {error}"))?;
    Ok((port, handle))
}

/// Counts a connection as open until dropped, even if its thread panics.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn enter(counter: &Arc<AtomicUsize>) -> Open {
        counter.fetch_add(1, Ordering::SeqCst);
        Open(Arc::clone(counter))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
