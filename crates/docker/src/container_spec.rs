//! What a container should be, in stack's terms, and its translation to the create request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, Mount as DockerMount, MountTmpfsOptions, MountType,
    NetworkingConfig, PortBinding as DockerPortBinding, RestartPolicy as DockerRestartPolicy,
    RestartPolicyNameEnum,
};

use crate::labels::{self, Labels};
use crate::network::NetworkAttachment;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// Replaces the image's `CMD` when set.
    pub command: Option<Vec<String>>,
    /// Replaces the image's `ENTRYPOINT` when set.
    pub entrypoint: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub labels: Labels,
    pub ports: Vec<PortBinding>,
    pub mounts: Vec<Mount>,
    /// The first network is joined at create; API 1.41 takes only one there, so the others are
    /// connected right after, before the container starts.
    pub networks: Vec<NetworkAttachment>,
    pub restart: RestartPolicy,
    pub resources: Resources,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// The host name the container sees for itself; Docker's default (the short id) when `None`.
    pub hostname: Option<String>,
    /// Linux capabilities added to and dropped from Docker's default set.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// Runs Docker's init as PID 1: it forwards signals and reaps zombies, so a process that
    /// does not handle SIGTERM itself still stops at once.
    pub init: bool,
    pub read_only: bool,
    pub stop_signal: Option<String>,
    /// How long `docker stop` waits before killing; the daemon's default (10 s) when `None`.
    pub stop_timeout: Option<Duration>,
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Publishes a container port on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub container_port: u16,
    pub protocol: Protocol,
    /// All interfaces when `None`.
    pub host_ip: Option<IpAddr>,
    /// A port the daemon picks when `None`.
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
    Volume {
        source: String,
        target: String,
        read_only: bool,
    },
    Tmpfs {
        target: String,
        size_bytes: Option<i64>,
        mode: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// Restarts after a non-zero exit, at most `max_retries` times (no limit when 0).
    OnFailure {
        max_retries: u32,
    },
}

/// Limits and reservations. Without Swarm, Docker has no CPU reservation: `cpu_shares` (the
/// relative weight under contention) is the nearest it has.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Resources {
    /// Hard limit in bytes. Swap is set equal to it, so the limit is the whole budget.
    pub memory_limit: Option<i64>,
    /// Soft limit in bytes, enforced when the host runs short of memory.
    pub memory_reservation: Option<i64>,
    /// How many CPUs' worth of time the container may use (`1.5`).
    pub cpus: Option<f64>,
    pub cpu_shares: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    pub test: HealthTest,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthTest {
    /// Runs the program directly, e.g. `["/stack-demo", "probe", "http://127.0.0.1:8080/health"]`.
    Exec(Vec<String>),
    /// Runs the line with the image's shell (`/bin/sh -c`).
    Shell(String),
    /// Turns off a health check the image defines.
    Disabled,
}

impl Resources {
    /// The `docker update` memory fields; swap follows the limit (see `memory_limit`).
    pub(crate) fn memory_swap(&self) -> Option<i64> {
        self.memory_limit
    }

    pub(crate) fn nano_cpus(&self) -> Option<i64> {
        self.cpus.map(|cpus| (cpus * 1e9).round() as i64)
    }
}

impl ContainerSpec {
    pub(crate) fn create_body(&self) -> ContainerCreateBody {
        let first_network = self.networks.first();
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: self.command.clone(),
            entrypoint: self.entrypoint.clone(),
            env: Some(
                self.env
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect(),
            ),
            labels: Some(labels::to_hash_map(&self.labels)),
            exposed_ports: Some(
                self.ports
                    .iter()
                    .map(PortBinding::port_key)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            ),
            user: self.user.clone(),
            working_dir: self.workdir.clone(),
            hostname: self.hostname.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout.map(|timeout| timeout.as_secs() as i64),
            healthcheck: self.healthcheck.as_ref().map(Healthcheck::config),
            host_config: Some(self.host_config()),
            networking_config: first_network.map(|attachment| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    attachment.network.clone(),
                    attachment.endpoint_settings(),
                )])),
            }),
            ..Default::default()
        }
    }

    fn host_config(&self) -> HostConfig {
        let mut port_bindings: HashMap<String, Option<Vec<DockerPortBinding>>> = HashMap::new();
        for port in &self.ports {
            let binding = DockerPortBinding {
                host_ip: port.host_ip.map(|ip| ip.to_string()),
                host_port: port.host_port.map(|port| port.to_string()),
            };
            port_bindings
                .entry(port.port_key())
                .or_default()
                .get_or_insert_default()
                .push(binding);
        }
        HostConfig {
            port_bindings: Some(port_bindings),
            mounts: Some(self.mounts.iter().map(Mount::docker_mount).collect()),
            network_mode: self.networks.first().map(|attachment| attachment.network.clone()),
            restart_policy: Some(self.restart.docker_policy()),
            memory: self.resources.memory_limit,
            memory_swap: self.resources.memory_swap(),
            memory_reservation: self.resources.memory_reservation,
            nano_cpus: self.resources.nano_cpus(),
            cpu_shares: self.resources.cpu_shares,
            init: Some(self.init),
            readonly_rootfs: Some(self.read_only),
            cap_add: (!self.cap_add.is_empty()).then(|| self.cap_add.clone()),
            cap_drop: (!self.cap_drop.is_empty()).then(|| self.cap_drop.clone()),
            ..Default::default()
        }
    }
}

impl PortBinding {
    fn port_key(&self) -> String {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        format!("{}/{protocol}", self.container_port)
    }

    /// Reads back `HostConfig.PortBindings`, sorted; keys the daemon would not take are skipped.
    pub(crate) fn from_port_map(
        port_map: HashMap<String, Option<Vec<DockerPortBinding>>>,
    ) -> Vec<PortBinding> {
        let mut ports: Vec<PortBinding> = port_map
            .into_iter()
            .filter_map(|(key, bindings)| {
                let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
                let protocol = match protocol {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    _ => return None,
                };
                let container_port = port.parse().ok()?;
                Some(
                    bindings
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |binding| PortBinding {
                            container_port,
                            protocol,
                            host_ip: binding.host_ip.and_then(|ip| ip.parse().ok()),
                            host_port: binding.host_port.and_then(|port| port.parse().ok()),
                        }),
                )
            })
            .flatten()
            .collect();
        ports.sort_by_key(|port| (port.container_port, port.protocol, port.host_ip, port.host_port));
        ports
    }
}

impl Mount {
    /// Reads back one of `HostConfig.Mounts`; kinds a spec cannot hold are skipped.
    pub(crate) fn from_docker(mount: &DockerMount) -> Option<Mount> {
        let target = mount.target.clone()?;
        let read_only = mount.read_only.unwrap_or_default();
        match mount.typ? {
            MountType::BIND => Some(Mount::Bind {
                source: mount.source.clone()?,
                target,
                read_only,
            }),
            MountType::VOLUME => Some(Mount::Volume {
                source: mount.source.clone()?,
                target,
                read_only,
            }),
            MountType::TMPFS => {
                let options = mount.tmpfs_options.clone().unwrap_or_default();
                let mode = options.mode.and_then(|mode| u32::try_from(mode).ok());
                Some(Mount::Tmpfs {
                    target,
                    size_bytes: options.size_bytes,
                    mode,
                })
            }
            _ => None,
        }
    }

    /// The mount as the engine's API writes it, for a container and a Swarm task alike.
    pub fn docker_mount(&self) -> DockerMount {
        match self {
            Mount::Bind {
                source,
                target,
                read_only,
            } => DockerMount {
                typ: Some(MountType::BIND),
                source: Some(source.clone()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            },
            Mount::Volume {
                source,
                target,
                read_only,
            } => DockerMount {
                typ: Some(MountType::VOLUME),
                source: Some(source.clone()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            },
            Mount::Tmpfs {
                target,
                size_bytes,
                mode,
            } => DockerMount {
                typ: Some(MountType::TMPFS),
                target: Some(target.clone()),
                tmpfs_options: Some(MountTmpfsOptions {
                    size_bytes: *size_bytes,
                    mode: mode.map(i64::from),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }
}

impl RestartPolicy {
    pub(crate) fn docker_policy(&self) -> DockerRestartPolicy {
        let (name, maximum_retry_count) = match self {
            RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
            RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
            RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
            RestartPolicy::OnFailure { max_retries } => {
                (RestartPolicyNameEnum::ON_FAILURE, Some(i64::from(*max_retries)))
            }
        };
        DockerRestartPolicy {
            name: Some(name),
            maximum_retry_count,
        }
    }

    pub(crate) fn from_docker(policy: Option<&DockerRestartPolicy>) -> RestartPolicy {
        let Some(policy) = policy else {
            return RestartPolicy::No;
        };
        match policy.name {
            Some(RestartPolicyNameEnum::ALWAYS) => RestartPolicy::Always,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED) => RestartPolicy::UnlessStopped,
            Some(RestartPolicyNameEnum::ON_FAILURE) => RestartPolicy::OnFailure {
                max_retries: policy
                    .maximum_retry_count
                    .unwrap_or_default()
                    .try_into()
                    .unwrap_or_default(),
            },
            _ => RestartPolicy::No,
        }
    }
}

impl Healthcheck {
    fn config(&self) -> HealthConfig {
        let test = match &self.test {
            HealthTest::Exec(argv) => ["CMD".to_string()]
                .into_iter()
                .chain(argv.iter().cloned())
                .collect(),
            HealthTest::Shell(line) => vec!["CMD-SHELL".to_string(), line.clone()],
            HealthTest::Disabled => vec!["NONE".to_string()],
        };
        let nanos = |duration: Option<Duration>| duration.map(|duration| duration.as_nanos() as i64);
        HealthConfig {
            test: Some(test),
            interval: nanos(self.interval),
            timeout: nanos(self.timeout),
            retries: self.retries.map(i64::from),
            start_period: nanos(self.start_period),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn translates_a_full_spec() {
        let spec = ContainerSpec {
            name: "web".into(),
            image: "demo:1".into(),
            command: Some(vec!["serve".into()]),
            env: BTreeMap::from([("A".into(), "1".into())]),
            ports: vec![
                PortBinding {
                    container_port: 8080,
                    protocol: Protocol::Tcp,
                    host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                    host_port: Some(18080),
                },
                PortBinding {
                    container_port: 8080,
                    protocol: Protocol::Tcp,
                    host_ip: None,
                    host_port: None,
                },
            ],
            mounts: vec![Mount::Tmpfs {
                target: "/tmp".into(),
                size_bytes: Some(1 << 20),
                mode: Some(0o1777),
            }],
            networks: vec![
                NetworkAttachment {
                    network: "front".into(),
                    aliases: vec!["api".into()],
                    ipv4_address: Some(Ipv4Addr::new(10, 1, 0, 5)),
                },
                NetworkAttachment {
                    network: "back".into(),
                    ..Default::default()
                },
            ],
            restart: RestartPolicy::OnFailure { max_retries: 3 },
            resources: Resources {
                memory_limit: Some(64 << 20),
                cpus: Some(0.5),
                ..Default::default()
            },
            stop_timeout: Some(Duration::from_secs(3)),
            hostname: Some("api-host".into()),
            cap_add: vec!["NET_ADMIN".into()],
            healthcheck: Some(Healthcheck {
                test: HealthTest::Exec(vec!["/probe".into()]),
                interval: Some(Duration::from_secs(1)),
                timeout: None,
                retries: Some(2),
                start_period: None,
            }),
            ..Default::default()
        };
        let body = spec.create_body();
        assert_eq!(body.env, Some(vec!["A=1".to_string()]));
        assert_eq!(body.exposed_ports, Some(vec!["8080/tcp".to_string()]));
        assert_eq!(body.stop_timeout, Some(3));
        assert_eq!(body.hostname.as_deref(), Some("api-host"));
        let health = body.healthcheck.unwrap();
        assert_eq!(health.test, Some(vec!["CMD".to_string(), "/probe".to_string()]));
        assert_eq!(health.interval, Some(1_000_000_000));

        let host = body.host_config.unwrap();
        assert_eq!(host.port_bindings.unwrap()["8080/tcp"].as_ref().unwrap().len(), 2);
        assert_eq!(host.network_mode.as_deref(), Some("front"));
        assert_eq!(host.memory_swap, Some(64 << 20));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.restart_policy.unwrap().maximum_retry_count, Some(3));
        assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(host.cap_drop, None);

        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints.len(), 1, "API 1.41 takes one network at create");
        let front = &endpoints["front"];
        assert_eq!(front.aliases, Some(vec!["api".to_string()]));
        assert_eq!(
            front.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
            Some("10.1.0.5")
        );
    }

    #[test]
    fn ports_and_mounts_read_back_as_written() {
        let spec = ContainerSpec {
            ports: vec![
                PortBinding {
                    container_port: 53,
                    protocol: Protocol::Udp,
                    host_ip: None,
                    host_port: Some(5353),
                },
                PortBinding {
                    container_port: 80,
                    protocol: Protocol::Tcp,
                    host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                    host_port: None,
                },
            ],
            mounts: vec![
                Mount::Bind {
                    source: "/srv".into(),
                    target: "/host".into(),
                    read_only: true,
                },
                Mount::Volume {
                    source: "data".into(),
                    target: "/data".into(),
                    read_only: false,
                },
                Mount::Tmpfs {
                    target: "/tmp".into(),
                    size_bytes: None,
                    mode: None,
                },
            ],
            ..Default::default()
        };
        let host = spec.host_config();
        assert_eq!(
            PortBinding::from_port_map(host.port_bindings.unwrap()),
            spec.ports
        );
        let mounts: Vec<Mount> = host
            .mounts
            .unwrap()
            .iter()
            .filter_map(Mount::from_docker)
            .collect();
        assert_eq!(mounts, spec.mounts);
    }

    #[test]
    fn restart_policies_round_trip() {
        for policy in [
            RestartPolicy::No,
            RestartPolicy::Always,
            RestartPolicy::UnlessStopped,
            RestartPolicy::OnFailure { max_retries: 5 },
        ] {
            assert_eq!(RestartPolicy::from_docker(Some(&policy.docker_policy())), policy);
        }
    }
}
