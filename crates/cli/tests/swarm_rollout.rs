//! The rollout example on a swarm (`--env swarm`), on a single-node swarm of the test's own
//! (`support::swarm`): its port is published in `host` mode, so stack puts its proxy in front
//! (the service `<stack>_web-proxy`), and a start-first update loses no request through that
//! port; a version that fails its probe is rolled back by Swarm while the old one serves on;
//! a second plan is a no-op; a proxy removed by hand comes back; updated stop-first, the
//! service takes its port back from the proxy; destroy leaves nothing.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::examples::{RequestLoop, Tally, eventually, try_get};
use support::swarm::TestSwarm;
use support::{LiveStack, docker_available, free_port};

/// The stack's services on the swarm, as `NAME MODE REPLICAS`, sorted.
fn services(swarm: &TestSwarm, live: &LiveStack) -> Vec<String> {
    swarm.stack_services(live, "{{.Name}} {{.Mode}} {{.Replicas}}")
}

/// The ports the service `name` publishes, as `PUBLISHED->TARGET/MODE` each.
fn published(swarm: &TestSwarm, name: &str) -> String {
    let format =
        "{{range .Spec.EndpointSpec.Ports}}{{.PublishedPort}}->{{.TargetPort}}/{{.PublishMode}} {{end}}";
    let ports = swarm
        .manager()
        .docker_ok(&["service", "inspect", name, "--format", format]);
    ports.trim().to_owned()
}

/// `version=v1` of the demo's `service=web version=v1 ...` answer.
fn version(body: &str) -> String {
    body.split_whitespace()
        .find(|word| word.starts_with("version="))
        .unwrap_or(body)
        .to_owned()
}

/// Requests through the published port during `update`, which must lose none.
fn without_a_failed_request(address: SocketAddr, update: impl FnOnce()) -> Tally {
    let load = RequestLoop::start(address, "/", Duration::from_millis(10), version);
    std::thread::sleep(Duration::from_millis(300));
    update();
    std::thread::sleep(Duration::from_millis(300));
    let tally = load.finish();
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed: {:?}",
        tally.failures.len(),
        tally.requests,
        tally.failures
    );
    assert!(tally.requests > 50, "{tally:?}");
    tally
}

#[test]
fn the_rollout_example_rolls_forward_and_back_on_a_swarm_behind_the_proxy() {
    if !docker_available() {
        return;
    }
    let Some(swarm) = TestSwarm::single_node() else {
        return;
    };
    let mut live = swarm.example("rollout");
    live.set_env(
        "STACK_PROXY_BINARY",
        &stack_tests::proxy_binary().display().to_string(),
    );
    let port = free_port();
    let port_var = format!("port={port}");
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec!["--env", "swarm", "--var", port_var.as_str()];
        args.extend_from_slice(extra);
        live.run(command, &args)
    };

    // Applied: the service publishes no port of its own; its proxy, one task on the node,
    // holds it in host mode.
    run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("proxy");
    assert_eq!(
        services(&swarm, &live),
        ["[stack]_web replicated 3/3", "[stack]_web-proxy global 1/1"]
    );
    let proxy = format!("{}-proxy", live.object("web"));
    assert_eq!(published(&swarm, &live.object("web")), "");
    assert_eq!(published(&swarm, &proxy), format!("{port}->8080/host"));
    let web = SocketAddr::new(swarm.manager().address.into(), port);
    let page = eventually("the page through the proxy", Duration::from_secs(20), || {
        let (status, body) = try_get(web, "/")?;
        (status == 200).then_some(body.clone()).ok_or(body)
    });
    assert!(page.contains("version=v1"), "{page}");
    run("plan", &["--detailed-exitcode"])
        .success()
        .stdout_contains("No changes");

    // v2 rolls out start-first, one task at a time, without a failed request.
    let tally = without_a_failed_request(web, || {
        run("apply", &["--auto-approve", "--var", "version=v2"]).success();
    });
    assert!(
        tally.answers.contains("version=v1") && tally.answers.contains("version=v2"),
        "{tally:?}"
    );
    let (_, page) = try_get(web, "/").unwrap();
    assert!(page.contains("version=v2"), "{page}");
    run("plan", &["--detailed-exitcode", "--var", "version=v2"])
        .success()
        .stdout_contains("No changes");

    // v3 fails its probe: Swarm rolls it back, v2 serves on, and no request fails meanwhile.
    let tally = without_a_failed_request(web, || {
        run(
            "apply",
            &[
                "--auto-approve",
                "--var",
                "version=v3",
                "--var",
                "fail_health=true",
            ],
        )
        .status(1)
        .stdout_contains("rolled it back");
    });
    assert_eq!(
        tally.answers.iter().collect::<Vec<_>>(),
        ["version=v2"],
        "{tally:?}"
    );
    run("plan", &["--detailed-exitcode", "--var", "version=v2"])
        .success()
        .stdout_contains("No changes");

    // The proxy removed by hand is drift, and apply puts it back.
    swarm.manager().docker_ok(&["service", "rm", &proxy]);
    run("plan", &["--detailed-exitcode", "--var", "version=v2"])
        .status(2)
        .stdout_contains(&format!("proxy service {proxy} missing"));
    run("apply", &["--auto-approve", "--var", "version=v2"]).success();
    eventually(
        "the page through the proxy again",
        Duration::from_secs(20),
        || {
            let (status, body) = try_get(web, "/")?;
            (status == 200).then_some(()).ok_or(body)
        },
    );

    // Stopped first, one task hands its port over by itself: the proxy goes, and the service
    // publishes the port again.
    let stack_file = live.dir.path().join("stack.kdl");
    let files = std::fs::read_to_string(&stack_file).unwrap();
    let stop_first = files
        .replace("order \"start-first\"", "order \"stop-first\"")
        .replace("replicas 3", "replicas 1");
    assert_ne!(stop_first, files);
    live.write("stack.kdl", stop_first);
    run("apply", &["--auto-approve", "--var", "version=v2"]).success();
    assert_eq!(services(&swarm, &live), ["[stack]_web replicated 1/1"]);
    assert_eq!(
        published(&swarm, &live.object("web")),
        format!("{port}->8080/host")
    );
    eventually("the page from the task itself", Duration::from_secs(20), || {
        let (status, body) = try_get(web, "/")?;
        (status == 200).then_some(()).ok_or(body)
    });
    run("plan", &["--detailed-exitcode", "--var", "version=v2"])
        .success()
        .stdout_contains("No changes");

    // Destroy leaves no service, nor any of their containers.
    run("destroy", &["--auto-approve"]).success();
    assert_eq!(services(&swarm, &live), Vec::<String>::new());
    let containers = swarm.manager().docker_ok(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label=dev.stack.stack={}", live.name),
    ]);
    assert_eq!(containers.trim(), "");
    drop(live);
}
