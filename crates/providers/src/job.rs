//! Jobs: one container run to completion, named `<stack>_<path>`.
//!
//! A job's container is made like a service replica (the same [`ServiceSpec`], labels and
//! secrets, see [`ServiceProvider::start_container`]) but is never restarted: `create` starts it
//! and waits until it exits. The exited container stays as the record of the configuration that
//! ran, so the next plan is a no-op, and a change of a field or an input (a rebuilt image's new
//! tag, a secret's new hash, both in the recorded configuration) replaces it, which runs the job
//! again. A run that did not end with 0 is drift: the next apply runs the job again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_docker::{ContainerInfo, ContainerStatus, DockerClient, LabelFilter, RestartPolicy};
use stack_language::schema::KindSchema;
use stack_language::units::parse_duration;
use stack_language::{Address, Condition, Resource, Value};
use stack_provider::labels::ADDRESS;
use stack_provider::{Desired, Drift, Fetch, Instance, Live, Provider, ProviderError, Resolve, Scope};

use crate::service::live::status_word;
use crate::service::spec::ServiceSpec;
use crate::service::{ServiceProvider, instance};
use crate::service::{config, wait};
use crate::{common, registry};

/// How many of a failed run's last log lines its error shows.
const LOG_LINES: usize = 10;

/// What a job runs, and how long and how often.
#[derive(Debug)]
struct JobSpec {
    container: ServiceSpec,
    timeout: Duration,
    retries: u32,
}

/// The label that marks a job's container, with the stack's name.
const JOB: &str = "dev.stack.job";

pub struct JobProvider {
    docker: Arc<DockerClient>,
    /// Makes the containers, as it makes a service's.
    containers: ServiceProvider,
    kind: &'static KindSchema,
}

impl JobProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        JobProvider {
            containers: ServiceProvider::new(docker.clone()),
            docker,
            kind: common::builtin_kind("job"),
        }
    }
}

#[async_trait]
impl Provider for JobProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let mut container = ServiceSpec::from_resource(resource, resolve)?;
        container.restart = RestartPolicy::No;
        let mut config = config::desired(resource, &scope.stack, resolve, &container);
        // A job has no restart policy to record: it is never restarted.
        config.0.shift_remove("restart");
        let spec = JobSpec {
            container,
            timeout: self.duration(resource, "timeout"),
            retries: resource
                .field("retries")
                .and_then(Value::as_int)
                .and_then(|retries| u32::try_from(retries).ok())
                .unwrap_or(0),
        };
        let name = common::object_name(scope, &resource.address);
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind,
            outputs: IndexMap::from([("ref".to_owned(), name.clone())]),
            name,
            config,
            external: false,
            source: None,
            payload: Some(Arc::new(spec)),
        })
    }

    /// One list of the stack's containers, then an inspect of each job's.
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        // Listed by a label of their own: a list of every container of a big stack costs the
        // daemon more than the few jobs it holds.
        let filter = LabelFilter::new(JOB, &scope.stack);
        let ours = |labels: &stack_docker::Labels| job_address(labels).is_some();
        let inspected = self.containers.containers_labelled(&filter, ours).await?;
        Ok(inspected
            .into_iter()
            .filter_map(|info| Some(live(self.kind.name, job_address(&info.labels)?, info)))
            .collect())
    }

    async fn fetches(&self, _scope: &Scope, desired: &Desired) -> Result<Vec<Fetch>, ProviderError> {
        registry::missing_image(&self.docker, &resolved(desired)?.container).await
    }

    async fn fetch(
        &self,
        scope: &Scope,
        fetch: &Fetch,
        progress: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<(), ProviderError> {
        registry::pull(&self.docker, scope, fetch, progress).await
    }

    /// Runs the job: starts its container and waits until it exits. A run that fails is tried
    /// again `retries` times, each in a new container; the last failed one is kept for its logs.
    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let job = resolved(desired)?;
        let mut tries = 0;
        loop {
            tries += 1;
            self.containers
                .start_container(
                    scope,
                    desired,
                    &job.container,
                    desired.name.clone(),
                    job_labels(scope, desired),
                )
                .await?;
            let Err(failure) = self.finish(desired, job).await else {
                return Ok(());
            };
            if tries > job.retries {
                return Err(match tries {
                    1 => failure,
                    _ => ProviderError {
                        message: format!("{} (after {tries} tries)", failure.message),
                        ..failure
                    },
                });
            }
            // The container of the failed try is this run's own.
            self.remove(&desired.name).await?;
        }
    }

    /// Every field runs the job again; the only change in place is repairing drift (a run that
    /// failed), which runs it again as well.
    async fn update(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.replace(scope, desired, live).await
    }

    async fn delete(&self, _scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        self.remove(&live.name).await
    }

    /// The container of its last run, running or exited.
    async fn instances(&self, scope: &Scope, address: &Address) -> Result<Vec<Instance>, ProviderError> {
        let filter = LabelFilter::new(JOB, &scope.stack);
        let this = |labels: &stack_docker::Labels| job_address(labels).as_ref() == Some(address);
        let inspected = self.containers.containers_labelled(&filter, this).await?;
        Ok(inspected.iter().map(|info| instance(address, 1, info)).collect())
    }

    /// Runs the job again: its last run's container goes, a new one runs.
    async fn run(&self, scope: &Scope, desired: &Desired, live: Option<&Live>) -> Result<(), ProviderError> {
        match live {
            Some(live) => self.replace(scope, desired, live).await,
            None => self.create(scope, desired).await,
        }
    }

    /// Ready means completed; `create` has waited for that already, so this only confirms it.
    async fn wait(
        &self,
        scope: &Scope,
        desired: &Desired,
        condition: Condition,
    ) -> Result<(), ProviderError> {
        if condition == Condition::Exists {
            return Ok(());
        }
        let job = resolved(desired)?;
        let names = [desired.name.clone()];
        wait::all(
            &self.docker,
            &desired.address,
            &job.container,
            &names,
            Condition::Completed,
            scope.ready_timeout,
            &self.containers.created,
        )
        .await
    }
}

impl JobProvider {
    /// A duration field, or its default in the schema.
    fn duration(&self, resource: &Resource, name: &str) -> Duration {
        resource
            .field(name)
            .and_then(Value::as_str)
            .or_else(|| self.kind.field(name).and_then(|field| field.default))
            .and_then(|text| parse_duration(text).ok())
            .unwrap_or_default()
    }

    /// Waits until the started container has exited with 0. A run still going after the
    /// job's timeout is stopped; either failure names the job, the exit code and the last lines
    /// of its output.
    async fn finish(&self, desired: &Desired, job: &JobSpec) -> Result<(), ProviderError> {
        let name = &desired.name;
        let names = [name.clone()];
        let waited = wait::all(
            &self.docker,
            &desired.address,
            &job.container,
            &names,
            Condition::Completed,
            job.timeout,
            &self.containers.created,
        )
        .await;
        let Err(waited) = waited else {
            return Ok(());
        };
        let Ok(info) = self.docker.inspect_container(name).await else {
            return Err(waited);
        };
        let address = &desired.address;
        match (info.status, info.exit_code) {
            (ContainerStatus::Exited | ContainerStatus::Dead, Some(code)) => {
                Err(ProviderError::new(format!(
                    "{address}: its run exited with code {code} (container `{name}`){}",
                    self.logs(name).await
                ))
                .with_hint(format!(
                    "see `docker logs {name}`; the next apply runs the job again"
                )))
            }
            (ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Restarting, _) => {
                let stopped = self
                    .docker
                    .stop_container(name, job.container.stop_grace_period)
                    .await;
                let logs = self.logs(name).await;
                stopped.map_err(common::error)?;
                Err(ProviderError::new(format!(
                    "{address}: its run did not finish within its timeout of {} and was stopped (container `{name}`){logs}",
                    written(job.timeout)
                ))
                .with_hint("if it only needs longer, raise its `timeout`; the next apply runs the job again"))
            }
            _ => Err(waited),
        }
    }

    /// The container's last log lines, to append to a message; nothing when there are none.
    async fn logs(&self, name: &str) -> String {
        match self.docker.logs_tail(name, LOG_LINES).await {
            Ok(lines) if !lines.is_empty() => format!("\nits last log lines:\n  {}", lines.join("\n  ")),
            _ => String::new(),
        }
    }

    /// Removes the container, running or not; one already gone is fine.
    async fn remove(&self, name: &str) -> Result<(), ProviderError> {
        match self.docker.remove_container(name, true).await {
            Err(error) if !error.is_not_found() => Err(common::error(error)),
            _ => Ok(()),
        }
    }
}

/// A job as its container shows it: the configuration its labels recorded, and whether that
/// configuration ran to completion.
fn live(kind: &'static str, address: Address, info: ContainerInfo) -> Live {
    let config = common::recorded(&info.labels)
        .map(|(_, config)| config)
        .unwrap_or_default();
    let at = info
        .finished_at
        .as_deref()
        .map_or_else(String::new, |time| format!(" at {}", finished_time(time)));
    let (state, healthy, outcome) = match (info.status, info.exit_code) {
        (ContainerStatus::Exited, Some(0)) => (format!("completed{at}"), None, None),
        (ContainerStatus::Exited, Some(code)) => (
            format!("failed with code {code}{at}"),
            Some(false),
            Some(format!("exited with code {code}")),
        ),
        (status, _) => {
            let word = status_word(status);
            (word.to_owned(), None, Some(word.to_owned()))
        }
    };
    let drift = outcome
        .map(|actual| Drift {
            field: "run".to_owned(),
            expected: "exited with code 0".to_owned(),
            actual,
        })
        .into_iter()
        .collect();
    Live {
        address,
        kind,
        name: info.name,
        config,
        drift,
        state,
        healthy,
    }
}

/// `2026-12-01T19:50:03.123456789Z` as `2026-12-01 19:50:03 UTC`.
fn finished_time(time: &str) -> String {
    match time.get(..19) {
        Some(seconds) if time.ends_with('Z') => format!("{} UTC", seconds.replacen('T', " ", 1)),
        _ => time.to_owned(),
    }
}

/// A duration as a stack file would write it: `90s`, `5m`, `1500ms`.
fn written(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (duration.subsec_millis(), seconds % 60) {
        (0, 0) if seconds > 0 => format!("{}m", seconds / 60),
        (0, _) => format!("{seconds}s"),
        _ => format!("{}ms", duration.as_millis()),
    }
}

/// The spec `desired` built; only this provider's desired states carry one.
fn resolved(desired: &Desired) -> Result<&JobSpec, ProviderError> {
    common::spec(desired, "job")
}

fn job_address(labels: &stack_docker::Labels) -> Option<Address> {
    common::parse_address(labels.get(ADDRESS)?, "job")
}

/// The stack's labels, and the one jobs are listed by.
fn job_labels(scope: &Scope, desired: &Desired) -> stack_docker::Labels {
    let mut labels = common::labels(scope, desired);
    labels.insert(JOB.to_owned(), scope.stack.clone());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_as_written() {
        assert_eq!(
            finished_time("2026-12-01T19:50:03.123456789Z"),
            "2026-12-01 19:50:03 UTC"
        );
        assert_eq!(finished_time("yesterday"), "yesterday");
        assert_eq!(written(Duration::from_secs(600)), "10m");
        assert_eq!(written(Duration::from_secs(90)), "90s");
        assert_eq!(written(Duration::from_millis(1500)), "1500ms");
    }

    fn exited(code: i64) -> ContainerInfo {
        let stack = "shop";
        let text = "stack \"shop\"\nservice \"migrate\" {\n    image \"demo:1\"\n}\n";
        let (loaded, _dir) = crate::service::fixtures::load(text, &[]);
        let address = Address::new(&[], "service", "migrate");
        let (spec, config) = crate::service::fixtures::desired(&loaded, "migrate");
        let mut info = crate::service::fixtures::container(stack, &address, &spec, &config, 1);
        info.status = ContainerStatus::Exited;
        info.exit_code = Some(code);
        info.finished_at = Some("2026-12-01T19:50:03.5Z".to_owned());
        info
    }

    #[test]
    fn a_completed_run_is_no_drift_and_a_failed_one_is() {
        let address = Address::new(&[], "job", "migrate");
        let done = live("job", address.clone(), exited(0));
        assert_eq!(done.state, "completed at 2026-12-01 19:50:03 UTC");
        assert!(done.drift.is_empty());
        assert_eq!(done.healthy, None);
        let failed = live("job", address, exited(3));
        assert_eq!(failed.state, "failed with code 3 at 2026-12-01 19:50:03 UTC");
        assert_eq!(failed.drift.len(), 1);
        assert_eq!(failed.drift[0].actual, "exited with code 3");
        assert_eq!(failed.healthy, Some(false));
    }
}
