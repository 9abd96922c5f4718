//! The Docker daemon a command works against: the runtime, the providers,
//! the stack's lock and its record.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use stack_docker::{DockerClient, DockerError, SwarmRole};
use stack_engine::{LiveRead, describe_holder};
use stack_language::{Options, Stack, Target};
use stack_provider::lock::{LockError, StackRecord};
use stack_provider::{ProviderError, Providers, RegistryLogin, Scope};
use stack_providers::DockerLock;

use crate::external::ExternalProviders;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// How long apply waits for a resource to become started, healthy or completed.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Daemon {
    pub runtime: Runtime,
    /// The built-in providers and those outside the binary.
    pub providers: Providers,
    /// For what reads a container's output or runs commands in it, which no provider does.
    pub docker: DockerClient,
    /// The providers outside the binary alone: what the read ahead did not read.
    external: Providers,
    locks: DockerLock,
    ahead: Mutex<Option<ReadAhead>>,
}

/// What a plan reads of a stack, read while the files loaded, under the name
/// the stack was likely to have.
struct ReadAhead {
    stack: String,
    live: Option<LiveRead>,
    recorded: Option<Result<BTreeSet<String>, String>>,
}

/// A connection being made while the command loads the stack files.
pub struct Connecting {
    runtime: Runtime,
    /// `--target`, which wins over the files.
    asked: Option<Target>,
    connected: JoinHandle<Result<Connected, DockerError>>,
}

struct Connected {
    /// The target the providers (and what they read ahead) are for: `--target`, else the
    /// default, until the files say otherwise.
    target: Target,
    providers: Providers,
    docker: DockerClient,
    locks: DockerLock,
    ahead: Option<ReadAhead>,
    /// The daemon's place in a swarm, read beside the rest when the target is a swarm.
    role: Option<Result<SwarmRole, DockerError>>,
}

impl Connecting {
    /// The daemon, once connected, with the providers outside the binary the stack declares,
    /// configured; a daemon that does not answer is an error saying how to start it.
    pub fn connected(self, external: &ExternalProviders, stack: &Stack) -> Result<Daemon, String> {
        let mut connected = self
            .runtime
            .block_on(self.connected)
            .map_err(|error| format!("connecting to the Docker daemon failed: {error}"))?
            .map_err(|error| error.to_string())?;
        let target = self.asked.or(stack.target).unwrap_or_default();
        if target != connected.target {
            // The files chose another target than the one assumed: what was read is not its.
            connected.providers = builtin(target, connected.docker.clone());
            connected.ahead = None;
        }
        if target == Target::Swarm {
            let chosen_by = match (self.asked, &stack.environment) {
                (None, Some(environment)) => {
                    format!("the overlays of environment `{environment}` say `target \"swarm\"`")
                }
                _ => "--target swarm".to_owned(),
            };
            let role = match connected.role.take() {
                Some(role) => role,
                None => self.runtime.block_on(connected.docker.swarm_role()),
            };
            ensure_manager(&connected.docker, role, &chosen_by)?;
        }
        let outside = external.providers();
        if !outside.is_empty() {
            self.runtime.block_on(external.configure(stack));
        }
        let providers = connected.providers.iter().chain(&outside).cloned().collect();
        Ok(Daemon {
            runtime: self.runtime,
            providers: Providers::new(providers),
            docker: connected.docker,
            external: Providers::new(outside),
            locks: connected.locks,
            ahead: Mutex::new(connected.ahead),
        })
    }
}

impl Daemon {
    /// Starts connecting to the daemon (`DOCKER_HOST` or the local socket) in
    /// the background, so the connection is made while the files load. `asked` is the
    /// target of the command line (`--target`).
    pub fn connect(asked: Option<Target>) -> Result<Connecting, String> {
        Daemon::connect_and_read(None, asked.unwrap_or_default(), asked)
    }

    /// [`Daemon::connect`], and once connected, reads what a plan of the stack at
    /// `path` reads: its live objects and its record, under the name and for the target it
    /// most likely has (a look at its files while they load). Apply and destroy must read them
    /// under the stack's lock: only commands that take no lock read ahead.
    pub fn connect_reading(
        path: &Path,
        options: &Options,
        asked: Option<Target>,
    ) -> Result<Connecting, String> {
        let likely = stack_language::likely_name(path, options);
        let target = asked.unwrap_or_else(|| stack_language::likely_target(path, options));
        Daemon::connect_and_read(Some(likely), target, asked)
    }

    fn connect_and_read(
        likely: Option<String>,
        target: Target,
        asked: Option<Target>,
    ) -> Result<Connecting, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the async runtime: {error}"))?;
        let connected = runtime.spawn(async move {
            let docker = DockerClient::connect().await?;
            let locks = DockerLock::new(Arc::new(docker.clone()));
            let providers = builtin(target, docker.clone());
            // Whether the daemon can take a swarm's calls is asked while the rest is read.
            let role = async {
                match target {
                    Target::Swarm => Some(docker.swarm_role().await),
                    Target::Engine => None,
                }
            };
            let ahead = async {
                match likely {
                    Some(stack) => {
                        let scope = Daemon::scope_of(stack.clone());
                        let (live, recorded) = tokio::join!(
                            stack_engine::read_live(&providers, &scope),
                            protected(&locks, &stack)
                        );
                        Some(ReadAhead {
                            stack,
                            live: Some(live),
                            recorded: Some(recorded),
                        })
                    }
                    None => None,
                }
            };
            let (role, ahead) = tokio::join!(role, ahead);
            Ok(Connected {
                target,
                providers,
                docker,
                locks,
                ahead,
                role,
            })
        });
        Ok(Connecting {
            runtime,
            asked,
            connected,
        })
    }

    pub fn scope(stack: &Stack) -> Scope {
        let mut scope = Daemon::scope_of(stack.name.clone());
        scope.registries = stack
            .registries
            .iter()
            .filter_map(|registry| {
                Some(RegistryLogin {
                    server: registry.server.clone(),
                    username: registry.username.as_str()?.to_owned(),
                    password: registry.password.as_str()?.to_owned(),
                })
            })
            .collect();
        scope
    }

    fn scope_of(stack: String) -> Scope {
        Scope {
            stack,
            ready_timeout: READY_TIMEOUT,
            registries: Vec::new(),
        }
    }

    /// The live objects of `scope`'s stack: those read ahead when they were
    /// of this stack, else read now.
    pub async fn read_live(&self, scope: &Scope) -> LiveRead {
        match self.take_ahead(&scope.stack, |ahead| ahead.live.take()) {
            Some(mut live) => {
                live.extend(stack_engine::read_live(&self.external, scope).await);
                live
            }
            None => stack_engine::read_live(&self.providers, scope).await,
        }
    }

    /// What the read ahead holds of `stack`, taken out of it.
    fn take_ahead<T>(&self, stack: &str, take: impl FnOnce(&mut ReadAhead) -> Option<T>) -> Option<T> {
        let mut ahead = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
        ahead.as_mut().filter(|ahead| ahead.stack == stack).and_then(take)
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
        match self.take_ahead(stack, |ahead| ahead.recorded.take()) {
            Some(recorded) => recorded,
            None => protected(&self.locks, stack).await,
        }
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

/// The built-in providers of `target`: the target is nothing but this choice.
fn builtin(target: Target, docker: DockerClient) -> Providers {
    match target {
        Target::Engine => stack_providers::builtin(docker),
        Target::Swarm => stack_providers_swarm::builtin(docker),
    }
}

/// The Swarm target needs a manager of an active swarm: it takes the services API calls.
fn ensure_manager(
    docker: &DockerClient,
    role: Result<SwarmRole, DockerError>,
    chosen_by: &str,
) -> Result<(), String> {
    let role = role.map_err(|error| error.to_string())?;
    if role.is_active_manager() {
        return Ok(());
    }
    let endpoint = docker.endpoint();
    let why = match (role.state.as_str(), role.manager) {
        ("inactive", _) => format!("the Docker daemon at {endpoint} is not part of a swarm"),
        ("active", false) => {
            format!("the Docker daemon at {endpoint} is a worker of a swarm, not a manager")
        }
        (state, _) => format!(
            "the swarm of the Docker daemon at {endpoint} is {state}{}",
            role.error.map(|error| format!(": {error}")).unwrap_or_default()
        ),
    };
    Err(format!(
        "the target is `swarm` ({chosen_by}), but {why}
         hint: make this daemon a single-node swarm with `docker swarm init --advertise-addr ADDRESS`          (an address of this host the other nodes reach), point DOCKER_HOST at a manager of your swarm,          or apply to one engine with `--target engine`"
    ))
}

async fn protected(locks: &DockerLock, stack: &str) -> Result<BTreeSet<String>, String> {
    locks.protected(stack).await.map_err(|error| with_hint(&error))
}

/// A provider's error with its hint on a line of its own.
pub fn with_hint(error: &ProviderError) -> String {
    match &error.hint {
        Some(hint) => format!("{}\nhint: {hint}", error.message),
        None => error.message.clone(),
    }
}
