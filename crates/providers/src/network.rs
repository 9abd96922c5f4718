//! Networks: user-defined networks with fixed addressing, owned through their labels; external
//! networks are only inspected.
//!
//! Docker cannot change a network once created, not even its labels: every field of the schema
//! replaces it. `depends-on` and `prevent-destroy` concern only the engine and are left out of
//! the recorded configuration ([`common::without_engine_fields`]), so changing them plans
//! nothing and `update` has nothing to do.

use std::sync::Arc;

use async_trait::async_trait;
use stack_diagnostics::Diagnostic;
use stack_docker::{DockerClient, DockerError, LabelFilter, Labels, NetworkInfo, NetworkSpec, Subnet};
use stack_language::Resource;
use stack_language::schema::KindSchema;
use stack_language::units::Cidr;
use stack_provider::labels::STACK;
use stack_provider::{Desired, Live, Provider, ProviderError, Resolve, Scope};

use crate::common;

pub struct NetworkProvider {
    docker: Arc<DockerClient>,
    kind: &'static KindSchema,
    configure: Configure,
}

/// What a target makes of the configuration of a network the stack creates, or why it cannot
/// (a swarm's networks are overlay networks): reading, creating and removing are the same.
pub type Configure = fn(&Resource, &mut Desired) -> Result<(), Diagnostic>;

impl NetworkProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        NetworkProvider::configured(docker, |_, _| Ok(()))
    }

    /// The provider of a target whose networks are configured by `configure`.
    pub fn configured(docker: Arc<DockerClient>, configure: Configure) -> Self {
        NetworkProvider {
            docker,
            kind: common::builtin_kind("network"),
            configure,
        }
    }

    /// The live state of one network of the stack, or `None` when its labels name no network
    /// resource.
    fn live(&self, network: NetworkInfo) -> Option<Live> {
        let (address, recorded) = common::recorded(&network.labels)?;
        let address = common::parse_address(&address, self.kind.name)?;
        let (config, drift) = common::observe(recorded, observed(&network));
        Some(Live {
            address,
            kind: self.kind.name,
            state: describe(&network),
            name: network.name,
            config,
            drift,
            healthy: None,
        })
    }

    /// Why a create found the name taken, naming the owner of the network in the way.
    async fn clash(&self, scope: &Scope, desired: &Desired) -> ProviderError {
        match self.docker.inspect_network(&desired.name).await {
            Ok(found) => common::name_taken("network", &desired.name, &found.labels, scope, &desired.address),
            Err(error) => common::error(error),
        }
    }
}

#[async_trait]
impl Provider for NetworkProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    /// Docker removes no network while containers are attached to it.
    fn held_by_dependents(&self) -> bool {
        true
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let mut desired = common::fixed_object(self.kind, scope, resource, resolve);
        if !desired.external {
            (self.configure)(resource, &mut desired)?;
        }
        check_encryption(resource, &desired)?;
        Ok(desired)
    }

    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let filter = LabelFilter::new(STACK, &scope.stack);
        let networks = self.docker.list_networks(&filter).await.map_err(common::error)?;
        Ok(networks
            .into_iter()
            .filter_map(|network| self.live(network))
            .collect())
    }

    async fn read_external(&self, _scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let network = match self.docker.inspect_network(&desired.name).await {
            Ok(network) => network,
            Err(error) if error.is_not_found() => {
                return Err(ProviderError::new(format!(
                    "network `{}` does not exist: create it first, or remove `external` from {} so that this stack creates its own",
                    desired.name, desired.address
                ))
                .with_hint(format!(
                    "an external network is created outside this stack, for example by another stack applied first, \
                     or with `docker network create {}`",
                    desired.name
                )));
            }
            Err(error) => return Err(common::error(error)),
        };
        match common::text(&desired.config, "subnet") {
            Some(declared)
                if !network
                    .subnets
                    .iter()
                    .any(|real| same_cidr(&real.subnet, declared)) =>
            {
                let real: Vec<&str> = network
                    .subnets
                    .iter()
                    .map(|subnet| subnet.subnet.as_str())
                    .collect();
                let real = if real.is_empty() {
                    "no subnet".to_owned()
                } else {
                    format!("subnet {}", real.join(", "))
                };
                Err(ProviderError::new(format!(
                    "network `{}` has {real}, not {declared} as {} declares",
                    desired.name, desired.address
                ))
                .with_hint(format!(
                    "write the network's real subnet in `subnet` of {}, or leave `subnet` out",
                    desired.address
                )))
            }
            _ => Ok(()),
        }
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        match self.docker.create_network(&spec(scope, desired)).await {
            Ok(_) => Ok(()),
            Err(DockerError::Conflict { .. }) => Err(self.clash(scope, desired).await),
            Err(error) => Err(common::error(error)),
        }
    }

    /// Nothing to do: every field that reaches the daemon replaces the network, and the others
    /// are not recorded (see the module's documentation).
    async fn update(&self, _scope: &Scope, _desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn delete(&self, _scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        match self.docker.remove_network(&live.name).await {
            Ok(()) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(removal_error(error, &live.name)),
        }
    }
}

/// The driver option that encrypts an overlay network's traffic between nodes.
const ENCRYPTED: &str = "encrypted";

/// Only an overlay network carries traffic between nodes, so only one can encrypt it.
pub fn check_encryption(resource: &Resource, desired: &Desired) -> Result<(), Diagnostic> {
    let driver = common::text(&desired.config, "driver").unwrap_or_default();
    match resource.field(ENCRYPTED) {
        Some(encrypted) if encrypted.as_bool() == Some(true) && driver != "overlay" => Err(Diagnostic::error(
            "stack::invalid_value",
            format!(
                "{} is encrypted, but a `{driver}` network stays on one host: only overlay networks are encrypted",
                resource.address
            ),
        )
        .primary(encrypted.span, "needs an overlay network")
        .help(
            "apply the stack to a swarm (`--target swarm`, where networks are overlay networks), \
             or leave `encrypted` out",
        )),
        _ => Ok(()),
    }
}

/// What the daemon is asked to create for `desired`: the engine's networks and a swarm's.
pub fn spec(scope: &Scope, desired: &Desired) -> NetworkSpec {
    let config = &desired.config;
    let subnets = common::text(config, "subnet")
        .map(|subnet| Subnet {
            subnet: subnet.to_owned(),
            gateway: common::text(config, "gateway").map(str::to_owned),
            ip_range: common::text(config, "ip-range").map(str::to_owned),
        })
        .into_iter()
        .collect();
    NetworkSpec {
        name: desired.name.clone(),
        driver: common::text(config, "driver").map(str::to_owned),
        internal: common::flag(config, "internal"),
        attachable: common::flag(config, "attachable"),
        labels: common::object_labels(scope, desired),
        subnets,
        options: if common::flag(config, ENCRYPTED) {
            Labels::from([(ENCRYPTED.to_owned(), String::new())])
        } else {
            Labels::new()
        },
    }
}

/// The fields of a network as the daemon shows them, to compare with the recorded ones.
fn observed(network: &NetworkInfo) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::Value as Json;
    let mut seen = vec![
        ("driver", Json::from(network.driver.clone())),
        ("internal", Json::from(network.internal)),
        ("attachable", Json::from(network.attachable)),
        (ENCRYPTED, Json::from(network.options.contains_key(ENCRYPTED))),
        (
            "labels",
            common::json_object(&common::user_labels(&network.labels)),
        ),
    ];
    let subnet = network.subnets.first();
    let text = |value: Option<&String>| value.map_or(Json::Null, |text| Json::from(text.clone()));
    seen.push(("subnet", text(subnet.map(|subnet| &subnet.subnet))));
    seen.push(("gateway", text(subnet.and_then(|subnet| subnet.gateway.as_ref()))));
    seen.push((
        "ip-range",
        text(subnet.and_then(|subnet| subnet.ip_range.as_ref())),
    ));
    seen
}

/// What `stack status` shows: the driver and the addressing.
fn describe(network: &NetworkInfo) -> String {
    let subnets: Vec<&str> = network
        .subnets
        .iter()
        .map(|subnet| subnet.subnet.as_str())
        .collect();
    let mut state = network.driver.clone();
    if !subnets.is_empty() {
        state.push_str(&format!(", {}", subnets.join(", ")));
    }
    if network.internal {
        state.push_str(", internal");
    }
    state
}

fn same_cidr(real: &str, declared: &str) -> bool {
    match (Cidr::parse(real), Cidr::parse(declared)) {
        (Ok(real), Ok(declared)) => real == declared,
        _ => real == declared,
    }
}

/// A network that still has endpoints cannot go: say what holds it and what to do.
fn removal_error(error: DockerError, name: &str) -> ProviderError {
    match error {
        DockerError::InUse { .. } => {
            ProviderError::new(format!("network `{name}` still has containers attached")).with_hint(format!(
                "remove the containers on it first (`docker network inspect {name}` lists them); \
                 when it lists none, the daemon kept a stale endpoint of removed containers, \
                 which a restart of the Docker daemon clears"
            ))
        }
        error => common::error(error),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use stack_docker::ObjectRef;

    use super::*;
    use crate::common::testing::{Fixture, NoDependencies, resource};

    fn scope() -> Scope {
        Scope {
            stack: "shop".to_owned(),
            ready_timeout: Duration::from_secs(5),
            registries: Vec::new(),
        }
    }

    fn desired(text: &str) -> Desired {
        let stack = Fixture::new().load(text);
        let resource = resource(&stack, "network", "backend");
        common::fixed_object(resource.kind, &scope(), resource, &NoDependencies)
    }

    const BACKEND: &str = r#"network "backend" {
    subnet "10.1.0.0/24"
    gateway "10.1.0.1"
    ip-range "10.1.0.128/25"
    internal #true
    labels {
        team "core"
    }
    prevent-destroy #true
    depends-on "volume.data"
}
volume "data"
"#;

    #[test]
    fn the_configuration_leaves_out_what_only_the_engine_reads() {
        let desired = desired(BACKEND);
        assert_eq!(desired.name, "shop_backend");
        assert_eq!(
            desired.outputs.get("ref").map(String::as_str),
            Some("shop_backend")
        );
        assert!(!desired.external);
        let fields: Vec<&str> = desired.config.0.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "driver",
                "subnet",
                "gateway",
                "ip-range",
                "internal",
                "attachable",
                "labels"
            ]
        );
    }

    #[test]
    fn the_network_spec_follows_the_configuration() {
        let desired = desired(BACKEND);
        let spec = spec(&scope(), &desired);
        let mut labels = BTreeMap::from([("team".to_owned(), "core".to_owned())]);
        labels.extend(common::labels(&scope(), &desired));
        assert_eq!(
            spec,
            NetworkSpec {
                name: "shop_backend".to_owned(),
                driver: Some("bridge".to_owned()),
                internal: true,
                attachable: false,
                labels,
                subnets: vec![Subnet {
                    subnet: "10.1.0.0/24".to_owned(),
                    gateway: Some("10.1.0.1".to_owned()),
                    ip_range: Some("10.1.0.128/25".to_owned()),
                }],
                options: Labels::new(),
            }
        );
    }

    #[test]
    fn external_networks_are_named_as_written() {
        let desired = desired("network \"backend\" {\n    external \"infra_infra_app-network\"\n}");
        assert!(desired.external);
        assert_eq!(desired.name, "infra_infra_app-network");
        assert_eq!(
            desired.outputs.get("ref").map(String::as_str),
            Some("infra_infra_app-network")
        );
    }

    #[test]
    fn drift_is_what_the_daemon_shows_against_what_was_recorded() {
        let desired = desired(BACKEND);
        let spec = spec(&scope(), &desired);
        let mut network = NetworkInfo {
            id: "1234".to_owned(),
            name: spec.name,
            driver: "bridge".to_owned(),
            internal: true,
            attachable: false,
            labels: spec.labels,
            subnets: spec.subnets,
            options: spec.options,
            containers: BTreeMap::new(),
        };
        let seen = |network: &NetworkInfo| {
            let (_, recorded) = common::recorded(&network.labels).unwrap();
            common::observe(recorded, observed(network))
        };
        let (config, drift) = seen(&network);
        assert_eq!(config, desired.config);
        assert!(drift.is_empty(), "{drift:?}");

        network.internal = false;
        network.subnets[0].subnet = "10.2.0.0/24".to_owned();
        let (config, drift) = seen(&network);
        let fields: Vec<&str> = drift.iter().map(|drift| drift.field.as_str()).collect();
        assert_eq!(fields, ["internal", "subnet"]);
        assert_eq!(drift[1].expected, "\"10.1.0.0/24\"");
        assert_eq!(drift[1].actual, "\"10.2.0.0/24\"");
        assert_eq!(
            desired.config.differing(&config, desired.kind),
            ["subnet", "internal"]
        );
    }

    #[test]
    fn a_network_with_endpoints_says_what_to_do() {
        let error = removal_error(
            DockerError::InUse {
                object: ObjectRef::network("shop_backend"),
                message: "error while removing network: network shop_backend id 12 has active endpoints"
                    .to_owned(),
            },
            "shop_backend",
        );
        assert_eq!(
            error.message,
            "network `shop_backend` still has containers attached"
        );
        assert!(
            error
                .hint
                .is_some_and(|hint| hint.contains("docker network inspect shop_backend"))
        );
    }

    #[test]
    fn subnets_compare_as_networks() {
        assert!(same_cidr("172.22.1.0/24", "172.22.1.0/24"));
        assert!(!same_cidr("172.22.0.0/16", "172.22.1.0/24"));
        assert!(same_cidr("fd00::/64", "fd00:0::/64"));
    }
}
