//! The everyday commands on a swarm, driving the `stack` binary against a single-node swarm of
//! the tests' own (`support::swarm`, one shared by the tests of this file): `stack logs` of
//! every task after its replica, followed across a restart; `stack exec` into a task's
//! container with its exit code; `stack run` of a job again with its exit code; `stack history`
//! of Swarm's current and previous spec and `stack rollback` to the previous one; `stack watch`.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_tests::Outcome;
use support::swarm::TestSwarm;
use support::{LiveStack, docker_available};

/// Two replicas of the demo's web service, a job printing a message and exiting with
/// `var.code`.
const STACK: &str = r#"
variable "code" type="int" default=0
image "demo" {
    context "app"
}
service "web" {
    image "${image.demo}"
    command "serve" "--port" "8080" "--name" "web"
    replicas 2
    stop-grace-period "2s"
    env {
        RELEASE "one"
    }
}
job "hello" {
    image "${image.demo}"
    command "job" "--message" "hello from the job" "--exit" "${var.code}"
}
"#;

const LISTENING: &str = "stack-demo serve: listening on 0.0.0.0:8080";

/// A stack of the test's own applied to the shared swarm, with the swarm.
fn applied() -> Option<(LiveStack, Arc<TestSwarm>)> {
    if !docker_available() {
        return None;
    }
    let swarm = TestSwarm::shared()?;
    let mut live = LiveStack::new()?;
    live.set_env("DOCKER_HOST", &swarm.host());
    live.demo_context("app");
    live.write("stack.kdl", STACK);
    on_swarm(&live, "apply", &["--auto-approve"]).success();
    Some((live, swarm))
}

/// `stack COMMAND DIR --name NAME --target swarm ARGS...`
fn on_swarm(live: &LiveStack, command: &str, args: &[&str]) -> Outcome {
    let mut with_target = vec!["--target", "swarm"];
    with_target.extend_from_slice(args);
    live.run(command, &with_target)
}

/// Waits until `check` holds of what the spawned run `label` printed.
fn until(live: &LiveStack, label: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let output = live.output(label);
        if check(&output) {
            return output;
        }
        assert!(Instant::now() < give_up, "{what}, never seen in:\n{output}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The ids of the tasks of the stack's service `name` that Swarm wants running.
fn running_tasks(swarm: &TestSwarm, live: &LiveStack, name: &str) -> Vec<String> {
    let listed = swarm.manager().docker_ok(&[
        "service",
        "ps",
        "--quiet",
        "--filter",
        "desired-state=running",
        &live.object(name),
    ]);
    listed.lines().map(str::to_owned).collect()
}

/// The `RELEASE` the stack's web service runs with.
fn release(swarm: &TestSwarm, live: &LiveStack) -> String {
    swarm.manager().docker_ok(&[
        "service",
        "inspect",
        &live.object("web"),
        "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}} {{end}}",
    ])
}

#[test]
fn logs_show_every_task_after_its_replica_and_follow_those_a_restart_starts() {
    let Some((live, swarm)) = applied() else {
        return;
    };
    let all = on_swarm(&live, "logs --path", &[]).success();
    for line in [
        format!("web-1 | {LISTENING}"),
        format!("web-2 | {LISTENING}"),
        "hello | hello from the job".to_owned(),
    ] {
        assert!(all.stdout.contains(&line), "no {line:?} in:\n{}", all.stdout);
    }
    let timed = on_swarm(&live, "logs --path", &["--timestamps"]).success();
    let times: Vec<&str> = timed
        .stdout
        .lines()
        .map(|line| line.split(" | ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    assert!(times.len() >= 3, "{}", timed.stdout);
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "not in time order:\n{}",
        timed.stdout
    );
    let web = on_swarm(&live, "logs web --path", &["--tail", "1"]).success();
    assert_eq!(
        web.stdout.lines().count(),
        2,
        "one line of each replica:\n{}",
        web.stdout
    );

    // Followed, the tasks a restart starts are read as they appear; the restart waits for them.
    let mut following = live.spawn("logs web --path", &["--target", "swarm", "-f"], "follow");
    until(&live, "follow", "the first tasks' start", |output| {
        output.contains(&format!("web-1 | {LISTENING}")) && output.contains(&format!("web-2 | {LISTENING}"))
    });
    let before = running_tasks(&swarm, &live, "web");
    on_swarm(&live, "restart web --path", &[])
        .success()
        .stdout_contains("service.web restarted");
    let after = running_tasks(&swarm, &live, "web");
    assert_eq!(after.len(), 2, "{after:?}");
    // The restart returned once the fresh tasks ran.
    let states = swarm.manager().docker_ok(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.CurrentState}}",
        &live.object("web"),
    ]);
    assert!(
        states.lines().all(|state| state.starts_with("Running")),
        "{states}"
    );
    assert!(
        after.iter().all(|task| !before.contains(task)),
        "every replica is a fresh task: {before:?} then {after:?}"
    );
    let output = until(&live, "follow", "the restarted tasks' start", |output| {
        output.matches(&format!("web-1 | {LISTENING}")).count() == 2
            && output.matches(&format!("web-2 | {LISTENING}")).count() == 2
    });
    assert!(output.contains("web-1 | stack-demo serve: stopped"), "{output}");
    let _ = following.kill();
    let _ = following.wait();
}

#[test]
fn exec_runs_in_a_task_and_run_runs_the_job_again_both_with_their_exit_codes() {
    let Some((live, _swarm)) = applied() else {
        return;
    };
    // The arguments of `stack exec web`, split at spaces.
    let exec = |args: &str| on_swarm(&live, "exec web", &args.split(' ').collect::<Vec<_>>());
    exec("-- /stack-demo job --message inside --exit 3")
        .status(3)
        .stdout_contains("inside");
    exec("--replica 2 -- /stack-demo job --message second")
        .success()
        .stdout_contains("second");
    exec("--replica 9 -- /stack-demo job")
        .status(1)
        .stderr_contains("service.web has no running replica 9")
        .stderr_contains("web-1 (running), web-2 (running)");

    let ran = on_swarm(&live, "run hello", &[])
        .success()
        .stdout_contains("job.hello completed.");
    assert_eq!(
        ran.stdout.matches("hello | hello from the job").count(),
        1,
        "this run's output, not the one before:\n{}",
        ran.stdout
    );
    on_swarm(&live, "run hello", &["--var", "code=3"])
        .status(3)
        .stdout_contains("hello | hello from the job")
        .stderr_contains("job.hello");
}

#[test]
fn history_lists_swarms_previous_spec_and_rollback_returns_to_it() {
    let Some((live, swarm)) = applied() else {
        return;
    };
    on_swarm(&live, "history", &[])
        .success()
        .stdout_contains("service.web")
        .stdout_contains("current");
    live.write("stack.kdl", STACK.replace("RELEASE \"one\"", "RELEASE \"two\""));
    on_swarm(&live, "apply", &["--auto-approve"]).success();
    assert!(release(&swarm, &live).contains("RELEASE=two"));

    let history = on_swarm(&live, "history", &[]).success();
    let web: Vec<&str> = history
        .stdout
        .split("\n\n")
        .find(|section| section.starts_with("service.web"))
        .unwrap_or_else(|| panic!("no service.web in:\n{}", history.stdout))
        .lines()
        .collect();
    assert!(web[1].trim_start().starts_with("current "), "{}", history.stdout);
    assert!(web[1].contains("2 running"), "{}", history.stdout);
    assert!(web[2].trim_start().starts_with("previous "), "{}", history.stdout);
    assert!(
        history
            .stdout
            .contains("env: {\"RELEASE\":\"one\"}  (now {\"RELEASE\":\"two\"})"),
        "{}",
        history.stdout
    );

    on_swarm(&live, "rollback web", &[])
        .success()
        .stdout_contains("service.web rolled back");
    assert!(release(&swarm, &live).contains("RELEASE=one"));
    // Swarm swaps the two: a second rollback would undo the first.
    on_swarm(&live, "history", &[])
        .success()
        .stdout_contains("env: {\"RELEASE\":\"two\"}  (now {\"RELEASE\":\"one\"})");
}

#[test]
fn watch_applies_changes_to_the_swarm() {
    if !docker_available() {
        return;
    }
    let Some(swarm) = TestSwarm::shared() else {
        return;
    };
    let Some(mut live) = LiveStack::new() else {
        return;
    };
    live.set_env("DOCKER_HOST", &swarm.host());
    live.demo_context("app");
    live.write("stack.kdl", STACK);
    let mut watching = live.spawn("watch", &["--target", "swarm"], "watch");
    let watching_again = |output: &str, times: usize| output.matches("Watching ").count() == times;
    let first = until(&live, "watch", "the first apply", |output| {
        watching_again(output, 1)
    });
    assert!(first.contains("Apply complete"), "{first}");
    assert_eq!(running_tasks(&swarm, &live, "web").len(), 2, "{first}");

    live.write("stack.kdl", STACK.replace("replicas 2", "replicas 3"));
    let output = until(&live, "watch", "an apply of the change", |output| {
        watching_again(output, 2)
    });
    assert!(output.contains("~ service.web"), "{output}");
    assert_eq!(running_tasks(&swarm, &live, "web").len(), 3, "{output}");
    let _ = watching.kill();
    let _ = watching.wait();
}
