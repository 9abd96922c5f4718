//! The plan, rendered for a terminal and for a pull-request comment.

mod nested;

use std::fmt::Write;

use stack_language::schema::Effect;
use stack_provider::Source;

use crate::{Action, FieldChange, Plan, Reason, ResourcePlan};

/// The plan for a terminal: one block per resource that changes, then a summary line.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let environment = environment_suffix(plan);
    let _ = writeln!(out, "stack {}{environment}\n", plan.stack);
    for resource in shown(plan) {
        let _ = writeln!(
            out,
            "  {} {}  {}",
            symbol(resource.action),
            resource.address,
            headline(resource)
        );
        for line in details(resource) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !plan.has_changes() {
        let _ = writeln!(out, "  No changes: the daemon matches the stack.");
    }
    if !plan.fetches.is_empty() {
        let _ = writeln!(out, "\n  Pulled first, before anything changes:");
        for line in fetch_lines(plan) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

/// `<= redis:7 from docker.io, for service.cache, job.seed`: one line per fetch.
fn fetch_lines(plan: &Plan) -> impl Iterator<Item = String> + '_ {
    plan.fetches.iter().map(|planned| {
        let needed_by: Vec<String> = planned.needed_by.iter().map(ToString::to_string).collect();
        format!(
            "<= {} from {}, for {}",
            planned.fetch.item,
            planned.fetch.source,
            needed_by.join(", ")
        )
    })
}

/// ` (production)` after the stack's name when the plan is for an environment.
fn environment_suffix(plan: &Plan) -> String {
    plan.environment
        .as_deref()
        .map(|name| format!(" ({name})"))
        .unwrap_or_default()
}

/// The plan as a pull-request comment: a table of actions, field changes in a diff block.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let environment = environment_suffix(plan);
    let _ = writeln!(out, "#### `stack plan`: {}{environment}\n", plan.stack);
    let _ = writeln!(out, "{}\n", summary(plan));
    if !plan.fetches.is_empty() {
        let _ = writeln!(out, "Pulled first, before anything changes:\n");
        for line in fetch_lines(plan) {
            let _ = writeln!(out, "- `{line}`");
        }
        let _ = writeln!(out);
    }
    let changing: Vec<&ResourcePlan> = shown(plan).collect();
    if changing.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| | resource | action | why |\n|---|---|---|---|");
    for resource in &changing {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} |",
            symbol(resource.action),
            resource.address,
            verb(resource.action),
            why(resource)
        );
    }
    let _ = writeln!(out, "\n<details><summary>Field changes</summary>\n\n```diff");
    for resource in &changing {
        let _ = writeln!(out, "{} {}", symbol(resource.action), resource.address);
        // A diff block colors a line by its first character: move each line's sign there.
        for line in details(resource) {
            let text = line.trim_start();
            let indent = " ".repeat(line.len() - text.len());
            match text.split_once(' ') {
                Some((sign @ ("+" | "-"), rest)) => {
                    let _ = writeln!(out, "{sign}{indent}{rest}");
                }
                _ => {
                    let _ = writeln!(out, " {line}");
                }
            }
        }
    }
    let _ = writeln!(out, "```\n\n</details>");
    out
}

/// The resources a rendering shows: all but the unchanged ones.
fn shown(plan: &Plan) -> impl Iterator<Item = &ResourcePlan> {
    plan.resources
        .iter()
        .filter(|resource| resource.action != Action::NoChange)
}

fn summary(plan: &Plan) -> String {
    let s = plan.summary;
    let unknown = if s.unknown > 0 {
        format!(", {} not planned", s.unknown)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged{unknown}.",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::Read => "<=",
        Action::NoChange => " ",
        Action::Unknown => "?",
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update in place",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Read => "read",
        Action::NoChange => "no change",
        Action::Unknown => "not planned",
    }
}

fn headline(resource: &ResourcePlan) -> String {
    match resource.action {
        Action::Create => "will be created".to_owned(),
        Action::Update => format!("will be updated in place ({})", why(resource)),
        Action::Replace => format!("must be replaced ({})", why(resource)),
        Action::Delete => format!("will be deleted ({})", why(resource)),
        Action::Read => why(resource),
        Action::NoChange => String::new(),
        // The error, with where the resource is declared, follows the plan.
        Action::Unknown => "not planned: its provider failed (see the error)".to_owned(),
    }
}

fn why(resource: &ResourcePlan) -> String {
    let reasons: Vec<String> = resource
        .reasons
        .iter()
        .map(|reason| match reason {
            Reason::NotFound => "not on the daemon".to_owned(),
            Reason::Changed => "changed in the files".to_owned(),
            Reason::ForcesReplacement { field } => format!("`{field}` cannot change in place"),
            Reason::DependencyReplaced { dependency } => format!("`{dependency}` it uses is replaced"),
            Reason::DependencyChanged { dependency } => format!("it uses the new `{dependency}`"),
            Reason::RemovedFromFiles => "no longer in the files".to_owned(),
            Reason::Drift => "changed on the daemon by hand".to_owned(),
            Reason::External => "exists outside the stack: only read".to_owned(),
            Reason::ReadFromSource(source) => read_from(source),
            Reason::Destroy => "destroy".to_owned(),
            Reason::ProviderFailed { message } => message.clone(),
        })
        .collect();
    reasons.join("; ")
}

/// What the plan says of a value read when the stack is planned.
fn read_from(source: &Source) -> String {
    let from = match source.field.as_str() {
        "from-env" => format!("the environment variable `{}`", source.name),
        "from-file" => format!("the file `{}`", source.name),
        "from-command" => format!("the output of `{}`", source.name),
        other => format!("`{other} {}`", source.name),
    };
    format!("read from {from} when planned (version {})", source.version)
}

/// The lines under a resource: its field changes, nested, then what drifted on the daemon.
fn details(resource: &ResourcePlan) -> Vec<String> {
    let mut lines: Vec<String> = resource
        .changes
        .iter()
        .flat_map(|change| field_change(change, resource.action))
        .collect();
    lines.extend(resource.drift.iter().map(|drift| {
        format!(
            "      ! {}: {} on the daemon, {} in the stack",
            drift.field, drift.actual, drift.expected
        )
    }));
    lines
}

/// One field's change, nested ([`nested::field_lines`]), noting when it forces a replacement.
fn field_change(change: &FieldChange, action: Action) -> Vec<String> {
    let note = if change.effect == Effect::Replace && action == Action::Replace {
        "  # forces replacement"
    } else {
        ""
    };
    nested::field_lines(
        6,
        &change.field,
        change.before.as_ref(),
        change.after.as_ref(),
        note,
    )
}
