//! The Docker daemon a command works against: the runtime, the providers,
//! the stack's lock and its record.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use stack_docker::{DockerClient, DockerError};
use stack_engine::describe_holder;
use stack_language::Stack;
use stack_provider::lock::{LockError, StackRecord};
use stack_provider::{ProviderError, Providers, Scope};
use stack_providers::DockerLock;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// How long apply waits for a resource to become started, healthy or completed.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Daemon {
    pub runtime: Runtime,
    pub providers: Providers,
    locks: DockerLock,
}

/// A connection being made while the command loads the stack files.
pub struct Connecting {
    runtime: Runtime,
    client: JoinHandle<Result<DockerClient, DockerError>>,
}

impl Connecting {
    /// The daemon, once connected; a daemon that does not answer is an error
    /// saying how to start it.
    pub fn connected(self) -> Result<Daemon, String> {
        let docker = self
            .runtime
            .block_on(self.client)
            .map_err(|error| format!("connecting to the Docker daemon failed: {error}"))?
            .map_err(|error| error.to_string())?;
        Ok(Daemon {
            locks: DockerLock::new(Arc::new(docker.clone())),
            providers: stack_providers::builtin(docker),
            runtime: self.runtime,
        })
    }
}

impl Daemon {
    /// Starts connecting to the daemon (`DOCKER_HOST` or the local socket) in
    /// the background, so the connection is made while the files load.
    pub fn connect() -> Result<Connecting, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the async runtime: {error}"))?;
        let client = runtime.spawn(DockerClient::connect());
        Ok(Connecting { runtime, client })
    }

    pub fn scope(stack: &Stack) -> Scope {
        Scope {
            stack: stack.name.clone(),
            ready_timeout: READY_TIMEOUT,
        }
    }

    /// Runs `work` holding the lock of `stack`, so that no other apply or
    /// destroy of it interleaves; the lock is released whatever `work` returns.
    pub async fn locked<T>(
        &self,
        stack: &str,
        operation: &str,
        work: impl Future<Output = T>,
    ) -> Result<T, String> {
        let lock = stack_engine::lock(&self.locks, stack, operation)
            .await
            .map_err(|error| match error {
                LockError::Held { holder, hint, .. } => {
                    format!(
                        "stack `{stack}` is locked by {}\nhint: {hint}",
                        describe_holder(&holder)
                    )
                }
                LockError::Failed(error) => with_hint(&error),
            })?;
        if let Some(stale) = &lock.took_over {
            eprintln!(
                "warning: took over the lock of stack `{stack}` from {}: that process is gone",
                describe_holder(stale)
            );
        }
        let result = work.await;
        if let Err(error) = lock.release().await {
            eprintln!(
                "warning: could not release the lock of stack `{stack}`: {}",
                with_hint(&error)
            );
        }
        Ok(result)
    }

    /// The addresses the last apply of `stack` protected with `prevent-destroy`.
    pub async fn recorded(&self, stack: &str) -> Result<BTreeSet<String>, String> {
        self.locks
            .protected(stack)
            .await
            .map_err(|error| with_hint(&error))
    }

    /// Records `protected` as what `stack` protects, when it differs from `recorded`.
    pub async fn record(
        &self,
        stack: &str,
        recorded: &BTreeSet<String>,
        protected: &BTreeSet<String>,
    ) -> Result<(), String> {
        if recorded == protected {
            return Ok(());
        }
        self.locks.set_protected(stack, protected).await.map_err(|error| {
            format!(
                "cannot record what stack `{stack}` protects: {}",
                with_hint(&error)
            )
        })
    }
}

/// A provider's error with its hint on a line of its own.
pub fn with_hint(error: &ProviderError) -> String {
    match &error.hint {
        Some(hint) => format!("{}\nhint: {hint}", error.message),
        None => error.message.clone(),
    }
}
