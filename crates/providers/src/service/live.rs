//! A service as it is on the daemon: its containers (replicas) read into one [`Live`].
//!
//! The configuration is the one of the lowest-numbered replica, with the in-place fields as
//! that container has them ([`config::observed`]) and `replicas` as the highest replica number
//! found: stack removes the highest replicas when it scales down, so a gap below it is a
//! container removed by hand, and a missing highest one shows as fewer replicas than desired.
//! Drift is what sets replicas apart: a gap, a container that is not running, or one whose
//! configuration differs from the first one's.

use stack_docker::{ContainerInfo, ContainerStatus, HealthStatus, RestartPolicy};
use stack_language::Address;
use stack_language::schema::KindSchema;
use stack_provider::labels::CONFIG;
use stack_provider::{Config, Drift, Live, Setting};

use super::config::{self, IN_PLACE};
use super::rollout::Slot;

/// The label with a container's replica number, from 1; 0 marks the service's proxy.
pub const REPLICA: &str = "dev.stack.replica";

/// One container of a service.
#[derive(Debug, Clone)]
pub struct Replica {
    pub number: u32,
    pub slot: Slot,
    pub info: ContainerInfo,
    /// The configuration its labels recorded when it was created.
    pub recorded: Config,
}

impl Replica {
    /// `None` for a container without a replica number (not made by this provider).
    pub fn new(info: ContainerInfo) -> Option<Replica> {
        let number = info.labels.get(REPLICA)?.parse().ok()?;
        let recorded = info
            .labels
            .get(CONFIG)
            .map(|json| Config::from_json(json))
            .unwrap_or_default();
        Some(Replica {
            number,
            slot: Slot::of(&info.name),
            info,
            recorded,
        })
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Running, or restarting as its policy asks, or finished as a one-shot job does: exited
    /// with 0 under a policy that does not restart it.
    pub fn is_up(&self) -> bool {
        matches!(
            self.info.status,
            ContainerStatus::Running | ContainerStatus::Restarting
        ) || self.completed()
    }

    pub fn completed(&self) -> bool {
        self.info.status == ContainerStatus::Exited
            && self.info.exit_code == Some(0)
            && matches!(
                self.info.restart,
                RestartPolicy::No | RestartPolicy::OnFailure { .. }
            )
    }

    /// Its state in a few words: `running`, `exited with code 1`.
    pub fn status(&self) -> String {
        match (self.info.status, self.info.exit_code) {
            (ContainerStatus::Exited, Some(code)) => format!("exited with code {code}"),
            (status, _) => status_word(status).to_owned(),
        }
    }
}

/// The live state of the service at `address` from its containers (every slot), or `None`
/// when there are none.
pub fn live(
    kind: &'static KindSchema,
    address: Address,
    name: String,
    containers: Vec<Replica>,
) -> Option<Live> {
    let (replicas, mut drift) = serving(&containers);
    let host_name = address.path_name();
    let first = replicas.first().or(containers.first())?;
    let highest = replicas.last().map_or(0, |replica| replica.number);
    let front = containers.iter().find(|container| container.slot == Slot::Front);
    let proxied = wants_proxy(&first.recorded);
    drift.extend(front_drift(proxied, front));
    let front = front.filter(|_| proxied);
    let mut live_config = config::observed(&first.recorded, &as_seen(first, front), &host_name);
    live_config
        .0
        .insert("replicas".to_owned(), Setting::Plain(serde_json::json!(highest)));

    for number in 1..highest {
        if !replicas.iter().any(|replica| replica.number == number) {
            drift.push(Drift {
                field: format!("replica {number}"),
                expected: "running".to_owned(),
                actual: "missing".to_owned(),
            });
        }
    }
    for replica in &replicas {
        if !replica.is_up() {
            drift.push(Drift {
                field: format!("replica {}", replica.number),
                expected: "running".to_owned(),
                actual: replica.status(),
            });
        }
        if replica.number != first.number {
            drift.extend(differences(kind, &live_config, replica, front, &host_name));
        }
    }
    let (mut state, healthy) = summary(&replicas, highest, &first.recorded);
    let kept = containers
        .iter()
        .filter(|container| container.slot == Slot::Prev)
        .count();
    if kept > 0 {
        state.push_str(&format!(", previous revision kept ({kept} stopped)"));
    }
    Some(Live {
        address,
        kind: kind.name,
        name,
        config: live_config,
        drift,
        state,
        healthy,
    })
}

/// Whether a configuration records a proxy in front of the replicas.
pub fn wants_proxy(recorded: &Config) -> bool {
    recorded
        .get("update")
        .and_then(Setting::as_json)
        .is_some_and(|update| update.get("proxy").is_some())
}

/// A replica as the plan compares it: behind a proxy, the service's names, aliases and fixed
/// addresses are the proxy's, on the networks the replica joins.
fn as_seen(replica: &Replica, front: Option<&Replica>) -> ContainerInfo {
    let mut info = replica.info.clone();
    if let Some(front) = front {
        info.networks = front
            .info
            .networks
            .iter()
            .filter(|(network, _)| replica.info.networks.contains_key(*network))
            .map(|(network, endpoint)| {
                // The daemon adds the proxy's short id to its aliases, as to every container's.
                let mut endpoint = endpoint.clone();
                endpoint
                    .aliases
                    .retain(|alias| !(alias.len() >= 12 && front.info.id.starts_with(alias.as_str())));
                (network.clone(), endpoint)
            })
            .collect();
    }
    info
}

/// The proxy missing, stopped, or there when the configuration has none.
fn front_drift(proxied: bool, front: Option<&Replica>) -> Option<Drift> {
    let drift = |expected: &str, actual: String| Drift {
        field: "proxy".to_owned(),
        expected: expected.to_owned(),
        actual,
    };
    match (proxied, front) {
        (true, None) => Some(drift("running", "missing".to_owned())),
        (true, Some(front)) if front.info.status != ContainerStatus::Running => {
            Some(drift("running", front.status()))
        }
        (false, Some(front)) => Some(drift("none", format!("`{}`", front.name()))),
        _ => None,
    }
}

/// The replicas that serve, by number: the current container, or where an interrupted rollout
/// left only the replacement, that one (it is renamed by the next update). A replacement
/// beside a current container is a leftover, to be removed. Both show as drift, so that the
/// next apply finishes what the interrupted one began.
pub fn serving(containers: &[Replica]) -> (Vec<Replica>, Vec<Drift>) {
    let mut serving: Vec<Replica> = Vec::new();
    let mut drift = Vec::new();
    let mut sorted: Vec<&Replica> = containers
        .iter()
        .filter(|container| matches!(container.slot, Slot::Current | Slot::Next))
        .collect();
    sorted.sort_by_key(|container| (container.number, container.slot));
    for container in sorted {
        let taken = serving
            .last()
            .is_some_and(|replica| replica.number == container.number);
        match (container.slot, taken) {
            (Slot::Next, true) => drift.push(Drift {
                field: format!("replica {}", container.number),
                expected: "one container".to_owned(),
                actual: format!("`{}` left beside it by an interrupted rollout", container.name()),
            }),
            (Slot::Next, false) => {
                drift.push(Drift {
                    field: format!("replica {}", container.number),
                    expected: "its final name".to_owned(),
                    actual: format!("`{}`, left by an interrupted rollout", container.name()),
                });
                serving.push(container.clone());
            }
            _ => serving.push(container.clone()),
        }
    }
    (serving, drift)
}

/// Where `replica` differs from the first replica, whose configuration is `reference`.
fn differences(
    kind: &KindSchema,
    reference: &Config,
    replica: &Replica,
    front: Option<&Replica>,
    host_name: &str,
) -> Vec<Drift> {
    let observed = config::observed(&replica.recorded, &as_seen(replica, front), host_name);
    let mut fields = config::replaced_fields(reference, &observed, kind);
    fields.extend(
        IN_PLACE
            .into_iter()
            .filter(|field| reference.get(field) != observed.get(field)),
    );
    let shown = |config: &Config, field: &str| {
        config
            .get(field)
            .map_or_else(|| "(none)".to_owned(), Setting::display)
    };
    fields
        .into_iter()
        .map(|field| Drift {
            field: format!("{field} of replica {}", replica.number),
            expected: shown(reference, field),
            actual: shown(&observed, field),
        })
        .collect()
}

/// The words `stack status` shows, like `2/2 running, 1 starting`, and whether the service is up
/// and healthy: `None` when its probe is one stack checks from the host, which a read does not.
fn summary(replicas: &[Replica], expected: u32, recorded: &Config) -> (String, Option<bool>) {
    let running = replicas
        .iter()
        .filter(|replica| replica.info.status == ContainerStatus::Running)
        .count();
    let mut parts = vec![format!("{running}/{expected} running")];
    let completed = replicas.iter().filter(|replica| replica.completed()).count();
    if completed > 0 {
        parts.push(format!("{completed} completed"));
    }
    let missing = expected as usize - replicas.len().min(expected as usize);
    if missing > 0 {
        parts.push(format!("{missing} missing"));
    }
    for replica in replicas.iter().filter(|replica| !replica.is_up()) {
        parts.push(format!("replica {} {}", replica.number, replica.status()));
    }
    // Health itself is `Live::healthy`, shown in a column of its own: the state says only
    // which replicas are still starting.
    let health: Vec<Option<HealthStatus>> = replicas
        .iter()
        .filter(|replica| replica.info.status == ContainerStatus::Running)
        .map(|replica| replica.info.health)
        .collect();
    let healthy_count = health
        .iter()
        .filter(|health| **health == Some(HealthStatus::Healthy))
        .count();
    let starting = health
        .iter()
        .filter(|health| **health == Some(HealthStatus::Starting))
        .count();
    if starting > 0 {
        parts.push(format!("{starting} starting"));
    }
    let all_up = missing == 0 && replicas.iter().all(Replica::is_up);
    let probe = recorded.get("probe").and_then(Setting::as_json);
    let healthy = match probe {
        _ if !all_up => Some(false),
        Some(probe) if probe.get("exec").is_some() => Some(healthy_count + completed == replicas.len()),
        Some(_) => None,
        None => Some(true),
    };
    (parts.join(", "), healthy)
}

pub fn status_word(status: ContainerStatus) -> &'static str {
    match status {
        ContainerStatus::Created => "created",
        ContainerStatus::Running => "running",
        ContainerStatus::Paused => "paused",
        ContainerStatus::Restarting => "restarting",
        ContainerStatus::Removing => "being removed",
        ContainerStatus::Exited => "exited",
        ContainerStatus::Dead => "dead",
    }
}

#[cfg(test)]
mod tests {
    use stack_docker::{ContainerStatus, HealthStatus, Resources};

    use super::*;
    use crate::common;
    use crate::service::fixtures;

    const STACK: &str = r#"
stack "shop"
network "backend"
network "front"
service "api" {
    image "demo:1"
    replicas 2
    network "backend" { aliases "api-v1" }
    resources { memory "64MiB" }
    probe { exec "/stack-demo" "probe" "http://127.0.0.1:8080/health" }
}
"#;

    fn address() -> Address {
        Address::new(&[], "service", "api")
    }

    /// The service's replicas as stack creates them, and its desired configuration.
    fn replicas(numbers: &[u32]) -> (Vec<Replica>, Config) {
        let (stack, _dir) = fixtures::load(STACK, &[]);
        let (spec, config) = fixtures::desired(&stack, "api");
        let replicas = numbers
            .iter()
            .map(|number| {
                let mut info = fixtures::container("shop", &address(), &spec, &config, *number);
                info.health = Some(HealthStatus::Healthy);
                Replica::new(info).unwrap()
            })
            .collect();
        (replicas, config)
    }

    fn read(replicas: Vec<Replica>) -> Live {
        live(
            common::builtin_kind("service"),
            address(),
            "shop_api".to_owned(),
            replicas,
        )
        .unwrap()
    }

    fn drift_fields(live: &Live) -> Vec<(&str, &str)> {
        live.drift
            .iter()
            .map(|drift| (drift.field.as_str(), drift.actual.as_str()))
            .collect()
    }

    #[test]
    fn replicas_as_created_read_back_as_desired() {
        let (replicas, desired) = replicas(&[2, 1]);
        let live = read(replicas);
        assert_eq!(live.config, desired);
        assert!(live.drift.is_empty(), "{:?}", live.drift);
        assert_eq!(live.state, "2/2 running");
        assert_eq!(live.healthy, Some(true));
    }

    #[test]
    fn a_replica_removed_below_the_highest_is_drift() {
        let (replicas, desired) = replicas(&[2]);
        let live = read(replicas);
        assert_eq!(drift_fields(&live), [("replica 1", "missing")]);
        assert_eq!(live.config.get("replicas"), desired.get("replicas"));
        assert_eq!(live.healthy, Some(false));
        assert_eq!(live.state, "1/2 running, 1 missing");
    }

    #[test]
    fn the_highest_replica_removed_shows_as_fewer_replicas() {
        let (replicas, _) = replicas(&[1]);
        let live = read(replicas);
        assert!(live.drift.is_empty());
        assert_eq!(
            live.config.get("replicas"),
            Some(&Setting::Plain(serde_json::json!(1)))
        );
    }

    #[test]
    fn a_stopped_replica_is_drift_but_a_finished_job_is_not() {
        let (mut replicas, _) = replicas(&[1, 2]);
        replicas[1].info.status = ContainerStatus::Exited;
        replicas[1].info.exit_code = Some(137);
        let live = read(replicas.clone());
        assert_eq!(drift_fields(&live), [("replica 2", "exited with code 137")]);
        assert_eq!(live.healthy, Some(false));

        for replica in &mut replicas {
            replica.info.status = ContainerStatus::Exited;
            replica.info.exit_code = Some(0);
            replica.info.restart = RestartPolicy::No;
        }
        let live = read(replicas);
        assert!(
            !live.drift.iter().any(|drift| drift.field.starts_with("replica ")),
            "{:?}",
            live.drift
        );
        assert_eq!(live.state, "0/2 running, 2 completed");
    }

    #[test]
    fn a_replica_unlike_the_first_is_drift() {
        let (mut replicas, _) = replicas(&[1, 2]);
        let mut other = replicas[1].recorded.clone();
        other
            .0
            .insert("image".to_owned(), Setting::Plain(serde_json::json!("demo:0")));
        replicas[1].recorded = other;
        let endpoint = stack_docker::ContainerEndpoint {
            ipv4_address: None,
            fixed_ipv4_address: None,
            aliases: Vec::new(),
        };
        replicas[1].info.networks = [("bridge".to_owned(), endpoint)].into();
        let live = read(replicas);
        assert_eq!(
            drift_fields(&live),
            [
                ("image of replica 2", "\"demo:0\""),
                ("network of replica 2", "[{\"name\":\"bridge\"}]")
            ]
        );
    }

    #[test]
    fn in_place_changes_read_from_the_containers_not_their_labels() {
        let (mut replicas, desired) = replicas(&[1, 2]);
        for replica in &mut replicas {
            replica.info.resources = Resources {
                memory_limit: Some(128 << 20),
                ..Default::default()
            };
            replica.info.restart = RestartPolicy::Always;
            let backend = replica.info.networks["shop_backend"].clone();
            replica.info.networks.insert("shop_front".to_owned(), backend);
        }
        let live = read(replicas);
        assert!(live.drift.is_empty(), "{:?}", live.drift);
        let kind = common::builtin_kind("service");
        assert_eq!(
            desired.differing(&live.config, kind),
            ["network", "restart", "resources"]
        );
        assert_eq!(
            live.config.get("resources").and_then(Setting::as_json),
            Some(&serde_json::json!({"memory": "128MiB"}))
        );
    }

    #[test]
    fn the_state_says_which_replicas_start_and_leaves_health_to_its_own_field() {
        let (mut replicas, _) = replicas(&[1, 2]);
        replicas[0].info.health = Some(HealthStatus::Starting);
        replicas[1].info.health = Some(HealthStatus::Unhealthy);
        let live = read(replicas);
        assert_eq!(live.state, "2/2 running, 1 starting");
        assert_eq!(live.healthy, Some(false));
    }
}
