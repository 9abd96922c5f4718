//! The plan, rendered for a terminal and for a pull-request comment.

use std::fmt::Write;

use stack_language::schema::Effect;
use stack_provider::Setting;

use crate::{Action, FieldChange, Plan, Reason, ResourcePlan};

/// The plan for a terminal: one block per resource that changes, then a summary line.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let environment = plan
        .environment
        .as_deref()
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    let _ = writeln!(out, "stack {}{environment}\n", plan.stack);
    for resource in plan
        .resources
        .iter()
        .filter(|resource| resource.action != Action::NoChange)
    {
        let _ = writeln!(
            out,
            "  {} {}  {}",
            symbol(resource.action),
            resource.address,
            headline(resource)
        );
        for change in &resource.changes {
            field_change(&mut out, change, resource.action);
        }
        for drift in &resource.drift {
            let _ = writeln!(
                out,
                "      ! {}: {} on the daemon, {} in the stack",
                drift.field, drift.actual, drift.expected
            );
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

/// The plan as a pull-request comment: a table of actions, field changes in a diff block.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let environment = plan
        .environment
        .as_deref()
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    let _ = writeln!(out, "#### `stack plan`: {}{environment}\n", plan.stack);
    let _ = writeln!(out, "{}\n", summary(plan));
    if !plan.fetches.is_empty() {
        let _ = writeln!(out, "Pulled first, before anything changes:\n");
        for line in fetch_lines(plan) {
            let _ = writeln!(out, "- `{line}`");
        }
        let _ = writeln!(out);
    }
    let changing: Vec<&ResourcePlan> = plan
        .resources
        .iter()
        .filter(|r| r.action.changes_something())
        .collect();
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
        let mut fields = String::new();
        for change in &resource.changes {
            field_change(&mut fields, change, resource.action);
        }
        // A diff block colors a line by its first character: move each line's sign there.
        for line in fields.lines() {
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

fn summary(plan: &Plan) -> String {
    let s = plan.summary;
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
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
    }
}

fn headline(resource: &ResourcePlan) -> String {
    match resource.action {
        Action::Create => "will be created".to_owned(),
        Action::Update => format!("will be updated in place ({})", why(resource)),
        Action::Replace => format!("must be replaced ({})", why(resource)),
        Action::Delete => format!("will be deleted ({})", why(resource)),
        Action::Read => "exists outside the stack: only read".to_owned(),
        Action::NoChange => String::new(),
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
            Reason::RemovedFromFiles => "no longer in the files".to_owned(),
            Reason::Drift => "changed on the daemon by hand".to_owned(),
            Reason::External => "external".to_owned(),
            Reason::Destroy => "destroy".to_owned(),
        })
        .collect();
    reasons.join("; ")
}

/// One field: `old -> new` on one line, or a line diff for long values.
fn field_change(out: &mut String, change: &FieldChange, action: Action) {
    let note = if change.effect == Effect::Replace && action == Action::Replace {
        "  # forces replacement"
    } else {
        ""
    };
    let before = change.before.as_ref().map(lines).unwrap_or_default();
    let after = change.after.as_ref().map(lines).unwrap_or_default();
    let (marker, short) = match (&change.before, &change.after) {
        (None, Some(after)) => ("+", after.display()),
        (Some(before), None) => ("-", before.display()),
        (Some(before), Some(after)) => ("~", format!("{} -> {}", before.display(), after.display())),
        (None, None) => return,
    };
    if before.len() <= 1 && after.len() <= 1 && short.len() <= 80 {
        let _ = writeln!(out, "      {marker} {}: {short}{note}", change.field);
        return;
    }
    let _ = writeln!(out, "      {marker} {}:{note}", change.field);
    let old = before.join("\n");
    let new = after.join("\n");
    for line in similar::TextDiff::from_lines(&old, &new).iter_all_changes() {
        let sign = match line.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => " ",
        };
        let _ = writeln!(out, "          {sign} {}", line.value().trim_end_matches('\n'));
    }
}

/// A value as lines for a line diff: one item of a list, one key of a map, per line.
fn lines(setting: &Setting) -> Vec<String> {
    match setting.as_json() {
        Some(serde_json::Value::Array(items)) => items.iter().map(compact).collect(),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(key, value)| format!("{key} = {}", compact(value)))
            .collect(),
        Some(value) => vec![compact(value)],
        None => vec![setting.display()],
    }
}

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}
