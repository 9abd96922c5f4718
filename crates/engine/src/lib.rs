//! The engine: plans a stack against the live state, then carries out the plan.
//!
//! ```text
//! Stack + graph ──plan──▶ Prepared (the Plan, with the desired and live states)
//!               ──apply──▶ Report (done / failed / skipped)
//! ```
//!
//! Everything goes through the [`stack_provider::Provider`] trait: the engine
//! knows no resource kind. Planning computes the desired states a graph layer
//! at a time and reads the live state of every kind at once; applying walks
//! the graph in parallel, waits on the conditions `depends-on` asks for, and
//! isolates failures to what depends on them.

mod apply;
mod fetch;
mod lock;
mod order;
mod prepare;
mod progress;
mod report;
mod revision;
mod walk;

pub use apply::{apply, apply_until};
pub use lock::{Locked, describe as describe_holder, lock};
pub use prepare::{LiveRead, Prepared, check_recorded, destroy, plan, plan_against, protected, read_live};
pub use progress::{Progress, Silent};
pub use report::{Entry, Outcome, Report, failure_message};
pub use revision::{Operation, history, operate};

#[cfg(test)]
mod tests;
