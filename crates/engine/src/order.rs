//! The order of deletions: an object goes only after everything that uses it.
//!
//! Objects still in the files have their dependencies in the graph; objects
//! that left the files have only their recorded configuration, which names
//! what they use (a network's name, an image's tag). Both count, so a
//! service removed from the files is still deleted before its network.

use std::collections::BTreeSet;

use stack_graph::ResourceGraph;
use stack_provider::{Live, Setting};

/// `objects` reordered so that users come before what they use, and for each
/// (in that order) the deletions that must be done before it.
pub(crate) fn deletion_order(
    objects: Vec<Live>,
    graph: Option<&ResourceGraph>,
) -> (Vec<Live>, Vec<Vec<usize>>) {
    let count = objects.len();
    // before[i]: the objects that must be deleted before object i (its users).
    let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); count];
    if let Some(graph) = graph {
        for (user, object) in objects.iter().enumerate() {
            for (dependency, _) in graph.dependencies(&object.address) {
                if let Some(used) = objects.iter().position(|other| &other.address == dependency) {
                    before[used].insert(user);
                }
            }
        }
    }
    for user in 0..count {
        for used in 0..count {
            if user != used && uses(&objects[user], &objects[used]) && !reaches(&before, user, used) {
                before[used].insert(user);
            }
        }
    }
    let order = topological(&before);
    let position: Vec<usize> = {
        let mut position = vec![0; count];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new;
        }
        position
    };
    let needs = order
        .iter()
        .map(|&old| before[old].iter().map(|&user| position[user]).collect())
        .collect();
    let mut slots: Vec<Option<Live>> = objects.into_iter().map(Some).collect();
    let ordered = order.iter().filter_map(|&old| slots[old].take()).collect();
    (ordered, needs)
}

/// Whether `user`'s recorded configuration names `used`.
pub(crate) fn uses(user: &Live, used: &Live) -> bool {
    let address = used.address.to_string();
    user.config
        .0
        .values()
        .filter_map(Setting::as_json)
        .any(|value| mentions(value, &used.name, &address))
}

fn mentions(value: &serde_json::Value, name: &str, address: &str) -> bool {
    match value {
        serde_json::Value::String(text) => {
            text == name
                || text == address
                || text.strip_prefix(name).is_some_and(|rest| rest.starts_with(':'))
        }
        serde_json::Value::Array(items) => items.iter().any(|item| mentions(item, name, address)),
        serde_json::Value::Object(map) => map.values().any(|item| mentions(item, name, address)),
        _ => false,
    }
}

/// Whether `to` must already go before `from`, directly or through others:
/// then `from` going before `to` would be a loop.
fn reaches(before: &[BTreeSet<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; before.len()];
    let mut stack = vec![from];
    while let Some(object) = stack.pop() {
        if object == to {
            return true;
        }
        if !std::mem::replace(&mut seen[object], true) {
            stack.extend(before[object].iter().copied());
        }
    }
    false
}

/// Indices with every `before` first; among those free to go, the earliest index first.
fn topological(before: &[BTreeSet<usize>]) -> Vec<usize> {
    let count = before.len();
    let mut waiting: Vec<usize> = before.iter().map(BTreeSet::len).collect();
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (object, users) in before.iter().enumerate() {
        for &user in users {
            after[user].push(object);
        }
    }
    let mut free: BTreeSet<usize> = (0..count).filter(|&object| waiting[object] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(object) = free.pop_first() {
        order.push(object);
        for &next in &after[object] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                free.insert(next);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use stack_language::Address;

    use super::*;

    fn live(kind: &'static str, name: &str, config: serde_json::Value) -> Live {
        let config = serde_json::from_value(config).unwrap();
        Live {
            address: Address::new(&[], kind, name),
            kind,
            name: format!("shop_{name}"),
            config,
            drift: Vec::new(),
            state: String::new(),
            healthy: None,
        }
    }

    fn names(objects: &[Live]) -> Vec<String> {
        objects.iter().map(|object| object.address.to_string()).collect()
    }

    #[test]
    fn users_go_before_what_they_use() {
        let objects = vec![
            live("network", "backend", serde_json::json!({})),
            live("image", "api", serde_json::json!({})),
            live(
                "service",
                "api",
                serde_json::json!({"image": "shop_api:3f2a", "network": [{"name": "shop_backend"}]}),
            ),
            live("volume", "data", serde_json::json!({})),
        ];
        let (ordered, needs) = deletion_order(objects, None);
        assert_eq!(
            names(&ordered),
            ["service.api", "network.backend", "image.api", "volume.data"]
        );
        assert_eq!(needs, vec![vec![], vec![0], vec![0], vec![]]);
    }

    #[test]
    fn names_that_point_both_ways_do_not_make_a_loop() {
        let objects = vec![
            live("service", "a", serde_json::json!({"env": {"PEER": "shop_b"}})),
            live("service", "b", serde_json::json!({"env": {"PEER": "shop_a"}})),
        ];
        let (ordered, needs) = deletion_order(objects, None);
        assert_eq!(ordered.len(), 2);
        assert_eq!(needs.iter().map(Vec::len).sum::<usize>(), 1);
    }
}
