//! Rolling a service from its running containers to new ones, following its `update` settings.
//!
//! Every container of a service has a slot, read from its name:
//!
//! | name              | slot                                                              |
//! | ----------------- | ----------------------------------------------------------------- |
//! | `shop_api-2`      | current: replica 2, serving                                       |
//! | `shop_api-2.next` | its replacement while a rollout starts it beside the current one |
//! | `shop_api-2.prev` | the replica it replaced, stopped: the previous revision           |
//!
//! A rollout retires the replaced containers into the `prev` slot instead of removing them, so
//! that a failed rollout, `stack rollback` and `stack rollout undo` can start them again
//! exactly as they were (environment, secret files and all). One previous revision is kept:
//! retiring a replica removes the one it had kept. Each step is a single daemon call that leaves a
//! state the next read understands, so an apply killed at any point is completed by the next
//! one (see `live::serving`).

use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::future::join_all;
use stack_language::units::Count;
use stack_language::{Condition, Value};
use stack_provider::{Desired, ProviderError, Scope};
use tracing::{Instrument, info_span};

use super::config;
use super::front::Front;
use super::live::Replica;
use super::spec::ServiceSpec;
use super::turns;
use super::{ServiceProvider, wait};

/// The `update` block of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub strategy: Strategy,
    pub order: Order,
    pub parallelism: u32,
    /// Replicas beyond `parallelism` a rolling start-first update starts ahead of their batch.
    pub surge: Count,
    pub delay: Duration,
    pub monitor: Duration,
    pub failure_action: FailureAction,
    pub max_failure_ratio: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Batch after batch of `parallelism` replicas.
    Rolling,
    /// The whole new set beside the old one, then one switch.
    BlueGreen,
    /// One batch, then a pause until `stack rollout continue` or `undo`.
    Canary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    StopFirst,
    StartFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAction {
    Rollback,
    Pause,
    Continue,
}

impl Default for Update {
    fn default() -> Self {
        Update {
            strategy: Strategy::Rolling,
            order: Order::StopFirst,
            parallelism: 1,
            surge: DEFAULT_SURGE,
            delay: Duration::ZERO,
            monitor: Duration::ZERO,
            failure_action: FailureAction::Rollback,
            max_failure_ratio: 0.0,
        }
    }
}

/// Kubernetes' default `maxSurge`: a quarter more replicas while an update lasts.
const DEFAULT_SURGE: Count = Count::Percent(25);

impl Update {
    /// Reads the `update` block; the checker has validated every value. A service that writes
    /// to a named volume (`writes_volume`) surges only when its block says so: a replica
    /// started ahead would be one more program writing the same files.
    pub fn from_value(
        update: Option<&Value>,
        duration: impl Fn(&Value) -> Option<Duration>,
        writes_volume: bool,
    ) -> Update {
        let defaults = Update::default();
        let Some(update) = update else {
            return defaults;
        };
        let word = |field: &str| update.get(field).and_then(Value::as_str);
        let time = |field: &str| update.get(field).and_then(&duration);
        Update {
            strategy: match word("strategy") {
                Some("blue-green") => Strategy::BlueGreen,
                Some("canary") => Strategy::Canary,
                _ => Strategy::Rolling,
            },
            order: match word("order") {
                Some("start-first") => Order::StartFirst,
                _ => Order::StopFirst,
            },
            parallelism: update
                .get("parallelism")
                .and_then(Value::as_int)
                .and_then(|count| u32::try_from(count).ok())
                .filter(|count| *count > 0)
                .unwrap_or(defaults.parallelism),
            surge: update
                .get("surge")
                .and_then(Count::from_value)
                .unwrap_or(if writes_volume {
                    Count::Exactly(0)
                } else {
                    DEFAULT_SURGE
                }),
            delay: time("delay").unwrap_or(defaults.delay),
            monitor: time("monitor").unwrap_or(defaults.monitor),
            failure_action: match word("failure-action") {
                Some("pause") => FailureAction::Pause,
                Some("continue") => FailureAction::Continue,
                _ => FailureAction::Rollback,
            },
            max_failure_ratio: update
                .get("max-failure-ratio")
                .and_then(Value::as_float)
                .unwrap_or(defaults.max_failure_ratio),
        }
    }

    /// Whether new replicas start beside the ones they replace: blue-green always does.
    pub fn starts_first(&self) -> bool {
        self.order == Order::StartFirst || self.strategy == Strategy::BlueGreen
    }

    /// How many replicas of a service of `replicas` a rolling update starts ahead of their
    /// batch: none unless it starts first, batch by batch.
    pub fn surge_of(&self, replicas: u32) -> usize {
        match (self.order, self.strategy) {
            (Order::StartFirst, Strategy::Rolling | Strategy::Canary) => {
                usize::try_from(self.surge.of(replicas)).unwrap_or(usize::MAX)
            }
            _ => 0,
        }
    }
}

/// Where a container of a service stands, read from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slot {
    Current,
    Next,
    Prev,
    /// Not a replica: the service's proxy.
    Front,
}

impl Slot {
    const NEXT: &str = ".next";
    const PREV: &str = ".prev";
    const FRONT: &str = "-proxy";

    pub fn of(container_name: &str) -> Slot {
        if container_name.ends_with(Slot::FRONT) {
            Slot::Front
        } else if container_name.ends_with(Slot::NEXT) {
            Slot::Next
        } else if container_name.ends_with(Slot::PREV) {
            Slot::Prev
        } else {
            Slot::Current
        }
    }

    /// The name of replica `number` of the service named `service` in this slot.
    pub fn name(self, service: &str, number: u32) -> String {
        match self {
            Slot::Current => format!("{service}-{number}"),
            Slot::Next => format!("{service}-{number}{}", Slot::NEXT),
            Slot::Prev => format!("{service}-{number}{}", Slot::PREV),
            Slot::Front => format!("{service}{}", Slot::FRONT),
        }
    }
}

/// One rollout of a service's replicas to `desired`.
pub struct Rollout<'a> {
    pub provider: &'a ServiceProvider,
    pub scope: &'a Scope,
    pub desired: &'a Desired,
    pub spec: &'a ServiceSpec,
    /// The service's containers as read before the rollout, every slot.
    pub containers: &'a [Replica],
    /// The proxy in front of the replicas, when the service has one: replicas are switched
    /// there and drained before they stop.
    pub front: Option<&'a Front>,
}

/// A replica whose replacement took over its traffic: the old container still to drain and
/// retire.
struct Switched {
    number: u32,
    staged: String,
    current: Option<String>,
    /// The old container's address at the proxy, where its open connections finish.
    draining: Option<Ipv4Addr>,
}

/// What replaces replica `number`: a new container, or its previous revision started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    New,
    Previous,
}

impl Rollout<'_> {
    /// Replaces replicas `numbers` with new containers, following `update`; the containers they
    /// replace become the previous revision.
    pub async fn run(&self, numbers: &[u32], update: &Update) -> Result<(), ProviderError> {
        self.roll(numbers, Source::New, update).await
    }

    /// Starts the previous revision of replicas `numbers` again in place of the current one,
    /// which becomes the previous revision in turn: `stack rollback`, `stack rollout undo`.
    pub async fn restore(&self, numbers: &[u32]) -> Result<(), ProviderError> {
        let update = Update {
            strategy: Strategy::Rolling,
            order: Order::StartFirst,
            failure_action: FailureAction::Pause,
            ..self.spec.update.clone()
        };
        self.roll(numbers, Source::Previous, &update).await
    }

    async fn roll(&self, numbers: &[u32], source: Source, update: &Update) -> Result<(), ProviderError> {
        let span = info_span!("rollout", service = %self.desired.address);
        self.roll_batches(numbers, source, update).instrument(span).await
    }

    async fn roll_batches(
        &self,
        numbers: &[u32],
        source: Source,
        update: &Update,
    ) -> Result<(), ProviderError> {
        if update.strategy == Strategy::BlueGreen {
            return self.blue_green(numbers, source, update).await;
        }
        // Start-first, while a batch becomes ready, the replicas after it within the surge
        // start and those the next turn starts are created, so that their start and warm-up
        // overlap its wait. A canary stops after its first batch: it makes none ahead.
        let ahead = update.starts_first() && source == Source::New && update.strategy == Strategy::Rolling;
        let surge = update.surge_of(self.spec.replicas);
        let turns = turns::plan(numbers, update.parallelism as usize, surge, ahead);
        let mut made: Vec<u32> = Vec::new();
        // Started ahead of their turn, each with how its start went.
        let mut started: Vec<(u32, Result<String, ProviderError>)> = Vec::new();
        let mut done: Vec<u32> = Vec::new();
        let mut failures: Vec<(u32, ProviderError)> = Vec::new();
        // Replicas switched but not yet retired and renamed: that goes on while the next batch
        // starts, since the retired ones are out of traffic already.
        let mut settling: Vec<Switched> = Vec::new();
        for (index, turn) in turns.iter().enumerate() {
            if index > 0 && !update.delay.is_zero() {
                tokio::time::sleep(update.delay).await;
            }
            let batch = &turn.batch;
            let (results, settled, (started_now, made_now)) = if update.starts_first() {
                // The batch starts before the previous one is retired and later ones start or
                // are made: their daemon calls would slow its start, which is on the
                // rollout's path, and they go on while it warms up instead.
                let staged = join_all(batch.iter().map(|number| {
                    let early = started
                        .iter()
                        .position(|(ahead, _)| ahead == number)
                        .map(|at| started.remove(at).1);
                    let made = made.contains(number);
                    async move {
                        match early {
                            Some(result) => result,
                            None => self.stage(*number, source, made).await,
                        }
                    }
                }))
                .await;
                made.retain(|number| !batch.contains(number));
                let taking_over = batch.iter().zip(staged).map(|(number, staged)| async move {
                    self.take_over(*number, staged?, source, update).await.map(Some)
                });
                let made = &made;
                let later = async move {
                    let started = self.start_ahead(&turn.start_ahead, made, source).await;
                    (started, self.make_ahead(&turn.make_ahead).await)
                };
                futures_util::future::join3(
                    join_all(taking_over),
                    self.settle(std::mem::take(&mut settling)),
                    later,
                )
                .await
            } else {
                let replacing = batch.iter().map(|number| async move {
                    self.replace_stopping_first(*number, source, update)
                        .await
                        .map(|()| None)
                });
                (join_all(replacing).await, Ok(()), (Vec::new(), Vec::new()))
            };
            made.retain(|number| !turn.start_ahead.contains(number));
            made.extend(made_now);
            started.extend(started_now);
            if let Err(error) = settled {
                self.abandon(&made, &started).await;
                return Err(error);
            }
            for (number, result) in batch.iter().zip(results) {
                match result {
                    Ok(switched) => {
                        done.push(*number);
                        settling.extend(switched);
                    }
                    Err(error) => failures.push((*number, error)),
                }
            }
            let gives_up = update.failure_action != FailureAction::Continue;
            if gives_up && too_many(failures.len(), numbers.len(), update.max_failure_ratio) {
                self.abandon(&made, &started).await;
                self.settle(settling).await?;
                let roll_back = update.failure_action == FailureAction::Rollback;
                return Err(self.failed(&done, failures, roll_back, source).await);
            }
            let more_to_come = index + 1 < turns.len();
            if update.strategy == Strategy::Canary && source == Source::New && more_to_come {
                // A paused canary is no error: its state shows in `stack status` and the next plan.
                return self.settle(settling).await;
            }
        }
        self.settle(settling).await?;
        match failures.is_empty() {
            true => Ok(()),
            false => Err(self.continued_despite(failures)),
        }
    }

    /// Retires the replicas that `switched` took out of traffic once their open connections
    /// have finished, and gives their replacements the final names.
    async fn settle(&self, switched: Vec<Switched>) -> Result<(), ProviderError> {
        let settling = switched.into_iter().map(|switched| async move {
            self.drain(switched.number, switched.draining).await;
            if let Some(current) = &switched.current {
                self.retire(current, switched.number).await?;
            }
            self.promote(&switched.staged, switched.number).await
        });
        join_all(settling).await.into_iter().collect()
    }

    /// Start-first, once the new container of replica `number` has started as `staged`: waits
    /// until it is ready and switches traffic to it, leaving the drain and the rest to
    /// [`settle`](Self::settle), which goes on beside the next batch. A replacement that does
    /// not become ready is undone and the replica it was to replace serves on.
    async fn take_over(
        &self,
        number: u32,
        staged: String,
        source: Source,
        update: &Update,
    ) -> Result<Switched, ProviderError> {
        if let Err(error) = self.ready(&staged, number, update).await {
            self.discard(&staged, source).await;
            return Err(error);
        }
        let current = self.container(Slot::Current, number).map(Replica::name);
        let draining = self.switch(number, current, Some(&staged)).await?;
        Ok(Switched {
            number,
            staged,
            current: current.map(str::to_owned),
            draining,
        })
    }

    /// Replaces one replica stop-first. A replacement that does not become ready is undone
    /// and the replica it was to replace comes back.
    async fn replace_stopping_first(
        &self,
        number: u32,
        source: Source,
        update: &Update,
    ) -> Result<(), ProviderError> {
        let current = self.container(Slot::Current, number).map(Replica::name);
        if let Some(current) = current {
            let draining = self.switch(number, Some(current), None).await?;
            self.drain(number, draining).await;
            self.retire(current, number).await?;
        }
        let ready = match self.stage(number, source, false).await {
            Ok(staged) => match self.ready(&staged, number, update).await {
                Ok(()) => {
                    self.switch(number, None, Some(&staged)).await?;
                    return self.promote(&staged, number).await;
                }
                Err(error) => {
                    self.discard(&staged, source).await;
                    error
                }
            },
            Err(error) => error,
        };
        if current.is_some() {
            self.bring_back(number).await;
        }
        Err(ready)
    }

    /// Through the proxy, when there is one: new connections go to `into` instead of `out`;
    /// returns the address of `out` there, to [`drain`](Self::drain). Without a proxy the
    /// service's aliases do the switch, as the containers start and stop.
    async fn switch(
        &self,
        number: u32,
        out: Option<&str>,
        into: Option<&str>,
    ) -> Result<Option<Ipv4Addr>, ProviderError> {
        let Some(front) = self.front else {
            return Ok(None);
        };
        let switched = async {
            // Both looked up at once: the switch is on the rollout's path.
            let (out, into) =
                futures_util::future::try_join(self.address_of(out), self.address_of(into)).await?;
            front
                .swap(out, into)
                .await
                .map_err(|error| self.proxy_error(error))?;
            Ok::<_, ProviderError>(out)
        };
        switched
            .instrument(info_span!("rollout.switch", replica = number))
            .await
    }

    async fn address_of(&self, name: Option<&str>) -> Result<Option<Ipv4Addr>, ProviderError> {
        match name {
            Some(name) => self.provider.address_of(name).await,
            None => Ok(None),
        }
    }

    /// Lets the connections open on the replica switched out at `out` finish, for at most its
    /// `stop-grace-period`.
    async fn drain(&self, number: u32, out: Option<Ipv4Addr>) {
        if let (Some(front), Some(out)) = (self.front, out) {
            front
                .drain(out, self.spec.stop_grace_period)
                .instrument(info_span!("rollout.drain", replica = number))
                .await;
        }
    }

    fn proxy_error(&self, error: String) -> ProviderError {
        ProviderError::new(format!("{}: {error}", self.desired.address))
            .with_hint("`stack apply` again: it puts the proxy's backends right")
    }

    /// Blue-green: the whole new set beside the old one; once every new replica is ready, one
    /// switch moves all traffic, and the old set is kept running until the new one has stayed
    /// up for `monitor` behind the proxy; then it is retired.
    async fn blue_green(
        &self,
        numbers: &[u32],
        source: Source,
        update: &Update,
    ) -> Result<(), ProviderError> {
        let staged = join_all(numbers.iter().map(|number| async move {
            let name = self.stage(*number, source, false).await?;
            match self.ready(&name, *number, update).await {
                Ok(()) => Ok(name),
                Err(error) => {
                    self.discard(&name, source).await;
                    Err(error)
                }
            }
        }))
        .await;
        let discard_all = || async {
            for name in staged.iter().flatten() {
                self.discard(name, source).await;
            }
        };
        if let Some(error) = staged.iter().find_map(|result| result.as_ref().err()).cloned() {
            discard_all().await;
            return Err(self.rolled_back(error, "no replica was switched"));
        }
        let old: Vec<&str> = numbers
            .iter()
            .filter_map(|number| self.container(Slot::Current, *number).map(Replica::name))
            .collect();
        if let Some(front) = self.front {
            let old_set = self.addresses(old.iter().copied()).await?;
            let new_set = self
                .addresses(staged.iter().flatten().map(String::as_str))
                .await?;
            front
                .set(new_set)
                .await
                .map_err(|error| self.proxy_error(error))?;
            let watched = join_all(staged.iter().flatten().map(|name| {
                wait::stays_up(
                    &self.provider.docker,
                    &self.desired.address,
                    self.spec,
                    name,
                    update.monitor,
                )
            }))
            .await;
            if let Some(error) = watched.into_iter().find_map(Result::err) {
                front
                    .set(old_set)
                    .await
                    .map_err(|error| self.proxy_error(error))?;
                discard_all().await;
                return Err(self.rolled_back(error, "traffic was switched back to the previous replicas"));
            }
            for address in front
                .backends()
                .await
                .map(|(_, draining)| draining)
                .unwrap_or_default()
            {
                front.drain(address.0, self.spec.stop_grace_period).await;
            }
        }
        let retirements = numbers.iter().filter_map(|number| {
            self.container(Slot::Current, *number)
                .map(|current| self.retire(current.name(), *number))
        });
        join_all(retirements)
            .await
            .into_iter()
            .collect::<Result<(), _>>()?;
        let promotions = numbers
            .iter()
            .zip(staged.iter().flatten())
            .map(|(number, name)| self.promote(name, *number));
        join_all(promotions).await.into_iter().collect()
    }

    async fn addresses(&self, names: impl Iterator<Item = &str>) -> Result<Vec<Ipv4Addr>, ProviderError> {
        let mut addresses = Vec::new();
        for name in names {
            addresses.extend(self.provider.address_of(name).await?);
        }
        Ok(addresses)
    }

    /// The container that will take over replica `number`, started in the `next` slot: a new
    /// one (`made` already, or made now), or the previous revision moved there.
    async fn stage(&self, number: u32, source: Source, made: bool) -> Result<String, ProviderError> {
        let staged = Slot::Next.name(&self.desired.name, number);
        let started = async {
            match source {
                Source::New => self.provider.start_made(&self.desired.address, &staged).await,
                Source::Previous => {
                    let previous = Slot::Prev.name(&self.desired.name, number);
                    self.provider.rename(&previous, &staged).await?;
                    self.provider.revive(&staged).await
                }
            }
        };
        if source == Source::New && !made {
            self.make(number).await?;
        }
        started
            .instrument(info_span!("rollout.start", replica = number))
            .await?;
        Ok(staged)
    }

    /// Creates the new container of replica `number` in the `next` slot, not started.
    async fn make(&self, number: u32) -> Result<(), ProviderError> {
        let staged = Slot::Next.name(&self.desired.name, number);
        self.provider
            .make_replica(self.scope, self.desired, self.spec, number, &staged)
            .instrument(info_span!("rollout.create", replica = number))
            .await
    }

    /// Makes the new containers of replicas `numbers` before their turn; returns those made. One
    /// that fails is left to its turn, which tries again and reports what went wrong.
    async fn make_ahead(&self, numbers: &[u32]) -> Vec<u32> {
        let making = numbers
            .iter()
            .map(|number| async move { self.make(*number).await.ok().map(|()| *number) });
        join_all(making).await.into_iter().flatten().collect()
    }

    /// Starts the replicas `numbers` ahead of their turn (creating those not `made`); returns
    /// how each start went, for its turn to take over or report.
    async fn start_ahead(
        &self,
        numbers: &[u32],
        made: &[u32],
        source: Source,
    ) -> Vec<(u32, Result<String, ProviderError>)> {
        let starting = numbers
            .iter()
            .map(|number| async move { (*number, self.stage(*number, source, made.contains(number)).await) });
        join_all(starting).await
    }

    /// Removes the new containers made or started ahead for replicas whose turn will not come.
    async fn abandon(&self, made: &[u32], started: &[(u32, Result<String, ProviderError>)]) {
        let numbers = made.iter().chain(started.iter().map(|(number, _)| number));
        for number in numbers {
            let _ = self
                .provider
                .remove_named(&Slot::Next.name(&self.desired.name, *number))
                .await;
        }
    }

    /// Ready (healthy where the service has a probe, else running), then still so after
    /// `monitor`.
    async fn ready(&self, name: &str, number: u32, update: &Update) -> Result<(), ProviderError> {
        let names = [name.to_owned()];
        let docker = &self.provider.docker;
        let address = &self.desired.address;
        wait::all(
            docker,
            address,
            self.spec,
            &names,
            Condition::Healthy,
            self.scope.ready_timeout,
            &self.provider.created,
        )
        .instrument(info_span!("rollout.probe", replica = number))
        .await?;
        wait::stays_up(docker, address, self.spec, name, update.monitor)
            .instrument(info_span!("rollout.monitor", replica = number))
            .await
    }

    /// Takes replica `number` out of service: stopped gracefully and kept as the previous
    /// revision, where its restart policy must not start it again.
    /// The revision it replaces goes: one previous revision is kept, and only once the new
    /// one has taken over, so a failed update keeps the history as it was.
    ///
    /// A replica of the very configuration that replaces it (one repaired after a crash) is
    /// no revision of its own: it goes, and the previous revision stays as it was.
    async fn retire(&self, name: &str, number: u32) -> Result<(), ProviderError> {
        self.provider
            .stop_for_good(name)
            .instrument(info_span!("rollout.stop", replica = number))
            .await?;
        let same_revision = self
            .containers
            .iter()
            .find(|container| container.name() == name)
            .is_some_and(|container| {
                config::replaced_fields(&container.recorded, &self.desired.config, self.desired.kind)
                    .is_empty()
            });
        let kept = async {
            if same_revision {
                return self.provider.remove_named(name).await;
            }
            let previous = Slot::Prev.name(&self.desired.name, number);
            self.provider.remove_named(&previous).await?;
            self.provider.rename(name, &previous).await
        };
        kept.instrument(info_span!("rollout.keep", replica = number))
            .await
    }

    async fn promote(&self, staged: &str, number: u32) -> Result<(), ProviderError> {
        let current = Slot::Current.name(&self.desired.name, number);
        self.provider
            .rename(staged, &current)
            .instrument(info_span!("rollout.promote", replica = number))
            .await?;
        self.provider.created.renamed(staged, &current);
        Ok(())
    }

    /// Undoes a staged container: a new one is removed, a revived one goes back to sleep.
    async fn discard(&self, staged: &str, source: Source) {
        match source {
            Source::New => {
                let _ = self.provider.remove_named(staged).await;
            }
            Source::Previous => {
                if self.provider.stop_for_good(staged).await.is_ok() {
                    let number = staged_number(staged);
                    if let Some(number) = number {
                        let previous = Slot::Prev.name(&self.desired.name, number);
                        let _ = self.provider.rename(staged, &previous).await;
                    }
                }
            }
        }
    }

    /// After a failed stop-first replacement, the replica it replaced comes back.
    async fn bring_back(&self, number: u32) {
        let current = Slot::Current.name(&self.desired.name, number);
        let previous = Slot::Prev.name(&self.desired.name, number);
        if self.provider.rename(&previous, &current).await.is_ok() {
            let _ = self.provider.revive(&current).await;
        }
    }

    /// Once too many replacements failed: rolls back what was `done`, or pauses there.
    async fn failed(
        &self,
        done: &[u32],
        failures: Vec<(u32, ProviderError)>,
        roll_back: bool,
        source: Source,
    ) -> ProviderError {
        let (_, first) = failures.into_iter().next().unwrap_or_else(|| {
            (
                0,
                ProviderError::new(format!("{}: the update failed", self.desired.address)),
            )
        });
        match roll_back {
            true if source == Source::New && !done.is_empty() => {
                // Boxed: restoring is a rollout too, one that never rolls back in turn.
                match Box::pin(self.restore(done)).await {
                    Ok(()) => self.rolled_back(first, "the replicas already updated were rolled back"),
                    Err(undo) => ProviderError::new(format!(
                        "{}\nrolling back failed too: {}",
                        first.message, undo.message
                    ))
                    .with_hint("`stack status` shows what runs; `stack apply` again once the cause is fixed"),
                }
            }
            true => self.rolled_back(first, "no replica was switched"),
            false => ProviderError::new(format!(
                "{}\nthe update of {} paused: {} of its replicas run the new configuration",
                first.message,
                self.desired.address,
                done.len()
            ))
            .with_hint("fix the cause and apply again to go on, or `stack rollback` to go back"),
        }
    }

    fn rolled_back(&self, cause: ProviderError, what: &str) -> ProviderError {
        ProviderError {
            message: format!(
                "{}\nthe update of {} failed and was rolled back: {what}; the previous replicas serve on",
                cause.message, self.desired.address
            ),
            ..cause
        }
    }

    fn continued_despite(&self, failures: Vec<(u32, ProviderError)>) -> ProviderError {
        let numbers: Vec<String> = failures.iter().map(|(number, _)| number.to_string()).collect();
        let causes: Vec<String> = failures.into_iter().map(|(_, error)| error.message).collect();
        ProviderError::new(format!(
            "{}: replicas {} were not updated (failure-action \"continue\"): {}",
            self.desired.address,
            numbers.join(", "),
            causes.join("\n")
        ))
    }

    fn container(&self, slot: Slot, number: u32) -> Option<&Replica> {
        self.containers
            .iter()
            .find(|container| container.slot == slot && container.number == number)
    }
}

/// The replica number in a container name such as `shop_api-2.next`.
fn staged_number(name: &str) -> Option<u32> {
    let base = name.strip_suffix(Slot::NEXT).unwrap_or(name);
    base.rsplit_once('-')?.1.parse().ok()
}

/// Whether `failed` of `total` replacements is more than `max_ratio` allows.
fn too_many(failed: usize, total: usize, max_ratio: f64) -> bool {
    failed > 0 && (failed as f64) > max_ratio * (total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_read_from_names_and_back() {
        assert_eq!(Slot::of("shop_api-2"), Slot::Current);
        assert_eq!(Slot::of("shop_api-2.next"), Slot::Next);
        assert_eq!(Slot::of("shop_api-2.prev"), Slot::Prev);
        assert_eq!(Slot::of("shop_api-proxy"), Slot::Front);
        assert_eq!(Slot::Front.name("shop_api", 0), "shop_api-proxy");
        assert_eq!(Slot::Next.name("shop_api", 2), "shop_api-2.next");
        assert_eq!(Slot::Current.name("shop_api", 2), "shop_api-2");
    }

    #[test]
    fn the_failure_ratio_allows_what_it_says() {
        assert!(!too_many(0, 4, 0.0));
        assert!(too_many(1, 4, 0.0));
        assert!(!too_many(1, 4, 0.25));
        assert!(too_many(2, 4, 0.25));
        assert!(!too_many(4, 4, 1.0));
    }
}
