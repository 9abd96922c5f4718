//! A stack's lock on the Docker daemon: a container named after the stack.
//!
//! The daemon creates a container name at most once, atomically, so "create
//! the container `stack-lock.<stack>`" is a test-and-set every client of the
//! daemon sees. The container is never started; its labels say who holds the
//! lock. Creating a container needs an image: an empty one is imported from a
//! tar the first time (nothing can be pulled).
//!
//! The stack's record (what it protects with `prevent-destroy`) is a
//! container of the same image, `stack-record.<stack>`, that stays.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use stack_docker::{ContainerSpec, DockerClient, DockerError, Labels};
use stack_provider::ProviderError;
use stack_provider::lock::{Holder, LockError, StackLock, StackRecord};

use crate::common::{self, error};

/// The image lock containers are made of: an empty file system.
const IMAGE: &str = "stack-lock:1";
/// An empty tar archive: two zero blocks of 512 bytes end it.
const EMPTY_TAR: [u8; 1024] = [0; 1024];
/// The label of that image, to find copies left untagged by concurrent imports.
const IMAGE_LABEL: &str = "dev.stack.lock-image";

/// The label naming the stack a lock is for; it is not `dev.stack.stack`, so
/// no provider ever reads a lock as an object of the stack.
const LOCK: &str = "dev.stack.lock";
const USER: &str = "dev.stack.lock.user";
const HOST: &str = "dev.stack.lock.host";
const PID: &str = "dev.stack.lock.pid";
const SINCE: &str = "dev.stack.lock.since";
const OPERATION: &str = "dev.stack.lock.operation";
/// The label naming the stack a record is for, and the one listing the
/// protected addresses (a JSON array).
const RECORD: &str = "dev.stack.record";
const PROTECTED: &str = "dev.stack.record.protected";

pub struct DockerLock {
    docker: Arc<DockerClient>,
}

impl DockerLock {
    pub fn new(docker: Arc<DockerClient>) -> DockerLock {
        DockerLock { docker }
    }

    async fn holder(&self, stack: &str, name: &str) -> Result<Option<(Holder, String)>, LockError> {
        let info = match self.docker.inspect_container(name).await {
            Ok(info) => info,
            // Released between our create and this inspect.
            Err(DockerError::NotFound { .. }) => return Ok(None),
            Err(failure) => return Err(LockError::Failed(error(failure))),
        };
        if info.labels.get(LOCK).map(String::as_str) != Some(stack) {
            return Err(LockError::Failed(
                ProviderError::new(format!(
                    "a container named `{name}` exists, but stack did not make it: it cannot lock stack `{stack}`"
                ))
                .with_hint(format!("rename or remove that container (`docker rm {name}`)")),
            ));
        }
        let label = |key: &str| info.labels.get(key).cloned().unwrap_or_default();
        let holder = Holder {
            user: label(USER),
            host: label(HOST),
            pid: label(PID).parse().unwrap_or(0),
            since: label(SINCE).parse().unwrap_or(0),
            operation: label(OPERATION),
        };
        Ok(Some((holder, info.id)))
    }
}

impl DockerLock {
    async fn import_image(&self) -> Result<(), ProviderError> {
        common::import_shared_image(&self.docker, EMPTY_TAR.to_vec(), IMAGE, IMAGE_LABEL).await
    }
}

/// The record of a stack: a container like the lock's, never started, kept between runs.
fn record_name(stack: &str) -> String {
    format!("stack-record.{stack}")
}

#[async_trait]
impl StackRecord for DockerLock {
    async fn protected(&self, stack: &str) -> Result<BTreeSet<String>, ProviderError> {
        let name = record_name(stack);
        match self.docker.inspect_container(&name).await {
            Ok(info) if info.labels.get(RECORD).map(String::as_str) == Some(stack) => Ok(info
                .labels
                .get(PROTECTED)
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default()),
            Ok(_) => Err(ProviderError::new(format!(
                "a container named `{name}` exists, but stack did not make it: it cannot keep the record of stack `{stack}`"
            ))
            .with_hint(format!("rename or remove that container (`docker rm {name}`)"))),
            Err(DockerError::NotFound { .. }) => Ok(BTreeSet::new()),
            Err(failure) => Err(error(failure)),
        }
    }

    /// Called under the stack's lock: removing and creating again cannot race another apply.
    async fn set_protected(&self, stack: &str, addresses: &BTreeSet<String>) -> Result<(), ProviderError> {
        let name = record_name(stack);
        match self.docker.remove_container(&name, true).await {
            Ok(()) | Err(DockerError::NotFound { .. }) => {}
            Err(failure) => return Err(error(failure)),
        }
        if addresses.is_empty() {
            return Ok(());
        }
        let protected =
            serde_json::to_string(addresses).map_err(|json| ProviderError::new(json.to_string()))?;
        let spec = ContainerSpec {
            name,
            image: IMAGE.to_owned(),
            command: Some(vec!["record".to_owned()]),
            labels: Labels::from([
                (RECORD.to_owned(), stack.to_owned()),
                (PROTECTED.to_owned(), protected),
            ]),
            ..ContainerSpec::default()
        };
        match self.docker.create_container(&spec).await {
            Ok(_) => Ok(()),
            Err(DockerError::NotFound { .. }) => {
                self.import_image().await?;
                self.docker.create_container(&spec).await.map(drop).map_err(error)
            }
            Err(failure) => Err(error(failure)),
        }
    }
}

fn container_name(stack: &str) -> String {
    // Stack names have no dots, so no object of any stack is named like this.
    format!("stack-lock.{stack}")
}

fn labels(stack: &str, holder: &Holder) -> Labels {
    Labels::from([
        (LOCK.to_owned(), stack.to_owned()),
        (USER.to_owned(), holder.user.clone()),
        (HOST.to_owned(), holder.host.clone()),
        (PID.to_owned(), holder.pid.to_string()),
        (SINCE.to_owned(), holder.since.to_string()),
        (OPERATION.to_owned(), holder.operation.clone()),
    ])
}

#[async_trait]
impl StackLock for DockerLock {
    async fn try_lock(&self, stack: &str, holder: &Holder) -> Result<String, LockError> {
        let name = container_name(stack);
        let spec = ContainerSpec {
            name: name.clone(),
            image: IMAGE.to_owned(),
            // Never run; the daemon only asks that there be a command.
            command: Some(vec!["lock".to_owned()]),
            labels: labels(stack, holder),
            ..ContainerSpec::default()
        };
        // A few rounds: the image may be missing, or the holder may release between two calls.
        for _ in 0..3 {
            match self.docker.create_container(&spec).await {
                Ok(id) => return Ok(id),
                Err(DockerError::NotFound { .. }) => self.import_image().await.map_err(LockError::Failed)?,
                Err(DockerError::Conflict { .. }) => {
                    if let Some((holder, token)) = self.holder(stack, &name).await? {
                        return Err(LockError::Held {
                            holder,
                            token,
                            hint: format!(
                                "wait for it to finish; if it was stopped for good, remove the lock with `docker rm {name}`"
                            ),
                        });
                    }
                }
                Err(failure) => return Err(LockError::Failed(error(failure))),
            }
        }
        Err(LockError::Failed(ProviderError::new(format!(
            "could not take the lock of stack `{stack}` (container `{name}`): it kept changing hands"
        ))))
    }

    async fn unlock(&self, _stack: &str, token: &str) -> Result<(), ProviderError> {
        // By id: a lock taken anew since has another id and stays.
        match self.docker.remove_container(token, true).await {
            Ok(()) | Err(DockerError::NotFound { .. }) => Ok(()),
            Err(failure) => Err(error(failure)),
        }
    }
}
