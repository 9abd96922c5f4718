//! Swarms of several nodes on this one machine (`support::swarm_cluster`): the harness forms
//! one, runs a service spread over its nodes from the cluster's registry, and leaves nothing
//! behind; a stack's service spread over three nodes rolls out an update while one node is
//! drained and another stops, and converges on what is left; an image built without `push`
//! is a plan error there.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use support::LiveStack;
use support::swarm_cluster::SwarmCluster;

#[test]
fn three_nodes_run_one_task_each_and_leave_nothing_behind() {
    let Some(cluster) = SwarmCluster::start(3) else {
        return;
    };
    assert_eq!(cluster.ready_nodes(), [0, 1, 2]);

    let image = cluster.push_demo("demo:spread");
    assert!(image.contains("@sha256:"), "{image}");
    // `dnsrr`: this kernel has no IPVS for Swarm's virtual IPs.
    cluster.manager().docker_ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "spread",
        "--mode",
        "replicated",
        "--replicas",
        "3",
        "--placement-pref",
        "spread=node.id",
        "--endpoint-mode",
        "dnsrr",
        &image,
        "serve",
    ]);
    cluster.wait_for("a running task of `spread` on each node", |cluster| {
        cluster.running_tasks("spread") == [0, 1, 2]
    });

    let footprint = cluster.footprint();
    drop(cluster);
    footprint.assert_gone();
}

#[test]
fn an_image_built_without_push_is_a_plan_error_on_several_nodes() {
    let Some(cluster) = SwarmCluster::start(2) else {
        return;
    };
    let mut live = LiveStack::new().unwrap();
    live.set_env("DOCKER_HOST", &cluster.docker_host());
    live.demo_context("app");
    live.write(
        "stack.kdl",
        r#"image "demo" {
    context "app"
}
service "web" {
    image "${image.demo}"
    command "serve"
    endpoint-mode "dnsrr"
}
"#,
    );
    live.run("apply", &["--target", "swarm", "--auto-approve"])
        .status(1)
        .stderr_contains("stack::not_on_swarm")
        .stderr_contains("which is built on this node only")
        .stderr_contains("add `push");
    let filter = format!("label=dev.stack.stack={}", live.name);
    let made = cluster
        .manager()
        .docker_ok(&["service", "ls", "--quiet", "--filter", &filter]);
    assert_eq!(made.trim(), "", "nothing is made");
}

/// Three replicas, one per node (spread over the nodes' `zone` labels), rolled out one at a
/// time; each healthy once its `/health` answers.
fn spread_stack(image: &str, version: &str) -> String {
    format!(
        r#"service "web" {{
    image "{image}"
    command "serve" "--port" "8080"
    env {{
        DEMO_VERSION "{version}"
    }}
    replicas 3
    endpoint-mode "dnsrr"
    placement {{
        spread "node.labels.zone"
    }}
    update {{
        parallelism 1
    }}
    probe {{
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "500ms"
    }}
}}
"#
    )
}

#[test]
fn a_rolling_update_converges_on_the_nodes_left_when_one_is_drained_and_one_stops() {
    let Some(mut cluster) = SwarmCluster::start(3) else {
        return;
    };
    for (index, zone) in ["a", "b", "c"].iter().enumerate() {
        let id = cluster.node_id(index).to_owned();
        cluster
            .manager()
            .docker_ok(&["node", "update", "--label-add", &format!("zone={zone}"), &id]);
    }
    let image = cluster.push_demo("demo:rolling");
    let mut live = LiveStack::new().unwrap();
    live.set_env("DOCKER_HOST", &cluster.docker_host());
    live.write("stack.kdl", spread_stack(&image, "v1"));

    live.run("apply", &["--target", "swarm", "--auto-approve"])
        .success();
    let service = live.object("web");
    assert_eq!(cluster.running_tasks(&service), [0, 1, 2]);

    // The update rolls while node 2 is drained and node 3's daemon stops.
    live.write("stack.kdl", spread_stack(&image, "v2"));
    let mut update = live.spawn("apply", &["--target", "swarm", "--auto-approve"], "update");
    cluster.wait_for("the update to start", |cluster| {
        let state = cluster.manager().docker(&[
            "service",
            "inspect",
            &service,
            "--format",
            "{{.UpdateStatus.State}}",
        ]);
        String::from_utf8_lossy(&state.stdout).trim() == "updating"
    });
    let drained = cluster.node_id(1).to_owned();
    cluster
        .manager()
        .docker_ok(&["node", "update", "--availability", "drain", &drained]);
    cluster.swarm.nodes[2].stop_daemon();
    let status = update.wait().unwrap();
    assert!(
        status.success(),
        "the update failed:\n{}\n{}",
        live.output("update"),
        cluster.show(&[
            &["node", "ls"],
            &["service", "ps", "--no-trunc", &service],
            &[
                "service",
                "inspect",
                "--format",
                "{{json .UpdateStatus}}",
                &service
            ],
        ])
    );

    cluster.wait_for("three tasks of v2 on the manager", |cluster| {
        cluster.running_tasks(&service) == [0, 0, 0]
    });
    let versions = cluster.manager().docker_ok(&[
        "service",
        "inspect",
        &service,
        "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}} {{end}}",
    ]);
    assert!(versions.contains("DEMO_VERSION=v2"), "{versions}");
    live.run("plan", &["--target", "swarm", "--detailed-exitcode"])
        .success()
        .stdout_contains("No changes");
}
