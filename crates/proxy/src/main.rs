//! `stack-proxy`: the TCP proxy in front of a service that `stack` rolls out start-first.
//!
//! On a plain Docker engine, moving a service's network alias from the old container to the
//! new one makes clients that resolve the name per request stall for seconds (Docker's DNS
//! still answers with the old address after it is gone), and two copies of a service cannot
//! publish the same host port. So the proxy container holds the service's aliases and
//! published ports, and the replicas sit behind it: `stack` starts the new replica, puts its
//! address in the proxy's backend set, and lets the old one drain.
//!
//! ```text
//! stack-proxy --listen PORT [--listen PORT ...] --control PORT
//!             [--backend IP ... | --resolve NAME [--resolve-ms 200]]
//!             [--connect-timeout-ms 1000] [--hold-ms 10000] [--drain-ms 30000]
//!             [--bind 0.0.0.0]
//! ```
//!
//! Every port is bound on `--bind` (all interfaces by default). A connection accepted on
//! listen port P is forwarded to `BACKEND:P`, the backend picked round-robin from the current
//! set; a backend that refuses, is unreachable or does not answer within the connect timeout
//! is skipped for the next, and for 2 s after tried only after the others. While the set is
//! empty or every backend fails, the client is held open and the set is tried again every
//! 50 ms until the hold time is over; only then is it closed. Bytes are copied both ways, a
//! half-close passed on as one. At most 4096 client connections are open at once; beyond
//! that new ones are closed at once.
//!
//! The control API, HTTP/1.1, one request per connection, on the control port:
//!
//! - `PUT /backends`, body: IPv4 addresses one a line (empty: no backends). Replaces the set
//!   for new connections at once; open connections stay. `200` with the new set, one address
//!   a line; `400` naming the bad lines, the set unchanged.
//! - `GET /backends`: `200`, a line `IP current ACTIVE` per backend of the set and
//!   `IP draining ACTIVE` per removed backend that still has open connections (ACTIVE: open
//!   connections); a removed backend is forgotten when its last connection closes.
//! - `GET /health`: `200 ok` (the proxy container's own liveness).
//! - Anything else: `404`, or `405` for another method on these paths.
//!
//! On SIGTERM the proxy closes every port, lets open connections finish for up to the drain
//! time, and exits 0. It logs each change of the set (`backends: 172.20.0.3, 172.20.0.4`) and
//! errors, never single connections.
//!
//! With `--resolve NAME` (the resolve mode, for a swarm: [`resolve`]) the set is instead what
//! `NAME` resolves to, looked up every `--resolve-ms`, and `PUT /backends` answers `409`. Built
//! static for a `FROM scratch` image: std's resolver reads the `/etc/resolv.conf` and
//! `/etc/hosts` Docker writes into every container.

mod args;
mod backends;
mod control;
mod forward;
mod http;
mod resolve;
mod server;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use args::{Config, USAGE};
use server::Proxy;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if matches!(arguments.first().map(String::as_str), Some("-h" | "--help")) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::parse(&arguments) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("stack-proxy: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => {
            println!("stack-proxy: stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("stack-proxy: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> Result<(), String> {
    let proxy = Proxy::bind(config)?;
    // As PID 1 a process gets no default action for SIGTERM: without this `docker stop`
    // would wait out its timeout and kill the proxy mid-connection.
    let terminated = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminated))
        .map_err(|error| format!("cannot catch SIGTERM: {error}"))?;
    proxy.run(&terminated)
}
