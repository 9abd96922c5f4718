//! The stack lock against the real daemon: taken once, named when held,
//! released by its token only. Each test locks a stack of its own
//! (`stacktest-...`) and releases it whatever happens.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use stack_docker::DockerClient;
use stack_provider::lock::{Holder, LockError, StackLock};
use stack_providers::DockerLock;

/// The daemon, or `None` without one. Under `CI=true` a missing daemon fails the test.
async fn docker() -> Option<Arc<DockerClient>> {
    match DockerClient::connect().await {
        Ok(client) => Some(Arc::new(client)),
        Err(error) => {
            stack_tests::without_docker(&error);
            None
        }
    }
}

fn unique_stack(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |time| time.subsec_nanos());
    format!("stacktest-{:x}-{nanos:x}-{test}", std::process::id())
}

fn holder(pid: u32) -> Holder {
    Holder {
        user: "tester".to_owned(),
        host: "test-host".to_owned(),
        pid,
        since: 1_700_000_000,
        operation: "apply".to_owned(),
    }
}

/// Removes the lock container of a stack when dropped.
struct Cleanup(Arc<DockerClient>, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let docker = Arc::clone(&self.0);
        let name = format!("stack-lock.{}", self.1);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async { docker.remove_container(&name, true).await })
        })
        .join();
    }
}

#[tokio::test]
async fn a_lock_is_taken_once_and_names_its_holder() {
    let Some(docker) = docker().await else { return };
    let stack = unique_stack("held");
    let _cleanup = Cleanup(Arc::clone(&docker), stack.clone());
    let locks = DockerLock::new(Arc::clone(&docker));

    let token = locks.try_lock(&stack, &holder(1)).await.unwrap();
    match locks.try_lock(&stack, &holder(2)).await {
        Err(LockError::Held {
            holder: found,
            token: held,
            hint,
        }) => {
            assert_eq!(found, holder(1));
            assert_eq!(held, token);
            assert!(hint.contains(&format!("docker rm stack-lock.{stack}")), "{hint}");
        }
        other => panic!("expected the lock to be held, got {:?}", other.map(|_| ())),
    }
    locks.unlock(&stack, &token).await.unwrap();
    let again = locks.try_lock(&stack, &holder(2)).await.unwrap();
    // The old token no longer removes anything.
    locks.unlock(&stack, &token).await.unwrap();
    assert!(matches!(
        locks.try_lock(&stack, &holder(3)).await,
        Err(LockError::Held { .. })
    ));
    locks.unlock(&stack, &again).await.unwrap();
}

#[tokio::test]
async fn concurrent_takers_get_the_lock_exactly_once() {
    let Some(docker) = docker().await else { return };
    let stack = unique_stack("race");
    let _cleanup = Cleanup(Arc::clone(&docker), stack.clone());
    let locks = Arc::new(DockerLock::new(Arc::clone(&docker)));
    let attempts = (0..6).map(|pid| {
        let locks = Arc::clone(&locks);
        let stack = stack.clone();
        tokio::spawn(async move { locks.try_lock(&stack, &holder(pid)).await })
    });
    let mut won = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(token) => won.push(token),
            Err(LockError::Held { .. }) => {}
            Err(LockError::Failed(error)) => panic!("{error}"),
        }
    }
    assert_eq!(won.len(), 1);
}
