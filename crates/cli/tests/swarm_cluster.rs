//! Swarms of several nodes on this one machine (`support::swarm_cluster`): the harness forms
//! one, runs a service spread over its nodes from the cluster's registry, and leaves nothing
//! behind.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

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
