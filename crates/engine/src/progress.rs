//! What an apply tells while it runs; the command line draws it.

use std::time::Duration;

use stack_language::{Address, Condition};
use stack_plan::Action;
use stack_provider::{Fetch, ProviderError};

use crate::Outcome;

/// Receives the events of an apply as they happen, from any task.
pub trait Progress: Send + Sync {
    /// `address` waits until `dependency` has reached `condition`.
    fn waiting(&self, _address: &Address, _dependency: &Address, _condition: Condition) {}

    /// Work on `address` began.
    fn started(&self, address: &Address, action: Action);

    /// Work on `address` ended: done or failed, after `elapsed`.
    fn finished(&self, address: &Address, action: Action, outcome: &Outcome, elapsed: Duration);

    /// Fetching `fetch`, before any change, said `status` (a layer's progress, a digest).
    fn fetching(&self, _fetch: &Fetch, _status: &str) {}

    /// Fetching `fetch` ended after `elapsed`.
    fn fetched(&self, _fetch: &Fetch, _result: &Result<(), ProviderError>, _elapsed: Duration) {}

    /// Ctrl-C: no new work starts; what runs is let finish.
    fn interrupted(&self) {}
}

/// Tells nothing.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _address: &Address, _action: Action) {}

    fn finished(&self, _address: &Address, _action: Action, _outcome: &Outcome, _elapsed: Duration) {}
}
