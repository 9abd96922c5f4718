//! Compose's top-level `networks`, `volumes`, `secrets` and `configs`.

use crate::convert::{Cx, flag, stack_name};
use crate::kdl::{Item, Node, Val};
use crate::yaml;

/// Each entry of a top-level section with its stack name, or an error when
/// the section is not a mapping.
fn entries<'n>(cx: &mut Cx, section: &'n yaml::Node, field: &str) -> Vec<(&'n yaml::Node, &'n yaml::Node)> {
    if section.is_null() {
        return Vec::new();
    }
    let Some(entries) = section.as_map() else {
        cx.invalid(section, field, "a mapping of names to definitions");
        return Vec::new();
    };
    entries.iter().map(|(key, value)| (key, value)).collect()
}

/// The Docker name Compose gives an object (`name:`) as the stack resource's
/// name, when the stack's own naming (`STACK_NAME`) yields the same.
fn docker_name(cx: &mut Cx, node: &mut Node, definition: &yaml::Node, stack: &str) -> Option<String> {
    let (key, name) = definition
        .as_map()?
        .iter()
        .find(|(key, _)| key.as_str() == Some("name"))?;
    let text = cx.fixed(name)?;
    if let Some(rest) = text.strip_prefix(&format!("{stack}_"))
        && stack_language::valid_name(rest)
    {
        return Some(rest.to_owned());
    }
    cx.unmapped(
        node,
        key,
        "name",
        &format!("a stack names its objects STACK_NAME; this one will not be called `{text}` on Docker"),
    );
    None
}

/// The stack name of the network or volume `compose`, and its `external` field when it is
/// one: `external: true` with `name:`, or the old `external: { name: ... }`.
fn naming(cx: &mut Cx, node: &mut Node, compose: &str, definition: &yaml::Node, stack: &str) -> String {
    let Some(external) = definition.get("external") else {
        return docker_name(cx, node, definition, stack).unwrap_or_else(|| stack_name(compose));
    };
    let docker = external
        .get("name")
        .or(definition.get("name"))
        .and_then(|name| cx.fixed(name))
        .unwrap_or_else(|| compose.to_owned());
    if external.as_map().is_some() || flag(cx, external, "external") == Some(true) {
        node.push(Node::new("external").arg(Val::str(docker)));
    }
    stack_name(compose)
}

pub fn networks(cx: &mut Cx, section: &yaml::Node, stack: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for (key, definition) in entries(cx, section, "networks") {
        let Some(compose) = key.as_str() else { continue };
        let mut node = Node::new("network");
        let name = naming(cx, &mut node, compose, definition, stack);
        for (field_key, value) in definition.as_map().unwrap_or_default() {
            let Some(field) = field_key.as_str() else { continue };
            match field {
                "external" | "name" => {}
                "driver" => {
                    if let Some(driver) = cx.fixed(value) {
                        node.push(Node::new("driver").arg(Val::str(driver)));
                    }
                }
                "internal" | "attachable" => {
                    if let Some(on) = flag(cx, value, field) {
                        node.push(Node::new(field).arg(Val::Bool(on)));
                    }
                }
                "labels" => labels(cx, &mut node, value),
                "ipam" => ipam(cx, &mut node, value),
                _ if field.starts_with("x-") => {}
                _ => cx.unmapped(
                    &mut node,
                    field_key,
                    &format!("networks.{compose}.{field}"),
                    "a stack network has no such setting",
                ),
            }
        }
        cx.networks.insert(compose.to_owned(), name.clone());
        items.push(Item::Node(Node {
            ..node.with_name(&name)
        }));
    }
    items
}

fn ipam(cx: &mut Cx, node: &mut Node, ipam: &yaml::Node) {
    for (key, value) in ipam.as_map().unwrap_or_default() {
        match key.as_str() {
            Some("config") => {
                let pools = value.as_seq().unwrap_or_default();
                for (index, pool) in pools.iter().enumerate() {
                    if index > 0 {
                        cx.unmapped(
                            node,
                            key,
                            "ipam.config",
                            "a stack network has one subnet: only the first pool is imported",
                        );
                        break;
                    }
                    for (field_key, setting) in pool.as_map().unwrap_or_default() {
                        let field = match field_key.as_str() {
                            Some("subnet") => "subnet",
                            Some("gateway") => "gateway",
                            Some("ip_range") => "ip-range",
                            _ => {
                                cx.unmapped(
                                    node,
                                    field_key,
                                    &format!("ipam.config.{}", field_key.as_str().unwrap_or("?")),
                                    "a stack network has no such setting",
                                );
                                continue;
                            }
                        };
                        if let Some(text) = cx.fixed(setting) {
                            node.push(Node::new(field).arg(Val::str(text)));
                        }
                    }
                }
            }
            Some("driver") if value.as_str() == Some("default") => {}
            _ => cx.unmapped(
                node,
                key,
                &format!("ipam.{}", key.as_str().unwrap_or("?")),
                "a stack network uses Docker's default address management",
            ),
        }
    }
}

pub fn volumes(cx: &mut Cx, section: &yaml::Node, stack: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for (key, definition) in entries(cx, section, "volumes") {
        let Some(compose) = key.as_str() else { continue };
        let mut node = Node::new("volume");
        let name = naming(cx, &mut node, compose, definition, stack);
        for (field_key, value) in definition.as_map().unwrap_or_default() {
            let Some(field) = field_key.as_str() else { continue };
            match field {
                "external" | "name" => {}
                "driver" => {
                    if let Some(driver) = cx.fixed(value) {
                        node.push(Node::new("driver").arg(Val::str(driver)));
                    }
                }
                "driver_opts" => {
                    let mut options = Node::new("driver-opts");
                    for (option, setting) in value.as_map().unwrap_or_default() {
                        if let (Some(option), Some(setting)) = (option.as_str(), cx.text(setting, false)) {
                            options.push(Node::new(option).arg(Val::str(setting)));
                        }
                    }
                    node.push(options);
                }
                "labels" => labels(cx, &mut node, value),
                _ if field.starts_with("x-") => {}
                _ => cx.unmapped(
                    &mut node,
                    field_key,
                    &format!("volumes.{compose}.{field}"),
                    "a stack volume has no such setting",
                ),
            }
        }
        cx.volumes.insert(compose.to_owned(), name.clone());
        items.push(Item::Node(node.with_name(&name)));
    }
    items
}

pub fn secrets(cx: &mut Cx, section: &yaml::Node) -> Vec<Item> {
    let mut items = Vec::new();
    for (key, definition) in entries(cx, section, "secrets") {
        let Some(compose) = key.as_str() else { continue };
        let name = stack_name(compose);
        let mut node = Node::new("secret");
        let mut source = false;
        for (field_key, value) in definition.as_map().unwrap_or_default() {
            let Some(field) = field_key.as_str() else { continue };
            match field {
                "file" => {
                    if let Some(text) = cx.fixed(value) {
                        let path = cx.path(value, &text);
                        node.push(Node::new("from-file").arg(Val::str(path)));
                        source = true;
                    }
                }
                "environment" => {
                    if let Some(text) = cx.fixed(value) {
                        node.push(Node::new("from-env").arg(Val::str(text)));
                        source = true;
                    }
                }
                _ if field.starts_with("x-") => {}
                _ => cx.unmapped(
                    &mut node,
                    field_key,
                    &format!("secrets.{compose}.{field}"),
                    "a stack secret is read from a file, the environment or a command",
                ),
            }
        }
        if !source {
            // External (Swarm) secrets and inline content have no source a stack can read.
            let variable = compose.to_ascii_uppercase().replace('-', "_");
            cx.unmapped(
                &mut node,
                key,
                &format!("secrets.{compose}"),
                &format!("it has no file or environment source; the stack reads it from ${variable}"),
            );
            node.push(Node::new("from-env").arg(Val::str(variable)));
        }
        cx.secrets.insert(compose.to_owned(), name.clone());
        items.push(Item::Node(node.with_name(&name)));
    }
    items
}

/// Configs become read-only binds of their files: only `file` configs can.
pub fn configs(cx: &mut Cx, section: &yaml::Node) {
    for (key, definition) in entries(cx, section, "configs") {
        let Some(compose) = key.as_str() else { continue };
        match definition
            .get("file")
            .and_then(|file| cx.fixed(file).map(|text| (file, text)))
        {
            Some((file, text)) => {
                let path = cx.path(file, &text);
                cx.configs.insert(compose.to_owned(), path);
            }
            None => cx.report.warn(
                "stack::compose_unsupported",
                key.span,
                format!("the config `{compose}` is not imported"),
                "only configs with a `file` become read-only binds; write the content to a file and bind it",
            ),
        }
    }
}

/// `labels` as a list of `KEY=VALUE` or a mapping.
pub fn labels(cx: &mut Cx, node: &mut Node, value: &yaml::Node) {
    let map = crate::load::key_value_map(value.clone());
    let mut labels = Node::new("labels");
    for (key, setting) in map.as_map().unwrap_or_default() {
        let Some(key) = key.as_str() else { continue };
        let text = cx.text(setting, false).unwrap_or_default();
        labels.push(Node::new(key).arg(Val::str(text)));
    }
    if labels.has_nodes() {
        node.push(labels);
    }
}

impl Node {
    /// The resource node `KIND "NAME" { ... }` from a node built without its name.
    pub fn with_name(self, name: &str) -> Node {
        let mut node = self;
        node.args.insert(0, Val::str(name));
        node
    }
}
