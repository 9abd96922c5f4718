//! What `stack rollback`, `stack rollout continue|undo`, `stack restart`, `stack run` and
//! `stack history` do: an operation on one resource, through its provider.

use stack_language::Address;
use stack_provider::{ProviderError, Providers, Revision, Scope};

use crate::Prepared;

/// An operation on the revisions of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// The previous revision back in place of the current one.
    RollBack,
    /// A paused rollout carried on to the end.
    Resume,
    /// Every instance replaced by a fresh one of the same configuration.
    Restart,
    /// A run now, whether or not anything changed.
    Run,
}

/// Carries `operation` out on the resource at `address`, which `prepared` has both in the files
/// and on the daemon.
pub async fn operate(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
    address: &Address,
    operation: Operation,
) -> Result<(), ProviderError> {
    let desired = prepared.desired.get(address).ok_or_else(|| {
        ProviderError::new(format!("{address} is not in the files"))
            .with_hint("name a resource the stack declares")
    })?;
    let provider = providers
        .get(desired.kind.name)
        .ok_or_else(|| ProviderError::new(format!("no provider handles {}", desired.kind.name)))?;
    let live = prepared.live.get(address);
    if operation == Operation::Run {
        return provider.run(scope, desired, live).await;
    }
    let live = live.ok_or_else(|| {
        ProviderError::new(format!("{address} is not on the daemon"))
            .with_hint("`stack apply` creates it first")
    })?;
    match operation {
        Operation::RollBack => provider.roll_back(scope, desired, live).await,
        Operation::Resume => provider.resume(scope, desired, live).await,
        Operation::Restart => provider.restart(scope, desired, live).await,
        Operation::Run => provider.run(scope, desired, Some(live)).await,
    }
}

/// The revisions kept of each live object in `prepared` whose provider keeps any.
pub async fn history(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
) -> Vec<(Address, Result<Vec<Revision>, ProviderError>)> {
    let mut histories = Vec::new();
    for (address, live) in &prepared.live {
        let Some(provider) = providers.get(live.kind) else {
            continue;
        };
        match provider.history(scope, live).await {
            Ok(revisions) if revisions.is_empty() => {}
            result => histories.push((address.clone(), result)),
        }
    }
    histories
}
