//! A daemon that answers slowly: a unix socket that forwards to the real one, holding each
//! request back for a while (or for ever), for `DOCKER_HOST=unix://...`.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Bytes from the client after this much quiet start a new request.
const NEW_REQUEST_AFTER: Duration = Duration::from_millis(50);

/// The forwarder, listening until the test ends (its folder is removed on drop).
pub struct SlowDaemon {
    dir: tempfile::TempDir,
}

impl SlowDaemon {
    /// Delays each request by `delay` before the daemon sees it; `None` never forwards at all.
    pub fn start(delay: Option<Duration>) -> SlowDaemon {
        let dir = tempfile::Builder::new().prefix("stack-slow-").tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("docker.sock")).unwrap();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                std::thread::spawn(move || forward(client, delay));
            }
        });
        SlowDaemon { dir }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// What `DOCKER_HOST` is set to, to go through this forwarder.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
}

fn forward(mut client: UnixStream, delay: Option<Duration>) {
    let Some(delay) = delay else {
        // Read and never answer, until the client gives up.
        let mut sink = [0; 4096];
        while client.read(&mut sink).is_ok_and(|read| read > 0) {}
        return;
    };
    let Ok(mut daemon) = UnixStream::connect(DOCKER_SOCKET) else {
        return;
    };
    let (Ok(mut from_daemon), Ok(mut to_client)) = (daemon.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_daemon, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Write);
    });
    let mut buffer = vec![0; 1 << 16];
    let mut last = Instant::now() - NEW_REQUEST_AFTER;
    loop {
        let read = match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if last.elapsed() >= NEW_REQUEST_AFTER {
            std::thread::sleep(delay);
        }
        if daemon.write_all(&buffer[..read]).is_err() {
            break;
        }
        last = Instant::now();
    }
    let _ = daemon.shutdown(std::net::Shutdown::Write);
}
