//! Faults during apply: a container that crashes, a host port held by a process outside the
//! stack, a container name taken by a container outside it, a daemon that answers slowly.
//! Each is a clear error naming the resource, and leaves the rest of the stack consistent.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpListener;

use std::time::Duration;

use support::slow_daemon::SlowDaemon;
use support::{LiveStack, TEST_LABEL, docker};

/// A service of the demo image; `more` is the rest of its body.
fn service(name: &str, more: &str) -> String {
    format!(
        r#"
service "{name}" {{
    image "${{image.demo}}"
    init #true
    stop-grace-period "1s"
{more}}}
"#
    )
}

const IMAGE: &str = "image \"demo\" {\n    context \"app\"\n}\n";

fn live_with(text: &str) -> Option<LiveStack> {
    let live = LiveStack::new()?;
    live.demo_context("app");
    live.write("stack.kdl", format!("{IMAGE}{text}"));
    Some(live)
}

/// No container of the stack is left `created` (made but never started).
fn none_created(live: &LiveStack) {
    let created: Vec<_> = live
        .containers()
        .into_iter()
        .filter(|(_, state)| state == "created")
        .collect();
    assert_eq!(created, [], "containers left in state `created`");
}

#[test]
fn a_container_that_crashes_fails_the_apply_with_its_last_log_lines() {
    // One that Docker restarts (it may be running again when looked at), one that stays exited
    // after a tenth of a second: still within the time a service without a probe must stay up.
    let crashing = format!(
        "{}{}",
        service(
            "worker",
            "    command \"job\" \"--exit\" \"3\" \"--message\" \"worker: cannot reach the queue\"\n",
        ),
        service(
            "seed",
            "    command \"job\" \"--exit\" \"4\" \"--sleep\" \"100\" \"--message\" \"seed: no such table\"\n    restart \"no\"\n",
        )
    );
    let Some(live) = live_with(&format!("{}{crashing}", service("api", ""))) else {
        return;
    };
    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains("Apply failed: 2 done, 2 failed, 0 skipped."),
        "{stdout}"
    );
    // The plan shows the messages as arguments: look for them among the log lines.
    let logs = |service: &str, line: &str| {
        let failed = format!("failed   service.{service}: ");
        let message = &stdout[stdout.find(&failed).unwrap_or_else(|| panic!("{stdout}"))..];
        let logs = &message[message
            .find("its last log lines:")
            .unwrap_or_else(|| panic!("{stdout}"))..];
        assert!(
            logs.lines().nth(1).is_some_and(|first| first.contains(line)),
            "{stdout}"
        );
    };
    logs("worker", "worker: cannot reach the queue");
    logs("seed", "seed: no such table");
    assert!(stdout.contains("+ service.api created"), "{stdout}");
    none_created(&live);

    live.write(
        "stack.kdl",
        format!(
            "{IMAGE}{}{}{}",
            service("api", ""),
            service("worker", ""),
            service("seed", "")
        ),
    );
    live.run("apply", &["--auto-approve"]).success();
    live.run("plan", &["--detailed-exitcode"]).success();
    let states: Vec<String> = live
        .current_containers()
        .into_iter()
        .map(|(_, state)| state)
        .collect();
    assert_eq!(states, ["running", "running", "running"]);
}

#[test]
fn a_host_port_held_outside_the_stack_is_named_and_nothing_is_left_half_made() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let web = service(
        "web",
        &format!("    port {port} target=8080 host-ip=\"127.0.0.1\"\n"),
    );
    let Some(live) = live_with(&format!("{}{web}", service("api", ""))) else {
        return;
    };
    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    let stdout = &outcome.stdout;
    // The plan lists the port too: look in the failure.
    let failure = &stdout[stdout
        .find("failed   service.web: ")
        .unwrap_or_else(|| panic!("{stdout}"))..];
    assert!(
        failure.contains(&format!("127.0.0.1:{port}")),
        "the port is named: {stdout}"
    );
    assert!(failure.contains("holds that host port"), "{stdout}");
    assert!(stdout.contains("+ service.api created"), "{stdout}");
    none_created(&live);
    assert_eq!(live.objects("container"), [live.object("api-1")]);

    drop(holder);
    live.run("apply", &["--auto-approve"]).success();
    live.run("plan", &["--detailed-exitcode"]).success();
}

#[test]
fn a_container_name_taken_outside_the_stack_is_named_and_left_alone() {
    let Some(live) = live_with(&format!("{}{}", service("api", ""), service("web", ""))) else {
        return;
    };
    // An image of the test's own: a container inherits its image's labels, and those of an
    // image the stack built name the stack.
    let image = format!("{}-squatter:test", live.name);
    let label = format!("{TEST_LABEL}={}", live.name);
    let context = format!("{}/app", live.path());
    let built = std::process::Command::new("docker")
        .args(["build", "-q", "-t", &image, "--label", &label, &context])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let squatter = live.object("web-1");
    let made = docker(&["create", "--name", &squatter, "--label", &label, &image]);
    let id = made.trim();
    assert!(!id.is_empty(), "docker create {squatter}");

    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains(&format!(
            "container `{squatter}`, needed by service.web, already exists and was not created by stack"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("+ service.api created"), "{stdout}");
    let still = docker(&["inspect", "--format", "{{.Id}} {{.State.Status}}", &squatter]);
    assert_eq!(
        still.trim(),
        format!("{id} created"),
        "the container in the way is untouched"
    );
    assert_eq!(live.objects("container"), [live.object("api-1")]);
}

#[test]
fn a_slow_daemon_still_converges() {
    let text = format!(
        "network \"backend\"\nvolume \"data\"\n{}",
        service(
            "api",
            "    network \"backend\"\n    volume \"data\" target=\"/data\"\n    replicas 2\n"
        )
    );
    let Some(mut live) = live_with(&text) else { return };
    let slow = SlowDaemon::start(Some(Duration::from_millis(300)));
    live.set_env("DOCKER_HOST", &slow.docker_host());
    live.run("apply", &["--auto-approve"]).success();
    live.run("plan", &["--detailed-exitcode"]).success();
    live.put_data("api-1", "kept", "through a slow daemon");
    let v2 = text.replace(
        "replicas 2",
        "replicas 2\n    env {\n        DEMO_VERSION \"v2\"\n    }",
    );
    live.write("stack.kdl", format!("{IMAGE}{v2}"));
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("-/+ service.api replaced");
    live.run("plan", &["--detailed-exitcode"]).success();
    live.assert_data("api-2", "kept", "through a slow daemon");
    let names: Vec<String> = live
        .current_containers()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, [live.object("api-1"), live.object("api-2")]);
}

#[test]
fn a_daemon_that_never_answers_is_named_after_a_timeout() {
    let Some(mut live) = live_with(&service("api", "")) else {
        return;
    };
    let silent = SlowDaemon::start(None);
    live.set_env("DOCKER_HOST", &silent.docker_host());
    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    assert!(
        outcome.stderr.contains(&silent.socket().display().to_string())
            && outcome.stderr.contains("no answer to a ping within 3s"),
        "{}",
        outcome.stderr
    );
    // Nothing was made: the daemon never saw a request.
    assert_eq!(live.objects("container"), Vec::<String>::new());
}
