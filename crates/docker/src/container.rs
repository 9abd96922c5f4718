//! Container lifecycle: create, start, stop, rename, update in place, inspect, list, remove.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummaryStateEnum, ContainerUpdateBody,
    HealthStatusEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RenameContainerOptions, StartContainerOptions, StopContainerOptions,
};

use crate::client::DockerClient;
use crate::container_spec::{ContainerSpec, Mount, PortBinding, Resources, RestartPolicy};
use crate::error::{ObjectRef, Result};
use crate::labels::{self, LabelFilter, Labels};

/// How the daemon words the runtime's refusal to update a container's process.
const RUNTIME_REFUSED_UPDATE: &str = "Cannot update container";
/// How often an update the runtime refused is tried again, 25 ms apart.
const RUNTIME_REFUSED_UPDATE_RETRIES: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

/// One container as a list returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub image: String,
    pub status: ContainerStatus,
    pub labels: Labels,
}

/// What inspect tells about a container, in the terms of [`ContainerSpec`]. The fields of the
/// container's config (command, entrypoint, env, labels, user, workdir, stop signal) include
/// what the image defines, so they can hold more than the spec gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// When it was created, as the daemon writes it (RFC 3339).
    pub created: String,
    /// The image reference the container was created from.
    pub image: String,
    pub image_id: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub labels: Labels,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<Duration>,
    pub ports: Vec<PortBinding>,
    pub mounts: Vec<Mount>,
    pub init: bool,
    pub read_only: bool,
    pub status: ContainerStatus,
    pub exit_code: Option<i64>,
    /// When it last exited, as the daemon writes it (RFC 3339); `None` before it has.
    pub finished_at: Option<String>,
    /// `None` when the container has no health check.
    pub health: Option<HealthStatus>,
    /// The output of the latest health probe, for error messages.
    pub last_health_output: Option<String>,
    /// Attached networks by name.
    pub networks: BTreeMap<String, ContainerEndpoint>,
    pub restart: RestartPolicy,
    /// How many times the daemon restarted it after its process exited.
    pub restart_count: u32,
    pub resources: Resources,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEndpoint {
    /// The address the container has, fixed or given by the daemon.
    pub ipv4_address: Option<Ipv4Addr>,
    /// The address it was given at attach time, when it was fixed.
    pub fixed_ipv4_address: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
}

impl DockerClient {
    /// Creates the container (not started) and joins all its networks; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(options), spec.create_body())
            .await
            .map_err(self.error(ObjectRef::container(&spec.name)))?;
        for attachment in spec.networks.iter().skip(1) {
            if let Err(error) = self.connect_network(&created.id, attachment).await {
                // Leave nothing half-made behind: the caller sees the create as failed.
                let _ = self.remove_container(&created.id, true).await;
                return Err(error);
            }
        }
        Ok(created.id)
    }

    /// Starts the container. A taken host port is [`DockerError::PortAllocated`]; the
    /// container then stays `created`, and the caller decides whether to remove it.
    pub async fn start_container(&self, name: &str) -> Result<()> {
        self.docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(self.error(ObjectRef::container(name)))
    }

    /// Sends the stop signal, then kills after `timeout`. Stopping a stopped container is fine.
    pub async fn stop_container(&self, name: &str, timeout: Duration) -> Result<()> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        self.docker
            .stop_container(name, Some(options))
            .await
            .map_err(self.error(ObjectRef::container(name)))
    }

    /// Removes the container with its anonymous volumes; `force` kills it first if it runs.
    pub async fn remove_container(&self, name: &str, force: bool) -> Result<()> {
        let options = RemoveContainerOptions {
            force,
            v: true,
            link: false,
        };
        self.docker
            .remove_container(name, Some(options))
            .await
            .map_err(self.error(ObjectRef::container(name)))
    }

    /// Renames a container, running or not; a taken name is [`DockerError::Conflict`].
    pub async fn rename_container(&self, name: &str, new_name: &str) -> Result<()> {
        let options = RenameContainerOptions {
            name: new_name.to_string(),
        };
        self.docker
            .rename_container(name, options)
            .await
            .map_err(|error| match error {
                // The conflict is about the new name, the rest about the container being renamed.
                bollard::errors::Error::DockerResponseServerError { status_code: 409, .. } => {
                    self.error(ObjectRef::container(new_name))(error)
                }
                error => self.error(ObjectRef::container(name))(error),
            })
    }

    /// Changes limits (and the restart policy) of a container in place, running or not.
    /// Docker reads an absent value as "unchanged", so a limit can be changed but not lifted
    /// this way: lifting one means recreating the container.
    pub async fn update_container(
        &self,
        name: &str,
        resources: &Resources,
        restart: RestartPolicy,
    ) -> Result<()> {
        let update = ContainerUpdateBody {
            memory: resources.memory_limit,
            memory_swap: resources.memory_swap(),
            memory_reservation: resources.memory_reservation,
            nano_cpus: resources.nano_cpus(),
            cpu_shares: resources.cpu_shares,
            restart_policy: Some(restart.docker_policy()),
            ..Default::default()
        };
        // A container that exits while Docker updates it fails the update: the runtime finds
        // its process stopped, deleted or not running before the daemon has seen the exit, and
        // words that in several ways. Once the daemon has seen it, an update is only a change
        // of configuration, so the same update is tried again; a lasting failure still shows.
        let mut attempts = 0;
        loop {
            match self.docker.update_container(name, update.clone()).await {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 500,
                    message,
                }) if message.starts_with(RUNTIME_REFUSED_UPDATE)
                    && attempts < RUNTIME_REFUSED_UPDATE_RETRIES =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                answer => return answer.map_err(self.error(ObjectRef::container(name))),
            }
        }
    }

    pub async fn inspect_container(&self, name: &str) -> Result<ContainerInfo> {
        let inspected = self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .map_err(self.error(ObjectRef::container(name)))?;
        Ok(container_info(inspected))
    }

    /// Inspects the containers at once, each in a task of its own: decoding an
    /// inspect is CPU work, and tasks spread it over the runtime's threads.
    /// The answers come in the order of `ids`.
    pub async fn inspect_containers<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Result<ContainerInfo>> {
        let tasks: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let (client, id) = (self.clone(), id.to_owned());
                tokio::spawn(async move { client.inspect_container(&id).await })
            })
            .collect();
        let mut inspected = Vec::with_capacity(tasks.len());
        for task in tasks {
            match task.await {
                Ok(answer) => inspected.push(answer),
                // A task is cancelled only as the runtime shuts down, when nobody awaits this.
                Err(error) => std::panic::resume_unwind(
                    error
                        .try_into_panic()
                        .unwrap_or_else(|_| Box::new("an inspect task was cancelled")),
                ),
            }
        }
        inspected
    }

    /// All containers carrying the label, stopped ones included, in one request.
    pub async fn list_containers(&self, filter: &LabelFilter) -> Result<Vec<ContainerSummary>> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(filter.to_filters()),
            ..Default::default()
        };
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(self.error(ObjectRef::container(format!(
                "label {}={}",
                filter.key, filter.value
            ))))?;
        Ok(containers
            .into_iter()
            .map(|container| ContainerSummary {
                id: container.id.unwrap_or_default(),
                name: container
                    .names
                    .and_then(|names| names.into_iter().next())
                    .map(|name| name.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: container.image.unwrap_or_default(),
                status: summary_status(container.state),
                labels: labels::from_hash_map(container.labels),
            })
            .collect())
    }
}

fn container_info(inspected: ContainerInspectResponse) -> ContainerInfo {
    let config = inspected.config.unwrap_or_default();
    let host = inspected.host_config.unwrap_or_default();
    let state = inspected.state.unwrap_or_default();
    let health = state.health.unwrap_or_default();
    let networks = inspected
        .network_settings
        .and_then(|settings| settings.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(network, endpoint)| {
            let ipv4_address = endpoint.ip_address.and_then(|address| address.parse().ok());
            let fixed_ipv4_address = endpoint
                .ipam_config
                .and_then(|ipam| ipam.ipv4_address)
                .and_then(|address| address.parse().ok());
            (
                network,
                ContainerEndpoint {
                    ipv4_address,
                    fixed_ipv4_address,
                    aliases: endpoint.aliases.unwrap_or_default(),
                },
            )
        })
        .collect();
    ContainerInfo {
        id: inspected.id.unwrap_or_default(),
        created: inspected.created.unwrap_or_default(),
        name: inspected
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        image_id: inspected.image.unwrap_or_default(),
        command: config.cmd,
        entrypoint: config.entrypoint,
        labels: labels::from_hash_map(config.labels),
        env: config
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                None => (pair, String::new()),
            })
            .collect(),
        user: config.user.filter(|user| !user.is_empty()),
        workdir: config.working_dir.filter(|workdir| !workdir.is_empty()),
        stop_signal: config.stop_signal.filter(|signal| !signal.is_empty()),
        stop_timeout: config
            .stop_timeout
            .and_then(|seconds| u64::try_from(seconds).ok())
            .map(Duration::from_secs),
        ports: PortBinding::from_port_map(host.port_bindings.unwrap_or_default()),
        mounts: host
            .mounts
            .unwrap_or_default()
            .iter()
            .filter_map(Mount::from_docker)
            .collect(),
        init: host.init.unwrap_or_default(),
        read_only: host.readonly_rootfs.unwrap_or_default(),
        status: inspect_status(state.status),
        exit_code: state.exit_code,
        // The daemon writes the zero time for a container that never exited.
        finished_at: state.finished_at.filter(|time| !time.starts_with("0001-")),
        health: match health.status {
            Some(HealthStatusEnum::STARTING) => Some(HealthStatus::Starting),
            Some(HealthStatusEnum::HEALTHY) => Some(HealthStatus::Healthy),
            Some(HealthStatusEnum::UNHEALTHY) => Some(HealthStatus::Unhealthy),
            _ => None,
        },
        last_health_output: health
            .log
            .and_then(|log| log.into_iter().last())
            .and_then(|result| result.output)
            .map(|output| output.trim_end().to_string()),
        networks,
        restart: RestartPolicy::from_docker(host.restart_policy.as_ref()),
        restart_count: inspected
            .restart_count
            .and_then(|count| u32::try_from(count).ok())
            .unwrap_or(0),
        resources: Resources {
            // The daemon reports "no limit" as 0.
            memory_limit: host.memory.filter(|memory| *memory > 0),
            memory_reservation: host.memory_reservation.filter(|memory| *memory > 0),
            cpus: host
                .nano_cpus
                .filter(|nanos| *nanos > 0)
                .map(|nanos| nanos as f64 / 1e9),
            cpu_shares: host.cpu_shares.filter(|shares| *shares > 0),
        },
    }
}

fn inspect_status(status: Option<ContainerStateStatusEnum>) -> ContainerStatus {
    match status {
        // `stopping` is newer than API 1.41; the process still runs until it ends.
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::STOPPING) => {
            ContainerStatus::Running
        }
        Some(ContainerStateStatusEnum::PAUSED) => ContainerStatus::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerStatus::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerStatus::Removing,
        Some(ContainerStateStatusEnum::EXITED) => ContainerStatus::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerStatus::Dead,
        Some(ContainerStateStatusEnum::CREATED | ContainerStateStatusEnum::EMPTY) | None => {
            ContainerStatus::Created
        }
    }
}

fn summary_status(state: Option<ContainerSummaryStateEnum>) -> ContainerStatus {
    match state {
        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::STOPPING) => {
            ContainerStatus::Running
        }
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerStatus::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerStatus::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerStatus::Removing,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerStatus::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerStatus::Dead,
        Some(ContainerSummaryStateEnum::CREATED | ContainerSummaryStateEnum::EMPTY) | None => {
            ContainerStatus::Created
        }
    }
}
