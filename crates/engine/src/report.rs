//! What an apply did: each resource done, failed (with the error) or skipped.

use std::time::Duration;

use stack_language::Address;
use stack_plan::Action;
use stack_provider::ProviderError;

/// How the work on one resource ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(ProviderError),
    /// Not attempted because `upstream` failed (a dependency when creating,
    /// a dependent when deleting).
    Skipped {
        upstream: Address,
    },
    /// Not attempted because the apply was interrupted first.
    NotStarted,
}

/// One resource the apply had work for.
#[derive(Debug, Clone)]
pub struct Entry {
    pub address: Address,
    pub action: Action,
    pub outcome: Outcome,
    /// How long the work took, when it ran.
    pub elapsed: Option<Duration>,
}

/// Everything an apply did, in plan order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// Ctrl-C stopped the apply: what had not started was left for the next apply.
    pub interrupted: bool,
}

impl Report {
    pub fn done(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|entry| entry.outcome == Outcome::Done)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|entry| matches!(entry.outcome, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|entry| matches!(entry.outcome, Outcome::Skipped { .. }))
    }

    pub fn not_started(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|entry| entry.outcome == Outcome::NotStarted)
    }

    /// Everything planned was done.
    pub fn succeeded(&self) -> bool {
        self.entries.iter().all(|entry| entry.outcome == Outcome::Done)
    }
}

/// A provider's failure as one line that names the resource once: providers
/// often name it already; when one does not, the address goes in front.
pub fn failure_message(address: &stack_language::Address, error: &stack_provider::ProviderError) -> String {
    let address = address.to_string();
    if error.message.starts_with(&address) {
        error.message.clone()
    } else {
        format!("{address}: {}", error.message)
    }
}
