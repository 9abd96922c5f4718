//! The PostgreSQL provider against a real server: the example `postgres-provider` through its
//! life (apply from nothing, no-op plan, a role dropped by hand, a password rotated, an owner
//! changed, destroy), and `stack provider check` against a server the test starts.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::examples::{eventually, prepare_images};
use support::seen::{Seen, random_value};
use support::{LiveStack, TEST_LABEL, docker, free_port, stack, stand_ins};

/// `stack-provider-postgres`, built once per test binary.
fn provider() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| stack_tests::provider_binary("stack-provider-postgres"))
}

/// `psql -c QUERY` as the server's superuser, in the server's container: its output, or
/// what psql said when it failed.
fn admin(container: &str, query: &str) -> Result<String, String> {
    let output = Command::new("docker")
        .args([
            "exec",
            container,
            "psql",
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            query,
        ])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Logs in from the application's container, over the network, as its role with `password`.
fn log_in(live: &LiveStack, password: &str) -> Result<String, String> {
    let output = Command::new("docker")
        .args([
            "exec",
            "-e",
            &format!("PGPASSWORD={password}"),
            &live.object("app-1"),
        ])
        .args([
            "psql",
            "-tAc",
            "SELECT current_user || ' in ' || current_database()",
        ])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn the_postgres_example_makes_its_role_and_database_repairs_drift_rotates_and_destroys() {
    let Some(mut live) = LiveStack::example("postgres-provider") else {
        return;
    };
    prepare_images("postgres-provider");
    let pg_password = random_value("pg-password");
    let app_password = random_value("app-password");
    live.set_env("STACK_VAR_pg_password", &pg_password);
    live.set_env("STACK_VAR_app_password", &app_password);
    live.set_env("STACK_VAR_port", &free_port().to_string());
    let provider_dir = provider().parent().unwrap().display().to_string();
    live.set_env("STACK_PROVIDER_PATH", &provider_dir);
    let db = live.object("db-1");
    let app_role = live.object("app");
    let reporting = live.object("reporting");
    let mut seen = Seen::default();

    // From nothing: the server, then the role and database, then the application.
    seen.run(&live, "apply", &["--auto-approve"], 0);
    seen.run(&live, "plan", &["--detailed-exitcode"], 0);
    assert_eq!(
        log_in(&live, &app_password),
        Ok(format!("{app_role} in {app_role}"))
    );
    let owner_query = format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{app_role}'");
    assert_eq!(admin(&db, &owner_query), Ok(app_role.clone()));
    let grantees = format!(
        "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a \
         WHERE d.datname = '{app_role}' AND a.grantee = '\"{reporting}\"'::regrole AND a.privilege_type = 'CONNECT'"
    );
    assert_eq!(admin(&db, &grantees), Ok("1".to_owned()));

    // A role dropped by hand, and with it its grant: the plan shows both, apply repairs them.
    admin(
        &db,
        &format!("DROP OWNED BY \"{reporting}\"; DROP ROLE \"{reporting}\""),
    )
    .unwrap();
    let drift = live
        .run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains("+ role.reporting")
        .stdout_contains("~ grant.reporting")
        .stdout_contains("changed on the daemon by hand");
    seen.add("plan after the drop", drift.stdout);
    seen.run(&live, "apply", &["--auto-approve"], 0);
    assert_eq!(admin(&db, &grantees), Ok("1".to_owned()));
    seen.run(&live, "plan", &["--detailed-exitcode"], 0);

    // A new password rotates in place: the same role, the new password logs in, the old not.
    let oid_query = format!("SELECT oid FROM pg_roles WHERE rolname = '{app_role}'");
    let oid = admin(&db, &oid_query).unwrap();
    let new_password = random_value("new-app-password");
    live.set_env("STACK_VAR_app_password", &new_password);
    let rotation = live
        .run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains("~ role.app")
        .stdout_contains("password: (sensitive)");
    assert!(
        !rotation.stdout.contains("role.app  must be replaced"),
        "{}",
        rotation.stdout
    );
    seen.add("plan of the rotation", rotation.stdout);
    seen.run(&live, "apply", &["--auto-approve"], 0);
    assert_eq!(admin(&db, &oid_query), Ok(oid));
    eventually("the new password logs in", Duration::from_secs(30), || {
        log_in(&live, &new_password)
    });
    let refused = log_in(&live, &app_password).expect_err("the old password is refused");
    assert!(refused.contains("password authentication failed"), "{refused}");
    seen.run(&live, "plan", &["--detailed-exitcode"], 0);

    // The database's owner changes in place.
    let database_oid = format!("SELECT oid FROM pg_database WHERE datname = '{app_role}'");
    let before = admin(&db, &database_oid).unwrap();
    let stack_file = std::fs::read_to_string(live.dir.path().join("stack.kdl")).unwrap();
    live.write(
        "stack.kdl",
        stack_file.replace(r#"owner "${role.app}""#, r#"owner "${role.reporting}""#),
    );
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains("~ database.app")
        .stdout_contains(&format!(r#"owner: "{app_role}" -> "{reporting}""#));
    assert_eq!(admin(&db, &owner_query), Ok(reporting.clone()));
    assert_eq!(admin(&db, &database_oid), Ok(before));

    // No password anywhere: not in the output, the daemon, or the records on the server.
    let records = admin(&db, "SELECT string_agg(description, ' ') FROM pg_shdescription").unwrap();
    assert!(records.contains("stack-provider-postgres"), "{records}");
    seen.add("the comments on the server", records);
    seen.daemon(&live);
    for password in [&pg_password, &app_password, &new_password] {
        seen.assert_nowhere(password);
    }

    // Without the provider's resources, apply drops them from the server.
    live.write(
        "stack.kdl",
        stack_file
            .split("// Named STACK_NAME on the server")
            .next()
            .unwrap(),
    );
    live.run("apply", &["--auto-approve"]).success();
    let left = format!(
        "SELECT count(*) FROM pg_roles WHERE rolname IN ('{app_role}', '{reporting}') \
         UNION ALL SELECT count(*) FROM pg_database WHERE datname = '{app_role}'"
    );
    assert_eq!(admin(&db, &left), Ok("0\n0".to_owned()));

    live.write("stack.kdl", stack_file);
    seen.run(&live, "apply", &["--auto-approve"], 0);
    seen.run(&live, "destroy", &["--auto-approve"], 0);
    live.nothing_left();
}

/// `stack provider check` passes for the PostgreSQL provider, against a server of its own.
#[test]
fn the_postgres_provider_passes_the_check() {
    // For its clean-up: the server carries the test label with the stack's name.
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["postgres:15"]);
    let password = random_value("check-password");
    let port = free_port();
    let server = live.object("check-db");
    docker(&[
        "run",
        "-d",
        "--name",
        &server,
        "--label",
        &format!("{TEST_LABEL}={}", live.name),
        "-e",
        &format!("POSTGRES_PASSWORD={password}"),
        "-p",
        &format!("127.0.0.1:{port}:5432"),
        "postgres:15",
    ]);
    eventually("the server answers", Duration::from_secs(90), || {
        admin(&server, "SELECT 1").and_then(|_| {
            let ready = Command::new("docker")
                .args(["exec", &server, "pg_isready", "-h", "127.0.0.1"])
                .status()
                .unwrap();
            if ready.success() {
                Ok(())
            } else {
                Err("not ready".to_owned())
            }
        })
    });
    let checked = stack()
        .args(["provider", "check", &provider().display().to_string()])
        .args(["--config", "host=127.0.0.1", "--config", &format!("port={port}")])
        .args(["--config", &format!("password={password}")])
        // A grant needs a role and a database that exist: the server's own.
        .args([
            "--field",
            "grant.role=pg_monitor",
            "--field",
            "grant.database=postgres",
        ])
        .run()
        .success()
        .stdout_contains("0 failed");
    for step in [
        "ok    role: create, then read back without drift",
        "ok    role: update in place",
        "ok    role: drift made outside stack is read, and repaired",
        "ok    database: replace, then read back without drift",
        "ok    database: update in place",
        "ok    grant: update in place",
        "ok    grant: drift",
        "ok    grant: 4 objects created and deleted at once",
    ] {
        assert!(checked.stdout.contains(step), "{step}: {}", checked.stdout);
    }
    assert!(!checked.stdout.contains(&password), "{}", checked.stdout);
}
