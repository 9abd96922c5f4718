//! Checks across resources, on the evaluated stack: clashes between resources
//! and rules about how the built-in kinds fit together.

use std::net::IpAddr;
use std::path::Path;

use stack_diagnostics::Diagnostic;

use crate::model::{Condition, Resource, Stack};
use crate::units::{Cidr, Count};
use crate::{Data, Value};

pub fn check(stack: &Stack, stack_dir: &Path) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    published_ports(stack, &mut problems);
    subnets(stack, &mut problems);
    for resource in stack.resources.values() {
        match resource.kind.name {
            "network" => network(resource, &mut problems),
            "job" => {
                secret_files(resource, &mut problems);
                fixed_addresses(stack, resource, &mut problems);
                literal_secrets_in_env(resource, &mut problems);
                retries(resource, &mut problems);
            }
            "service" => {
                replicas(resource, &mut problems);
                surge(resource, &mut problems);
                restart(resource, &mut problems);
                placement(resource, &mut problems);
                secret_files(resource, &mut problems);
                fixed_addresses(stack, resource, &mut problems);
                literal_secrets_in_env(resource, &mut problems);
                if let Some(probe) = resource.field("probe") {
                    one_check(
                        resource,
                        probe.as_map().map(|map| map.keys().map(String::as_str).collect()),
                        probe,
                        &mut problems,
                    );
                }
            }
            "probe" => {
                let keys = resource.fields.keys().map(String::as_str).collect();
                one_check(
                    resource,
                    Some(keys),
                    &Value::new(Data::Null, resource.span),
                    &mut problems,
                );
            }
            "secret" => secret(resource, stack_dir, &mut problems),
            "image" => {
                build_context(resource, &mut problems);
                push_repository(resource, &mut problems);
            }
            _ => {}
        }
        conditions(stack, resource, &mut problems);
        reserved_labels(resource, &mut problems);
    }
    problems
}

fn invalid(value: &Value, message: String, label: &str, help: &str) -> Diagnostic {
    Diagnostic::error("stack::invalid_value", message)
        .primary(value.span, label)
        .help(help.to_owned())
}

/// Replicas and batches are counts; several replicas cannot share one host port or one address.
fn replicas(service: &Resource, problems: &mut Vec<Diagnostic>) {
    let counts = [
        ("replicas", service.field("replicas")),
        (
            "parallelism",
            service
                .field("update")
                .and_then(|update| update.get("parallelism")),
        ),
    ];
    for (name, value) in counts {
        if let Some(value) = value.filter(|value| value.as_int().is_some_and(|count| count < 1)) {
            problems.push(invalid(
                value,
                format!("`{name}` must be at least 1"),
                "too small",
                "to remove a service, delete its declaration",
            ));
        }
    }
    let Some(count) = service
        .field("replicas")
        .filter(|value| value.as_int().is_some_and(|count| count > 1))
    else {
        return;
    };
    // Behind the proxy of a start-first service, replicas share its host ports and address.
    let proxied = behind_proxy(service);
    let udp = |port: &&Value| port.get("protocol").and_then(Value::as_str) == Some("udp");
    for port in service.items("port").iter().filter(|port| !proxied || udp(port)) {
        problems.push(
            Diagnostic::error("stack::port_conflict", format!("{} runs several replicas on one host port", service.address))
                .primary(port.span, "published by every replica")
                .secondary(count.span, "more than one replica")
                .help("a host port holds one container: update the service `start-first`, which puts a proxy in front that holds its TCP ports, or run one replica"),
        );
    }
    for attachment in service.items("network").iter().filter(|_| !proxied) {
        if let Some(address) = attachment.get("ipv4-address") {
            problems.push(
                Diagnostic::error(
                    "stack::invalid_value",
                    format!("{} runs several replicas on one fixed address", service.address),
                )
                .primary(address.span, "one address, several containers")
                .secondary(count.span, "more than one replica")
                .help("drop the fixed address and reach the service by its name or aliases"),
            );
        }
    }
}

/// Whether the service gets a proxy in front: it is updated start-first (or blue-green) and
/// serves on known TCP ports (spec/resources.md, "Zero-downtime updates").
fn behind_proxy(service: &Resource) -> bool {
    let update = service.field("update");
    let setting = |name: &str| update.and_then(|update| update.get(name)).and_then(Value::as_str);
    let starts_first = setting("order") == Some("start-first") || setting("strategy") == Some("blue-green");
    let tcp = |port: &Value| port.get("protocol").and_then(Value::as_str) != Some("udp");
    starts_first && (service.items("port").iter().any(tcp) || !service.items("expose").is_empty())
}

/// A surge starts new replicas beside the old ones ahead of their batch: a rolling update
/// `start-first` can, a stop-first one never may, and blue-green starts them all at once anyway.
fn surge(service: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(update) = service.field("update") else {
        return;
    };
    let Some(surge) = update
        .get("surge")
        .filter(|surge| Count::from_value(surge).is_some_and(|count| !count.is_zero()))
    else {
        return;
    };
    let setting = |name: &str| update.get(name).filter(|value| value.as_str().is_some());
    let (message, cause, label, help) = match (setting("strategy"), setting("order")) {
        (Some(strategy), _) if strategy.as_str() == Some("blue-green") => (
            "blue-green starts every new replica at once: there is nothing to start ahead",
            strategy.span,
            "every replica at once",
            "drop `surge`, or roll the update `strategy \"rolling\"`",
        ),
        (_, Some(order)) if order.as_str() == Some("start-first") => return,
        (_, order) => (
            "a surge starts new replicas beside the old ones, which a stop-first update never does",
            order.unwrap_or(update).span,
            if order.is_some() {
                "stop-first"
            } else {
                "stop-first: no order is written"
            },
            "update the service `order \"start-first\"`, or drop `surge`",
        ),
    };
    problems.push(
        Diagnostic::error(
            "stack::invalid_value",
            format!("{} cannot surge: {message}", service.address),
        )
        .primary(surge.span, "replicas started ahead")
        .secondary(cause, label)
        .help(help.to_owned()),
    );
}

fn restart(service: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(restart) = service.field("restart") else {
        return;
    };
    let policy = restart.get("policy").and_then(Value::as_str);
    if let Some(retries) = restart.get("max-retries")
        && policy != Some("on-failure")
    {
        problems.push(invalid(
            retries,
            "`max-retries` applies only to the on-failure policy".to_owned(),
            "Docker rejects it with other policies",
            "write restart \"on-failure\" max-retries=N, or drop max-retries",
        ));
    }
}

/// Swarm's placement: a constraint compares one node attribute with `==` or `!=`; a spread
/// preference names a node or engine label. Swarm would refuse anything else only when the
/// service is created, after the plan was accepted.
fn placement(service: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(placement) = service.field("placement") else {
        return;
    };
    let items = |name: &str| placement.get(name).map(Value::as_list).unwrap_or_default();
    for constraint in items("constraints") {
        let Some(text) = constraint.as_str() else { continue };
        if !is_constraint(text) {
            problems.push(invalid(
                constraint,
                format!("`{text}` is not a placement constraint"),
                "not ATTRIBUTE==VALUE nor ATTRIBUTE!=VALUE",
                "compare one node attribute with a value, like \"node.role==worker\"",
            ));
        }
    }
    for spread in items("spread") {
        let Some(text) = spread.as_str() else { continue };
        let label = ["node.labels.", "engine.labels."]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix));
        if label.is_none_or(str::is_empty) {
            problems.push(invalid(
                spread,
                format!("`{text}` is not a label to spread over"),
                "not node.labels.NAME nor engine.labels.NAME",
                "name a node label, like \"node.labels.zone\"",
            ));
        }
    }
}

/// `node.role==worker`, `node.labels.zone != edge`: an attribute, an operator, a value.
fn is_constraint(text: &str) -> bool {
    let Some((attribute, value)) = text.split_once("==").or_else(|| text.split_once("!=")) else {
        return false;
    };
    let attribute = attribute.trim();
    let value = value.trim();
    let known = ["node.", "engine.labels.", "node.labels."]
        .iter()
        .any(|prefix| attribute.starts_with(prefix) && attribute.len() > prefix.len());
    known && !value.is_empty() && !value.contains("==") && !value.contains("!=")
}

/// A secret's target is a file name directly under /run/secrets.
fn secret_files(service: &Resource, problems: &mut Vec<Diagnostic>) {
    for secret in service.items("secret") {
        let Some(target) = secret.get("target") else {
            continue;
        };
        if target
            .as_str()
            .is_some_and(|name| name.is_empty() || name.contains('/') || name == "." || name == "..")
        {
            problems.push(invalid(
                target,
                "a secret's target is a file name, not a path".to_owned(),
                "not a plain file name",
                "secrets are mounted as /run/secrets/TARGET: write just the file name",
            ));
        }
    }
}

/// A job's retries are a count.
fn retries(job: &Resource, problems: &mut Vec<Diagnostic>) {
    if let Some(value) = job
        .field("retries")
        .filter(|value| value.as_int().is_some_and(|count| count < 0))
    {
        problems.push(invalid(
            value,
            "`retries` cannot be negative".to_owned(),
            "too small",
            "write 0 to run the job once, or N to try a failed run N more times",
        ));
    }
}

/// `healthy` needs a probe to wait on; `healthy` and `completed` are for services. A kind that
/// is ready once it has completed (a job) has no other state to wait for.
fn conditions(stack: &Stack, resource: &Resource, problems: &mut Vec<Diagnostic>) {
    for dependency in resource.items("depends-on") {
        let Some(condition) = dependency.get("condition") else {
            continue;
        };
        let Some(target) = dependency
            .get("target")
            .and_then(Value::as_ref)
            .and_then(|a| stack.resources.get(a))
        else {
            continue;
        };
        match (condition.as_str(), target.kind.name) {
            (Some("healthy"), "service") if target.field("probe").is_none() => problems.push(
                Diagnostic::error(
                    "stack::missing_field",
                    format!("{} has no probe to be healthy by", target.address),
                )
                .primary(condition.span, "waits for health")
                .secondary(target.span, "declared without `probe`")
                .help("give the service a `probe { ... }`, or wait for condition=\"started\""),
            ),
            (Some("completed"), _) if target.kind.ready == Condition::Completed => {}
            (Some(asked), kind) if target.kind.ready == Condition::Completed => problems.push(invalid(
                condition,
                format!("a {kind} is ready once it has completed, never `{asked}`"),
                "it runs to completion before its dependents start",
                "leave out the condition (or write condition=\"completed\")",
            )),
            (Some("healthy" | "completed"), kind) if kind != "service" => problems.push(invalid(
                condition,
                format!(
                    "a {kind} has no `{}` state",
                    condition.as_str().unwrap_or_default()
                ),
                "only services become healthy or complete",
                "leave out the condition: other resources are ready once they exist",
            )),
            _ => {}
        }
    }
}

/// Labels under `dev.stack.` are how stack finds its own objects on the daemon.
fn reserved_labels(resource: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(labels) = resource.field("labels").and_then(Value::as_map) else {
        return;
    };
    for (key, value) in labels {
        if key.starts_with("dev.stack.") {
            problems.push(invalid(
                value,
                format!("label `{key}` is reserved"),
                "stack sets labels under dev.stack. itself",
                "choose a key outside dev.stack.",
            ));
        }
    }
}

/// Two services cannot publish the same host port (on overlapping host addresses).
fn published_ports(stack: &Stack, problems: &mut Vec<Diagnostic>) {
    let mut seen: Vec<(IpAddr, i64, &str, &Value, &Resource)> = Vec::new();
    for resource in stack.resources.values().filter(|r| r.kind.name == "service") {
        for port in resource.items("port") {
            let Some(published) = port.get("published").and_then(Value::as_int) else {
                continue;
            };
            let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
            let host: IpAddr = port
                .get("host-ip")
                .and_then(Value::as_str)
                .and_then(|ip| ip.parse().ok())
                .unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let clash = seen
                .iter()
                .find(|(other_host, other_port, other_protocol, _, _)| {
                    *other_port == published
                        && *other_protocol == protocol
                        && (*other_host == host || other_host.is_unspecified() || host.is_unspecified())
                });
            if let Some((_, _, _, first, owner)) = clash {
                problems.push(
                    Diagnostic::error(
                        "stack::port_conflict",
                        format!("host port {published}/{protocol} is published twice"),
                    )
                    .primary(port.span, format!("{} publishes it here", resource.address))
                    .secondary(first.span, format!("{} publishes it already", owner.address))
                    .help(
                        "give one of them another host port; the container port (target=) can stay the same",
                    ),
                );
            } else {
                seen.push((host, published, protocol, port, resource));
            }
        }
    }
}

fn cidr<'r>(resource: &'r Resource, field: &str) -> Option<(Cidr, &'r Value)> {
    let value = resource.field(field)?;
    Some((Cidr::parse(value.as_str()?).ok()?, value))
}

/// Networks with overlapping subnets cannot both exist on one daemon.
fn subnets(stack: &Stack, problems: &mut Vec<Diagnostic>) {
    let networks: Vec<(&Resource, Cidr, &Value)> = stack
        .resources
        .values()
        .filter(|r| r.kind.name == "network")
        .filter_map(|r| cidr(r, "subnet").map(|(subnet, value)| (r, subnet, value)))
        .collect();
    for (index, (network, subnet, value)) in networks.iter().enumerate() {
        for (other, other_subnet, other_value) in &networks[..index] {
            if subnet.overlaps(*other_subnet) {
                problems.push(
                    Diagnostic::error(
                        "stack::subnet_overlap",
                        format!("the subnets of {} and {} overlap", other.address, network.address),
                    )
                    .primary(value.span, format!("{} uses this range", network.address))
                    .secondary(other_value.span, format!("{} uses this range", other.address))
                    .help("give each network its own, non-overlapping range"),
                );
            }
        }
    }
}

fn network(resource: &Resource, problems: &mut Vec<Diagnostic>) {
    if resource.field("external").is_some() {
        for (name, value) in &resource.fields {
            if !["external", "subnet", "depends-on", "prevent-destroy"].contains(&name.as_str()) {
                problems.push(
                    Diagnostic::error("stack::invalid_value", format!("an external network cannot set `{name}`"))
                        .primary(value.span, "external networks are only read, never changed")
                        .help("remove this line; `subnet` may stay, as what the existing network is expected to have"),
                );
            }
        }
        return;
    }
    let Some((subnet, subnet_value)) = cidr(resource, "subnet") else {
        for name in ["gateway", "ip-range"] {
            if let Some(value) = resource.field(name) {
                problems.push(
                    Diagnostic::error("stack::invalid_value", format!("`{name}` needs a `subnet`"))
                        .primary(value.span, "no subnet to place it in")
                        .help("declare the network's `subnet` too"),
                );
            }
        }
        return;
    };
    if let Some(gateway) = resource.field("gateway")
        && let Some(address) = gateway.as_str().and_then(|text| text.parse::<IpAddr>().ok())
        && !subnet.contains(address)
    {
        problems.push(outside(gateway, subnet_value, "the gateway"));
    }
    if let Some((range, value)) = cidr(resource, "ip-range")
        && !(subnet.contains(range.address) && range.prefix >= subnet.prefix)
    {
        problems.push(outside(value, subnet_value, "the ip-range"));
    }
}

fn outside(value: &Value, subnet: &Value, what: &str) -> Diagnostic {
    Diagnostic::error(
        "stack::address_outside_subnet",
        format!("{what} {value} is outside the subnet {subnet}"),
    )
    .primary(value.span, "outside the subnet")
    .secondary(subnet.span, "the subnet")
    .help("choose an address inside the subnet, or widen the subnet")
}

/// A fixed address must lie in the subnet of the network it is on.
fn fixed_addresses(stack: &Stack, service: &Resource, problems: &mut Vec<Diagnostic>) {
    for attachment in service.items("network") {
        let Some(fixed) = attachment.get("ipv4-address") else {
            continue;
        };
        let Some(address) = fixed.as_str().and_then(|text| text.parse::<IpAddr>().ok()) else {
            continue;
        };
        let Some(network) = attachment
            .get("name")
            .and_then(Value::as_ref)
            .and_then(|a| stack.resources.get(a))
        else {
            continue;
        };
        match cidr(network, "subnet") {
            Some((subnet, subnet_value)) if !subnet.contains(address) => {
                problems.push(outside(fixed, subnet_value, "the address"));
            }
            Some(_) => {}
            None => problems.push(
                Diagnostic::error(
                    "stack::address_outside_subnet",
                    format!("{} has no subnet for a fixed address", network.address),
                )
                .primary(fixed.span, "fixed address")
                .secondary(network.span, "declared without `subnet`")
                .help("fixed addresses need a network with a declared subnet"),
            ),
        }
    }
}

/// Names of environment variables that hold credentials (shared with the
/// Compose importer, which keeps their values out of the files it writes).
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    if key.ends_with("_FILE") || key.ends_with("_PATH") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIALS",
    ]
    .iter()
    .any(|marker| {
        // Ends with the marker, or has it followed by `_`.
        let (key, marker) = (key.as_bytes(), marker.as_bytes());
        key.windows(marker.len())
            .enumerate()
            .any(|(at, window)| window == marker && matches!(key.get(at + marker.len()), None | Some(b'_')))
    })
}

fn literal_secrets_in_env(service: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(env) = service.field("env").and_then(Value::as_map) else {
        return;
    };
    for (key, value) in env {
        let literal = matches!(&value.data, Data::Str(text) if !text.is_empty());
        if literal && !value.contains_sensitive() && looks_secret(key) {
            problems.push(
                Diagnostic::error("stack::literal_secret", format!("`{key}` holds a credential written into the stack"))
                    .primary(value.span, "a literal credential would be committed with the file")
                    .help(format!(
                        "declare a `secret` and mount it (`secret \"NAME\"`), pointing the program at /run/secrets/NAME (e.g. `{key}_FILE`), or use a sensitive variable: \"${{var.NAME}}\""
                    )),
            );
        }
    }
}

/// A probe checks exactly one thing: an URL, a port or a command.
fn one_check(resource: &Resource, keys: Option<Vec<&str>>, at: &Value, problems: &mut Vec<Diagnostic>) {
    let checks: Vec<&str> = keys
        .unwrap_or_default()
        .into_iter()
        .filter(|key| ["http", "tcp", "exec"].contains(key))
        .collect();
    if checks.len() == 1 {
        return;
    }
    let span = if at.data == Data::Null {
        resource.span
    } else {
        at.span
    };
    let message = if checks.is_empty() {
        format!("the probe of {} checks nothing", resource.address)
    } else {
        format!("the probe of {} has {} checks", resource.address, checks.len())
    };
    problems.push(
        Diagnostic::error("stack::invalid_probe", message)
            .primary(span, "a probe needs exactly one of http, tcp, exec")
            .help("write one check: http \"http://127.0.0.1:8080/health\", tcp \"127.0.0.1:5432\" or exec \"pg_isready\""),
    );
}

fn secret(resource: &Resource, stack_dir: &Path, problems: &mut Vec<Diagnostic>) {
    let sources: Vec<&String> = resource
        .fields
        .keys()
        .filter(|key| key.starts_with("from-"))
        .collect();
    if sources.len() != 1 {
        problems.push(
            Diagnostic::error(
                "stack::secret_source",
                format!("{} needs exactly one source", resource.address),
            )
            .primary(resource.span, format!("{} sources", sources.len()))
            .help("give one of from-env \"NAME\", from-file \"/path\" or from-command \"program\""),
        );
    }
    let Some(file) = resource.field("from-file") else {
        return;
    };
    let Some(path) = file.as_str() else { return };
    let path = match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|home| Path::new(&home).join(rest))
            .unwrap_or_default(),
        None => crate::load::normalize(&resource.dir.join(path)),
    };
    let inside = |dir: &Path| {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let path = path.canonicalize().unwrap_or_else(|_| path.clone());
        path.starts_with(dir)
    };
    if inside(stack_dir) {
        problems.push(
            Diagnostic::error("stack::secret_source", "the secret file is inside the stack's directory")
                .primary(file.span, "this file could be committed with the stack")
                .help("keep secret files outside the repository, e.g. under /etc or ~/.config, and give an absolute path"),
        );
    }
}

fn build_context(resource: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(context) = resource.field("context") else {
        return;
    };
    let Some(path) = context.as_str() else { return };
    if !resource.dir.join(path).is_dir() {
        problems.push(
            Diagnostic::error(
                "stack::invalid_value",
                format!("build context `{path}` does not exist"),
            )
            .primary(context.span, "not a directory")
            .help("the context is relative to the file that declares the image"),
        );
    }
}

/// `push` names a repository of a registry (`HOST/PATH`), without a tag or digest: the image
/// is pushed under its own content tag.
fn push_repository(resource: &Resource, problems: &mut Vec<Diagnostic>) {
    let Some(push) = resource.field("push") else {
        return;
    };
    let Some(repository) = push.as_str() else { return };
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let problem = if !repository.contains('/')
        || repository.contains("://")
        || repository.chars().any(char::is_whitespace)
    {
        Some((
            format!("`push \"{repository}\"` is not a repository of a registry"),
            "expected `HOST/NAME`",
            "name the registry and the repository, as an image reference does: `push \"127.0.0.1:5000/shop/api\"`, `push \"ghcr.io/acme/api\"`",
        ))
    } else if last.contains('@') || last.contains(':') {
        Some((
            format!("`push \"{repository}\"` names a tag or digest"),
            "a repository only, without `:TAG` or `@DIGEST`",
            "the image is pushed under the tag its content gives it, and `${image.NAME}` reads as the pushed digest: write `push \"HOST/NAME\"`; extra local tags go in `tags`",
        ))
    } else {
        None
    };
    if let Some((message, label, help)) = problem {
        problems.push(invalid(push, message, label, help));
    }
}

#[cfg(test)]
mod tests {
    use super::{is_constraint, looks_secret};

    #[test]
    fn placement_constraints() {
        for constraint in [
            "node.role==worker",
            "node.labels.zone != edge",
            "engine.labels.os==linux",
        ] {
            assert!(is_constraint(constraint), "{constraint}");
        }
        for text in [
            "node.role",
            "role==worker",
            "node.==x",
            "node.role==",
            "node.id==a==b",
        ] {
            assert!(!is_constraint(text), "{text}");
        }
    }

    #[test]
    fn credential_names() {
        for key in [
            "POSTGRES_PASSWORD",
            "api_token",
            "SECRET_KEY",
            "OPENROUTER_API_KEY",
            "AWS_ACCESS_KEY_ID",
        ] {
            assert!(looks_secret(key), "{key}");
        }
        for key in [
            "POSTGRES_PASSWORD_FILE",
            "REDIS_URL",
            "TOKENIZER_MODEL",
            "LOG_LEVEL",
        ] {
            assert!(!looks_secret(key), "{key}");
        }
    }
}
