//! The host against providers that misbehave: each is a shell script that makes the handshake,
//! then crashes, hangs, writes garbage, answers out of order or refuses. A failure is the
//! failure of its own call, says what happened, and never takes the host down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use stack_external::{CallError, Client};

const HANDSHAKE: &str = r#"read -r line
echo '{"jsonrpc":"2.0","id":1,"result":{"protocol_version":1,"name":"demo","version":"0.1.0","kinds":[{"name":"note"}]}}'
"#;

/// The id of the request in `$line`.
const ID: &str = r#"id=$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')"#;

fn script(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("stack-provider-demo");
    std::fs::write(&path, format!("#!/bin/sh\n{HANDSHAKE}{body}\n")).expect("the script is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("executable");
    path
}

async fn start(body: &str, timeout: Duration) -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().expect("a directory");
    let program = script(dir.path(), body);
    let (client, handshake) = Client::start("demo", &program, dir.path(), timeout, false)
        .await
        .expect("the handshake succeeds");
    assert_eq!(handshake.kinds[0].name, "note");
    (dir, client)
}

async fn read(client: &Client) -> Result<Value, CallError> {
    client
        .call("read", &serde_json::json!({"stack": "s", "kind": "note"}))
        .await
}

#[tokio::test]
async fn a_provider_that_exits_fails_the_call_and_every_later_one() {
    let (_dir, client) = start("read -r line\nexit 3", Duration::from_secs(30)).await;
    let error = read(&client).await.expect_err("it exited");
    assert!(
        matches!(&error, CallError::Stopped(why) if why.starts_with("it exited") && why.contains('3')),
        "{error:?}"
    );
    assert!(matches!(read(&client).await, Err(CallError::Stopped(_))));
}

#[tokio::test]
async fn a_provider_that_hangs_times_out_and_keeps_running() {
    let (_dir, client) = start("while read -r line; do :; done", Duration::from_millis(300)).await;
    assert_eq!(
        read(&client).await,
        Err(CallError::TimedOut(Duration::from_millis(300)))
    );
    assert_eq!(
        read(&client).await,
        Err(CallError::TimedOut(Duration::from_millis(300)))
    );
    let described = CallError::TimedOut(Duration::from_millis(300)).describe("read");
    assert_eq!(described, "no answer to `read` within 0.3s");
}

#[tokio::test]
async fn garbage_stops_the_provider_without_quoting_it() {
    let (_dir, client) = start(
        "read -r line\necho 'password=hunter2'\nsleep 30",
        Duration::from_secs(30),
    )
    .await;
    let error = read(&client).await.expect_err("garbage");
    let CallError::Stopped(why) = &error else {
        panic!("{error:?}")
    };
    assert!(why.contains("not a JSON-RPC response"), "{why}");
    assert!(!why.contains("hunter2"), "{why}");
    assert!(matches!(read(&client).await, Err(CallError::Stopped(_))));
}

#[tokio::test]
async fn answers_in_any_order_reach_their_calls() {
    // Reads two requests, then answers the second first, each with its own id.
    let body = format!(
        r#"read -r line
{ID}; first=$id
read -r line
{ID}; second=$id
echo "{{\"jsonrpc\":\"2.0\",\"id\":$second,\"result\":\"second\"}}"
echo "{{\"jsonrpc\":\"2.0\",\"id\":$first,\"result\":\"first\"}}"
sleep 30"#
    );
    let (_dir, client) = start(&body, Duration::from_secs(30)).await;
    let first = read(&client);
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        read(&client).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!((first, second), (Ok("first".into()), Ok("second".into())));
}

#[tokio::test]
async fn an_error_answer_fails_only_its_call() {
    let body = format!(
        r#"read -r line
{ID}
echo "{{\"jsonrpc\":\"2.0\",\"id\":$id,\"error\":{{\"code\":-32000,\"message\":\"no such note\",\"data\":{{\"hint\":\"create it\"}}}}}}"
read -r line
{ID}
echo "{{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":{{\"objects\":[]}}}}"
sleep 30"#
    );
    let (_dir, client) = start(&body, Duration::from_secs(30)).await;
    let error = read(&client).await.expect_err("refused");
    assert_eq!(error.describe("read"), "no such note");
    assert_eq!(error.hint(), Some("create it"));
    assert_eq!(read(&client).await, Ok(serde_json::json!({"objects": []})));
}

#[tokio::test]
async fn another_protocol_version_is_refused_naming_both() {
    let dir = tempfile::tempdir().expect("a directory");
    let program = dir.path().join("stack-provider-demo");
    script(dir.path(), "");
    let text = std::fs::read_to_string(&program).expect("the script");
    std::fs::write(
        &program,
        text.replace("\"protocol_version\":1", "\"protocol_version\":7"),
    )
    .expect("rewritten");
    let error = Client::start("demo", &program, dir.path(), Duration::from_secs(30), false)
        .await
        .err()
        .expect("refused");
    assert!(error.contains("version 7 of the provider protocol"), "{error}");
    assert!(error.contains("this stack speaks version 1"), "{error}");
}

#[tokio::test]
async fn a_program_that_cannot_start_is_named() {
    let error = Client::start(
        "demo",
        Path::new("/nonexistent/stack-provider-demo"),
        Path::new("."),
        Duration::from_secs(5),
        false,
    )
    .await
    .err()
    .expect("no such program");
    assert!(
        error.contains("cannot start provider `demo` (/nonexistent/stack-provider-demo)"),
        "{error}"
    );
}
