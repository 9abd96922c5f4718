//! Reads whose answer bollard's models would read wrong, made by hand.
//!
//! The daemon writes a task's health check as `Healthcheck`; bollard's model of a container
//! spec reads `HealthCheck` (the daemon, reading without regard to case, takes the one stack
//! sends). Typed straight away, a service's health check would never be read back, so a probe
//! changed by hand would not be seen. Services and tasks are therefore read as JSON, the key
//! renamed ([`health_check_as_bollard_reads_it`]), and only then typed.
//!
//! A request is plain HTTP/1.0 over the client's endpoint (a Unix socket, or TCP without TLS,
//! as [`DockerClient::connect_to`] accepts): the daemon then answers without chunks and closes
//! the connection after the body.

use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::client::{API_VERSION, DockerClient, REQUEST_TIMEOUT, exchange};
use crate::error::{DockerError, ObjectRef, Result};

impl DockerClient {
    /// `GET /v1.41{path}` (`path` with its query, already encoded), typed as `T` once health
    /// checks are named as bollard reads them.
    pub(crate) async fn get_typed<T: DeserializeOwned>(&self, path: &str, object: ObjectRef) -> Result<T> {
        let request = format!("GET /v{API_VERSION}{path} HTTP/1.0\r\nHost: docker\r\n\r\n");
        let answer = tokio::time::timeout(
            REQUEST_TIMEOUT,
            exchange(self.endpoint(), request.as_bytes(), true),
        )
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())))
        .map_err(|reason| DockerError::DaemonUnavailable {
            endpoint: self.endpoint().to_owned(),
            reason,
        })?;
        let (status, body) = split_answer(&answer).ok_or_else(|| DockerError::Daemon {
            object: object.clone(),
            status: 0,
            message: "the daemon's answer is not HTTP".to_string(),
        })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<Json>(body)
                .ok()
                .and_then(|json| json.get("message")?.as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
            let error = bollard::errors::Error::DockerResponseServerError {
                status_code: status,
                message,
            };
            return Err(self.error(object)(error));
        }
        let mut json: Json = serde_json::from_slice(body).map_err(|error| DockerError::Daemon {
            object: object.clone(),
            status,
            message: format!("the daemon's answer is no JSON: {error}"),
        })?;
        health_check_as_bollard_reads_it(&mut json);
        serde_json::from_value(json).map_err(|error| DockerError::Daemon {
            object,
            status,
            message: format!("the daemon's answer is not as expected: {error}"),
        })
    }
}

/// The status and the body of an HTTP answer read to its end.
fn split_answer(answer: &[u8]) -> Option<(u16, &[u8])> {
    let end = answer.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let status = head.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, &answer[end + 4..]))
}

/// Renames every container spec's `Healthcheck` (as the daemon writes it) to `HealthCheck` (as
/// bollard reads it), in a service, a task, or a list of either.
pub(crate) fn health_check_as_bollard_reads_it(json: &mut Json) {
    match json {
        Json::Array(items) => items.iter_mut().for_each(health_check_as_bollard_reads_it),
        Json::Object(object) => {
            for spec in ["Spec", "PreviousSpec"] {
                let Some(spec) = object.get_mut(spec) else {
                    continue;
                };
                // A service's spec holds a task spec; a task's spec is one.
                let task = match spec.get_mut("TaskTemplate") {
                    Some(task) => task,
                    None => spec,
                };
                if let Some(Json::Object(container)) = task.get_mut("ContainerSpec")
                    && let Some(check) = container.remove("Healthcheck")
                {
                    container.insert("HealthCheck".to_string(), check);
                }
            }
        }
        _ => {}
    }
}

/// `text` as a query parameter's value.
pub(crate) fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use bollard::models::{Service, Task};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_health_check_as_the_daemon_writes_it_is_read() {
        let check = json!({"Test": ["CMD", "true"], "Interval": 1_000_000_000});
        let mut services = json!([{
            "ID": "abc",
            "Spec": {"Name": "shop_api", "TaskTemplate": {"ContainerSpec": {"Image": "demo:1", "Healthcheck": check}}},
        }]);
        health_check_as_bollard_reads_it(&mut services);
        let services: Vec<Service> = serde_json::from_value(services).expect("a service");
        let container = services[0]
            .spec
            .as_ref()
            .and_then(|spec| spec.task_template.as_ref())
            .and_then(|task| task.container_spec.as_ref())
            .expect("a container spec");
        let read = container.health_check.as_ref().expect("the health check");
        assert_eq!(read.test, Some(vec!["CMD".to_string(), "true".to_string()]));
        assert_eq!(read.interval, Some(1_000_000_000));

        let mut task = json!({"ID": "t1", "Spec": {"ContainerSpec": {"Healthcheck": check}}});
        health_check_as_bollard_reads_it(&mut task);
        let task: Task = serde_json::from_value(task).expect("a task");
        let container = task
            .spec
            .and_then(|spec| spec.container_spec)
            .expect("a container spec");
        assert!(container.health_check.is_some());
    }

    #[test]
    fn answers_split_into_status_and_body() {
        let answer = b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"message\":\"no\"}";
        assert_eq!(split_answer(answer), Some((404, &b"{\"message\":\"no\"}"[..])));
        assert_eq!(split_answer(b"SSH-2.0\r\n"), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            query_value(r#"{"label":["dev.stack.stack=a b"]}"#),
            "%7B%22label%22%3A%5B%22dev.stack.stack%3Da%20b%22%5D%7D"
        );
    }
}
