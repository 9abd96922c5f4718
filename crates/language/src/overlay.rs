//! Environments: overlays that change fields of the base's resources.

use indexmap::IndexMap;
use stack_diagnostics::{Diagnostic, Span};

use crate::decl::{ResourceDecl, Unit};
use crate::model::Target;
use crate::schema::Shape;
use crate::suggest::did_you_mean;
use crate::{Data, Value};

const PROBE_CHECKS: &[&str] = &["http", "tcp", "exec"];

/// Every environment the overlays name, in file order.
pub fn environments(unit: &Unit) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for overlay in &unit.overlays {
        for (name, _) in &overlay.environments {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// Overlays that name resources the base does not declare.
pub fn check_targets(unit: &Unit) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for target in unit.overlays.iter().flat_map(|overlay| &overlay.targets) {
        if unit
            .resources
            .contains_key(&(target.kind.name, target.name.clone()))
        {
            continue;
        }
        let names: Vec<&str> = unit
            .resources
            .keys()
            .filter(|(kind, _)| *kind == target.kind.name)
            .map(|(_, name)| name.as_str())
            .collect();
        let help = match crate::suggest::closest(&target.name, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "overlays only change resources declared in the base; declare {} \"{}\" there first",
                target.kind.name, target.name
            ),
        };
        problems.push(
            Diagnostic::error(
                "stack::unknown_overlay_target",
                format!(
                    "the overlay changes {} `{}`, which is not declared",
                    target.kind.name, target.name
                ),
            )
            .primary(target.name_span, "not declared in the base")
            .help(help),
        );
    }
    problems
}

/// The base's resources with the overlays of `environment` applied.
///
/// A field set by an overlay replaces the base's, except maps (env, labels,
/// args) and blocks (resources, probe, update), which are merged key by key. Two overlays of one environment that
/// set one field (or key) to different values conflict.
pub fn apply(
    unit: &Unit,
    environment: &str,
) -> (IndexMap<(&'static str, String), ResourceDecl>, Vec<Diagnostic>) {
    let mut resources = unit.resources.clone();
    let mut problems = Vec::new();
    let mut set_by: IndexMap<String, Value> = IndexMap::new();
    let active = unit
        .overlays
        .iter()
        .filter(|overlay| overlay.environments.iter().any(|(name, _)| name == environment));
    for target in active.flat_map(|overlay| &overlay.targets) {
        let Some(resource) = resources.get_mut(&(target.kind.name, target.name.clone())) else {
            continue;
        };
        for (field_name, value) in &target.fields {
            let merges = target
                .kind
                .field(field_name)
                .is_some_and(|field| matches!(field.shape, Shape::Map(_) | Shape::Block(_)));
            let address = format!("{}.{}", target.kind.name, target.name);
            match (&value.data, merges) {
                (Data::Map(entries), true) => {
                    let base = resource
                        .fields
                        .entry(field_name.clone())
                        .or_insert_with(|| Value::new(Data::Map(IndexMap::new()), value.span));
                    for (key, entry) in entries {
                        let path = format!("{address}.{field_name}.{key}");
                        if let Some(problem) = conflict(&mut set_by, path, entry, environment) {
                            problems.push(problem);
                        } else if let Data::Map(map) = &mut base.data {
                            // A probe checks one thing: a new check replaces the base's.
                            if PROBE_CHECKS.contains(&key.as_str()) {
                                map.retain(|existing, _| !PROBE_CHECKS.contains(&existing.as_str()));
                            }
                            map.insert(key.clone(), entry.clone());
                        }
                    }
                }
                _ => {
                    let path = format!("{address}.{field_name}");
                    if let Some(problem) = conflict(&mut set_by, path, value, environment) {
                        problems.push(problem);
                    } else {
                        resource.fields.insert(field_name.clone(), value.clone());
                    }
                }
            }
        }
    }
    (resources, problems)
}

/// The target the overlays of `environment` set (`target "swarm"`), if any; two that set
/// different ones conflict.
pub fn target(unit: &Unit, environment: &str) -> (Option<Target>, Vec<Diagnostic>) {
    let mut chosen: Option<(Target, Span)> = None;
    let mut problems = Vec::new();
    let active = unit
        .overlays
        .iter()
        .filter(|overlay| overlay.environments.iter().any(|(name, _)| name == environment));
    for (target, span) in active.filter_map(|overlay| overlay.target) {
        match chosen {
            Some((first, first_span)) if first != target => {
                problems.push(conflict_diagnostic("target", first_span, span, environment));
            }
            Some(_) => {}
            None => chosen = Some((target, span)),
        }
    }
    (chosen.map(|(target, _)| target), problems)
}

/// Records that an overlay sets `path`; a different value set before is a conflict.
fn conflict(
    set_by: &mut IndexMap<String, Value>,
    path: String,
    value: &Value,
    environment: &str,
) -> Option<Diagnostic> {
    match set_by.get(&path) {
        Some(first) if first != value => {
            Some(conflict_diagnostic(&path, first.span, value.span, environment))
        }
        Some(_) => None,
        None => {
            set_by.insert(path, value.clone());
            None
        }
    }
}

fn conflict_diagnostic(path: &str, first: Span, second: Span, environment: &str) -> Diagnostic {
    Diagnostic::error(
        "stack::overlay_conflict",
        format!("two overlays of `{environment}` set `{path}` differently"),
    )
    .primary(second, "set here")
    .secondary(first, "and set differently here")
    .help("keep one of the two values: overlays of one environment must agree")
}

/// The error for `--env NAME` when no overlay names it.
pub fn unknown_environment(name: &str, known: &[String]) -> Diagnostic {
    let help = if known.is_empty() {
        "this stack declares no environments: add `overlay \"NAME\" { ... }`, or leave out --env".to_owned()
    } else {
        did_you_mean(name, "environment", known.iter().map(String::as_str))
    };
    Diagnostic::error(
        "stack::unknown_environment",
        format!("no overlay is declared for environment `{name}`"),
    )
    .help(help)
}
