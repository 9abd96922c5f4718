//! The revisions Swarm keeps of a service, for `stack history`: its current spec and the one
//! before its last update (`PreviousSpec`), which `stack rollback` returns to. Each carries the
//! configuration stack recorded in its labels when it applied it; when it was applied is when
//! its first task still known was created (Swarm keeps no date per spec).

use stack_docker::service::{Service, ServiceSpec, Task, TaskState};
use stack_provider::labels::CONFIG;
use stack_provider::{Config, Revision};

use super::converge;

/// The current revision of `service` and, when Swarm keeps one, the previous one.
pub fn revisions(service: &Service, previous: Option<&ServiceSpec>, tasks: &[Task]) -> Vec<Revision> {
    let Some(spec) = service.spec.as_ref() else {
        return Vec::new();
    };
    let current_tasks = of_spec(spec, tasks);
    let in_state = |wanted: TaskState| {
        current_tasks
            .iter()
            .filter(|task| state(task) == Some(wanted))
            .count()
    };
    let summary = match spec
        .mode
        .as_ref()
        .is_some_and(|mode| mode.replicated_job.is_some())
    {
        true => format!("{} completed", in_state(TaskState::COMPLETE)),
        false => format!("{} running", in_state(TaskState::RUNNING)),
    };
    let mut revisions = vec![Revision {
        label: "current",
        applied: first_created(&current_tasks)
            .or_else(|| service.updated_at.clone())
            .unwrap_or_default(),
        config: recorded(spec),
        state: summary,
    }];
    if let Some(previous) = previous {
        let previous_tasks = of_spec(previous, tasks);
        let still_running = previous_tasks
            .iter()
            .filter(|task| state(task) == Some(TaskState::RUNNING))
            .count();
        revisions.push(Revision {
            label: "previous",
            applied: first_created(&previous_tasks).unwrap_or_else(|| "(unknown)".to_owned()),
            config: recorded(previous),
            state: match still_running {
                0 => "not running, its spec kept by Swarm".to_owned(),
                running => format!("{running} running, being replaced"),
            },
        });
    }
    revisions
}

/// The configuration stack recorded in the spec's labels when it applied it.
fn recorded(spec: &ServiceSpec) -> Config {
    spec.labels
        .as_ref()
        .and_then(|labels| labels.get(CONFIG))
        .map(|json| Config::from_json(json))
        .unwrap_or_default()
}

/// The tasks Swarm started from `spec`'s task template.
fn of_spec<'a>(spec: &ServiceSpec, tasks: &'a [Task]) -> Vec<&'a Task> {
    let Some(template) = spec.task_template.as_ref().map(converge::normal) else {
        return Vec::new();
    };
    tasks
        .iter()
        .filter(|task| task.spec.as_ref().map(converge::normal).as_ref() == Some(&template))
        .collect()
}

fn state(task: &Task) -> Option<TaskState> {
    task.status.as_ref().and_then(|status| status.state)
}

fn first_created(tasks: &[&Task]) -> Option<String> {
    tasks.iter().filter_map(|task| task.created_at.clone()).min()
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A spec recording `replicas` in its labels, forced `force` times.
    fn spec(replicas: i64, force: u64) -> ServiceSpec {
        let config = json!({"replicas": replicas}).to_string();
        serde_json::from_value(json!({
            "Labels": {CONFIG: config},
            "Mode": {"Replicated": {"Replicas": replicas}},
            "TaskTemplate": {"ForceUpdate": force},
        }))
        .unwrap()
    }

    fn task(force: u64, created: u32, state: &str) -> Task {
        serde_json::from_value(json!({
            "Spec": {"ForceUpdate": force},
            "CreatedAt": format!("2026-12-07T10:00:{created:02}Z"),
            "Status": {"State": state},
        }))
        .unwrap()
    }

    #[test]
    fn the_current_spec_and_the_previous_one_swarm_keeps() {
        let service = Service {
            spec: Some(spec(2, 1)),
            updated_at: Some("2026-12-07T10:00:30Z".to_owned()),
            ..Service::default()
        };
        let tasks = [
            task(0, 1, "shutdown"),
            task(1, 12, "running"),
            task(1, 11, "running"),
        ];
        let revisions = revisions(&service, Some(&spec(1, 0)), &tasks);
        let shown: Vec<(&str, &str, &str)> = revisions
            .iter()
            .map(|revision| (revision.label, revision.applied.as_str(), revision.state.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("current", "2026-12-07T10:00:11Z", "2 running"),
                (
                    "previous",
                    "2026-12-07T10:00:01Z",
                    "not running, its spec kept by Swarm"
                ),
            ]
        );
        assert_eq!(
            revisions[1]
                .config
                .get("replicas")
                .map(|setting| setting.display()),
            Some("1".to_owned())
        );
    }

    #[test]
    fn a_service_never_updated_has_one_revision() {
        let service = Service {
            spec: Some(spec(1, 0)),
            updated_at: Some("2026-12-07T10:00:30Z".to_owned()),
            ..Service::default()
        };
        let revisions = revisions(&service, None, &[]);
        assert_eq!(revisions.len(), 1);
        assert_eq!(revisions[0].applied, "2026-12-07T10:00:30Z");
    }
}
