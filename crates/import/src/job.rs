//! Services that others wait for to complete (`service_completed_successfully`):
//! one-shot containers, such as a migration.
//!
//! This is the one place that says how they are declared. Until the language
//! has a `job` kind, such a service is a `service` that is never restarted,
//! and its dependents wait for it with `condition="completed"`. With `job`,
//! `KIND` becomes `"job"`, `declare` adds nothing, and `dependency` names
//! `"job.NAME"` without a condition.

use crate::kdl::{Node, Val};

/// The kind of resource a one-shot service becomes.
pub const KIND: &str = "service";

/// What a one-shot service's declaration needs besides its fields.
pub fn declare(node: &mut Node) {
    node.children
        .retain(|item| !matches!(item, crate::kdl::Item::Node(field) if field.name == "restart"));
    node.push(Node::new("restart").arg(Val::str("no")));
}

/// `dependency` made to wait until the one-shot service `name` has completed.
pub fn dependency(dependency: Node, name: &str) -> Node {
    dependency
        .arg(Val::str(name))
        .prop("condition", Val::str("completed"))
}
