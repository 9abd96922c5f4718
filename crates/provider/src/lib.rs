//! The provider interface: one trait every resource kind implements.
//!
//! A provider turns an evaluated [`Resource`] into a [`Desired`] object (its
//! configuration, with references resolved and secrets hashed), reads the
//! live objects of its kind that belong to a stack ([`Live`]), and creates,
//! updates, replaces and deletes them. The plan compares `Desired::config`
//! with `Live::config` field by field using the kind's schema; the engine
//! calls the provider in graph order. Nothing above this trait knows how a
//! kind is realized on a daemon: a provider for another backend (Swarm, a
//! cloud) implements the same trait.

mod config;
mod error;
pub mod labels;
pub mod lock;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_language::schema::KindSchema;
use stack_language::{Address, Condition, Resource};

pub use config::{Config, Setting, salt, sensitive_hash, sensitive_mark, short_version, value_json};
pub use error::ProviderError;

/// What a resource should be, ready to compare and to apply.
#[derive(Clone)]
pub struct Desired {
    pub address: Address,
    pub kind: &'static KindSchema,
    /// The object's name on the daemon.
    pub name: String,
    /// What the plan compares and the object's labels keep. Sensitive values
    /// appear only as hashes.
    pub config: Config,
    /// Values dependents may use, by name; `"ref"` is how a reference to this
    /// resource reads in a dependent's configuration (an image's tag, a
    /// network's name).
    pub outputs: IndexMap<String, String>,
    /// Read-only and not planned: an object created outside the stack.
    pub external: bool,
    /// Where a value read when the stack is planned comes from (a secret's): the plan shows
    /// it instead of an object outside the stack.
    pub source: Option<Source>,
    /// What only the provider reads back when applying (a secret's content).
    pub payload: Option<Arc<dyn Any + Send + Sync>>,
}

impl Desired {
    /// What the provider that made this state left for itself, as the type it left.
    pub fn payload<T: Any>(&self) -> Option<&T> {
        self.payload.as_ref()?.downcast_ref::<T>()
    }
}

impl std::fmt::Debug for Desired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desired")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("config", &self.config)
            .field("outputs", &self.outputs)
            .field("external", &self.external)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Where a value read when the stack is planned comes from, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// The field that names the source: `from-env`, `from-file` or `from-command`.
    pub field: String,
    /// What it names: a variable, a path, a command line.
    pub name: String,
    /// A short version of the value read ([`short_version`]), which changes when it does.
    pub version: String,
}

/// An object of the stack as it is on the daemon.
#[derive(Debug, Clone)]
pub struct Live {
    pub address: Address,
    pub kind: &'static str,
    pub name: String,
    /// The configuration last applied, as the object's labels keep it.
    pub config: Config,
    /// Where the object differs from `config` by changes made outside stack.
    pub drift: Vec<Drift>,
    /// A short description of its state, for `stack status`.
    pub state: String,
    /// Whether the object is up and, where it has a probe, healthy.
    pub healthy: Option<bool>,
}

/// A difference between a live object and the configuration it was given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    pub field: String,
    pub expected: String,
    pub actual: String,
}

/// A configuration of an object that the provider keeps on the daemon, for `stack history`.
#[derive(Debug, Clone)]
pub struct Revision {
    /// `current`, or `previous` for the one `stack rollback` returns to.
    pub label: &'static str,
    /// When it was applied, as the daemon says (RFC 3339).
    pub applied: String,
    pub config: Config,
    /// Its state in a few words: `3 running`, `3 stopped`.
    pub state: String,
}

/// One unit that runs an object's process: a replica of a service, the run of a job. `stack
/// logs` reads its output and `stack exec` runs commands in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// How output names it: `web-2` (the replica's number after the service's name), `migrate`.
    pub label: String,
    /// The replica's number, from 1 (on a swarm, its task's slot); a job's run is 1.
    pub number: u32,
    /// What runs it: a container of the daemon, or a swarm's task.
    pub runner: Runner,
    pub running: bool,
    /// `None` when it has no health check the daemon runs.
    pub healthy: Option<bool>,
    /// How its process ended, once it has.
    pub exit_code: Option<i64>,
}

impl Instance {
    /// What the daemon calls it: the container's id, or the task's.
    pub fn id(&self) -> &str {
        match &self.runner {
            Runner::Container(id) => id,
            Runner::Task(task) => &task.id,
        }
    }

    /// Its container, by id, where the daemon `stack` talks to runs it; `None` for a task of
    /// another node, or one whose container is not made yet.
    pub fn container_here(&self) -> Option<&str> {
        match &self.runner {
            Runner::Container(id) => Some(id),
            Runner::Task(task) if task.node.as_ref().is_some_and(|node| node.here) => {
                task.container.as_deref()
            }
            Runner::Task(_) => None,
        }
    }
}

/// What runs an instance: where `stack logs` reads its output and `stack exec` reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// A container of the daemon `stack` talks to, by id.
    Container(String),
    /// A task of a swarm: its output is read through the manager, whichever node runs it, but
    /// only that node's daemon runs commands in its container.
    Task(Task),
}

/// A swarm's task, as `docker service ps` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    /// Its state as Swarm says it: `running`, `starting`, `complete`, `failed`, ...
    pub state: String,
    /// Its container, by id, once its node has made one.
    pub container: Option<String>,
    /// The node Swarm gave it to, once it has.
    pub node: Option<Node>,
}

/// A node of a swarm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub id: String,
    pub hostname: String,
    /// The address it joined the swarm from, when known.
    pub address: Option<String>,
    /// Whether it is a manager: `stack` can talk to its daemon as to the one it talks to.
    pub manager: bool,
    /// Whether it is the node whose daemon `stack` talks to.
    pub here: bool,
}

/// Resolves references to other resources while a resource's desired state is built.
pub trait Resolve: Sync {
    /// The desired state of a resource this one depends on.
    fn desired(&self, address: &Address) -> Option<&Desired>;
}

/// What every provider is given: the stack it works for.
#[derive(Debug, Clone)]
pub struct Scope {
    pub stack: String,
    /// How long to wait for an object to become ready.
    pub ready_timeout: Duration,
    /// The credentials the stack declares for registries (`registry "HOST" { ... }`).
    pub registries: Vec<RegistryLogin>,
}

/// A user name and password the stack gives for a registry. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    /// The registry's host, as image references name it: `ghcr.io`, `127.0.0.1:5000`.
    pub server: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"(sensitive)")
            .finish()
    }
}

/// Something a resource needs from elsewhere before the apply changes anything: an image the
/// host does not have, to pull from its registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Fetch {
    /// What is fetched, as the stack names it: `redis:7`.
    pub item: String,
    /// Where from: `docker.io`, `127.0.0.1:5000`.
    pub source: String,
}

/// One resource kind on one backend.
#[async_trait]
pub trait Provider: Send + Sync {
    fn schema(&self) -> &'static KindSchema;

    /// What `resource` should be. May read local inputs (a build context, a
    /// secret's source); every failure is a diagnostic naming the resource.
    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, stack_diagnostics::Diagnostic>;

    /// Every object of this kind that belongs to the stack.
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError>;

    /// Checks that an external object exists (and looks as declared).
    async fn read_external(&self, _scope: &Scope, _desired: &Desired) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Whether the daemon refuses to delete an object of this kind while its
    /// dependents' objects use it (a network containers are attached to, a
    /// volume they mount). Replacing one then replaces those dependents too:
    /// they are deleted before it and created again after it.
    fn held_by_dependents(&self) -> bool {
        false
    }

    /// What `desired` needs fetched before the apply changes anything (an image the host
    /// lacks). Asked at plan time for the resources the plan creates or changes; by default
    /// nothing.
    async fn fetches(&self, _scope: &Scope, _desired: &Desired) -> Result<Vec<Fetch>, ProviderError> {
        Ok(Vec::new())
    }

    /// Fetches what [`fetches`](Self::fetches) found, telling `progress` how it goes, in a
    /// phase before any change: a failure leaves everything as it was.
    async fn fetch(
        &self,
        _scope: &Scope,
        fetch: &Fetch,
        _progress: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<(), ProviderError> {
        Err(ProviderError::new(format!(
            "{} cannot be fetched: this provider fetches nothing",
            fetch.item
        )))
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError>;

    /// The outputs of `desired` once it has been created or changed, when applying settles what
    /// the plan could not know (the digest a registry gave a pushed image); `None` keeps the
    /// planned ones. The engine plans the dependents that read changed outputs again.
    async fn applied_outputs(
        &self,
        _scope: &Scope,
        _desired: &Desired,
    ) -> Result<Option<IndexMap<String, String>>, ProviderError> {
        Ok(None)
    }

    /// Applies changes whose effect is in place (and repairs drift).
    async fn update(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError>;

    /// Replaces the object; by default deletes it, then creates it again.
    async fn replace(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.delete(scope, live).await?;
        self.create(scope, desired).await
    }

    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError>;

    /// Finishes a rollout that paused on purpose (a canary): the whole object as `desired`.
    /// By default there is no such pause, and this is [`update`](Self::update).
    async fn resume(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.update(scope, desired, live).await
    }

    /// Puts back the configuration the object had before its last change (`stack rollback`,
    /// `stack rollout undo`); `desired` is what the files say now. By default providers keep
    /// no previous configuration.
    async fn roll_back(&self, _scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        Err(ProviderError::new(format!(
            "{}: a {} keeps no previous revision to roll back to",
            desired.address, desired.kind.name
        ))
        .with_hint("change the files back and apply them"))
    }

    /// The revisions kept of the object, the current one first; by default none.
    async fn history(&self, _scope: &Scope, _live: &Live) -> Result<Vec<Revision>, ProviderError> {
        Ok(Vec::new())
    }

    /// The instances that run the object's process, in the order of their numbers; stopped ones
    /// too. By default an object runs nothing.
    async fn instances(&self, _scope: &Scope, _address: &Address) -> Result<Vec<Instance>, ProviderError> {
        Ok(Vec::new())
    }

    /// Replaces every instance with a fresh one of the same configuration, as an update
    /// replaces them (`stack restart`). By default there is nothing to restart.
    async fn restart(&self, _scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        Err(ProviderError::new(format!(
            "{}: a {} runs nothing to restart",
            desired.address, desired.kind.name
        ))
        .with_hint("name a service"))
    }

    /// Runs the object now, whether or not it changed (`stack run`), and returns once the run
    /// has ended; `live` is the object as it is, if it exists. By default it cannot be run.
    async fn run(
        &self,
        _scope: &Scope,
        desired: &Desired,
        _live: Option<&Live>,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::new(format!(
            "{}: a {} cannot be run on demand",
            desired.address, desired.kind.name
        ))
        .with_hint("name a job"))
    }

    /// Waits until the object has reached `condition`; by default it has once it exists.
    async fn wait(
        &self,
        _scope: &Scope,
        _desired: &Desired,
        _condition: Condition,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The providers of a run, by kind.
#[derive(Default, Clone)]
pub struct Providers {
    providers: Vec<Arc<dyn Provider>>,
}

impl Providers {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        Providers { providers }
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Provider>> {
        self.providers
            .iter()
            .find(|provider| provider.schema().name == kind)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.iter()
    }

    /// The schema of every kind these providers implement.
    pub fn schema(&self) -> stack_language::schema::Schema {
        stack_language::schema::Schema::new(self.providers.iter().map(|provider| provider.schema()).collect())
    }
}
