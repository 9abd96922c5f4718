//! The plan: what applying a stack will do, decided before anything is touched.
//!
//! For each resource one [`Action`] with the [`Reason`]s for it, and every
//! changed field with its old and new value and its [`Effect`]. Renderers
//! (terminal, JSON, markdown) read the same plan and never recompute it.

mod diff;
mod render;

use serde::Serialize;
use stack_language::Address;
use stack_language::schema::Effect;
use stack_provider::{Drift, Fetch, Setting, Source};

pub use diff::diff;
pub use render::{human, markdown};

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoChange,
    Create,
    Update,
    Replace,
    Delete,
    /// An external object: only read, to check it exists.
    Read,
    /// Not planned: its provider could not read it. The apply fails it and skips what
    /// depends on it; the next plan tries again.
    Unknown,
}

impl Action {
    pub fn changes_something(self) -> bool {
        !matches!(self, Action::NoChange | Action::Read)
    }
}

/// Why a resource gets its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// Declared, and not on the daemon.
    NotFound,
    /// Fields changed in the files.
    Changed,
    /// A changed field cannot be updated in place.
    ForcesReplacement { field: String },
    /// A resource this one uses is replaced, and cannot be while this one's
    /// object holds it (a network containers are attached to): this one is
    /// deleted before it and created again after it.
    DependencyReplaced { dependency: Address },
    /// A resource this one uses has a new object under a new name (a new version of a swarm
    /// secret): the changed fields only follow it, nothing changed in this one's files. It
    /// stands for the reasons those fields would give (changed, forces replacement).
    DependencyChanged { dependency: Address },
    /// On the daemon, but no longer in the files.
    RemovedFromFiles,
    /// Changed on the daemon by hand; the apply repairs it.
    Drift,
    /// Declared `external`: created outside the stack.
    External,
    /// A value read from its source when the stack is planned (a secret): no object to make.
    ReadFromSource(Source),
    /// Asked for by `stack destroy`.
    Destroy,
    /// Its provider could not read it (it crashed, hung, broke its protocol, failed): what
    /// happened, naming the provider.
    ProviderFailed { message: String },
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Setting>,
    pub after: Option<Setting>,
    pub effect: Effect,
}

/// The plan of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourcePlan {
    pub address: Address,
    pub kind: String,
    pub action: Action,
    pub reasons: Vec<Reason>,
    pub changes: Vec<FieldChange>,
    pub drift: Vec<Drift>,
}

/// The plan of a stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The format of this document; bumped on incompatible changes.
    pub format_version: u32,
    pub stack: String,
    pub environment: Option<String>,
    /// Resources in the order they will be worked on (dependencies first; deletions last).
    pub resources: Vec<ResourcePlan>,
    /// Objects of the stack that would go but are kept (volumes, unless
    /// `stack destroy --volumes`): nothing is done to them.
    pub kept: Vec<Kept>,
    /// What is fetched before anything changes (images the host lacks), in the order found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fetches: Vec<PlannedFetch>,
    pub summary: Summary,
}

/// One thing fetched before the apply changes anything, and the resources that need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFetch {
    #[serde(flatten)]
    pub fetch: Fetch,
    pub needed_by: Vec<Address>,
}

/// An object of the stack no longer in the files that the plan keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub address: Address,
    pub kind: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
    /// Resources not planned because their provider failed. Left out when there is none.
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Plan {
    pub fn new(stack: String, environment: Option<String>, resources: Vec<ResourcePlan>) -> Plan {
        let mut summary = Summary::default();
        for resource in &resources {
            match resource.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
                Action::NoChange | Action::Read => summary.unchanged += 1,
                Action::Unknown => summary.unknown += 1,
            }
        }
        Plan {
            format_version: 1,
            stack,
            environment,
            resources,
            kept: Vec::new(),
            fetches: Vec::new(),
            summary,
        }
    }

    pub fn has_changes(&self) -> bool {
        self.resources
            .iter()
            .any(|resource| resource.action.changes_something())
    }

    /// Whether some resources could not be planned ([`Action::Unknown`]).
    pub fn has_unknown(&self) -> bool {
        self.summary.unknown > 0
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
