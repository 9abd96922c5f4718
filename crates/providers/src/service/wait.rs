//! Waiting until every replica of a service has reached a condition: started, healthy, or
//! completed (a one-shot job that exited with 0).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::join_all;
use stack_docker::{ContainerInfo, ContainerStatus, DockerClient, HealthStatus, RestartPolicy};
use stack_language::{Address, Condition};
use stack_provider::ProviderError;
use tokio::time::Instant;

use super::config::DEFAULT_NETWORK;
use super::host_check;
use super::live::status_word;
use super::spec::{Check, Probe, ServiceSpec};
use crate::common;

/// The containers this process created, and when it started each. Docker restarts a container
/// whose process exited as its policy asks, and it may be running again when looked at: one of
/// these that was restarted at all has crashed. (An older container may have restarted once,
/// long ago.)
#[derive(Default)]
pub struct Created(Mutex<HashMap<String, Option<Instant>>>);

impl Created {
    pub fn insert(&self, name: &str) {
        self.with(|names| {
            names.insert(name.to_owned(), None);
        });
    }

    /// Marks `name` started now: its steady window counts from here, so that a later wait (the
    /// checks at the end of an apply) does not sit through it again.
    pub fn started(&self, name: &str) {
        self.with(|names| {
            if let Some(at) = names.get_mut(name) {
                *at = Some(Instant::now());
            }
        });
    }

    /// `from`, renamed `to`, is still a container this process made.
    pub fn renamed(&self, from: &str, to: &str) {
        self.with(|names| {
            if let Some(at) = names.get(from).copied() {
                names.insert(to.to_owned(), at);
            }
        });
    }

    pub fn contains(&self, name: &str) -> bool {
        self.with(|names| names.contains_key(name))
    }

    fn started_at(&self, name: &str) -> Option<Instant> {
        self.with(|names| names.get(name).copied().flatten())
    }

    fn with<T>(&self, work: impl FnOnce(&mut HashMap<String, Option<Instant>>) -> T) -> T {
        work(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// How long a container without a probe must be seen running to count as healthy: a program
/// that fails at once (a bad argument, a missing file) has exited or been restarted by then.
/// Every apply that starts one waits this long at its end, so it stays short.
const STEADY: Duration = Duration::from_millis(250);

/// Inspect is cheap; this keeps a wait within a fraction of a probe interval.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The shortest interval at which stack checks an `http` or `tcp` probe itself.
const MIN_PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// Waits for every container in `names` (the service's replicas) to reach `condition`, for at
/// most `timeout`; the error names the service, the replica, the probe and its last output.
pub async fn all(
    docker: &DockerClient,
    address: &Address,
    spec: &ServiceSpec,
    names: &[String],
    condition: Condition,
    timeout: Duration,
    created: &Created,
) -> Result<(), ProviderError> {
    let give_up_at = Instant::now() + timeout;
    let waits = names.iter().map(|name| {
        let replica = Waiter {
            docker,
            address,
            spec,
            name,
            give_up_at,
            timeout,
            created_here: created.contains(name),
            started_here: created.started_at(name),
        };
        async move { replica.wait(condition).await }
    });
    join_all(waits).await.into_iter().collect()
}

/// Watches replica `name` for `period` once it is ready: it fails the moment the container
/// stops, or its probe fails `retries` times in a row (Docker's verdict for an `exec` probe,
/// stack's own checks for `http` and `tcp`).
pub async fn stays_up(
    docker: &DockerClient,
    address: &Address,
    spec: &ServiceSpec,
    name: &str,
    period: Duration,
) -> Result<(), ProviderError> {
    if period.is_zero() {
        return Ok(());
    }
    let watcher = Waiter {
        docker,
        address,
        spec,
        name,
        give_up_at: Instant::now() + period,
        timeout: period,
        created_here: false,
        started_here: None,
    };
    watcher.watch().await
}

struct Waiter<'a> {
    docker: &'a DockerClient,
    address: &'a Address,
    spec: &'a ServiceSpec,
    name: &'a str,
    give_up_at: Instant,
    timeout: Duration,
    created_here: bool,
    /// When this process started the replica.
    started_here: Option<Instant>,
}

/// What a wait saw last, for the message when it gives up.
struct Seen {
    state: String,
    output: Option<String>,
}

impl Waiter<'_> {
    async fn wait(&self, condition: Condition) -> Result<(), ProviderError> {
        match (condition, &self.spec.probe) {
            (Condition::Exists, _) => Ok(()),
            (Condition::Healthy, Some(probe)) if matches!(probe.check, Check::Exec(_)) => {
                self.docker_healthy(probe).await
            }
            (Condition::Healthy, Some(probe)) => self.host_healthy(probe).await,
            (Condition::Completed, _) => self.completed().await,
            (Condition::Started | Condition::Healthy, _) => self.started(condition).await,
        }
    }

    /// Until `give_up_at`, which here is success: the replica stayed up all along.
    async fn watch(&self) -> Result<(), ProviderError> {
        let mut failures = 0;
        while Instant::now() < self.give_up_at {
            let info = self.inspect().await?;
            if info.status != ContainerStatus::Running {
                return Err(self.stopped(&info, Condition::Healthy).await);
            }
            let mut interval = POLL_INTERVAL;
            match &self.spec.probe {
                // Docker checks an `exec` probe; stack checks the others itself.
                Some(probe) if matches!(probe.check, Check::Exec(_)) => {
                    let output = info.last_health_output.as_deref().unwrap_or("nothing");
                    if info.health == Some(HealthStatus::Unhealthy) {
                        return Err(self.unhealthy(probe, output, None).await);
                    }
                }
                Some(probe) => {
                    interval = probe.interval.max(MIN_PROBE_INTERVAL);
                    if let Err(said) = self.check_from_host(probe, &info).await {
                        failures += 1;
                        if failures >= probe.retries.max(1) {
                            return Err(self.unhealthy(probe, &said, Some(failures)).await);
                        }
                    } else {
                        failures = 0;
                    }
                }
                None => {}
            }
            tokio::time::sleep(interval.min(self.give_up_at.saturating_duration_since(Instant::now()))).await;
        }
        Ok(())
    }

    /// One check of an `http` or `tcp` probe against the replica's address.
    async fn check_from_host(&self, probe: &Probe, info: &ContainerInfo) -> Result<(), String> {
        let address = self
            .first_address(info)
            .ok_or_else(|| format!("replica `{}` has no IPv4 address", self.name))?;
        let target = host_check::target(&probe.check, address, &self.own_names()).await?;
        host_check::run(&target, probe.timeout).await
    }

    /// Running, or already finished with 0 as a one-shot job may be by now. To count as healthy
    /// without a probe, a container this process created must be running [`STEADY`] after it
    /// started, never restarted.
    async fn started(&self, condition: Condition) -> Result<(), ProviderError> {
        let must_stay_up = self.created_here && condition == Condition::Healthy;
        let mut running_since = None;
        let mut interval = POLL_INTERVAL;
        loop {
            let info = self.inspect().await?;
            if info.status == ContainerStatus::Exited && info.exit_code == Some(0) && !restarts(&info) {
                return Ok(());
            }
            if crashed(&info, self.created_here) {
                return Err(self.stopped(&info, condition).await);
            }
            if info.status == ContainerStatus::Running {
                let since =
                    *running_since.get_or_insert_with(|| self.started_here.unwrap_or_else(Instant::now));
                let steady_in = STEADY.saturating_sub(since.elapsed());
                if !must_stay_up || steady_in.is_zero() {
                    return Ok(());
                }
                interval = POLL_INTERVAL.min(steady_in);
            }
            let seen = Seen {
                state: info_state(&info),
                output: None,
            };
            self.pause(condition, seen, interval).await?;
        }
    }

    async fn completed(&self) -> Result<(), ProviderError> {
        loop {
            let info = self.inspect().await?;
            match (info.status, info.exit_code) {
                (ContainerStatus::Exited, Some(0)) => return Ok(()),
                (ContainerStatus::Exited | ContainerStatus::Dead, _) => {
                    return Err(self.stopped(&info, Condition::Completed).await);
                }
                _ => {}
            }
            let seen = Seen {
                state: info_state(&info),
                output: None,
            };
            self.pause(Condition::Completed, seen, POLL_INTERVAL).await?;
        }
    }

    /// Docker runs an `exec` probe; its health status says when the replica is healthy.
    async fn docker_healthy(&self, probe: &Probe) -> Result<(), ProviderError> {
        loop {
            let info = self.inspect().await?;
            if crashed(&info, self.created_here) {
                return Err(self.stopped(&info, Condition::Healthy).await);
            }
            match info.health {
                Some(HealthStatus::Healthy) => return Ok(()),
                Some(HealthStatus::Unhealthy) => {
                    let output = info.last_health_output.as_deref().unwrap_or("nothing");
                    return Err(self.unhealthy(probe, output, None).await);
                }
                _ => {}
            }
            let seen = Seen {
                state: info_state(&info),
                output: info.last_health_output.clone(),
            };
            self.pause(Condition::Healthy, seen, POLL_INTERVAL).await?;
        }
    }

    /// Checks an `http` or `tcp` probe from the host, as Docker would run it: a pass makes the
    /// replica healthy; `retries` failures in a row after `start-period` make it unhealthy.
    /// Checks start one probe interval apart; the container is inspected after a failed check
    /// rather than before each one, so that the check that passes comes at its time.
    async fn host_healthy(&self, probe: &Probe) -> Result<(), ProviderError> {
        let started = Instant::now();
        let interval = probe.interval.max(MIN_PROBE_INTERVAL);
        let mut failures = 0;
        let own_names = self.own_names();
        let mut info = self.inspect().await?;
        loop {
            let checked_at = Instant::now();
            if crashed(&info, self.created_here) {
                return Err(self.stopped(&info, Condition::Healthy).await);
            }
            let mut output = None;
            if info.status == ContainerStatus::Running {
                let Some(address) = self.first_address(&info) else {
                    return Err(ProviderError::new(format!(
                        "{}: replica `{}` has no IPv4 address to check its probe `{}` against",
                        self.address, self.name, probe.check
                    ))
                    .with_hint("http and tcp probes are checked from the host: give the service a network, or use an exec probe"));
                };
                let result = match host_check::target(&probe.check, address, &own_names).await {
                    Ok(target) => host_check::run(&target, probe.timeout).await,
                    Err(problem) => return Err(self.unhealthy(probe, &problem, None).await),
                };
                match result {
                    Ok(()) => return Ok(()),
                    Err(said) => {
                        if started.elapsed() >= probe.start_period {
                            failures += 1;
                        }
                        if failures >= probe.retries.max(1) {
                            return Err(self.unhealthy(probe, &said, Some(failures)).await);
                        }
                        output = Some(said);
                    }
                }
            }
            info = self.inspect().await?;
            let seen = Seen {
                state: info_state(&info),
                output,
            };
            // The probe's own interval: a rollout waits on this once per replica.
            self.pause(
                Condition::Healthy,
                seen,
                interval.saturating_sub(checked_at.elapsed()),
            )
            .await?;
        }
    }

    /// The service's host name and aliases, which mean the container itself in a probe.
    fn own_names(&self) -> Vec<String> {
        let mut names = vec![self.spec.host_name.clone()];
        for attachment in &self.spec.networks {
            names.extend(attachment.aliases.iter().cloned());
        }
        names
    }

    /// The replica's address on its first network (Docker's default one when it has none).
    fn first_address(&self, info: &ContainerInfo) -> Option<Ipv4Addr> {
        let first = self
            .spec
            .networks
            .first()
            .map_or(DEFAULT_NETWORK, |attachment| attachment.network.as_str());
        info.networks
            .get(first)
            .and_then(|endpoint| endpoint.ipv4_address)
            .or_else(|| info.networks.values().find_map(|endpoint| endpoint.ipv4_address))
    }

    async fn inspect(&self) -> Result<ContainerInfo, ProviderError> {
        match self.docker.inspect_container(self.name).await {
            Ok(info) => Ok(info),
            Err(error) if error.is_not_found() => Err(ProviderError::new(format!(
                "{}: replica `{}` is gone: it was removed while stack waited for it",
                self.address, self.name
            ))
            .with_hint("apply again to create it")),
            Err(error) => Err(common::error(error)),
        }
    }

    /// Sleeps `interval`, or fails when the deadline has passed.
    async fn pause(&self, condition: Condition, seen: Seen, interval: Duration) -> Result<(), ProviderError> {
        if Instant::now() >= self.give_up_at {
            let mut message = format!(
                "{} did not become {} within {}s: replica `{}` is {}",
                self.address,
                goal(condition),
                self.timeout.as_secs_f32(),
                self.name,
                seen.state
            );
            if let (Some(probe), Some(output)) = (&self.spec.probe, seen.output) {
                message.push_str(&format!("; its probe `{}` said: {output}", probe.check));
            }
            message.push_str(&self.logs().await);
            return Err(ProviderError::new(message).with_hint(format!(
                "see `docker logs {}`; if it only needs longer, raise the readiness timeout",
                self.name
            )));
        }
        tokio::time::sleep(interval.min(self.give_up_at.saturating_duration_since(Instant::now()))).await;
        Ok(())
    }

    async fn stopped(&self, info: &ContainerInfo, condition: Condition) -> ProviderError {
        let exit = info
            .exit_code
            .map_or_else(String::new, |code| format!(" with code {code}"));
        let stopped = match (info.status, info.restart_count) {
            (ContainerStatus::Exited | ContainerStatus::Dead, _) => "stopped".to_owned(),
            (_, 0) => "keeps restarting: it exited".to_owned(),
            (_, count) => format!("was restarted {count} times: it exited"),
        };
        let message = format!(
            "{} did not become {}: replica `{}` {stopped}{exit}{}",
            self.address,
            goal(condition),
            self.name,
            self.logs().await
        );
        let hint = match condition {
            Condition::Completed => format!("see `docker logs {}`", self.name),
            _ => format!(
                "see `docker logs {}`; a one-shot job is waited for with condition=\"completed\"",
                self.name
            ),
        };
        ProviderError::new(message).with_hint(hint)
    }

    async fn unhealthy(&self, probe: &Probe, output: &str, failures: Option<u32>) -> ProviderError {
        let times = failures.map_or_else(String::new, |count| format!(" {count} times in a row"));
        let message = format!(
            "{} is not healthy: replica `{}` failed its probe `{}`{times}; the last check said: {output}{}",
            self.address,
            self.name,
            probe.check,
            self.logs().await
        );
        let hint = match probe.check {
            Check::Exec(_) => format!(
                "check the probe and the service's logs (`docker logs {}`)",
                self.name
            ),
            _ => format!(
                "http and tcp probes are checked from the host against the container's address; \
                 check the probe and the service's logs (`docker logs {}`)",
                self.name
            ),
        };
        ProviderError::new(message).with_hint(hint)
    }

    /// The container's last log lines, to append to a message; nothing when there are none.
    async fn logs(&self) -> String {
        for attempt in 0..2 {
            match self.docker.logs_tail(self.name, 5).await {
                Ok(lines) if !lines.is_empty() => {
                    return format!("\nits last log lines:\n  {}", lines.join("\n  "));
                }
                // The daemon writes a container's last output shortly after it has exited.
                _ if attempt == 0 => tokio::time::sleep(POLL_INTERVAL).await,
                _ => {}
            }
        }
        String::new()
    }
}

/// Exited, restarting after an exit, or, for a container this process created, restarted at
/// all: its process did not keep running.
fn crashed(info: &ContainerInfo, created_here: bool) -> bool {
    matches!(
        info.status,
        ContainerStatus::Exited | ContainerStatus::Dead | ContainerStatus::Restarting
    ) || (created_here && info.restart_count > 0)
}

fn restarts(info: &ContainerInfo) -> bool {
    match info.restart {
        RestartPolicy::No => false,
        RestartPolicy::OnFailure { .. } => info.exit_code != Some(0),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
    }
}

fn info_state(info: &ContainerInfo) -> String {
    let health = match info.health {
        Some(HealthStatus::Starting) => ", its health check starting",
        Some(HealthStatus::Unhealthy) => ", unhealthy",
        _ => "",
    };
    let status = status_word(info.status);
    format!("{status}{health}")
}

fn goal(condition: Condition) -> &'static str {
    match condition {
        Condition::Exists => "present",
        Condition::Started => "started",
        Condition::Healthy => "healthy",
        Condition::Completed => "complete",
    }
}

#[cfg(test)]
mod tests {
    use stack_docker::ContainerStatus;
    use stack_language::Address;

    use super::crashed;
    use crate::service::fixtures;

    #[test]
    fn a_replica_that_exited_or_was_restarted_has_crashed() {
        let (stack, _dir) = fixtures::load(
            "stack \"shop\"\nservice \"api\" {\n    image \"demo:1\"\n}\n",
            &[],
        );
        let (spec, config) = fixtures::desired(&stack, "api");
        let mut info = fixtures::container("shop", &Address::new(&[], "service", "api"), &spec, &config, 1);
        let mut crashed_when = |status| {
            info.status = status;
            crashed(&info, false)
        };
        assert!(!crashed_when(ContainerStatus::Running));
        assert!(!crashed_when(ContainerStatus::Created));
        assert!(crashed_when(ContainerStatus::Restarting));
        assert!(crashed_when(ContainerStatus::Exited));
        assert!(crashed_when(ContainerStatus::Dead));
    }
}
