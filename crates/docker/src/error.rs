//! One error type for every daemon call, naming the object the call was about.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bollard::errors::Error as BollardError;

use crate::registry::{RegistryFailure, Transfer};

pub type Result<T, E = DockerError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Container,
    Network,
    Volume,
    Image,
    /// A Swarm service.
    Service,
    /// A Swarm secret.
    Secret,
    /// A Swarm task: one run of a service's replica or a job.
    Task,
    /// The daemon itself (ping, version).
    Daemon,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Container => "container",
            ObjectKind::Network => "network",
            ObjectKind::Volume => "volume",
            ObjectKind::Image => "image",
            ObjectKind::Service => "service",
            ObjectKind::Secret => "secret",
            ObjectKind::Task => "task",
            ObjectKind::Daemon => "Docker daemon",
        })
    }
}

/// The object a failed call was about, as the caller named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, name: impl Into<String>) -> ObjectRef {
        ObjectRef {
            kind,
            name: name.into(),
        }
    }

    pub fn container(name: impl Into<String>) -> ObjectRef {
        ObjectRef::new(ObjectKind::Container, name)
    }

    pub fn network(name: impl Into<String>) -> ObjectRef {
        ObjectRef::new(ObjectKind::Network, name)
    }

    pub fn volume(name: impl Into<String>) -> ObjectRef {
        ObjectRef::new(ObjectKind::Volume, name)
    }

    pub fn image(name: impl Into<String>) -> ObjectRef {
        ObjectRef::new(ObjectKind::Image, name)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ObjectKind::Daemon => write!(f, "the Docker daemon at {}", self.name),
            kind => write!(f, "{kind} `{}`", self.name),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "the Docker daemon is not reachable at {endpoint}: {reason}\n\
         hint: start it (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd), \
         check that you may use its socket (the `docker` group), or point DOCKER_HOST at it"
    )]
    DaemonUnavailable { endpoint: String, reason: String },

    #[error(
        "the Docker daemon at {endpoint} speaks API {found}, older than {required}: \
         upgrade to Docker Engine 20.10 or newer"
    )]
    ApiTooOld {
        endpoint: String,
        found: String,
        required: String,
    },

    #[error("{object} does not exist")]
    NotFound { object: ObjectRef },

    /// The name is taken by another object of the same kind.
    #[error("{object} already exists: {message}")]
    Conflict { object: ObjectRef, message: String },

    /// The object cannot be removed or changed while something uses it (a running container,
    /// a network with endpoints, a volume mounted by a container).
    #[error("{object} is in use: {message}")]
    InUse { object: ObjectRef, message: String },

    /// Start failed because a published host port is taken; the container stays `created`.
    #[error("{object} cannot publish its ports: {message}")]
    PortAllocated { object: ObjectRef, message: String },

    #[error("{object}: the Docker daemon refused a parameter: {message}")]
    BadParameter { object: ObjectRef, message: String },

    #[error("{object}: gave up after {}s waiting to {action}", after.as_secs_f32())]
    Timeout {
        object: ObjectRef,
        action: String,
        after: Duration,
    },

    /// The container reported unhealthy, or stopped, while we waited for it to become healthy.
    #[error("{object} is not healthy: {reason}")]
    Unhealthy { object: ObjectRef, reason: String },

    #[error("building {object} failed: {message}{}", log_excerpt(log_tail))]
    BuildFailed {
        object: ObjectRef,
        message: String,
        log_tail: Vec<String>,
    },

    /// A local file the call needed (a build context) could not be read.
    #[error("{object}: cannot read {}: {source}", path.display())]
    LocalFile {
        object: ObjectRef,
        path: PathBuf,
        source: io::Error,
    },

    /// A pull or push the registry (or the way to it) refused.
    #[error("{} image `{image}` {} registry {registry} failed: {failure}", transfer.verb(), transfer.preposition())]
    Registry {
        transfer: Transfer,
        image: String,
        registry: String,
        failure: RegistryFailure,
    },

    /// Any other answer of the daemon, with its own words.
    #[error("{object}: the Docker daemon answered {status}: {message}")]
    Daemon {
        object: ObjectRef,
        status: u16,
        message: String,
    },

    /// The answer could not be read (a broken stream, unexpected JSON).
    #[error("{object}: {source}")]
    Client { object: ObjectRef, source: BollardError },
}

fn log_excerpt(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!("\nlast lines of the build log:\n  {}", lines.join("\n  "))
}

impl DockerError {
    /// The object the failed call was about, when there is one.
    pub fn object(&self) -> Option<&ObjectRef> {
        match self {
            DockerError::DaemonUnavailable { .. }
            | DockerError::ApiTooOld { .. }
            | DockerError::Registry { .. } => None,
            DockerError::NotFound { object }
            | DockerError::Conflict { object, .. }
            | DockerError::InUse { object, .. }
            | DockerError::PortAllocated { object, .. }
            | DockerError::BadParameter { object, .. }
            | DockerError::Timeout { object, .. }
            | DockerError::Unhealthy { object, .. }
            | DockerError::BuildFailed { object, .. }
            | DockerError::LocalFile { object, .. }
            | DockerError::Daemon { object, .. }
            | DockerError::Client { object, .. } => Some(object),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::NotFound { .. })
    }

    /// The id of the container that keeps an image from being removed, as the daemon names it
    /// ("container 827a7ad86c3a is using its referenced image", "being used by running
    /// container 827a7ad86c3a").
    pub fn using_container(&self) -> Option<&str> {
        let DockerError::InUse { message, .. } = self else {
            return None;
        };
        let (_, after) = message.split_once("container ")?;
        let id = after.split(|c: char| !c.is_ascii_hexdigit()).next()?;
        (!id.is_empty()).then_some(id)
    }

    /// Turns what bollard reports into the error a user can act on.
    pub(crate) fn from_bollard(
        error: BollardError,
        object: ObjectRef,
        endpoint: &str,
        timeout: Duration,
    ) -> Self {
        let unavailable = |reason: String| DockerError::DaemonUnavailable {
            endpoint: endpoint.to_string(),
            reason,
        };
        match error {
            BollardError::DockerResponseServerError { status_code, message } => {
                classify_answer(status_code, message, object)
            }
            BollardError::RequestTimeoutError => DockerError::Timeout {
                object,
                action: "for the daemon's answer".to_string(),
                after: timeout,
            },
            BollardError::SocketNotFoundError(path) => unavailable(format!("no socket at {path}")),
            BollardError::HyperLegacyError { err } if err.is_connect() => unavailable(source_chain(&err)),
            BollardError::IOError { err } if is_connection_error(&err) => unavailable(err.to_string()),
            source => DockerError::Client { object, source },
        }
    }
}

/// Maps an error answer by status, refined by the daemon's message where one status covers
/// several causes (409 is both "name taken" and "in use"; 500 carries port conflicts).
fn classify_answer(status: u16, message: String, object: ObjectRef) -> DockerError {
    let lower = message.to_lowercase();
    match status {
        404 => DockerError::NotFound { object },
        _ if lower.contains("port is already allocated") || lower.contains("address already in use") => {
            DockerError::PortAllocated { object, message }
        }
        // A swarm answers 400 for a secret or network a service uses.
        400 if lower.contains("is in use by") => DockerError::InUse { object, message },
        409 | 403
            if lower.contains("in use") && !lower.contains("already in use")
                || lower.contains("active endpoints")
                || lower.contains("running container")
                || lower.contains("is using its referenced image")
                || lower.contains("is being used by") =>
        {
            DockerError::InUse { object, message }
        }
        409 => DockerError::Conflict { object, message },
        400 => DockerError::BadParameter { object, message },
        // Engine 20.10 answers some invalid values (a subnet that is no CIDR) with 500.
        500 if lower.contains("invalid") => DockerError::BadParameter { object, message },
        _ => DockerError::Daemon {
            object,
            status,
            message,
        },
    }
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
    )
}

/// hyper's connect errors hide the useful part ("Connection refused") in their sources.
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, message: &str) -> DockerError {
        classify_answer(status, message.to_string(), ObjectRef::container("web"))
    }

    #[test]
    fn classifies_daemon_answers() {
        assert!(answer(404, "No such container: web").is_not_found());
        assert!(matches!(
            answer(
                409,
                r#"Conflict. The container name "/web" is already in use by container "1234""#
            ),
            DockerError::Conflict { .. }
        ));
        assert!(matches!(
            answer(409, "remove data: volume is in use - [1234]"),
            DockerError::InUse { .. }
        ));
        assert!(matches!(
            answer(
                409,
                "You cannot remove a running container 1234. Stop the container before attempting removal or force remove"
            ),
            DockerError::InUse { .. }
        ));
        for image_in_use in [
            r#"conflict: unable to remove repository reference "app:1" (must force) - container 827a7ad86c3a is using its referenced image 17304d61ac53"#,
            "conflict: unable to delete 17304d61ac53 (cannot be forced) - image is being used by running container 827a7ad86c3a",
        ] {
            let error = answer(409, image_in_use);
            assert!(matches!(error, DockerError::InUse { .. }), "{error}");
            assert_eq!(error.using_container(), Some("827a7ad86c3a"));
        }
        assert_eq!(
            answer(409, "remove data: volume is in use - [1234]").using_container(),
            None
        );
        assert!(matches!(
            answer(
                403,
                "error while removing network: network net id 12 has active endpoints"
            ),
            DockerError::InUse { .. }
        ));
        // A swarm's answers, for a secret and a network that a service uses.
        for swarm_in_use in [
            "rpc error: code = InvalidArgument desc = secret 's1' is in use by the following service: api",
            "rpc error: code = FailedPrecondition desc = network 1h98f67 is in use by service 05086gld",
        ] {
            assert!(matches!(answer(400, swarm_in_use), DockerError::InUse { .. }));
        }
        assert!(matches!(
            answer(400, "invalid name"),
            DockerError::BadParameter { .. }
        ));
        assert!(matches!(
            answer(
                500,
                "driver failed programming external connectivity on endpoint web: Bind for 0.0.0.0:8080 failed: port is already allocated"
            ),
            DockerError::PortAllocated { .. }
        ));
        assert!(matches!(
            answer(400, "invalid CIDR address: x"),
            DockerError::BadParameter { .. }
        ));
        assert!(matches!(
            answer(500, "Invalid subnet x : invalid CIDR address: x"),
            DockerError::BadParameter { .. }
        ));
        assert!(matches!(
            answer(500, "something else"),
            DockerError::Daemon { status: 500, .. }
        ));
    }

    #[test]
    fn messages_name_the_object() {
        assert_eq!(
            answer(404, "No such container: web").to_string(),
            "container `web` does not exist"
        );
        let build = DockerError::BuildFailed {
            object: ObjectRef::image("app:1"),
            message: "The command '/bin/sh -c false' returned a non-zero code: 1".to_string(),
            log_tail: vec!["Step 2/2 : RUN false".to_string()],
        };
        assert_eq!(
            build.to_string(),
            "building image `app:1` failed: The command '/bin/sh -c false' returned a non-zero code: 1\n\
             last lines of the build log:\n  Step 2/2 : RUN false"
        );
    }

    #[test]
    fn a_missing_socket_says_how_to_start_the_daemon() {
        let error = DockerError::from_bollard(
            BollardError::SocketNotFoundError("/nowhere.sock".to_string()),
            ObjectRef::new(ObjectKind::Daemon, "unix:///nowhere.sock"),
            "unix:///nowhere.sock",
            Duration::from_secs(1),
        );
        let text = error.to_string();
        assert!(
            text.contains("not reachable at unix:///nowhere.sock: no socket at /nowhere.sock"),
            "{text}"
        );
        assert!(text.contains("systemctl start docker"), "{text}");
        assert_eq!(error.object(), None);
    }
}
