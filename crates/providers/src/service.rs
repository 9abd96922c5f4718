//! Services: `replicas` containers of one image, named `<stack>_<path>-<n>` (n from 1).
//!
//! Each container carries the stack's labels, its replica number (`dev.stack.replica`) and the
//! user's labels. Secrets are copied into each container before it starts, as files under
//! `/run/secrets`. An `exec` probe is the container's Docker health check; `http` and `tcp`
//! probes are checked from the host ([`host_check`]).
//!
//! Changes the daemon can make live (replicas, memory, cpus, restart policy, networks) are made
//! in place; the others replace the containers one at a time, stop-first. How the recorded
//! configuration stays true after an in-place change, when labels cannot change: [`config`].

mod config;
#[cfg(test)]
mod fixtures;
mod host_check;
mod live;
mod spec;
mod wait;

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
use stack_provider::{Desired, Live, Provider, ProviderError, Resolve, Scope};

use crate::common;
use live::{REPLICA, Replica};
use spec::ServiceSpec;

/// Docker's default, when a container's recorded configuration says nothing else.
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

pub struct ServiceProvider {
    docker: Arc<DockerClient>,
    kind: &'static KindSchema,
}

impl ServiceProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        ServiceProvider {
            docker,
            kind: common::builtin_kind("service"),
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
            payload: Some(Arc::new(spec)),
        })
    }

    /// One list of the stack's containers, then an inspect of each (networks, limits, health).
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let filter = LabelFilter::new(STACK, &scope.stack);
        let containers = self
            .docker
            .list_containers(&filter)
            .await
            .map_err(common::error)?;
        let ours = containers
            .iter()
            .filter(|container| service_address(&container.labels).is_some());
        let mut services: IndexMap<Address, Vec<Replica>> = IndexMap::new();
        for info in self
            .inspect_all(ours.map(|container| container.id.as_str()))
            .await?
        {
            let Some(address) = service_address(&info.labels) else {
                continue;
            };
            if let Some(replica) = Replica::new(info) {
                services.entry(address).or_default().push(replica);
            }
        }
        Ok(services
            .into_iter()
            .filter_map(|(address, replicas)| {
                let name = common::object_name(scope, &address);
                live::live(self.kind, address, name, replicas)
            })
            .collect())
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let creates = (1..=spec.replicas).map(|number| self.create_replica(scope, desired, spec, number));
        join_all(creates).await.into_iter().collect()
    }

    /// Scales, changes limits, restart policy and networks of the running containers, and
    /// repairs drift: missing replicas are created, and those that are not running or differ
    /// from the desired configuration in a field that replaces are created again. Docker can
    /// change a limit but not lift one: a replica whose limit goes away is created again too.
    async fn update(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let replicas = self.replicas(scope, &desired.address).await?;
        for extra in replicas
            .iter()
            .rev()
            .filter(|replica| replica.number > spec.replicas)
        {
            self.remove(extra).await?;
        }
        for number in 1..=spec.replicas {
            match replicas.iter().find(|replica| replica.number == number) {
                None => self.create_replica(scope, desired, spec, number).await?,
                Some(replica) if self.must_recreate(replica, desired, spec) => {
                    self.remove(replica).await?;
                    self.create_replica(scope, desired, spec, number).await?;
                }
                Some(replica) => self.update_in_place(replica, spec).await?,
            }
        }
        Ok(())
    }

    /// Stop-first, one replica at a time: each old container is stopped (with its grace
    /// period) and removed, its replacement created, and the next one waits until that
    /// replacement is ready (healthy where there is a probe, else running). A replacement that
    /// does not become ready stops the rollout, leaving the remaining old replicas running.
    async fn replace(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let spec = resolved(desired)?;
        let old = self.replicas(scope, &desired.address).await?;
        for extra in old.iter().rev().filter(|replica| replica.number > spec.replicas) {
            self.remove(extra).await?;
        }
        for number in 1..=spec.replicas {
            if let Some(replica) = old.iter().find(|replica| replica.number == number) {
                self.remove(replica).await?;
            }
            self.create_replica(scope, desired, spec, number).await?;
            if number < spec.replicas {
                let name = [replica_name(&desired.name, number)];
                let ready = Condition::Healthy;
                wait::all(
                    &self.docker,
                    &desired.address,
                    spec,
                    &name,
                    ready,
                    scope.ready_timeout,
                )
                .await?;
            }
        }
        Ok(())
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
            .map(|number| replica_name(&desired.name, number))
            .collect();
        wait::all(
            &self.docker,
            &desired.address,
            spec,
            &names,
            condition,
            scope.ready_timeout,
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

    /// Inspects the containers at once; one removed since it was listed is left out.
    async fn inspect_all<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<stack_docker::ContainerInfo>, ProviderError> {
        let inspected = join_all(ids.map(|id| self.docker.inspect_container(id))).await;
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

    /// Creates replica `number`, puts the secrets in, and starts it. A replica that fails
    /// half-way is removed, so that no container is left that the next read would mistake for
    /// a working one.
    async fn create_replica(
        &self,
        scope: &Scope,
        desired: &Desired,
        spec: &ServiceSpec,
        number: u32,
    ) -> Result<(), ProviderError> {
        let name = replica_name(&desired.name, number);
        let mut labels = common::labels(scope, desired);
        labels.insert(REPLICA.to_owned(), number.to_string());
        let container = spec.container(name.clone(), labels);
        match self.docker.create_container(&container).await {
            Ok(_) => {}
            Err(DockerError::Conflict { .. }) => {
                return Err(self.clash(scope, &desired.address, &name).await);
            }
            Err(error) if error.is_not_found() => return Err(self.not_found(&desired.address, spec).await),
            Err(error) => return Err(failure(&desired.address, error)),
        }
        let started = async {
            for file in &spec.secrets {
                self.docker.copy_file_into(&name, file).await?;
            }
            self.docker.start_container(&name).await
        };
        if let Err(error) = started.await {
            let _ = self.docker.remove_container(&name, true).await;
            return Err(failure(&desired.address, error));
        }
        Ok(())
    }

    /// Stops the container with its grace period and removes it; one already gone is fine.
    async fn remove(&self, replica: &Replica) -> Result<(), ProviderError> {
        let grace = common::text(&replica.recorded, "stop-grace-period")
            .and_then(|text| parse_duration(text).ok())
            .or(replica.info.stop_timeout)
            .unwrap_or(DEFAULT_GRACE_PERIOD);
        let gone = |result: Result<(), DockerError>| match result {
            Err(error) if !error.is_not_found() => Err(common::error(error)),
            _ => Ok(()),
        };
        gone(self.docker.stop_container(replica.name(), grace).await)?;
        gone(self.docker.remove_container(replica.name(), true).await)
    }

    /// Whether a replica cannot be brought in line in place.
    fn must_recreate(&self, replica: &Replica, desired: &Desired, spec: &ServiceSpec) -> bool {
        !replica.is_up()
            || !config::replaced_fields(&desired.config, &replica.recorded, self.kind).is_empty()
            || lifts_a_limit(&replica.info.resources, &spec.resources)
    }

    /// Limits and restart policy by `docker update`, networks by connect and disconnect.
    async fn update_in_place(&self, replica: &Replica, spec: &ServiceSpec) -> Result<(), ProviderError> {
        let name = replica.name();
        let info = &replica.info;
        if !same_limits(&info.resources, &spec.resources) || info.restart != spec.restart {
            self.docker
                .update_container(name, &spec.resources, spec.restart)
                .await
                .map_err(common::error)?;
        }
        let default = [NetworkAttachment {
            network: config::DEFAULT_NETWORK.to_owned(),
            ..Default::default()
        }];
        let wanted = if spec.networks.is_empty() {
            &default[..]
        } else {
            &spec.networks[..]
        };
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

/// The spec `desired` built; only this provider's desired states carry one.
fn resolved(desired: &Desired) -> Result<&ServiceSpec, ProviderError> {
    desired
        .payload
        .as_ref()
        .and_then(|payload| payload.downcast_ref::<ServiceSpec>())
        .ok_or_else(|| {
            ProviderError::new(format!(
                "{}: the desired state holds no container spec",
                desired.address
            ))
            .with_hint("this is a bug in stack: the service provider's `desired` makes every service's spec")
        })
}

fn replica_name(service_name: &str, number: u32) -> String {
    format!("{service_name}-{number}")
}

fn service_address(labels: &stack_docker::Labels) -> Option<Address> {
    common::parse_address(labels.get(ADDRESS)?, "service")
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
    }
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
