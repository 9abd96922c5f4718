//! A service's tasks as the instances `stack logs`, `stack exec` and `stack run` work with, as
//! `docker service ps` shows them: a replica per slot (its number), its state, its node and
//! its container once the node has made one.
//!
//! Swarm keeps the tasks a slot ran before (its task history): those are left out, as the
//! containers an update replaced are on one engine, except the last one of a slot that runs
//! no task, so that the output of a replica that failed can be read. A job's instances are the
//! tasks of its latest run (job iteration), the attempts of that run in order.

use stack_docker::service::{Node, NodeSpecRoleEnum, ObjectVersion, Service, Task, TaskState};
use stack_language::Address;
use stack_provider::{Instance, Runner};

/// The instances of the service at `address` from its tasks; `here` is the id of the node whose
/// daemon `stack` talks to.
pub fn instances(
    address: &Address,
    service: &Service,
    tasks: &[Task],
    nodes: &[Node],
    here: Option<&str>,
) -> Vec<Instance> {
    let mut chosen: Vec<&Task> = match job_iteration(service) {
        Some(iteration) => tasks
            .iter()
            .filter(|task| iteration_of(task.job_iteration.as_ref()) == iteration)
            .collect(),
        None => current(tasks),
    };
    chosen.sort_by(|one, other| (one.slot, &one.created_at).cmp(&(other.slot, &other.created_at)));
    chosen
        .into_iter()
        .map(|task| instance(address, task, nodes, here))
        .collect()
}

/// The run of a job Swarm started last; `None` for a service.
fn job_iteration(service: &Service) -> Option<u64> {
    let spec = service.spec.as_ref()?;
    spec.mode.as_ref()?.replicated_job.as_ref()?;
    let status = service.job_status.as_ref();
    Some(iteration_of(
        status.and_then(|status| status.job_iteration.as_ref()),
    ))
}

/// A job iteration's number: Swarm leaves out the first one's (0).
fn iteration_of(version: Option<&ObjectVersion>) -> u64 {
    version.and_then(|version| version.index).unwrap_or(0)
}

/// The tasks Swarm wants running or that still run (an old one an update is stopping), and of
/// each slot that runs none of them, its latest task.
fn current(tasks: &[Task]) -> Vec<&Task> {
    let state = |task: &Task| task.status.as_ref().and_then(|status| status.state);
    let wanted = |task: &Task| matches!(task.desired_state, Some(TaskState::RUNNING | TaskState::READY));
    let still_runs = |task: &Task| matches!(state(task), Some(TaskState::RUNNING | TaskState::STARTING));
    let mut chosen: Vec<&Task> = tasks
        .iter()
        .filter(|task| wanted(task) || still_runs(task))
        .collect();
    let mut slots: Vec<i64> = tasks.iter().filter_map(|task| task.slot).collect();
    slots.sort_unstable();
    slots.dedup();
    for slot in slots {
        let of_slot = || tasks.iter().filter(move |task| task.slot == Some(slot));
        if of_slot().any(|task| state(task) == Some(TaskState::RUNNING)) {
            continue;
        }
        let latest_ended = of_slot()
            .filter(|task| !wanted(task) && !still_runs(task))
            .max_by(|one, other| one.created_at.cmp(&other.created_at));
        chosen.extend(latest_ended);
    }
    chosen
}

fn instance(address: &Address, task: &Task, nodes: &[Node], here: Option<&str>) -> Instance {
    let status = task.status.as_ref();
    let state = status.and_then(|status| status.state);
    let container = status.and_then(|status| status.container_status.as_ref());
    let number = task
        .slot
        .and_then(|slot| u32::try_from(slot).ok())
        .filter(|slot| *slot > 0)
        .unwrap_or(1);
    let label = match address.kind {
        "service" => format!("{}-{number}", address.path_name()),
        _ => address.path_name(),
    };
    let ended = matches!(
        state,
        Some(TaskState::COMPLETE | TaskState::FAILED | TaskState::SHUTDOWN)
    );
    let running = state == Some(TaskState::RUNNING);
    Instance {
        label,
        number,
        runner: Runner::Task(stack_provider::Task {
            id: task.id.clone().unwrap_or_default(),
            state: state.map_or_else(|| "unknown".to_owned(), |state| state.to_string()),
            container: container
                .and_then(|container| container.container_id.clone())
                .filter(|id| !id.is_empty()),
            node: task.node_id.as_deref().map(|id| node(id, nodes, here)),
        }),
        running,
        // Swarm reports a task running only once its health check has passed.
        healthy: has_health_check(task).then_some(running),
        exit_code: container
            .and_then(|container| container.exit_code)
            .filter(|_| ended),
    }
}

/// The node of id `id`, as the swarm lists it.
fn node(id: &str, nodes: &[Node], here: Option<&str>) -> stack_provider::Node {
    let listed = nodes.iter().find(|node| node.id.as_deref() == Some(id));
    let hostname = listed
        .and_then(|node| node.description.as_ref())
        .and_then(|description| description.hostname.clone());
    stack_provider::Node {
        id: id.to_owned(),
        hostname: hostname.unwrap_or_else(|| id.to_owned()),
        address: listed
            .and_then(|node| node.status.as_ref())
            .and_then(|status| status.addr.clone())
            .filter(|address| !address.is_empty()),
        manager: listed
            .and_then(|node| node.spec.as_ref())
            .and_then(|spec| spec.role)
            == Some(NodeSpecRoleEnum::MANAGER),
        here: here == Some(id),
    }
}

/// Whether the task's container runs a health check (`NONE` turns the image's off).
fn has_health_check(task: &Task) -> bool {
    let test = task
        .spec
        .as_ref()
        .and_then(|spec| spec.container_spec.as_ref())
        .and_then(|container| container.health_check.as_ref())
        .and_then(|check| check.test.as_ref());
    test.is_some_and(|test| !test.is_empty() && test[0] != "NONE")
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A task of slot `slot`, created at second `created`, in `state`, Swarm wanting it
    /// `desired`, on node `n1`.
    fn task(id: &str, slot: i64, created: u32, state: &str, desired: &str) -> Task {
        serde_json::from_value(json!({
            "ID": id,
            "Slot": slot,
            "NodeID": "n1",
            "CreatedAt": format!("2026-12-07T10:00:{created:02}Z"),
            "Status": {
                "State": state,
                "ContainerStatus": {"ContainerID": format!("c-{id}"), "ExitCode": 0},
            },
            "DesiredState": desired,
        }))
        .unwrap()
    }

    fn nodes() -> Vec<Node> {
        serde_json::from_value(json!([
            {
                "ID": "n1",
                "Description": {"Hostname": "worker-1"},
                "Spec": {"Role": "worker"},
                "Status": {"Addr": "10.0.0.11"},
            },
            {"ID": "n0", "Description": {"Hostname": "manager-1"}, "Spec": {"Role": "manager"}},
        ]))
        .unwrap()
    }

    fn service() -> Service {
        serde_json::from_value(json!({"Spec": {"Mode": {"Replicated": {"Replicas": 2}}}})).unwrap()
    }

    fn labels(instances: &[Instance]) -> Vec<(String, &str)> {
        instances
            .iter()
            .map(|instance| (instance.label.clone(), instance.id()))
            .collect()
    }

    #[test]
    fn a_replica_is_the_task_of_its_slot_an_old_one_while_it_still_runs() {
        let address = Address::new(&[], "service", "web");
        let tasks = [
            task("new2", 2, 9, "preparing", "ready"),
            task("old2", 2, 1, "running", "shutdown"),
            task("new1", 1, 8, "running", "running"),
            task("old1", 1, 2, "shutdown", "shutdown"),
        ];
        let instances = instances(&address, &service(), &tasks, &nodes(), Some("n0"));
        assert_eq!(
            labels(&instances),
            [
                ("web-1".to_owned(), "new1"),
                ("web-2".to_owned(), "old2"),
                ("web-2".to_owned(), "new2"),
            ]
        );
        let first = &instances[0];
        assert!(first.running);
        assert_eq!(first.healthy, None, "no health check");
        assert_eq!(first.exit_code, None, "still running");
        let Runner::Task(task) = &first.runner else {
            panic!("a task");
        };
        assert_eq!(task.container.as_deref(), Some("c-new1"));
        let node = task.node.as_ref().unwrap();
        assert_eq!(
            (
                node.hostname.as_str(),
                node.address.as_deref(),
                node.manager,
                node.here
            ),
            ("worker-1", Some("10.0.0.11"), false, false)
        );
        assert_eq!(first.container_here(), None, "its container is on another node");
    }

    #[test]
    fn a_slot_that_runs_nothing_shows_its_latest_task_that_ended() {
        let address = Address::new(&["db".to_owned()], "service", "api");
        let tasks = [
            task("failed-early", 1, 1, "failed", "shutdown"),
            task("failed-late", 1, 5, "failed", "shutdown"),
            task("waiting", 1, 6, "pending", "running"),
        ];
        let instances = instances(&address, &service(), &tasks, &nodes(), Some("n1"));
        assert_eq!(
            labels(&instances),
            [
                ("db-api-1".to_owned(), "failed-late"),
                ("db-api-1".to_owned(), "waiting"),
            ]
        );
        assert_eq!(instances[0].exit_code, Some(0));
        assert_eq!(instances[0].container_here(), Some("c-failed-late"));
    }

    #[test]
    fn a_job_is_the_tasks_of_its_latest_run() {
        let address = Address::new(&[], "job", "migrate");
        let job: Service = serde_json::from_value(json!({
            "Spec": {"Mode": {"ReplicatedJob": {"TotalCompletions": 1}}},
            "JobStatus": {"JobIteration": {"Index": 7}},
        }))
        .unwrap();
        let of_iteration = |id: &str, created: u32, state: &str, iteration: u64| Task {
            job_iteration: serde_json::from_value(json!({"Index": iteration})).unwrap(),
            ..task(id, 0, created, state, "complete")
        };
        let first_run: Service = serde_json::from_value(json!({
            "Spec": {"Mode": {"ReplicatedJob": {"TotalCompletions": 1}}},
            "JobStatus": {"JobIteration": {}},
        }))
        .unwrap();
        let first = [task("only", 0, 1, "complete", "complete")];
        assert_eq!(
            labels(&instances(&address, &first_run, &first, &nodes(), None)),
            [("migrate".to_owned(), "only")]
        );
        let tasks = [
            of_iteration("before", 1, "complete", 3),
            of_iteration("second", 6, "complete", 7),
            of_iteration("first", 5, "failed", 7),
        ];
        let instances = instances(&address, &job, &tasks, &nodes(), None);
        assert_eq!(
            labels(&instances),
            [("migrate".to_owned(), "first"), ("migrate".to_owned(), "second")]
        );
        assert!(instances.iter().all(|instance| instance.number == 1));
        assert_eq!(instances[1].exit_code, Some(0));
    }

    #[test]
    fn a_task_with_a_health_check_is_healthy_once_swarm_runs_it() {
        let address = Address::new(&[], "service", "web");
        let checked = |state: &str| Task {
            spec: serde_json::from_value(json!({
                "ContainerSpec": {"HealthCheck": {"Test": ["CMD", "true"]}},
            }))
            .unwrap(),
            ..task("a", 1, 1, state, "running")
        };
        let starting = instances(&address, &service(), &[checked("starting")], &nodes(), None);
        assert_eq!(starting[0].healthy, Some(false));
        let running = instances(&address, &service(), &[checked("running")], &nodes(), None);
        assert_eq!(running[0].healthy, Some(true));
    }
}
