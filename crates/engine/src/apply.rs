//! Carrying out a plan: the graph walked in parallel, then the deletions.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, join_all};
use stack_graph::ResourceGraph;
use stack_language::{Address, Condition};
use stack_plan::{Action, Reason, ResourcePlan};
use stack_provider::{Desired, Live, Provider, ProviderError, Providers, Resolve, Scope};
use tokio::sync::OnceCell;
use tracing::{Instrument, info_span};

use crate::order::uses;
use crate::walk::{Step, Stop, walk};
use crate::{Entry, Outcome, Prepared, Progress, Report};

/// How many resources are worked on at once. The daemon creates a handful of
/// containers a second whatever the client; more at once only queues there.
const PARALLELISM: usize = 32;

/// Carries out `prepared`: first it fetches what the plan lists (a failure there ends the
/// apply with nothing changed); then every resource starts once its dependencies are
/// done (and, where its `depends-on` asks, started, healthy or completed);
/// what was created or replaced must be healthy at the end (see `settle`);
/// deletions come last, users first. A failure skips what depends on it while
/// unrelated branches finish. Ctrl-C stops starting new work and lets running
/// steps finish; the next apply completes the rest.
pub async fn apply(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
    graph: &ResourceGraph,
    progress: &dyn Progress,
) -> Report {
    let ctrl_c = async {
        // Without a signal handler there is nothing to wait for.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    apply_until(providers, scope, prepared, graph, progress, ctrl_c).await
}

/// [`apply`], stopped by `stop` instead of Ctrl-C.
pub async fn apply_until(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
    graph: &ResourceGraph,
    progress: &dyn Progress,
    stop: impl Future<Output = ()> + Send,
) -> Report {
    if let Err(entries) = crate::fetch::run(providers, scope, prepared, progress).await {
        return Report {
            entries,
            interrupted: false,
        };
    }
    let mut stop = Stop::new(async {
        stop.await;
        progress.interrupted();
    });
    let mut entries = Forward::new(providers, scope, prepared, graph, progress)
        .run(&mut stop)
        .await;
    entries.extend(delete(providers, scope, prepared, progress, &mut stop).await);
    Report {
        entries,
        interrupted: stop.fired(),
    }
}

/// The walk over the declared resources: create, update, replace.
struct Forward<'a> {
    providers: &'a Providers,
    scope: &'a Scope,
    prepared: &'a Prepared,
    graph: &'a ResourceGraph,
    progress: &'a dyn Progress,
    nodes: Vec<&'a Address>,
    plans: HashMap<&'a Address, &'a ResourcePlan>,
    /// One wait per dependency and condition, however many dependents ask.
    waits: HashMap<(&'a Address, Condition), OnceCell<Result<(), ProviderError>>>,
    /// One deletion per object deleted ahead of a dependency it holds.
    vacated: HashMap<&'a Address, OnceCell<Result<(), ProviderError>>>,
    elapsed: Mutex<Vec<Option<Duration>>>,
    /// Desired states whose outputs applying settled otherwise than planned.
    refreshed: Mutex<HashMap<Address, Desired>>,
}

impl<'a> Forward<'a> {
    fn new(
        providers: &'a Providers,
        scope: &'a Scope,
        prepared: &'a Prepared,
        graph: &'a ResourceGraph,
        progress: &'a dyn Progress,
    ) -> Forward<'a> {
        let nodes: Vec<&Address> = graph.resources().collect();
        let plans: HashMap<&Address, &ResourcePlan> = prepared
            .plan
            .resources
            .iter()
            .filter(|planned| planned.action != Action::Delete)
            .map(|planned| (&planned.address, planned))
            .collect();
        let mut waits = HashMap::new();
        for node in &nodes {
            if plans
                .get(node)
                .is_some_and(|planned| planned.action.changes_something())
            {
                for (dependency, need) in graph.dependencies(node) {
                    if need.condition != Condition::Exists {
                        waits.insert((dependency, need.condition), OnceCell::new());
                    }
                }
            }
        }
        let vacated = plans
            .iter()
            .filter(|(_, planned)| holds_replaced(planned))
            .map(|(address, _)| *address)
            .chain(prepared.deletions.iter().map(|object| &object.address))
            .map(|address| (address, OnceCell::new()))
            .collect();
        let elapsed = Mutex::new(vec![None; nodes.len()]);
        Forward {
            providers,
            scope,
            prepared,
            graph,
            progress,
            nodes,
            plans,
            waits,
            vacated,
            elapsed,
            refreshed: Mutex::new(HashMap::new()),
        }
    }

    async fn run(self, stop: &mut Stop<'_>) -> Vec<Entry> {
        let index: HashMap<&Address, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (*node, i))
            .collect();
        let needs: Vec<Vec<usize>> = self
            .nodes
            .iter()
            .map(|node| {
                self.graph
                    .dependencies(node)
                    .iter()
                    .filter_map(|(dependency, _)| index.get(*dependency).copied())
                    .collect()
            })
            .collect();
        let mut steps = walk(&needs, PARALLELISM, stop, |i| self.step(i)).await;
        self.settle(&mut steps)
            .instrument(info_span!("apply.check"))
            .await;
        let elapsed = self
            .elapsed
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut entries = Vec::new();
        for (i, step) in steps.into_iter().enumerate() {
            let Some(planned) = self
                .plans
                .get(self.nodes[i])
                .filter(|planned| planned.action.changes_something() || planned.action == Action::Unknown)
            else {
                continue;
            };
            entries.push(Entry {
                address: self.nodes[i].clone(),
                action: planned.action,
                outcome: outcome(step, |upstream| self.nodes[upstream].clone()),
                elapsed: elapsed[i],
            });
        }
        entries
    }

    async fn step(&self, i: usize) -> Result<(), ProviderError> {
        let address = self.nodes[i];
        // Not planned: it fails as it did, and what depends on it is skipped.
        if let Some(error) = self.prepared.unknown.get(address) {
            return Err(error.clone());
        }
        let Some(planned) = self
            .plans
            .get(address)
            .filter(|planned| planned.action.changes_something())
        else {
            return Ok(());
        };
        for (dependency, need) in self.graph.dependencies(address) {
            if need.condition != Condition::Exists {
                self.progress.waiting(address, dependency, need.condition);
                self.wait(dependency, need.condition).await?;
            }
        }
        let action = planned.action;
        self.progress.started(address, action);
        let started = Instant::now();
        let result = self
            .change_replanned(address, action)
            .instrument(info_span!("apply.change", resource = %address, ?action))
            .await;
        let elapsed = started.elapsed();
        if let Ok(mut times) = self.elapsed.lock() {
            times[i] = Some(elapsed);
        }
        self.progress
            .finished(address, action, &step_outcome(&result), elapsed);
        result
    }

    /// [`change`](Self::change) with the desired state planned again if a dependency's outputs
    /// changed while applying; then records the outputs applying settled.
    async fn change_replanned(&self, address: &Address, action: Action) -> Result<(), ProviderError> {
        let (planned, provider) = self.planned(address)?;
        let replanned = self.replan(address, provider).await?;
        let desired = replanned.as_ref().unwrap_or(planned);
        self.change(address, action, desired, provider).await?;
        if let Some(outputs) = provider.applied_outputs(self.scope, desired).await?
            && outputs != desired.outputs
        {
            let mut settled = desired.clone();
            settled.outputs = outputs;
            lock(&self.refreshed).insert(address.clone(), settled);
        }
        Ok(())
    }

    /// The desired state of `address` planned again with the outputs applying settled for its
    /// dependencies; `None` when none of them changed.
    async fn replan(
        &self,
        address: &Address,
        provider: &Arc<dyn Provider>,
    ) -> Result<Option<Desired>, ProviderError> {
        let refreshed = lock(&self.refreshed).clone();
        let touched = self
            .graph
            .dependencies(address)
            .iter()
            .any(|(dependency, _)| refreshed.contains_key(*dependency));
        let Some(resource) = self.prepared.declared.get(address).filter(|_| touched) else {
            return Ok(None);
        };
        let resolve = Settled {
            refreshed: &refreshed,
            planned: &self.prepared.desired,
        };
        provider
            .desired(self.scope, resource, &resolve)
            .await
            .map(Some)
            .map_err(|problem| ProviderError::new(format!("{address}: {}", problem.message)))
    }

    async fn change(
        &self,
        address: &Address,
        action: Action,
        desired: &Desired,
        provider: &Arc<dyn Provider>,
    ) -> Result<(), ProviderError> {
        let live = || {
            self.prepared
                .live
                .get(address)
                .ok_or_else(|| ProviderError::new(format!("{address}: not found on the daemon any more")))
        };
        match action {
            Action::Create => provider.create(self.scope, desired).await,
            Action::Update => provider.update(self.scope, desired, live()?).await,
            Action::Replace => {
                if provider.held_by_dependents() {
                    self.vacate(address).await?;
                }
                // Its object went with the step of the dependency it held.
                if self
                    .plans
                    .get(address)
                    .is_some_and(|planned| holds_replaced(planned))
                {
                    provider.create(self.scope, desired).await
                } else {
                    provider.replace(self.scope, desired, live()?).await
                }
            }
            Action::Delete | Action::NoChange | Action::Read | Action::Unknown => Ok(()),
        }
    }

    /// Checks once more what was created or replaced, when the walk is done: a service that
    /// crashed or never became healthy fails the apply even when nothing waited for it.
    async fn settle(&self, steps: &mut [Step]) {
        let created = |i: &usize| {
            steps[*i] == Step::Done
                && self
                    .plans
                    .get(self.nodes[*i])
                    .is_some_and(|planned| matches!(planned.action, Action::Create | Action::Replace))
        };
        let settling: Vec<usize> = (0..steps.len()).filter(created).collect();
        let checks = settling.into_iter().map(|i| async move {
            let address = self.nodes[i];
            let waited = match self
                .waits
                .get(&(address, Condition::Healthy))
                .and_then(OnceCell::get)
            {
                Some(result) => result.clone(),
                None => self.provider_wait(address, Condition::Healthy).await,
            };
            (i, waited)
        });
        for (i, result) in join_all(checks).await {
            if let (Err(error), Some(planned)) = (result, self.plans.get(self.nodes[i])) {
                let failed = Outcome::Failed(error.clone());
                self.progress
                    .finished(self.nodes[i], planned.action, &failed, Duration::ZERO);
                steps[i] = Step::Failed(error);
            }
        }
    }

    /// Deletes, once, the objects of the dependents that hold `dependency`
    /// (and first those that hold them), so that it can be replaced.
    fn vacate<'s>(&'s self, dependency: &'s Address) -> BoxFuture<'s, Result<(), ProviderError>> {
        Box::pin(async move {
            let holders = self
                .vacated
                .iter()
                .filter(|(address, _)| self.holds(address, dependency));
            let deletions = holders.map(|(address, cell)| {
                cell.get_or_init(move || async move {
                    self.vacate(address).await?;
                    let live = self.prepared.live.get(*address);
                    let provider = live.and_then(|live| self.providers.get(live.kind));
                    match (live, provider) {
                        (Some(live), Some(provider)) => provider.delete(self.scope, live).await,
                        _ => Ok(()),
                    }
                    .map_err(|error| ProviderError {
                        message: format!(
                            "{address} holds {dependency}, and could not be deleted before it: {}",
                            error.message
                        ),
                        ..error
                    })
                })
            });
            join_all(deletions).await.into_iter().try_for_each(Clone::clone)
        })
    }

    /// Whether the object of `holder` must go before `dependency` is replaced:
    /// it is replaced for that reason, or it left the files and uses it (then
    /// it goes now instead of among the last deletions).
    fn holds(&self, holder: &Address, dependency: &Address) -> bool {
        if let Some(planned) = self.plans.get(holder) {
            return planned.reasons.iter().any(
                |reason| matches!(reason, Reason::DependencyReplaced { dependency: held } if held == dependency),
            );
        }
        match (self.prepared.live.get(holder), self.prepared.live.get(dependency)) {
            (Some(user), Some(used)) => uses(user, used),
            _ => false,
        }
    }

    /// Waits, once for all dependents, until `dependency` has reached `condition`.
    async fn wait(&self, dependency: &Address, condition: Condition) -> Result<(), ProviderError> {
        let Some(cell) = self.waits.get(&(dependency, condition)) else {
            return Ok(());
        };
        cell.get_or_init(|| async {
            self.provider_wait(dependency, condition)
                .await
                .map_err(|error| ProviderError {
                    message: format!(
                        "{dependency} did not become {}: {}",
                        condition.as_str(),
                        error.message
                    ),
                    ..error
                })
        })
        .await
        .clone()
    }

    /// The provider's wait until `address` has reached `condition`.
    async fn provider_wait(&self, address: &Address, condition: Condition) -> Result<(), ProviderError> {
        let (desired, provider) = self.planned(address)?;
        provider.wait(self.scope, desired, condition).await
    }

    /// The desired state of `address` and the provider of its kind.
    fn planned(&self, address: &Address) -> Result<(&'a Desired, &'a Arc<dyn Provider>), ProviderError> {
        let desired = self
            .prepared
            .desired
            .get(address)
            .ok_or_else(|| ProviderError::new(format!("{address}: no desired state was planned")))?;
        let provider = self.providers.get(desired.kind.name).ok_or_else(|| {
            ProviderError::new(format!("{address}: no provider for `{}`", desired.kind.name))
        })?;
        Ok((desired, provider))
    }
}

/// Desired states as applying settled them, else as planned.
struct Settled<'a> {
    refreshed: &'a HashMap<Address, Desired>,
    planned: &'a indexmap::IndexMap<Address, Desired>,
}

impl Resolve for Settled<'_> {
    fn desired(&self, address: &Address) -> Option<&Desired> {
        self.refreshed.get(address).or_else(|| self.planned.get(address))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The deletions, after everything else: an object goes once all its users are gone.
async fn delete(
    providers: &Providers,
    scope: &Scope,
    prepared: &Prepared,
    progress: &dyn Progress,
    stop: &mut Stop<'_>,
) -> Vec<Entry> {
    let elapsed = Mutex::new(vec![None; prepared.deletions.len()]);
    let step = |i: usize| {
        let elapsed = &elapsed;
        async move {
            let object: &Live = &prepared.deletions[i];
            progress.started(&object.address, Action::Delete);
            let started = Instant::now();
            let result = match providers.get(object.kind) {
                Some(provider) => provider.delete(scope, object).await,
                None => Err(ProviderError::new(format!(
                    "{}: no provider for `{}`",
                    object.address, object.kind
                ))),
            };
            let took = started.elapsed();
            if let Ok(mut times) = elapsed.lock() {
                times[i] = Some(took);
            }
            progress.finished(&object.address, Action::Delete, &step_outcome(&result), took);
            result
        }
    };
    let steps = walk(&prepared.deletion_needs, PARALLELISM, stop, step).await;
    let elapsed = elapsed
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| Entry {
            address: prepared.deletions[i].address.clone(),
            action: Action::Delete,
            outcome: outcome(step, |upstream| prepared.deletions[upstream].address.clone()),
            elapsed: elapsed[i],
        })
        .collect()
}

/// Whether `planned` is replaced because a dependency it holds is.
fn holds_replaced(planned: &ResourcePlan) -> bool {
    planned
        .reasons
        .iter()
        .any(|reason| matches!(reason, Reason::DependencyReplaced { .. }))
}

fn outcome(step: Step, address_of: impl Fn(usize) -> Address) -> Outcome {
    match step {
        Step::Done => Outcome::Done,
        Step::Failed(error) => Outcome::Failed(error),
        Step::Skipped { upstream } => Outcome::Skipped {
            upstream: address_of(upstream),
        },
        Step::NotStarted => Outcome::NotStarted,
    }
}

fn step_outcome(result: &Result<(), ProviderError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(error) => Outcome::Failed(error.clone()),
    }
}
