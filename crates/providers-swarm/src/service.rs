//! Services on a swarm: one Swarm service per `service`, named `<stack>_<path>`, created,
//! updated and removed through the Engine's Services API.
//!
//! Every change is a service update that Swarm rolls out as the service's `update` block says
//! (its update and rollback configuration); apply then waits until the tasks of the new spec
//! run and are healthy, and fails, naming the service, when Swarm rolls the update back or the
//! tasks keep failing ([`converge`]). `stack rollback` is Swarm's own rollback to the spec
//! before the last update. The plan compares the live spec field by field ([`observed`]): a
//! service scaled or changed by hand, or whose tasks keep failing, is drift that apply repairs.

pub(crate) mod converge;
pub(crate) mod observed;
pub(crate) mod spec;

use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_docker::service::{Service, TaskState};
use stack_docker::{ContainerStatus, DockerClient, LabelFilter, Labels};
use stack_language::schema::KindSchema;
use stack_language::{Address, Condition, Resource};
use stack_provider::labels::{ADDRESS, CONFIG, STACK};
use stack_provider::{Config, Desired, Drift, Live, Provider, ProviderError, Resolve, Scope};
use stack_providers::common;

use converge::Goal;

/// The engine providers' fixtures, with a secret named as a swarm names one of its versions:
/// `NAME_v1`.
#[cfg(test)]
pub(crate) fn resolved_for_tests(stack: &stack_language::Stack) -> stack_providers::fixtures::Resolved {
    stack_providers::fixtures::Resolved::naming_secrets(stack, &|name| format!("{name}_v1"))
}
use spec::{Mode, SwarmService};

pub struct ServiceProvider {
    docker: Arc<DockerClient>,
    kind: &'static KindSchema,
    mode: Mode,
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
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind,
            name: common::object_name(scope, &resource.address),
            config: desired_config(resource, &scope.stack, resolve),
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
        for service in services {
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
            let (running, wanted) = task_counts(&service);
            let mut state = format!("{running}/{wanted} running");
            let mut healthy = Some(running >= wanted);
            if self.mode == Mode::Job {
                healthy = None;
                state = format!("{running} running, job");
                let name = spec.name.clone().unwrap_or_default();
                let tasks = self.docker.list_tasks(&name).await.map_err(crate::error)?;
                // A failed run is run again by the next apply, as on one engine.
                if let Some(error) = converge::failed_run(&service, &tasks) {
                    state = format!("job failed: {error}");
                    drift.push(Drift {
                        field: "run".to_owned(),
                        expected: "completed".to_owned(),
                        actual: format!("failed: {error}"),
                    });
                }
            } else if running < wanted {
                let name = spec.name.clone().unwrap_or_default();
                let reason = self.failing_reason(&name).await?;
                state.push_str(&format!(", {reason}"));
                drift.push(Drift {
                    field: "tasks".to_owned(),
                    expected: format!("{wanted} running"),
                    actual: format!("{running} running: {reason}"),
                });
            }
            if let Some(update) = update_state(&service) {
                state.push_str(&format!(", {update}"));
            }
            lives.push(Live {
                address,
                kind: self.kind.name,
                name: spec.name.clone().unwrap_or_default(),
                config,
                drift,
                state,
                healthy,
            });
        }
        Ok(lives)
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let spec = self.service_spec(scope, desired, None).await?;
        self.docker
            .create_service(spec)
            .await
            .map_err(|error| named(&desired.address, error))?;
        self.wait_rolled_out(scope, desired).await
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

    /// Removes the service, then waits until its tasks' containers on this node are gone, so
    /// that the networks and volumes they use can be removed after it. Swarm stops them but
    /// may leave those that had ended (a job's run): they are removed here, with their
    /// anonymous volumes.
    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        match self.docker.remove_service(&live.name).await {
            Err(error) if !error.is_not_found() => return Err(named(&live.address, error)),
            _ => {}
        }
        let filter = LabelFilter::new(ADDRESS, live.address.to_string());
        let deadline = tokio::time::Instant::now() + scope.ready_timeout;
        loop {
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
                    Err(error) if !error.is_not_found() => return Err(named(&live.address, error)),
                    _ => {}
                }
            }
            if ours.is_empty() {
                return crate::secret::prune_versions(&self.docker, scope).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ProviderError::new(format!(
                    "{}: the service is removed but its containers are still stopping after {}s",
                    live.address,
                    scope.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
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
    /// Updates the service to `desired` (every task afresh with `restart`) and waits until
    /// Swarm has rolled it out.
    async fn roll_out(&self, scope: &Scope, desired: &Desired, restart: bool) -> Result<(), ProviderError> {
        let current = self
            .docker
            .inspect_service(&desired.name)
            .await
            .map_err(|error| named(&desired.address, error))?;
        let spec = self
            .service_spec(scope, desired, Some((&current, restart)))
            .await?;
        let version = current
            .version
            .and_then(|version| version.index)
            .unwrap_or_default();
        self.docker
            .update_service(&desired.name, version, spec)
            .await
            .map_err(|error| named(&desired.address, error))?;
        self.wait_rolled_out(scope, desired).await?;
        // The versions of secrets its old tasks mounted go, once no other service mounts them.
        crate::secret::prune_versions(&self.docker, scope).await
    }

    async fn wait_for(&self, scope: &Scope, desired: &Desired, goal: Goal) -> Result<(), ProviderError> {
        converge::wait(
            &self.docker,
            &desired.address,
            &desired.name,
            goal,
            scope.ready_timeout,
        )
        .await
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
