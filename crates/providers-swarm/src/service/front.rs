//! The proxy in front of a swarm service whose ports are published in `host` mode and that is
//! updated start-first.
//!
//! Where Swarm's routing mesh works (IPVS in the kernel), a port published in `ingress` mode
//! is answered on every node and sent to a healthy task, and a start-first update loses no
//! request: Swarm's own path is kept. A port published in `host` mode is bound by one task on
//! its node, so an old and a new task cannot both hold it, and a start-first update could not
//! even start its new task on a node of one. Such a service therefore gets a second Swarm
//! service, `<service>-proxy`, running `stack-proxy` in its resolve mode: one task per node
//! (global), publishing the service's TCP `host` ports, on the service's networks. It
//! forwards each connection to what `tasks.<service>` resolves to through Docker's DNS,
//! looked up every 200 ms; the service's tasks publish none of those ports.
//!
//! That name lists exactly the tasks in the service's load balancing: Swarm's executor adds a
//! task once its health check passes, and on shutdown removes it, waits about two seconds for
//! the change to spread, and only then stops the container. So new connections go to healthy
//! tasks only, and none to a task about to stop; a new version whose probe fails is never
//! reached before Swarm rolls it back.

use std::time::Duration;

use serde_json::{Value as Json, json};
use stack_docker::service::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use stack_docker::{Labels, PortBinding, Protocol};
use stack_provider::{Config, Setting};
use stack_providers::service_model::Order;

use super::spec::{Mode, PublishMode, SwarmService};

/// The label that names, by its address, the service a proxy service stands in front of; on
/// the proxy service and its tasks' containers, which carry no address of their own.
pub const PROXY_OF: &str = "dev.stack.proxy-of";
/// The first port the proxy's control API may take (it only lists the set here: nothing
/// outside the overlay network reaches it).
const CONTROL_PORT: u16 = 9901;
/// How often the proxy looks the service's tasks up: well within the two seconds Swarm waits
/// between taking a task out of its DNS and stopping it.
const RESOLVE_INTERVAL: Duration = Duration::from_millis(200);

impl SwarmService {
    /// Whether the proxy holds `port` (published as `mode`) instead of the service's tasks.
    pub fn fronted(&self, port: &PortBinding, mode: PublishMode) -> bool {
        self.mode == Mode::Replicated
            && self.base.update.order == Order::StartFirst
            && mode == PublishMode::Host
            && port.protocol == Protocol::Tcp
    }

    /// The ports the proxy publishes, in the order of the files; none when it gets no proxy.
    pub fn fronted_ports(&self) -> Vec<&PortBinding> {
        self.base
            .ports
            .iter()
            .zip(&self.publish_modes)
            .filter(|(port, mode)| self.fronted(port, **mode))
            .map(|(port, _)| port)
            .collect()
    }

    pub fn has_proxy(&self) -> bool {
        !self.fronted_ports().is_empty()
    }

    /// The container ports the proxy forwards, each once.
    fn forwarded(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .fronted_ports()
            .iter()
            .map(|port| port.container_port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// The name of the proxy service in front of the Swarm service `service`.
pub fn name(service: &str) -> String {
    format!("{service}-proxy")
}

/// How the configuration records the proxy, inside `update` as on one engine:
/// `"proxy": {"ports": [8080]}`. The plan shows it coming and going with that field.
pub fn record(config: &mut Config, service: &SwarmService) {
    if !service.has_proxy() {
        return;
    }
    if let Some(Setting::Plain(Json::Object(update))) = config.0.get_mut("update") {
        update.insert("proxy".to_owned(), json!({"ports": service.forwarded()}));
    }
}

/// Whether a recorded configuration says the service has a proxy.
pub fn recorded(config: &Config) -> bool {
    config
        .get("update")
        .and_then(Setting::as_json)
        .and_then(|update| update.get("proxy"))
        .is_some()
}

/// The proxy service in front of the Swarm service `service` (named `<service>-proxy`),
/// running `image`, labelled `labels`.
pub fn spec(swarm: &SwarmService, service: &str, image: String, labels: Labels) -> ServiceSpec {
    let ports = swarm.forwarded();
    let mut args = Vec::new();
    for port in &ports {
        args.extend(["--listen".to_owned(), port.to_string()]);
    }
    let control = (CONTROL_PORT..)
        .find(|port| !ports.contains(port))
        .unwrap_or(CONTROL_PORT);
    args.extend([
        "--control".to_owned(),
        control.to_string(),
        "--resolve".to_owned(),
        format!("tasks.{service}"),
        "--resolve-ms".to_owned(),
        RESOLVE_INTERVAL.as_millis().to_string(),
        "--drain-ms".to_owned(),
        swarm.base.stop_grace_period.as_millis().to_string(),
    ]);
    let container = TaskSpecContainerSpec {
        image: Some(image),
        labels: Some(labels.clone().into_iter().collect()),
        command: Some(vec!["/stack-proxy".to_owned()]),
        args: Some(args),
        stop_grace_period: i64::try_from(swarm.base.stop_grace_period.as_nanos()).ok(),
        ..Default::default()
    };
    let task_template = TaskSpec {
        container_spec: Some(container),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
            ..Default::default()
        }),
        networks: Some(
            swarm
                .base
                .networks
                .iter()
                .map(|attachment| NetworkAttachmentConfig {
                    target: Some(attachment.network.clone()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let published = swarm
        .fronted_ports()
        .into_iter()
        .map(|port| EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(i64::from(port.container_port)),
            published_port: port.host_port.map(i64::from),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        })
        .collect();
    ServiceSpec {
        name: Some(name(service)),
        labels: Some(labels.into_iter().collect()),
        task_template: Some(task_template),
        // A task on every node, as the routing mesh answers on every node.
        mode: Some(ServiceSpecMode {
            global: Some(Default::default()),
            ..Default::default()
        }),
        // A node's ports are held by one task at a time: its old proxy goes first.
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
            ..Default::default()
        }),
        // Nothing resolves the proxy's own name: it needs no virtual address.
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: Some(published),
        }),
        ..Default::default()
    }
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stack_providers::common::testing::resource;
    use stack_providers::fixtures;

    use crate::service::resolved_for_tests;

    fn read(body: &str) -> (SwarmService, tempfile::TempDir) {
        let text = format!(
            "stack \"shop\"\nnetwork \"app\"\nservice \"web\" {{\n    image \"demo:1\"\n    network \"app\"\n{body}\n}}\n"
        );
        let (stack, dir) = fixtures::load(&text, &[]);
        let resource = resource(&stack, "service", "web");
        let service = SwarmService::from_resource(resource, &resolved_for_tests(&stack), Mode::Replicated);
        (service.unwrap(), dir)
    }

    const START_FIRST: &str = "    update { order \"start-first\"; }";

    #[test]
    fn only_host_tcp_ports_of_a_start_first_service_are_fronted() {
        let cases = [
            (
                format!("    port 8081 target=8080 mode=\"host\"\n{START_FIRST}"),
                true,
            ),
            // The routing mesh keeps its own path.
            (format!("    port 8081 target=8080\n{START_FIRST}"), false),
            (
                format!("    port 53 protocol=\"udp\" mode=\"host\"\n{START_FIRST}"),
                false,
            ),
            // Stopped first, the old task frees the port before the new one takes it.
            ("    port 8081 target=8080 mode=\"host\"".to_owned(), false),
        ];
        for (body, proxied) in cases {
            let (service, _dir) = read(&body);
            assert_eq!(service.has_proxy(), proxied, "{body}");
        }
    }

    #[test]
    fn the_proxy_publishes_the_ports_and_follows_the_tasks() {
        let (service, _dir) = read(&format!(
            "    port 8081 target=8080 mode=\"host\"\n    port 8082 target=8080 mode=\"host\"\n    port 9000 target=9000\n    stop-grace-period \"3s\"\n    endpoint-mode \"vip\"\n{START_FIRST}"
        ));
        let labels = Labels::from([(PROXY_OF.to_owned(), "service.web".to_owned())]);
        let spec = spec(&service, "shop_web", "stack-proxy:abc".to_owned(), labels);
        assert_eq!(spec.name.as_deref(), Some("shop_web-proxy"));
        assert!(spec.mode.unwrap().global.is_some());
        let container = spec.task_template.clone().unwrap().container_spec.unwrap();
        assert_eq!(container.command, Some(vec!["/stack-proxy".to_owned()]));
        assert_eq!(
            container.args.unwrap().join(" "),
            "--listen 8080 --control 9901 --resolve tasks.shop_web --resolve-ms 200 --drain-ms 3000"
        );
        assert_eq!(container.labels.unwrap()[PROXY_OF], "service.web");
        let networks = spec.task_template.unwrap().networks.unwrap();
        assert_eq!(networks[0].target.as_deref(), Some("shop_app"));
        assert_eq!(networks[0].aliases, None);
        let endpoint = spec.endpoint_spec.unwrap();
        assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::DNSRR));
        let ports: Vec<(Option<i64>, Option<i64>)> = endpoint
            .ports
            .unwrap()
            .iter()
            .map(|port| {
                assert_eq!(port.publish_mode, Some(EndpointPortConfigPublishModeEnum::HOST));
                (port.published_port, port.target_port)
            })
            .collect();
        assert_eq!(ports, [(Some(8081), Some(8080)), (Some(8082), Some(8080))]);
        assert_eq!(
            spec.update_config.unwrap().order,
            Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST)
        );
    }

    /// The service keeps what the proxy does not hold; the configuration records the proxy.
    #[test]
    fn the_service_publishes_only_what_the_proxy_does_not_hold() {
        let (service, _dir) = read(&format!(
            "    port 8081 target=8080 mode=\"host\"\n    port 9000 target=9000\n{START_FIRST}"
        ));
        let spec = service.service_spec("shop_web", Labels::new(), Labels::new(), &|_| None);
        let ports = spec.endpoint_spec.unwrap().ports.unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].published_port, Some(9000));

        let mut config = Config::default();
        config.0.insert(
            "update".to_owned(),
            Setting::Plain(json!({"order": "start-first"})),
        );
        assert!(!recorded(&config));
        record(&mut config, &service);
        assert_eq!(
            config.get("update").and_then(Setting::as_json),
            Some(&json!({"order": "start-first", "proxy": {"ports": [8080]}}))
        );
        assert!(recorded(&config));

        // Stopped first, the service publishes its host port itself.
        let (service, _dir) = read("    port 8081 target=8080 mode=\"host\"");
        let spec = service.service_spec("shop_web", Labels::new(), Labels::new(), &|_| None);
        let ports = spec.endpoint_spec.unwrap().ports.unwrap();
        assert_eq!(
            (ports[0].published_port, ports[0].target_port),
            (Some(8081), Some(8080))
        );
        assert_eq!(
            ports[0].publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
    }
}
