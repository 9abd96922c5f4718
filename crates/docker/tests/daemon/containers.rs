use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use stack_docker::{
    ContainerFile, ContainerSpec, ContainerStatus, DockerError, HealthStatus, HealthTest, Healthcheck, Mount,
    NetworkAttachment, NetworkSpec, PortBinding, Protocol, Resources, RestartPolicy, VolumeSpec,
};

use crate::networks::network_with_subnet;
use crate::support::{self, Scope};

const MIB: i64 = 1024 * 1024;

/// Probes itself over HTTP every second: a scratch image has no shell or curl.
fn http_healthcheck() -> Healthcheck {
    Healthcheck {
        test: HealthTest::Exec(vec![
            "/stack-demo".to_string(),
            "probe".to_string(),
            "http://127.0.0.1:8080/health".to_string(),
        ]),
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(2)),
        retries: Some(1),
        start_period: None,
    }
}

/// A demo service that stops at once (init) and reports health.
fn service(scope: &Scope, suffix: &str, image: &str) -> ContainerSpec {
    ContainerSpec {
        command: Some(vec![
            "serve".to_string(),
            "--name".to_string(),
            suffix.to_string(),
        ]),
        init: true,
        healthcheck: Some(http_healthcheck()),
        ..scope.container(suffix, image)
    }
}

#[tokio::test]
async fn a_service_container_from_create_to_removal() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let image = support::demo_image(&scope).await;
    let front = network_with_subnet(&scope, "front").await;
    let back = NetworkSpec {
        name: scope.name("back"),
        labels: scope.labels(),
        ..Default::default()
    };
    client.create_network(&back).await.unwrap();
    let volume = VolumeSpec {
        name: scope.name("data"),
        labels: scope.labels(),
        ..Default::default()
    };
    client.create_volume(&volume).await.unwrap();

    let gateway: Ipv4Addr = front.subnets[0].gateway.as_ref().unwrap().parse().unwrap();
    let fixed_ip = Ipv4Addr::from(u32::from(gateway) + 9);
    let spec = ContainerSpec {
        env: [("DEMO_VERSION".to_string(), "2.0.0".to_string())].into(),
        networks: vec![
            NetworkAttachment {
                network: front.name.clone(),
                aliases: vec!["api".to_string()],
                ipv4_address: Some(fixed_ip),
            },
            NetworkAttachment {
                network: back.name.clone(),
                ..Default::default()
            },
        ],
        mounts: vec![Mount::Volume {
            source: volume.name.clone(),
            target: "/data".to_string(),
            read_only: false,
        }],
        resources: Resources {
            memory_limit: Some(64 * MIB),
            cpus: Some(0.5),
            ..Default::default()
        },
        stop_timeout: Some(Duration::from_secs(5)),
        ..service(&scope, "web", &image)
    };

    let id = client.create_container(&spec).await.unwrap();
    let secret = ContainerFile {
        path: "/run/secrets/token".to_string(),
        contents: b"s3cret".to_vec(),
        mode: 0o400,
        uid: 0,
        gid: 0,
    };
    client.copy_file_into(&spec.name, &secret).await.unwrap();
    let created = client.inspect_container(&spec.name).await.unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.status, ContainerStatus::Created);
    assert_eq!(
        created.networks.len(),
        2,
        "both networks joined before the start: {:?}",
        created.networks
    );

    let duplicate = client.create_container(&spec).await.unwrap_err();
    assert!(matches!(duplicate, DockerError::Conflict { .. }), "{duplicate}");

    client.start_container(&spec.name).await.unwrap();
    let started = Instant::now();
    let info = client
        .wait_healthy(&spec.name, Duration::from_secs(30))
        .await
        .unwrap();
    eprintln!("healthy {:?} after start", started.elapsed());
    assert_eq!(
        (info.status, info.health),
        (ContainerStatus::Running, Some(HealthStatus::Healthy))
    );
    assert_eq!(info.labels, scope.labels());
    assert_eq!(info.env["DEMO_VERSION"], "2.0.0");
    assert_eq!(info.resources.memory_limit, Some(64 * MIB));
    assert_eq!(info.resources.cpus, Some(0.5));
    let endpoint = &info.networks[&front.name];
    assert_eq!(endpoint.ipv4_address, Some(fixed_ip));
    assert!(endpoint.aliases.contains(&"api".to_string()), "{endpoint:?}");

    // From the host, straight to the container's address on the bridge.
    let address = SocketAddr::new(IpAddr::V4(fixed_ip), 8080);
    assert_eq!(
        support::get(address, "/"),
        (200, "service=web version=2.0.0\n".to_string())
    );
    assert_eq!(
        support::get(address, "/env/DEMO_VERSION"),
        (200, "2.0.0".to_string())
    );
    assert_eq!(
        support::get(address, "/file?path=/run/secrets/token"),
        (200, "s3cret".to_string())
    );
    // The image's /data/context filled the new volume; .dockerignore kept ignored.txt out.
    assert_eq!(support::get(address, "/data/kept.txt").0, 404);
    assert_eq!(
        support::get(address, "/file?path=/data/context/kept.txt"),
        (200, "kept\n".to_string())
    );
    assert_eq!(
        support::get(address, "/file?path=/data/context/ignored.txt").0,
        404
    );
    assert_eq!(support::put(address, "/data/greeting", "hello").0, 201);
    assert_eq!(
        support::get(address, "/data/greeting"),
        (200, "hello".to_string())
    );
    // The alias resolves through Docker's DNS inside the container.
    assert_eq!(
        support::get(address, "/proxy?url=http://api:8080/health"),
        (200, "ok\n".to_string())
    );

    let bigger = Resources {
        memory_limit: Some(128 * MIB),
        ..info.resources
    };
    client
        .update_container(&spec.name, &bigger, info.restart)
        .await
        .unwrap();
    let updated = client.inspect_container(&spec.name).await.unwrap();
    assert_eq!(updated.resources.memory_limit, Some(128 * MIB));
    assert_eq!(updated.status, ContainerStatus::Running, "updated in place");

    client
        .disconnect_network(&spec.name, &back.name, false)
        .await
        .unwrap();
    let attached = client.inspect_container(&spec.name).await.unwrap().networks;
    assert_eq!(attached.keys().collect::<Vec<_>>(), [&front.name]);
    let no_network = NetworkAttachment {
        network: scope.name("nowhere"),
        ..Default::default()
    };
    let error = client.connect_network(&spec.name, &no_network).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("network `{}` does not exist", no_network.network)
    );

    let logs = client.logs_tail(&spec.name, 20).await.unwrap();
    assert!(
        logs.iter().any(|line| line.contains("listening on 0.0.0.0:8080")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|line| line == "PUT /data/greeting 201"),
        "{logs:?}"
    );

    let renamed = scope.name("web-renamed");
    client.rename_container(&spec.name, &renamed).await.unwrap();
    assert_eq!(client.inspect_container(&renamed).await.unwrap().id, id);

    let removing_running = client.remove_container(&renamed, false).await.unwrap_err();
    assert!(
        matches!(removing_running, DockerError::InUse { .. }),
        "{removing_running}"
    );
    let stopping = Instant::now();
    client
        .stop_container(&renamed, Duration::from_secs(5))
        .await
        .unwrap();
    eprintln!("stopped in {:?}", stopping.elapsed());
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "init stops the server at once"
    );
    client
        .stop_container(&renamed, Duration::from_secs(5))
        .await
        .unwrap();
    client.remove_container(&renamed, false).await.unwrap();
    assert!(
        client
            .inspect_container(&renamed)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(client.list_containers(&scope.filter()).await.unwrap().is_empty());

    client.remove_volume(&volume.name).await.unwrap();
    client.remove_network(&front.name).await.unwrap();
    client.remove_network(&back.name).await.unwrap();
    assert!(client.list_networks(&scope.filter()).await.unwrap().is_empty());
    assert!(client.list_volumes(&scope.filter()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_taken_host_port_fails_the_start() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let image = support::demo_image(&scope).await;
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let publish = |suffix: &str| ContainerSpec {
        ports: vec![PortBinding {
            container_port: 8080,
            protocol: Protocol::Tcp,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_port: Some(port),
        }],
        ..service(&scope, suffix, &image)
    };

    // A host process holds the port.
    let first = publish("first");
    client.create_container(&first).await.unwrap();
    let error = client.start_container(&first.name).await.unwrap_err();
    assert!(matches!(error, DockerError::PortAllocated { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("container `{}` cannot publish its ports", first.name))
    );
    assert_eq!(
        client.inspect_container(&first.name).await.unwrap().status,
        ContainerStatus::Created
    );

    // Another container holds the port.
    drop(holder);
    let second = publish("second");
    client.create_container(&second).await.unwrap();
    client.start_container(&second.name).await.unwrap();
    client
        .wait_healthy(&second.name, Duration::from_secs(30))
        .await
        .unwrap();
    let published = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    assert_eq!(support::get(published, "/health").0, 200);
    let third = publish("third");
    client.create_container(&third).await.unwrap();
    let error = client.start_container(&third.name).await.unwrap_err();
    assert!(matches!(error, DockerError::PortAllocated { .. }), "{error}");
}

#[tokio::test]
async fn waiting_for_health_reports_why_it_failed() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let image = support::demo_image(&scope).await;

    let failing = ContainerSpec {
        env: [("DEMO_FAIL_HEALTH".to_string(), "true".to_string())].into(),
        ..service(&scope, "failing", &image)
    };
    client.create_container(&failing).await.unwrap();
    client.start_container(&failing.name).await.unwrap();
    let error = client
        .wait_healthy(&failing.name, Duration::from_secs(30))
        .await
        .unwrap_err();
    let DockerError::Unhealthy { reason, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(
        reason.contains("503 unhealthy (DEMO_FAIL_HEALTH=true)"),
        "{reason}"
    );

    let job = ContainerSpec {
        command: Some(
            ["job", "--exit", "3", "--message", "migration failed"]
                .map(String::from)
                .to_vec(),
        ),
        ..service(&scope, "job", &image)
    };
    client.create_container(&job).await.unwrap();
    client.start_container(&job.name).await.unwrap();
    let error = client
        .wait_healthy(&job.name, Duration::from_secs(30))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("it stopped with code 3") && text.contains("migration failed"),
        "{text}"
    );

    let plain = scope.container("plain", &image);
    client.create_container(&plain).await.unwrap();
    client.start_container(&plain.name).await.unwrap();
    let error = client
        .wait_healthy(&plain.name, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(error, DockerError::BadParameter { .. }), "{error}");

    let slow = ContainerSpec {
        healthcheck: Some(Healthcheck {
            interval: Some(Duration::from_secs(30)),
            ..http_healthcheck()
        }),
        ..service(&scope, "slow", &image)
    };
    client.create_container(&slow).await.unwrap();
    client.start_container(&slow.name).await.unwrap();
    let error = client
        .wait_healthy(&slow.name, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(error, DockerError::Timeout { .. }), "{error}");
}

#[tokio::test]
async fn a_container_reads_back_as_configured() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let image = support::demo_image(&scope).await;
    let host_folder = tempfile::tempdir().unwrap();
    let spec = ContainerSpec {
        entrypoint: Some(vec!["/stack-demo".to_string()]),
        command: Some(["job", "--message", "configured"].map(String::from).to_vec()),
        user: Some("1000:1000".to_string()),
        workdir: Some("/tmp".to_string()),
        ports: vec![PortBinding {
            container_port: 8080,
            protocol: Protocol::Tcp,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_port: None,
        }],
        mounts: vec![
            Mount::Bind {
                source: host_folder.path().display().to_string(),
                target: "/host".to_string(),
                read_only: true,
            },
            Mount::Tmpfs {
                target: "/tmp".to_string(),
                size_bytes: Some(MIB),
                mode: Some(0o1777),
            },
        ],
        restart: RestartPolicy::UnlessStopped,
        resources: Resources {
            memory_reservation: Some(32 * MIB),
            cpu_shares: Some(512),
            ..Default::default()
        },
        init: true,
        read_only: true,
        stop_signal: Some("SIGINT".to_string()),
        stop_timeout: Some(Duration::from_secs(7)),
        ..scope.container("configured", &image)
    };
    client.create_container(&spec).await.unwrap();
    let info = client.inspect_container(&spec.name).await.unwrap();
    assert_eq!(info.entrypoint, spec.entrypoint);
    assert_eq!(info.command, spec.command);
    assert_eq!(info.user, spec.user);
    assert_eq!(info.workdir, spec.workdir);
    assert_eq!(info.ports, spec.ports);
    assert_eq!(info.mounts, spec.mounts);
    assert_eq!(info.restart, spec.restart);
    assert_eq!(info.resources, spec.resources);
    assert_eq!((info.init, info.read_only), (true, true));
    assert_eq!(info.stop_signal, spec.stop_signal);
    assert_eq!(info.stop_timeout, spec.stop_timeout);
    assert_eq!(
        info.env["DEMO_VERSION"], "1.2.3",
        "the image's variables are part of the environment"
    );

    // It runs as configured: a non-root user on a read-only root with a writable tmpfs.
    let job = ContainerSpec {
        restart: RestartPolicy::No,
        ..spec.clone()
    };
    let job = ContainerSpec {
        name: scope.name("job"),
        ..job
    };
    client.create_container(&job).await.unwrap();
    client.start_container(&job.name).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let exited = loop {
        let info = client.inspect_container(&job.name).await.unwrap();
        if info.status == ContainerStatus::Exited || Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (exited.status, exited.exit_code),
        (ContainerStatus::Exited, Some(0))
    );
    assert_eq!(client.logs_tail(&job.name, 5).await.unwrap(), ["configured"]);

    let missing_source = ContainerSpec {
        mounts: vec![Mount::Bind {
            source: "/nonexistent/stacktest".to_string(),
            target: "/x".to_string(),
            read_only: false,
        }],
        ..scope.container("missing-source", &image)
    };
    let error = client.create_container(&missing_source).await.unwrap_err();
    assert!(matches!(error, DockerError::BadParameter { .. }), "{error}");
}

#[tokio::test]
async fn a_container_that_exits_while_it_is_updated_is_updated_all_the_same() {
    let Some(scope) = Scope::new().await else { return };
    let client = &scope.client;
    let image = support::demo_image(&scope).await;
    // Each exits at once and Docker restarts it: updates race its exits.
    let crashing: Vec<ContainerSpec> = (0..4)
        .map(|number| ContainerSpec {
            command: Some(["job", "--exit", "3"].map(String::from).to_vec()),
            restart: RestartPolicy::Always,
            ..scope.container(&format!("crashing-{number}"), &image)
        })
        .collect();
    for spec in &crashing {
        client.create_container(spec).await.unwrap();
        client.start_container(&spec.name).await.unwrap();
    }
    let updates = crashing.iter().map(|spec| async move {
        let deadline = Instant::now() + Duration::from_secs(2);
        let policies = [RestartPolicy::UnlessStopped, RestartPolicy::Always];
        for policy in policies.iter().cycle() {
            if Instant::now() > deadline {
                break;
            }
            client
                .update_container(&spec.name, &Resources::default(), *policy)
                .await
                .unwrap_or_else(|error| panic!("{}: {error}", spec.name));
        }
        client
            .update_container(&spec.name, &Resources::default(), RestartPolicy::No)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", spec.name));
        let info = client.inspect_container(&spec.name).await.unwrap();
        assert_eq!(info.restart, RestartPolicy::No, "{}", spec.name);
    });
    futures_util::future::join_all(updates).await;
}
