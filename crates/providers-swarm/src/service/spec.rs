//! A service on a swarm: the shared typed model ([`ServiceSpec`]) with what only a swarm reads
//! (placement, endpoint mode, how ports are published, secrets by their Docker names), turned
//! into the Engine API's service spec by a pure function ([`SwarmService::service_spec`]).
//!
//! What a swarm cannot do is refused here, when the plan is made, with the span of the field:
//! an `http` or `tcp` probe (Swarm runs health checks inside the task only), a fixed address,
//! a port bound to one host address, an ingress port with `dnsrr`, the blue-green and canary
//! strategies, which Swarm's rolling update has no equivalent of, and a port the proxy in
//! front would hold ([`super::front`]) on a service that joins no network.

use std::time::Duration;

use stack_diagnostics::{Diagnostic, Span};
use stack_docker::service::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, HealthConfig, Limit, NetworkAttachmentConfig, ResourceObject, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecFile, TaskSpecContainerSpecSecrets, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use stack_docker::{Labels, Mount, Protocol, RestartPolicy};
use stack_language::{Address, Resource, Value};
use stack_provider::Resolve;
use stack_providers::service_model::{Check, FailureAction, Order, ServiceSpec, Strategy};

/// The service's tasks publish through the routing mesh, or on the node that runs each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishMode {
    Ingress,
    Host,
}

/// How other tasks reach the service by name: one virtual address, or every task's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

/// A secret the tasks mount, by the name of its Docker secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// The Docker secret's name, which changes with its content.
    pub secret: String,
    /// The file name under /run/secrets.
    pub file: String,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// Whether the service's tasks run for ever or to completion (a job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Replicated,
    Job,
}

/// Everything a swarm service is made from.
#[derive(Debug, Clone)]
pub struct SwarmService {
    pub base: ServiceSpec,
    pub mode: Mode,
    pub constraints: Vec<String>,
    pub spread: Vec<String>,
    pub endpoint_mode: EndpointMode,
    /// One per port of `base.ports`, in the same order.
    pub publish_modes: Vec<PublishMode>,
    pub secrets: Vec<SecretMount>,
    /// How many times a job's failed run is tried again.
    pub job_retries: u32,
}

impl SwarmService {
    /// Reads `resource` (a service, or a job with `mode` [`Mode::Job`]); what a swarm cannot run
    /// is a diagnostic at the field that asks for it.
    pub fn from_resource(
        resource: &Resource,
        resolve: &dyn Resolve,
        mode: Mode,
    ) -> Result<SwarmService, Diagnostic> {
        let base = ServiceSpec::from_resource(resource, resolve)?;
        refuse_what_a_swarm_cannot_do(resource, &base)?;
        let placement = resource.field("placement");
        let strings = |name: &str| {
            placement
                .and_then(|placement| placement.get(name))
                .map(|list| {
                    list.as_list()
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let endpoint_mode = match resource.field("endpoint-mode").and_then(Value::as_str) {
            Some("dnsrr") => EndpointMode::Dnsrr,
            _ => EndpointMode::Vip,
        };
        let ports = resource.items("port");
        let publish_modes: Vec<PublishMode> = ports
            .iter()
            .map(|port| match port.get("mode").and_then(Value::as_str) {
                Some("host") => PublishMode::Host,
                _ => PublishMode::Ingress,
            })
            .collect();
        if endpoint_mode == EndpointMode::Dnsrr
            && let Some(port) = ports
                .iter()
                .zip(&publish_modes)
                .find_map(|(port, mode)| (*mode == PublishMode::Ingress).then_some(port))
        {
            return Err(refusal(
                resource,
                port.span,
                "publishes a port through the routing mesh, which needs endpoint-mode \"vip\"",
                "publish it on the nodes that run the service with mode=\"host\", or drop endpoint-mode \"dnsrr\"",
            ));
        }
        let service = SwarmService {
            secrets: secret_mounts(resource, resolve, &base)?,
            base,
            mode,
            constraints: strings("constraints"),
            spread: strings("spread"),
            endpoint_mode,
            publish_modes,
            job_retries: resource
                .field("retries")
                .and_then(Value::as_int)
                .and_then(|retries| u32::try_from(retries).ok())
                .unwrap_or(0),
        };
        // The proxy reaches the tasks over a network they share: the default one is no overlay.
        if service.base.networks.is_empty()
            && let Some(port) = ports
                .iter()
                .zip(service.base.ports.iter().zip(&service.publish_modes))
                .find_map(|(port, (binding, mode))| service.fronted(binding, *mode).then_some(port))
        {
            return Err(refusal(
                resource,
                port.span,
                "publishes a port in host mode and updates start-first, which needs stack's proxy in front, but joins no network the proxy could reach its tasks on",
                "add a `network` of the stack to the service (in the overlay of the swarm environment)",
            ));
        }
        Ok(service)
    }

    /// The Engine API's spec of the service `name`, labelled `labels` (the stack's own, with
    /// the recorded configuration). Its tasks' containers carry the user's labels and
    /// `task_labels`, by which stack finds them. `secret_ids` gives each secret's id by name:
    /// Swarm refers to secrets by both.
    pub fn service_spec(
        &self,
        name: &str,
        labels: Labels,
        task_labels: Labels,
        secret_ids: &dyn Fn(&str) -> Option<String>,
    ) -> stack_docker::service::ServiceSpec {
        let base = &self.base;
        let mut container_labels = base.labels.clone();
        container_labels.extend(task_labels);
        let container = TaskSpecContainerSpec {
            image: Some(base.image.clone()),
            labels: Some(container_labels.into_iter().collect()),
            // Swarm's `Command` replaces the image's entrypoint and `Args` its command.
            command: base.entrypoint.clone(),
            args: base.command.clone(),
            hostname: base.hostname.clone(),
            env: Some(
                base.env
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect(),
            ),
            dir: base.workdir.clone(),
            user: base.user.clone(),
            read_only: Some(base.read_only),
            mounts: Some(base.mounts.iter().map(Mount::docker_mount).collect()),
            stop_signal: base.stop_signal.clone(),
            stop_grace_period: Some(nanos(base.stop_grace_period)),
            health_check: base.probe.as_ref().and_then(|probe| match &probe.check {
                Check::Exec(argv) => Some(HealthConfig {
                    test: Some(
                        std::iter::once("CMD".to_owned())
                            .chain(argv.iter().cloned())
                            .collect(),
                    ),
                    interval: Some(nanos(probe.interval)),
                    timeout: Some(nanos(probe.timeout)),
                    retries: Some(i64::from(probe.retries)),
                    start_period: Some(nanos(probe.start_period)),
                    start_interval: None,
                }),
                // Refused when the spec was read.
                Check::Http(_) | Check::Tcp(_) => None,
            }),
            secrets: Some(
                self.secrets
                    .iter()
                    .map(|secret| TaskSpecContainerSpecSecrets {
                        file: Some(TaskSpecContainerSpecFile {
                            name: Some(secret.file.clone()),
                            uid: Some(secret.uid.to_string()),
                            gid: Some(secret.gid.to_string()),
                            mode: Some(secret.mode),
                        }),
                        secret_id: secret_ids(&secret.secret),
                        secret_name: Some(secret.secret.clone()),
                    })
                    .collect(),
            ),
            init: Some(base.init),
            capability_add: (!base.cap_add.is_empty()).then(|| base.cap_add.clone()),
            capability_drop: (!base.cap_drop.is_empty()).then(|| base.cap_drop.clone()),
            ..Default::default()
        };
        let resources = TaskSpecResources {
            limits: Some(Limit {
                nano_cpus: base.resources.cpus.map(|cpus| (cpus * 1e9).round() as i64),
                memory_bytes: base.resources.memory_limit,
                pids: None,
            }),
            reservations: Some(ResourceObject {
                nano_cpus: None,
                memory_bytes: base.resources.memory_reservation,
                generic_resources: None,
            }),
            ..Default::default()
        };
        let task_template = TaskSpec {
            container_spec: Some(container),
            resources: Some(resources),
            restart_policy: Some(self.restart_policy()),
            placement: Some(TaskSpecPlacement {
                constraints: Some(self.constraints.clone()),
                preferences: Some(
                    self.spread
                        .iter()
                        .map(|label| TaskSpecPlacementPreferences {
                            spread: Some(TaskSpecPlacementSpread {
                                spread_descriptor: Some(label.clone()),
                            }),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            networks: Some(
                base.networks
                    .iter()
                    .map(|attachment| NetworkAttachmentConfig {
                        target: Some(attachment.network.clone()),
                        aliases: Some(attachment.aliases.clone()),
                        driver_opts: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        let replicas = i64::from(base.replicas);
        let mode = match self.mode {
            Mode::Replicated => ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(replicas),
                }),
                ..Default::default()
            },
            Mode::Job => ServiceSpecMode {
                replicated_job: Some(ServiceSpecModeReplicatedJob {
                    max_concurrent: Some(replicas),
                    total_completions: Some(replicas),
                }),
                ..Default::default()
            },
        };
        let jobs_roll_nothing = self.mode == Mode::Job;
        stack_docker::service::ServiceSpec {
            name: Some(name.to_owned()),
            labels: Some(labels.into_iter().collect()),
            task_template: Some(task_template),
            mode: Some(mode),
            update_config: (!jobs_roll_nothing).then(|| self.update_config()),
            rollback_config: (!jobs_roll_nothing).then(|| self.rollback_config()),
            networks: None,
            endpoint_spec: Some(EndpointSpec {
                mode: Some(match self.endpoint_mode {
                    EndpointMode::Vip => EndpointSpecModeEnum::VIP,
                    EndpointMode::Dnsrr => EndpointSpecModeEnum::DNSRR,
                }),
                // The ports the proxy in front holds are not the tasks' ([`super::front`]).
                ports: Some(
                    base.ports
                        .iter()
                        .zip(&self.publish_modes)
                        .filter(|(port, mode)| !self.fronted(port, **mode))
                        .map(|(port, mode)| EndpointPortConfig {
                            name: None,
                            protocol: Some(match port.protocol {
                                Protocol::Tcp => EndpointPortConfigProtocolEnum::TCP,
                                Protocol::Udp => EndpointPortConfigProtocolEnum::UDP,
                            }),
                            target_port: Some(i64::from(port.container_port)),
                            published_port: port.host_port.map(i64::from),
                            publish_mode: Some(match mode {
                                PublishMode::Ingress => EndpointPortConfigPublishModeEnum::INGRESS,
                                PublishMode::Host => EndpointPortConfigPublishModeEnum::HOST,
                            }),
                        })
                        .collect(),
                ),
            }),
        }
    }

    /// A job's task is started again only after it failed, `retries` times; a service's as its
    /// policy says.
    /// `unless-stopped` and `always` are the same on a swarm: a task is stopped only by an
    /// update or a removal, which end it for good.
    fn restart_policy(&self) -> TaskSpecRestartPolicy {
        let (condition, max_attempts) = match (self.mode, self.base.restart) {
            // Swarm reads no limit of attempts as "for ever".
            (Mode::Job, _) if self.job_retries == 0 => (TaskSpecRestartPolicyConditionEnum::NONE, 0),
            (Mode::Job, _) => (
                TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                i64::from(self.job_retries),
            ),
            (_, RestartPolicy::No) => (TaskSpecRestartPolicyConditionEnum::NONE, 0),
            (_, RestartPolicy::Always | RestartPolicy::UnlessStopped) => {
                (TaskSpecRestartPolicyConditionEnum::ANY, 0)
            }
            (_, RestartPolicy::OnFailure { max_retries }) => (
                TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                i64::from(max_retries),
            ),
        };
        TaskSpecRestartPolicy {
            condition: Some(condition),
            delay: None,
            max_attempts: Some(max_attempts),
            window: None,
        }
    }

    fn update_config(&self) -> ServiceSpecUpdateConfig {
        let update = &self.base.update;
        ServiceSpecUpdateConfig {
            parallelism: Some(i64::from(update.parallelism)),
            delay: Some(nanos(update.delay)),
            failure_action: Some(match update.failure_action {
                FailureAction::Rollback => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
                FailureAction::Pause => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
                FailureAction::Continue => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            }),
            monitor: Some(nanos(self.monitor())),
            max_failure_ratio: Some(update.max_failure_ratio),
            order: Some(match update.order {
                Order::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
                Order::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            }),
        }
    }

    /// A rollback goes as the update went, and stops where it is if it fails too.
    fn rollback_config(&self) -> ServiceSpecRollbackConfig {
        let update = &self.base.update;
        ServiceSpecRollbackConfig {
            parallelism: Some(i64::from(update.parallelism)),
            delay: Some(nanos(update.delay)),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(nanos(self.monitor())),
            max_failure_ratio: Some(update.max_failure_ratio),
            order: Some(match update.order {
                Order::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
                Order::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
            }),
        }
    }

    /// Swarm counts a task that fails within `monitor` of its start as a failed update; with
    /// `monitor 0s` it would use its own default of 5 s, so the least is one probe interval.
    fn monitor(&self) -> Duration {
        let update = &self.base.update;
        let probe_interval = self
            .base
            .probe
            .as_ref()
            .map_or(Duration::from_secs(1), |probe| probe.interval);
        update.monitor.max(probe_interval)
    }
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// The secrets mounted, each by the Docker name its secret's desired state gives.
fn secret_mounts(
    resource: &Resource,
    resolve: &dyn Resolve,
    base: &ServiceSpec,
) -> Result<Vec<SecretMount>, Diagnostic> {
    let mut mounts = Vec::new();
    for (declared, file) in resource.items("secret").iter().zip(&base.secrets) {
        let Some(reference) = declared.get("name") else {
            continue;
        };
        let Some(secret) = reference.as_ref().and_then(|address| resolve.desired(address)) else {
            return Err(refusal(
                resource,
                reference.span,
                "mounts a secret that is not known at plan time",
                "declare the secret in the stack",
            ));
        };
        mounts.push(SecretMount {
            secret: secret.name.clone(),
            file: file.path.rsplit('/').next().unwrap_or_default().to_owned(),
            mode: file.mode,
            uid: file.uid,
            gid: file.gid,
        });
    }
    Ok(mounts)
}

/// What a swarm cannot run as written, at the first field that asks for it.
fn refuse_what_a_swarm_cannot_do(resource: &Resource, base: &ServiceSpec) -> Result<(), Diagnostic> {
    let update = resource.field("update");
    if let Some(strategy) = update.and_then(|update| update.get("strategy"))
        && matches!(base.update.strategy, Strategy::BlueGreen | Strategy::Canary)
    {
        return Err(refusal(
            resource,
            strategy.span,
            "asks for an update strategy a swarm does not have",
            "a swarm rolls a service out batch by batch: write strategy \"rolling\" (with order \"start-first\" \
             to start each new task before its old one stops) in the overlay of the swarm environment",
        ));
    }
    if let Some(surge) = update.and_then(|update| update.get("surge"))
        && !base.update.surge.is_zero()
    {
        return Err(refusal(
            resource,
            surge.span,
            "asks for a surge, which a swarm does not have: it starts no task ahead of its batch",
            "write `surge 0` in the overlay of the swarm environment, or a `parallelism` as large as the batch \
             and the surge together (which also stops as many old tasks at once)",
        ));
    }
    if let Some(probe) = resource.field("probe")
        && let Some(check) = ["http", "tcp"].iter().find_map(|check| probe.get(check))
    {
        return Err(refusal(
            resource,
            check.span,
            "has a probe a swarm cannot run: Swarm checks health inside each task, on whichever node runs it",
            "write an `exec` probe, a program in the image that checks the same (`exec \"wget\" \"-q\" \"-O\" \"/dev/null\" \"http://127.0.0.1:8080/health\"`)",
        ));
    }
    for attachment in resource.items("network") {
        if let Some(address) = attachment.get("ipv4-address") {
            return Err(refusal(
                resource,
                address.span,
                "asks for a fixed address, which a swarm does not give a service's tasks",
                "reach the service by its name or aliases",
            ));
        }
    }
    for port in resource.items("port") {
        if let Some(ip) = port
            .get("host-ip")
            .filter(|ip| ip.as_str().is_some_and(|ip| ip != "0.0.0.0"))
        {
            return Err(refusal(
                resource,
                ip.span,
                "publishes a port on one host address, which a swarm cannot: it publishes on every address of its nodes",
                "drop host-ip in the overlay of the swarm environment (a firewall keeps the port private)",
            ));
        }
    }
    Ok(())
}

/// The `image` field of a service that runs an image the stack builds without `push`, with
/// that image's address: only the node that built it has it.
pub(crate) fn unpushed_image<'a>(
    resource: &'a Resource,
    resolve: &dyn Resolve,
) -> Option<(&'a Value, &'a Address)> {
    let image = resource.field("image")?;
    let address = image.as_ref().filter(|address| address.kind == "image")?;
    let built = resolve.desired(address)?;
    built.config.get("push").is_none().then_some((image, address))
}

/// The refusal of an image built on one node for a swarm of `nodes`: the others cannot pull
/// it, so its tasks there would never start.
pub(crate) fn built_on_one_node(
    resource: &Resource,
    image: &Value,
    built: &Address,
    nodes: usize,
) -> Diagnostic {
    refusal(
        resource,
        image.span,
        &format!(
            "runs `{built}`, which is built on this node only: the other {} of the swarm cannot pull it",
            match nodes - 1 {
                1 => "node".to_owned(),
                others => format!("{others} nodes"),
            }
        ),
        &format!(
            "add `push \"REGISTRY/REPOSITORY\"` to `{built}`, a registry every node reaches: the tasks then run \
             it by digest"
        ),
    )
}

fn refusal(resource: &Resource, span: Span, problem: &str, help: &str) -> Diagnostic {
    Diagnostic::error("stack::not_on_swarm", format!("{} {problem}", resource.address))
        .primary(span, "not on a swarm")
        .help(help.to_owned())
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use stack_docker::service::{
        EndpointSpecModeEnum, MountType, ServiceSpecUpdateConfigOrderEnum, TaskSpecRestartPolicyConditionEnum,
    };

    use super::*;
    use stack_providers::common::testing::resource;
    use stack_providers::fixtures;

    use crate::service::resolved_for_tests;

    const FULL: &str = r#"
stack "shop"
network "backend" { driver "overlay"; }
volume "data"
image "api" { context "."; }
secret "token" { from-env "TOKEN"; }
service "api" {
    image "${image.api}"
    command "serve" "--port" "80"
    entrypoint "/stack-demo"
    env { MODE "fast"; PORT 80; }
    port 8080 target=80 mode="host"
    volume "data" target="/data"
    tmpfs "/tmp" size="64MiB" mode=0o1777
    network "backend" { aliases "api-v1"; }
    secret "token" target="api-token" mode=0o400 uid=1000
    restart "on-failure" max-retries=5
    resources {
        cpus 0.5
        memory "512MiB"
        memory-reservation "256MiB"
    }
    user "1000:1000"
    workdir "/app"
    labels { tier "backend"; }
    replicas 3
    init #true
    cap-drop "ALL"
    stop-grace-period "3s"
    endpoint-mode "dnsrr"
    placement {
        constraints "node.role==worker"
        spread "node.labels.zone"
    }
    probe {
        exec "/stack-demo" "probe" "http://127.0.0.1:80/health"
        interval "1s"
        retries 5
    }
    update {
        order "start-first"
        parallelism 2
        delay "2s"
        monitor "4s"
        failure-action "pause"
        max-failure-ratio 0.5
    }
}
"#;

    fn read(
        text: &str,
        kind: &'static str,
        mode: Mode,
    ) -> (Result<SwarmService, Diagnostic>, tempfile::TempDir) {
        let (stack, dir) = fixtures::load(text, &[]);
        let resource = resource(&stack, kind, "api");
        (
            SwarmService::from_resource(resource, &resolved_for_tests(&stack), mode),
            dir,
        )
    }

    fn full_spec() -> stack_docker::service::ServiceSpec {
        let (service, _dir) = read(FULL, "service", Mode::Replicated);
        let ids = |name: &str| (name == "shop_token_v1").then(|| "secret-id-1".to_owned());
        let labels = Labels::from([("dev.stack.stack".to_owned(), "shop".to_owned())]);
        let task_labels = Labels::from([("dev.stack.address".to_owned(), "service.api".to_owned())]);
        service
            .unwrap()
            .service_spec("shop_api", labels, task_labels, &ids)
    }

    #[test]
    fn a_service_becomes_one_swarm_service() {
        let spec = full_spec();
        assert_eq!(spec.name.as_deref(), Some("shop_api"));
        assert_eq!(spec.labels.as_ref().unwrap()["dev.stack.stack"], "shop");
        let mode = spec.mode.clone().unwrap();
        assert_eq!(mode.replicated.unwrap().replicas, Some(3));
        let task = spec.task_template.clone().unwrap();
        let container = task.container_spec.clone().unwrap();
        assert_eq!(container.image.as_deref(), Some("shop_api:abc123"));
        assert_eq!(container.command, Some(vec!["/stack-demo".to_owned()]));
        assert_eq!(
            container.args,
            Some(vec!["serve".to_owned(), "--port".to_owned(), "80".to_owned()])
        );
        assert_eq!(
            container.env,
            Some(vec!["MODE=fast".to_owned(), "PORT=80".to_owned()])
        );
        let labels = container.labels.clone().unwrap();
        assert_eq!(
            (labels["tier"].as_str(), labels["dev.stack.address"].as_str()),
            ("backend", "service.api")
        );
        assert_eq!(container.user.as_deref(), Some("1000:1000"));
        assert_eq!(container.dir.as_deref(), Some("/app"));
        assert_eq!((container.init, container.read_only), (Some(true), Some(false)));
        assert_eq!(container.capability_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(container.stop_grace_period, Some(3_000_000_000));
        let health = container.health_check.clone().unwrap();
        assert_eq!(
            health.test.unwrap(),
            ["CMD", "/stack-demo", "probe", "http://127.0.0.1:80/health"]
        );
        assert_eq!((health.interval, health.retries), (Some(1_000_000_000), Some(5)));

        let mounts = container.mounts.clone().unwrap();
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        assert_eq!(mounts[0].source.as_deref(), Some("shop_data"));
        assert_eq!(mounts[1].typ, Some(MountType::TMPFS));
        assert_eq!(
            mounts[1].tmpfs_options.as_ref().unwrap().size_bytes,
            Some(64 << 20)
        );

        let secret = &container.secrets.clone().unwrap()[0];
        assert_eq!(secret.secret_name.as_deref(), Some("shop_token_v1"));
        assert_eq!(secret.secret_id.as_deref(), Some("secret-id-1"));
        let file = secret.file.clone().unwrap();
        assert_eq!(
            (file.name.as_deref(), file.mode, file.uid.as_deref()),
            (Some("api-token"), Some(0o400), Some("1000"))
        );

        let resources = task.resources.clone().unwrap();
        assert_eq!(resources.limits.unwrap().nano_cpus, Some(500_000_000));
        assert_eq!(resources.reservations.unwrap().memory_bytes, Some(256 << 20));
        let restart = task.restart_policy.clone().unwrap();
        assert_eq!(
            (restart.condition, restart.max_attempts),
            (Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE), Some(5))
        );
        let placement = task.placement.clone().unwrap();
        assert_eq!(placement.constraints, Some(vec!["node.role==worker".to_owned()]));
        let spread = placement.preferences.unwrap()[0].spread.clone().unwrap();
        assert_eq!(spread.spread_descriptor.as_deref(), Some("node.labels.zone"));
        let network = &task.networks.clone().unwrap()[0];
        assert_eq!(network.target.as_deref(), Some("shop_backend"));
        assert_eq!(network.aliases, Some(vec!["api".to_owned(), "api-v1".to_owned()]));

        let endpoint = spec.endpoint_spec.clone().unwrap();
        assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::DNSRR));
        // The host port is the proxy's, in front of a start-first service (`front`).
        assert_eq!(endpoint.ports, Some(Vec::new()));

        let update = spec.update_config.clone().unwrap();
        assert_eq!(update.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        assert_eq!((update.parallelism, update.delay), (Some(2), Some(2_000_000_000)));
        assert_eq!(
            (update.monitor, update.max_failure_ratio),
            (Some(4_000_000_000), Some(0.5))
        );
        assert_eq!(
            update.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE)
        );
        let rollback = spec.rollback_config.unwrap();
        assert_eq!(
            rollback.order,
            Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST)
        );
    }

    #[test]
    fn defaults_are_swarm_defaults() {
        let (service, _dir) = read(
            "stack \"shop\"\nservice \"api\" { image \"demo:1\"; }\n",
            "service",
            Mode::Replicated,
        );
        let spec = service
            .unwrap()
            .service_spec("shop_api", Labels::new(), Labels::new(), &|_| None);
        let endpoint = spec.endpoint_spec.unwrap();
        assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::VIP));
        let task = spec.task_template.unwrap();
        assert_eq!(
            task.restart_policy.unwrap().condition,
            Some(TaskSpecRestartPolicyConditionEnum::ANY)
        );
        assert_eq!(task.container_spec.unwrap().health_check, None);
        // With no probe, a task counts as failed within a second of its start.
        assert_eq!(spec.update_config.unwrap().monitor, Some(1_000_000_000));
    }

    #[test]
    fn a_job_runs_to_completion_and_retries_as_asked() {
        let (job, _dir) = read(
            "stack \"shop\"\njob \"api\" { image \"demo:1\"; retries 2; }\n",
            "job",
            Mode::Job,
        );
        let spec = job
            .unwrap()
            .service_spec("shop_api", Labels::new(), Labels::new(), &|_| None);
        let job = spec.mode.unwrap().replicated_job.unwrap();
        assert_eq!((job.max_concurrent, job.total_completions), (Some(1), Some(1)));
        let restart = spec.task_template.unwrap().restart_policy.unwrap();
        assert_eq!(
            (restart.condition, restart.max_attempts),
            (Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE), Some(2))
        );
        assert!(spec.update_config.is_none() && spec.rollback_config.is_none());
    }

    /// Each refusal names the service and points at the field that asks for what a swarm lacks.
    #[test]
    fn what_a_swarm_cannot_do_is_refused_at_its_field() {
        let cases = [
            (
                "update { strategy \"blue-green\"; }",
                "\"blue-green\"",
                "update strategy",
            ),
            ("update { strategy \"canary\"; }", "\"canary\"", "update strategy"),
            (
                "update { order \"start-first\"; surge \"25%\"; }",
                "\"25%\"",
                "surge",
            ),
            (
                "probe { http \"http://127.0.0.1/\"; }",
                "\"http://127.0.0.1/\"",
                "probe a swarm cannot run",
            ),
            (
                "port 80 host-ip=\"127.0.0.1\"",
                "\"127.0.0.1\"",
                "one host address",
            ),
            ("endpoint-mode \"dnsrr\"\n    port 80", "port", "routing mesh"),
            (
                "network \"backend\" { ipv4-address \"10.0.0.5\"; }",
                "\"10.0.0.5\"",
                "fixed address",
            ),
            (
                "port 8081 target=80 mode=\"host\"\n    update { order \"start-first\"; }",
                "port",
                "joins no network",
            ),
        ];
        for (field, spanned, words) in cases {
            let text = format!(
                "stack \"shop\"\nnetwork \"backend\" {{ subnet \"10.0.0.0/24\"; }}\nservice \"api\" {{\n    image \"demo:1\"\n    {field}\n}}\n"
            );
            let (service, _dir) = read(&text, "service", Mode::Replicated);
            let problem = service.unwrap_err();
            assert_eq!(problem.code, "stack::not_on_swarm", "{field}");
            assert!(problem.message.starts_with("service.api "), "{}", problem.message);
            assert!(problem.message.contains(words), "{field}: {}", problem.message);
            let span = problem.labels[0].span;
            assert_eq!(&text[span.start as usize..span.end as usize], spanned, "{field}");
        }
    }

    #[test]
    fn an_image_built_without_push_is_named_with_the_nodes_that_cannot_pull_it() {
        let text = "stack \"shop\"\nimage \"api\" { context \".\"; }\nservice \"api\" { image \"${image.api}\"; }\nservice \"web\" { image \"demo:1\"; }\n";
        let (stack, _dir) = fixtures::load(text, &[]);
        let resolved = resolved_for_tests(&stack);
        let api = resource(&stack, "service", "api");
        let (image, built) = unpushed_image(api, &resolved).unwrap();
        assert_eq!(built.to_string(), "image.api");
        let refused = built_on_one_node(api, image, built, 3);
        assert_eq!(refused.code, "stack::not_on_swarm");
        assert!(
            refused.message.contains("the other 2 nodes"),
            "{}",
            refused.message
        );
        let span = refused.labels[0].span;
        assert_eq!(&text[span.start as usize..span.end as usize], "\"${image.api}\"");
        // An image of a registry is pulled by every node.
        assert!(unpushed_image(resource(&stack, "service", "web"), &resolved).is_none());

        /// The image `api` as pushed.
        struct Pushed(stack_provider::Desired);
        impl Resolve for Pushed {
            fn desired(&self, address: &Address) -> Option<&stack_provider::Desired> {
                (address == &self.0.address).then_some(&self.0)
            }
        }
        let mut pushed = resolved.desired(built).unwrap().clone();
        pushed.config.0.insert(
            "push".to_owned(),
            stack_provider::Setting::Plain(serde_json::json!("127.0.0.1:5000/api")),
        );
        assert!(unpushed_image(api, &Pushed(pushed)).is_none());
    }
}
