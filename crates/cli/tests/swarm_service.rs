//! Services and jobs on a swarm, end to end: the quickstart example applied with `--env swarm`
//! to a single-node swarm of the test's own (`support::swarm`), planned again, asked for a
//! page through its published port, updated, scaled by hand and repaired, and destroyed.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::examples::{eventually, try_get};
use support::swarm::TestSwarm;
use support::{LiveStack, docker_available, free_port};

/// The stack's services on the swarm, as `NAME REPLICAS` (`[stack]_api 2/2`), sorted.
fn services(swarm: &TestSwarm, live: &LiveStack) -> Vec<String> {
    swarm.stack_services(live, "{{.Name}} {{.Replicas}}")
}

#[test]
fn the_quickstart_runs_as_swarm_services() {
    if !docker_available() {
        return;
    }
    let Some(swarm) = TestSwarm::single_node() else {
        return;
    };
    let live = swarm.example("quickstart");
    let port = free_port().to_string();
    let swarm_env = ["--env", "swarm", "--var", &format!("port={port}")];
    let with = |extra: &[&'static str]| -> Vec<String> {
        swarm_env
            .iter()
            .map(|arg| (*arg).to_owned())
            .chain(extra.iter().map(|arg| (*arg).to_owned()))
            .collect()
    };
    let run = |command: &str, extra: &[&'static str]| {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        live.run(command, &args)
    };

    // Applied, every service is a Swarm service running its replicas, started in order of health.
    run("apply", &["--auto-approve"]).success();
    assert_eq!(
        services(&swarm, &live),
        ["[stack]_api 2/2", "[stack]_cache 1/1", "[stack]_web 1/1"]
    );
    // web answers on the node's address, and reaches api by its name on the overlay network.
    let web = SocketAddr::new(swarm.manager().address.into(), port.parse().unwrap());
    let page = eventually("web's page", Duration::from_secs(20), || {
        let (status, body) = try_get(web, "/")?;
        (status == 200).then_some(body.clone()).ok_or(body)
    });
    assert!(page.contains("service=web"), "{page}");
    let (status, api) = try_get(web, "/proxy?url=http://api:8080/").unwrap();
    assert_eq!(status, 200, "{api}");
    assert!(api.contains("service=api"), "{api}");

    // Planned again: nothing to do.
    run("plan", &["--detailed-exitcode"])
        .success()
        .stdout_contains("No changes");

    // Its env changed: Swarm rolls the update out, apply waits until it has converged, and the
    // plan after it has nothing to do.
    let stack_file = std::path::Path::new(&live.path()).join("stack.kdl");
    let files = std::fs::read_to_string(&stack_file).unwrap();
    let cache_address = r#"CACHE_ADDRESS "${service.cache}:6379""#;
    assert!(files.contains(cache_address), "{files}");
    live.write(
        "stack.kdl",
        files.replace(
            cache_address,
            &format!("{cache_address}\n        DEMO_VERSION \"v2\""),
        ),
    );
    run("apply", &["--auto-approve"]).success();
    let api_service = live.object("api");
    let env = swarm.manager().docker_ok(&[
        "service",
        "inspect",
        &api_service,
        "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}} {{end}}",
    ]);
    assert!(env.contains("DEMO_VERSION=v2"), "{env}");
    assert!(services(&swarm, &live).contains(&"[stack]_api 2/2".to_owned()));
    run("plan", &["--detailed-exitcode"])
        .success()
        .stdout_contains("No changes");

    // Scaled by hand: the plan shows the live replicas against the files', apply puts them back.
    swarm
        .manager()
        .docker_ok(&["service", "scale", "--detach", &format!("{api_service}=3")]);
    run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains("service.api")
        .stdout_contains("replicas");
    run("apply", &["--auto-approve"]).success();
    assert!(services(&swarm, &live).contains(&"[stack]_api 2/2".to_owned()));
    run("plan", &["--detailed-exitcode"]).success();

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
