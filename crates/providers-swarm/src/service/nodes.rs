//! Which tasks still count: those on nodes that can run them.
//!
//! A node that stops, loses its connection, is drained or leaves the swarm takes its tasks
//! with it. Swarm replaces them on the other nodes, but the lost ones stay in its task list as
//! last reported: `running` (a down node reports nothing more), `failed` (its daemon killed
//! them as it stopped) or `shutdown` (drained). They are neither running tasks of a rollout
//! nor tasks that keep failing: a rollout has converged once the nodes left run the service.

use std::collections::HashSet;

use stack_docker::service::{Node, NodeSpecAvailabilityEnum, NodeState, Task};

/// The nodes of the swarm that are ready and not drained, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nodes {
    available: HashSet<String>,
}

impl Nodes {
    /// The available nodes among `nodes`, as the manager lists them.
    pub fn of(nodes: &[Node]) -> Nodes {
        let available = nodes
            .iter()
            .filter(|node| {
                let state = node.status.as_ref().and_then(|status| status.state);
                let availability = node.spec.as_ref().and_then(|spec| spec.availability);
                state == Some(NodeState::READY) && availability != Some(NodeSpecAvailabilityEnum::DRAIN)
            })
            .filter_map(|node| node.id.clone())
            .collect();
        Nodes { available }
    }

    /// Whether `task` still counts: it is on an available node, or on none yet (Swarm has
    /// not placed it).
    pub fn keep(&self, task: &Task) -> bool {
        match task.node_id.as_deref() {
            None | Some("") => true,
            Some(node) => self.available.contains(node),
        }
    }

    /// The tasks of `tasks` that still count.
    pub fn kept<'a>(&self, tasks: &'a [Task]) -> Vec<&'a Task> {
        tasks.iter().filter(|task| self.keep(task)).collect()
    }
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A node `id` in `state` with `availability`, as `GET /nodes` lists it.
    pub fn node(id: &str, state: &str, availability: &str) -> Node {
        serde_json::from_value(json!({
            "ID": id,
            "Spec": {"Availability": availability, "Role": "worker"},
            "Status": {"State": state},
        }))
        .unwrap()
    }

    /// A swarm of the nodes `ids`, every one ready and active.
    pub fn ready(ids: &[&str]) -> Nodes {
        let nodes: Vec<Node> = ids.iter().map(|id| node(id, "ready", "active")).collect();
        Nodes::of(&nodes)
    }

    fn task_on(node: Option<&str>) -> Task {
        serde_json::from_value(json!({"ID": "t", "NodeID": node})).unwrap()
    }

    #[test]
    fn tasks_on_nodes_down_drained_or_gone_no_longer_count() {
        let nodes = Nodes::of(&[
            node("ready", "ready", "active"),
            node("paused", "ready", "pause"),
            node("drained", "ready", "drain"),
            node("down", "down", "active"),
            node("disconnected", "disconnected", "active"),
            node("unknown", "unknown", "active"),
        ]);
        let kept: Vec<&str> = [
            "ready",
            "paused",
            "drained",
            "down",
            "disconnected",
            "unknown",
            "left",
        ]
        .into_iter()
        .filter(|id| nodes.keep(&task_on(Some(id))))
        .collect();
        // A paused node keeps running its tasks; it only takes no new ones.
        assert_eq!(kept, ["ready", "paused"]);
    }

    #[test]
    fn a_task_not_placed_yet_counts() {
        let nodes = ready(&["a"]);
        assert!(nodes.keep(&task_on(None)));
        assert!(nodes.keep(&task_on(Some(""))));
    }
}
