//! Connecting to the daemon: one client per process, pinned to the API version stack is tested on.

use std::time::Duration;

use bollard::{ClientVersion, Docker};

use crate::error::{DockerError, ObjectKind, ObjectRef, Result};

/// The Engine API version every request uses. Docker Engine 20.10 speaks 1.41; newer engines
/// still serve it, so pinning keeps the behaviour stack is tested against on every engine.
pub const API_VERSION: &str = "1.41";
const CLIENT_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";
/// A daemon that does not answer a ping this fast is taken as absent.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest any single request may take before its answer starts (stops wait for the
/// container's stop timeout within one request, so this stays generous).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What the daemon said about itself when we connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    /// The Docker Engine release, e.g. `20.10.24+dfsg1`.
    pub engine: String,
    /// The newest API version the engine speaks, e.g. `1.41`.
    pub api: String,
}

impl EngineVersion {
    /// Whether the engine speaks API `required` (`major.minor`), or a newer one.
    pub fn speaks_at_least(&self, required: &str) -> bool {
        match (parse_api(&self.api), parse_api(required)) {
            (Some(speaks), Some(required)) => speaks >= required,
            _ => false,
        }
    }
}

/// `GET /_ping`, by hand: its `Api-Version` and `Server` headers say what `GET /version` would,
/// which costs the daemon 10 to 40 ms more, and bollard's `ping` hands back only the body.
async fn ping(endpoint: &str) -> std::result::Result<EngineVersion, String> {
    const REQUEST: &[u8] = b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n";
    let head = exchange(endpoint, REQUEST, false)
        .await
        .map_err(|error| format!("the ping failed: {error}"))?;
    engine_version(&String::from_utf8_lossy(&head))
}

/// Sends `request` on a connection of its own to the daemon at `endpoint` and reads the answer:
/// its head, or the `whole` of it.
pub(crate) async fn exchange(
    endpoint: &str,
    request: &[u8],
    whole: bool,
) -> std::result::Result<Vec<u8>, String> {
    let exchanged = if let Some(address) = endpoint
        .strip_prefix("tcp://")
        .or_else(|| endpoint.strip_prefix("http://"))
    {
        let stream = tokio::net::TcpStream::connect(address.trim_end_matches('/'))
            .await
            .map_err(|error| error.to_string())?;
        read_answer(stream, request, whole).await
    } else {
        let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => format!("no socket at {path}"),
                _ => error.to_string(),
            })?;
        read_answer(stream, request, whole).await
    };
    exchanged.map_err(|error| error.to_string())
}

async fn read_answer(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    request: &[u8],
    whole: bool,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// The daemon's ping answer has a head of about 300 bytes.
    const MAX_HEAD: usize = 16 * 1024;
    stream.write_all(request).await?;
    let mut answer = Vec::new();
    if whole {
        stream.read_to_end(&mut answer).await?;
        return Ok(answer);
    }
    let mut buffer = [0; 1024];
    while !answer.windows(4).any(|window| window == b"\r\n\r\n") && answer.len() < MAX_HEAD {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    Ok(answer)
}

/// The engine and API versions in the head of a ping's answer.
fn engine_version(head: &str) -> std::result::Result<EngineVersion, String> {
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/") {
        return Err("the answer to a ping is not HTTP: is this a Docker daemon?".to_string());
    }
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("the daemon answered a ping with `{}`", status.trim()));
    }
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_string())
    };
    // `Server: Docker/20.10.24+dfsg1 (linux)`
    let engine = header("Server")
        .and_then(|server| {
            let release = server.strip_prefix("Docker/")?;
            Some(release.split_whitespace().next().unwrap_or(release).to_string())
        })
        .unwrap_or_default();
    Ok(EngineVersion {
        engine,
        api: header("Api-Version").unwrap_or_default(),
    })
}

fn parse_api(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A connection to one Docker daemon. Cheap to clone; every call is a request to the daemon.
#[derive(Debug, Clone)]
pub struct DockerClient {
    pub(crate) docker: Docker,
    endpoint: String,
    engine: EngineVersion,
}

impl DockerClient {
    /// Connects to `DOCKER_HOST`, or to the local socket when it is not set.
    pub async fn connect() -> Result<DockerClient> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_string());
        DockerClient::connect_to(&endpoint).await
    }

    /// Connects to `unix:///path` or plain `tcp://host:port` (no TLS), pings the daemon and
    /// checks its API version (from the ping's headers: no second request).
    pub async fn connect_to(endpoint: &str) -> Result<DockerClient> {
        let daemon = ObjectRef::new(ObjectKind::Daemon, endpoint);
        let wrap = |error| DockerError::from_bollard(error, daemon.clone(), endpoint, PING_TIMEOUT);
        let timeout = REQUEST_TIMEOUT.as_secs();
        let docker = if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
            Docker::connect_with_http(endpoint, timeout, &CLIENT_VERSION)
        } else {
            Docker::connect_with_unix(endpoint, timeout, &CLIENT_VERSION)
        }
        .map_err(wrap)?;

        let engine = tokio::time::timeout(PING_TIMEOUT, ping(endpoint))
            .await
            .map_err(|_| DockerError::DaemonUnavailable {
                endpoint: endpoint.to_string(),
                reason: format!("no answer to a ping within {}s", PING_TIMEOUT.as_secs()),
            })?
            .map_err(|reason| DockerError::DaemonUnavailable {
                endpoint: endpoint.to_string(),
                reason,
            })?;
        if !engine.speaks_at_least(API_VERSION) {
            return Err(DockerError::ApiTooOld {
                endpoint: endpoint.to_string(),
                found: engine.api,
                required: API_VERSION.to_string(),
            });
        }
        Ok(DockerClient {
            docker,
            endpoint: endpoint.to_string(),
            engine,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn engine_version(&self) -> &EngineVersion {
        &self.engine
    }

    /// Wraps a bollard error with the object the call was about.
    pub(crate) fn error(&self, object: ObjectRef) -> impl FnOnce(bollard::errors::Error) -> DockerError + '_ {
        move |error| DockerError::from_bollard(error, object, &self.endpoint, REQUEST_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_api_versions() {
        let speaks = |api: &str| EngineVersion {
            engine: String::new(),
            api: api.to_string(),
        };
        assert!(speaks("1.41").speaks_at_least(API_VERSION));
        assert!(speaks("1.51").speaks_at_least(API_VERSION));
        assert!(speaks("2.0").speaks_at_least(API_VERSION));
        assert!(!speaks("1.40").speaks_at_least(API_VERSION));
        assert!(!speaks("").speaks_at_least(API_VERSION));
    }

    #[test]
    fn the_versions_come_from_the_ping_headers() {
        let head = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\n\
                    Server: Docker/20.10.24+dfsg1 (linux)\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            engine_version(head),
            Ok(EngineVersion {
                engine: "20.10.24+dfsg1".to_string(),
                api: "1.41".to_string(),
            })
        );
        // An engine that names no API version is taken as too old, not as broken.
        let bare = engine_version("HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert!(!bare.speaks_at_least(API_VERSION));
        assert!(engine_version("HTTP/1.1 500 Internal Server Error\r\n\r\n").is_err());
        assert!(engine_version("SSH-2.0-OpenSSH\r\n").is_err());
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_as_an_unavailable_daemon() {
        let free_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = DockerClient::connect_to(&format!("tcp://127.0.0.1:{free_port}"))
            .await
            .unwrap_err();
        assert!(matches!(error, DockerError::DaemonUnavailable { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_silent_daemon_is_given_up_after_the_ping_timeout() {
        // Accepts connections and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("tcp://{}", silent.local_addr().unwrap());
        let error = DockerClient::connect_to(&endpoint).await.unwrap_err();
        assert!(
            error.to_string().contains("no answer to a ping within 3s"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_missing_socket_is_reported_as_an_unavailable_daemon() {
        let error = DockerClient::connect_to("unix:///nonexistent/docker.sock")
            .await
            .unwrap_err();
        assert!(matches!(error, DockerError::DaemonUnavailable { .. }), "{error}");
    }
}
