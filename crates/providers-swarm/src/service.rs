//! Services on a swarm: one Swarm service per `service`, named `<stack>_<path>`, created,
//! updated and removed through the Engine's Services API.
//!
//! Every change is a service update that Swarm rolls out as the service's `update` block says
//! (its update and rollback configuration); apply then waits until the tasks of the new spec
//! run and are healthy, and fails, naming the service, when Swarm rolls the update back or the
//! tasks keep failing ([`converge`]). `stack rollback` is Swarm's own rollback to the spec
//! before the last update. The plan compares the live spec field by field ([`observed`]): a
//! service scaled or changed by hand, or whose tasks keep failing, is drift that apply repairs.
//! A service whose `host` ports a start-first update could not hand over gets stack's proxy in
//! front, a second Swarm service ([`front`]), made, changed and removed with it.

pub(crate) mod converge;
pub(crate) mod front;
pub(crate) mod nodes;
pub(crate) mod observed;
mod revisions;
pub(crate) mod spec;
mod tasks;

use std::sync::Arc;

use tokio::sync::OnceCell;

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_docker::service::{Service, TaskState};
use stack_docker::{ContainerStatus, DockerClient, LabelFilter, Labels};
use stack_language::schema::KindSchema;
use stack_language::{Address, Condition, Resource};
use stack_provider::labels::{ADDRESS, CONFIG, STACK};
use stack_provider::{
    Config, Desired, Drift, Instance, Live, Provider, ProviderError, Resolve, Revision, Scope,
};
use stack_providers::common;

use converge::Goal;

/// The engine providers' fixtures, with a secret named as a swarm names one of its versions:
/// `NAME_v1`.
#[cfg(test)]
pub(crate) fn resolved_for_tests(stack: &stack_language::Stack) -> stack_providers::fixtures::Resolved {
    stack_providers::fixtures::Resolved::naming_secrets(stack, &|name| format!("{name}_v1"))
}
use spec::{Mode, SwarmService};

/// How many times an update Swarm rolled back for tasks lost with their nodes is sent again.
const RESENDS: usize = 3;

/// The label that tells Swarm's updater to start afresh: the start of the update it was stuck
/// in. It is no part of what the plan compares.
const RESUMED: &str = "dev.stack.swarm.resumed";

pub struct ServiceProvider {
    docker: Arc<DockerClient>,
    kind: &'static KindSchema,
    mode: Mode,
    /// How many nodes the swarm has, read once a plan needs it.
    nodes: OnceCell<usize>,
}

impl ServiceProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        ServiceProvider::of_kind(docker, "service", Mode::Replicated)
    }

    /// The provider of `kind`, whose services run in `mode`: jobs are services too.
    pub(crate) fn of_kind(docker: Arc<DockerClient>, kind: &str, mode: Mode) -> Self {
        ServiceProvider {
            docker,
            kind: common::builtin_kind(kind),
            mode,
            nodes: OnceCell::new(),
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
        let service = SwarmService::from_resource(resource, resolve, self.mode)?;
        if let Some((image, built)) = spec::unpushed_image(resource, resolve) {
            let nodes = self.node_count().await;
            if nodes > 1 {
                return Err(spec::built_on_one_node(resource, image, built, nodes));
            }
        }
        let mut config = desired_config(resource, &scope.stack, resolve);
        front::record(&mut config, &service);
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind,
            name: common::object_name(scope, &resource.address),
            config,
            outputs: IndexMap::from([("ref".to_owned(), service.base.host_name.clone())]),
            external: false,
            source: None,
            payload: Some(Arc::new(service)),
        })
    }

    /// One list of the stack's services (with their task counts); the tasks of a service only
    /// when it runs fewer than it should, to tell why.
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let filter = LabelFilter::new(STACK, &scope.stack);
        let services = self.docker.list_services(&filter).await.map_err(crate::error)?;
        let mut lives = Vec::new();
        for service in &services {
            let Some(spec) = service.spec.as_ref() else {
                continue;
            };
            let labels = spec.labels.clone().unwrap_or_default();
            let Some(address) = labels
                .get(ADDRESS)
                .and_then(|address| common::parse_address(address, self.kind.name))
            else {
                continue;
            };
            let recorded = labels
                .get(CONFIG)
                .map(|json| Config::from_json(json))
                .unwrap_or_default();
            let (config, mut drift) = observed::observed(&recorded, spec);
            let name = spec.name.clone().unwrap_or_default();
            drift.extend(proxy_drift(&recorded, &scope.stack, &address, &name, &services));
            let (running, wanted) = task_counts(service);
            let mut state = format!("{running}/{wanted} running");
            let mut healthy = Some(running >= wanted);
            if self.mode == Mode::Job {
                healthy = None;
                state = format!("{running} running, job");
                let name = spec.name.clone().unwrap_or_default();
                let tasks = self.docker.list_tasks(&name).await.map_err(crate::error)?;
                // A failed run is run again by the next apply, as on one engine.
                if let Some(error) = converge::failed_run(service, &tasks) {
                    state = format!("job failed: {error}");
                    drift.push(Drift {
                        field: "run".to_owned(),
                        expected: "completed".to_owned(),
                        actual: format!("failed: {error}"),
                    });
                }
            } else if running < wanted {
                let reason = self.failing_reason(&name).await?;
                state.push_str(&format!(", {reason}"));
                drift.push(Drift {
                    field: "tasks".to_owned(),
                    expected: format!("{wanted} running"),
                    actual: format!("{running} running: {reason}"),
                });
            }
            if let Some(update) = update_state(service) {
                state.push_str(&format!(", {update}"));
            }
            lives.push(Live {
                address,
                kind: self.kind.name,
                name,
                config,
                drift,
                state,
                healthy,
            });
        }
        Ok(lives)
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let service: &SwarmService = common::spec(desired, desired.kind.name)?;
        let spec = self.service_spec(scope, desired, None).await?;
        self.docker
            .create_service(spec)
            .await
            .map_err(|error| named(&desired.address, error))?;
        self.wait_rolled_out(scope, desired).await?;
        if service.has_proxy() {
            self.front(scope, desired).await?;
        }
        Ok(())
    }

    /// A service update that Swarm rolls out; tasks that keep failing are started afresh, and
    /// a job runs again.
    async fn update(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        let restart = live.drift.iter().any(|drift| drift.field == "tasks") || self.mode == Mode::Job;
        self.roll_out(scope, desired, restart).await
    }

    /// Every task replaced by a fresh one of the same spec, as an update replaces them.
    async fn restart(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        self.roll_out(scope, desired, true).await
    }

    /// The tasks of the service, or of the job's latest run ([`tasks`]).
    async fn instances(&self, scope: &Scope, address: &Address) -> Result<Vec<Instance>, ProviderError> {
        let name = common::object_name(scope, address);
        let service = match self.docker.inspect_service(&name).await {
            Ok(service) => service,
            Err(error) if error.is_not_found() => return Ok(Vec::new()),
            Err(error) => return Err(named(address, error)),
        };
        let tasks = self.docker.list_tasks(&name).await.map_err(crate::error)?;
        let nodes = self.docker.list_nodes().await.map_err(crate::error)?;
        let here = self.docker.swarm_role().await.map_err(crate::error)?.node_id;
        Ok(tasks::instances(
            address,
            &service,
            &tasks,
            &nodes,
            here.as_deref(),
        ))
    }

    /// A job runs again as a new run of the Swarm job (a forced update), then is waited for.
    async fn run(&self, scope: &Scope, desired: &Desired, live: Option<&Live>) -> Result<(), ProviderError> {
        if self.mode != Mode::Job {
            return Err(ProviderError::new(format!(
                "{}: a {} cannot be run on demand",
                desired.address, desired.kind.name
            ))
            .with_hint("name a job"));
        }
        match live {
            Some(_) => self.roll_out(scope, desired, true).await,
            None => self.create(scope, desired).await,
        }
    }

    /// The current spec and the one Swarm keeps from before the last update ([`revisions`]).
    async fn history(&self, _scope: &Scope, live: &Live) -> Result<Vec<Revision>, ProviderError> {
        let (service, previous) = self
            .docker
            .inspect_service_with_previous(&live.name)
            .await
            .map_err(|error| named(&live.address, error))?;
        let tasks = self.docker.list_tasks(&live.name).await.map_err(crate::error)?;
        Ok(revisions::revisions(&service, previous.as_ref(), &tasks))
    }

    /// On a swarm a replacement is an update too: Swarm replaces the tasks, as `update` says.
    async fn replace(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.update(scope, desired, live).await
    }

    /// Swarm's own rollback to the spec the service had before its last update.
    async fn roll_back(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        match self.docker.roll_back_service(&desired.name).await {
            Err(stack_docker::DockerError::BadParameter { message, .. })
                if message.contains("previous spec") =>
            {
                return Err(ProviderError::new(format!(
                    "{}: Swarm keeps no previous spec: it has not been updated since it was created",
                    desired.address
                ))
                .with_hint("a rollback returns to the spec before the last update"));
            }
            result => result.map_err(|error| named(&desired.address, error))?,
        }
        self.wait_for(scope, desired, Goal::Rollback).await
    }

    /// Removes the service and the proxy in front of it, then waits until their containers on
    /// this node are gone, so that the networks and volumes they use can be removed after it,
    /// and removes the versions of secrets that nothing mounts any more.
    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        let proxy = self.proxy_of(scope, &live.address, &live.name).await?;
        let names = proxy.map(|_| front::name(&live.name)).into_iter();
        for name in names.chain([live.name.clone()]) {
            match self.docker.remove_service(&name).await {
                Err(error) if !error.is_not_found() => return Err(named(&live.address, error)),
                _ => {}
            }
        }
        let labels = [ADDRESS, front::PROXY_OF];
        self.wait_gone(scope, &live.address, &labels, "the service is")
            .await?;
        crate::secret::prune_versions(&self.docker, scope).await
    }

    /// A service is started and healthy once its rollout has converged (apply waited for it);
    /// a job once every run completed.
    async fn wait(
        &self,
        scope: &Scope,
        desired: &Desired,
        condition: Condition,
    ) -> Result<(), ProviderError> {
        match condition {
            Condition::Exists => Ok(()),
            _ => self.wait_rolled_out(scope, desired).await,
        }
    }
}

impl ServiceProvider {
    /// How many nodes the swarm has; one when the daemon does not say (its reads then fail,
    /// naming why).
    async fn node_count(&self) -> usize {
        *self
            .nodes
            .get_or_init(|| async { self.docker.swarm_node_count().await.unwrap_or(1) })
            .await
    }

    /// Waits until the stack's containers labelled `label` = `address` on this node are gone
    /// (for each of `labels`), so that the networks, volumes and ports they use are free.
    /// Swarm stops them but may leave those that had ended (a job's run): they are removed
    /// here, with their anonymous volumes.
    async fn wait_gone(
        &self,
        scope: &Scope,
        address: &Address,
        labels: &[&str],
        what: &str,
    ) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + scope.ready_timeout;
        loop {
            let mut left = 0;
            for label in labels {
                let filter = LabelFilter::new(*label, address.to_string());
                let containers = self.docker.list_containers(&filter).await.map_err(crate::error)?;
                let ours: Vec<_> = containers
                    .iter()
                    .filter(|container| container.labels.get(STACK) == Some(&scope.stack))
                    .collect();
                for ended in ours.iter().filter(|container| {
                    matches!(
                        container.status,
                        ContainerStatus::Exited | ContainerStatus::Created | ContainerStatus::Dead
                    )
                }) {
                    match self.docker.remove_container(&ended.id, true).await {
                        Err(error) if !error.is_not_found() => return Err(named(address, error)),
                        _ => {}
                    }
                }
                left += ours.len();
            }
            if left == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ProviderError::new(format!(
                    "{address}: {what} removed but its containers are still stopping after {}s",
                    scope.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// The proxy service in front of the service `name` at `address`, if there is one. A
    /// service of that name that is not this stack's proxy of it is none: it is left alone.
    async fn proxy_of(
        &self,
        scope: &Scope,
        address: &Address,
        name: &str,
    ) -> Result<Option<Service>, ProviderError> {
        let live = match self.docker.inspect_service(&front::name(name)).await {
            Ok(live) => live,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(named(address, error)),
        };
        Ok(is_proxy_of(&live, &scope.stack, address).then_some(live))
    }

    /// Puts the proxy in front of the service as `desired` says, or removes it when it says
    /// none ([`front`]). A proxy as it should be is left alone: it serves on through updates.
    async fn front(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let service: &SwarmService = common::spec(desired, desired.kind.name)?;
        let name = front::name(&desired.name);
        let live = self.proxy_of(scope, &desired.address, &desired.name).await?;
        if !service.has_proxy() {
            if live.is_some() {
                self.docker
                    .remove_service(&name)
                    .await
                    .map_err(|error| named(&desired.address, error))?;
                // Its ports are free only once its containers are gone.
                let proxy_of = [front::PROXY_OF];
                self.wait_gone(scope, &desired.address, &proxy_of, "the proxy in front of it is")
                    .await?;
            }
            return Ok(());
        }
        let image = stack_providers::proxy::image(&self.docker).await?;
        let image = self.task_image(&image).await?;
        let labels = Labels::from([
            (STACK.to_owned(), scope.stack.clone()),
            (front::PROXY_OF.to_owned(), desired.address.to_string()),
        ]);
        let mut spec = front::spec(service, &desired.name, image, labels.clone());
        let applied = observed::applied_label(&spec);
        let mut labels = labels;
        labels.insert(observed::APPLIED.to_owned(), applied.clone());
        spec.labels = Some(labels.into_iter().collect());
        match live {
            None => {
                self.docker
                    .create_service(spec)
                    .await
                    .map_err(|error| named(&desired.address, error))?;
            }
            Some(live) if proxy_as_sent(&live) && applied_of(&live) == Some(applied.as_str()) => {
                return Ok(());
            }
            Some(live) => {
                let version = live.version.and_then(|version| version.index).unwrap_or_default();
                self.docker
                    .update_service(&name, version, spec)
                    .await
                    .map_err(|error| named(&desired.address, error))?;
            }
        }
        let interrupted = converge::wait(
            &self.docker,
            &desired.address,
            &name,
            Goal::Rollout,
            scope.ready_timeout,
        )
        .await?;
        match interrupted {
            None => Ok(()),
            Some(_) => Err(ProviderError::new(format!(
                "{}: Swarm stopped the update of the proxy in front of it for tasks lost with their nodes",
                desired.address
            ))
            .with_hint(
                "`docker node ls` shows which nodes are down or drained; apply again once they are back",
            )),
        }
    }

    /// Updates the service to `desired` (every task afresh with `restart`) and waits until
    /// Swarm has rolled it out. A proxy no longer wanted goes first, since the service takes
    /// its ports back; a new one comes after, once the service has let go of them.
    async fn roll_out(&self, scope: &Scope, desired: &Desired, restart: bool) -> Result<(), ProviderError> {
        let service: &SwarmService = common::spec(desired, desired.kind.name)?;
        if !service.has_proxy() {
            self.front(scope, desired).await?;
        }
        self.send_update(scope, desired, restart, None).await?;
        self.wait_rolled_out(scope, desired).await?;
        // The versions of secrets its old tasks mounted go, once no other service mounts them.
        crate::secret::prune_versions(&self.docker, scope).await?;
        self.front(scope, desired).await
    }

    /// Sends `desired` as the service's new spec. `resumed`, the start of an update Swarm's
    /// updater is stuck in, goes into a label: the spec changes, so Swarm starts an updater
    /// afresh, though the tasks' spec does not.
    async fn send_update(
        &self,
        scope: &Scope,
        desired: &Desired,
        restart: bool,
        resumed: Option<&str>,
    ) -> Result<(), ProviderError> {
        let current = self
            .docker
            .inspect_service(&desired.name)
            .await
            .map_err(|error| named(&desired.address, error))?;
        let mut spec = self
            .service_spec(scope, desired, Some((&current, restart)))
            .await?;
        if let (Some(started), Some(labels)) = (resumed, spec.labels.as_mut()) {
            labels.insert(RESUMED.to_owned(), started.to_owned());
        }
        let version = current
            .version
            .and_then(|version| version.index)
            .unwrap_or_default();
        self.docker
            .update_service(&desired.name, version, spec)
            .await
            .map_err(|error| named(&desired.address, error))
    }

    /// Waits for `goal`, sending the update again when Swarm's updater was thrown off by tasks
    /// lost with their nodes ([`converge::Interrupted`]).
    async fn wait_for(&self, scope: &Scope, desired: &Desired, goal: Goal) -> Result<(), ProviderError> {
        let mut rolled_back = 0;
        loop {
            let interrupted = converge::wait(
                &self.docker,
                &desired.address,
                &desired.name,
                goal,
                scope.ready_timeout,
            )
            .await?;
            match interrupted {
                None => return Ok(()),
                Some(converge::Interrupted::RolledBack(lost)) if rolled_back < RESENDS => {
                    rolled_back += 1;
                    tracing::info!(
                        "{}: Swarm rolled the update back for {lost}: sent again",
                        desired.address
                    );
                    self.send_update(scope, desired, false, None).await?;
                }
                Some(converge::Interrupted::RolledBack(lost)) => {
                    return Err(ProviderError::new(format!(
                        "{}: Swarm rolled the update back {} times, each for {lost}",
                        desired.address,
                        rolled_back + 1
                    ))
                    .with_hint("`docker node ls` shows which nodes are down or drained"));
                }
                Some(converge::Interrupted::Stalled(started)) => {
                    tracing::info!(
                        "{}: Swarm waits for a task on a lost node: update resumed",
                        desired.address
                    );
                    self.send_update(scope, desired, false, Some(&started)).await?;
                }
            }
        }
    }

    /// What a create or an update waits for: a service's rollout, a job's completed run.
    async fn wait_rolled_out(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let service: &SwarmService = common::spec(desired, desired.kind.name)?;
        let goal = match self.mode {
            Mode::Replicated => Goal::Rollout,
            Mode::Job => Goal::Completed {
                attempts: service.job_retries as usize + 1,
            },
        };
        self.wait_for(scope, desired, goal).await
    }

    /// The Engine API's spec of `desired`, with the ids of the secrets it mounts. Updating
    /// `current`, a `restart` starts every task afresh even when nothing else changed.
    async fn service_spec(
        &self,
        scope: &Scope,
        desired: &Desired,
        current: Option<(&Service, bool)>,
    ) -> Result<stack_docker::service::ServiceSpec, ProviderError> {
        let service: &SwarmService = common::spec(desired, desired.kind.name)?;
        let mut secret_ids = Vec::new();
        for secret in &service.secrets {
            let found = self
                .docker
                .inspect_secret(&secret.secret)
                .await
                .map_err(|error| named(&desired.address, error))?;
            secret_ids.push((secret.secret.clone(), found.id));
        }
        let mut labels = common::labels(scope, desired);
        let task_labels = Labels::from([
            (STACK.to_owned(), scope.stack.clone()),
            (ADDRESS.to_owned(), desired.address.to_string()),
        ]);
        let lookup = |name: &str| {
            secret_ids
                .iter()
                .find(|(secret, _)| secret == name)
                .map(|(_, id)| id.clone())
        };
        let mut spec = service.service_spec(&desired.name, Labels::new(), task_labels, &lookup);
        let image = self.task_image(&service.base.image).await?;
        if let Some(container) = spec
            .task_template
            .as_mut()
            .and_then(|template| template.container_spec.as_mut())
        {
            container.image = Some(image);
        }
        if let Some((current, restart)) = current {
            let previous = current
                .spec
                .as_ref()
                .and_then(|spec| spec.task_template.as_ref())
                .and_then(|template| template.force_update)
                .unwrap_or(0);
            if let Some(template) = spec.task_template.as_mut() {
                template.force_update = Some(if restart { previous + 1 } else { previous });
            }
        }
        labels.insert(observed::APPLIED.to_owned(), observed::applied_label(&spec));
        spec.labels = Some(labels.into_iter().collect());
        Ok(spec)
    }

    /// The image a task runs. A node pulls an image named by its tag at every task start, even
    /// when it has it, and starts from its own copy only once the pull failed (after a DNS
    /// time-out where no registry answers). On a swarm of one node, an image the node has is
    /// therefore named by its id, which is never pulled; on more nodes, as written (pinned by
    /// digest, as pushed images are, it is not pulled again either).
    async fn task_image(&self, image: &str) -> Result<String, ProviderError> {
        if image.contains('@') || self.docker.swarm_node_count().await.map_err(crate::error)? > 1 {
            return Ok(image.to_owned());
        }
        match self.docker.inspect_image(image).await {
            Ok(info) => Ok(info.id),
            Err(error) if error.is_not_found() => Ok(image.to_owned()),
            Err(error) => Err(crate::error(error)),
        }
    }

    /// Why a service runs fewer tasks than it should: the error of its latest failed task.
    async fn failing_reason(&self, name: &str) -> Result<String, ProviderError> {
        let tasks = self.docker.list_tasks(name).await.map_err(crate::error)?;
        let failed = tasks.iter().filter(|task| {
            matches!(
                task.status.as_ref().and_then(|status| status.state),
                Some(TaskState::FAILED | TaskState::REJECTED)
            )
        });
        let latest = failed
            .filter_map(|task| Some((task.updated_at.clone()?, task.status.as_ref()?)))
            .max_by(|one, other| one.0.cmp(&other.0));
        Ok(match latest {
            Some((_, status)) => {
                let error = status.err.clone().or(status.message.clone()).unwrap_or_default();
                format!("tasks failing: {error}")
            }
            None => "tasks starting".to_owned(),
        })
    }
}

/// The configuration the plan compares: the resource's fields with references read (an
/// image as its tag, a network or a volume as its name, a secret as its Docker name, which
/// changes with its content), without the fields only the engine reads.
fn desired_config(resource: &Resource, stack: &str, resolve: &dyn Resolve) -> Config {
    let reference = |address: &Address| {
        let desired = resolve.desired(address)?;
        match address.kind {
            "secret" => Some(desired.name.clone()),
            _ => common::reference(resolve)(address),
        }
    };
    common::without_engine_fields(Config::from_resource(resource, stack, reference))
}

/// What differs from the proxy the `recorded` configuration of the Swarm service `name` (at
/// `address`) asks for, among the stack's `services`: a proxy missing, changed by hand, or left in front of a
/// service that has none. Apply makes it as it should be.
fn proxy_drift(
    recorded: &Config,
    stack: &str,
    address: &Address,
    name: &str,
    services: &[Service],
) -> Option<Drift> {
    let proxy_name = front::name(name);
    let live = services.iter().find(|service| {
        service.spec.as_ref().and_then(|spec| spec.name.as_deref()) == Some(&proxy_name)
            && is_proxy_of(service, stack, address)
    });
    let wanted = front::recorded(recorded);
    let actual = match live {
        None if wanted => "missing",
        Some(live) if wanted && !proxy_as_sent(live) => "changed outside stack",
        Some(_) if !wanted => "present",
        _ => return None,
    };
    let expected = if wanted { "in front of it" } else { "none" };
    Some(Drift {
        field: "update".to_owned(),
        expected: format!("proxy service {proxy_name} {expected}"),
        actual: format!("proxy service {proxy_name} {actual}"),
    })
}

/// Whether `service` is the proxy the stack `stack` put in front of its service at `address`.
fn is_proxy_of(service: &Service, stack: &str, address: &Address) -> bool {
    let labels = service.spec.as_ref().and_then(|spec| spec.labels.as_ref());
    let label = |key: &str| labels.and_then(|labels| labels.get(key)).map(String::as_str);
    label(STACK) == Some(stack) && label(front::PROXY_OF) == Some(address.to_string().as_str())
}

/// The label with the hashes of a spec as stack sent it.
fn applied_of(service: &Service) -> Option<&str> {
    service
        .spec
        .as_ref()?
        .labels
        .as_ref()?
        .get(observed::APPLIED)
        .map(String::as_str)
}

/// Whether a proxy service's spec is still the one stack sent (its hashes, as recorded).
fn proxy_as_sent(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .is_some_and(|spec| applied_of(service) == Some(observed::applied_label(spec).as_str()))
}

/// Running and wanted tasks, as the service list counts them.
fn task_counts(service: &Service) -> (u64, u64) {
    let status = service.service_status.as_ref();
    (
        status.and_then(|status| status.running_tasks).unwrap_or(0),
        status.and_then(|status| status.desired_tasks).unwrap_or(0),
    )
}

/// An update Swarm paused or rolled back, in a few words for `stack status`.
fn update_state(service: &Service) -> Option<String> {
    use stack_docker::service::ServiceUpdateStatusStateEnum as State;
    let status = service.update_status.as_ref()?;
    let message = status.message.clone().unwrap_or_default();
    match status.state? {
        State::PAUSED => Some(format!("update paused: {message}")),
        State::ROLLBACK_COMPLETED => Some(format!("update rolled back: {message}")),
        State::ROLLBACK_PAUSED => Some(format!("rollback paused: {message}")),
        State::UPDATING => Some("updating".to_owned()),
        State::ROLLBACK_STARTED => Some("rolling back".to_owned()),
        _ => None,
    }
}

/// A daemon error about the service at `address`, saying which one.
fn named(address: &Address, error: stack_docker::DockerError) -> ProviderError {
    let error = crate::error(error);
    ProviderError {
        message: format!("{address}: {}", error.message),
        ..error
    }
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;
    use stack_provider::Setting;

    use super::*;

    /// A service `name` labelled `labels`, with the hashes of its spec as sent unless `edited`.
    fn service(name: &str, labels: &[(&str, &str)], edited: bool) -> Service {
        let mut spec: stack_docker::service::ServiceSpec =
            serde_json::from_value(json!({"Name": name, "Mode": {"Global": {}}})).unwrap();
        let mut labels: std::collections::HashMap<String, String> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        labels.insert(observed::APPLIED.to_owned(), observed::applied_label(&spec));
        spec.labels = Some(labels);
        if edited {
            spec.task_template =
                serde_json::from_value(json!({"ContainerSpec": {"Image": "other"}})).unwrap();
        }
        Service {
            spec: Some(spec),
            ..Default::default()
        }
    }

    fn recorded(proxy: bool) -> Config {
        let mut update = json!({"order": "start-first"});
        if proxy {
            update["proxy"] = json!({"ports": [8080]});
        }
        let mut config = Config::default();
        config.0.insert("update".to_owned(), Setting::Plain(update));
        config
    }

    #[test]
    fn a_proxy_missing_changed_or_left_over_is_drift() {
        let address = Address::new(&[], "service", "web");
        let ours = [(STACK, "shop"), (front::PROXY_OF, "service.web")];
        let drift = |proxy: bool, services: &[Service]| {
            proxy_drift(&recorded(proxy), "shop", &address, "shop_web", services)
                .map(|drift| format!("{} / {}", drift.actual, drift.expected))
        };
        let proxy = service("shop_web-proxy", &ours, false);
        assert_eq!(drift(true, std::slice::from_ref(&proxy)), None);
        assert_eq!(drift(false, &[]), None);
        assert_eq!(
            drift(true, &[]).unwrap(),
            "proxy service shop_web-proxy missing / proxy service shop_web-proxy in front of it"
        );
        assert_eq!(
            drift(true, &[service("shop_web-proxy", &ours, true)]).unwrap(),
            "proxy service shop_web-proxy changed outside stack / proxy service shop_web-proxy in front of it"
        );
        assert_eq!(
            drift(false, &[proxy]).unwrap(),
            "proxy service shop_web-proxy present / proxy service shop_web-proxy none"
        );
        // A service of that name that is not the proxy (the stack's `web-proxy`) is none.
        let other = service("shop_web-proxy", &[(STACK, "shop")], false);
        assert_eq!(drift(false, std::slice::from_ref(&other)), None);
        assert!(drift(true, &[other]).unwrap().contains(" missing "));
    }
}
