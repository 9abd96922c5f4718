//! The `stack` binary, end to end, without Docker.

use stack_tests::Test;

fn stack() -> Test {
    Test::new(env!("CARGO_BIN_EXE_stack"))
}

const VALID: &str = r#"
variable "replicas" type="int" default=2 {
    min 1
    max 5
}

network "backend"

service "cache" {
    image "redis:7-alpine"
    network "backend"
    probe {
        exec "redis-cli" "ping"
    }
}

service "api" {
    image "shop/api:1.0"
    replicas "${var.replicas}"
    network "backend"
    depends-on "cache" condition="healthy"
}

overlay "production" {
    service "api" {
        replicas 4
    }
}
"#;

#[test]
fn validate_accepts_a_valid_stack() {
    stack()
        .file("stack.kdl", VALID)
        .args(["validate"])
        .run()
        .success()
        .stdout_contains("is valid");
}

const RISKY: &str = r#"
volume "pgdata"

service "db" {
    image "postgres:16-alpine"
    volume "pgdata" target="/var/lib/postgresql/data"
    update {
        order "start-first"
    }
}

service "web" {
    image "nginx:latest"
}
"#;

#[test]
fn warnings_pass_validate_unless_denied() {
    let outcome = stack()
        .file("stack.kdl", RISKY)
        .args(["validate"])
        .run()
        .success()
        .stdout_contains("is valid with 2 warnings");
    insta::assert_snapshot!(outcome.stderr);
    stack()
        .file("stack.kdl", RISKY)
        .args(["validate", "--deny-warnings"])
        .run()
        .status(1)
        .stderr_contains("has 2 warnings, denied by --deny-warnings");
}

#[test]
fn a_comment_allows_a_warning_by_its_code() {
    let allowed = RISKY
        .replace(
            r#"    volume "pgdata" target"#,
            "    // stack:allow(shared_volume)\n    volume \"pgdata\" target",
        )
        .replace(
            r#"image "nginx:latest""#,
            r#"image "nginx:latest" // stack:allow(stack::floating_image)"#,
        );
    let outcome = stack()
        .file("stack.kdl", allowed)
        .args(["validate", "--deny-warnings"])
        .run()
        .success();
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    // Another code allows nothing.
    stack()
        .file(
            "stack.kdl",
            RISKY.replace(
                "\"nginx:latest\"",
                "\"nginx:latest\" // stack:allow(shared_volume)",
            ),
        )
        .args(["validate", "--deny-warnings"])
        .run()
        .status(1)
        .stderr_contains("stack::floating_image");
}

#[test]
fn validate_reports_every_error_and_exits_with_1() {
    let outcome = stack()
        .file(
            "stack.kdl",
            "service \"api\" {\n    imagee \"x\"\n    replicas \"two\"\n}\n",
        )
        .args(["validate"])
        .run()
        .status(1);
    insta::assert_snapshot!(outcome.stderr);
}

#[test]
fn validate_shows_the_whole_dependency_cycle() {
    let cycle = r#"
service "a" {
    image "x:1"
    depends-on "b"
}
service "b" {
    image "x:1"
    env {
        C_HOST "${service.c}"
    }
}
service "c" {
    image "x:1"
    depends-on "a"
}
"#;
    let outcome = stack()
        .file("stack.kdl", cycle)
        .args(["validate"])
        .run()
        .status(1);
    insta::assert_snapshot!(outcome.stderr);
}

#[test]
fn variables_come_from_flags_files_and_the_environment() {
    stack()
        .file("stack.kdl", VALID)
        .args(["validate", "--var", "replicas=9"])
        .run()
        .status(1)
        .stderr_contains("above the maximum 5");
    stack()
        .file("stack.kdl", VALID)
        .file("prod.vars.kdl", "replicas 7\n")
        .args(["validate", "stack.kdl", "--var-file", "prod.vars.kdl"])
        .run()
        .status(1)
        .stderr_contains("variable `replicas` is 7");
    stack()
        .file("stack.kdl", VALID)
        .env("STACK_VAR_replicas", "6")
        .args(["validate"])
        .run()
        .status(1)
        .stderr_contains("variable `replicas` is 6");
    // --var wins over the environment.
    stack()
        .file("stack.kdl", VALID)
        .env("STACK_VAR_replicas", "6")
        .args(["validate", "--var", "replicas=3"])
        .run()
        .success();
    stack()
        .file("stack.kdl", VALID)
        .args(["validate", "--var", "replica=3"])
        .run()
        .status(1)
        .stderr_contains("did you mean `replicas`?");
}

#[test]
fn an_unknown_environment_lists_the_declared_ones() {
    stack()
        .file("stack.kdl", VALID)
        .args(["validate", "--env", "prod"])
        .run()
        .status(1)
        .stderr_contains("did you mean `production`?");
}

#[test]
fn graph_renders_text_dot_and_mermaid() {
    for format in ["text", "dot", "mermaid"] {
        let outcome = stack()
            .file("stack.kdl", VALID)
            .args(["graph", "--env", "production", "--format", format])
            .run()
            .success();
        insta::assert_snapshot!(format!("graph_{format}"), outcome.stdout);
    }
}

#[test]
fn fmt_rewrites_files_and_keeps_comments() {
    let messy = "// the api\nservice   \"api\"{image \"x\" /* pinned */\nreplicas 2 // two\n}\n";
    let outcome = stack()
        .file("stack.kdl", messy)
        .args(["fmt"])
        .run()
        .success()
        .stdout_contains("stack.kdl");
    let formatted = outcome.read("stack.kdl");
    for comment in ["// the api", "/* pinned */", "// two"] {
        assert!(formatted.contains(comment), "{comment} lost:\n{formatted}");
    }
    insta::assert_snapshot!(formatted);
}

#[test]
fn fmt_check_lists_files_that_would_change_and_writes_nothing() {
    let messy = "service \"api\"{image \"x\"}\n";
    let outcome = stack()
        .file("stack.kdl", messy)
        .file("nested/other.kdl", "network \"backend\"\n")
        .args(["fmt", "--check", "."])
        .run()
        .status(1)
        .stdout_contains("stack.kdl");
    assert!(
        !outcome.stdout.contains("other.kdl"),
        "an already formatted file is not listed"
    );
    assert_eq!(outcome.read("stack.kdl"), messy);
}

#[test]
fn fmt_leaves_a_file_that_does_not_parse_untouched() {
    let broken = "service \"api\" {\n    image \"x\n}\n";
    let outcome = stack()
        .file("stack.kdl", broken)
        .args(["fmt", "stack.kdl"])
        .run()
        .status(1);
    assert!(outcome.stderr.contains("stack::syntax"), "{}", outcome.stderr);
    assert_eq!(outcome.read("stack.kdl"), broken);
}

/// kdl takes both; KDL v2 does not, and neither do `fmt` and `validate`.
#[test]
fn fmt_and_validate_reject_what_kdl_v2_forbids() {
    for (text, at) in [
        ("network #\"\"\"one line\"\"\"#\n", "1:9"),
        ("network \"back\u{7F}end\"\n", "1:9"),
        ("network \"backend\" // a\u{7F}\n", "1:23"),
    ] {
        for args in [&["fmt", "stack.kdl"][..], &["validate", "."][..]] {
            let outcome = stack()
                .file("stack.kdl", text)
                .args(args.iter().copied())
                .run()
                .status(1);
            assert!(
                outcome.stderr.contains("stack::syntax"),
                "{args:?} {text:?}: {}",
                outcome.stderr
            );
            assert!(
                outcome.stderr.contains(&format!("stack.kdl:{at}")),
                "{args:?} {text:?}: {}",
                outcome.stderr
            );
            assert_eq!(outcome.read("stack.kdl"), text);
        }
    }
}

#[test]
fn fmt_formats_kdl_that_is_not_a_valid_stack() {
    stack()
        .file("notes.kdl", "anything   goes {  here 1 }\n")
        .args(["fmt", "notes.kdl"])
        .run()
        .success();
}

#[test]
fn errors_carry_no_color_codes_outside_a_terminal() {
    let outcome = stack()
        .file("stack.kdl", "servce \"x\"\n")
        .args(["validate"])
        .run()
        .status(1);
    assert!(
        !outcome.stderr.contains('\u{1b}'),
        "escape codes in:\n{}",
        outcome.stderr
    );
}

#[test]
fn completions_and_help() {
    stack()
        .args(["completions", "bash"])
        .run()
        .success()
        .stdout_contains("_stack()");
    for command in ["validate", "fmt", "graph", "completions"] {
        stack()
            .args([command, "--help"])
            .run()
            .success()
            .stdout_contains("Usage: stack");
    }
    stack().args(["frobnicate"]).run().status(2);
}

#[test]
fn completions_offer_the_everyday_commands_and_their_options() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stack().args(["completions", shell]).run().success();
        for word in [
            "logs",
            "exec",
            "restart",
            "run",
            "follow",
            "since",
            "tail",
            "timestamps",
            "replica",
            "interactive",
            "tty",
            "path",
        ] {
            assert!(
                script.stdout.contains(word),
                "the {shell} completions lack {word:?}"
            );
        }
    }
    // The positional arguments of logs and restart name resources: the stack is --path.
    stack()
        .args(["logs", "web", "api", "--path", "nowhere"])
        .run()
        .status(1)
        .stderr_contains("nowhere");
    stack()
        .args(["exec", "web"])
        .run()
        .status(2)
        .stderr_contains("<COMMAND>");
    stack()
        .args(["logs", "--since", "yesterday"])
        .run()
        .status(2)
        .stderr_contains("is neither a duration");
}
