//! The job provider against the real daemon, called as the engine calls it, with the demo
//! image's `job` command (print a message, sleep, exit with a code). Each test is a stack of its
//! own, removed afterwards whether it passed or not.

// Test code may unwrap; `allow-unwrap-in-tests` does not reach the helpers in `support`.
#![allow(clippy::unwrap_used)]

// Each test binary uses a part of the helpers.
#[allow(dead_code, unused_imports)]
mod support;

use stack_docker::ContainerStatus;
use stack_language::{Address, Condition};
use stack_provider::{Desired, Live, Resolve};
use support::{Resolved, TestStack, demo_image};

fn job_stack(image: &str, fields: &str) -> String {
    format!("job \"migrate\" {{\n    image \"{image}\"\n    init #true\n{fields}\n}}\n")
}

fn migrate(resolved: &Resolved) -> &Desired {
    resolved.desired(&Address::new(&[], "job", "migrate")).unwrap()
}

async fn read_job(stack: &TestStack) -> Option<Live> {
    let address = Address::new(&[], "job", "migrate");
    let live = stack.provider("job").read(&stack.scope).await.unwrap();
    live.into_iter().find(|live| live.address == address)
}

fn container(stack: &TestStack) -> String {
    format!("{}_migrate", stack.scope.stack)
}

#[tokio::test]
async fn a_job_runs_to_completion_is_kept_as_its_record_and_runs_again_when_changed() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let provider = stack.provider("job");
    let scope = &stack.scope;
    let image = demo_image(&stack).await;
    let first = stack
        .desired(&job_stack(
            &image,
            r#"    command "job" "--message" "migrated 3 tables""#,
        ))
        .await;
    provider.create(scope, migrate(&first)).await.unwrap();

    // `create` returned once the container had exited with 0; it is kept, exited.
    let info = stack.client.inspect_container(&container(&stack)).await.unwrap();
    assert_eq!(info.status, ContainerStatus::Exited);
    assert_eq!(info.exit_code, Some(0));
    provider
        .wait(scope, migrate(&first), Condition::Completed)
        .await
        .unwrap();

    // What a second plan reads: the configuration that ran, completed, nothing to do.
    let live = read_job(&stack).await.unwrap();
    assert!(live.drift.is_empty(), "drift: {:?}", live.drift);
    assert_eq!(live.config, migrate(&first).config);
    assert!(live.state.starts_with("completed at "), "{}", live.state);
    assert_eq!(live.healthy, None);
    // The service provider does not take the job's container for a replica.
    assert!(stack.read_service("migrate").await.is_none());

    // A new command differs in a field that runs the job again.
    let second = stack
        .desired(&job_stack(
            &image,
            r#"    command "job" "--message" "migrated 4 tables""#,
        ))
        .await;
    let kind = migrate(&second).kind;
    assert_eq!(migrate(&second).config.differing(&live.config, kind), ["command"]);
    provider.replace(scope, migrate(&second), &live).await.unwrap();
    let rerun = stack.client.inspect_container(&container(&stack)).await.unwrap();
    assert_ne!(rerun.id, info.id, "the job ran in a new container");
    let logs = stack.client.logs_tail(&container(&stack), 5).await.unwrap();
    assert_eq!(logs, ["migrated 4 tables"]);
    let live = read_job(&stack).await.unwrap();
    assert_eq!(live.config, migrate(&second).config);

    provider.delete(scope, &live).await.unwrap();
    assert!(stack.containers().await.is_empty());
    assert!(read_job(&stack).await.is_none());
}

#[tokio::test]
async fn a_failed_run_names_its_exit_code_and_last_lines_and_is_drift() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let provider = stack.provider("job");
    let scope = &stack.scope;
    let image = demo_image(&stack).await;
    let resolved = stack
        .desired(&job_stack(
            &image,
            r#"    command "job" "--exit" "3" "--message" "relation users already exists"
    retries 1"#,
        ))
        .await;
    let error = provider.create(scope, migrate(&resolved)).await.unwrap_err();
    for expected in [
        "job.migrate: its run exited with code 3",
        "relation users already exists",
        "(after 2 tries)",
    ] {
        assert!(
            error.message.contains(expected),
            "{expected:?} in {}",
            error.message
        );
    }

    // The failed container is kept for its logs, one of it, and the next plan runs it again.
    assert_eq!(stack.containers().await, [container(&stack)]);
    let live = read_job(&stack).await.unwrap();
    assert!(live.state.starts_with("failed with code 3"), "{}", live.state);
    assert_eq!(live.healthy, Some(false));
    assert_eq!(live.drift.len(), 1, "{:?}", live.drift);
    assert_eq!(live.drift[0].actual, "exited with code 3");
    let failed = stack.client.inspect_container(&container(&stack)).await.unwrap();
    provider
        .update(scope, migrate(&resolved), &live)
        .await
        .unwrap_err();
    let again = stack.client.inspect_container(&container(&stack)).await.unwrap();
    assert_ne!(again.id, failed.id, "the update ran the job again");
    let waited = provider
        .wait(scope, migrate(&resolved), Condition::Completed)
        .await;
    assert!(waited.is_err(), "a failed job is not ready");
}

#[tokio::test]
async fn a_run_over_its_timeout_is_stopped_and_fails() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let image = demo_image(&stack).await;
    let resolved = stack
        .desired(&job_stack(
            &image,
            r#"    command "job" "--sleep" "60000" "--message" "still migrating"
    timeout "1s""#,
        ))
        .await;
    let error = stack
        .provider("job")
        .create(&stack.scope, migrate(&resolved))
        .await
        .unwrap_err();
    assert!(
        error
            .message
            .contains("job.migrate: its run did not finish within its timeout of 1s"),
        "{}",
        error.message
    );
    assert!(error.message.contains("still migrating"), "{}", error.message);
    let info = stack.client.inspect_container(&container(&stack)).await.unwrap();
    assert_eq!(info.status, ContainerStatus::Exited, "stopped, not left running");
    assert!(!read_job(&stack).await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn a_new_value_of_a_secret_it_mounts_runs_the_job_again() {
    let Some(stack) = TestStack::new().await else {
        return;
    };
    let file = stack.outside_file("db-password.txt", "first");
    let text = format!(
        "secret \"db-password\" {{\n    from-file \"{file}\"\n}}\n{}",
        job_stack("demo:1", r#"    secret "db-password""#)
    );
    let first = stack.desired(&text).await;
    stack.outside_file("db-password.txt", "second");
    let second = stack.desired(&text).await;
    let (before, after) = (&migrate(&first).config, &migrate(&second).config);
    assert_eq!(after.differing(before, migrate(&second).kind), ["secret"]);
    assert!(
        !after.to_json().contains("second"),
        "no secret value in the configuration"
    );
}
