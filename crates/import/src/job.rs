//! Services that others wait for to complete (`service_completed_successfully`):
//! one-shot containers, such as a migration. They become `job` resources.
//!
//! This is the one place that says how they are declared: the kind, the
//! fields a job does not have, and how a dependent waits for one.

use stack_diagnostics::Span;

use crate::convert::Cx;
use crate::kdl::{Item, Node, Val};

/// The kind of resource a one-shot service becomes.
pub const KIND: &str = "job";

/// Service fields a job does not have, and why.
const NOT_FOR_JOBS: &[(&str, &str)] = &[
    ("port", "a job publishes no ports"),
    ("expose", "a job exposes no ports"),
    ("replicas", "a job is one container"),
    (
        "restart",
        "a job is never restarted; `retries` tries a failed run again",
    ),
    ("probe", "a job is ready once it has completed, not when healthy"),
    ("update", "a job runs again in a new container when it changes"),
];

/// Takes out of a one-shot service's node what a job does not have, each
/// with a comment and a warning at the service (`at`).
pub fn declare(cx: &mut Cx, node: &mut Node, at: Span) {
    let place = cx.place(at);
    let mut children = Vec::new();
    for item in std::mem::take(&mut node.children) {
        let dropped = match &item {
            Item::Node(field) => NOT_FOR_JOBS.iter().find(|(name, _)| *name == field.name),
            _ => None,
        };
        match dropped {
            // Compose's default, which the importer writes for services: nothing is lost.
            Some(_) if matches!(&item, Item::Node(field) if field.name == "restart" && field.args == [Val::str("no")]) =>
                {}
            Some((field, why)) => {
                children.push(Item::Comment(format!(
                    "{place}: `{field}` is not imported: {why}"
                )));
                cx.report.warn(
                    "stack::compose_unsupported",
                    at,
                    format!("`{field}` of a service run to completion is not imported"),
                    format!("it becomes a job, and {why}"),
                );
            }
            None => children.push(item),
        }
    }
    node.children = children;
}

/// `dependency` made to wait until the job `name` has completed.
pub fn dependency(dependency: Node, name: &str) -> Node {
    dependency.arg(Val::str(format!("job.{name}")))
}
