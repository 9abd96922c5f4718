use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use stack_docker::{DockerError, NetworkInfo, NetworkSpec, Subnet};

use crate::support::Scope;

/// Creates a bridge network with a random /24 in 10.199.0.0/16, trying another when the
/// subnet overlaps one that exists (other tests, other users of this daemon).
pub async fn network_with_subnet(scope: &Scope, suffix: &str) -> NetworkInfo {
    let mut last_error = None;
    for _ in 0..8 {
        // std's hasher keys are random: a random byte without a random-number crate.
        let third = RandomState::new().build_hasher().finish() % 250 + 1;
        let spec = NetworkSpec {
            name: scope.name(suffix),
            attachable: true,
            labels: scope.labels(),
            subnets: vec![Subnet {
                subnet: format!("10.199.{third}.0/24"),
                gateway: Some(format!("10.199.{third}.1")),
                ip_range: Some(format!("10.199.{third}.128/25")),
            }],
            ..Default::default()
        };
        match scope.client.create_network(&spec).await {
            Ok(_) => return scope.client.inspect_network(&spec.name).await.unwrap(),
            Err(error) if error.to_string().contains("overlaps") => last_error = Some(error),
            Err(error) => panic!("{error}"),
        }
    }
    panic!("no free subnet: {last_error:?}")
}

#[tokio::test]
async fn a_network_with_a_subnet_round_trips() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let network = network_with_subnet(&scope, "net").await;

    assert_eq!(network.name, scope.name("net"));
    assert_eq!(network.driver, "bridge");
    assert!(network.attachable);
    assert!(!network.internal);
    assert_eq!(network.labels, scope.labels());
    let subnet = &network.subnets[0];
    assert!(subnet.subnet.starts_with("10.199."), "{subnet:?}");
    assert!(subnet.gateway.as_ref().unwrap().ends_with(".1"));
    assert!(subnet.ip_range.as_ref().unwrap().ends_with(".128/25"));
    assert!(network.containers.is_empty());

    let listed = client.list_networks(&scope.filter()).await.unwrap();
    assert_eq!(
        listed.iter().map(|network| &network.name).collect::<Vec<_>>(),
        [&network.name]
    );

    // The daemon itself would create a second network of that name (API 1.41).
    let again = NetworkSpec {
        name: network.name.clone(),
        labels: scope.labels(),
        ..Default::default()
    };
    let error = client.create_network(&again).await.unwrap_err();
    assert!(matches!(error, DockerError::Conflict { .. }), "{error}");
    assert_eq!(
        client.list_networks(&scope.filter()).await.unwrap().len(),
        1,
        "the duplicate was undone"
    );

    client.remove_network(&network.name).await.unwrap();
    let error = client.inspect_network(&network.name).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(
        error.to_string(),
        format!("network `{}` does not exist", network.name)
    );
    assert!(
        client
            .remove_network(&network.name)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn an_internal_network_without_a_subnet() {
    let Some(scope) = Scope::new().await else { return };
    let spec = NetworkSpec {
        name: scope.name("internal"),
        internal: true,
        labels: scope.labels(),
        ..Default::default()
    };
    scope.client.create_network(&spec).await.unwrap();
    let network = scope.client.inspect_network(&spec.name).await.unwrap();
    assert!(network.internal);
    assert!(!network.attachable);
    assert_eq!(network.subnets.len(), 1, "the daemon picked a subnet");

    let bad = NetworkSpec {
        name: scope.name("bad"),
        labels: scope.labels(),
        subnets: vec![Subnet {
            subnet: "not-a-cidr".to_string(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let error = scope.client.create_network(&bad).await.unwrap_err();
    assert!(matches!(error, DockerError::BadParameter { .. }), "{error:?}");
}
