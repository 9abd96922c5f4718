//! One proxied connection: find a backend that answers on the same port, holding the client
//! while there is none, then copy bytes both ways until both sides are done.

use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::backends::Backends;
use crate::server;

/// How long a held client waits between attempt rounds.
const RETRY_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// How long a client is kept waiting for a backend before it is closed.
    pub hold: Duration,
}

pub fn forward(client: TcpStream, port: u16, backends: &Backends, timeouts: Timeouts) {
    let (backend, ip) = match connect(port, backends, timeouts) {
        Ok(found) => found,
        Err(reason) => {
            eprintln!(
                "port {port}: closing a client after {} ms: {reason}",
                timeouts.hold.as_millis()
            );
            return;
        }
    };
    // Counted until both directions end, so `GET /backends` shows a removed backend draining.
    let _open = backends.open(ip);
    // Small writes (a request line, a prompt) go out at once, as they would without a proxy.
    let _ = client.set_nodelay(true);
    let _ = backend.set_nodelay(true);
    if let Err(error) = splice(client, backend) {
        eprintln!("port {port}: forwarding to {ip}: {error}");
    }
}

/// Tries the current set round by round, re-reading it each time, until one backend accepts
/// or the hold time is up. A refusal or timeout on one backend moves on to the next, so a
/// client never sees a backend that is going away.
fn connect(port: u16, backends: &Backends, timeouts: Timeouts) -> Result<(TcpStream, Ipv4Addr), String> {
    let deadline = Instant::now() + timeouts.hold;
    let mut first_round = true;
    let mut last_error = "no backends".to_string();
    loop {
        for ip in backends.attempt_order() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            // The first round gets full attempts even with a zero hold time.
            let timeout = if first_round {
                timeouts.connect
            } else {
                timeouts.connect.min(remaining)
            };
            if timeout.is_zero() {
                break;
            }
            let address = SocketAddr::from((ip, port));
            match TcpStream::connect_timeout(&address, timeout) {
                Ok(stream) => return Ok((stream, ip)),
                Err(error) => {
                    backends.failed(ip);
                    last_error = format!("{address}: {error}");
                }
            }
        }
        first_round = false;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(last_error);
        }
        thread::sleep(RETRY_INTERVAL.min(remaining));
    }
}

/// Copies client to backend on a second thread and backend to client on this one.
fn splice(client: TcpStream, backend: TcpStream) -> io::Result<()> {
    let client_reader = client.try_clone()?;
    let backend_writer = backend.try_clone()?;
    let upstream = server::spawn(move || pipe(client_reader, backend_writer))?;
    pipe(backend, client);
    // `pipe` never panics; a failed join only means the thread is gone, which is the goal.
    let _ = upstream.join();
    Ok(())
}

/// Copies until `from` ends, then passes the end on as a half-close so the other direction
/// can still finish. On an error both sockets are shut so the other direction stops too.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    match io::copy(&mut from, &mut to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn timeouts(hold_ms: u64) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(200),
            hold: Duration::from_millis(hold_ms),
        }
    }

    #[test]
    fn connect_skips_a_refusing_backend() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback backend");
        let port = listener.local_addr().expect("its address").port();
        // Nothing listens on 127.0.0.9 at this port, so it refuses.
        let backends = Backends::new(vec![Ipv4Addr::new(127, 0, 0, 9), Ipv4Addr::LOCALHOST]);
        for _ in 0..2 {
            let (_, ip) = connect(port, &backends, timeouts(0)).expect("the listening backend is found");
            assert_eq!(ip, Ipv4Addr::LOCALHOST);
        }
    }

    #[test]
    fn connect_gives_up_after_the_hold_time() {
        let backends = Backends::new(Vec::new());
        let started = Instant::now();
        let error = connect(1, &backends, timeouts(120)).expect_err("there is no backend");
        assert_eq!(error, "no backends");
        assert!(started.elapsed() >= Duration::from_millis(120));
    }

    #[test]
    fn pipe_passes_the_end_on_as_a_half_close() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = listener.local_addr().expect("its address");
        let mut writer = TcpStream::connect(address).expect("connect");
        let (from, _) = listener.accept().expect("accept");
        let mut reader = TcpStream::connect(address).expect("connect");
        let (to, _) = listener.accept().expect("accept");

        writer.write_all(b"bytes").expect("write");
        writer.shutdown(Shutdown::Write).expect("half-close");
        pipe(from, to.try_clone().expect("clone the socket"));
        let mut received = Vec::new();
        reader
            .read_to_end(&mut received)
            .expect("read until the half-close");
        assert_eq!(received, b"bytes");
        // Only the write half is shut: the other direction still works.
        reader.write_all(b"back").expect("write back");
        let mut back = [0; 4];
        (&to).read_exact(&mut back).expect("read back");
        assert_eq!(&back, b"back");
    }
}
