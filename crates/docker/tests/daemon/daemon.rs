use stack_docker::{API_VERSION, DockerClient, DockerError};

use crate::support;

#[tokio::test]
async fn connects_and_reports_the_engine() {
    let Some(client) = support::docker().await else {
        return;
    };
    let engine = client.engine_version();
    assert!(!engine.engine.is_empty());
    assert!(engine.speaks_at_least(API_VERSION), "{engine:?}");
}

#[tokio::test]
async fn an_absent_daemon_says_how_to_start_one() {
    let error = DockerClient::connect_to("unix:///nonexistent/docker.sock")
        .await
        .unwrap_err();
    assert!(matches!(error, DockerError::DaemonUnavailable { .. }));
    assert!(error.to_string().contains("systemctl start docker"), "{error}");
}
