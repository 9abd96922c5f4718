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

pub use config::{Config, Setting, salt, value_json};
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
            .finish_non_exhaustive()
    }
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

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError>;

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
