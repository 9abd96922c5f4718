use stack_docker::{DockerError, VolumeSpec};

use crate::support::Scope;

#[tokio::test]
async fn a_volume_round_trips() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let spec = VolumeSpec {
        name: scope.name("data"),
        labels: scope.labels(),
        ..Default::default()
    };

    let created = client.create_volume(&spec).await.unwrap();
    assert_eq!(created.name, spec.name);
    assert_eq!(created.driver, "local");
    assert_eq!(created.labels, scope.labels());
    assert!(!created.mountpoint.is_empty());
    assert_eq!(client.inspect_volume(&spec.name).await.unwrap(), created);
    assert_eq!(client.list_volumes(&scope.filter()).await.unwrap(), [created]);

    let error = client.create_volume(&spec).await.unwrap_err();
    assert!(matches!(error, DockerError::Conflict { .. }), "{error}");

    client.remove_volume(&spec.name).await.unwrap();
    assert!(
        client
            .inspect_volume(&spec.name)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(client.remove_volume(&spec.name).await.unwrap_err().is_not_found());
}
