//! Waiting until Swarm has rolled a service out: every task of its current spec running (and,
//! with a health check, healthy: Swarm reports a task running only once its check passed), or
//! for a job, every run completed.
//!
//! The wait fails, naming the service, when Swarm paused or rolled back the update, or when
//! tasks keep failing: Swarm starts a failed task again and again, so a task that can never
//! start would otherwise be waited on until the time-out. Tasks lost with their node (down,
//! drained, gone: [`Nodes`]) count neither as running nor as failing.
//!
//! Swarm's own updater does count them, in two ways the wait hands back to the provider to
//! send the update again ([`Interrupted`]): a new task shut down on a drained node or killed
//! as its node stops is a failure of the update (rolled back by default), and a new task
//! assigned to a node that went down before it started is waited for without end.

use std::time::Duration;

use serde_json::{Value as Json, json};
use stack_docker::DockerClient;
use stack_docker::service::{Service, ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskState};
use stack_language::Address;
use stack_provider::ProviderError;
use tokio::time::Instant;

use super::nodes::Nodes;

/// How often the service, its tasks and the nodes are read while waiting: as often as `docker
/// service update` reads them.
const POLL: Duration = Duration::from_millis(200);

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

/// Why a rollout must be sent again before it can converge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupted {
    /// Swarm rolled the update back for tasks lost with their nodes, not for a task of the
    /// new version that failed: the update is sent again.
    RolledBack(String),
    /// Swarm's updater waits for a task on a node that went down (the update that started at
    /// this time): any change of the service's spec starts an updater afresh.
    Stalled(String),
}

/// Waits until the service `name` has reached `goal`, or fails after `timeout`; or hands back
/// why Swarm's rollout must be sent again.
pub async fn wait(
    docker: &DockerClient,
    address: &Address,
    name: &str,
    goal: Goal,
    timeout: Duration,
) -> Result<Option<Interrupted>, ProviderError> {
    let deadline = Instant::now() + timeout;
    let mut settling_since: Option<Instant> = None;
    loop {
        let (service, tasks, nodes) = tokio::try_join!(
            docker.inspect_service(name),
            docker.list_tasks(name),
            docker.list_nodes()
        )
        .map_err(crate::error)?;
        let progress = progress(&service, &tasks, &Nodes::of(&nodes), goal);
        if !matches!(progress, Progress::Settling(_)) {
            settling_since = None;
        }
        match progress {
            Progress::Done => return Ok(None),
            Progress::Settling(monitor) => {
                let since = *settling_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= monitor {
                    return Ok(None);
                }
            }
            Progress::Interrupted(interrupted) => return Ok(Some(interrupted)),
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
    Interrupted(Interrupted),
    Failed(String),
}

/// Where a rollout of `service` stands, from the service, its tasks and the swarm's `nodes` as
/// read together.
pub fn progress(service: &Service, tasks: &[Task], nodes: &Nodes, goal: Goal) -> Progress {
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
        // Its tasks of the old spec may all run already: not a rollout that converged.
        (Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED), Goal::Rollout) => {
            return Progress::Waiting(format!("Swarm is rolling the update back: {message}"));
        }
        (Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED), Goal::Rollout) => {
            return match lost_with_their_nodes(service, tasks, nodes) {
                Some(lost) => Progress::Interrupted(Interrupted::RolledBack(lost)),
                None => Progress::Failed(format!("the update failed and Swarm rolled it back: {message}")),
            };
        }
        _ => {}
    }
    let all_tasks = tasks;
    let rolling = matches!(
        state,
        Some(ServiceUpdateStatusStateEnum::UPDATING | ServiceUpdateStatusStateEnum::ROLLBACK_STARTED)
    );
    let tasks = nodes.kept(tasks);
    let template = template(service);
    let current = current_tasks(service, tasks.iter().copied());
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
        (false, true) => {
            // Only stack's own update is sent again; a rollback is Swarm's to finish.
            let stalled = (goal == Goal::Rollout)
                .then(|| awaited_on_a_lost_node(service, all_tasks, nodes, template.as_ref()))
                .flatten();
            if let Some(started) = stalled {
                return Progress::Interrupted(Interrupted::Stalled(started));
            }
            return Progress::Waiting(format!("Swarm is rolling it out ({})", counts(&tasks)));
        }
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
    Progress::Waiting(counts(&tasks))
}

/// The tasks of the update Swarm rolled back, when those it counted as failed were all lost
/// with their nodes, in a few words: none of them failed on a node that is still there. They
/// are the tasks created since the update started that are not of the spec it went back to.
fn lost_with_their_nodes(service: &Service, tasks: &[Task], nodes: &Nodes) -> Option<String> {
    let started = instant(service.update_status.as_ref()?.started_at.as_deref()?);
    let template = template(service);
    let of_update: Vec<&Task> = tasks
        .iter()
        .filter(|task| task.created_at.as_deref().map(instant) >= Some(started.clone()))
        .filter(|task| task.spec.as_ref().map(normal) != template)
        .collect();
    let ended_early = |task: &&Task| {
        matches!(
            task.status.as_ref().and_then(|status| status.state),
            Some(TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE)
        )
    };
    let (kept, lost): (Vec<&Task>, Vec<&Task>) = of_update.into_iter().partition(|task| nodes.keep(task));
    if lost.is_empty() || kept.iter().any(ended_early) {
        return None;
    }
    Some(format!("{} of its tasks lost with their nodes", lost.len()))
}

/// When Swarm's updater waits for a task it will never see start, the time its update started
/// (which names that update): a task of the update (created since it started) that was
/// assigned to a node now lost, before it ran, and that Swarm has replaced elsewhere.
fn awaited_on_a_lost_node(
    service: &Service,
    tasks: &[Task],
    nodes: &Nodes,
    template: Option<&Json>,
) -> Option<String> {
    let started = service.update_status.as_ref()?.started_at.clone()?;
    let since = instant(&started);
    let awaited = tasks.iter().any(|task| {
        let before_running = matches!(
            task.status.as_ref().and_then(|status| status.state),
            Some(
                TaskState::NEW
                    | TaskState::ALLOCATED
                    | TaskState::PENDING
                    | TaskState::ASSIGNED
                    | TaskState::ACCEPTED
                    | TaskState::PREPARING
                    | TaskState::READY
                    | TaskState::STARTING
            )
        );
        let created = task.created_at.as_deref().map(instant);
        !nodes.keep(task)
            && before_running
            && task.desired_state == Some(TaskState::SHUTDOWN)
            && created >= Some(since.clone())
            && task.spec.as_ref().map(normal).as_ref() == template
    });
    awaited.then_some(started)
}

/// A time as the daemon writes it (RFC 3339, its fraction of a second without trailing zeros),
/// with nine digits of fraction, so that two compare as the times they are.
fn instant(time: &str) -> String {
    let (whole, zone) = time.split_at(time.find(['Z', '+']).unwrap_or(time.len()));
    let (seconds, fraction) = whole.split_once('.').unwrap_or((whole, ""));
    format!("{seconds}.{fraction:0<9}{zone}")
}

/// The service's current task spec, in the form tasks carry it.
fn template(service: &Service) -> Option<Json> {
    let spec = service.spec.as_ref();
    spec.and_then(|spec| spec.task_template.as_ref()).map(normal)
}

/// The tasks of the service's current spec.
fn current_tasks<'a>(service: &Service, tasks: impl IntoIterator<Item = &'a Task>) -> Vec<&'a Task> {
    let template = template(service);
    tasks
        .into_iter()
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
fn counts(tasks: &[&Task]) -> String {
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
pub(crate) fn normal(spec: &TaskSpec) -> Json {
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
    use crate::service::nodes::tests::{node, ready};

    /// When the update of the services below started.
    const UPDATE_STARTED: &str = "2026-12-07T23:24:29.86Z";

    /// A service of `replicas` tasks whose template is `template`, with an update in `state`.
    fn service(replicas: i64, template: u64, state: Option<&str>) -> Service {
        serde_json::from_value(json!({
            "Spec": {
                "Mode": {"Replicated": {"Replicas": replicas}},
                "TaskTemplate": {"ForceUpdate": template},
            },
            "UpdateStatus": state.map(|state| json!({
                "State": state,
                "StartedAt": UPDATE_STARTED,
                "Message": "update rolled back",
            })),
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

    /// [`task`] placed on the node `node`.
    fn task_on(node: &str, id: &str, template: u64, state: &str, desired: &str) -> Task {
        Task {
            node_id: Some(node.to_owned()),
            ..task(id, template, state, desired)
        }
    }

    /// The swarm of the tests below: `n1` ready, `n2` drained, `n3` down.
    fn one_drained_one_down() -> Nodes {
        Nodes::of(&[
            node("n1", "ready", "active"),
            node("n2", "ready", "drain"),
            node("n3", "down", "active"),
        ])
    }

    /// An update of three replicas (template 1) while `n2` was drained and `n3`'s daemon
    /// stopped: its new tasks there were shut down or killed, and Swarm started them again on
    /// `n1`, where all three now run.
    fn rolled_onto_the_node_left() -> Vec<Task> {
        vec![
            task_on("n1", "a", 1, "running", "running"),
            task_on("n2", "b", 1, "shutdown", "shutdown"),
            task_on("n3", "c", 1, "failed", "shutdown"),
            task_on("n3", "d", 1, "failed", "shutdown"),
            task_on("n3", "e", 1, "failed", "shutdown"),
            task_on("n1", "f", 1, "running", "running"),
            task_on("n1", "g", 1, "running", "running"),
            // Old ones: one stopped by the update, one the down node still reports running.
            task_on("n1", "h", 0, "shutdown", "shutdown"),
            task_on("n3", "i", 0, "running", "running"),
        ]
    }

    #[test]
    fn tasks_lost_with_their_node_are_not_failing_tasks_of_the_update() {
        let service = service(3, 1, Some("completed"));
        let tasks = rolled_onto_the_node_left();
        assert_eq!(
            progress(&service, &tasks, &one_drained_one_down(), Goal::Rollout),
            Progress::Done
        );
        // Were those nodes up, the three killed tasks would be tasks that keep failing.
        let all_up = ready(&["n1", "n2", "n3"]);
        let Progress::Failed(reason) = progress(&service, &tasks, &all_up, Goal::Rollout) else {
            panic!("three failed tasks on nodes that are up must fail the wait");
        };
        assert!(reason.contains("keep failing (3 failed)"), "{reason}");
    }

    #[test]
    fn an_update_swarm_still_reports_settles_on_the_nodes_left() {
        // Swarm's updater may wait for ever for a task it started on the node that went down.
        let service = service(3, 1, Some("updating"));
        assert_eq!(
            progress(
                &service,
                &rolled_onto_the_node_left(),
                &one_drained_one_down(),
                Goal::Rollout
            ),
            Progress::Settling(Duration::from_secs(5))
        );
    }

    /// [`task_on`], created at `created` (a time of the second `23:24:29`).
    fn created(created: &str, task: Task) -> Task {
        Task {
            created_at: Some(format!("2026-12-07T23:24:{created}Z")),
            ..task
        }
    }

    #[test]
    fn an_update_swarm_rolled_back_for_a_task_on_a_drained_node_is_sent_again() {
        // Back on template 0; template 1's new task was shut down as its node was drained.
        let service = service(2, 0, Some("rollback_completed"));
        let mut tasks = vec![
            task_on("n1", "a", 0, "running", "running"),
            created("30.5", task_on("n2", "b", 1, "shutdown", "shutdown")),
            created("31.2", task_on("n1", "c", 0, "running", "running")),
        ];
        assert_eq!(
            progress(&service, &tasks, &one_drained_one_down(), Goal::Rollout),
            Progress::Interrupted(Interrupted::RolledBack(
                "1 of its tasks lost with their nodes".to_owned()
            ))
        );
        // A new task that failed on a node still there is a failed update.
        tasks.push(created("30.9", task_on("n1", "d", 1, "failed", "shutdown")));
        let Progress::Failed(reason) = progress(&service, &tasks, &one_drained_one_down(), Goal::Rollout)
        else {
            panic!("a new task failed on a node that is up: the update failed");
        };
        assert!(reason.contains("Swarm rolled it back"), "{reason}");
    }

    #[test]
    fn a_rollout_is_not_done_while_swarm_rolls_it_back() {
        let service = service(1, 0, Some("rollback_started"));
        let tasks = [task("a", 0, "running", "running")];
        assert!(matches!(
            progress(&service, &tasks, &Nodes::default(), Goal::Rollout),
            Progress::Waiting(_)
        ));
    }

    #[test]
    fn an_updater_waiting_for_a_task_on_a_node_that_went_down_is_stalled() {
        let service = service(2, 1, Some("updating"));
        let mut tasks = vec![
            created("30.1", task_on("n1", "a", 1, "running", "running")),
            // Assigned to n3 just before it went down; Swarm has replaced it by "c".
            created("31.02", task_on("n3", "b", 1, "assigned", "shutdown")),
            created("33", task_on("n1", "c", 1, "pending", "running")),
            task_on("n1", "d", 0, "running", "running"),
        ];
        assert_eq!(
            progress(&service, &tasks, &one_drained_one_down(), Goal::Rollout),
            Progress::Interrupted(Interrupted::Stalled(UPDATE_STARTED.to_owned()))
        );
        // `stack rollback` leaves a rollback to Swarm.
        assert!(matches!(
            progress(&service, &tasks, &one_drained_one_down(), Goal::Rollback),
            Progress::Waiting(_)
        ));
        // The same task from before the update started: another updater waited for it.
        tasks[1].created_at = Some("2026-12-07T23:24:29.8Z".to_owned());
        assert!(matches!(
            progress(&service, &tasks, &one_drained_one_down(), Goal::Rollout),
            Progress::Waiting(_)
        ));
    }

    #[test]
    fn times_compare_as_the_times_they_are() {
        assert!(instant("2026-12-07T23:24:29.86Z") > instant("2026-12-07T23:24:29.8544Z"));
        assert!(instant("2026-12-07T23:24:29.9Z") > instant("2026-12-07T23:24:29.10Z"));
        assert!(instant("2026-12-07T23:24:30Z") > instant("2026-12-07T23:24:29.999Z"));
    }

    #[test]
    fn a_task_a_down_node_still_reports_running_is_not_running() {
        let service = service(2, 1, Some("completed"));
        let tasks = [
            task_on("n1", "a", 1, "running", "running"),
            task_on("n3", "b", 1, "running", "running"),
        ];
        let Progress::Waiting(state) = progress(&service, &tasks, &one_drained_one_down(), Goal::Rollout)
        else {
            panic!("one of two tasks runs on a node that is up: still waiting");
        };
        assert_eq!(state, "1 running");
        assert_eq!(
            progress(&service, &tasks, &ready(&["n1", "n3"]), Goal::Rollout),
            Progress::Done
        );
    }

    #[test]
    fn done_once_every_task_of_the_current_spec_runs_and_no_old_one_does() {
        let service = service(2, 1, Some("completed"));
        let rolling = [
            task("a", 1, "running", "running"),
            task("b", 0, "running", "running"),
        ];
        assert!(matches!(
            progress(&service, &rolling, &Nodes::default(), Goal::Rollout),
            Progress::Waiting(_)
        ));
        let rolled = [
            task("a", 1, "running", "running"),
            task("c", 1, "running", "running"),
            task("b", 0, "shutdown", "shutdown"),
        ];
        assert_eq!(
            progress(&service, &rolled, &Nodes::default(), Goal::Rollout),
            Progress::Done
        );
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
            progress(&service, &tasks, &Nodes::default(), Goal::Rollout),
            Progress::Settling(Duration::from_secs(5))
        );
        service.spec.as_mut().unwrap().update_config =
            serde_json::from_value(json!({"Monitor": 2_000_000_000})).unwrap();
        assert_eq!(
            progress(&service, &tasks, &Nodes::default(), Goal::Rollout),
            Progress::Settling(Duration::from_secs(2))
        );
        let Progress::Waiting(state) = progress(&service, &tasks[..3], &Nodes::default(), Goal::Rollout)
        else {
            panic!("one new task of two runs: the update is still rolling");
        };
        assert_eq!(state, "Swarm is rolling it out (1 running)");
    }

    #[test]
    fn a_rollback_by_swarm_fails_a_rollout_but_is_what_a_rollback_waits_for() {
        let service = service(1, 0, Some("rollback_completed"));
        let tasks = [task("a", 0, "running", "running")];
        let Progress::Failed(reason) = progress(&service, &tasks, &Nodes::default(), Goal::Rollout) else {
            panic!("a rollback by Swarm must fail the rollout");
        };
        assert!(reason.contains("rolled it back: update rolled back"), "{reason}");
        assert_eq!(
            progress(&service, &tasks, &Nodes::default(), Goal::Rollback),
            Progress::Done
        );
    }

    #[test]
    fn tasks_that_keep_failing_fail_the_wait_with_their_error() {
        let service = service(1, 0, None);
        let tasks: Vec<Task> = ["a", "b", "c"]
            .iter()
            .map(|id| task(id, 0, "failed", "shutdown"))
            .collect();
        let Progress::Failed(reason) = progress(&service, &tasks, &Nodes::default(), Goal::Rollout) else {
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
            progress(
                &job,
                &completed,
                &Nodes::default(),
                Goal::Completed { attempts: 1 }
            ),
            Progress::Done
        );
        let failed = [Task {
            spec: None,
            ..task("a", 0, "failed", "shutdown")
        }];
        assert!(matches!(
            progress(&job, &failed, &Nodes::default(), Goal::Completed { attempts: 2 }),
            Progress::Waiting(_)
        ));
        assert!(matches!(
            progress(&job, &failed, &Nodes::default(), Goal::Completed { attempts: 1 }),
            Progress::Failed(_)
        ));
    }
}
