//! One Compose service as a stack `service` (and the `image` it builds).

use stack_diagnostics::Span;
use stack_language::looks_secret;

use crate::convert::{Cx, flag, stack_name, strings};
use crate::job;
use crate::kdl::{Item, Node, Val, escape_template};
use crate::load::key_value_map;
use crate::resources::labels;
use crate::units;
use crate::yaml::{self, Yaml};

/// Fields Compose has that a stack service does not, and why.
const UNMAPPED: &[(&str, &str)] = &[
    (
        "container_name",
        "a stack names containers itself (STACK-SERVICE-N), so that replicas and updates work",
    ),
    (
        "profiles",
        "a stack has no profiles: the service is always part of it; move optional services to their own stack or an overlay",
    ),
    (
        "network_mode",
        "a stack service joins the stack's networks; host or container network modes are not available",
    ),
    ("platform", "the image is run for the daemon's own platform"),
    ("runtime", "containers run with the daemon's default runtime"),
    (
        "privileged",
        "a stack grants capabilities one by one: use `cap-add`",
    ),
    ("stdin_open", "stack containers run without an attached terminal"),
    ("tty", "stack containers run without an attached terminal"),
    (
        "links",
        "services reach each other by host name on their networks",
    ),
    (
        "external_links",
        "services reach each other by host name on their networks",
    ),
    ("extra_hosts", "a stack service has no extra host entries"),
    ("dns", "containers use the daemon's DNS settings"),
    ("dns_search", "containers use the daemon's DNS settings"),
    ("logging", "containers log with the daemon's default driver"),
    ("ulimits", "a stack service has no ulimits"),
    ("sysctls", "a stack service has no sysctls"),
    ("devices", "a stack service maps no devices"),
    ("security_opt", "a stack service has no security options"),
    ("shm_size", "a stack service has no shm size"),
    ("pid", "a stack service has its own PID namespace"),
    ("ipc", "a stack service has its own IPC namespace"),
    (
        "pull_policy",
        "Docker pulls an image when the host does not have it",
    ),
    (
        "volumes_from",
        "mount the same named volume in both services instead",
    ),
    ("domainname", "a stack service has no domain name"),
    ("mac_address", "containers get their MAC addresses from Docker"),
    ("oom_score_adj", "a stack service has no OOM settings"),
    ("group_add", "a stack service has no extra groups"),
];

/// Builds the service; its image, anonymous volumes and variables go into `cx`.
pub fn service(cx: &mut Cx, key: &yaml::Node, definition: &yaml::Node) -> Node {
    let compose = key.as_str().unwrap_or_default().to_owned();
    let name = stack_name(&compose);
    let mut node = Node::new(if cx.one_shots.contains(&compose) {
        job::KIND
    } else {
        "service"
    })
    .arg(Val::str(&name));
    let Some(fields) = definition.as_map() else {
        if !definition.is_null() {
            cx.invalid(definition, &compose, "a mapping of service settings");
        }
        return node;
    };
    let mut state = State::default();
    for (field_key, value) in fields {
        let Some(field) = field_key.as_str() else { continue };
        match field {
            "image" if definition.get("build").is_some() => {}
            "image" => {
                if let Some(image) = cx.text(value, false) {
                    node.push(Node::new("image").arg(Val::str(image)));
                }
            }
            "build" => build(cx, &mut node, &name, value, definition.get("image")),
            "command" | "entrypoint" => command(cx, &mut node, field_key, field, value),
            "environment" | "env_file" => {
                state.env_at.get_or_insert(node.children.len());
                if field == "environment" {
                    state.environment = Some(value.clone());
                } else {
                    state.env_file = Some(value.clone());
                }
            }
            "ports" => ports(cx, &mut node, value, &mut state),
            "expose" => {
                for port in strings(value) {
                    if let Some(text) = cx.fixed(port) {
                        expose(cx, &mut node, port, &text);
                    }
                }
            }
            "volumes" => volumes(cx, &mut node, &name, value),
            "tmpfs" => {
                for path in strings(value) {
                    if let Some(text) = cx.fixed(path) {
                        tmpfs(cx, &mut node, path, &text);
                    }
                }
            }
            "networks" => networks(cx, &mut node, value),
            "depends_on" => depends_on(cx, &mut node, value),
            "healthcheck" => healthcheck(cx, &mut node, field_key, value),
            "restart" => {
                state.restart = true;
                restart(cx, &mut node, value);
            }
            "user" | "working_dir" | "hostname" | "stop_signal" => {
                if let Some(text) = cx.text(value, false) {
                    let stack_field = match field {
                        "working_dir" => "workdir",
                        "stop_signal" => "stop-signal",
                        other => other,
                    };
                    node.push(Node::new(stack_field).arg(Val::str(text)));
                }
            }
            "labels" => labels(cx, &mut node, value),
            "init" | "read_only" => {
                if let Some(on) = flag(cx, value, field) {
                    node.push(Node::new(field.replace('_', "-")).arg(Val::Bool(on)));
                }
            }
            "cap_add" | "cap_drop" => {
                let caps: Vec<Val> = strings(value)
                    .into_iter()
                    .filter_map(|cap| cx.fixed(cap))
                    .map(Val::str)
                    .collect();
                if !caps.is_empty() {
                    node.push(Node::new(field.replace('_', "-")).args(caps));
                }
            }
            "stop_grace_period" => {
                if let Some(duration) = duration(cx, value, field) {
                    node.push(Node::new("stop-grace-period").arg(Val::str(duration)));
                }
            }
            "secrets" => secrets(cx, &mut node, value),
            "configs" => configs(cx, &mut node, value),
            "deploy" => deploy(cx, &mut node, value, &mut state),
            "mem_limit" | "memswap_limit" | "mem_reservation" | "cpus" => {
                state.resources_at.get_or_insert(node.children.len());
                resource(cx, &mut node, &mut state, field_key, field, value);
            }
            "scale" => {
                if let Some(count) = value.as_int() {
                    state.replicas = Some((count, value.span));
                }
            }
            _ if field.starts_with("x-") => {}
            _ => {
                let why = UNMAPPED
                    .iter()
                    .find(|(name, _)| *name == field)
                    .map_or("not a Compose service field this importer knows", |(_, why)| why);
                cx.unmapped(&mut node, field_key, field, why);
            }
        }
    }
    finish(cx, &mut node, &compose, key.span, definition, state);
    node
}

/// What a service's fields add up to, written when all are read.
#[derive(Default)]
struct State {
    env_at: Option<usize>,
    environment: Option<yaml::Node>,
    env_file: Option<yaml::Node>,
    resources_at: Option<usize>,
    resources: Vec<Node>,
    replicas: Option<(i64, Span)>,
    restart: bool,
    published: Option<Span>,
    /// A published port is UDP: no proxy holds those.
    udp: bool,
    /// `deploy.update_config.order: start-first`.
    start_first: bool,
}

fn finish(cx: &mut Cx, node: &mut Node, compose: &str, at: Span, definition: &yaml::Node, state: State) {
    let mut inserts: Vec<(usize, Item)> = Vec::new();
    if let Some(at) = state.env_at {
        let env = environment(cx, state.env_file.as_ref(), state.environment.as_ref());
        if env.has_nodes() {
            inserts.push((at, Item::Node(env)));
        }
    }
    if let Some(at) = state.resources_at
        && !state.resources.is_empty()
    {
        let mut resources = Node::new("resources");
        for setting in state.resources {
            resources.push(setting);
        }
        inserts.push((at, Item::Node(resources)));
    }
    inserts.sort_by_key(|(at, _)| *at);
    for (at, item) in inserts.into_iter().rev() {
        node.children.insert(at.min(node.children.len()), item);
    }
    if let Some((replicas, span)) = state.replicas {
        match state.published {
            // A start-first service gets a proxy that holds its TCP ports for every replica.
            Some(port) if replicas > 1 && (state.udp || !state.start_first) => {
                let place = cx.place(span);
                node.comment(format!(
                    "{place}: `replicas {replicas}` is not imported: replicas cannot share a published port; update the service start-first (its proxy holds TCP ports for all replicas), or publish the port from a proxy service"
                ));
                cx.report.push_warning(
                    stack_diagnostics::Diagnostic::warning("stack::compose_unsupported", format!("{replicas} replicas with a published port are not imported"))
                        .primary(span, "replicas")
                        .secondary(port, "published port")
                        .help("one host port reaches one container: with `update { order \"start-first\" }` the service gets a proxy that holds its TCP ports for all replicas"),
                );
            }
            _ => node.push(Node::new("replicas").arg(Val::Int(replicas))),
        }
    }
    let joins_default = definition.get("networks").is_none() && definition.get("network_mode").is_none();
    if joins_default {
        cx.default_network = true;
        node.push(Node::new("network").arg(Val::str("default")));
    }
    if cx.one_shots.contains(compose) {
        job::declare(cx, node, at);
    } else if !state.restart {
        // Compose does not restart containers unless told; a stack does.
        node.push(Node::new("restart").arg(Val::str("no")));
    }
}

fn build(cx: &mut Cx, service: &mut Node, name: &str, value: &yaml::Node, tag: Option<&yaml::Node>) {
    let mut image = Node::new("image").arg(Val::str(name));
    match &value.value {
        Yaml::Scalar { .. } => {
            if let Some(text) = cx.fixed(value) {
                let path = cx.path(value, &text);
                image.push(Node::new("context").arg(Val::str(path)));
            }
        }
        Yaml::Map(fields) => {
            let context = value
                .get("context")
                .and_then(|context| cx.fixed(context).map(|text| (context, text)));
            let path = match context {
                Some((node, text)) => cx.path(node, &text),
                None => cx.path(value, "."),
            };
            image.push(Node::new("context").arg(Val::str(path)));
            for (key, setting) in fields {
                let Some(field) = key.as_str() else { continue };
                match field {
                    "context" => {}
                    "dockerfile" | "target" => {
                        if let Some(text) = cx.fixed(setting) {
                            image.push(Node::new(field).arg(Val::str(text)));
                        }
                    }
                    "args" => {
                        let mut args = Node::new("args");
                        for (arg, arg_value) in key_value_map(setting.clone()).as_map().unwrap_or_default() {
                            let Some(arg) = arg.as_str() else { continue };
                            let secret = looks_secret(arg);
                            let text = match arg_value.as_str() {
                                None => cx.vars.template(
                                    &format!("${{{arg}}}"),
                                    arg_value.span,
                                    secret,
                                    &mut cx.report,
                                ),
                                // A credential passed to the build stays out of the file too.
                                Some(text) if secret && !text.is_empty() && !text.contains('$') => {
                                    cx.vars.move_literal(arg, text, arg_value.span, &mut cx.report)
                                }
                                Some(_) => cx.text(arg_value, secret).unwrap_or_default(),
                            };
                            args.push(Node::new(arg).arg(Val::str(text)));
                        }
                        image.push(args);
                    }
                    "labels" => labels(cx, &mut image, setting),
                    _ if field.starts_with("x-") => {}
                    _ => cx.unmapped(
                        &mut image,
                        key,
                        &format!("build.{field}"),
                        "a stack image has context, dockerfile, target, args, tags and labels",
                    ),
                }
            }
        }
        _ => cx.invalid(value, "build", "a path or a mapping with `context`"),
    }
    if let Some(tag) = tag.and_then(|tag| cx.text(tag, false)) {
        image.push(Node::new("tags").arg(Val::str(tag)));
    }
    cx.images.push(Item::Node(image));
    service.push(Node::new("image").arg(Val::str(format!("${{image.{name}}}"))));
}

fn command(cx: &mut Cx, node: &mut Node, key: &yaml::Node, field: &str, value: &yaml::Node) {
    let words: Vec<String> = match &value.value {
        Yaml::Scalar { text, .. } => match shlex::split(text) {
            Some(words) => words
                .iter()
                .map(|word| cx.vars.template(word, value.span, false, &mut cx.report))
                .collect(),
            None => {
                cx.invalid(value, field, "a command line with balanced quotes");
                return;
            }
        },
        Yaml::Seq(items) => items.iter().filter_map(|item| cx.text(item, false)).collect(),
        Yaml::Null => Vec::new(),
        Yaml::Map(_) => {
            cx.invalid(value, field, "a string or a list of strings");
            return;
        }
    };
    if words.is_empty() {
        cx.unmapped(
            node,
            key,
            field,
            "an empty value resets the image's setting in Compose; a stack keeps the image's",
        );
        return;
    }
    node.push(Node::new(field).args(words.into_iter().map(Val::Str)));
}

/// `env_file` read and inlined, then `environment` over it; credentials are moved out.
fn environment(cx: &mut Cx, env_file: Option<&yaml::Node>, environment: Option<&yaml::Node>) -> Node {
    let mut entries: Vec<(String, EnvValue, Span)> = Vec::new();
    let mut set =
        |key: String, value: EnvValue, span: Span| match entries.iter_mut().find(|(seen, _, _)| *seen == key)
        {
            Some(entry) => *entry = (key, value, span),
            None => entries.push((key, value, span)),
        };
    for file in env_file.map(strings).unwrap_or_default() {
        let (path_node, required) = match file.get("path") {
            Some(path) => (
                path,
                file.get("required").and_then(yaml::Node::as_bool).unwrap_or(true),
            ),
            None => (file, true),
        };
        let Some(path) = cx.fixed(path_node) else { continue };
        let full = cx.dir_of(path_node).join(&path);
        match std::fs::read_to_string(&full) {
            Ok(text) => {
                for (key, value) in crate::env_file::parse(&text) {
                    set(key, EnvValue::Literal(value), path_node.span);
                }
            }
            Err(_) if !required => {}
            Err(error) => cx.report.error(
                "stack::compose_invalid",
                path_node.span,
                format!("the env file {} cannot be read: {error}", full.display()),
                "create the file, or mark it `required: false`",
            ),
        }
    }
    if let Some(environment) = environment {
        if !matches!(environment.value, Yaml::Seq(_) | Yaml::Map(_) | Yaml::Null) {
            cx.invalid(environment, "environment", "a list of KEY=VALUE or a mapping");
        }
        for (key, value) in key_value_map(environment.clone()).as_map().unwrap_or_default() {
            let Some(key) = key.as_str() else { continue };
            let entry = match (&value.value, value.as_str()) {
                (_, Some(text)) => EnvValue::Compose(text.to_owned()),
                (Yaml::Null, _) => EnvValue::Host,
                _ => {
                    cx.invalid(value, key, "a string, a number or nothing");
                    continue;
                }
            };
            set(key.to_owned(), entry, value.span);
        }
    }
    let mut env = Node::new("env");
    for (key, value, span) in entries {
        let secret = looks_secret(&key);
        let text = match value {
            EnvValue::Host => cx
                .vars
                .template(&format!("${{{key}}}"), span, secret, &mut cx.report),
            EnvValue::Literal(text) if secret && !text.is_empty() => {
                cx.vars.move_literal(&key, &text, span, &mut cx.report)
            }
            EnvValue::Literal(text) => url_password(cx, &key, &escape_template(&text), span),
            EnvValue::Compose(text) if secret && !text.is_empty() && !text.contains('$') => {
                cx.vars.move_literal(&key, &text, span, &mut cx.report)
            }
            EnvValue::Compose(text) => {
                let template = cx.vars.template(&text, span, secret, &mut cx.report);
                url_password(cx, &key, &template, span)
            }
        };
        env.push(Node::new(key).arg(Val::Str(text)));
    }
    env
}

enum EnvValue {
    /// From an env file: not interpolated.
    Literal(String),
    /// From `environment`: interpolated.
    Compose(String),
    /// `- KEY` with no value: Compose takes it from its own environment.
    Host,
}

/// `scheme://user:password@host` with a literal password: the password moves
/// into a sensitive variable.
fn url_password(cx: &mut Cx, key: &str, template: &str, span: Span) -> String {
    let Some(scheme_end) = template.find("://") else {
        return template.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &template[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return template.to_owned();
    };
    let Some(colon) = rest[..at].find(':') else {
        return template.to_owned();
    };
    let password = &rest[colon + 1..at];
    if password.is_empty() || password.contains('$') {
        return template.to_owned();
    }
    let moved = cx
        .vars
        .move_literal(&format!("{key}_PASSWORD"), password, span, &mut cx.report);
    format!(
        "{}{}{}",
        &template[..authority_start + colon + 1],
        moved,
        &rest[at..]
    )
}

fn ports(cx: &mut Cx, node: &mut Node, value: &yaml::Node, state: &mut State) {
    for port in strings(value) {
        match &port.value {
            Yaml::Map(_) => long_port(cx, node, port, state),
            Yaml::Scalar { .. } => {
                if let Some(text) = cx.fixed(port) {
                    short_port(cx, node, port, &text, state);
                }
            }
            _ => cx.invalid(port, "ports", "`HOST:CONTAINER` or a mapping with `target`"),
        }
    }
}

/// `[IP:][HOST:]CONTAINER[/PROTOCOL]`, with ranges `8000-8002`.
fn short_port(cx: &mut Cx, node: &mut Node, at: &yaml::Node, text: &str, state: &mut State) {
    let (spec, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [container] => (*container, "", ""),
        [container, host] => (*container, *host, ""),
        [container, host, ip] => (*container, *host, *ip),
        _ => ("", "", ""),
    };
    publish(
        cx,
        node,
        at,
        ip.trim_matches(['[', ']']),
        host,
        container,
        protocol,
        state,
    );
}

fn long_port(cx: &mut Cx, node: &mut Node, port: &yaml::Node, state: &mut State) {
    let mut target = String::new();
    let mut published = String::new();
    let mut ip = String::new();
    let mut protocol = "tcp".to_owned();
    for (key, value) in port.as_map().unwrap_or_default() {
        let text = cx.fixed(value).unwrap_or_default();
        match key.as_str() {
            Some("target") => target = text,
            Some("published") => published = text,
            Some("host_ip") => ip = text,
            Some("protocol") => protocol = text,
            Some("mode") if text == "ingress" || text == "host" => {}
            _ => cx.unmapped(
                node,
                key,
                &format!("ports.{}", key.as_str().unwrap_or("?")),
                "a stack port has a host port, target, protocol and host-ip",
            ),
        }
    }
    publish(cx, node, port, &ip, &published, &target, &protocol, state);
}

#[allow(clippy::too_many_arguments)]
fn publish(
    cx: &mut Cx,
    node: &mut Node,
    at: &yaml::Node,
    ip: &str,
    host: &str,
    container: &str,
    protocol: &str,
    state: &mut State,
) {
    let (Some(containers), Some(hosts)) = (range(container), range(host)) else {
        cx.invalid(
            at,
            "ports",
            "ports as numbers from 1 to 65535, or ranges like 8000-8002",
        );
        return;
    };
    if hosts.is_empty() {
        cx.unmapped(node, at, &format!("ports: {container}"), "Compose publishes it on a random host port; a stack publishes fixed ports: it is exposed instead");
        for target in containers {
            node.push(Node::new("expose").arg(Val::Int(target)));
        }
        return;
    }
    if hosts.len() != containers.len() && containers.len() != 1 {
        cx.invalid(at, "ports", "ranges of the same length on both sides");
        return;
    }
    state.published.get_or_insert(at.span);
    state.udp |= protocol == "udp";
    for (index, published) in hosts.iter().enumerate() {
        let target = if containers.len() == 1 {
            containers[0]
        } else {
            containers[index]
        };
        let mut port = Node::new("port").arg(Val::Int(*published));
        if target != *published {
            port = port.prop("target", Val::Int(target));
        }
        if protocol != "tcp" {
            port = port.prop("protocol", Val::str(protocol));
        }
        if !ip.is_empty() && ip != "0.0.0.0" {
            port = port.prop("host-ip", Val::str(ip));
        }
        node.push(port);
    }
}

/// `8000` or `8000-8002` as the ports it names; an empty text is no port.
fn range(text: &str) -> Option<Vec<i64>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let valid = |port: i64| (1..=65535).contains(&port).then_some(port);
    match text.split_once('-') {
        Some((low, high)) => {
            let low = valid(low.parse().ok()?)?;
            let high = valid(high.parse().ok()?)?;
            (low <= high && high - low < 1000).then(|| (low..=high).collect())
        }
        None => Some(vec![valid(text.parse().ok()?)?]),
    }
}

fn expose(cx: &mut Cx, node: &mut Node, at: &yaml::Node, text: &str) {
    let (port, _protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    match range(port) {
        Some(ports) if !ports.is_empty() => {
            for port in ports {
                node.push(Node::new("expose").arg(Val::Int(port)));
            }
        }
        _ => cx.invalid(at, "expose", "a port number"),
    }
}

fn volumes(cx: &mut Cx, node: &mut Node, service: &str, value: &yaml::Node) {
    for volume in strings(value) {
        match &volume.value {
            Yaml::Scalar { .. } => {
                let Some(text) = cx.fixed(volume) else { continue };
                let parts: Vec<&str> = text.splitn(3, ':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [target] => ("", *target, ""),
                    [source, target] => (*source, *target, ""),
                    [source, target, mode] => (*source, *target, *mode),
                    _ => continue,
                };
                let read_only = mode.split(',').any(|option| option == "ro");
                for option in mode.split(',') {
                    if !matches!(option, "" | "ro" | "rw") {
                        cx.unmapped(
                            node,
                            volume,
                            &format!("volumes: :{option}"),
                            "a stack mount is read-only or not; other mount options are not imported",
                        );
                    }
                }
                let kind = if source.is_empty() {
                    "anonymous"
                } else if source.starts_with(['.', '/', '~', '$']) {
                    "bind"
                } else {
                    "volume"
                };
                mount(cx, node, volume, service, kind, source, target, read_only, None);
            }
            Yaml::Map(fields) => {
                let kind = volume
                    .get("type")
                    .and_then(yaml::Node::as_str)
                    .unwrap_or("volume")
                    .to_owned();
                let source = volume
                    .get("source")
                    .and_then(|source| cx.fixed(source))
                    .unwrap_or_default();
                let Some(target) = volume.get("target").and_then(|target| cx.fixed(target)) else {
                    cx.invalid(volume, "volumes", "a mapping with `target`");
                    continue;
                };
                let read_only = volume
                    .get("read_only")
                    .and_then(yaml::Node::as_bool)
                    .unwrap_or(false);
                let mut tmpfs_options = None;
                for (key, setting) in fields {
                    match key.as_str() {
                        Some("type" | "source" | "target" | "read_only" | "consistency") => {}
                        Some("bind")
                            if setting.as_map().is_some_and(|options| {
                                options
                                    .iter()
                                    .all(|(option, _)| option.as_str() == Some("create_host_path"))
                            }) => {}
                        Some("tmpfs") => tmpfs_options = Some(setting.clone()),
                        _ => cx.unmapped(
                            node,
                            key,
                            &format!("volumes.{}", key.as_str().unwrap_or("?")),
                            "a stack mount has a source, a target and read-only",
                        ),
                    }
                }
                let kind = match kind.as_str() {
                    "volume" if source.is_empty() => "anonymous",
                    "volume" => "volume",
                    "bind" => "bind",
                    "tmpfs" => "tmpfs",
                    other => {
                        cx.unmapped(
                            node,
                            volume,
                            &format!("volumes: type {other}"),
                            "a stack mounts volumes, binds and tmpfs",
                        );
                        continue;
                    }
                };
                mount(
                    cx,
                    node,
                    volume,
                    service,
                    kind,
                    &source,
                    &target,
                    read_only,
                    tmpfs_options.as_ref(),
                );
            }
            _ => cx.invalid(
                volume,
                "volumes",
                "`SOURCE:TARGET[:ro]` or a mapping with `type` and `target`",
            ),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn mount(
    cx: &mut Cx,
    node: &mut Node,
    at: &yaml::Node,
    service: &str,
    kind: &str,
    source: &str,
    target: &str,
    read_only: bool,
    tmpfs_options: Option<&yaml::Node>,
) {
    // Compose drops a trailing `/` of the target; so does the stack.
    let target = if target.len() > 1 {
        target.trim_end_matches('/')
    } else {
        target
    };
    let mut mount = match kind {
        "bind" => {
            let path = cx.path(at, source);
            Node::new("bind").arg(Val::str(
                escape_template(&path).replace("$${var.home}", "${var.home}"),
            ))
        }
        "volume" => {
            let Some(name) = cx.volumes.get(source).cloned() else {
                cx.report.error(
                    "stack::compose_invalid",
                    at.span,
                    format!("the volume `{source}` is not declared under the top-level `volumes`"),
                    format!("declare it: `volumes: {{ {source}: {{}} }}`"),
                );
                return;
            };
            Node::new("volume").arg(Val::str(name))
        }
        "anonymous" => {
            // Compose keeps an anonymous volume across recreations of the container: a named volume does the same.
            let name = stack_name(&format!(
                "{service}-{}",
                target.trim_matches('/').replace('/', "-")
            ));
            let place = cx.place(at.span);
            cx.extra_volumes.push(Item::Comment(format!(
                "{place}: the anonymous volume at {target} of `{service}`"
            )));
            cx.extra_volumes
                .push(Item::Node(Node::new("volume").arg(Val::str(&name))));
            Node::new("volume").arg(Val::str(name))
        }
        _ => {
            let mut tmpfs = Node::new("tmpfs").arg(Val::str(target));
            if let Some(options) = tmpfs_options {
                if let Some(size) = options
                    .get("size")
                    .and_then(|size| cx.fixed(size))
                    .and_then(|size| units::size(&size))
                {
                    tmpfs = tmpfs.prop("size", Val::str(size));
                }
                if let Some(mode) = options
                    .get("mode")
                    .and_then(|mode| mode_of(mode.as_str().unwrap_or_default()))
                {
                    tmpfs = tmpfs.prop("mode", Val::Mode(mode));
                }
            }
            node.push(tmpfs);
            return;
        }
    };
    mount = mount.prop("target", Val::str(target));
    if read_only {
        mount = mount.prop("read-only", Val::Bool(true));
    }
    node.push(mount);
}

/// `/path[:size=64m,mode=1777]` of the service's `tmpfs` field.
fn tmpfs(cx: &mut Cx, node: &mut Node, at: &yaml::Node, text: &str) {
    let (path, options) = text.split_once(':').unwrap_or((text, ""));
    let mut tmpfs = Node::new("tmpfs").arg(Val::str(path));
    for option in options.split(',').filter(|option| !option.is_empty()) {
        match option.split_once('=') {
            Some(("size", size)) => match units::size(size) {
                Some(size) => tmpfs = tmpfs.prop("size", Val::str(size)),
                None => cx.invalid(at, "tmpfs size", "a size such as 64m"),
            },
            Some(("mode", mode)) => match mode_of(mode) {
                Some(mode) => tmpfs = tmpfs.prop("mode", Val::Mode(mode)),
                None => cx.invalid(at, "tmpfs mode", "an octal mode such as 1777"),
            },
            _ => cx.unmapped(
                &mut tmpfs,
                at,
                &format!("tmpfs: {option}"),
                "a stack tmpfs has a size and a mode",
            ),
        }
    }
    node.push(tmpfs);
}

/// A file mode as Compose writes it: octal, with or without a leading 0 or `0o`.
fn mode_of(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    u32::from_str_radix(digits, 8).ok()
}

fn networks(cx: &mut Cx, node: &mut Node, value: &yaml::Node) {
    let entries: Vec<(&yaml::Node, Option<&yaml::Node>)> = match &value.value {
        Yaml::Seq(items) => items.iter().map(|item| (item, None)).collect(),
        Yaml::Map(entries) => entries
            .iter()
            .map(|(key, settings)| (key, Some(settings)))
            .collect(),
        _ => {
            cx.invalid(value, "networks", "a list of network names or a mapping");
            return;
        }
    };
    for (key, settings) in entries {
        let Some(compose) = key.as_str() else { continue };
        let name = if compose == "default" && !cx.networks.contains_key(compose) {
            cx.default_network = true;
            "default".to_owned()
        } else {
            match cx.networks.get(compose) {
                Some(name) => name.clone(),
                None => {
                    cx.report.error(
                        "stack::compose_invalid",
                        key.span,
                        format!("the network `{compose}` is not declared under the top-level `networks`"),
                        format!("declare it: `networks: {{ {compose}: {{}} }}`"),
                    );
                    continue;
                }
            }
        };
        let mut network = Node::new("network").arg(Val::str(name));
        for (setting_key, setting) in settings.and_then(yaml::Node::as_map).unwrap_or_default() {
            match setting_key.as_str() {
                Some("aliases") => {
                    let aliases: Vec<Val> = strings(setting)
                        .into_iter()
                        .filter_map(|alias| cx.fixed(alias))
                        .map(Val::str)
                        .collect();
                    if !aliases.is_empty() {
                        network.push(Node::new("aliases").args(aliases));
                    }
                }
                Some("ipv4_address") => {
                    if let Some(address) = cx.fixed(setting) {
                        network.push(Node::new("ipv4-address").arg(Val::str(address)));
                    }
                }
                _ => cx.unmapped(
                    &mut network,
                    setting_key,
                    &format!("networks.{compose}.{}", setting_key.as_str().unwrap_or("?")),
                    "a stack network attachment has aliases and an ipv4-address",
                ),
            }
        }
        node.push(network);
    }
}

/// The services that `definition` waits for to complete.
pub fn completed_targets(definition: &yaml::Node) -> Vec<String> {
    definition
        .get("depends_on")
        .and_then(yaml::Node::as_map)
        .unwrap_or_default()
        .iter()
        .filter(|(_, settings)| {
            settings.get("condition").and_then(yaml::Node::as_str) == Some("service_completed_successfully")
        })
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect()
}

fn depends_on(cx: &mut Cx, node: &mut Node, value: &yaml::Node) {
    let entries: Vec<(&yaml::Node, Option<&yaml::Node>)> = match &value.value {
        Yaml::Seq(items) => items.iter().map(|item| (item, None)).collect(),
        Yaml::Map(entries) => entries
            .iter()
            .map(|(key, settings)| (key, Some(settings)))
            .collect(),
        _ => {
            cx.invalid(
                value,
                "depends_on",
                "a list of services or a mapping with conditions",
            );
            return;
        }
    };
    for (key, settings) in entries {
        let Some(compose) = key.as_str() else { continue };
        let Some(name) = cx.services.get(compose).cloned() else {
            cx.report.error(
                "stack::compose_invalid",
                key.span,
                format!("`depends_on` names `{compose}`, which is not a service of the project"),
                "name a service defined under `services`",
            );
            continue;
        };
        let mut dependency = Node::new("depends-on");
        let mut notes = Node::new("notes");
        for (setting_key, setting) in settings.and_then(yaml::Node::as_map).unwrap_or_default() {
            match (setting_key.as_str(), setting.as_str()) {
                (Some("condition"), Some("service_started")) => {}
                (Some("condition"), Some("service_healthy")) if cx.healthy.contains(compose) => {
                    dependency = dependency.prop("condition", Val::str("healthy"));
                }
                (Some("condition"), Some("service_healthy")) => cx.unmapped(
                    &mut notes,
                    setting,
                    "condition: service_healthy",
                    &format!("`{compose}` has no healthcheck in the Compose file, and a stack needs its probe: this waits for it to start"),
                ),
                (Some("condition"), Some("service_completed_successfully")) => {
                    dependency = job::dependency(dependency, &name);
                }
                (Some("required"), Some("true")) => {}
                _ => cx.unmapped(&mut notes, setting_key, &format!("depends_on.{compose}.{}", setting_key.as_str().unwrap_or("?")), "a stack dependency has a condition only"),
            }
        }
        if dependency.args.is_empty() {
            dependency = dependency.arg(Val::str(name));
        }
        node.children.extend(notes.children);
        node.push(dependency);
    }
}

/// Whether a healthcheck turns the image's check off.
pub fn disabled(check: &yaml::Node) -> bool {
    check.get("disable").and_then(yaml::Node::as_bool) == Some(true)
        || check
            .get("test")
            .and_then(yaml::Node::as_seq)
            .and_then(<[yaml::Node]>::first)
            .and_then(yaml::Node::as_str)
            == Some("NONE")
}

fn healthcheck(cx: &mut Cx, node: &mut Node, key: &yaml::Node, check: &yaml::Node) {
    if disabled(check) {
        let place = cx.place(key.span);
        node.comment(format!(
            "{place}: the healthcheck is disabled: the service has no probe"
        ));
        return;
    }
    let mut probe = Node::new("probe");
    let mut test = false;
    for (setting_key, setting) in check.as_map().unwrap_or_default() {
        let Some(field) = setting_key.as_str() else {
            continue;
        };
        match field {
            "test" => {
                let words: Vec<String> = match &setting.value {
                    Yaml::Scalar { text, .. } => vec![
                        "sh".to_owned(),
                        "-c".to_owned(),
                        cx.vars.template(text, setting.span, false, &mut cx.report),
                    ],
                    Yaml::Seq(items) => {
                        let words: Vec<String> =
                            items.iter().filter_map(|item| cx.text(item, false)).collect();
                        match words.split_first() {
                            Some((first, rest)) if first == "CMD" => rest.to_vec(),
                            Some((first, rest)) if first == "CMD-SHELL" => {
                                let mut shell = vec!["sh".to_owned(), "-c".to_owned()];
                                shell.push(rest.join(" "));
                                shell
                            }
                            _ => {
                                cx.invalid(
                                    setting,
                                    "healthcheck.test",
                                    "[\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or a shell command",
                                );
                                continue;
                            }
                        }
                    }
                    _ => {
                        cx.invalid(setting, "healthcheck.test", "a list or a shell command");
                        continue;
                    }
                };
                test = !words.is_empty();
                probe.children.insert(
                    0,
                    Item::Node(Node::new("exec").args(words.into_iter().map(Val::Str))),
                );
            }
            "interval" | "timeout" | "start_period" => {
                if let Some(duration) = duration(cx, setting, field) {
                    probe.push(Node::new(field.replace('_', "-")).arg(Val::str(duration)));
                }
            }
            "retries" => match setting.as_int() {
                Some(retries) => probe.push(Node::new("retries").arg(Val::Int(retries))),
                None => cx.invalid(setting, "healthcheck.retries", "a number"),
            },
            "disable" => {}
            _ => cx.unmapped(
                &mut probe,
                setting_key,
                &format!("healthcheck.{field}"),
                "a stack probe has a check, interval, timeout, retries and start-period",
            ),
        }
    }
    if !test {
        cx.unmapped(
            node,
            key,
            "healthcheck",
            "without `test` it only tunes the image's own check, which a stack does not read",
        );
        return;
    }
    node.push(probe);
}

fn duration(cx: &mut Cx, value: &yaml::Node, field: &str) -> Option<String> {
    let text = cx.fixed(value)?;
    let duration = units::duration(&text);
    if duration.is_none() {
        cx.invalid(value, field, "a duration such as 10s or 1m30s");
    }
    duration
}

fn restart(cx: &mut Cx, node: &mut Node, value: &yaml::Node) {
    let text = value.as_bool().map_or_else(
        || cx.fixed(value).unwrap_or_default(),
        |on| if on { "always".into() } else { "no".into() },
    );
    let (policy, retries) = text.split_once(':').unwrap_or((&text, ""));
    match policy {
        "no" | "always" | "unless-stopped" | "on-failure" => {
            let mut restart = Node::new("restart").arg(Val::str(policy));
            if let Ok(retries) = retries.parse::<i64>() {
                restart = restart.prop("max-retries", Val::Int(retries));
            }
            node.push(restart);
        }
        _ => cx.invalid(value, "restart", "no, always, on-failure[:N] or unless-stopped"),
    }
}

fn secrets(cx: &mut Cx, node: &mut Node, value: &yaml::Node) {
    for secret in strings(value) {
        let (source, settings) = match &secret.value {
            Yaml::Scalar { text, .. } => (text.clone(), None),
            Yaml::Map(_) => (
                secret
                    .get("source")
                    .and_then(yaml::Node::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                Some(secret),
            ),
            _ => {
                cx.invalid(secret, "secrets", "a secret's name or a mapping with `source`");
                continue;
            }
        };
        let Some(name) = cx.secrets.get(&source).cloned() else {
            cx.report.error(
                "stack::compose_invalid",
                secret.span,
                format!("the secret `{source}` is not declared under the top-level `secrets`"),
                format!("declare it: `secrets: {{ {source}: {{ file: ./{source}.txt }} }}`"),
            );
            continue;
        };
        let mut mount = Node::new("secret").arg(Val::str(&name));
        if name != source {
            mount = mount.prop("target", Val::str(&source));
        }
        for (key, setting) in settings.and_then(yaml::Node::as_map).unwrap_or_default() {
            let text = cx.fixed(setting).unwrap_or_default();
            match key.as_str() {
                Some("source") => {}
                Some("target") => {
                    let target = text.strip_prefix("/run/secrets/").unwrap_or(&text);
                    if target.contains('/') {
                        cx.unmapped(
                            node,
                            key,
                            "secrets.target",
                            "a stack mounts secrets as files in /run/secrets/; the file keeps its name there",
                        );
                    } else {
                        mount.props.retain(|(prop, _)| prop != "target");
                        mount = mount.prop("target", Val::str(target));
                    }
                }
                Some(field @ ("uid" | "gid")) => match text.parse::<i64>() {
                    Ok(id) => mount = mount.prop(field, Val::Int(id)),
                    Err(_) => cx.invalid(setting, field, "a number"),
                },
                Some("mode") => match mode_of(&text) {
                    Some(mode) => mount = mount.prop("mode", Val::Mode(mode)),
                    None => cx.invalid(setting, "mode", "an octal mode such as 0440"),
                },
                _ => cx.unmapped(
                    node,
                    key,
                    &format!("secrets.{}", key.as_str().unwrap_or("?")),
                    "a stack secret mount has a target, uid, gid and mode",
                ),
            }
        }
        node.push(mount);
    }
}

/// Each config is bound read-only at its target (default `/NAME`).
fn configs(cx: &mut Cx, node: &mut Node, value: &yaml::Node) {
    for config in strings(value) {
        let (source, target) = match &config.value {
            Yaml::Scalar { text, .. } => (text.clone(), format!("/{text}")),
            Yaml::Map(entries) => {
                let source = config
                    .get("source")
                    .and_then(yaml::Node::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let target = config
                    .get("target")
                    .and_then(|target| cx.fixed(target))
                    .unwrap_or_else(|| format!("/{source}"));
                for (key, _) in entries {
                    if !matches!(key.as_str(), Some("source" | "target")) {
                        cx.unmapped(
                            node,
                            key,
                            &format!("configs.{}", key.as_str().unwrap_or("?")),
                            "a config becomes a read-only bind, which keeps the file's owner and mode",
                        );
                    }
                }
                (source, target)
            }
            _ => {
                cx.invalid(config, "configs", "a config's name or a mapping with `source`");
                continue;
            }
        };
        let Some(path) = cx.configs.get(&source).cloned() else {
            cx.unmapped(
                node,
                config,
                &format!("configs: {source}"),
                "the config has no `file` to bind",
            );
            continue;
        };
        node.push(
            Node::new("bind")
                .arg(Val::str(path))
                .prop("target", Val::str(target))
                .prop("read-only", Val::Bool(true)),
        );
    }
}

fn deploy(cx: &mut Cx, node: &mut Node, deploy: &yaml::Node, state: &mut State) {
    for (key, value) in deploy.as_map().unwrap_or_default() {
        let Some(field) = key.as_str() else { continue };
        match field {
            "replicas" => match value.as_int() {
                Some(count) => state.replicas = Some((count, value.span)),
                None => cx.invalid(value, "deploy.replicas", "a number"),
            },
            "mode" if value.as_str() == Some("replicated") => {}
            "resources" => {
                state.resources_at.get_or_insert(node.children.len());
                for (kind_key, settings) in value.as_map().unwrap_or_default() {
                    for (setting_key, setting) in settings.as_map().unwrap_or_default() {
                        let name = format!(
                            "{}.{}",
                            kind_key.as_str().unwrap_or("?"),
                            setting_key.as_str().unwrap_or("?")
                        );
                        let compose = match name.as_str() {
                            "limits.cpus" => "cpus",
                            "limits.memory" => "mem_limit",
                            "reservations.memory" => "mem_reservation",
                            _ => {
                                cx.unmapped(
                                    node,
                                    setting_key,
                                    &format!("deploy.resources.{name}"),
                                    "a stack limits cpus and memory, and reserves memory",
                                );
                                continue;
                            }
                        };
                        resource(cx, node, state, setting_key, compose, setting);
                    }
                }
            }
            "update_config" => {
                state.start_first = value.get("order").and_then(yaml::Node::as_str) == Some("start-first");
                update(cx, node, value);
            }
            "restart_policy" if state.restart => cx.unmapped(
                node,
                key,
                "deploy.restart_policy",
                "`restart` is set too, and wins",
            ),
            "restart_policy" => {
                state.restart = true;
                restart_policy(cx, node, value);
            }
            _ => cx.unmapped(
                node,
                key,
                &format!("deploy.{field}"),
                "a stack service has replicas, resources, update and restart",
            ),
        }
    }
}

/// One of the limits, written to the service's `resources` block.
fn resource(
    cx: &mut Cx,
    node: &mut Node,
    state: &mut State,
    key: &yaml::Node,
    compose: &str,
    value: &yaml::Node,
) {
    let Some(text) = cx.fixed(value) else { return };
    match compose {
        "cpus" => match text.parse::<f64>() {
            Ok(cpus) => state.resources.push(Node::new("cpus").arg(Val::Float(cpus))),
            Err(_) => cx.invalid(value, "cpus", "a number of cores such as 0.5"),
        },
        "mem_limit" | "mem_reservation" => match units::size(&text) {
            Some(size) => state.resources.push(
                Node::new(if compose == "mem_limit" {
                    "memory"
                } else {
                    "memory-reservation"
                })
                .arg(Val::str(size)),
            ),
            None => cx.invalid(value, compose, "a size such as 512m or 2g"),
        },
        _ => cx.unmapped(
            node,
            key,
            compose,
            "a stack limits cpus and memory, and reserves memory",
        ),
    }
}

fn update(cx: &mut Cx, node: &mut Node, config: &yaml::Node) {
    let mut update = Node::new("update");
    for (key, value) in config.as_map().unwrap_or_default() {
        let Some(field) = key.as_str() else { continue };
        let text = cx.fixed(value).unwrap_or_default();
        match field {
            "parallelism" => match value.as_int() {
                Some(count) => update.push(Node::new("parallelism").arg(Val::Int(count))),
                None => cx.invalid(value, "parallelism", "a number"),
            },
            "delay" | "monitor" => {
                if let Some(duration) = duration(cx, value, field) {
                    update.push(Node::new(field).arg(Val::str(duration)));
                }
            }
            "failure_action" | "order" => update.push(Node::new(field.replace('_', "-")).arg(Val::str(text))),
            "max_failure_ratio" => match text.parse::<f64>() {
                Ok(ratio) => update.push(Node::new("max-failure-ratio").arg(Val::Float(ratio))),
                Err(_) => cx.invalid(value, "max_failure_ratio", "a number from 0 to 1"),
            },
            _ => cx.unmapped(
                &mut update,
                key,
                &format!("deploy.update_config.{field}"),
                "a stack update has order, parallelism, delay, monitor, failure-action and max-failure-ratio",
            ),
        }
    }
    node.push(update);
}

fn restart_policy(cx: &mut Cx, node: &mut Node, policy: &yaml::Node) {
    let mut restart = Node::new("restart");
    let mut condition = "always";
    for (key, value) in policy.as_map().unwrap_or_default() {
        match key.as_str() {
            Some("condition") => {
                condition = match value.as_str() {
                    Some("none") => "no",
                    Some("on-failure") => "on-failure",
                    Some("any") => "always",
                    _ => {
                        cx.invalid(
                            value,
                            "deploy.restart_policy.condition",
                            "none, on-failure or any",
                        );
                        return;
                    }
                }
            }
            Some("max_attempts") => match value.as_int() {
                Some(count) => restart = restart.prop("max-retries", Val::Int(count)),
                None => cx.invalid(value, "max_attempts", "a number"),
            },
            _ => cx.unmapped(
                node,
                key,
                &format!("deploy.restart_policy.{}", key.as_str().unwrap_or("?")),
                "a stack restart policy has a condition and max-retries",
            ),
        }
    }
    if condition != "on-failure" {
        restart.props.clear();
    }
    node.push(restart.arg(Val::str(condition)));
}
