//! Services: `replicas` containers of one image, named `<stack>_<path>-<n>` (n from 1).
//!
//! Each container carries the stack's labels, its replica number (`dev.stack.replica`) and the
//! user's labels. Secrets are copied into each container before it starts, as files under
//! `/run/secrets`. An `exec` probe is the container's Docker health check; `http` and `tcp`
//! probes are checked from the host ([`host_check`]).
//!
//! Changes the daemon can make live (replicas, memory, cpus, restart policy, networks) are made
//! in place; the others replace the containers as the service's `update` settings say
//! ([`rollout`]). How the recorded configuration stays true after an in-place change, when
//! labels cannot change: [`config`].

// `config`, `live`, `spec` and `wait` are shared with jobs, whose container is made as a replica is.
pub(crate) mod config;
// The Swarm providers' unit tests use them too (feature `testing`). Test code may unwrap.
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::unwrap_used)]
pub mod fixtures;
pub(crate) mod front;
mod host_check;
pub(crate) mod live;
pub(crate) mod rollout;
pub(crate) mod spec;
mod turns;
pub(crate) mod wait;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_docker::{ContainerEndpoint, DockerClient, DockerError, LabelFilter, NetworkAttachment, Resources};
use stack_language::schema::KindSchema;
use stack_language::units::parse_duration;
use stack_language::{Address, Condition, Resource};
use stack_provider::labels::{ADDRESS, STACK};
use stack_provider::{Desired, Fetch, Instance, Live, Provider, ProviderError, Resolve, Revision, Scope};

use crate::{common, registry};
use front::Front;
use live::{REPLICA, Replica};
use rollout::{Rollout, Slot};
use spec::ServiceSpec;

/// Docker's default, when a container's recorded configuration says nothing else.
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

pub struct ServiceProvider {
    docker: Arc<DockerClient>,
    kind: &'static KindSchema,
    /// The containers this process created: one of them that Docker restarted has crashed.
    pub(crate) created: wait::Created,
}

impl ServiceProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        ServiceProvider {
            docker,
            kind: common::builtin_kind("service"),
            created: wait::Created::default(),
        }
    }
}

#[async_trait]
impl Provider for ServiceProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let spec = ServiceSpec::from_resource(resource, resolve)?;
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind,
            name: common::object_name(scope, &resource.address),
            config: config::desired(resource, &scope.stack, resolve, &spec),
            outputs: IndexMap::from([("ref".to_owned(), spec.host_name.clone())]),
            external: false,
            source: None,
            payload: Some(Arc::new(spec)),
        })
    }

    /// One list of the stack's containers, then an inspect of each (networks, limits, health).
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let mut services: IndexMap<Address, Vec<Replica>> = IndexMap::new();
        let ours = |labels: &stack_docker::Labels| service_address(labels).is_some();
        let filter = LabelFilter::new(STACK, &scope.stack);
        for info in self.containers_labelled(&filter, ours).await? {
            let Some(address) = service_address(&info.labels) else {
                continue;
            };
            if let Some(replica) = Replica::new(info) {
                services.entry(address).or_default().push(replica);
            }
        }
        let mut lives = Vec::new();
        for (address, containers) in services {
            let stale_proxy = self.stale_proxy(&containers).await;
            let name = common::object_name(scope, &address);
            if let Some(mut live) = live::live(self.kind, address, name, containers) {
                live.drift.extend(stale_proxy);
                lives.push(live);
            }
        }
        Ok(lives)
    }

    async fn fetches(&self, _scope: &Scope, desired: &Desired) -> Result<Vec<Fetch>, ProviderError> {
        registry::missing_image(&self.docker, resolved(desired)?).await
    }

    async fn fetch(
        &self,
        scope: &Scope,
        fetch: &Fetch,
        progress: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<(), ProviderError> {
        registry::pull(&self.docker, scope, fetch, progress).await
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let creates = (1..=spec.replicas).map(|number| {
            let name = Slot::Current.name(&desired.name, number);
            async move { self.create_replica(scope, desired, spec, number, &name).await }
        });
        join_all(creates).await.into_iter().collect::<Result<(), _>>()?;
        // Nothing of the service existed (a proxy would have been read with it): only a
        // service that has a proxy needs one made.
        if !spec.fronted() {
            return Ok(());
        }
        self.reconcile_front(scope, desired, spec).await.map(drop)
    }

    /// Scales, changes limits, restart policy and networks of the running containers, and
    /// repairs drift: what an interrupted rollout left is finished, missing replicas are
    /// created, and those that are not running or differ from the desired configuration in a
    /// field that replaces are rolled out again. Docker can change a limit but not lift one: a
    /// replica whose limit goes away is replaced too.
    async fn update(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        self.converge(scope, desired, spec, &spec.update).await
    }

    /// A paused canary goes on with the rest of its replicas, batch after batch.
    async fn resume(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let rolling = rollout::Update {
            strategy: rollout::Strategy::Rolling,
            ..spec.update.clone()
        };
        self.converge(scope, desired, spec, &rolling).await
    }

    /// Starts the previous revision's containers again in place of the current ones, start-first;
    /// the current ones become the previous revision, so a second rollback undoes the first.
    async fn roll_back(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let containers = self.finish_interrupted(scope, desired).await?;
        let numbers: Vec<u32> = containers
            .iter()
            .filter(|container| container.slot == Slot::Prev)
            .map(|container| container.number)
            .collect();
        if numbers.is_empty() {
            return Err(ProviderError::new(format!(
                "{}: no previous revision is kept: it has not been updated since it was created",
                desired.address
            ))
            .with_hint("`stack history` lists the revisions kept"));
        }
        let front = self.reconcile_front(scope, desired, spec).await?;
        let restored = self
            .rollout(scope, desired, spec, &containers, front.as_ref())
            .restore(&numbers)
            .await;
        self.settle_front(scope, desired, front.as_ref()).await?;
        restored
    }

    /// The current revision and, when an update kept it, the previous one.
    async fn history(&self, scope: &Scope, live: &Live) -> Result<Vec<Revision>, ProviderError> {
        let containers = self.replicas(scope, &live.address).await?;
        let (serving, _) = live::serving(&containers);
        let previous: Vec<Replica> = containers
            .into_iter()
            .filter(|container| container.slot == Slot::Prev)
            .collect();
        Ok([("current", serving), ("previous", previous)]
            .into_iter()
            .filter_map(|(label, replicas)| revision(label, &replicas))
            .collect())
    }

    /// Rolls every replica out to the new configuration, as `update` says.
    ///
    /// A change of what the proxy in front does (whether there is one, its ports) cannot be
    /// rolled: the proxy and the replicas trade names and ports. Then the old replicas and
    /// proxy go first, and the new ones come up after, with a gap.
    async fn replace(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let containers = self.scaled_down(scope, desired, spec).await?;
        let numbers: Vec<u32> = (1..=spec.replicas).collect();
        let front = containers.iter().find(|container| container.slot == Slot::Front);
        let proxy_changes = front.map_or(spec.fronted(), |front| {
            proxy_settings(&front.recorded) != proxy_settings(&desired.config)
        });
        if !proxy_changes {
            let front = self.reconcile_front(scope, desired, spec).await?;
            let rolled = self
                .rollout(scope, desired, spec, &containers, front.as_ref())
                .run(&numbers, &spec.update)
                .await;
            self.settle_front(scope, desired, front.as_ref()).await?;
            return rolled;
        }
        if let Some(front) = front {
            self.remove(front).await?;
        }
        let stop_first = rollout::Update {
            strategy: rollout::Strategy::Rolling,
            order: rollout::Order::StopFirst,
            ..spec.update.clone()
        };
        self.rollout(scope, desired, spec, &containers, None)
            .run(&numbers, &stop_first)
            .await?;
        self.reconcile_front(scope, desired, spec).await.map(drop)
    }

    /// The replicas that serve, and those a rollout is starting (`.next`): not the previous
    /// revision kept stopped, nor the proxy.
    async fn instances(&self, scope: &Scope, address: &Address) -> Result<Vec<Instance>, ProviderError> {
        let replicas = self.replicas(scope, address).await?;
        Ok(replicas
            .iter()
            .filter(|replica| matches!(replica.slot, Slot::Current | Slot::Next))
            .map(|replica| instance(address, replica.number, &replica.info))
            .collect())
    }

    /// A rollout of every replica to a fresh container of the running configuration, in the
    /// batches and order of the service's `update` block; a canary goes on past its first batch.
    async fn restart(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let containers = self.finish_interrupted(scope, desired).await?;
        let (serving, _) = live::serving(&containers);
        let numbers: Vec<u32> = serving.iter().map(|replica| replica.number).collect();
        let update = match spec.update.strategy {
            rollout::Strategy::Canary => rollout::Update {
                strategy: rollout::Strategy::Rolling,
                ..spec.update.clone()
            },
            _ => spec.update.clone(),
        };
        let front = self.reconcile_front(scope, desired, spec).await?;
        let restarted = self
            .rollout(scope, desired, spec, &containers, front.as_ref())
            .run(&numbers, &update)
            .await;
        self.settle_front(scope, desired, front.as_ref()).await?;
        restarted
    }

    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        let replicas = self.replicas(scope, &live.address).await?;
        let removals = replicas.iter().map(|replica| self.remove(replica));
        join_all(removals).await.into_iter().collect()
    }

    async fn wait(
        &self,
        scope: &Scope,
        desired: &Desired,
        condition: Condition,
    ) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let names: Vec<String> = (1..=spec.replicas)
            .map(|number| Slot::Current.name(&desired.name, number))
            .collect();
        wait::all(
            &self.docker,
            &desired.address,
            spec,
            &names,
            condition,
            scope.ready_timeout,
            &self.created,
        )
        .await
    }
}

impl ServiceProvider {
    /// The containers of the service at `address`, by replica number.
    async fn replicas(&self, scope: &Scope, address: &Address) -> Result<Vec<Replica>, ProviderError> {
        let filter = LabelFilter::new(ADDRESS, address.to_string());
        let containers = self
            .docker
            .list_containers(&filter)
            .await
            .map_err(common::error)?;
        let ours = containers
            .iter()
            .filter(|container| container.labels.get(STACK) == Some(&scope.stack));
        let mut replicas: Vec<Replica> = self
            .inspect_all(ours.map(|container| container.id.as_str()))
            .await?
            .into_iter()
            .filter_map(Replica::new)
            .collect();
        replicas.sort_by_key(|replica| replica.number);
        Ok(replicas)
    }

    /// The containers labelled as `filter` says whose labels `belongs` accepts, inspected:
    /// one list request, then an inspect of each at once.
    pub(crate) async fn containers_labelled(
        &self,
        filter: &LabelFilter,
        belongs: impl Fn(&stack_docker::Labels) -> bool,
    ) -> Result<Vec<stack_docker::ContainerInfo>, ProviderError> {
        let containers = self.docker.list_containers(filter).await.map_err(common::error)?;
        let ours = containers.iter().filter(|container| belongs(&container.labels));
        self.inspect_all(ours.map(|container| container.id.as_str()))
            .await
    }

    /// Inspects the containers at once; one removed since it was listed is left out.
    async fn inspect_all<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<stack_docker::ContainerInfo>, ProviderError> {
        let inspected = self.docker.inspect_containers(ids).await;
        let mut infos = Vec::new();
        for result in inspected {
            match result {
                Ok(info) => infos.push(info),
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(common::error(error)),
            }
        }
        Ok(infos)
    }

    /// Creates replica `number` as the container `name`, puts the secrets in, and starts it.
    async fn create_replica(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        number: u32,
        name: &str,
    ) -> Result<(), ProviderError> {
        self.make_replica(scope, desired, spec, number, name).await?;
        self.start_made(&desired.address, name).await
    }

    /// Creates replica `number` as the container `name` and puts the secrets in, not started.
    async fn make_replica(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        number: u32,
        name: &str,
    ) -> Result<(), ProviderError> {
        let mut labels = common::labels(scope, desired);
        labels.insert(REPLICA.to_owned(), number.to_string());
        self.make_container(scope, desired, spec, name.to_owned(), labels)
            .await
    }

    /// Creates the container `name` of `spec` with `labels`, puts the secrets in, and starts
    /// it.
    pub(crate) async fn start_container(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        name: String,
        labels: stack_docker::Labels,
    ) -> Result<(), ProviderError> {
        self.make_container(scope, desired, spec, name.clone(), labels)
            .await?;
        self.start_made(&desired.address, &name).await
    }

    /// Creates the container `name` of `spec` with `labels` and puts the secrets in. One that
    /// fails half-way is removed, so that no container is left that the next read would
    /// mistake for a working one.
    async fn make_container(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        name: String,
        labels: stack_docker::Labels,
    ) -> Result<(), ProviderError> {
        let container = match spec.fronted() {
            true => spec.container_behind_proxy(name.clone(), labels),
            false => spec.container(name.clone(), labels),
        };
        match self.docker.create_container(&container).await {
            Ok(_) => self.created.insert(&name),
            Err(DockerError::Conflict { .. }) => {
                return Err(self.clash(scope, &desired.address, &name).await);
            }
            Err(error) if error.is_not_found() => return Err(self.not_found(&desired.address, spec).await),
            Err(error) => return Err(failure(&desired.address, error)),
        }
        for file in &spec.secrets {
            if let Err(error) = self.docker.copy_file_into(&name, file).await {
                let _ = self.docker.remove_container(&name, true).await;
                return Err(failure(&desired.address, error));
            }
        }
        Ok(())
    }

    /// Starts a container [`make_container`](Self::make_container) made; one that does not
    /// start is removed, as there.
    async fn start_made(&self, address: &Address, name: &str) -> Result<(), ProviderError> {
        if let Err(error) = self.docker.start_container(name).await {
            let _ = self.docker.remove_container(name, true).await;
            return Err(failure(address, error));
        }
        self.created.started(name);
        Ok(())
    }

    /// Stops the container with its grace period and removes it; one already gone is fine.
    async fn remove(&self, replica: &Replica) -> Result<(), ProviderError> {
        self.remove_or_stop(replica, true).await
    }

    /// Stops the container with its grace period, then removes it if `remove`.
    async fn remove_or_stop(&self, replica: &Replica, remove: bool) -> Result<(), ProviderError> {
        let grace = common::text(&replica.recorded, "stop-grace-period")
            .and_then(|text| parse_duration(text).ok())
            .or(replica.info.stop_timeout)
            .unwrap_or(DEFAULT_GRACE_PERIOD);
        let gone = |result: Result<(), DockerError>| match result {
            Err(error) if !error.is_not_found() => Err(common::error(error)),
            _ => Ok(()),
        };
        gone(self.docker.stop_container(replica.name(), grace).await)?;
        if remove {
            gone(self.docker.remove_container(replica.name(), true).await)?;
        }
        Ok(())
    }

    /// What `update` does, with the rollout settings `update`.
    async fn converge(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        update: &rollout::Update,
    ) -> Result<(), ProviderError> {
        let containers = self.scaled_down(scope, desired, spec).await?;
        let front = self.reconcile_front(scope, desired, spec).await?;
        let (replicas, _) = live::serving(&containers);
        let mut stale = Vec::new();
        for number in 1..=spec.replicas {
            match replicas.iter().find(|replica| replica.number == number) {
                None => {
                    let name = Slot::Current.name(&desired.name, number);
                    self.create_replica(scope, desired, spec, number, &name).await?;
                }
                Some(replica) if self.must_recreate(replica, desired, spec) => stale.push(number),
                Some(replica) => self.update_in_place(replica, spec, front.is_some()).await?,
            }
        }
        let rolled = match stale.is_empty() {
            true => Ok(()),
            false => {
                self.rollout(scope, desired, spec, &containers, front.as_ref())
                    .run(&stale, update)
                    .await
            }
        };
        self.settle_front(scope, desired, front.as_ref()).await?;
        rolled
    }

    /// A rollout of the service from `containers` (as read, every slot) to `desired`.
    fn rollout<'a>(
        &'a self,
        scope: &'a Scope,
        desired: &'a Desired,
        spec: &'a ServiceSpec,
        containers: &'a [Replica],
        front: Option<&'a Front>,
    ) -> Rollout<'a> {
        Rollout {
            provider: self,
            scope,
            desired,
            spec,
            containers,
            front,
        }
    }

    /// Drift when a running proxy does not send to the serving replicas: it restarted since
    /// (with the backends it was created with), or a replica came back with another address.
    async fn stale_proxy(&self, containers: &[Replica]) -> Option<stack_provider::Drift> {
        let front = containers.iter().find(|container| {
            container.slot == Slot::Front && container.info.status == stack_docker::ContainerStatus::Running
        })?;
        let (serving, _) = live::serving(containers);
        let mut expected: Vec<std::net::Ipv4Addr> = serving
            .iter()
            .filter(|replica| replica.info.status == stack_docker::ContainerStatus::Running)
            .filter_map(|replica| backend_address(&replica.info))
            .collect();
        let actual = match Front::of(&front.info)?.backends().await {
            Ok((mut current, _)) => {
                current.sort_unstable();
                current
            }
            Err(error) => return Some(proxy_drift(expected.len(), error)),
        };
        expected.sort_unstable();
        (actual != expected).then(|| {
            let list = |ips: &[std::net::Ipv4Addr]| {
                ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            };
            stack_provider::Drift {
                field: "proxy backends".to_owned(),
                expected: list(&expected),
                actual: list(&actual),
            }
        })
    }

    /// Brings the service's proxy in line: created (with the serving replicas behind it) when
    /// the service should have one and it is missing or stopped, its networks joined as the
    /// service's, removed when the service should have none. Returns it when there is one.
    async fn reconcile_front(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
    ) -> Result<Option<Front>, ProviderError> {
        let name = Slot::Front.name(&desired.name, 0);
        let found = match self.docker.inspect_container(&name).await {
            Ok(info) => Some(info),
            Err(error) if error.is_not_found() => None,
            Err(error) => return Err(common::error(error)),
        };
        if !spec.fronted() {
            if found.is_some() {
                self.remove_named(&name).await?;
            }
            return Ok(None);
        }
        let info = match found {
            Some(info) if info.status == stack_docker::ContainerStatus::Running => {
                self.attach(&name, &info, &spec.networks).await?;
                self.docker
                    .inspect_container(&name)
                    .await
                    .map_err(common::error)?
            }
            stopped => {
                if stopped.is_some() {
                    self.remove_named(&name).await?;
                }
                self.create_front(scope, desired, spec, &name).await?
            }
        };
        let front = Front::of(&info).ok_or_else(|| {
            ProviderError::new(format!(
                "{}: its proxy `{name}` has no address to reach it at",
                desired.address
            ))
            .with_hint("the proxy needs a network: give the service one")
        })?;
        front
            .wait_ready(scope.ready_timeout)
            .await
            .map_err(|error| ProviderError::new(format!("{}: {error}", desired.address)))?;
        Ok(Some(front))
    }

    async fn create_front(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        name: &str,
    ) -> Result<stack_docker::ContainerInfo, ProviderError> {
        let image = front::image(&self.docker).await?;
        let backends = self.serving_addresses(scope, desired).await?;
        let container = front::container(
            spec,
            name.to_owned(),
            image,
            common::labels(scope, desired),
            &backends,
        );
        match self.docker.create_container(&container).await {
            Ok(_) => {}
            Err(DockerError::Conflict { .. }) => return Err(self.clash(scope, &desired.address, name).await),
            Err(error) => return Err(failure(&desired.address, error)),
        }
        if let Err(error) = self.docker.start_container(name).await {
            let _ = self.docker.remove_container(name, true).await;
            return Err(failure(&desired.address, error));
        }
        self.docker.inspect_container(name).await.map_err(common::error)
    }

    /// Puts the serving replicas behind the proxy: after a rollout, and to repair a proxy that
    /// restarted or a replica whose address changed.
    async fn settle_front(
        &self,
        scope: &Scope,
        desired: &Desired,
        front: Option<&Front>,
    ) -> Result<(), ProviderError> {
        let Some(front) = front else {
            return Ok(());
        };
        let backends = self.serving_addresses(scope, desired).await?;
        front
            .set(backends)
            .await
            .map_err(|error| ProviderError::new(format!("{}: {error}", desired.address)))
    }

    async fn serving_addresses(
        &self,
        scope: &Scope,
        desired: &Desired,
    ) -> Result<Vec<std::net::Ipv4Addr>, ProviderError> {
        let containers = self.replicas(scope, &desired.address).await?;
        let (serving, _) = live::serving(&containers);
        Ok(serving
            .iter()
            .filter(|replica| replica.info.status == stack_docker::ContainerStatus::Running)
            .filter_map(|replica| backend_address(&replica.info))
            .collect())
    }

    /// The address of container `name` behind the proxy.
    async fn address_of(&self, name: &str) -> Result<Option<std::net::Ipv4Addr>, ProviderError> {
        match self.docker.inspect_container(name).await {
            Ok(info) => Ok(backend_address(&info)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(common::error(error)),
        }
    }

    /// The service's containers once what an interrupted rollout left is finished and the
    /// replicas beyond `replicas` are gone (highest first), as every change begins.
    async fn scaled_down(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
    ) -> Result<Vec<Replica>, ProviderError> {
        let containers = self.finish_interrupted(scope, desired).await?;
        let (replicas, _) = live::serving(&containers);
        for extra in replicas
            .iter()
            .rev()
            .filter(|replica| replica.number > spec.replicas)
        {
            self.remove(extra).await?;
        }
        let gone = containers
            .iter()
            .filter(|container| container.slot == Slot::Prev && container.number > spec.replicas);
        for previous in gone {
            self.remove_named(previous.name()).await?;
        }
        Ok(containers)
    }

    /// Finishes what an interrupted rollout left: a replacement that stands alone is renamed to
    /// its final name, one beside the replica it was to replace is removed. Returns the
    /// service's containers as they are then.
    async fn finish_interrupted(
        &self,
        scope: &Scope,
        desired: &Desired,
    ) -> Result<Vec<Replica>, ProviderError> {
        let containers = self.replicas(scope, &desired.address).await?;
        let (_, leftovers) = live::serving(&containers);
        if leftovers.is_empty() {
            return Ok(containers);
        }
        let (serving, _) = live::serving(&containers);
        for staged in containers.iter().filter(|container| container.slot == Slot::Next) {
            let stands_alone = serving.iter().any(|replica| replica.name() == staged.name());
            if stands_alone {
                self.rename(staged.name(), &Slot::Current.name(&desired.name, staged.number))
                    .await?;
            } else {
                self.remove_named(staged.name()).await?;
            }
        }
        self.replicas(scope, &desired.address).await
    }

    /// Starts a container kept stopped, with the restart policy its configuration records.
    async fn revive(&self, name: &str) -> Result<(), ProviderError> {
        let info = self.docker.inspect_container(name).await.map_err(common::error)?;
        let recorded = Replica::new(info.clone())
            .map(|replica| replica.recorded)
            .unwrap_or_default();
        let policy = config::restart_policy(&recorded);
        self.docker
            .update_container(name, &info.resources, policy)
            .await
            .map_err(common::error)?;
        self.docker.start_container(name).await.map_err(common::error)?;
        self.created.started(name);
        Ok(())
    }

    /// Stops a container with its grace period and sees that no restart policy, nor a daemon
    /// restart, brings it back: a retired replica must stay out of service.
    async fn stop_for_good(&self, name: &str) -> Result<(), ProviderError> {
        let info = match self.docker.inspect_container(name).await {
            Ok(info) => info,
            Err(error) if error.is_not_found() => return Ok(()),
            Err(error) => return Err(common::error(error)),
        };
        self.docker
            .update_container(name, &info.resources, stack_docker::RestartPolicy::No)
            .await
            .map_err(common::error)?;
        match Replica::new(info) {
            Some(replica) => self.remove_or_stop(&replica, false).await,
            None => Ok(()),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), ProviderError> {
        self.docker
            .rename_container(from, to)
            .await
            .map_err(common::error)
    }

    /// Removes a container at once; one already gone is fine.
    async fn remove_named(&self, name: &str) -> Result<(), ProviderError> {
        match self.docker.remove_container(name, true).await {
            Err(error) if !error.is_not_found() => Err(common::error(error)),
            _ => Ok(()),
        }
    }

    /// Whether a replica cannot be brought in line in place.
    fn must_recreate(&self, replica: &Replica, desired: &Desired, spec: &ServiceSpec) -> bool {
        !replica.is_up()
            || !config::replaced_fields(&desired.config, &replica.recorded, self.kind).is_empty()
            || lifts_a_limit(&replica.info.resources, &spec.resources)
    }

    /// Limits and restart policy by `docker update`, networks by connect and disconnect.
    /// Behind a proxy, a replica joins the networks under its container name only.
    async fn update_in_place(
        &self,
        replica: &Replica,
        spec: &ServiceSpec,
        behind_proxy: bool,
    ) -> Result<(), ProviderError> {
        let name = replica.name();
        let info = &replica.info;
        if !same_limits(&info.resources, &spec.resources) || info.restart != spec.restart {
            self.docker
                .update_container(name, &spec.resources, spec.restart)
                .await
                .map_err(common::error)?;
        }
        let mut wanted = spec.networks.clone();
        if behind_proxy {
            for attachment in &mut wanted {
                attachment.aliases.clear();
                attachment.ipv4_address = None;
            }
        }
        self.attach(name, info, &wanted).await
    }

    /// Joins `wanted` networks as asked and leaves the others; no network at all means Docker's
    /// default one.
    async fn attach(
        &self,
        name: &str,
        info: &stack_docker::ContainerInfo,
        wanted: &[NetworkAttachment],
    ) -> Result<(), ProviderError> {
        let default = [NetworkAttachment {
            network: config::DEFAULT_NETWORK.to_owned(),
            ..Default::default()
        }];
        let wanted = if wanted.is_empty() { &default[..] } else { wanted };
        // Join the new networks first, so the container is never left without one.
        for attachment in wanted {
            match info.networks.get(&attachment.network) {
                Some(endpoint) if attached_as(endpoint, attachment, &info.id) => continue,
                Some(_) => self
                    .docker
                    .disconnect_network(name, &attachment.network, false)
                    .await
                    .map_err(common::error)?,
                None => {}
            }
            self.docker
                .connect_network(name, attachment)
                .await
                .map_err(common::error)?;
        }
        for network in info.networks.keys() {
            if !wanted.iter().any(|attachment| attachment.network == *network) {
                self.docker
                    .disconnect_network(name, network, false)
                    .await
                    .map_err(common::error)?;
            }
        }
        Ok(())
    }

    /// Create answers 404 when the image is not on the host (nothing is pulled here) or a
    /// network it joins does not exist.
    async fn not_found(&self, address: &Address, spec: &ServiceSpec) -> ProviderError {
        match self.docker.inspect_image(&spec.image).await {
            Err(error) if error.is_not_found() => {
                ProviderError::new(format!("{address}: image `{}` is not on this host", spec.image)).with_hint(
                    "build it with an `image` resource and refer to it as \"${image.NAME}\", or load it (`docker load`)",
                )
            }
            _ => {
                let networks: Vec<&str> = spec.networks.iter().map(|attachment| attachment.network.as_str()).collect();
                ProviderError::new(format!("{address}: a network it joins does not exist ({})", networks.join(", ")))
                    .with_hint("apply the stack again: it creates networks before the services that join them")
            }
        }
    }

    /// Why a replica's name is taken: by a container of this very service (made since the plan
    /// was read), or by one stack does not own, which it never touches.
    async fn clash(&self, scope: &Scope, address: &Address, name: &str) -> ProviderError {
        let found = match self.docker.inspect_container(name).await {
            Ok(found) => found,
            Err(error) => return common::error(error),
        };
        let owner = found.labels.get(STACK);
        let owned_address = found.labels.get(ADDRESS);
        if owner == Some(&scope.stack) && owned_address.is_some_and(|owned| *owned == address.to_string()) {
            return ProviderError::new(format!(
                "container `{name}` of {address} was created after this plan was made"
            ))
            .with_hint("plan again: the new plan starts from what is on the daemon now");
        }
        let message = match (owner, owned_address) {
            (Some(stack), Some(owned)) => format!(
                "container `{name}`, needed by {address}, already exists: it belongs to {owned} of stack `{stack}`"
            ),
            _ => format!(
                "container `{name}`, needed by {address}, already exists and was not created by stack"
            ),
        };
        ProviderError::new(message).with_hint(format!(
            "stack never changes nor removes what it does not own: remove or rename that container \
             (`docker rm -f {name}`), or give this stack another name"
        ))
    }
}

/// One revision of the history: the containers of one slot, with what they recorded.
fn revision(label: &'static str, replicas: &[Replica]) -> Option<Revision> {
    let first = replicas.first()?;
    let running = replicas
        .iter()
        .filter(|replica| replica.info.status == stack_docker::ContainerStatus::Running)
        .count();
    let stopped = replicas.len() - running;
    let state = match (running, stopped) {
        (running, 0) => format!("{running} running"),
        (0, stopped) => format!("{stopped} stopped"),
        (running, stopped) => format!("{running} running, {stopped} stopped"),
    };
    Some(Revision {
        label,
        applied: replicas
            .iter()
            .map(|replica| replica.info.created.clone())
            .min()
            .unwrap_or_default(),
        config: first.recorded.clone(),
        state,
    })
}

/// What `stack logs` and `stack exec` know of container `info`, replica `number` of the
/// service (or the job) at `address`.
pub(crate) fn instance(address: &Address, number: u32, info: &stack_docker::ContainerInfo) -> Instance {
    let label = match address.kind {
        "service" => format!("{}-{number}", address.path_name()),
        _ => address.path_name(),
    };
    Instance {
        label,
        number,
        runner: stack_provider::Runner::Container(info.id.clone()),
        running: info.status == stack_docker::ContainerStatus::Running,
        healthy: info
            .health
            .map(|health| health == stack_docker::HealthStatus::Healthy),
        exit_code: match info.status {
            stack_docker::ContainerStatus::Exited | stack_docker::ContainerStatus::Dead => info.exit_code,
            _ => None,
        },
    }
}

/// The spec `desired` built; only this provider's desired states carry one.
fn resolved(desired: &Desired) -> Result<&ServiceSpec, ProviderError> {
    common::spec(desired, "service")
}

fn service_address(labels: &stack_docker::Labels) -> Option<Address> {
    common::parse_address(labels.get(ADDRESS)?, "service")
}

fn proxy_drift(replicas: usize, error: String) -> stack_provider::Drift {
    stack_provider::Drift {
        field: "proxy backends".to_owned(),
        expected: format!("{replicas} replicas"),
        actual: error,
    }
}

/// The address a proxy forwards to: the container's on the first of its networks by name,
/// which the replicas and the proxy all join.
fn backend_address(info: &stack_docker::ContainerInfo) -> Option<std::net::Ipv4Addr> {
    info.networks.values().find_map(|endpoint| endpoint.ipv4_address)
}

/// A daemon error while creating or starting a replica, with what to do where stack knows.
fn failure(address: &Address, error: DockerError) -> ProviderError {
    let hint = match &error {
        DockerError::PortAllocated { .. } => Some(format!(
            "another container or program holds that host port: stop it, or publish another `port` in {address}"
        )),
        DockerError::BadParameter { .. } => Some(format!(
            "the daemon refused a value of {address}: check its fields"
        )),
        _ => None,
    };
    let error = common::error(error);
    ProviderError {
        message: format!("{address}: {}", error.message),
        hint: hint.or(error.hint),
        ..error
    }
}

/// What of a service's configuration its proxy stands on: whether it has one (the update's
/// `order` and `strategy`) and the ports it forwards. The other update settings (`parallelism`,
/// `surge`, ...) change how a rollout goes, not the proxy: changed with the image, they still
/// roll behind it.
fn proxy_settings(config: &stack_provider::Config) -> [Option<&serde_json::Value>; 4] {
    let plain = |field: &str| match config.get(field) {
        Some(stack_provider::Setting::Plain(value)) => Some(value),
        _ => None,
    };
    let update = |field: &str| plain("update").and_then(|update| update.get(field));
    [
        update("order"),
        update("strategy"),
        plain("port"),
        plain("expose"),
    ]
}

/// Docker reads an absent limit in an update as "unchanged": lifting one needs a new container.
fn lifts_a_limit(actual: &Resources, wanted: &Resources) -> bool {
    (actual.memory_limit.is_some() && wanted.memory_limit.is_none())
        || (actual.memory_reservation.is_some() && wanted.memory_reservation.is_none())
        || (actual.cpus.is_some() && wanted.cpus.is_none())
}

fn same_limits(actual: &Resources, wanted: &Resources) -> bool {
    let same_cpus = match (actual.cpus, wanted.cpus) {
        (Some(actual), Some(wanted)) => (actual - wanted).abs() < 1e-6,
        (actual, wanted) => actual.is_none() && wanted.is_none(),
    };
    actual.memory_limit == wanted.memory_limit
        && actual.memory_reservation == wanted.memory_reservation
        && same_cpus
}

/// Whether a container is on a network as `attachment` wants it: the same aliases (besides the
/// short id the daemon adds) and the same fixed address.
fn attached_as(endpoint: &ContainerEndpoint, attachment: &NetworkAttachment, id: &str) -> bool {
    let mut aliases: Vec<&str> = endpoint
        .aliases
        .iter()
        .map(String::as_str)
        .filter(|alias| !(alias.len() >= 12 && id.starts_with(alias)))
        .collect();
    let mut wanted: Vec<&str> = attachment.aliases.iter().map(String::as_str).collect();
    aliases.sort_unstable();
    aliases.dedup();
    wanted.sort_unstable();
    wanted.dedup();
    aliases == wanted && endpoint.fixed_ipv4_address == attachment.ipv4_address
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stack_provider::{Config, Setting};

    use super::proxy_settings;

    fn config(update: serde_json::Value) -> Config {
        Config(
            [
                ("update".to_owned(), Setting::Plain(update)),
                ("expose".to_owned(), Setting::Plain(json!([8080]))),
            ]
            .into_iter()
            .collect(),
        )
    }

    /// A new surge or parallelism written with a new image rolls behind the proxy as it stands;
    /// a new order may take the proxy away, which cannot be rolled.
    #[test]
    fn only_the_order_strategy_and_ports_make_a_new_proxy() {
        let before = config(json!({"order": "start-first"}));
        let retuned = config(json!({"order": "start-first", "surge": 2, "parallelism": 2}));
        assert_eq!(proxy_settings(&before), proxy_settings(&retuned));
        let stop_first = config(json!({"order": "stop-first", "surge": 0}));
        assert_ne!(proxy_settings(&before), proxy_settings(&stop_first));
    }
}
