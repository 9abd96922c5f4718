//! Providers outside the binary, run by `stack`: the book's `file` provider on the Rust SDK
//! through a whole life, and providers that crash or hang, which fail only their own
//! resources. The file provider writes into the test's folder: the daemon sees only the
//! stack's lock.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::{LiveStack, stack};

/// The file provider, in the stack's `providers` folder, where `stack` looks first.
fn install_file_provider(dir: &Path) {
    let providers = dir.join("providers");
    std::fs::create_dir_all(&providers).expect("the providers folder");
    std::os::unix::fs::symlink(file_provider(), providers.join("stack-provider-file")).expect("linked");
}

/// `stack-provider-file`, built once per test binary.
fn file_provider() -> &'static Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| stack_tests::provider_binary("stack-provider-file"))
}

/// A provider of kind `KIND` written in shell: it answers `read` with nothing and every other
/// call with success, except `method`, which runs `misbehave`.
fn install_script_provider(dir: &Path, name: &str, kind: &str, method: &str, misbehave: &str) {
    let script = format!(
        r#"#!/bin/sh
echo "{name} starting" >&2
read -r line
echo '{{"jsonrpc":"2.0","id":1,"result":{{"protocol_version":1,"name":"{name}","version":"0.1.0","kinds":[{{"name":"{kind}"}}]}}}}'
while read -r line; do
  id=$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')
  case "$line" in
    *'"method":"{method}"'*) {misbehave} ;;
    *'"method":"read"'*) echo "{{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":{{\"objects\":[]}}}}" ;;
    *) echo "{{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":null}}" ;;
  esac
done
"#
    );
    let path = dir.join("providers").join(format!("stack-provider-{name}"));
    std::fs::create_dir_all(dir.join("providers")).expect("the providers folder");
    std::fs::write(&path, script).expect("the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("executable");
}

const NOTES: &str = r#"stack "notes"

variable "token" type="string" sensitive=#true

provider "file" {
    source "stack-provider-file"
    version ">=0.1"
    directory "out"
}

file "motd" {
    content "Welcome!"
}

file "token" {
    content "${var.token}"
    extension "secret"
}
"#;

#[test]
fn a_provider_outside_the_binary_lives_through_apply_drift_replacement_and_destroy() {
    let Some(mut live) = LiveStack::new() else { return };
    install_file_provider(live.dir.path());
    live.set_env("STACK_VAR_token", "s3cr3t-value");
    live.write("stack.kdl", NOTES);
    let out = live.dir.path().join("out");
    let read = |file: &str| std::fs::read_to_string(out.join(file)).unwrap_or_default();
    let motd = format!("{}_motd.txt", live.name);
    let token = format!("{}_token.secret", live.name);

    let applied = live
        .run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("+ file.motd")
        .stdout_contains("content: (sensitive)");
    assert!(!applied.stdout.contains("s3cr3t-value") && !applied.stderr.contains("s3cr3t-value"));
    assert_eq!(read(&motd), "Welcome!");
    assert_eq!(read(&token), "s3cr3t-value");
    let labels = read(&format!(".{token}.labels"));
    assert!(
        labels.contains("pbkdf2-sha256:") && !labels.contains("s3cr3t-value"),
        "{labels}"
    );

    live.run("plan", &["--detailed-exitcode"])
        .status(0)
        .stdout_contains("No changes");

    // Changed by hand: drift, shown without the secret, and repaired.
    std::fs::write(out.join(&motd), "edited").expect("an edit");
    std::fs::write(out.join(&token), "guess").expect("an edit");
    let drift = live
        .run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains("changed on the daemon by hand")
        .stdout_contains(r#"content: "edited" -> "Welcome!""#);
    assert!(!drift.stdout.contains("guess"), "{}", drift.stdout);
    live.run("apply", &["--auto-approve"]).success();
    assert_eq!(
        (read(&motd), read(&token)),
        ("Welcome!".to_owned(), "s3cr3t-value".to_owned())
    );

    // A field whose effect is `replace`: the old file goes, the new one comes.
    live.write(
        "stack.kdl",
        NOTES.replace(r#"extension "secret""#, r#"extension "key""#),
    );
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("replaced");
    assert!(!out.join(&token).exists());
    assert_eq!(read(&format!("{}_token.key", live.name)), "s3cr3t-value");

    live.run("destroy", &["--auto-approve"]).success();
    let left: Vec<_> = std::fs::read_dir(&out).expect("the folder").collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_provider_that_crashes_or_hangs_fails_only_its_own_resources() {
    let Some(live) = LiveStack::new() else { return };
    install_file_provider(live.dir.path());
    install_script_provider(live.dir.path(), "crash", "crasher", "create", "exit 3");
    install_script_provider(live.dir.path(), "hang", "hanger", "create", "sleep 20");
    live.write(
        "stack.kdl",
        r#"stack "broken"

provider "file" {
    directory "out"
}
provider "crash" {}
provider "hang" {
    timeout "1s"
}

file "motd" {
    content "Welcome!"
}
crasher "a" {}
hanger "b" {}
"#,
    );
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    let output = format!("{}{}", failed.stdout, failed.stderr);
    assert!(
        output.contains("provider `crash`") && output.contains("crasher.a"),
        "{output}"
    );
    assert!(output.contains("exited (exit status: 3)"), "{output}");
    assert!(
        output.contains("provider `hang`") && output.contains("hanger.b"),
        "{output}"
    );
    assert!(output.contains("no answer to `create` within 1s"), "{output}");
    // The rest of the apply went on.
    let motd = live
        .dir
        .path()
        .join("out")
        .join(format!("{}_motd.txt", live.name));
    assert_eq!(std::fs::read_to_string(motd).unwrap_or_default(), "Welcome!");
    assert!(
        !output.contains("crash starting"),
        "the provider's log only with --verbose: {output}"
    );
}

#[test]
fn validate_checks_resources_and_blocks_against_the_providers_schema() {
    let validate = |directory: &str, resource: &str| {
        let test = stack().file(
            "stack.kdl",
            format!("stack \"notes\"\n\nprovider \"file\" {{\n    directory {directory}\n}}\n\n{resource}"),
        );
        install_file_provider(test.dir());
        test.args(["validate", "."]).run()
    };
    validate(
        "\"out\"",
        "file \"motd\" {\n    content \"hi\"\n    extention \"txt\"\n}\n",
    )
    .status(1)
    .stderr_contains("stack::unknown_field")
    .stderr_contains("did you mean `extension`?");
    validate("\"out\"", "file \"motd\" {}\n")
        .status(1)
        .stderr_contains("file `motd` has no `content`");
    validate("5", "file \"motd\" {\n    content \"hi\"\n}\n")
        .status(1)
        .stderr_contains("`directory` must be a path");
    validate("\"out\"", "file \"motd\" {\n    content \"hi\"\n}\n").success();
}

#[test]
fn a_provider_not_found_lists_where_stack_looked() {
    stack()
        .file(
            "stack.kdl",
            "provider \"nowhere\" {\n    source \"stack-provider-nowhere\"\n}\n",
        )
        .env("STACK_PROVIDER_PATH", "/opt/stack-providers")
        .args(["validate", "."])
        .run()
        .status(1)
        .stderr_contains("stack::provider_not_found")
        .stderr_contains("/opt/stack-providers")
        .stderr_contains("providers");
}

#[test]
fn a_version_the_block_does_not_accept_is_refused() {
    let test = stack().file(
        "stack.kdl",
        "provider \"file\" {\n    version \">=9\"\n    directory \"out\"\n}\n",
    );
    install_file_provider(test.dir());
    test.args(["validate", "."])
        .run()
        .status(1)
        .stderr_contains("stack::provider_version")
        .stderr_contains("which `>=9` does not accept");
}

#[test]
fn the_providers_log_shows_with_verbose() {
    let test = stack().file("stack.kdl", "provider \"crash\" {}\n\ncrasher \"a\" {}\n");
    install_script_provider(test.dir(), "crash", "crasher", "create", "exit 3");
    test.args(["validate", ".", "--verbose"])
        .run()
        .success()
        .stderr_contains("provider crash: crash starting");
}

/// The Python SDK's example provider, with the SDK beside it, in the stack's `providers`.
fn install_python_provider(dir: &Path) {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/python");
    let providers = dir.join("providers");
    std::fs::create_dir_all(providers.join("examples")).expect("the providers folder");
    std::fs::copy(sdk.join("stack_provider.py"), providers.join("stack_provider.py")).expect("the SDK");
    let example = providers.join("examples/stack-provider-kv");
    std::fs::copy(sdk.join("examples/stack-provider-kv"), &example).expect("the example");
    std::os::unix::fs::symlink(&example, providers.join("stack-provider-kv")).expect("linked");
}

#[test]
fn a_provider_written_in_python_lives_through_apply_drift_replacement_and_destroy() {
    let Some(mut live) = LiveStack::new() else { return };
    install_python_provider(live.dir.path());
    live.set_env("STACK_VAR_password", "py-s3cr3t");
    let stack_file = r#"stack "kv"

variable "password" type="string" sensitive=#true

provider "kv" {
    store "kv.json"
}

entry "greeting" {
    value "hello"
}

entry "password" {
    value "${var.password}"
    group "secrets"
}
"#;
    live.write("stack.kdl", stack_file);
    let store = || -> serde_json::Value {
        let text = std::fs::read_to_string(live.dir.path().join("kv.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    };
    let greeting = format!("main/{}_greeting", live.name);
    let password = format!("secrets/{}_password", live.name);

    let applied = live
        .run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("+ entry.greeting");
    assert!(!applied.stdout.contains("py-s3cr3t"), "{}", applied.stdout);
    assert_eq!(store()[&greeting]["value"], "hello");
    assert_eq!(store()[&password]["value"], "py-s3cr3t");
    live.run("plan", &["--detailed-exitcode"]).status(0);

    // Changed by hand: drift, repaired.
    let mut entries = store();
    entries[&greeting]["value"] = "hi".into();
    std::fs::write(live.dir.path().join("kv.json"), entries.to_string()).expect("an edit");
    live.run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains(r#"value: "hi" -> "hello""#);
    live.run("apply", &["--auto-approve"]).success();
    assert_eq!(store()[&greeting]["value"], "hello");

    // A new group is a new key: the entry is replaced.
    live.write(
        "stack.kdl",
        stack_file.replace(r#"group "secrets""#, r#"group "vault""#),
    );
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("replaced");
    assert!(store().get(&password).is_none());
    assert_eq!(
        store()[&format!("vault/{}_password", live.name)]["value"],
        "py-s3cr3t"
    );

    live.run("destroy", &["--auto-approve"]).success();
    assert_eq!(store(), serde_json::json!({}));
}

/// `stack provider check` passes for every provider of the repository.
#[test]
fn every_provider_of_the_repository_passes_the_check() {
    let dir = tempfile::tempdir().expect("a folder");
    install_python_provider(dir.path());
    let python = dir.path().join("providers/stack-provider-kv");
    for provider in [file_provider().to_path_buf(), python] {
        let checked = stack()
            .args(["provider", "check", &provider.display().to_string()])
            .run()
            .success()
            .stdout_contains("8 passed, 0 failed, 0 skipped");
        for step in [
            "create, then read back",
            "update in place",
            "replace",
            "drift",
            "gone",
            "at once",
        ] {
            assert!(checked.stdout.contains(step), "{step}: {}", checked.stdout);
        }
    }
}

#[test]
fn the_check_says_which_step_a_broken_provider_fails() {
    let dir = tempfile::tempdir().expect("a folder");
    install_script_provider(dir.path(), "crash", "crasher", "create", "exit 3");
    let provider = dir.path().join("providers/stack-provider-crash");
    stack()
        .args(["provider", "check", &provider.display().to_string()])
        .run()
        .status(1)
        .stdout_contains("ok    handshake and schemas")
        .stdout_contains("FAIL  crasher: create, then read back without drift")
        .stdout_contains("exited (exit status: 3)");
}

#[test]
fn a_providers_resources_wait_for_what_its_block_depends_on() {
    let test = stack().file(
        "stack.kdl",
        r#"stack "notes"

service "db" {
    image "redis:7"
}

provider "file" {
    directory "out"
    depends-on "db"
}

file "motd" {
    content "Welcome!"
}
"#,
    );
    install_file_provider(test.dir());
    test.args(["graph", "."])
        .run()
        .success()
        .stdout_in_order("service.db", "file.motd")
        .stdout_contains("layer 2");
}

/// The file provider behind a proxy that passes every message through, except the calls of the
/// method `STACK_TEST_FAULT` names (`read:crash`): on those it crashes (exit status 4), hangs
/// (the call is never answered), writes garbage, or answers an error. Without the variable it
/// is the file provider.
fn install_faulty_file_provider(dir: &Path) {
    let script = format!(
        r#"#!/usr/bin/env python3
import json, os, subprocess, sys, threading

method, _, fault = os.environ.get("STACK_TEST_FAULT", "").partition(":")
child = subprocess.Popen(["{program}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
lock = threading.Lock()

def answer(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

def relay():
    for line in child.stdout:
        answer(line.rstrip("\n"))

threading.Thread(target=relay, daemon=True).start()
for line in sys.stdin:
    request = json.loads(line)
    if request.get("method") == method:
        if fault == "crash":
            os._exit(4)
        if fault == "hang":
            continue
        if fault == "garbage":
            answer("this is not JSON")
            continue
        if fault == "error":
            error = {{"code": -32000, "message": "the backend is down"}}
            answer(json.dumps({{"jsonrpc": "2.0", "id": request["id"], "error": error}}))
            continue
    child.stdin.write(line)
    child.stdin.flush()
child.stdin.close()
child.wait()
"#,
        program = file_provider().display()
    );
    let path = dir.join("providers/stack-provider-file");
    std::fs::create_dir_all(dir.join("providers")).expect("the providers folder");
    std::fs::write(&path, script).expect("the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("executable");
}

/// A built-in resource and one of the file provider, which answers within 5 seconds or fails
/// (enough for a python process to start on a busy machine).
const FAULTY: &str = r#"stack "faulty"

provider "file" {
    directory "out"
    timeout "5s"
}

network "backend" {}

file "motd" {
    content "Welcome!"
}
"#;

/// The words of `text`, one space apart: diagnostics are wrapped to the terminal's width.
fn words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().filter(|word| *word != "│").collect();
    words.join(" ")
}

#[test]
fn a_provider_that_fails_while_planning_fails_only_its_resources() {
    let Some(mut live) = LiveStack::new() else { return };
    install_faulty_file_provider(live.dir.path());
    live.write("stack.kdl", FAULTY);
    for (fault, what_happened) in [
        (
            "read:crash",
            "failed to read its objects: it exited (exit status: 4)",
        ),
        (
            "read:hang",
            "failed to read its objects: no answer to `read` within 5s",
        ),
        (
            "read:garbage",
            "failed to read its objects: it wrote 16 bytes that are not a JSON-RPC response",
        ),
        ("read:error", "failed to read its objects: the backend is down"),
        ("configure:error", "could not be configured: the backend is down"),
        (
            "configure:hang",
            "could not be configured: no answer to `configure` within 5s",
        ),
    ] {
        live.set_env("STACK_TEST_FAULT", fault);
        let planned = live
            .run("plan", &["--detailed-exitcode"])
            .status(1)
            .stdout_contains("+ network.backend  will be created")
            .stdout_contains("? file.motd  not planned")
            .stderr_contains("stack::provider");
        let message = words(&planned.stderr);
        for expected in ["file.motd: not planned: provider `file`", what_happened] {
            assert!(message.contains(expected), "{fault}: {expected}: {message}");
        }
        if fault == "read:crash" {
            insta::assert_snapshot!("plan_with_a_failed_provider", live.redact(&planned.stdout));
            let json = live.run("plan", &["--json"]).status(1);
            stack_tests::assert_plan_fits_schema(&json.stdout);
            let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
            assert_eq!(plan["resources"][1]["action"], "unknown", "{plan}");
            assert_eq!(plan["resources"][1]["reasons"][0]["reason"], "provider-failed");
            assert_eq!(plan["summary"]["unknown"], 1);
        }
    }

    // The apply applies the rest and fails the resource, naming it.
    live.set_env("STACK_TEST_FAULT", "read:crash");
    let motd = live
        .dir
        .path()
        .join("out")
        .join(format!("{}_motd.txt", live.name));
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    assert!(
        failed.stdout.contains("1 done, 1 failed")
            && words(&failed.stdout).contains("failed file.motd: not planned"),
        "{}",
        failed.stdout
    );
    assert_eq!(live.objects("network"), [live.object("backend")]);
    assert!(!motd.exists());

    // The provider mended, the next apply does what was left.
    live.set_env("STACK_TEST_FAULT", "");
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("+ file.motd");
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "Welcome!");
    live.run("plan", &["--detailed-exitcode"]).status(0);
}

#[test]
fn a_provider_that_writes_garbage_or_an_error_while_applying_fails_only_its_resources() {
    let Some(mut live) = LiveStack::new() else { return };
    install_faulty_file_provider(live.dir.path());
    live.write("stack.kdl", FAULTY);
    let motd = live
        .dir
        .path()
        .join("out")
        .join(format!("{}_motd.txt", live.name));
    for (fault, what_happened) in [
        (
            "create:garbage",
            "it wrote 16 bytes that are not a JSON-RPC response",
        ),
        ("create:error", "the backend is down"),
    ] {
        live.set_env("STACK_TEST_FAULT", fault);
        let failed = live.run("apply", &["--auto-approve"]).status(1);
        let message = words(&failed.stdout);
        for expected in ["provider `file`", "failed to create file.motd", what_happened] {
            assert!(message.contains(expected), "{fault}: {expected}: {message}");
        }
        assert_eq!(live.objects("network"), [live.object("backend")]);
        assert!(!motd.exists());
    }
    live.set_env("STACK_TEST_FAULT", "");
    live.run("apply", &["--auto-approve"]).success();
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "Welcome!");
}

/// Without its handshake a provider's kinds are unknown, so the stack cannot even be read:
/// the command stops before anything is planned, naming the provider.
#[test]
fn a_provider_that_fails_its_handshake_stops_the_command_naming_it() {
    let test = stack().file("stack.kdl", FAULTY);
    install_faulty_file_provider(test.dir());
    let failed = test
        .env("STACK_TEST_FAULT", "initialize:crash")
        .args(["validate", "."])
        .run()
        .status(1)
        .stderr_contains("stack::provider");
    let message = words(&failed.stderr);
    assert!(
        message.contains("provider `file`") && message.contains("it exited (exit status: 4)"),
        "{message}"
    );
}
