//! The fetch phase: what the resources a plan changes need from elsewhere (images the host
//! lacks) is found at plan time and fetched, all at once, before anything changes. A failed
//! fetch ends the apply there, with nothing changed.

use std::time::Instant;

use futures_util::future::join_all;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_language::{Address, Stack};
use stack_plan::{PlannedFetch, ResourcePlan};
use stack_provider::{Desired, Fetch, ProviderError, Providers, Scope};

use crate::prepare::provider_failure;
use crate::{Entry, Outcome, Prepared, Progress};

/// What the resources `planned` creates or changes need fetched, each once with every
/// resource that needs it, in plan order. A provider that cannot tell is a diagnostic.
pub(crate) async fn find(
    providers: &Providers,
    scope: &Scope,
    stack: &Stack,
    desired: &IndexMap<Address, Desired>,
    planned: &[ResourcePlan],
) -> Result<Vec<PlannedFetch>, Vec<Diagnostic>> {
    let asks = planned
        .iter()
        .filter(|plan| plan.action.changes_something())
        .filter_map(|plan| {
            let state = desired.get(&plan.address)?;
            let provider = providers.get(state.kind.name)?;
            Some(async move { (state, provider.fetches(scope, state).await) })
        });
    let mut found: Vec<PlannedFetch> = Vec::new();
    let mut problems = Vec::new();
    for (state, answer) in join_all(asks).await {
        match answer {
            Ok(fetches) => {
                for fetch in fetches {
                    match found.iter_mut().find(|planned| planned.fetch == fetch) {
                        Some(planned) => planned.needed_by.push(state.address.clone()),
                        None => found.push(PlannedFetch {
                            fetch,
                            needed_by: vec![state.address.clone()],
                        }),
                    }
                }
            }
            Err(error) => problems.push(provider_failure(
                &state.address,
                stack.resources.get(&state.address),
                &error,
            )),
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// Fetches everything the plan lists, all at once. On a failure, the entries of the apply:
/// each resource that needed what failed has failed with it, every other change was not
/// started.
pub(crate) async fn run(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
    progress: &dyn Progress,
) -> Result<(), Vec<Entry>> {
    let fetches = prepared.plan.fetches.iter().map(|planned| async move {
        let started = Instant::now();
        let result = fetch_one(providers, scope, prepared, planned, progress).await;
        progress.fetched(&planned.fetch, &result, started.elapsed());
        (planned, result)
    });
    let failures: Vec<(&PlannedFetch, ProviderError)> = join_all(fetches)
        .await
        .into_iter()
        .filter_map(|(planned, result)| Some((planned, result.err()?)))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    let entries = prepared
        .plan
        .resources
        .iter()
        .filter(|plan| plan.action.changes_something())
        .map(|plan| {
            let failed = failures
                .iter()
                .find(|(planned, _)| planned.needed_by.contains(&plan.address));
            Entry {
                address: plan.address.clone(),
                action: plan.action,
                outcome: match failed {
                    Some((_, error)) => Outcome::Failed(error.clone()),
                    None => Outcome::NotStarted,
                },
                elapsed: None,
            }
        })
        .collect();
    Err(entries)
}

/// Fetches one item through the provider of the first resource that needs it.
async fn fetch_one(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
    planned: &PlannedFetch,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let provider = planned
        .needed_by
        .iter()
        .find_map(|address| providers.get(prepared.desired.get(address)?.kind.name))
        .ok_or_else(|| ProviderError::new(format!("no provider fetches {}", planned.fetch.item)))?;
    let fetch: &Fetch = &planned.fetch;
    let tell = |status: &str| progress.fetching(fetch, status);
    provider.fetch(scope, fetch, &tell).await
}
