//! The examples run for real: after its `prepare`, each applies from nothing against the daemon,
//! a second plan is a no-op, it does the job of the system it was converted from, and
//! `stack destroy` removes it.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::seen::{Seen, random_value};
use support::{EXAMPLES, LiveStack, docker, free_port, get, post, try_request};

/// Runs `examples/NAME/prepare --images`: the images the example runs or builds from (the
/// binaries it would build too, the test has already).
fn prepare_images(name: &str) {
    let script = format!("{EXAMPLES}/{name}/prepare");
    let output = Command::new(&script).arg("--images").output().unwrap();
    assert!(
        output.status.success(),
        "{script} --images failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A steady loop of `GET path` from the host until stopped, counting the answers that are not
/// 200 and the requests that fail.
struct Load {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u64, Vec<String>)>,
}

impl Load {
    fn start(address: SocketAddr, path: &'static str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut requests, mut failures) = (0, Vec::new());
            while !stopped.load(Ordering::SeqCst) {
                requests += 1;
                match try_request(address, "GET", path, "") {
                    Ok((200, _)) => {}
                    Ok((status, body)) => failures.push(format!("{status} {body}")),
                    Err(error) => failures.push(error.to_string()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (requests, failures)
        });
        Load { stop, thread }
    }

    /// How many requests were made, and the failures.
    fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// The items the example's API lists, through the frontend at `address`, once it answers:
/// apply does not wait for the frontend, which nothing depends on, to be healthy.
fn items(address: SocketAddr) -> String {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        match try_request(address, "GET", "/api/items", "") {
            Ok((200, items)) => return items,
            answer => assert!(
                Instant::now() < give_up,
                "GET /api/items through the frontend: {answer:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `psql -c QUERY` in the example's database container, as its user `app`.
fn psql(live: &LiveStack, query: &str) -> String {
    docker(&[
        "exec",
        &live.object("db-1"),
        "psql",
        "-U",
        "app",
        "-d",
        "app",
        "-tAc",
        query,
    ])
    .trim()
    .to_owned()
}

#[test]
fn fastapi_vue_postgres_serves_items_from_postgres_and_updates_without_a_failed_request() {
    let Some(mut live) = LiveStack::example("fastapi-vue-postgres") else {
        return;
    };
    prepare_images("fastapi-vue-postgres");
    let password = random_value("db-password");
    let port = free_port();
    live.set_env("DB_PASSWORD", &password);
    live.set_env("SECRET_KEY", &random_value("secret-key"));
    live.set_env("STACK_VAR_port", &port.to_string());
    live.set_env(
        "STACK_PROXY_BINARY",
        &stack_tests::proxy_binary().display().to_string(),
    );
    let frontend = SocketAddr::from(([127, 0, 0, 1], port));
    let mut seen = Seen::default();

    // From nothing: the migration has made the table, the frontend passes /api/ on.
    seen.run(&live, "apply", &["--auto-approve"], 0);
    seen.run(&live, "plan", &["--detailed-exitcode"], 0);
    assert_eq!(items(frontend), "[]");
    let (status, page) = get(frontend, "/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<title>fastapi-vue-postgres</title>"), "{page}");
    let (status, created) = post(frontend, "/api/items", r#"{"name": "first item"}"#);
    assert_eq!(
        (status, created.as_str()),
        (201, r#"{"id":1,"name":"first item"}"#)
    );
    assert_eq!(get(frontend, "/api/items"), (200, format!("[{created}]")));
    assert_eq!(psql(&live, "SELECT name FROM items"), "first item");

    // A new release of the backend under a steady loop of requests through the frontend.
    let before = live.container_ids("backend");
    let load = Load::start(frontend, "/api/items");
    seen.run(&live, "apply", &["--auto-approve", "--var", "release=2"], 0);
    let (requests, failures) = load.finish();
    assert_ne!(
        live.container_ids("backend"),
        before,
        "the update replaced the backend"
    );
    assert!(requests > 10, "only {requests} requests during the update");
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "failed requests out of {requests}"
    );
    let (status, health) = get(frontend, "/api/health");
    assert_eq!(status, 200, "{health}");
    assert!(health.contains(r#""release":"2""#), "{health}");

    // Destroy keeps the volume; the row is there after a new apply.
    seen.run(&live, "destroy", &["--auto-approve"], 0);
    assert_eq!(live.containers(), Vec::new(), "destroy removed the containers");
    assert_eq!(live.objects("volume"), vec![live.object("db-data")]);
    seen.run(&live, "apply", &["--auto-approve"], 0);
    assert_eq!(items(frontend), format!("[{created}]"));

    // Staging: two backends behind the proxy.
    seen.run(&live, "apply", &["--auto-approve", "--env", "staging"], 0);
    assert_eq!(live.container_ids("backend").len(), 2, "{:?}", live.containers());
    assert_eq!(items(frontend), format!("[{created}]"));

    // The password is only in the secret's file, not even in the server's environment.
    seen.daemon(&live);
    let db = live.object("db-1");
    let server_env = docker(&["exec", "--user", "postgres", &db, "cat", "/proc/1/environ"]);
    assert!(server_env.contains("PGDATA="), "{server_env:?}");
    seen.add("the environment of the Postgres server", server_env);
    assert_eq!(
        docker(&["exec", &db, "cat", "/run/secrets/db_password"]).trim(),
        password,
        "the secret's file holds the password"
    );
    seen.run(&live, "destroy", &["--auto-approve", "--volumes"], 0);
    seen.assert_nowhere(&password);
    live.nothing_left();
}
