//! `stack plan`, `apply`, `destroy` and `status` end to end, against the real
//! Docker daemon. Each test works on a stack of its own (`--name
//! stacktest-...`), destroyed when the test ends, pass or fail. Without a
//! daemon these tests are skipped, except under `CI=true`, where they fail.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

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
    stack_tests::assert_plan_fits_schema(&json.stdout);
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

    // A volume that left the files is kept, and the JSON plan says so.
    live.write("stack.kdl", "network \"backend\" {\n    internal #true\n}\n");
    let json = live.run("plan", &["--json"]).success();
    stack_tests::assert_plan_fits_schema(&json.stdout);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        plan["kept"],
        serde_json::json!([{"address": "volume.data", "kind": "volume"}])
    );
    live.write("stack.kdl", NETWORK_AND_VOLUME);

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
fn a_plan_reads_the_stack_the_files_name_though_a_first_look_guessed_another() {
    let Some(live) = LiveStack::new() else { return };
    // The plan starts reading the daemon under the name a first look at the files finds: here
    // `decoy`, a line inside a string. Once loaded, the stack's own name must win.
    let file = format!(
        "volume \"data\" {{\n    labels {{\n        note \"\"\"\nstack \"decoy\"\n\"\"\"\n    }}\n}}\n\nstack \"{}\"\n",
        live.name
    );
    live.write("stack.kdl", file);
    live.run("apply", &["--auto-approve"]).success();
    stack()
        .args(["plan", &live.path(), "--detailed-exitcode"])
        .run()
        .success()
        .stdout_contains("No changes: the daemon matches the stack.");
    live.run("destroy", &["--auto-approve", "--volumes"]).success();
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
    // An image the stack builds: one the host lacks would be pulled before anything changes.
    live.demo_context("app");
    live.write(
        "stack.kdl",
        format!(
            r#"
network "backend" {{
    subnet "{taken}"
}}
image "demo" {{
    context "app"
}}
service "api" {{
    image "${{image.demo}}"
    network "backend"
}}
volume "data"
"#
        ),
    );
    let outcome = live.run("apply", &["--auto-approve"]).status(1);
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains("Apply failed: 2 done, 1 failed, 1 skipped."),
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
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
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

    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_in_order("+ service.cache created", "+ service.api created");
    live.run("plan", &["--detailed-exitcode"]).success();
    // Health shows once per service, in one column: the daemon's probe (cache) and no probe (api).
    let status = live.run("status", &[]).success();
    let health_columns: Vec<Option<usize>> = ["service.cache", "service.api"]
        .iter()
        .map(|address| {
            let line = status.stdout.lines().find(|line| line.contains(address));
            let line = line.unwrap_or_else(|| panic!("no {address} in {}", status.stdout));
            assert_eq!(line.matches("healthy").count(), 1, "{line}");
            line.find("healthy")
        })
        .collect();
    assert_eq!(health_columns[0], health_columns[1], "{}", status.stdout);

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
    docker(&["rm", "-f", "-v", &format!("{}_cache-1", live.name)]);
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

    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_in_order("+ job.migrate created", "+ service.api created");
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

fn held(subnet: &str, team: &str) -> String {
    format!(
        r#"
network "backend" {{
    subnet "{subnet}"
}}
volume "data" {{
    labels {{
        team "{team}"
    }}
}}
image "demo" {{
    context "app"
}}
service "api" {{
    image "${{image.demo}}"
    network "backend"
    volume "data" target="/data"
    stop-grace-period "1s"
}}
service "worker" {{
    image "${{image.demo}}"
    stop-grace-period "1s"
}}
"#
    )
}

#[test]
fn replacing_a_network_or_volume_replaces_the_services_on_it() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    let (first, second) = (subnet(), subnet());
    live.write("stack.kdl", held(&first, "shop"));
    live.run("apply", &["--auto-approve"]).success();
    let api = format!("{}_api-1", live.name);
    let address = || {
        docker(&[
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &api,
        ])
        .trim()
        .to_owned()
    };
    let prefix = |subnet: &str| subnet.trim_end_matches("0/24").to_owned();
    assert!(address().starts_with(&prefix(&first)), "{}", address());

    live.write("stack.kdl", held(&second, "shop"));
    let plan = live.run("plan", &[]).success();
    assert!(
        plan.stdout
            .contains("-/+ service.api  must be replaced (`network.backend` it uses is replaced)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("service.worker"), "{}", plan.stdout);
    let json = live.run("plan", &["--json"]).success();
    assert!(
        json.stdout.contains("\"reason\": \"dependency-replaced\""),
        "{}",
        json.stdout
    );
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("-/+ service.api replaced");
    assert!(address().starts_with(&prefix(&second)), "{}", address());
    live.run("plan", &["--detailed-exitcode"]).success();

    // A volume's labels cannot change either: the service mounting it goes around it.
    live.write("stack.kdl", held(&second, "checkout"));
    live.run("plan", &[])
        .success()
        .stdout_contains("-/+ service.api  must be replaced (`volume.data` it uses is replaced)");
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("-/+ volume.data replaced");
    let running = docker(&["inspect", "--format", "{{.State.Running}}", &api]);
    assert_eq!(running.trim(), "true");
    live.run("plan", &["--detailed-exitcode"]).success();
}

fn protected(guard: &str) -> String {
    format!(
        r#"
network "front" {{
    {guard}
}}
volume "data" {{
    {guard}
}}
image "demo" {{
    context "app"
}}
service "api" {{
    image "${{image.demo}}"
    network "front"
    stop-grace-period "1s"
    {guard}
}}
"#
    )
}

#[test]
fn prevent_destroy_protects_what_left_the_files_until_an_apply_lifts_it() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", protected("prevent-destroy #true"));
    live.run("apply", &["--auto-approve"]).success();
    let record = format!("stack-record.{}", live.name);
    let records = || {
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("name=^{record}$"),
            "--format",
            "{{.Names}}",
        ])
    };
    assert_eq!(records().trim(), record);

    live.write("stack.kdl", "network \"other\"\n");
    let refused = live.run("plan", &[]).status(1);
    for address in ["network.front", "service.api"] {
        assert!(
            refused.stderr.contains(&format!(
                "`{address}` is no longer in the files, but it was applied with `prevent-destroy #true`"
            )),
            "{}",
            refused.stderr
        );
    }
    assert!(
        refused.stderr.contains("first remove `prevent-destroy`"),
        "{}",
        refused.stderr
    );
    live.run("apply", &["--auto-approve"]).status(1);
    live.run("destroy", &["--auto-approve", "--volumes"])
        .status(1)
        .stderr_contains(
            "`volume.data` is no longer in the files, but it was applied with `prevent-destroy #true`",
        );
    assert_eq!(live.objects("network"), [format!("{}_front", live.name)]);
    assert_eq!(live.objects("volume"), [format!("{}_data", live.name)]);
    assert_eq!(live.objects("container"), [format!("{}_api-1", live.name)]);

    // Lifted by an apply (which changes nothing else), then removed.
    live.write("stack.kdl", protected(""));
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("No changes");
    assert_eq!(records().trim(), "");
    live.write("stack.kdl", "network \"other\"\n");
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("- network.front deleted");
    live.run("destroy", &["--auto-approve", "--volumes"]).success();
    live.nothing_left();
}

const CHAIN: &str = r#"
image "demo" {
    context "app"
}
service "slow" {
    image "${image.demo}"
    stop-grace-period "1s"
    probe {
        http "http://127.0.0.1:8080/health"
        interval "4s"
    }
}
service "middle" {
    image "${image.demo}"
    stop-grace-period "1s"
    depends-on "slow" condition="healthy"
}
service "last" {
    image "${image.demo}"
    stop-grace-period "1s"
    depends-on "middle"
}
"#;

#[test]
fn ctrl_c_stops_starting_new_work_and_the_next_apply_completes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", CHAIN);
    let mut apply = Command::new(env!("CARGO_BIN_EXE_stack"))
        .args(["apply", &live.path(), "--name", &live.name, "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    let mut lines = BufReader::new(apply.stdout.take().unwrap()).lines();
    // `middle` waits for `slow` to become healthy (4 s): interrupt then.
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("+ service.slow created") {
            let sent = Command::new("kill")
                .args(["-INT", &apply.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
            break;
        }
    }
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let status = apply.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(seen.contains("Apply interrupted:"), "{seen}");
    assert!(seen.contains("not started  service.last"), "{seen}");
    assert!(seen.contains("Run `stack apply` again to complete it."), "{seen}");
    let last = format!("{}_last-1", live.name);
    assert!(!live.objects("container").contains(&last), "{seen}");

    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("+ service.last created");
    live.run("plan", &["--detailed-exitcode"]).success();
}

/// A container started by hand from an image of the stack: the stack's image, not its container.
fn hand_started(live: &LiveStack) -> String {
    let image = live.objects("image").pop().expect("the stack's image");
    let name = live.object("by-hand");
    let label = format!("{TEST_LABEL}={}", live.name);
    docker(&["run", "-d", "--init", "--name", &name, "--label", &label, &image]);
    name
}

#[test]
fn a_container_started_by_hand_from_a_stack_image_is_never_the_stacks() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    let stack = "image \"demo\" {\n    context \"app\"\n}\nservice \"web\" {\n    image \"${image.demo}\"\n    stop-grace-period \"1s\"\n}\n";
    live.write("stack.kdl", stack);
    live.run("apply", &["--auto-approve"]).success();
    let by_hand = hand_started(&live);
    let by_hand_id = docker(&["inspect", "-f", "{{.Id}}", &by_hand]);
    let stack_labels = docker(&["inspect", "-f", "{{json .Config.Labels}}", &by_hand]);
    for key in [
        "dev.stack.stack",
        "dev.stack.address",
        "dev.stack.config",
        "dev.stack.hash",
    ] {
        assert!(
            !stack_labels.contains(&format!("\"{key}\"")),
            "{key} in {stack_labels}"
        );
    }

    live.run("plan", &["--detailed-exitcode"]).success();
    let status = live.run("status", &[]).success();
    assert!(!status.stdout.contains("by-hand"), "{}", status.stdout);
    live.write("stack.kdl", stack.replace("\"1s\"", "\"2s\""));
    let applied = live.run("apply", &["--auto-approve"]).success();
    assert!(!applied.stdout.contains("by-hand"), "{}", applied.stdout);
    assert!(!live.objects("container").contains(&by_hand));

    // Destroy removes the service, and cannot remove the image the container still runs.
    live.run("destroy", &["--auto-approve"]).status(1);
    assert_eq!(
        docker(&["inspect", "-f", "{{.Id}} {{.State.Status}}", &by_hand]),
        format!("{} running\n", by_hand_id.trim())
    );
    docker(&["rm", "-f", "-v", &by_hand]);
    live.run("destroy", &["--auto-approve"]).success();
    live.nothing_left();
}

#[test]
fn an_image_a_container_outside_the_stack_uses_is_named_when_destroy_cannot_remove_it() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", "image \"demo\" {\n    context \"app\"\n}\n");
    live.run("apply", &["--auto-approve"]).success();
    let by_hand = hand_started(&live);

    let refused = live.run("destroy", &["--auto-approve"]).status(1);
    let output = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        output.contains(&format!(
            "is in use by container `{by_hand}`, which is not the stack's"
        )),
        "{output}"
    );
    assert!(!output.contains("already exists"), "{output}");
    assert!(output.contains("docker ps -a --filter ancestor="), "{output}");

    docker(&["rm", "-f", "-v", &by_hand]);
    live.run("destroy", &["--auto-approve"]).success();
    live.nothing_left();
}
