//! Warnings: a stack that is valid but will hurt when applied. Each has a stable code, points
//! at the line to change and says what to do instead. A comment `// stack:allow(CODE)` on that
//! line, or alone on the line above, allows it (spec/diagnostics.md, "Warnings").

use stack_diagnostics::{Diagnostic, Sources};

use crate::model::{Resource, Stack, Target};
use crate::{Data, Value};

/// A named volume mounted read-write where two containers can run on it at once.
pub const SHARED_VOLUME: &str = "stack::shared_volume";
/// An image by the tag `latest`, or by no tag at all.
pub const FLOATING_IMAGE: &str = "stack::floating_image";
/// A host port a start-first service publishes with no proxy in front to hold it.
pub const PORT_WITHOUT_PROXY: &str = "stack::port_without_proxy";
/// On a swarm, a named volume mounted by replicas that may run on several nodes.
pub const VOLUME_PER_NODE: &str = "stack::volume_per_node";

/// The warnings of `stack`, applied to `target` (the default when `None`), that no comment in
/// `sources` allows.
pub fn warnings(stack: &Stack, target: Option<Target>, sources: &Sources) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for resource in stack.resources.values() {
        match resource.kind.name {
            "service" => {
                found.extend(floating_image(resource));
                shared_volumes(resource, &mut found);
                ports_without_proxy(resource, &mut found);
                if target == Some(Target::Swarm) {
                    volumes_per_node(resource, &mut found);
                }
            }
            "job" => found.extend(floating_image(resource)),
            _ => {}
        }
    }
    found.retain(|warning| !allowed(warning, sources));
    found
}

fn floating_image(resource: &Resource) -> Option<Diagnostic> {
    let image = resource.field("image")?;
    let reference = image.as_str()?;
    if reference.contains('@') {
        return None;
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let (message, label) = match last.split_once(':') {
        None => (
            format!("{} runs `{reference}`, which names no tag", resource.address),
            "no tag: whatever `latest` is",
        ),
        Some((_, "latest")) => (
            format!("{} runs `{reference}`", resource.address),
            "`latest` moves",
        ),
        Some(_) => return None,
    };
    Some(
        Diagnostic::warning(FLOATING_IMAGE, message)
            .primary(image.span, label)
            .help(format!(
                "the plan cannot know what will run, and a rollback may not bring back what ran: pin a version \
                 (`{}:1.2.3`) or a digest (`@sha256:...`), or build the image in the stack (`image \"${{image.NAME}}\"`)",
                reference.strip_suffix(":latest").unwrap_or(reference)
            )),
    )
}

/// Where a service runs two containers at once: several replicas, or a new container started
/// before the old one stops. Returns the value that says so and what it means.
fn concurrent_containers(service: &Resource) -> Option<(&Value, String)> {
    if let Some(replicas) = service
        .field("replicas")
        .filter(|value| value.as_int().is_some_and(|count| count > 1))
    {
        return Some((replicas, "several replicas run at once".to_owned()));
    }
    starts_first(service).map(|setting| {
        (
            setting,
            "the new container starts before the old one stops".to_owned(),
        )
    })
}

/// The `update` setting that makes a rollout start the new container first, if one does.
fn starts_first(service: &Resource) -> Option<&Value> {
    let update = service.field("update")?;
    let setting =
        |name: &str, value: &str| update.get(name).filter(|setting| setting.as_str() == Some(value));
    setting("order", "start-first").or_else(|| setting("strategy", "blue-green"))
}

fn shared_volumes(service: &Resource, found: &mut Vec<Diagnostic>) {
    let Some((cause, why)) = concurrent_containers(service) else {
        return;
    };
    for mount in service.items("volume") {
        if mount.get("read-only").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let volume = match mount.get("source").map(|source| &source.data) {
            Some(Data::Ref(address)) => address.to_string(),
            Some(Data::Str(name)) => format!("volume `{name}`"),
            _ => "a volume".to_owned(),
        };
        found.push(
            Diagnostic::warning(
                SHARED_VOLUME,
                format!("{} mounts {volume} read-write in two containers at once", service.address),
            )
            .primary(mount.span, "mounted read-write")
            .secondary(cause.span, why.clone())
            .help(
                "two programs writing one data directory corrupt it (two Postgres on one volume): run one replica \
                 updated `order \"stop-first\"`, or mount the volume `read-only=#true`",
            ),
        );
    }
}

/// On a swarm a volume is one per node: replicas that may be scheduled on several nodes each
/// see the volume of their own node, not one shared volume.
fn volumes_per_node(service: &Resource, found: &mut Vec<Diagnostic>) {
    let Some(replicas) = service
        .field("replicas")
        .filter(|value| value.as_int().is_some_and(|count| count > 1))
    else {
        return;
    };
    if pinned_to_one_node(service) {
        return;
    }
    for mount in service.items("volume") {
        let volume = match mount.get("source").map(|source| &source.data) {
            Some(Data::Ref(address)) => format!("`{address}`"),
            Some(Data::Str(name)) => format!("volume `{name}`"),
            _ => "its volume".to_owned(),
        };
        found.push(
            Diagnostic::warning(
                VOLUME_PER_NODE,
                format!(
                    "{}'s replicas do not share {volume}: on a swarm each node has a volume of its own",
                    service.address
                ),
            )
            .primary(mount.span, "a volume on each node that runs a replica")
            .secondary(replicas.span, "the replicas may run on several nodes")
            .help(
                "pin the service to one node (`placement { constraints \"node.hostname==NAME\"; }`), or \
                 give the volume a driver that shares it between nodes (`driver` on the volume: NFS, a cloud \
                 volume plugin)",
            ),
        );
    }
}

/// Whether a placement constraint allows one node only: its id or its host name.
fn pinned_to_one_node(service: &Resource) -> bool {
    let Some(constraints) = service
        .field("placement")
        .and_then(|placement| placement.get("constraints"))
    else {
        return false;
    };
    constraints
        .as_list()
        .iter()
        .filter_map(Value::as_str)
        .any(|constraint| {
            constraint
                .split_once("==")
                .is_some_and(|(attribute, _)| matches!(attribute.trim(), "node.id" | "node.hostname"))
        })
}

fn ports_without_proxy(service: &Resource, found: &mut Vec<Diagnostic>) {
    let Some(order) = starts_first(service) else {
        return;
    };
    // Several replicas on one UDP port is an error already (`stack::port_conflict`).
    if service
        .field("replicas")
        .is_some_and(|value| value.as_int().is_some_and(|count| count > 1))
    {
        return;
    }
    for port in service.items("port") {
        if port.get("protocol").and_then(Value::as_str) != Some("udp") {
            continue;
        }
        let published = port.get("published").and_then(Value::as_int).unwrap_or_default();
        found.push(
            Diagnostic::warning(
                PORT_WITHOUT_PROXY,
                format!(
                    "{} publishes host port {published}/udp but starts its new container first",
                    service.address
                ),
            )
            .primary(port.span, "no proxy holds this port")
            .secondary(order.span, "the new container starts while the old one holds the port")
            .help(
                "a host port holds one container, and the proxy in front of a start-first service forwards TCP only: \
                 the rollout's new container cannot start. Update this service `order \"stop-first\"`, or reach it \
                 through a network instead of a host port",
            ),
        );
    }
}

/// Whether a comment allows `warning`: `// stack:allow(CODE)` on the line it points at, or
/// alone on the line above; CODE with or without its `stack::` prefix, several separated by
/// commas.
pub fn allowed(warning: &Diagnostic, sources: &Sources) -> bool {
    let Some(span) = warning.primary_span() else {
        return false;
    };
    let Some(file) = sources
        .iter()
        .find(|(id, _)| *id == span.file)
        .map(|(_, file)| file)
    else {
        return false;
    };
    let text = file.text();
    let start = (span.start as usize).min(text.len());
    let before = text.get(..start).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let line_end = text
        .get(start..)
        .and_then(|rest| rest.find('\n'))
        .map_or(text.len(), |at| start + at);
    let line = text.get(line_start..line_end).unwrap_or_default();
    let above = before
        .get(..line_start.saturating_sub(1))
        .filter(|_| line_start > 0)
        .and_then(|text| text.rsplit('\n').next())
        .unwrap_or_default();
    allows(line, warning.code) || (above.trim_start().starts_with("//") && allows(above, warning.code))
}

const ALLOW: &str = "stack:allow(";

/// Whether `line` has a comment allowing `code`.
fn allows(line: &str, code: &str) -> bool {
    let short = code.strip_prefix("stack::").unwrap_or(code);
    line.match_indices(ALLOW).any(|(at, _)| {
        let in_comment = line[..at].contains("//") || line[..at].contains("/*");
        let codes = line[at + ALLOW.len()..].split(')').next().unwrap_or_default();
        in_comment
            && codes
                .split(',')
                .map(str::trim)
                .any(|name| name == code || name == short)
    })
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn comments_allow_codes_with_or_without_their_prefix() {
        let code = "stack::floating_image";
        assert!(allows(r#"image "redis" // stack:allow(floating_image)"#, code));
        assert!(allows(
            "// stack:allow(stack::shared_volume, stack::floating_image)",
            code
        ));
        assert!(allows("/* stack:allow( floating_image ) */", code));
        assert!(!allows("// stack:allow(shared_volume)", code));
        assert!(!allows(r#"image "stack:allow(floating_image)""#, code));
        assert!(!allows("// stack:allow(floating_image_v2)", code));
    }
}
