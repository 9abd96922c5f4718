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
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

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
    /// checks its API version.
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

        let unanswered = || DockerError::DaemonUnavailable {
            endpoint: endpoint.to_string(),
            reason: format!("no answer to a ping within {}s", PING_TIMEOUT.as_secs()),
        };
        tokio::time::timeout(PING_TIMEOUT, docker.ping())
            .await
            .map_err(|_| unanswered())?
            .map_err(wrap)?;
        let version = tokio::time::timeout(PING_TIMEOUT, docker.version())
            .await
            .map_err(|_| unanswered())?
            .map_err(wrap)?;

        let engine = EngineVersion {
            engine: version.version.unwrap_or_default(),
            api: version.api_version.unwrap_or_default(),
        };
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
