//! `depends_on` that go round in a circle: Compose refuses such a project, and a stack's
//! resources cannot wait for each other either. Reported at the Compose lines, so that the
//! import writes nothing that `stack validate` would reject.

use stack_diagnostics::{Diagnostic, Span};

use crate::yaml::{self, Yaml};

/// Every circle of `depends_on` among `services` (the project's `services` mapping), once each.
pub fn cycles(services: &yaml::Node) -> Vec<Diagnostic> {
    let names: Vec<&str> = services
        .as_map()
        .unwrap_or_default()
        .iter()
        .filter_map(|(key, _)| key.as_str())
        .collect();
    // For each service, the services it depends on, with the span of each entry.
    let needs: Vec<Vec<(usize, Span)>> = names
        .iter()
        .map(|name| {
            let entries = services.get(name).and_then(|service| service.get("depends_on"));
            entries
                .map(dependencies)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|entry| {
                    let target = names.iter().position(|name| Some(*name) == entry.as_str())?;
                    Some((target, entry.span))
                })
                .collect()
        })
        .collect();
    let mut reported: Vec<Vec<usize>> = Vec::new();
    let mut diagnostics = Vec::new();
    for start in 0..names.len() {
        let mut path = vec![start];
        let mut edges = Vec::new();
        if let Some(cycle) = find_cycle(&needs, &mut path, &mut edges) {
            let mut members = cycle.0.clone();
            members.sort_unstable();
            if !reported.contains(&members) {
                reported.push(members);
                diagnostics.push(diagnostic(&names, &cycle.0, &cycle.1));
            }
        }
    }
    diagnostics
}

/// The entries of a `depends_on`: a list of names, or a mapping keyed by them.
fn dependencies(depends_on: &yaml::Node) -> Vec<&yaml::Node> {
    match &depends_on.value {
        Yaml::Seq(items) => items.iter().collect(),
        Yaml::Map(entries) => entries.iter().map(|(key, _)| key).collect(),
        _ => Vec::new(),
    }
}

/// A circle back to `path[0]` following `needs` depth first: its services and the spans of
/// the entries that close it, in order.
fn find_cycle(
    needs: &[Vec<(usize, Span)>],
    path: &mut Vec<usize>,
    edges: &mut Vec<Span>,
) -> Option<(Vec<usize>, Vec<Span>)> {
    let current = *path.last()?;
    for &(next, span) in &needs[current] {
        if next == path[0] {
            let mut cycle = path.clone();
            cycle.push(next);
            let mut spans = edges.clone();
            spans.push(span);
            return Some((cycle, spans));
        }
        // Circles through a service not on the path are found from that service.
        if path.contains(&next) || next < path[0] {
            continue;
        }
        path.push(next);
        edges.push(span);
        if let Some(found) = find_cycle(needs, path, edges) {
            return Some(found);
        }
        path.pop();
        edges.pop();
    }
    None
}

fn diagnostic(names: &[&str], cycle: &[usize], spans: &[Span]) -> Diagnostic {
    let path: Vec<&str> = cycle.iter().map(|&index| names[index]).collect();
    let mut diagnostic = Diagnostic::error(
        "stack::dependency_cycle",
        format!("`depends_on` go round in a circle: {}", path.join(" → ")),
    );
    for (index, span) in spans.iter().enumerate() {
        let label = format!("{} depends on {}", path[index], path[index + 1]);
        diagnostic = if index == 0 {
            diagnostic.primary(*span, label)
        } else {
            diagnostic.secondary(*span, label)
        };
    }
    diagnostic.help(
        "services cannot wait for each other, in Compose or in a stack: remove one of these dependencies",
    )
}

#[cfg(test)]
mod tests {
    use stack_diagnostics::Sources;

    use super::*;

    fn messages(text: &str) -> Vec<String> {
        let file = Sources::new().add("compose.yaml", "compose.yaml", text);
        let root = yaml::parse(file, text).expect("valid YAML");
        let services = root.get("services").expect("services");
        cycles(services).into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn each_circle_once_and_none_without() {
        let text = "services:\n  a: {depends_on: [b]}\n  b: {depends_on: [c]}\n  c: {depends_on: [a]}\n  d: {depends_on: [d]}\n  e: {depends_on: [a]}\n";
        assert_eq!(
            messages(text),
            [
                "`depends_on` go round in a circle: a → b → c → a",
                "`depends_on` go round in a circle: d → d",
            ]
        );
        assert!(
            messages("services:\n  a: {depends_on: [b, c]}\n  b: {depends_on: [c]}\n  c: {}\n").is_empty()
        );
    }
}
