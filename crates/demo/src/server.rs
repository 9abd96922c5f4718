//! The `serve` HTTP server: a thread per connection, one request per connection, and a
//! graceful stop on SIGTERM or `POST /shutdown`: stop accepting, let in-flight requests
//! finish, return. This is what a rolling update relies on: a replica being replaced refuses
//! new connections at once (clients go on to the next address of the service's name) and
//! finishes what it has started.

use std::io::{self, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, Response};
use crate::routes::{self, Config};

/// Connections served at once; more are answered 503 so a flood cannot exhaust threads.
const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stop waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the signal watcher looks at the flag the SIGTERM handler sets.
const SIGNAL_POLL: Duration = Duration::from_millis(10);

pub struct Server {
    listener: TcpListener,
    config: Arc<Config>,
    shutdown: ShutdownHandle,
    in_flight: Arc<AtomicUsize>,
}

/// Stops a running [`Server`] gracefully; cheap to clone.
#[derive(Clone)]
struct ShutdownHandle {
    requested: Arc<AtomicBool>,
    /// Where to connect to wake the blocked `accept`.
    wake_address: SocketAddr,
}

impl ShutdownHandle {
    fn shut_down(&self) {
        if !self.requested.swap(true, Ordering::SeqCst) {
            // The connection only wakes `accept`; the accept loop sees the flag and stops.
            let _ = TcpStream::connect_timeout(&self.wake_address, Duration::from_secs(1));
        }
    }

    fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

impl Server {
    pub fn bind(address: impl ToSocketAddrs, config: Config) -> io::Result<Server> {
        let listener = TcpListener::bind(address)?;
        let local = listener.local_addr()?;
        let wake_ip = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Ok(Server {
            listener,
            config: Arc::new(config),
            shutdown: ShutdownHandle {
                requested: Arc::new(AtomicBool::new(false)),
                wake_address: SocketAddr::new(wake_ip, local.port()),
            },
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Makes SIGTERM (what `docker stop` sends) take the graceful path.
    pub fn stop_on_sigterm(&self) -> io::Result<()> {
        let terminated = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminated))?;
        let shutdown = self.shutdown.clone();
        thread::spawn(move || {
            while !terminated.load(Ordering::SeqCst) {
                thread::sleep(SIGNAL_POLL);
            }
            shutdown.shut_down();
        });
        Ok(())
    }

    /// Serves until shut down, then waits for the requests in flight and returns.
    pub fn run(self) -> io::Result<()> {
        for connection in self.listener.incoming() {
            if self.shutdown.is_requested() {
                break;
            }
            let stream = match connection {
                Ok(stream) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    eprintln!("accept failed: {error}");
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if self.in_flight.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                let _ = Response::text(503, "too many connections\n").write_to(&mut &stream);
                continue;
            }
            let in_flight = InFlight::enter(&self.in_flight);
            let config = Arc::clone(&self.config);
            let shutdown = self.shutdown.clone();
            thread::spawn(move || {
                let _in_flight = in_flight;
                serve_connection(stream, &config, &shutdown);
            });
        }
        drop(self.listener);
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// Counts a connection as in flight until dropped, even if its thread panics.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: &Arc<AtomicUsize>) -> InFlight {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve_connection(stream: TcpStream, config: &Config, shutdown: &ShutdownHandle) {
    if stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .is_err()
    {
        return;
    }
    let request = match http::read_request(&mut BufReader::new(&stream)) {
        Ok(request) => request,
        Err(error) => {
            if let Some(response) = error.response() {
                let _ = response.write_to(&mut &stream);
            }
            return;
        }
    };
    let shutting_down = request.method == "POST" && request.path == "/shutdown";
    let response = if shutting_down {
        Response::text(200, "shutting down\n")
    } else {
        routes::route(&request, config)
    };
    // Health probes run every second: logging them would bury everything else.
    if !(request.path == "/health" && response.status == 200) {
        println!("{} {} {}", request.method, request.path, response.status);
    }
    let _ = response.write_to(&mut &stream);
    if shutting_down {
        shutdown.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{client, probe};
    use std::io::{Read, Write};
    use std::path::PathBuf;
    use std::sync::atomic::AtomicU32;

    /// A fresh folder under the system temp dir for one test (the demo has no dev-dependencies).
    fn scratch_dir(test: &str) -> PathBuf {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stack-demo-{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    struct Running {
        address: SocketAddr,
        thread: thread::JoinHandle<io::Result<()>>,
        dir: PathBuf,
    }

    impl Running {
        fn start(test: &str) -> Running {
            let dir = scratch_dir(test);
            let config = Config {
                name: "web".to_string(),
                version: "2.0".to_string(),
                fail_health: false,
                ready_at: std::time::Instant::now(),
                readable_roots: vec![dir.join("secrets"), dir.join("data")],
                data_dir: dir.join("data"),
            };
            let server = Server::bind("127.0.0.1:0", config).unwrap();
            let address = server.local_addr().unwrap();
            let thread = thread::spawn(move || server.run());
            Running { address, thread, dir }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.address)
        }

        fn get(&self, path: &str) -> (u16, String) {
            let reply = client::get(&self.url(path), Duration::from_secs(5)).unwrap();
            (reply.status, String::from_utf8(reply.body).unwrap())
        }

        fn send(&self, raw: &str) -> String {
            let mut stream = TcpStream::connect(self.address).unwrap();
            stream.write_all(raw.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        }

        fn stop(self) {
            assert!(
                self.send("POST /shutdown HTTP/1.1\r\n\r\n")
                    .starts_with("HTTP/1.1 200 OK")
            );
            self.thread.join().unwrap().unwrap();
            std::fs::remove_dir_all(&self.dir).unwrap();
        }
    }

    #[test]
    fn serves_the_routes_over_tcp() {
        let server = Running::start("routes");
        assert_eq!(server.get("/"), (200, "service=web version=2.0\n".to_string()));
        assert_eq!(server.get("/health"), (200, "ok\n".to_string()));
        assert_eq!(server.get("/env/CARGO_PKG_NAME"), (200, "stack-demo".to_string()));

        let put = server.send("PUT /data/greeting HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        assert!(put.starts_with("HTTP/1.1 201 Created\r\n"), "{put}");
        assert_eq!(server.get("/data/greeting"), (200, "hello".to_string()));
        assert_eq!(server.get("/data/missing").0, 404);

        std::fs::create_dir_all(server.dir.join("secrets")).unwrap();
        std::fs::write(server.dir.join("secrets/token"), "s3cret").unwrap();
        let secret = server.dir.join("secrets/token");
        assert_eq!(
            server.get(&format!("/file?path={}", secret.display())),
            (200, "s3cret".to_string())
        );

        let proxied = server.get(&format!("/proxy?url={}", server.url("/data/greeting")));
        assert_eq!(proxied, (200, "hello".to_string()));
        let unreachable = server.get("/proxy?url=http://127.0.0.1:1/");
        assert_eq!(unreachable.0, 502);

        assert!(server.send("garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));

        let timeout = Duration::from_secs(2);
        assert!(probe::check(&probe::Target::Http(server.url("/health")), timeout).is_ok());
        assert!(probe::check(&probe::Target::Http(server.url("/nope")), timeout).is_err());
        server.stop();
    }

    #[test]
    fn serves_requests_in_parallel() {
        let server = Running::start("parallel");
        // A client that sends half a request holds its connection; others must still be served.
        let mut slow = TcpStream::connect(server.address).unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        assert_eq!(server.get("/health").0, 200);
        slow.write_all(b"\r\n").unwrap();
        let mut answer = String::new();
        slow.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"));
        server.stop();
    }

    #[test]
    fn shutdown_finishes_requests_in_flight() {
        let server = Running::start("drain");
        let mut in_flight = TcpStream::connect(server.address).unwrap();
        in_flight.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        // Wait until the server counts the connection, so the stop must drain it.
        thread::sleep(Duration::from_millis(100));

        let answer = server.send("POST /shutdown HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        thread::sleep(Duration::from_millis(100));
        assert!(
            !server.thread.is_finished(),
            "the stop waits for the open request"
        );
        assert!(
            TcpStream::connect(server.address).is_err(),
            "no new connections after the stop"
        );

        in_flight.write_all(b"\r\n").unwrap();
        let mut finished = String::new();
        in_flight.read_to_string(&mut finished).unwrap();
        assert!(finished.starts_with("HTTP/1.1 200 OK"), "{finished}");
        server.thread.join().unwrap().unwrap();
        std::fs::remove_dir_all(&server.dir).unwrap();
    }
}
