//! The service provider against the real daemon, called as the engine calls it: each test is a
//! stack of its own (`stacktest-...`) with the `FROM scratch` demo image, and everything it made
//! is removed afterwards, whether it passed or not.

// Test code may unwrap; `allow-unwrap-in-tests` does not reach the helpers in `support`.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use stack_docker::{ContainerSpec, ContainerStatus, HealthStatus, Labels};
use stack_language::Condition;
use stack_provider::{Desired, Live};
use support::{Resolved, TEST_LABEL, TestStack, demo_image, get};

/// A replicated web service with a network (and an alias), a volume and a secret.
fn web_stack(image: &str, secret_file: &str, replicas: u32, memory: &str, version: &str) -> String {
    format!(
        r#"
network "backend"
volume "data"
secret "token" {{ from-file "{secret_file}" }}
service "web" {{
    image "{image}"
    replicas {replicas}
    init #true
    env {{ DEMO_VERSION "{version}" }}
    network "backend" {{ aliases "web-alias" }}
    volume "data" target="/data"
    secret "token" mode=0o440
    resources {{ memory "{memory}" }}
    stop-grace-period "2s"
    probe {{
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "1s"
    }}
}}
"#
    )
}

/// What a second plan would find: the live service as desired, and nothing drifted.
fn assert_in_line(live: &Live, desired: &Desired) {
    assert!(live.drift.is_empty(), "drift: {:?}", live.drift);
    assert_eq!(
        live.config, desired.config,
        "live and desired configurations differ"
    );
}

async fn address_of(stack: &TestStack, container: &str) -> SocketAddr {
    let info = stack.client.inspect_container(container).await.unwrap();
    let network = format!("{}_backend", stack.scope.stack);
    let ip = info.networks[&network].ipv4_address.unwrap();
    SocketAddr::new(ip.into(), 8080)
}

async fn container_id(stack: &TestStack, replica: u32) -> String {
    let name = stack.container_name("web", replica);
    stack.client.inspect_container(&name).await.unwrap().id
}

#[tokio::test]
async fn a_service_is_created_read_repaired_scaled_replaced_and_deleted() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let provider = stack.provider("service");
    let scope = &stack.scope;
    let image = demo_image(&stack).await;
    let secret = stack.outside_file("token.txt", "s3cret-value");

    // Create two replicas and wait until both are healthy.
    let resolved = stack.desired(&web_stack(&image, &secret, 2, "64MiB", "1")).await;
    stack.create_all(&resolved).await;
    let web = resolved.service("web");
    provider.wait(scope, web, Condition::Healthy).await.unwrap();
    assert_eq!(
        stack.containers().await,
        [stack.container_name("web", 1), stack.container_name("web", 2)]
    );
    let live = stack.read_service("web").await.unwrap();
    assert_in_line(&live, web);
    assert_eq!(live.state, "2/2 running");
    assert_eq!(live.healthy, Some(true));
    assert!(
        !format!("{live:?}").contains("s3cret"),
        "the secret's value shows in {live:?}"
    );

    // The secret is a file in each container, the service name and its alias resolve to it.
    let first = address_of(&stack, &stack.container_name("web", 1)).await;
    assert_eq!(
        get(first, "/file?path=/run/secrets/token"),
        (200, "s3cret-value".to_owned())
    );
    for host in ["web", "web-alias"] {
        let (status, body) = get(first, &format!("/proxy?url=http://{host}:8080/"));
        assert_eq!(status, 200, "{host}: {body}");
    }

    // Remove one replica and stop the other by hand: both are drift, which update repairs.
    let replica_2 = stack.container_name("web", 2);
    stack
        .client
        .remove_container(&stack.container_name("web", 1), true)
        .await
        .unwrap();
    stack
        .client
        .stop_container(&replica_2, std::time::Duration::from_secs(2))
        .await
        .unwrap();
    let live = stack.read_service("web").await.unwrap();
    let drift: Vec<(&str, &str)> = live
        .drift
        .iter()
        .map(|drift| (drift.field.as_str(), drift.actual.as_str()))
        .collect();
    assert!(
        matches!(drift.as_slice(), [("replica 1", "missing"), ("replica 2", stopped)] if stopped.starts_with("exited with code")),
        "{drift:?}"
    );
    provider.update(scope, web, &live).await.unwrap();
    provider.wait(scope, web, Condition::Healthy).await.unwrap();
    assert_in_line(&stack.read_service("web").await.unwrap(), web);

    // Scale up and raise the memory limit: in place, the running replicas stay.
    let ids = [container_id(&stack, 1).await, container_id(&stack, 2).await];
    let resolved = stack.desired(&web_stack(&image, &secret, 3, "128MiB", "1")).await;
    let web = resolved.service("web");
    let live = stack.read_service("web").await.unwrap();
    let kind = provider.schema();
    assert_eq!(
        web.config.differing(&live.config, kind),
        ["resources", "replicas"]
    );
    provider.update(scope, web, &live).await.unwrap();
    provider.wait(scope, web, Condition::Healthy).await.unwrap();
    assert_eq!(
        [container_id(&stack, 1).await, container_id(&stack, 2).await],
        ids
    );
    let info = stack
        .client
        .inspect_container(&stack.container_name("web", 1))
        .await
        .unwrap();
    assert_eq!(info.resources.memory_limit, Some(128 << 20));
    assert_in_line(&stack.read_service("web").await.unwrap(), web);

    // Scale down: the highest replicas go.
    let resolved = stack.desired(&web_stack(&image, &secret, 1, "128MiB", "1")).await;
    let web = resolved.service("web");
    provider
        .update(scope, web, &stack.read_service("web").await.unwrap())
        .await
        .unwrap();
    assert_eq!(stack.containers().await, [stack.container_name("web", 1)]);
    assert_in_line(&stack.read_service("web").await.unwrap(), web);

    // A new environment replaces the containers.
    let resolved = stack.desired(&web_stack(&image, &secret, 2, "128MiB", "2")).await;
    let web = resolved.service("web");
    let live = stack.read_service("web").await.unwrap();
    assert!(web.config.differing(&live.config, kind).contains(&"env"));
    provider.replace(scope, web, &live).await.unwrap();
    provider.wait(scope, web, Condition::Healthy).await.unwrap();
    assert_ne!(container_id(&stack, 1).await, ids[0]);
    assert_in_line(&stack.read_service("web").await.unwrap(), web);
    let second = address_of(&stack, &stack.container_name("web", 2)).await;
    assert_eq!(get(second, "/env/DEMO_VERSION"), (200, "2".to_owned()));

    // Delete removes every replica.
    provider
        .delete(scope, &stack.read_service("web").await.unwrap())
        .await
        .unwrap();
    assert!(stack.containers().await.is_empty());
    assert!(stack.read_service("web").await.is_none());
}

/// A service with a probe, on a network, with the demo image.
fn probed(image: &str, probe: &str, fail_health: bool) -> String {
    format!(
        r#"
network "backend"
service "web" {{
    image "{image}"
    init #true
    env {{ DEMO_FAIL_HEALTH "{fail_health}" }}
    network "backend"
    stop-grace-period "1s"
    probe {{
        {probe}
        interval "1s"
        retries 2
    }}
}}
"#
    )
}

async fn wait_error(stack: &TestStack, resolved: &Resolved) -> String {
    let web = resolved.service("web");
    let error = stack
        .provider("service")
        .wait(&stack.scope, web, Condition::Healthy)
        .await
        .unwrap_err();
    format!("{}\nhint: {}", error.message, error.hint.unwrap_or_default())
}

#[tokio::test]
async fn http_and_tcp_probes_are_checked_from_the_host() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let image = demo_image(&stack).await;
    let provider = stack.provider("service");
    let created_network = stack
        .desired(&probed(&image, "tcp \"localhost:8080\"", false))
        .await;
    stack
        .provider("network")
        .create(&stack.scope, created_network.network("backend"))
        .await
        .unwrap();
    for probe in [
        r#"http "http://127.0.0.1:8080/health""#,
        r#"tcp "localhost:8080""#,
    ] {
        let resolved = stack.desired(&probed(&image, probe, false)).await;
        let web = resolved.service("web");
        provider.create(&stack.scope, web).await.unwrap();
        provider
            .wait(&stack.scope, web, Condition::Healthy)
            .await
            .unwrap();
        // The container has no Docker health check: its image has no client to run one.
        let info = stack
            .client
            .inspect_container(&stack.container_name("web", 1))
            .await
            .unwrap();
        assert_eq!(info.health, None);
        let live = stack.read_service("web").await.unwrap();
        assert_eq!((live.state.as_str(), live.healthy), ("1/1 running", None));
        provider.delete(&stack.scope, &live).await.unwrap();
    }

    let resolved = stack
        .desired(&probed(&image, r#"http "http://127.0.0.1:8080/health""#, true))
        .await;
    provider
        .create(&stack.scope, resolved.service("web"))
        .await
        .unwrap();
    let error = wait_error(&stack, &resolved).await;
    assert!(error.starts_with("service.web is not healthy"), "{error}");
    assert!(
        error.contains("probe `http http://127.0.0.1:8080/health` 2 times in a row"),
        "{error}"
    );
    assert!(error.contains("answered HTTP/1.1 503"), "{error}");
    assert!(error.contains("checked from the host"), "{error}");
}

#[tokio::test]
async fn a_failing_exec_probe_is_reported_with_its_output() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let image = demo_image(&stack).await;
    let probe = r#"exec "/stack-demo" "probe" "http://127.0.0.1:8080/health""#;
    let resolved = stack.desired(&probed(&image, probe, true)).await;
    stack.create_all(&resolved).await;
    let error = wait_error(&stack, &resolved).await;
    assert!(error.starts_with("service.web is not healthy"), "{error}");
    assert!(
        error.contains("exec /stack-demo probe http://127.0.0.1:8080/health"),
        "{error}"
    );
    assert!(error.contains("503"), "{error}");
    let live = stack.read_service("web").await.unwrap();
    // The state says how many run; whether they are healthy is the health's to say.
    assert_eq!((live.state.as_str(), live.healthy), ("1/1 running", Some(false)));
}

#[tokio::test]
async fn one_shot_jobs_complete_or_say_how_they_failed() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let image = demo_image(&stack).await;
    let job = |exit: u8| {
        format!(
            "service \"web\" {{\n    image \"{image}\"\n    restart \"no\"\n    command \"job\" \"--exit\" \"{exit}\" \"--message\" \"migrating\"\n}}\n"
        )
    };
    let provider = stack.provider("service");
    let resolved = stack.desired(&job(0)).await;
    let web = resolved.service("web");
    stack.create_all(&resolved).await;
    provider
        .wait(&stack.scope, web, Condition::Completed)
        .await
        .unwrap();
    // A finished job is no drift: the next apply does not run it again.
    let live = stack.read_service("web").await.unwrap();
    assert_in_line(&live, web);
    assert_eq!(live.state, "0/1 running, 1 completed");
    provider.delete(&stack.scope, &live).await.unwrap();

    let resolved = stack.desired(&job(3)).await;
    stack.create_all(&resolved).await;
    let error = provider
        .wait(&stack.scope, resolved.service("web"), Condition::Completed)
        .await
        .unwrap_err();
    assert!(
        error.message.starts_with("service.web did not become complete"),
        "{}",
        error.message
    );
    assert!(error.message.contains("stopped with code 3"), "{}", error.message);
    assert!(
        error.message.contains("migrating"),
        "the job's log is missing: {}",
        error.message
    );
}

#[tokio::test]
async fn a_container_of_another_owner_in_the_way_is_left_alone() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let image = demo_image(&stack).await;
    let name = stack.container_name("web", 1);
    let foreign = ContainerSpec {
        name: name.clone(),
        image: image.clone(),
        labels: Labels::from([(TEST_LABEL.to_owned(), stack.scope.stack.clone())]),
        ..Default::default()
    };
    stack.client.create_container(&foreign).await.unwrap();
    let resolved = stack
        .desired(&format!("service \"web\" {{\n    image \"{image}\"\n}}\n"))
        .await;
    let error = stack
        .provider("service")
        .create(&stack.scope, resolved.service("web"))
        .await
        .unwrap_err();
    assert!(
        error
            .message
            .contains("already exists and was not created by stack"),
        "{}",
        error.message
    );
    assert!(error.hint.unwrap().contains(&format!("docker rm -f {name}")));
    let info = stack.client.inspect_container(&name).await.unwrap();
    assert_eq!(
        (info.status, info.health),
        (ContainerStatus::Created, None::<HealthStatus>)
    );
}

#[tokio::test]
async fn a_missing_image_says_how_to_get_one() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let resolved = stack
        .desired(&format!(
            "service \"web\" {{\n    image \"{}-absent:1\"\n}}\n",
            stack.scope.stack
        ))
        .await;
    let error = stack
        .provider("service")
        .create(&stack.scope, resolved.service("web"))
        .await
        .unwrap_err();
    assert!(
        error.message.ends_with("is not on this host"),
        "{}",
        error.message
    );
    assert!(stack.containers().await.is_empty());
}

/// One replica on the networks given (`NAME { ... }` bodies), with a restart policy and limits.
fn attached(image: &str, networks: &[&str], restart: &str, resources: &str) -> String {
    let octet = std::process::id() % 200 + 20;
    let mut text = format!("network \"front\"\nnetwork \"back\" {{ subnet \"10.214.{octet}.0/24\" }}\n");
    text.push_str(&format!(
        "service \"web\" {{\n    image \"{image}\"\n    init #true\n    restart {restart}\n    stop-grace-period \"1s\"\n{resources}\n"
    ));
    for network in networks {
        text.push_str(&format!(
            "    network {}\n",
            network.replace("OCTET", &octet.to_string())
        ));
    }
    text.push_str("}\n");
    text
}

#[tokio::test]
async fn networks_restart_policy_and_limits_change_in_place() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let provider = stack.provider("service");
    let scope = &stack.scope;
    let image = demo_image(&stack).await;
    let resolved = stack
        .desired(&attached(
            &image,
            &[r#""front""#],
            r#""unless-stopped""#,
            "resources { cpus 0.5 }",
        ))
        .await;
    stack.create_all(&resolved).await;
    provider
        .wait(scope, resolved.service("web"), Condition::Started)
        .await
        .unwrap();
    let id = container_id(&stack, 1).await;

    let changes = [
        // Another alias on one network, a second network with a fixed address, another policy.
        (
            vec![
                r#""front" { aliases "www"; }"#,
                r#""back" { ipv4-address "10.214.OCTET.50"; }"#,
            ],
            r#""on-failure" max-retries=3"#,
            "resources { cpus 1.5; memory \"96MiB\"; }",
        ),
        // Off the first network, and no alias.
        (
            vec![r#""back""#],
            r#""always""#,
            "resources { cpus 1.5; memory \"96MiB\"; }",
        ),
    ];
    for (networks, restart, resources) in changes {
        let resolved = stack
            .desired(&attached(&image, &networks, restart, resources))
            .await;
        let web = resolved.service("web");
        let live = stack.read_service("web").await.unwrap();
        let kind = provider.schema();
        let changed = web.config.differing(&live.config, kind);
        assert!(
            changed
                .iter()
                .all(|field| ["network", "restart", "resources"].contains(field)),
            "{changed:?}"
        );
        provider.update(scope, web, &live).await.unwrap();
        assert_eq!(container_id(&stack, 1).await, id, "updated in place");
        assert_in_line(&stack.read_service("web").await.unwrap(), web);
    }
    let info = stack
        .client
        .inspect_container(&stack.container_name("web", 1))
        .await
        .unwrap();
    let back = format!("{}_back", scope.stack);
    assert_eq!(info.networks.keys().collect::<Vec<_>>(), [&back]);

    // Docker cannot lift a limit in place: the replica is created again, without it.
    let resolved = stack
        .desired(&attached(&image, &[r#""back""#], r#""always""#, ""))
        .await;
    let web = resolved.service("web");
    provider
        .update(scope, web, &stack.read_service("web").await.unwrap())
        .await
        .unwrap();
    assert_ne!(container_id(&stack, 1).await, id);
    assert_in_line(&stack.read_service("web").await.unwrap(), web);
}
