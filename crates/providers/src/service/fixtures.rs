//! Test fixtures: services read from stack files, the resources they refer to, and the
//! containers the daemon would show for them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use indexmap::IndexMap;
use stack_docker::{ContainerEndpoint, ContainerInfo, ContainerStatus, Labels};
use stack_language::{Address, Resource, Stack};
use stack_provider::labels::{ADDRESS, CONFIG, STACK};
use stack_provider::{Config, Desired, Resolve, Setting, salt};

use super::live::REPLICA;
use super::spec::ServiceSpec;
use crate::common;

pub const SECRET_VALUE: &[u8] = b"hunter2-value";

/// Loads `stack.kdl` (with `files` beside it) from a fresh directory; the directory is returned
/// too, since bind sources must exist while the test runs. A variable `password`, where
/// declared, is `hunter2`.
pub fn load(text: &str, files: &[&str]) -> (Stack, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.kdl"), text).unwrap();
    for file in files {
        std::fs::write(dir.path().join(file), "x").unwrap();
    }
    let mut sources = stack_diagnostics::Sources::default();
    let schema = stack_language::schema::builtin();
    let mut options = stack_language::Options::default();
    if text.contains("variable \"password\"") {
        options
            .inputs
            .vars
            .push(("password".to_owned(), "hunter2".to_owned()));
    }
    let loaded = stack_language::load(dir.path(), &options, &schema, &mut sources);
    let stack = loaded.stack.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    (stack, dir)
}

pub fn service<'a>(stack: &'a Stack, name: &str) -> &'a Resource {
    &stack.resources[&Address::new(&[], "service", name)]
}

/// The desired states of everything but services, as their providers make them.
pub struct Resolved(HashMap<Address, Desired>);

impl Resolved {
    /// Every object named `<stack>_<path>`, as on one engine.
    pub fn of(stack: &Stack) -> Resolved {
        Resolved::naming_secrets(stack, &str::to_owned)
    }

    /// [`Resolved::of`], but a secret's name is `secret_name` of its `<stack>_<path>` (a swarm
    /// names each version of a secret after its content).
    pub fn naming_secrets(stack: &Stack, secret_name: &dyn Fn(&str) -> String) -> Resolved {
        let mut desired = HashMap::new();
        for (address, resource) in &stack.resources {
            let mut name = format!("{}_{}", stack.name, address.path_name());
            if address.kind == "secret" {
                name = secret_name(&name);
            }
            let (outputs, payload): (
                IndexMap<String, String>,
                Option<Arc<dyn std::any::Any + Send + Sync>>,
            ) = match address.kind {
                "image" => (
                    IndexMap::from([("ref".to_owned(), format!("{name}:abc123"))]),
                    None,
                ),
                "secret" => {
                    let Setting::Sensitive { sensitive } =
                        Setting::sensitive(&salt(&stack.name, address, "content"), SECRET_VALUE)
                    else {
                        unreachable!()
                    };
                    (
                        IndexMap::from([
                            ("version".to_owned(), stack_provider::short_version(&sensitive)),
                            ("hash".to_owned(), sensitive),
                        ]),
                        Some(Arc::new(SECRET_VALUE.to_vec())),
                    )
                }
                "service" => continue,
                _ => (IndexMap::from([("ref".to_owned(), name.clone())]), None),
            };
            desired.insert(
                address.clone(),
                Desired {
                    address: address.clone(),
                    kind: resource.kind,
                    name,
                    config: Config::default(),
                    outputs,
                    external: false,
                    source: None,
                    payload,
                },
            );
        }
        Resolved(desired)
    }
}

impl Resolve for Resolved {
    fn desired(&self, address: &Address) -> Option<&Desired> {
        self.0.get(address)
    }
}

/// Replica `number` as the daemon shows it right after stack created it from `spec`, labelled
/// with `config`.
pub fn container(
    stack: &str,
    address: &Address,
    spec: &ServiceSpec,
    config: &Config,
    number: u32,
) -> ContainerInfo {
    let name = format!("{stack}_{}-{number}", address.path_name());
    let id = format!("{number:0>12}abcdef");
    let mut labels = spec.labels.clone();
    labels.extend(Labels::from([
        (STACK.to_owned(), stack.to_owned()),
        (ADDRESS.to_owned(), address.to_string()),
        (CONFIG.to_owned(), config.to_json()),
        (REPLICA.to_owned(), number.to_string()),
    ]));
    let networks: BTreeMap<String, ContainerEndpoint> = if spec.networks.is_empty() {
        BTreeMap::from([("bridge".to_owned(), endpoint(Vec::new(), None))])
    } else {
        spec.networks
            .iter()
            .map(|attachment| {
                let mut aliases = vec![id[..12].to_owned()];
                aliases.extend(attachment.aliases.iter().cloned());
                (
                    attachment.network.clone(),
                    endpoint(aliases, attachment.ipv4_address),
                )
            })
            .collect()
    };
    let container = spec.container(name.clone(), Labels::new());
    ContainerInfo {
        id,
        name,
        created: "2026-12-01T12:00:00Z".to_owned(),
        image: spec.image.clone(),
        image_id: "sha256:0123".to_owned(),
        command: container.command,
        entrypoint: container.entrypoint,
        labels,
        env: container.env,
        user: container.user,
        workdir: container.workdir,
        stop_signal: container.stop_signal,
        stop_timeout: container.stop_timeout,
        ports: container.ports,
        mounts: container.mounts,
        init: container.init,
        read_only: container.read_only,
        status: ContainerStatus::Running,
        exit_code: Some(0),
        finished_at: None,
        health: None,
        last_health_output: None,
        networks,
        restart: container.restart,
        restart_count: 0,
        resources: container.resources,
    }
}

fn endpoint(aliases: Vec<String>, fixed: Option<std::net::Ipv4Addr>) -> ContainerEndpoint {
    ContainerEndpoint {
        ipv4_address: Some(fixed.unwrap_or(std::net::Ipv4Addr::new(172, 18, 0, 9))),
        fixed_ipv4_address: fixed,
        aliases,
    }
}

/// The spec and configuration of service `name` in `stack`.
pub fn desired(stack: &Stack, name: &str) -> (ServiceSpec, Config) {
    let resolved = Resolved::of(stack);
    let resource = service(stack, name);
    let spec = ServiceSpec::from_resource(resource, &resolved).unwrap();
    let config = super::config::desired(resource, &stack.name, &resolved, &spec);
    (spec, config)
}

/// The names the stack's objects get, as `common::object_name` makes them.
pub fn object_name(stack: &str, address: &Address) -> String {
    let scope = stack_provider::Scope {
        stack: stack.to_owned(),
        ready_timeout: std::time::Duration::from_secs(1),
        registries: Vec::new(),
    };
    common::object_name(&scope, address)
}
