//! The configuration a service's containers record in their labels and the plan compares.
//!
//! Labels cannot change on a live container, so after an in-place update (replicas, resources,
//! restart policy, networks) the older containers still record the values they were created
//! with. Those fields are therefore never read from the labels: [`observed`] reads them from
//! the containers themselves, in the same form [`desired`] writes them, so `read` reports what
//! is true and the plan after an update is a no-op. Every other field can only change by
//! replacing the containers, which writes new labels.

use std::net::Ipv4Addr;

use serde_json::{Map, Value as Json, json};
use stack_docker::{ContainerInfo, Mount, Resources, RestartPolicy};
use stack_language::schema::{Effect, KindSchema};
use stack_language::units::parse_size;
use stack_language::{Address, Resource, Value};
use stack_provider::{Config, Resolve, Setting};

use super::front;
use super::spec::ServiceSpec;
use crate::common;

/// How a replacement rolls out. Of its settings only one shows on the daemon, and so in the
/// configuration: whether a proxy stands in front of the replicas ([`front`]); the others are
/// read from the files when a rollout happens.
const ROLLOUT: &str = "update";

/// The daemon's default network, which a service without `network` joins.
pub const DEFAULT_NETWORK: &str = "bridge";

/// The in-place fields a container's observed configuration reads from the daemon (`replicas`
/// is the service's, not a container's).
pub const IN_PLACE: [&str; 3] = ["network", "resources", "restart"];

/// The configuration of a service: references read as an image's tag, a network's or volume's
/// name and a secret's content hash (so a new secret value replaces the containers), bind
/// sources as absolute paths, and the in-place fields in their [`observed`] form.
pub fn desired(resource: &Resource, stack: &str, resolve: &dyn Resolve, spec: &ServiceSpec) -> Config {
    let mut config =
        common::without_engine_fields(Config::from_resource(resource, stack, reference(resolve)));
    without_swarm_fields(&mut config);
    set(&mut config, ROLLOUT, front::config_json(spec));
    let binds = spec.mounts.iter().filter_map(|mount| match mount {
        Mount::Bind { source, .. } => Some(source.as_str()),
        _ => None,
    });
    if let Some(Setting::Plain(Json::Array(entries))) = config.0.get_mut("bind") {
        for (entry, source) in entries.iter_mut().zip(binds) {
            if let Some(entry) = entry.as_object_mut() {
                entry.insert("source".to_owned(), json!(source));
            }
        }
    }
    secret_entries(&mut config, resource, resolve, spec);
    let networks = spec.networks.iter().map(|attachment| Attachment {
        network: &attachment.network,
        aliases: attachment.aliases.iter().map(String::as_str).collect(),
        ipv4_address: attachment.ipv4_address,
    });
    if matches!(config.get("network"), Some(Setting::Plain(_))) {
        set(&mut config, "network", networks_json(networks, &spec.host_name));
    }
    set(&mut config, "restart", Some(restart_json(spec.restart)));
    if config
        .get("resources")
        .and_then(Setting::as_json)
        .is_some_and(is_empty_object)
    {
        config.0.shift_remove("resources");
    }
    config
}

/// The fields only a swarm reads (spec/resources.md, "On a swarm"): one engine has nowhere else
/// to place a replica and publishes every port on itself, so a change of them plans nothing here.
fn without_swarm_fields(config: &mut Config) {
    for field in SWARM_FIELDS {
        config.0.shift_remove(field);
    }
    if let Some(Setting::Plain(Json::Array(ports))) = config.0.get_mut("port") {
        for port in ports.iter_mut().filter_map(Json::as_object_mut) {
            port.remove("mode");
        }
    }
}

/// The service fields the engine target accepts and ignores.
const SWARM_FIELDS: [&str; 2] = ["placement", "endpoint-mode"];

/// How a reference reads in a service's configuration: a secret as its address (its entries
/// get its content's version from [`secret_entries`]).
fn reference(resolve: &dyn Resolve) -> impl Fn(&Address) -> Option<String> + '_ {
    move |address| {
        let desired = resolve.desired(address)?;
        match address.kind {
            "secret" => Some(address.to_string()),
            "image" => desired.outputs.get("ref").cloned(),
            _ => Some(desired.name.clone()),
        }
    }
}

/// Each secret entry as a plan shows it: the secret's address, the file it becomes in the
/// container, and the short version of its content, which rolls the containers when it changes.
fn secret_entries(config: &mut Config, resource: &Resource, resolve: &dyn Resolve, spec: &ServiceSpec) {
    let Some(Setting::Plain(Json::Array(entries))) = config.0.get_mut("secret") else {
        return;
    };
    let declared = resource.items("secret").iter();
    for ((entry, declared), file) in entries.iter_mut().zip(declared).zip(&spec.secrets) {
        let version = declared
            .get("name")
            .and_then(Value::as_ref)
            .and_then(|address| resolve.desired(address))
            .and_then(|secret| secret.outputs.get("version"));
        if let Some(entry) = entry.as_object_mut() {
            entry.insert("target".to_owned(), json!(file.path));
            if let Some(version) = version {
                entry.insert("version".to_owned(), json!(version));
            }
        }
    }
}

/// The configuration one container shows: what its labels recorded, with the in-place fields
/// as the daemon has them now.
pub fn observed(recorded: &Config, info: &ContainerInfo, host_name: &str) -> Config {
    let mut config = recorded.clone();
    set(&mut config, "restart", Some(restart_json(info.restart)));
    set(
        &mut config,
        "resources",
        resources_json(
            recorded.get("resources").and_then(Setting::as_json),
            &info.resources,
        ),
    );
    let networks = info.networks.iter().map(|(network, endpoint)| Attachment {
        network,
        // The daemon adds the container's short id to its aliases.
        aliases: endpoint
            .aliases
            .iter()
            .map(String::as_str)
            .filter(|alias| !(alias.len() >= 12 && info.id.starts_with(alias)))
            .collect(),
        ipv4_address: endpoint.fixed_ipv4_address,
    });
    let default_only = info.networks.len() == 1 && info.networks.contains_key(DEFAULT_NETWORK);
    if recorded.get("network").is_some() || !default_only {
        set(&mut config, "network", networks_json(networks, host_name));
    }
    config
}

/// The fields of `kind` that differ between two configurations and only change by replacing
/// the containers.
pub fn replaced_fields<'a>(one: &'a Config, other: &'a Config, kind: &KindSchema) -> Vec<&'a str> {
    one.differing(other, kind)
        .into_iter()
        .filter(|field| {
            kind.field(field)
                .is_some_and(|field| field.effect == Effect::Replace)
        })
        .collect()
}

struct Attachment<'a> {
    network: &'a str,
    aliases: Vec<&'a str>,
    ipv4_address: Option<Ipv4Addr>,
}

/// Networks sorted by name, each with its extra aliases sorted (the host name, always an alias,
/// left out) and its fixed address; `None` for no network at all.
fn networks_json<'a>(attachments: impl Iterator<Item = Attachment<'a>>, host_name: &str) -> Option<Json> {
    let mut entries: Vec<(String, Json)> = attachments
        .map(|attachment| {
            let mut entry = Map::new();
            entry.insert("name".to_owned(), json!(attachment.network));
            let mut aliases: Vec<&str> = attachment
                .aliases
                .into_iter()
                .filter(|alias| *alias != host_name)
                .collect();
            aliases.sort_unstable();
            aliases.dedup();
            if !aliases.is_empty() {
                entry.insert("aliases".to_owned(), json!(aliases));
            }
            if let Some(address) = attachment.ipv4_address {
                entry.insert("ipv4-address".to_owned(), json!(address.to_string()));
            }
            (attachment.network.to_owned(), Json::Object(entry))
        })
        .collect();
    entries.sort_by(|one, other| one.0.cmp(&other.0));
    (!entries.is_empty()).then(|| Json::Array(entries.into_iter().map(|(_, entry)| entry).collect()))
}

/// The restart policy a configuration records, read back from [`restart_json`]'s form.
pub fn restart_policy(config: &Config) -> RestartPolicy {
    let restart = config.get("restart").and_then(Setting::as_json);
    let policy = restart
        .and_then(|restart| restart.get("policy"))
        .and_then(Json::as_str);
    match policy {
        Some("no") => RestartPolicy::No,
        Some("always") => RestartPolicy::Always,
        Some("on-failure") => RestartPolicy::OnFailure {
            max_retries: restart
                .and_then(|restart| restart.get("max-retries"))
                .and_then(Json::as_u64)
                .and_then(|retries| u32::try_from(retries).ok())
                .unwrap_or(0),
        },
        _ => RestartPolicy::UnlessStopped,
    }
}

/// `{"policy": "on-failure", "max-retries": 5}`; no `max-retries` when there is no limit.
fn restart_json(policy: RestartPolicy) -> Json {
    match policy {
        RestartPolicy::No => json!({"policy": "no"}),
        RestartPolicy::Always => json!({"policy": "always"}),
        RestartPolicy::UnlessStopped => json!({"policy": "unless-stopped"}),
        RestartPolicy::OnFailure { max_retries: 0 } => json!({"policy": "on-failure"}),
        RestartPolicy::OnFailure { max_retries } => {
            json!({"policy": "on-failure", "max-retries": max_retries})
        }
    }
}

/// The limits a container has, each written as `recorded` wrote it where the values agree
/// (`"512MiB"` stays `"512MiB"`), else as the daemon's value.
fn resources_json(recorded: Option<&Json>, actual: &Resources) -> Option<Json> {
    let recorded = |field: &str| recorded.and_then(|recorded| recorded.get(field));
    let mut limits = Map::new();
    let sizes = [
        ("memory", actual.memory_limit),
        ("memory-reservation", actual.memory_reservation),
    ];
    for (field, bytes) in sizes {
        let Some(bytes) = bytes else { continue };
        let written = recorded(field).filter(|written| size_of(written) == Some(bytes));
        limits.insert(
            field.to_owned(),
            written.cloned().unwrap_or_else(|| json!(format_size(bytes))),
        );
    }
    if let Some(cpus) = actual.cpus {
        let written = recorded("cpus")
            .filter(|written| written.as_f64().is_some_and(|value| (value - cpus).abs() < 1e-6));
        limits.insert("cpus".to_owned(), written.cloned().unwrap_or_else(|| json!(cpus)));
    }
    (!limits.is_empty()).then_some(Json::Object(limits))
}

fn size_of(written: &Json) -> Option<i64> {
    match written {
        Json::String(text) => parse_size(text).ok().and_then(|bytes| i64::try_from(bytes).ok()),
        Json::Number(number) => number.as_i64(),
        _ => None,
    }
}

/// A byte count in the largest binary unit that divides it.
fn format_size(bytes: i64) -> String {
    for (unit, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes != 0 && bytes % factor == 0 {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

fn is_empty_object(value: &Json) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}

fn set(config: &mut Config, field: &str, value: Option<Json>) {
    match value {
        Some(value) => {
            config.0.insert(field.to_owned(), Setting::Plain(value));
        }
        None => {
            config.0.shift_remove(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_written_form_while_the_daemon_agrees() {
        let recorded = json!({"memory": "512MiB", "cpus": 0.5});
        let actual = Resources {
            memory_limit: Some(512 << 20),
            cpus: Some(0.5),
            ..Default::default()
        };
        assert_eq!(resources_json(Some(&recorded), &actual), Some(recorded.clone()));
        let changed = Resources {
            memory_limit: Some(256 << 20),
            memory_reservation: Some(1000),
            ..Default::default()
        };
        assert_eq!(
            resources_json(Some(&recorded), &changed),
            Some(json!({"memory": "256MiB", "memory-reservation": "1000"}))
        );
        assert_eq!(resources_json(Some(&recorded), &Resources::default()), None);
    }

    #[test]
    fn restart_policies_read_back_from_a_configuration() {
        for policy in [
            RestartPolicy::No,
            RestartPolicy::Always,
            RestartPolicy::UnlessStopped,
            RestartPolicy::OnFailure { max_retries: 0 },
            RestartPolicy::OnFailure { max_retries: 4 },
        ] {
            let mut config = Config::default();
            set(&mut config, "restart", Some(restart_json(policy)));
            assert_eq!(restart_policy(&config), policy);
        }
    }

    #[test]
    fn restart_policies_read_the_same_from_files_and_daemon() {
        assert_eq!(
            restart_json(RestartPolicy::OnFailure { max_retries: 0 }),
            json!({"policy": "on-failure"})
        );
        assert_eq!(
            restart_json(RestartPolicy::OnFailure { max_retries: 5 }),
            json!({"policy": "on-failure", "max-retries": 5})
        );
    }

    #[test]
    fn networks_are_sorted_and_leave_out_the_host_name() {
        let attachments = vec![
            Attachment {
                network: "shop_front",
                aliases: vec!["api", "www", "api-v1", "www"],
                ipv4_address: None,
            },
            Attachment {
                network: "shop_back",
                aliases: vec!["api"],
                ipv4_address: Some(Ipv4Addr::new(10, 0, 0, 5)),
            },
        ];
        assert_eq!(
            networks_json(attachments.into_iter(), "api"),
            Some(json!([
                {"name": "shop_back", "ipv4-address": "10.0.0.5"},
                {"name": "shop_front", "aliases": ["api-v1", "www"]},
            ]))
        );
        assert_eq!(networks_json(std::iter::empty(), "api"), None);
    }
}
