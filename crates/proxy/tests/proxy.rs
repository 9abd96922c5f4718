//! Runs the built `stack-proxy` on loopback in front of small echo backends: the proxy listens
//! on 127.0.0.1:P, the backends on 127.0.0.2:P and 127.0.0.3:P (all of 127/8 is loopback).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const A: &str = "127.0.0.2";
const B: &str = "127.0.0.3";
/// How long any single step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(5);

/// Answers each connection with `NAME\n`, then echoes until the client half-closes.
struct Backend;

impl Backend {
    fn serve(listener: TcpListener, name: &'static str) {
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut stream = stream;
                    let _ = stream.write_all(format!("{name}\n").as_bytes());
                    let _ = std::io::copy(&mut stream.try_clone().expect("clone"), &mut stream);
                });
            }
        });
    }
}

/// A port with an echo backend `a` on 127.0.0.2; with `second`, also `b` on 127.0.0.3.
fn backends(second: bool) -> u16 {
    for _ in 0..20 {
        let first = TcpListener::bind((A, 0)).expect("bind 127.0.0.2");
        let port = first.local_addr().expect("its address").port();
        if second {
            let Ok(other) = TcpListener::bind((B, port)) else {
                continue;
            };
            Backend::serve(other, "b");
        }
        Backend::serve(first, "a");
        return port;
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

/// A port for the control API, other than the proxied `port`.
fn control_port(port: u16) -> u16 {
    loop {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1");
        let control = listener.local_addr().expect("its address").port();
        if control != port {
            return control;
        }
    }
}

struct Proxy {
    child: Child,
    port: u16,
    control: u16,
}

impl Proxy {
    fn start(port: u16, extra: &[&str]) -> Proxy {
        Proxy::spawn(port, extra, Stdio::null())
    }

    fn spawn(port: u16, extra: &[&str], stdout: Stdio) -> Proxy {
        let control = control_port(port);
        let child = Command::new(env!("CARGO_BIN_EXE_stack-proxy"))
            .args(["--bind", "127.0.0.1", "--listen", &port.to_string()])
            .args(["--control", &control.to_string(), "--connect-timeout-ms", "300"])
            .args(extra)
            .stdout(stdout)
            .spawn()
            .expect("start stack-proxy");
        let proxy = Proxy { child, port, control };
        let started = Instant::now();
        while proxy.try_control("GET", "/health", "") != Some((200, "ok\n".to_string())) {
            assert!(started.elapsed() < STEP, "the proxy did not come up");
            thread::sleep(Duration::from_millis(10));
        }
        proxy
    }

    fn try_control(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.control)).ok()?;
        stream.set_read_timeout(Some(STEP)).ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: proxy\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let status = answer.get(9..12)?.parse().ok()?;
        let (_, body) = answer.split_once("\r\n\r\n")?;
        Some((status, body.to_string()))
    }

    fn control(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.try_control(method, path, body)
            .expect("the control API answers")
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the proxy");
        stream.set_read_timeout(Some(STEP)).expect("set a timeout");
        stream
    }

    /// Waits until `GET /backends` answers `expected`: counts change once both directions
    /// of a connection have ended, a moment after the client sees its end.
    fn wait_for_listing(&self, expected: &str) {
        let started = Instant::now();
        loop {
            let (status, listing) = self.control("GET", "/backends", "");
            assert_eq!(status, 200);
            if listing == expected {
                return;
            }
            assert!(
                started.elapsed() < STEP,
                "listing {listing:?}, expected {expected:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the proxy to exit on its own and returns whether it exited 0.
    fn wait_for_exit(&mut self) -> bool {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the proxy") {
                return status.success();
            }
            assert!(started.elapsed() < STEP, "the proxy did not exit");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The name line a backend greets with.
fn greeting(stream: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0];
    while byte[0] != b'\n' {
        stream.read_exact(&mut byte).expect("read the greeting");
        line.push(byte[0]);
    }
    String::from_utf8(line).expect("a name").trim_end().to_string()
}

fn echo(stream: &mut TcpStream, text: &str) -> String {
    stream.write_all(text.as_bytes()).expect("send");
    let mut back = vec![0; text.len()];
    stream.read_exact(&mut back).expect("read the echo");
    String::from_utf8(back).expect("text")
}

/// Half-closes and reads what is left: the backend ends once it sees the end.
fn finish(mut stream: TcpStream) -> Vec<u8> {
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("read to the end");
    rest
}

fn backend_of_new_connection(proxy: &Proxy) -> String {
    let mut stream = proxy.connect();
    let name = greeting(&mut stream);
    assert!(finish(stream).is_empty());
    name
}

#[test]
fn forwards_both_ways_and_passes_the_half_close_on() {
    let port = backends(false);
    let proxy = Proxy::start(port, &["--backend", A]);
    let mut stream = proxy.connect();
    assert_eq!(greeting(&mut stream), "a");
    assert_eq!(echo(&mut stream, "hello"), "hello");

    // More than socket buffers hold, so both directions must flow at once.
    let payload: Vec<u8> = (0..512 * 1024).map(|index| (index % 251) as u8).collect();
    let mut writer = stream.try_clone().expect("clone");
    let sent = payload.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).expect("send the payload");
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .expect("read the echo to the end");
    sender.join().expect("the sender finishes");
    assert!(received == payload, "the echo differs from what was sent");
    proxy.wait_for_listing(&format!("{A} current 0\n"));
}

#[test]
fn new_connections_take_turns_over_the_backends() {
    let port = backends(true);
    let proxy = Proxy::start(port, &["--backend", A, "--backend", B]);
    let names: Vec<String> = (0..4).map(|_| backend_of_new_connection(&proxy)).collect();
    assert_ne!(names[0], names[1], "{names:?}");
    assert_eq!(names[0], names[2], "{names:?}");
    assert_eq!(names[1], names[3], "{names:?}");
}

#[test]
fn switching_the_set_moves_new_connections_and_drains_the_old_backend() {
    let port = backends(true);
    let proxy = Proxy::start(port, &["--backend", A]);
    let mut old = proxy.connect();
    assert_eq!(greeting(&mut old), "a");

    assert_eq!(
        proxy.control("PUT", "/backends", &format!("{B}\n")),
        (200, format!("{B}\n"))
    );
    let mut new = proxy.connect();
    assert_eq!(greeting(&mut new), "b");
    proxy.wait_for_listing(&format!("{B} current 1\n{A} draining 1\n"));

    assert_eq!(echo(&mut old, "still there"), "still there");
    assert!(finish(old).is_empty());
    proxy.wait_for_listing(&format!("{B} current 1\n"));
    assert!(finish(new).is_empty());
    proxy.wait_for_listing(&format!("{B} current 0\n"));
}

#[test]
fn a_client_without_a_backend_is_held_until_one_is_put() {
    let port = backends(false);
    let proxy = Proxy::start(port, &["--hold-ms", "3000"]);
    let mut stream = proxy.connect();
    // Sent before any backend exists: the proxy's socket keeps it.
    stream.write_all(b"early").expect("send");
    thread::sleep(Duration::from_millis(300));
    assert_eq!(proxy.control("PUT", "/backends", A), (200, format!("{A}\n")));
    assert_eq!(greeting(&mut stream), "a");
    let mut early = [0; 5];
    stream.read_exact(&mut early).expect("read the echo");
    assert_eq!(&early, b"early");
    assert!(finish(stream).is_empty());
}

#[test]
fn a_held_client_is_closed_when_the_hold_time_is_over() {
    let port = backends(false);
    let proxy = Proxy::start(port, &["--hold-ms", "200"]);
    let started = Instant::now();
    let mut stream = proxy.connect();
    let mut rest = Vec::new();
    // Closed without an answer; a reset is as good as an end here.
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn a_refusing_backend_is_skipped_for_another() {
    // Nothing listens on 127.0.0.3 at this port.
    let port = backends(false);
    let proxy = Proxy::start(port, &["--backend", B, "--backend", A, "--hold-ms", "0"]);
    for _ in 0..4 {
        assert_eq!(backend_of_new_connection(&proxy), "a");
    }
    proxy.wait_for_listing(&format!("{B} current 0\n{A} current 0\n"));
}

/// In the resolve mode the set is what the name resolves to (an address literal here: the
/// unit tests of `resolve` look real names up), and the control API only lists it.
#[test]
fn a_resolved_set_is_followed_and_cannot_be_put() {
    let port = backends(false);
    let proxy = Proxy::start(port, &["--resolve", A, "--resolve-ms", "20"]);
    proxy.wait_for_listing(&format!("{A} current 0\n"));
    assert_eq!(backend_of_new_connection(&proxy), "a");
    let (status, message) = proxy.control("PUT", "/backends", B);
    assert_eq!(status, 409);
    assert!(
        message.contains(&format!("follows what {A} resolves to")),
        "{message}"
    );
    proxy.wait_for_listing(&format!("{A} current 0\n"));
}

#[test]
fn a_bad_set_is_refused_and_changes_nothing() {
    let port = backends(false);
    let proxy = Proxy::start(port, &["--backend", A]);
    let (status, message) = proxy.control("PUT", "/backends", "127.0.0.5\nweb-1\n");
    assert_eq!(status, 400);
    assert!(
        message.contains("line 2: \"web-1\" is not an IPv4 address"),
        "{message}"
    );
    assert_eq!(
        proxy.control("GET", "/backends", ""),
        (200, format!("{A} current 0\n"))
    );
    assert_eq!(backend_of_new_connection(&proxy), "a");

    assert_eq!(proxy.control("GET", "/nothing", "").0, 404);
    assert_eq!(proxy.control("POST", "/backends", "").0, 405);
    assert_eq!(proxy.control("PUT", "/backends", ""), (200, String::new()));
    assert_eq!(proxy.control("GET", "/backends", ""), (200, String::new()));
}

#[test]
fn sigterm_stops_accepting_lets_open_connections_finish_and_exits_0() {
    let port = backends(false);
    let mut proxy = Proxy::spawn(port, &["--backend", A, "--drain-ms", "5000"], Stdio::piped());
    let mut open = proxy.connect();
    assert_eq!(greeting(&mut open), "a");

    proxy.terminate();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", proxy.port)).is_ok() {
        assert!(started.elapsed() < STEP, "the proxy still accepts");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(100));
    assert!(
        proxy.child.try_wait().expect("poll").is_none(),
        "the proxy waits for the open connection"
    );
    assert_eq!(echo(&mut open, "finishing"), "finishing");
    assert!(finish(open).is_empty());
    assert!(proxy.wait_for_exit(), "the proxy exits 0");

    let mut log = String::new();
    let mut stdout = proxy.child.stdout.take().expect("piped stdout");
    stdout.read_to_string(&mut log).expect("read the log");
    assert!(log.contains(&format!("backends: {A}\n")), "{log}");
    assert!(log.ends_with("stack-proxy: stopped\n"), "{log}");
}

#[test]
fn sigterm_closes_what_is_still_open_after_the_drain_time() {
    let port = backends(false);
    let mut proxy = Proxy::start(port, &["--backend", A, "--drain-ms", "200"]);
    let mut open = proxy.connect();
    assert_eq!(greeting(&mut open), "a");
    let started = Instant::now();
    proxy.terminate();
    assert!(proxy.wait_for_exit(), "the proxy exits 0");
    assert!(started.elapsed() >= Duration::from_millis(200));
    let mut rest = Vec::new();
    let _ = open.read_to_end(&mut rest);
    assert!(rest.is_empty());
}
