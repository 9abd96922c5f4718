//! `stack import compose`, end to end: what it writes, what it says, and that
//! it writes nothing when the Compose file is wrong.

use stack_tests::Test;

fn stack() -> Test {
    Test::new(env!("CARGO_BIN_EXE_stack"))
}

const COMPOSE: &str = "services:
  db:
    image: postgres:16-alpine
    container_name: the-db
    environment:
      POSTGRES_PASSWORD: hunter2
      POSTGRES_USER: ${DB_USER:-app}
";

#[test]
fn import_writes_a_stack_that_validates_and_says_what_it_left_out() {
    let outcome = stack()
        .file("compose.yaml", COMPOSE)
        .args([
            "import",
            "compose",
            "compose.yaml",
            "-o",
            "imported",
            "--project-name",
            "shop",
        ])
        .env("NO_COLOR", "1")
        .run()
        .success()
        .stdout_contains("1 settings not imported, 1 credentials moved out of the file")
        .stderr_contains("`container_name` is not imported")
        .stderr_contains("compose.yaml:4:")
        .stderr_contains("the literal credential in `POSTGRES_PASSWORD` was not copied");
    let written = outcome.read("imported/stack.kdl");
    assert!(!written.contains("hunter2"), "{written}");
    insta::assert_snapshot!(written);
}

#[test]
fn the_written_stack_passes_validate() {
    let imported = stack()
        .file("compose.yaml", COMPOSE)
        .args(["import", "compose", "compose.yaml", "-o", "imported"])
        .run()
        .success();
    stack()
        .args(["validate", &imported.dir().join("imported").display().to_string()])
        .run()
        .success()
        .stdout_contains("is valid");
}

#[test]
fn bad_yaml_is_a_diagnostic_and_nothing_is_written() {
    let outcome = stack()
        .file(
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n    ports: [\n",
        )
        .args(["import", "compose", "compose.yaml", "-o", "imported"])
        .env("NO_COLOR", "1")
        .run()
        .status(1)
        .stderr_contains("stack::compose_syntax")
        .stderr_contains("compose.yaml:");
    assert!(!outcome.dir().join("imported").exists());
    insta::assert_snapshot!(outcome.stderr);
}

#[test]
fn an_invalid_compose_file_reports_every_error_and_writes_nothing() {
    let outcome = stack()
        .file(
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n    depends_on: [nope]\n    networks: [missing]\n",
        )
        .args(["import", "compose", "compose.yaml", "-o", "imported"])
        .env("NO_COLOR", "1")
        .run()
        .status(1)
        .stderr_contains("`nope`, which is not a service")
        .stderr_contains("the network `missing` is not declared");
    assert!(!outcome.dir().join("imported").exists());
    insta::assert_snapshot!(outcome.stderr);
}

#[test]
fn env_file_and_project_name_options() {
    let outcome = stack()
        .file("compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n")
        .file("prod.env", "TAG=1.27-alpine\n")
        .args([
            "import",
            "compose",
            "compose.yaml",
            "--env-file",
            "prod.env",
            "--project-name",
            "web-prod",
        ])
        .run()
        .success();
    let written = outcome.read("stack/stack.kdl");
    assert!(written.contains("stack \"web-prod\""), "{written}");
    assert!(
        written.contains("variable \"tag\" type=\"string\" default=\"1.27-alpine\""),
        "{written}"
    );
}

#[test]
fn an_existing_stack_is_not_overwritten() {
    stack()
        .file("compose.yaml", "services:\n  web:\n    image: nginx\n")
        .file("stack/stack.kdl", "stack \"mine\"\n")
        .args(["import", "compose", "compose.yaml"])
        .env("NO_COLOR", "1")
        .run()
        .status(1)
        .stderr_contains("already exists");
}

#[test]
fn depends_on_in_a_circle_is_an_error_at_the_compose_lines_and_writes_nothing() {
    let outcome = stack()
        .file(
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n    depends_on: [api]\n  api:\n    image: nginx\n    depends_on:\n      web:\n        condition: service_started\n",
        )
        .args(["import", "compose", "compose.yaml", "-o", "imported"])
        .env("NO_COLOR", "1")
        .run()
        .status(1)
        .stderr_contains("stack::dependency_cycle")
        .stderr_contains("web → api → web")
        .stderr_contains("compose.yaml:4:")
        .stderr_contains("web depends on api")
        .stderr_contains(" 8 │       web:")
        .stderr_contains("api depends on web");
    assert!(!outcome.dir().join("imported").exists());
}

#[test]
fn a_moved_credential_is_written_nowhere_in_the_stack() {
    let compose = r#"services:
  db:
    image: mcr.microsoft.com/mssql/server:2022-latest
    environment:
      MSSQL_SA_PASSWORD: "Str0ng!Passw0rd"
    command: ["/opt/mssql/bin/sqlservr", "--sa-password", "Str0ng!Passw0rd"]
    labels:
      check: "sqlcmd -P Str0ng!Passw0rd"
    healthcheck:
      test: ["CMD-SHELL", "/opt/mssql-tools/bin/sqlcmd -S localhost -U sa -P Str0ng!Passw0rd -Q 'SELECT 1'"]
  app:
    image: nginx
    environment:
      DB_LOGIN: "sa:Str0ng!Passw0rd"
"#;
    let outcome = stack()
        .file("compose.yaml", compose)
        .args(["import", "compose", "compose.yaml", "-o", "imported"])
        .env("NO_COLOR", "1")
        .run()
        .success();
    let written = outcome.read("imported/stack.kdl");
    assert!(written.contains("-P ${var.mssql-sa-password} -Q"), "{written}");
    let written_dir = std::fs::read_dir(outcome.dir().join("imported")).expect("the stack directory");
    for entry in written_dir {
        let path = entry.expect("a written file").path();
        let text = std::fs::read_to_string(&path).expect("a text file");
        assert!(!text.contains("Str0ng!Passw0rd"), "{}:\n{text}", path.display());
    }
}
