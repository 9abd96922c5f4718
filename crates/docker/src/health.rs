//! Waiting for a container to become healthy, and the log lines that explain why it did not.

use std::time::Duration;

use bollard::query_parameters::LogsOptions;
use futures_util::TryStreamExt;
use tokio::time::Instant;

use crate::client::DockerClient;
use crate::container::{ContainerInfo, ContainerStatus, HealthStatus};
use crate::error::{DockerError, ObjectRef, Result};

/// Inspect is cheap (a few ms); this keeps the wait within a fraction of a probe interval.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

impl DockerClient {
    /// Polls until the health check passes. Fails at once when the container reports
    /// unhealthy, stops, or has no health check, and with [`DockerError::Timeout`] after `deadline`.
    pub async fn wait_healthy(&self, name: &str, deadline: Duration) -> Result<ContainerInfo> {
        let object = ObjectRef::container(name);
        let give_up_at = Instant::now() + deadline;
        loop {
            let info = self.inspect_container(name).await?;
            match (info.status, info.health) {
                (_, Some(HealthStatus::Healthy)) => return Ok(info),
                // Before the health status: a stopped container's last probe only says it failed.
                (ContainerStatus::Exited | ContainerStatus::Dead, _) => {
                    let exit = info
                        .exit_code
                        .map_or_else(String::new, |code| format!(" with code {code}"));
                    let reason = format!("it stopped{exit}{}", self.log_excerpt(name).await);
                    return Err(DockerError::Unhealthy { object, reason });
                }
                (_, None) => {
                    let message = "it has no health check to wait for".to_string();
                    return Err(DockerError::BadParameter { object, message });
                }
                (_, Some(HealthStatus::Unhealthy)) => {
                    let reason = match info.last_health_output {
                        Some(output) => format!("the last health probe said: {output}"),
                        None => "its health probe fails".to_string(),
                    };
                    return Err(DockerError::Unhealthy { object, reason });
                }
                _ if Instant::now() >= give_up_at => {
                    let action = "become healthy".to_string();
                    return Err(DockerError::Timeout {
                        object,
                        action,
                        after: deadline,
                    });
                }
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// The last `lines` lines the container wrote to stdout and stderr, oldest first.
    pub async fn logs_tail(&self, name: &str, lines: usize) -> Result<Vec<String>> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let chunks: Vec<_> = self
            .docker
            .logs(name, Some(options))
            .try_collect()
            .await
            .map_err(self.error(ObjectRef::container(name)))?;
        let text: String = chunks
            .iter()
            .map(|chunk| String::from_utf8_lossy(chunk.as_ref()))
            .collect();
        Ok(text.lines().map(str::to_string).collect())
    }

    /// A few log lines to append to an error message, or nothing if there are none to read.
    async fn log_excerpt(&self, name: &str) -> String {
        match self.logs_tail(name, 5).await {
            Ok(lines) if !lines.is_empty() => format!("; its last log lines:\n  {}", lines.join("\n  ")),
            _ => String::new(),
        }
    }
}
