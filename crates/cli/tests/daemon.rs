//! `stack plan`, `apply`, `destroy` and `status` end to end, against the real
//! Docker daemon. Each test works on a stack of its own (`--name
//! stacktest-...`), destroyed when the test ends, pass or fail. Without a
//! daemon these tests are skipped, except under `CI=true`, where they fail.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use support::{LiveStack, TEST_LABEL, docker, stack, subnet};

const NETWORK_AND_VOLUME: &str = r#"
network "backend" {
    internal #true
}
volume "data" {
    labels {
        team "shop"
    }
}
"#;

#[test]
fn a_daemon_that_does_not_answer_is_a_clear_error() {
    let outcome = stack()
        .file("stack.kdl", NETWORK_AND_VOLUME)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["plan"])
        .run()
        .status(1);
    assert!(
        outcome.stderr.contains("the Docker daemon is not reachable"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("hint: start it"), "{}", outcome.stderr);
}

#[test]
fn plan_renders_creation_for_people_programs_and_pull_requests() {
    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", NETWORK_AND_VOLUME);
    let human = live.run("plan", &[]).success();
    insta::assert_snapshot!("plan_human", live.redact(&human.stdout));
    let json = live.run("plan", &["--json"]).success();
    insta::assert_snapshot!("plan_json", live.redact(&json.stdout));
    let markdown = live.run("plan", &["--format", "markdown"]).success();
    insta::assert_snapshot!("plan_markdown", live.redact(&markdown.stdout));
    live.run("plan", &["--detailed-exitcode"]).status(2);
}

#[test]
fn apply_creates_then_nothing_changes_and_destroy_leaves_nothing() {
    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", NETWORK_AND_VOLUME);
    let applied = live.run("apply", &["--auto-approve"]).success();
    assert!(
        applied.stdout.contains("+ network.backend created ("),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("Apply complete: 2 done."),
        "{}",
        applied.stdout
    );
    assert_eq!(live.objects("network"), [format!("{}_backend", live.name)]);

    live.run("plan", &["--detailed-exitcode"])
        .success()
        .stdout_contains("No changes: the daemon matches the stack.");
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("0 to create");

    let status = live.run("status", &[]).success();
    assert!(status.stdout.contains("network.backend"), "{}", status.stdout);
    assert!(status.stdout.contains("volume.data"), "{}", status.stdout);

    let destroyed = live.run("destroy", &["--auto-approve"]).success();
    assert!(
        destroyed.stdout.contains("- network.backend deleted"),
        "{}",
        destroyed.stdout
    );
    assert!(
        destroyed.stdout.contains("Kept (pass --volumes"),
        "{}",
        destroyed.stdout
    );
    assert_eq!(live.objects("volume"), [format!("{}_data", live.name)]);
    live.run("destroy", &["--auto-approve", "--volumes"])
        .success()
        .stdout_contains("- volume.data deleted");
    live.nothing_left();
}

#[test]
fn apply_and_destroy_refuse_without_a_terminal_to_confirm_on() {
    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", NETWORK_AND_VOLUME);
    live.run("apply", &[])
        .status(1)
        .stderr_contains("refusing to apply without confirmation");
    live.run("destroy", &[])
        .status(1)
        .stderr_contains("refusing to destroy without confirmation");
    live.nothing_left();
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_once_the_daemon_changed() {
    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", NETWORK_AND_VOLUME);
    let plan_file = live.dir.path().join("changes.plan");
    let plan_file = plan_file.to_str().unwrap();
    live.run("plan", &["--out", plan_file]).success();
    let saved = std::fs::read_to_string(plan_file).unwrap();
    assert!(saved.contains("\"live_fingerprint\""), "{saved}");

    // The daemon changes in between: the saved plan no longer holds.
    live.run("apply", &["--auto-approve"]).success();
    stack()
        .args(["apply", plan_file])
        .run()
        .status(1)
        .stderr_contains("changed since the plan");

    // A fresh plan, applied as saved, without asking.
    docker(&["network", "rm", &format!("{}_backend", live.name)]);
    live.run("plan", &["--out", plan_file]).success();
    stack()
        .args(["apply", plan_file])
        .run()
        .success()
        .stdout_contains("+ network.backend created");
    live.run("plan", &["--detailed-exitcode"]).success();
}

#[test]
fn a_held_lock_names_its_holder_and_a_dead_local_one_is_taken_over() {
    use stack_provider::lock::{Holder, StackLock};

    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", NETWORK_AND_VOLUME);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(stack_docker::DockerClient::connect()).unwrap();
    let locks = stack_providers::DockerLock::new(std::sync::Arc::new(client));
    let holder = |host: &str, pid: u32| Holder {
        user: "alice".to_owned(),
        host: host.to_owned(),
        pid,
        since: 1_738_315_800,
        operation: "apply".to_owned(),
    };

    let token = runtime
        .block_on(locks.try_lock(&live.name, &holder("elsewhere", 4242)))
        .unwrap();
    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    assert!(
        outcome
            .stderr
            .contains("is locked by alice on elsewhere (pid 4242, apply) since 2025-01-31 09:30:00 UTC"),
        "{}",
        outcome.stderr
    );
    live.run("destroy", &["--auto-approve"])
        .status(1)
        .stderr_contains("is locked by alice");
    assert!(live.objects("network").is_empty(), "nothing was applied");
    runtime.block_on(locks.unlock(&live.name, &token)).unwrap();

    let this_host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    runtime
        .block_on(locks.try_lock(&live.name, &holder(this_host.trim(), 999_999_999)))
        .unwrap();
    live.run("apply", &["--auto-approve"])
        .success()
        .stderr_contains("warning: took over the lock");
}

#[test]
fn a_failure_in_one_branch_skips_its_dependents_and_the_rest_finishes() {
    let Some(live) = LiveStack::new() else { return };
    // A network made by hand takes the subnet the stack asks for.
    let taken = subnet();
    let blocker = format!("{}-blocker", live.name);
    docker(&[
        "network",
        "create",
        "--subnet",
        &taken,
        "--label",
        &format!("{TEST_LABEL}={}", live.name),
        &blocker,
    ]);
    live.write(
        "stack.kdl",
        format!(
            r#"
network "backend" {{
    subnet "{taken}"
}}
service "api" {{
    image "stacktest-never-built:1"
    network "backend"
}}
volume "data"
"#
        ),
    );
    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains("Apply failed: 1 done, 1 failed, 1 skipped."),
        "{stdout}"
    );
    assert!(stdout.contains("failed   network.backend:"), "{stdout}");
    assert!(
        stdout.contains("skipped  service.api: network.backend failed"),
        "{stdout}"
    );
    assert!(stdout.contains("+ volume.data created"), "{stdout}");
    assert_eq!(live.objects("volume"), [format!("{}_data", live.name)]);
}

#[test]
fn resources_removed_from_the_files_are_deleted_unless_protected() {
    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", "network \"front\"\nnetwork \"back\"\n");
    live.run("apply", &["--auto-approve"]).success();
    live.write("stack.kdl", "network \"front\"\n");
    live.run("plan", &[])
        .success()
        .stdout_contains("- network.back  will be deleted (no longer in the files)");
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("- network.back deleted");
    assert_eq!(live.objects("network"), [format!("{}_front", live.name)]);

    live.write(
        "stack.kdl",
        "network \"front\" {\n    internal #true\n    prevent-destroy #true\n}\n",
    );
    live.run("plan", &[])
        .status(1)
        .stderr_contains("`network.front` must be replaced (`internal` cannot change in place)");
    live.run("destroy", &["--auto-approve"])
        .status(1)
        .stderr_contains("`network.front` has `prevent-destroy #true`");
    assert_eq!(live.objects("network"), [format!("{}_front", live.name)]);
}

fn shop(memory: &str, greeting: &str) -> String {
    format!(
        r#"
network "backend"
image "demo" {{
    context "app"
}}
service "cache" {{
    image "${{image.demo}}"
    network "backend"
    stop-grace-period "1s"
    probe {{
        http "http://127.0.0.1:8080/health"
        interval "1s"
    }}
}}
service "api" {{
    image "${{image.demo}}"
    network "backend"
    stop-grace-period "1s"
    depends-on "cache" condition="healthy"
    env {{
        GREETING "{greeting}"
    }}
    resources {{
        memory "{memory}"
    }}
}}
"#
    )
}

#[test]
fn services_are_health_gated_changed_in_place_or_replaced_and_repaired() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", shop("64MiB", "hello"));

    let applied = live.run("apply", &["--auto-approve"]).success();
    let stdout = &applied.stdout;
    let position = |line: &str| {
        stdout
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} in {stdout}"))
    };
    assert!(
        position("+ service.cache created") < position("+ service.api created"),
        "{stdout}"
    );
    live.run("plan", &["--detailed-exitcode"]).success();

    live.write("stack.kdl", shop("96MiB", "hello"));
    let update = live.run("plan", &["--detailed-exitcode"]).status(2);
    insta::assert_snapshot!("plan_update_in_place", live.redact(&update.stdout));
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("~ service.api updated");

    live.write("stack.kdl", shop("96MiB", "bonjour"));
    let replace = live.run("plan", &["--detailed-exitcode"]).status(2);
    insta::assert_snapshot!("plan_replace", live.redact(&replace.stdout));
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("-/+ service.api replaced");
    live.run("plan", &["--detailed-exitcode"]).success();

    // A container removed by hand is drift the next apply repairs.
    docker(&["rm", "-f", &format!("{}_cache-1", live.name)]);
    live.run("plan", &["--detailed-exitcode"]).status(2);
    live.run("apply", &["--auto-approve"]).success();
    live.run("plan", &["--detailed-exitcode"]).success();

    live.run("destroy", &["--auto-approve"]).success();
    live.nothing_left();
}

/// The demo program in `app/`, for an `image "demo" { context "app" }`.
fn demo_app(live: &LiveStack) {
    live.write(
        "app/Dockerfile",
        "FROM scratch\nCOPY stack-demo /stack-demo\nENTRYPOINT [\"/stack-demo\"]\nCMD [\"serve\"]\n",
    );
    std::fs::copy(stack_tests::demo_binary(), live.dir.path().join("app/stack-demo")).unwrap();
}

/// A migration job before an API, and a volume that needs neither.
fn migrated_shop(job_command: &str) -> String {
    format!(
        r#"
image "demo" {{
    context "app"
}}
job "migrate" {{
    image "${{image.demo}}"
    command {job_command}
}}
service "api" {{
    image "${{image.demo}}"
    init #true
    stop-grace-period "1s"
    depends-on "job.migrate"
}}
volume "data"
"#
    )
}

#[test]
fn a_job_runs_before_its_dependents_once_and_again_when_changed() {
    let Some(live) = LiveStack::new() else { return };
    demo_app(&live);
    live.write(
        "stack.kdl",
        migrated_shop(r#""job" "--message" "migrated 3 tables""#),
    );

    let applied = live.run("apply", &["--auto-approve"]).success();
    let stdout = &applied.stdout;
    let position = |line: &str| {
        stdout
            .find(line)
            .unwrap_or_else(|| panic!("no {line:?} in {stdout}"))
    };
    assert!(
        position("+ job.migrate created") < position("+ service.api created"),
        "{stdout}"
    );
    let job = format!("{}_migrate", live.name);
    let api = format!("{}_api-1", live.name);
    let finished = docker(&["inspect", "-f", "{{.State.FinishedAt}}", &job]);
    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &api]);
    assert!(
        finished.get(..19) <= started.get(..19),
        "the api started ({started}) before the job finished ({finished})"
    );

    // The run is recorded: nothing to do, and status says when it ran.
    live.run("plan", &["--detailed-exitcode"]).success();
    let status = live.run("status", &[]).success();
    let line = status
        .stdout
        .lines()
        .find(|line| line.contains("job.migrate"))
        .unwrap_or_else(|| panic!("no job in {}", status.stdout));
    assert!(line.contains("completed at "), "{line}");
    assert!(!line.contains("unhealthy"), "{line}");

    // A new command runs it again; the service that depends on it is left as it is.
    live.write(
        "stack.kdl",
        migrated_shop(r#""job" "--message" "migrated 4 tables""#),
    );
    live.run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains("job.migrate");
    let api_id = docker(&["inspect", "-f", "{{.Id}}", &api]);
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("-/+ job.migrate replaced");
    assert_eq!(docker(&["logs", &job]).trim(), "migrated 4 tables");
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &api]), api_id);
    live.run("plan", &["--detailed-exitcode"]).success();

    // So does a new build of the image it runs, which has a new tag.
    live.write("app/VERSION", "2\n");
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("-/+ job.migrate replaced");
    live.run("plan", &["--detailed-exitcode"]).success();

    live.run("destroy", &["--auto-approve", "--volumes"]).success();
    live.nothing_left();
}

#[test]
fn a_failing_job_fails_apply_with_its_output_skips_its_dependents_and_runs_again() {
    let Some(live) = LiveStack::new() else { return };
    demo_app(&live);
    let failing = migrated_shop(r#""job" "--exit" "3" "--message" "no such table: users""#);
    live.write("stack.kdl", &failing);

    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    let output = format!("{}{}", outcome.stdout, outcome.stderr);
    for expected in [
        "failed   job.migrate:",
        "exited with code 3",
        "no such table: users",
        "skipped  service.api: job.migrate failed",
        "+ volume.data created",
    ] {
        assert!(output.contains(expected), "{expected:?} in {output}");
    }
    assert!(
        live.objects("container")
            .iter()
            .all(|name| !name.contains("_api"))
    );
    live.run("status", &[])
        .success()
        .stdout_contains("failed with code 3");

    // The failed run is drift: the next apply runs the job again, in a new container.
    live.run("plan", &["--detailed-exitcode"]).status(2);
    let job = format!("{}_migrate", live.name);
    let failed_id = docker(&["inspect", "-f", "{{.Id}}", &job]);
    live.run("apply", &["--auto-approve"])
        .status(1)
        .stdout_contains("no such table: users");
    assert_ne!(docker(&["inspect", "-f", "{{.Id}}", &job]), failed_id);

    // Fixed, it completes, its dependent starts, and nothing shows as failing any more.
    live.write(
        "stack.kdl",
        migrated_shop(r#""job" "--message" "created table users""#),
    );
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("+ service.api created");
    let status = live.run("status", &[]).success();
    assert!(!status.stdout.contains("failed"), "{}", status.stdout);
    assert!(!status.stdout.contains("unhealthy"), "{}", status.stdout);
    live.run("plan", &["--detailed-exitcode"]).success();
}
