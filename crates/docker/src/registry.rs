//! Images from and to a registry: pull and push, with the credentials of the registry an image
//! reference names.

use std::fmt;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{CreateImageOptions, PushImageOptions};
use futures_util::StreamExt;

use crate::client::DockerClient;
use crate::error::{DockerError, Result};

/// The registry of references that name none: Docker Hub.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A user name and password for one registry. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"(sensitive)")
            .finish()
    }
}

/// Pull or push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Pull,
    Push,
}

impl Transfer {
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Transfer::Pull => "pulling",
            Transfer::Push => "pushing",
        }
    }

    pub(crate) fn preposition(self) -> &'static str {
        match self {
            Transfer::Pull => "from",
            Transfer::Push => "to",
        }
    }
}

/// Why a pull or push failed, in the cases a user acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryFailure {
    /// The registry has no such repository, tag or digest.
    NotFound,
    /// The registry wants credentials; `sent` says whether some were given.
    Unauthorized { sent: bool },
    /// No answer from the registry's address: the daemon's words.
    Unreachable(String),
    /// Anything else, in the daemon's words.
    Other(String),
}

impl fmt::Display for RegistryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryFailure::NotFound => f.write_str(
                "not found: the registry has no such image\n\
                 hint: check the repository and the tag or digest, and that it was pushed there",
            ),
            RegistryFailure::Unauthorized { sent: false } => f.write_str(
                "unauthorized: the registry asks for credentials, and none were found for it\n\
                 hint: `docker login` to it, or declare `registry \"HOST\" { username \"...\"; password \"${var.NAME}\" }` in the stack",
            ),
            RegistryFailure::Unauthorized { sent: true } => f.write_str(
                "unauthorized: the registry refused the credentials\n\
                 hint: check the user name and password given for it (the stack's `registry` block, else the Docker config)",
            ),
            RegistryFailure::Unreachable(reason) => write!(
                f,
                "unreachable: {reason}\n\
                 hint: check the registry's address and that it runs; a registry without TLS must be on 127.0.0.0/8 or listed in the daemon's `insecure-registries`"
            ),
            RegistryFailure::Other(reason) => f.write_str(reason),
        }
    }
}

impl RegistryFailure {
    /// Sorts what the daemon said about a failed transfer.
    fn classify(status: Option<u16>, message: String, sent: bool) -> RegistryFailure {
        let lower = message.to_lowercase();
        let any = |words: &[&str]| words.iter().any(|word| lower.contains(word));
        if any(&[
            "unauthorized",
            "no basic auth credentials",
            "authentication required",
            "denied",
        ]) {
            RegistryFailure::Unauthorized { sent }
        } else if status == Some(404) || any(&["not found", "manifest unknown", "name unknown"]) {
            RegistryFailure::NotFound
        } else if any(&[
            "connection refused",
            "no such host",
            "i/o timeout",
            "dial tcp",
            "http response to https client",
            "network is unreachable",
        ]) {
            RegistryFailure::Unreachable(message)
        } else {
            RegistryFailure::Other(message)
        }
    }
}

/// The registry an image reference names: its first part when that is a host (it has a `.`
/// or a `:`, or is `localhost`), else Docker Hub.
pub fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => DEFAULT_REGISTRY,
    }
}

impl DockerClient {
    /// Pulls `reference` (`name`, `name:tag` or `name@sha256:...`), telling `on_progress` each
    /// status line the daemon sends.
    pub async fn pull_image(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        mut on_progress: impl FnMut(&str),
    ) -> Result<()> {
        let (repository, tag) = split_pull_reference(reference);
        let options = CreateImageOptions {
            from_image: Some(repository.to_string()),
            tag: tag.map(str::to_string),
            ..Default::default()
        };
        let credentials = auth.map(|auth| credentials(auth, registry_of(reference)));
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| self.transfer_error(Transfer::Pull, reference, auth, error))?;
            if let Some(status) = info.status {
                on_progress(&progress_line(info.id.as_deref(), &status));
            }
        }
        Ok(())
    }

    /// Pushes `reference` (`host/repository:tag`, tagged on the daemon) and returns the digest
    /// the registry gave it (`sha256:...`).
    pub async fn push_image(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        mut on_progress: impl FnMut(&str),
    ) -> Result<String> {
        let (repository, tag) = split_pull_reference(reference);
        let options = PushImageOptions {
            tag: tag.map(str::to_string),
            ..Default::default()
        };
        let credentials = auth.map(|auth| credentials(auth, registry_of(reference)));
        let mut stream = self.docker.push_image(repository, Some(options), credentials);
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| self.transfer_error(Transfer::Push, reference, auth, error))?;
            if let Some(status) = info.status {
                // `TAG: digest: sha256:... size: N`
                if let Some(found) = status.split_whitespace().find(|word| word.starts_with("sha256:")) {
                    digest = Some(found.to_string());
                }
                on_progress(&status);
            }
        }
        digest.ok_or_else(|| DockerError::Registry {
            transfer: Transfer::Push,
            image: reference.to_string(),
            registry: registry_of(reference).to_string(),
            failure: RegistryFailure::Other(
                "the daemon did not report the pushed image's digest".to_string(),
            ),
        })
    }

    fn transfer_error(
        &self,
        transfer: Transfer,
        reference: &str,
        auth: Option<&RegistryAuth>,
        error: BollardError,
    ) -> DockerError {
        let (status, message) = match error {
            BollardError::DockerStreamError { error } => (None, error),
            BollardError::DockerResponseServerError { status_code, message } => (Some(status_code), message),
            error => return self.error(crate::ObjectRef::image(reference))(error),
        };
        DockerError::Registry {
            transfer,
            image: reference.to_string(),
            registry: registry_of(reference).to_string(),
            failure: RegistryFailure::classify(status, message, auth.is_some()),
        }
    }
}

fn credentials(auth: &RegistryAuth, registry: &str) -> DockerCredentials {
    DockerCredentials {
        username: Some(auth.username.clone()),
        password: Some(auth.password.clone()),
        serveraddress: Some(registry.to_string()),
        ..Default::default()
    }
}

/// `repository[:tag|@digest]` as the pull API takes it: the repository, and the tag or digest.
fn split_pull_reference(reference: &str) -> (&str, Option<&str>) {
    if let Some((repository, digest)) = reference.split_once('@') {
        return (repository, Some(digest));
    }
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
        _ => (reference, None),
    }
}

/// A status line of a transfer: `LAYER: Downloading` for a layer's, the status alone otherwise.
fn progress_line(id: Option<&str>, status: &str) -> String {
    match id {
        Some(id) if !id.is_empty() && !status.contains(id) => format!("{id}: {status}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_the_first_part_when_it_is_a_host() {
        assert_eq!(registry_of("redis:7"), "docker.io");
        assert_eq!(registry_of("library/redis"), "docker.io");
        assert_eq!(registry_of("shop/api:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/app"), "127.0.0.1:5000");
        assert_eq!(registry_of("ghcr.io/acme/api:1"), "ghcr.io");
        assert_eq!(registry_of("localhost/app@sha256:00"), "localhost");
    }

    #[test]
    fn references_split_into_repository_and_tag_or_digest() {
        assert_eq!(split_pull_reference("redis"), ("redis", None));
        assert_eq!(split_pull_reference("redis:7"), ("redis", Some("7")));
        assert_eq!(
            split_pull_reference("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", None)
        );
        assert_eq!(
            split_pull_reference("127.0.0.1:5000/app:2"),
            ("127.0.0.1:5000/app", Some("2"))
        );
        assert_eq!(
            split_pull_reference("127.0.0.1:5000/app@sha256:ab"),
            ("127.0.0.1:5000/app", Some("sha256:ab"))
        );
    }

    #[test]
    fn failures_are_sorted_from_the_daemons_words() {
        let classify =
            |status, message: &str, sent| RegistryFailure::classify(status, message.to_string(), sent);
        assert_eq!(
            classify(Some(404), "manifest for x:1 not found: manifest unknown", true),
            RegistryFailure::NotFound
        );
        assert_eq!(
            classify(
                Some(500),
                "Head \"http://127.0.0.1:5599/v2/probe/manifests/1\": no basic auth credentials",
                false
            ),
            RegistryFailure::Unauthorized { sent: false }
        );
        assert_eq!(
            classify(Some(500), "unauthorized: authentication required", true),
            RegistryFailure::Unauthorized { sent: true }
        );
        assert!(matches!(
            classify(
                Some(500),
                "Get \"http://127.0.0.1:5598/v2/\": dial tcp 127.0.0.1:5598: connect: connection refused",
                false
            ),
            RegistryFailure::Unreachable(_)
        ));
        assert!(matches!(
            classify(None, "disk full", false),
            RegistryFailure::Other(_)
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let auth = RegistryAuth {
            username: "ci".to_string(),
            password: "hunter2".to_string(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
