//! A live swarm service read back into the fields the plan compares.
//!
//! A service's spec is split into one section per field of the stack's `service` kind (its
//! image, replicas, ports, ...). When stack creates or updates the service, it records in a
//! label a short hash of each section as it sent it ([`APPLIED`]). When it reads the service,
//! a section whose hash still matches shows the configuration recorded beside it; one that
//! differs was changed outside stack (`docker service scale`, `docker service update`): the
//! plan shows its live value against the files, as drift, and apply puts it back.
//!
//! Only what stack sets is compared: the daemon adds defaults of its own to a spec it keeps
//! (an isolation mode, empty option blocks), and stores networks by id, so each section picks
//! the values stack writes, with empty values and defaults left out on both sides.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};
use stack_docker::service::ServiceSpec;
use stack_provider::{Config, Drift, Setting};

/// The label with the hash of each section of the spec stack last sent.
pub const APPLIED: &str = "dev.stack.swarm.applied";

/// The hash of each section of `spec`, as [`APPLIED`] records them.
pub fn applied_label(spec: &ServiceSpec) -> String {
    let hashes: BTreeMap<&str, String> = sections(spec)
        .into_iter()
        .map(|(field, section)| (field, hash(&section)))
        .collect();
    json!(hashes).to_string()
}

/// The configuration the live `spec` shows: `recorded` where a section is as stack sent it,
/// else the section's live value, with a drift naming the field.
pub fn observed(recorded: &Config, spec: &ServiceSpec) -> (Config, Vec<Drift>) {
    let applied: BTreeMap<String, String> = spec
        .labels
        .as_ref()
        .and_then(|labels| labels.get(APPLIED))
        .and_then(|label| serde_json::from_str(label).ok())
        .unwrap_or_default();
    let mut config = recorded.clone();
    let mut drift = Vec::new();
    for (field, section) in sections(spec) {
        if applied.get(field) == Some(&hash(&section)) {
            continue;
        }
        let shown = shown(field, &section, recorded);
        drift.push(Drift {
            field: field.to_owned(),
            expected: recorded
                .get(field)
                .map_or_else(|| "(none)".to_owned(), Setting::display),
            actual: shown.to_string(),
        });
        config.0.insert(field.to_owned(), Setting::Plain(shown));
    }
    (config, drift)
}

/// A live section as the plan shows it. Environment values the files mark sensitive are
/// never shown: only that they are there.
fn shown(field: &str, section: &Json, recorded: &Config) -> Json {
    match (field, section) {
        ("replicas", _) | ("image", _) => section.clone(),
        ("env", Json::Object(variables)) => {
            let recorded = recorded.get("env");
            let sensitive = |key: &str| {
                matches!(recorded, Some(Setting::Sensitive { .. }))
                    || recorded
                        .and_then(Setting::as_json)
                        .and_then(|env| env.get(key))
                        .is_some_and(|value| value.get("sensitive").is_some())
            };
            Json::Object(
                variables
                    .iter()
                    .map(|(key, value)| {
                        let value = if sensitive(key) {
                            json!("(sensitive)")
                        } else {
                            value.clone()
                        };
                        (key.clone(), value)
                    })
                    .collect(),
            )
        }
        ("env", _) => json!({}),
        _ => section.clone(),
    }
}

/// Each compared field of the stack's `service` kind with the part of `spec` that realizes it.
/// (`stack-docker` reads a spec's health check as the daemon writes it, so `probe` is one.)
pub fn sections(spec: &ServiceSpec) -> Vec<(&'static str, Json)> {
    let task = spec.task_template.clone().unwrap_or_default();
    let container = task.container_spec.clone().unwrap_or_default();
    let mounts_of = |kind: &str| {
        let mounts: Vec<Json> = container
            .mounts
            .iter()
            .flatten()
            .filter(|mount| mount.typ.map(|typ| typ.to_string()).as_deref() == Some(kind))
            .map(|mount| json!(mount))
            .collect();
        Json::Array(mounts)
    };
    let env: Map<String, Json> = container
        .env
        .iter()
        .flatten()
        .filter_map(|variable| variable.split_once('='))
        .map(|(key, value)| (key.to_owned(), json!(value)))
        .collect();
    let labels: Map<String, Json> = container
        .labels
        .iter()
        .flatten()
        .filter(|(key, _)| !key.starts_with("dev.stack."))
        .map(|(key, value)| (key.clone(), json!(value)))
        .collect();
    // Swarm stores a network by its id: its aliases tell the attachments apart.
    let networks: Vec<Json> = task
        .networks
        .iter()
        .flatten()
        .map(|network| json!(network.aliases))
        .collect();
    let mode = spec.mode.clone().unwrap_or_default();
    let replicas = mode
        .replicated
        .and_then(|replicated| replicated.replicas)
        .or_else(|| mode.replicated_job.and_then(|job| job.total_completions));
    let endpoint = spec.endpoint_spec.clone().unwrap_or_default();
    let entries = [
        ("image", json!(container.image)),
        ("command", json!(container.args)),
        ("entrypoint", json!(container.command)),
        ("env", Json::Object(env)),
        ("port", json!(endpoint.ports)),
        // Swarm leaves the mode out when it is the default, `vip`.
        (
            "endpoint-mode",
            json!(
                endpoint
                    .mode
                    .map(|mode| mode.to_string())
                    .filter(|mode| mode != "vip")
            ),
        ),
        ("volume", mounts_of("volume")),
        ("bind", mounts_of("bind")),
        ("tmpfs", mounts_of("tmpfs")),
        ("network", Json::Array(networks)),
        ("secret", json!(container.secrets)),
        ("probe", json!(container.health_check)),
        ("restart", json!(task.restart_policy)),
        ("resources", json!(task.resources)),
        (
            "placement",
            json!(
                task.placement
                    .map(|placement| (placement.constraints, placement.preferences))
            ),
        ),
        ("user", json!(container.user)),
        ("workdir", json!(container.dir)),
        ("hostname", json!(container.hostname)),
        ("labels", Json::Object(labels)),
        ("replicas", json!(replicas)),
        ("init", json!(container.init)),
        ("read-only", json!(container.read_only)),
        ("cap-add", json!(container.capability_add)),
        ("cap-drop", json!(container.capability_drop)),
        ("stop-signal", json!(container.stop_signal)),
        ("stop-grace-period", json!(container.stop_grace_period)),
        ("update", json!((&spec.update_config, &spec.rollback_config))),
    ];
    entries
        .into_iter()
        .map(|(field, section)| (field, normal(section)))
        .collect()
}

/// `section` without what says nothing: nulls, `false`, zeros, empty lists and objects, at
/// every depth. The daemon and stack write those differently for the same meaning.
pub(crate) fn normal(section: Json) -> Json {
    let normal = match section {
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(key, value)| (key, normal(value)))
                .filter(|(_, value)| !is_empty(value))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(normal).collect()),
        other => other,
    };
    if is_empty(&normal) { Json::Null } else { normal }
}

fn is_empty(value: &Json) -> bool {
    match value {
        Json::Null | Json::Bool(false) => true,
        Json::Number(number) => number.as_f64() == Some(0.0),
        Json::String(text) => text.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        Json::Bool(true) => false,
    }
}

fn hash(section: &Json) -> String {
    let digest = Sha256::digest(section.to_string().as_bytes());
    hex::encode(&digest[..8])
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use stack_docker::Labels;

    use super::*;
    use stack_providers::common::testing::resource;
    use stack_providers::fixtures;

    use crate::service::resolved_for_tests;
    use crate::service::spec::{Mode, SwarmService};

    const STACK: &str = r#"
stack "shop"
variable "password" type="string" sensitive=#true
network "backend"
service "api" {
    image "demo:1"
    env { MODE "fast"; PASSWORD "${var.password}"; }
    network "backend"
    replicas 2
    resources { memory "64MiB"; }
    update { order "start-first"; }
    probe { exec "true"; interval "2s"; }
}
"#;

    /// The spec stack sends for `api`, labelled with its recorded configuration and hashes.
    fn sent() -> (ServiceSpec, Config) {
        let (stack, _dir) = fixtures::load(STACK, &[]);
        let resource = resource(&stack, "service", "api");
        let resolved = resolved_for_tests(&stack);
        let service = SwarmService::from_resource(resource, &resolved, Mode::Replicated).unwrap();
        let config = Config::from_resource(resource, "shop", |address| {
            stack_provider::Resolve::desired(&resolved, address).map(|desired| desired.name.clone())
        });
        let mut spec = service.service_spec("shop_api", Labels::new(), Labels::new(), &|_| None);
        let label = applied_label(&spec);
        spec.labels = Some([(APPLIED.to_owned(), label)].into());
        (spec, config)
    }

    fn container_of(spec: &mut ServiceSpec) -> &mut stack_docker::service::TaskSpecContainerSpec {
        spec.task_template
            .as_mut()
            .and_then(|task| task.container_spec.as_mut())
            .unwrap()
    }

    #[test]
    fn a_service_as_sent_reads_back_as_recorded() {
        let (spec, config) = sent();
        let (observed, drift) = observed(&config, &spec);
        assert_eq!(observed, config);
        assert!(drift.is_empty(), "{drift:?}");
    }

    /// What the daemon adds or rewrites in a spec it keeps is no change.
    #[test]
    fn the_daemons_own_defaults_are_no_drift() {
        let (mut spec, config) = sent();
        let task = spec.task_template.as_mut().unwrap();
        task.force_update = Some(0);
        task.runtime = Some("container".to_owned());
        for network in task.networks.iter_mut().flatten() {
            network.target = Some("kx1yjgdkmyq4v8o7oq0l2h3bw".to_owned());
        }
        let container = task.container_spec.as_mut().unwrap();
        container.isolation = serde_json::from_value(json!("default")).unwrap();
        container.secrets = None;
        container.mounts = Some(Vec::new());
        let (_, drift) = observed(&config, &spec);
        assert!(drift.is_empty(), "{drift:?}");
    }

    #[test]
    fn a_service_scaled_by_hand_shows_its_live_replicas() {
        let (mut spec, config) = sent();
        spec.mode.as_mut().unwrap().replicated.as_mut().unwrap().replicas = Some(5);
        let (observed, drift) = observed(&config, &spec);
        assert_eq!(observed.get("replicas"), Some(&Setting::Plain(json!(5))));
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert_eq!(
            (drift[0].field.as_str(), drift[0].actual.as_str()),
            ("replicas", "5")
        );
        let kind = stack_providers::common::builtin_kind("service");
        assert_eq!(config.differing(&observed, kind), ["replicas"]);
    }

    /// `docker service update --health-cmd ...`: the live check shows, against the files'.
    #[test]
    fn a_probe_changed_by_hand_is_drift() {
        let (mut spec, config) = sent();
        let container = container_of(&mut spec);
        let check = container.health_check.as_mut().unwrap();
        assert_eq!(check.test, Some(vec!["CMD".to_owned(), "true".to_owned()]));
        check.test = Some(vec!["CMD-SHELL".to_owned(), "exit 0".to_owned()]);
        let (observed, drift) = observed(&config, &spec);
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert_eq!(drift[0].field, "probe");
        assert!(drift[0].actual.contains("CMD-SHELL"), "{drift:?}");
        let kind = stack_providers::common::builtin_kind("service");
        assert_eq!(config.differing(&observed, kind), ["probe"]);
    }

    /// A variable changed by hand shows as drift of `env`, but never with a sensitive value.
    #[test]
    fn env_changed_by_hand_hides_sensitive_values() {
        let (mut spec, config) = sent();
        let container = container_of(&mut spec);
        container.env = Some(vec!["MODE=slow".to_owned(), "PASSWORD=hunter2".to_owned()]);
        let (observed, drift) = observed(&config, &spec);
        let env = observed.get("env").and_then(Setting::as_json).unwrap();
        assert_eq!(env, &json!({"MODE": "slow", "PASSWORD": "(sensitive)"}));
        assert!(!format!("{drift:?}").contains("hunter2"));
    }

    #[test]
    fn empty_values_and_defaults_hash_alike() {
        assert_eq!(
            normal(json!({"a": [], "b": null, "c": false, "d": 0})),
            Json::Null
        );
        assert_eq!(normal(json!([{"a": {"b": ""}}, 1])), json!([null, 1]));
    }
}
