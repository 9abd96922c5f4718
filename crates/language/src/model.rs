//! The evaluated stack: what later phases (graph, plan, apply) work from.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use stack_diagnostics::Span;

use crate::schema::KindSchema;
use crate::{Address, Value};

/// A stack after evaluation, for one environment.
#[derive(Debug)]
pub struct Stack {
    pub name: String,
    /// The environment whose overlays were applied, if any.
    pub environment: Option<String>,
    /// Where the stack is applied, when an overlay of the environment says (`target "swarm"`);
    /// `--target` wins over it, and without either it is [`Target::Engine`].
    pub target: Option<Target>,
    /// Every resource, the root's and the modules', in file order.
    pub resources: IndexMap<Address, Resource>,
    /// The root's outputs.
    pub outputs: IndexMap<String, Value>,
    /// The credentials the stack gives for registries, in file order.
    pub registries: Vec<Registry>,
    /// The configuration of each provider outside the binary, by name: its `provider` block
    /// evaluated as a resource of kind `provider`. Resources of its kinds depend on what it
    /// references.
    pub providers: IndexMap<String, Resource>,
}

/// What a stack is applied to: the same files, another set of providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// One Docker engine: services are containers, behind the stack's own proxy.
    #[default]
    Engine,
    /// A Docker swarm, through one of its managers: services are Swarm services.
    Swarm,
}

impl Target {
    /// Every target, as files and the command line name them.
    pub const NAMES: &[&str] = &["engine", "swarm"];

    pub fn parse(name: &str) -> Option<Target> {
        match name {
            "engine" => Some(Target::Engine),
            "swarm" => Some(Target::Swarm),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::Engine => "engine",
            Target::Swarm => "swarm",
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `registry "HOST" { username "..."; password "${var.NAME}" }`: how to log in to a registry.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The registry's host, as image references name it: `ghcr.io`, `127.0.0.1:5000`.
    pub server: String,
    pub span: Span,
    pub username: Value,
    /// From a sensitive variable: never shown.
    pub password: Value,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub address: Address,
    pub kind: &'static KindSchema,
    /// The resource's name in its declaration.
    pub span: Span,
    /// The directory of the declaring file: relative paths (contexts, binds) start there.
    pub dir: PathBuf,
    /// The fields set in the file (defaults are not filled in), evaluated and type-checked.
    pub fields: IndexMap<String, Value>,
    /// What this resource needs first, deduplicated, in file order.
    pub dependencies: Vec<Dependency>,
}

impl Resource {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The items of a repeatable field (`port`, `network`, ...).
    pub fn items(&self, name: &str) -> &[Value] {
        self.fields.get(name).map(Value::as_list).unwrap_or_default()
    }
}

/// An edge of the resource graph: `target` must be ready before the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub target: Address,
    /// Where the dependency is written.
    pub span: Span,
    pub condition: Condition,
}

/// How ready a dependency must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Referenced (a network joined, a volume mounted, a value used): it must exist.
    Exists,
    Started,
    Healthy,
    /// A one-shot resource must have run to completion.
    Completed,
}

impl Condition {
    pub fn parse(text: &str) -> Option<Condition> {
        Some(match text {
            "started" => Condition::Started,
            "healthy" => Condition::Healthy,
            "completed" => Condition::Completed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Exists => "exists",
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}
