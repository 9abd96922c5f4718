//! Waiting until Swarm has rolled a service out: every task of its current spec running (and,
//! with a health check, healthy: Swarm reports a task running only once its check passed), or
//! for a job, every run completed.
//!
//! The wait fails, naming the service, when Swarm paused or rolled back the update, or when
//! tasks keep failing: Swarm starts a failed task again and again, so a task that can never
//! start would otherwise be waited on until the time-out.

use std::time::Duration;

use serde_json::{Value as Json, json};
use stack_docker::DockerClient;
use stack_docker::service::{Service, ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskState};
use stack_language::Address;
use stack_provider::ProviderError;
use tokio::time::Instant;

/// How often the service and its tasks are read while waiting.
const POLL: Duration = Duration::from_millis(250);

/// Failed tasks of the current spec, beyond its replicas, after which a rollout is hopeless.
const FAILURES_ALLOWED: usize = 3;

/// What the wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// A create or an update of stack's: Swarm rolling it back is a failure.
    Rollout,
    /// `stack rollback`: Swarm rolling back is what was asked.
    Rollback,
    /// A job's runs have all completed; it fails once `attempts` runs have failed.
    Completed { attempts: usize },
}

/// Waits until the service `name` has reached `goal`, or fails after `timeout`.
pub async fn wait(
    docker: &DockerClient,
    address: &Address,
    name: &str,
    goal: Goal,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let deadline = Instant::now() + timeout;
    let mut settling_since: Option<Instant> = None;
    loop {
        let service = docker.inspect_service(name).await.map_err(crate::error)?;
        let tasks = docker.list_tasks(name).await.map_err(crate::error)?;
        let progress = progress(&service, &tasks, goal);
        if !matches!(progress, Progress::Settling(_)) {
            settling_since = None;
        }
        match progress {
            Progress::Done => return Ok(()),
            Progress::Settling(monitor) => {
                let since = *settling_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= monitor {
                    return Ok(());
                }
            }
            Progress::Failed(reason) => {
                return Err(ProviderError::new(format!("{address}: {reason}")).with_hint(
                    "`docker service ps --no-trunc SERVICE` shows each task's error; fix the files and apply again",
                ));
            }
            Progress::Waiting(state) if Instant::now() >= deadline => {
                return Err(ProviderError::new(format!(
                    "{address}: Swarm has not converged after {}s: {state}",
                    timeout.as_secs()
                ))
                .with_hint("`docker service ps --no-trunc SERVICE` shows what its tasks are doing"));
            }
            Progress::Waiting(_) => {}
        }
        tokio::time::sleep(POLL).await;
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Every task of the current spec runs, but Swarm still reports the update in progress. It
    /// may never report it completed: its updater waits, without a time-out, for a task it
    /// started on a node that then went down, although the orchestrator has replaced that task.
    /// The rollout has converged once this held for the update's monitor period (Swarm's own
    /// window for a new task failing).
    Settling(Duration),
    /// Still rolling out, in a few words.
    Waiting(String),
    Failed(String),
}

/// Where a rollout of `service` stands, from the service and its tasks as read together.
pub fn progress(service: &Service, tasks: &[Task], goal: Goal) -> Progress {
    let update = service.update_status.as_ref();
    let message = update
        .and_then(|status| status.message.clone())
        .unwrap_or_default();
    let state = update.and_then(|status| status.state);
    match (state, goal) {
        (Some(ServiceUpdateStatusStateEnum::PAUSED), _) => {
            return Progress::Failed(format!("Swarm paused the update: {message}"));
        }
        (Some(ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED), _) => {
            return Progress::Failed(format!("Swarm paused the rollback: {message}"));
        }
        (Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED), Goal::Rollout) => {
            return Progress::Failed(format!("the update failed and Swarm rolled it back: {message}"));
        }
        _ => {}
    }
    let rolling = matches!(
        state,
        Some(ServiceUpdateStatusStateEnum::UPDATING | ServiceUpdateStatusStateEnum::ROLLBACK_STARTED)
    );
    let current = current_tasks(service, tasks);
    let wanted = wanted_tasks(service);
    let in_state = |state: TaskState| {
        current
            .iter()
            .filter(|task| task.status.as_ref().and_then(|status| status.state) == Some(state))
            .count()
    };
    let failed: Vec<&&Task> = current
        .iter()
        .filter(|task| {
            matches!(
                task.status.as_ref().and_then(|status| status.state),
                Some(TaskState::FAILED | TaskState::REJECTED)
            )
        })
        .collect();
    let done = match goal {
        Goal::Completed { .. } => in_state(TaskState::COMPLETE) >= wanted,
        Goal::Rollout | Goal::Rollback => {
            // Tasks Swarm is stopping (an old one of a start-first update) do not count.
            let stale = tasks.iter().filter(|task| {
                task.desired_state == Some(TaskState::RUNNING)
                    && !current.iter().any(|current| current.id == task.id)
            });
            in_state(TaskState::RUNNING) >= wanted && stale.count() == 0
        }
    };
    match (done, rolling) {
        (true, false) => return Progress::Done,
        (true, true) => return Progress::Settling(monitor(service, goal)),
        (false, true) => return Progress::Waiting(format!("Swarm is rolling it out ({})", counts(tasks))),
        (false, false) => {}
    }
    let allowed = match goal {
        Goal::Completed { attempts } => attempts * wanted,
        Goal::Rollout | Goal::Rollback => FAILURES_ALLOWED.max(wanted),
    };
    if failed.len() >= allowed {
        let error = failed
            .iter()
            .filter_map(|task| task.status.as_ref())
            .filter_map(|status| status.err.clone().or(status.message.clone()))
            .next_back()
            .unwrap_or_default();
        return Progress::Failed(format!(
            "its tasks keep failing ({} failed): {error}",
            failed.len()
        ));
    }
    Progress::Waiting(counts(tasks))
}

/// The tasks of the service's current spec.
fn current_tasks<'a>(service: &Service, tasks: &'a [Task]) -> Vec<&'a Task> {
    let spec = service.spec.as_ref();
    let template = spec.and_then(|spec| spec.task_template.as_ref()).map(normal);
    tasks
        .iter()
        .filter(|task| task.spec.as_ref().map(normal) == template)
        .collect()
}

/// Why the last run of a job failed, if it did: every task of its current spec has ended, and
/// none completed. The error of the last one.
pub fn failed_run(service: &Service, tasks: &[Task]) -> Option<String> {
    let current = current_tasks(service, tasks);
    let state = |task: &&Task| task.status.as_ref().and_then(|status| status.state);
    let ended = |task: &&Task| {
        matches!(
            state(task),
            Some(TaskState::FAILED | TaskState::REJECTED | TaskState::SHUTDOWN)
        )
    };
    let failed = current
        .iter()
        .filter(|task| matches!(state(task), Some(TaskState::FAILED | TaskState::REJECTED)))
        .filter_map(|task| Some((task.updated_at.clone()?, task.status.as_ref()?)))
        .max_by(|one, other| one.0.cmp(&other.0))?;
    current.iter().all(ended).then(|| {
        let status = failed.1;
        status.err.clone().or(status.message.clone()).unwrap_or_default()
    })
}

/// How long Swarm watches a new task for failing: the monitor period of the service's update
/// (or of its rollback), 5 s when unset as with Swarm.
fn monitor(service: &Service, goal: Goal) -> Duration {
    let spec = service.spec.as_ref();
    let monitor = match goal {
        Goal::Rollback => spec
            .and_then(|spec| spec.rollback_config.as_ref())
            .and_then(|config| config.monitor),
        Goal::Rollout | Goal::Completed { .. } => spec
            .and_then(|spec| spec.update_config.as_ref())
            .and_then(|config| config.monitor),
    };
    monitor
        .and_then(|nanos| u64::try_from(nanos).ok())
        .filter(|nanos| *nanos > 0)
        .map_or(Duration::from_secs(5), Duration::from_nanos)
}

/// How many tasks the service should have: its replicas, or a job's completions.
fn wanted_tasks(service: &Service) -> usize {
    let mode = service.spec.as_ref().and_then(|spec| spec.mode.as_ref());
    let replicas = mode.and_then(|mode| {
        mode.replicated
            .as_ref()
            .and_then(|replicated| replicated.replicas)
            .or_else(|| mode.replicated_job.as_ref().and_then(|job| job.total_completions))
    });
    usize::try_from(replicas.unwrap_or(1)).unwrap_or(1)
}

/// `2 running, 1 starting` over the tasks Swarm wants running.
fn counts(tasks: &[Task]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for task in tasks
        .iter()
        .filter(|task| task.desired_state == Some(TaskState::RUNNING))
    {
        let state = task
            .status
            .as_ref()
            .and_then(|status| status.state)
            .map_or_else(|| "unknown".to_owned(), |state| state.to_string());
        match counts.iter_mut().find(|(name, _)| *name == state) {
            Some((_, count)) => *count += 1,
            None => counts.push((state, 1)),
        }
    }
    if counts.is_empty() {
        return "no task running".to_owned();
    }
    counts
        .iter()
        .map(|(state, count)| format!("{count} {state}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parts of a task spec whose change replaces the tasks, as JSON without empty values, for
/// comparing a task's with its service's. The daemon fills defaults into the service's copy
/// that its tasks' lack (a restart delay, the runtime, empty DNS settings).
fn normal(spec: &TaskSpec) -> Json {
    let parts = json!({
        "container": spec.container_spec,
        "resources": spec.resources,
        "placement": spec.placement,
        "networks": spec.networks,
        "force": spec.force_update,
    });
    super::observed::normal(parts)
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A service of `replicas` tasks whose template is `template`, with an update in `state`.
    fn service(replicas: i64, template: u64, state: Option<&str>) -> Service {
        serde_json::from_value(json!({
            "Spec": {
                "Mode": {"Replicated": {"Replicas": replicas}},
                "TaskTemplate": {"ForceUpdate": template},
            },
            "UpdateStatus": state.map(|state| json!({"State": state, "Message": "update rolled back"})),
        }))
        .unwrap()
    }

    /// A task of the template `template`, in `state`, that Swarm wants `desired`.
    fn task(id: &str, template: u64, state: &str, desired: &str) -> Task {
        serde_json::from_value(json!({
            "ID": id,
            "Spec": {"ForceUpdate": template},
            "Status": {"State": state, "Err": "task: non-zero exit (1)"},
            "DesiredState": desired,
        }))
        .unwrap()
    }

    #[test]
    fn done_once_every_task_of_the_current_spec_runs_and_no_old_one_does() {
        let service = service(2, 1, Some("completed"));
        let rolling = [
            task("a", 1, "running", "running"),
            task("b", 0, "running", "running"),
        ];
        assert!(matches!(
            progress(&service, &rolling, Goal::Rollout),
            Progress::Waiting(_)
        ));
        let rolled = [
            task("a", 1, "running", "running"),
            task("c", 1, "running", "running"),
            task("b", 0, "shutdown", "shutdown"),
        ];
        assert_eq!(progress(&service, &rolled, Goal::Rollout), Progress::Done);
    }

    #[test]
    fn an_update_swarm_still_reports_in_progress_settles_once_every_new_task_runs() {
        // Swarm's updater still waits for "b", assigned to a node that went down and replaced.
        let mut service = service(2, 1, Some("updating"));
        let tasks = [
            task("a", 1, "running", "running"),
            task("b", 1, "assigned", "shutdown"),
            task("c", 0, "running", "shutdown"),
            task("d", 1, "running", "running"),
        ];
        assert_eq!(
            progress(&service, &tasks, Goal::Rollout),
            Progress::Settling(Duration::from_secs(5))
        );
        service.spec.as_mut().unwrap().update_config =
            serde_json::from_value(json!({"Monitor": 2_000_000_000})).unwrap();
        assert_eq!(
            progress(&service, &tasks, Goal::Rollout),
            Progress::Settling(Duration::from_secs(2))
        );
        let Progress::Waiting(state) = progress(&service, &tasks[..3], Goal::Rollout) else {
            panic!("one new task of two runs: the update is still rolling");
        };
        assert_eq!(state, "Swarm is rolling it out (1 running)");
    }

    #[test]
    fn a_rollback_by_swarm_fails_a_rollout_but_is_what_a_rollback_waits_for() {
        let service = service(1, 0, Some("rollback_completed"));
        let tasks = [task("a", 0, "running", "running")];
        let Progress::Failed(reason) = progress(&service, &tasks, Goal::Rollout) else {
            panic!("a rollback by Swarm must fail the rollout");
        };
        assert!(reason.contains("rolled it back: update rolled back"), "{reason}");
        assert_eq!(progress(&service, &tasks, Goal::Rollback), Progress::Done);
    }

    #[test]
    fn tasks_that_keep_failing_fail_the_wait_with_their_error() {
        let service = service(1, 0, None);
        let tasks: Vec<Task> = ["a", "b", "c"]
            .iter()
            .map(|id| task(id, 0, "failed", "shutdown"))
            .collect();
        let Progress::Failed(reason) = progress(&service, &tasks, Goal::Rollout) else {
            panic!("three failed tasks must fail the wait");
        };
        assert!(
            reason.contains("keep failing (3 failed): task: non-zero exit (1)"),
            "{reason}"
        );
    }

    #[test]
    fn a_job_whose_every_task_failed_has_a_failed_run() {
        let job: Service = serde_json::from_value(json!({
            "Spec": {"Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}},
        }))
        .unwrap();
        let run = |state: &str| Task {
            spec: None,
            updated_at: Some("2026-12-07T23:00:00Z".to_owned()),
            ..task("a", 0, state, "shutdown")
        };
        assert_eq!(
            failed_run(&job, &[run("failed")]).as_deref(),
            Some("task: non-zero exit (1)")
        );
        assert_eq!(failed_run(&job, &[run("complete")]), None);
        assert_eq!(failed_run(&job, &[run("failed"), run("running")]), None);
        assert_eq!(failed_run(&job, &[]), None);
    }

    #[test]
    fn a_job_is_done_when_its_run_completed_and_failed_after_its_attempts() {
        let job: Service = serde_json::from_value(json!({
            "Spec": {"Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}},
        }))
        .unwrap();
        let completed = [Task {
            spec: None,
            ..task("a", 0, "complete", "complete")
        }];
        assert_eq!(
            progress(&job, &completed, Goal::Completed { attempts: 1 }),
            Progress::Done
        );
        let failed = [Task {
            spec: None,
            ..task("a", 0, "failed", "shutdown")
        }];
        assert!(matches!(
            progress(&job, &failed, Goal::Completed { attempts: 2 }),
            Progress::Waiting(_)
        ));
        assert!(matches!(
            progress(&job, &failed, Goal::Completed { attempts: 1 }),
            Progress::Failed(_)
        ));
    }
}
