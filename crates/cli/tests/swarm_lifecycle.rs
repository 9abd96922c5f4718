//! What a stack lives through on a swarm, end to end on a single-node swarm of the test's own
//! (`support::swarm`): a secret rotated under the service that mounts it, a job its dependents
//! wait for (and one that fails and stops them), and a health check changed by hand.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::examples::try_get;
use support::seen::{Seen, random_value};
use support::swarm::TestSwarm;
use support::{LiveStack, TEST_LABEL, docker_available, free_port};

/// A single-node swarm of the test's own, when the shared daemon answers (else the test is
/// skipped, or fails under `CI=true`).
fn test_swarm() -> Option<TestSwarm> {
    docker_available().then(TestSwarm::single_node).flatten()
}

/// A stack on the test swarm: the demo image built there, `--target swarm` on every run.
fn on_a_swarm(swarm: &TestSwarm, text: &str) -> LiveStack {
    let mut live = LiveStack::new().unwrap();
    live.demo_context("app");
    live.write("stack.kdl", text);
    live.set_env("DOCKER_HOST", &swarm.host());
    live
}

const SWARM: &[&str] = &["--target", "swarm"];

fn with_swarm<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    SWARM.iter().copied().chain(extra.iter().copied()).collect()
}

/// The stack's objects of one docker object type on the swarm (`secret`, `service`), sorted.
fn names(swarm: &TestSwarm, live: &LiveStack, kind: &str) -> Vec<String> {
    let filter = format!("label=dev.stack.stack={}", live.name);
    let listed = swarm
        .manager()
        .docker_ok(&[kind, "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    let mut names: Vec<String> = listed.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// Waits until the service's task reads `expected` from /run/secrets/token: through
/// `stack-demo serve`'s `/file`, on the port the task publishes on its node. On a time-out,
/// what the swarm says of the service's tasks.
fn secret_in_task(swarm: &TestSwarm, live: &LiveStack, address: SocketAddr, expected: &str) {
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let read = try_get(address, "/file?path=/run/secrets/token");
        if matches!(&read, Ok((200, body)) if body == expected) {
            return;
        }
        if std::time::Instant::now() > give_up {
            let tasks = swarm
                .manager()
                .docker(&["service", "ps", "--no-trunc", &live.object("api")]);
            panic!(
                "the task does not read the secret: {read:?}\n{}{}",
                String::from_utf8_lossy(&tasks.stdout),
                String::from_utf8_lossy(&tasks.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_secret_rotation_moves_its_service_and_removes_the_old_version() {
    let Some(swarm) = test_swarm() else { return };
    let port = free_port();
    let mut live = on_a_swarm(
        &swarm,
        &format!(
            r#"
image "app" {{
    context "app"
}}
secret "token" {{
    from-env "SWARM_ROTATION_TOKEN"
}}
// The test daemon has no default bridge: a task publishes its port through a network.
network "backend"
service "api" {{
    image "${{image.app}}"
    network "backend"
    port {port} target=8080 mode="host"
    endpoint-mode "dnsrr"
    secret "token"
}}
"#
        ),
    );
    let task = SocketAddr::new(swarm.manager().address.into(), port);
    let mut seen = Seen::default();
    let first = random_value("first-token");
    live.set_env("SWARM_ROTATION_TOKEN", &first);
    seen.run(&live, "apply", &with_swarm(&["--auto-approve"]), 0);
    secret_in_task(&swarm, &live, task, &first);
    let [first_version] = names(&swarm, &live, "secret").try_into().unwrap();

    // A new value: a new version of the secret, and the service updated to it because of it.
    let second = random_value("second-token");
    live.set_env("SWARM_ROTATION_TOKEN", &second);
    let plan = live
        .run("plan", &with_swarm(&["--detailed-exitcode"]))
        .status(2)
        .stdout_contains("-/+ secret.token  must be replaced (`content` cannot change in place)")
        .stdout_contains("-/+ service.api  must be replaced (it uses the new `secret.token`)");
    seen.add("plan", plan.stdout);
    let json = live
        .run("plan", &with_swarm(&["--format", "json"]))
        .success()
        .stdout;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let api = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["address"] == "service.api")
        .unwrap();
    assert_eq!(
        api["reasons"],
        serde_json::json!([{"reason": "dependency-changed", "dependency": "secret.token"}])
    );
    seen.add("plan --format json", json.to_string());
    seen.run(&live, "apply", &with_swarm(&["--auto-approve"]), 0);
    secret_in_task(&swarm, &live, task, &second);
    let [second_version] = names(&swarm, &live, "secret").try_into().unwrap();
    assert_ne!(second_version, first_version, "the old version is gone");
    live.run("plan", &with_swarm(&["--detailed-exitcode"]))
        .success()
        .stdout_contains("No changes");

    // An old version that another service still mounts stays until nothing does; an apply
    // that ends before it went leaves drift, which the next apply repairs.
    let image = swarm.manager().docker_ok(&[
        "service",
        "inspect",
        &live.object("api"),
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
    ]);
    let keeper = format!("{}-keeper", live.name);
    swarm.manager().docker_ok(&[
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        &keeper,
        "--label",
        &format!("{TEST_LABEL}={}", live.name),
        "--replicas",
        "0",
        "--secret",
        &second_version,
        image.trim(),
    ]);
    let third = random_value("third-token");
    live.set_env("SWARM_ROTATION_TOKEN", &third);
    seen.run(&live, "apply", &with_swarm(&["--auto-approve"]), 0);
    secret_in_task(&swarm, &live, task, &third);
    let kept = names(&swarm, &live, "secret");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.contains(&second_version), "{kept:?}");
    live.run("plan", &with_swarm(&["--detailed-exitcode"])).success();
    swarm.manager().docker_ok(&["service", "rm", &keeper]);
    let plan = live
        .run("plan", &with_swarm(&["--detailed-exitcode"]))
        .status(2)
        .stdout_contains("~ secret.token  will be updated in place (changed on the daemon by hand)")
        .stdout_contains("! old versions: 1 that no service mounts on the daemon");
    seen.add("plan with drift", plan.stdout);
    seen.run(&live, "apply", &with_swarm(&["--auto-approve"]), 0);
    let [third_version] = names(&swarm, &live, "secret").try_into().unwrap();
    assert!(third_version != second_version && third_version != first_version);
    live.run("plan", &with_swarm(&["--detailed-exitcode"])).success();

    // No value anywhere: not in the plans, the output, the labels or the specs.
    for kind in ["secret", "service"] {
        for name in names(&swarm, &live, kind) {
            seen.add(
                format!("docker {kind} inspect {name}"),
                swarm.manager().docker_ok(&[kind, "inspect", &name]),
            );
        }
    }
    for value in [&first, &second, &third] {
        seen.assert_nowhere(value);
    }

    seen.run(&live, "destroy", &with_swarm(&["--auto-approve"]), 0);
    assert_eq!(names(&swarm, &live, "service"), Vec::<String>::new());
    assert_eq!(names(&swarm, &live, "secret"), Vec::<String>::new());
}

/// When each task of a service was created, or a job's ran to completion, in nanoseconds.
fn task_times(swarm: &TestSwarm, service: &str, field: &str) -> Vec<i64> {
    let ids = swarm
        .manager()
        .docker_ok(&["service", "ps", "--quiet", "--no-trunc", service]);
    ids.lines()
        .map(|id| {
            let format = format!("{{{{{field}.UnixNano}}}}");
            let time = swarm
                .manager()
                .docker_ok(&["inspect", "--type", "task", "--format", &format, id]);
            time.trim().parse().unwrap()
        })
        .collect()
}

const JOB_FIRST: &str = r#"
image "app" {
    context "app"
}
job "migrate" {
    image "${image.app}"
    command "job" "--message" "migrated" "--sleep" "2000"
}
service "api" {
    image "${image.app}"
    endpoint-mode "dnsrr"
    depends-on "job.migrate" condition="completed"
}
"#;

#[test]
fn a_job_completes_before_its_dependents_and_a_failing_one_stops_them() {
    let Some(swarm) = test_swarm() else { return };
    let live = on_a_swarm(&swarm, JOB_FIRST);
    live.run("apply", &with_swarm(&["--auto-approve"])).success();
    let completed = task_times(&swarm, &live.object("migrate"), ".Status.Timestamp");
    let started = task_times(&swarm, &live.object("api"), ".CreatedAt");
    assert_eq!((completed.len(), started.len()), (1, 1));
    assert!(
        completed[0] < started[0],
        "api's task was created before the job completed"
    );
    live.run("plan", &with_swarm(&["--detailed-exitcode"]))
        .success()
        .stdout_contains("No changes");

    // A job that fails: apply says which and why, and leaves its dependents alone.
    let failing = JOB_FIRST
        .replace("\"--sleep\" \"2000\"", "\"--exit\" \"3\"")
        .replace(
            "depends-on \"job.migrate\" condition=\"completed\"",
            "depends-on \"job.migrate\" condition=\"completed\"\n    env {\n        AFTER \"migration\"\n    }",
        );
    live.write("stack.kdl", &failing);
    let failed = live.run("apply", &with_swarm(&["--auto-approve"])).status(1);
    let output = format!("{}{}", failed.stdout, failed.stderr);
    assert!(
        output.contains("job.migrate") && output.contains("non-zero exit (3)"),
        "{output}"
    );
    let env = swarm.manager().docker_ok(&[
        "service",
        "inspect",
        &live.object("api"),
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Env}}",
    ]);
    assert!(
        !env.contains("AFTER"),
        "api was updated after its job failed: {env}"
    );
    // The failed run is seen: the next plan runs the job again.
    live.run("plan", &with_swarm(&["--detailed-exitcode"]))
        .status(2)
        .stdout_contains("job.migrate");

    live.run("destroy", &with_swarm(&["--auto-approve"])).success();
    assert_eq!(names(&swarm, &live, "service"), Vec::<String>::new());
}

#[test]
fn a_health_check_changed_by_hand_is_drift_that_apply_repairs() {
    let Some(swarm) = test_swarm() else { return };
    let live = on_a_swarm(
        &swarm,
        r#"
image "app" {
    context "app"
}
service "api" {
    image "${image.app}"
    endpoint-mode "dnsrr"
    probe {
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "1s"
        retries 3
    }
}
"#,
    );
    live.run("apply", &with_swarm(&["--auto-approve"])).success();
    live.run("plan", &with_swarm(&["--detailed-exitcode"]))
        .success()
        .stdout_contains("No changes");
    let check = || {
        swarm.manager().docker_ok(&[
            "service",
            "inspect",
            &live.object("api"),
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}",
        ])
    };
    assert!(check().contains("\"Interval\":1000000000"), "{}", check());

    swarm.manager().docker_ok(&[
        "service",
        "update",
        "--detach",
        "--health-interval",
        "7s",
        "--health-retries",
        "9",
        &live.object("api"),
    ]);
    live.run("plan", &with_swarm(&["--detailed-exitcode"]))
        .status(2)
        .stdout_contains("-/+ service.api  must be replaced (`probe` cannot change in place; changed on the daemon by hand)")
        .stdout_contains("! probe: {\"Interval\":7000000000,\"Retries\":9,");
    live.run("apply", &with_swarm(&["--auto-approve"])).success();
    let repaired = check();
    assert!(
        repaired.contains("\"Interval\":1000000000") && repaired.contains("\"Retries\":3"),
        "{repaired}"
    );
    live.run("plan", &with_swarm(&["--detailed-exitcode"]))
        .success()
        .stdout_contains("No changes");
    live.run("destroy", &with_swarm(&["--auto-approve"])).success();
}
