//! The examples `codenav`, `sp404` and `shared-infra` run against the real daemon as their
//! READMEs say, on stand-ins of the official images built from Debian's packages: each
//! applies from nothing, does its job, plans nothing more on a second look, and is removed
//! by `stack destroy`. Each runs a copy of the example under a stack name of its own, with
//! its published ports on free ones.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::examples::{RequestLoop, curl_insecure, eventually, json_when_ok, prepare_images, try_get};
use support::{LiveStack, docker, free_port, get, put, subnet};

/// Generous: a first start of Postgres and a Prometheus scrape on two busy cores.
const PATIENCE: Duration = Duration::from_secs(90);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sets the stack's variable `name` (`http-port`) for every following run.
fn set_var(live: &mut LiveStack, name: &str, value: &str) {
    live.set_env(&format!("STACK_VAR_{}", name.replace('-', "_")), value);
}

/// A second plan has nothing to do, and `stack destroy` leaves nothing of the stack.
fn settled_then_destroyed(live: &LiveStack) {
    live.run("plan", &["--detailed-exitcode"]).success();
    live.run("destroy", &["--auto-approve", "--volumes"]).success();
    live.nothing_left();
}

// ---------------------------------------------------------------------------
// codenav

/// The `release` in the JSON of codenav's `/health`.
fn release(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|health| health["release"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("no release in {body}"))
}

/// Reads `stream` until a line for which `wanted` holds, for at most `within`.
fn line_within(stream: &mut BufReader<TcpStream>, within: Duration, wanted: impl Fn(&str) -> bool) -> String {
    let give_up = Instant::now() + within;
    let mut line = String::new();
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no such line within {within:?}");
        stream.get_ref().set_read_timeout(Some(left)).unwrap();
        line.clear();
        let read = stream
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("the stream said nothing within {within:?}: {error}"));
        assert!(read > 0, "the stream ended");
        if wanted(&line) {
            return line;
        }
    }
}

#[test]
fn codenav_serves_its_api_events_and_page_and_rolls_a_release_without_a_failed_request() {
    let Some(mut live) = LiveStack::example("codenav") else {
        return;
    };
    prepare_images("codenav");
    live.set_env(
        "STACK_PROXY_BINARY",
        &stack_tests::proxy_binary().display().to_string(),
    );
    let [http, sse, frontend, redis] = [free_port(), free_port(), free_port(), free_port()];
    for (name, port) in [
        ("http-port", http),
        ("sse-port", sse),
        ("frontend-port", frontend),
        ("redis-port", redis),
    ] {
        set_var(&mut live, name, &port.to_string());
    }
    live.run("apply", &["--auto-approve"]).success();

    // The API, in three replicas behind the gateway, uses Redis.
    assert_eq!(
        live.container_ids("codenav-http").len(),
        3,
        "{:?}",
        live.containers()
    );
    let health = json_when_ok(http, "/health", PATIENCE);
    assert_eq!(health["redis"], true, "{health}");
    assert_eq!(health["release"], "latest", "{health}");

    // The SSE server streams `data:` lines within two seconds, and the API's changes among them.
    json_when_ok(sse, "/health", PATIENCE);
    let mut events = BufReader::new(TcpStream::connect(local(sse)).unwrap());
    events
        .get_mut()
        .write_all(b"GET /events HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    line_within(&mut events, Duration::from_secs(2), |line| {
        line.starts_with("data:")
    });
    let (status, body) = put(
        local(http),
        "/symbols/parse_stack",
        r#"{"file": "src/load.rs", "line": 42}"#,
    );
    assert_eq!(status, 200, "{body}");
    let change = line_within(&mut events, Duration::from_secs(5), |line| {
        line.contains("parse_stack")
    });
    assert!(
        change.starts_with("data:") && change.contains("src/load.rs"),
        "{change}"
    );
    let (status, body) = get(local(http), "/symbols/parse_stack");
    assert_eq!((status, body.contains(r#""line":42"#)), (200, true), "{body}");

    // The frontend serves the page, and the API under its own origin.
    let (status, page) = get(local(frontend), "/");
    assert_eq!((status, page.contains("<h1>codenav</h1>")), (200, true), "{page}");
    let through_frontend = json_when_ok(frontend, "/api/health", PATIENCE);
    assert_eq!(through_frontend["redis"], true, "{through_frontend}");

    live.run("plan", &["--detailed-exitcode"]).success();

    // A new release rolls the replicas start-first while a client requests the API.
    let old = live.container_ids("codenav-http");
    let client = RequestLoop::start(local(http), "/health", Duration::from_millis(20), release);
    set_var(&mut live, "release", "1.4.2");
    live.run("apply", &["--auto-approve"]).success();
    let tally = client.finish();
    assert!(
        tally.failures.is_empty(),
        "failed requests during the rollout: {tally:?}"
    );
    assert!(
        tally.requests > 50,
        "too few requests to prove anything: {tally:?}"
    );
    assert!(
        tally.answers.contains("latest") && tally.answers.contains("1.4.2"),
        "both releases answered: {tally:?}"
    );
    let new = live.container_ids("codenav-http");
    assert_eq!(new.len(), 3);
    assert!(
        new.iter().all(|id| !old.contains(id)),
        "every replica was replaced"
    );
    assert_eq!(json_when_ok(http, "/health", PATIENCE)["release"], "1.4.2");

    settled_then_destroyed(&live);
}

// ---------------------------------------------------------------------------
// sp404

/// Prometheus's active targets, once every one is `up`.
fn targets_up(prometheus: u16) -> Vec<String> {
    eventually("every Prometheus target up", PATIENCE, || {
        let (status, body) = try_get(local(prometheus), "/api/v1/targets")?;
        let answer: Value =
            serde_json::from_str(&body).map_err(|error| format!("{status} {error}: {body}"))?;
        let targets = answer["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let jobs: Vec<String> = targets
            .iter()
            .map(|target| format!("{} {}", target["labels"]["job"], target["health"]))
            .collect();
        if !targets.is_empty() && targets.iter().all(|target| target["health"] == "up") {
            Ok(jobs)
        } else {
            Err(format!("{jobs:?}"))
        }
    })
}

#[test]
fn sp404_answers_through_nginx_over_tls_and_prometheus_scrapes_the_backend() {
    let Some(mut live) = LiveStack::example("sp404") else {
        return;
    };
    prepare_images("sp404");
    let certificate = Command::new(live.dir.path().join("ssl/self-signed"))
        .arg(live.dir.path().join("ssl"))
        .output()
        .unwrap();
    assert!(certificate.status.success(), "{certificate:?}");
    live.set_env("DB_PASSWORD", "sp404-test-password");
    live.set_env("OPENROUTER_API_KEY", "sk-or-test");
    let [http, https, prometheus] = [free_port(), free_port(), free_port()];
    for (name, port) in [
        ("http-port", http),
        ("https-port", https),
        ("prometheus-port", prometheus),
    ] {
        set_var(&mut live, name, &port.to_string());
    }
    live.run("apply", &["--auto-approve"]).success();

    // The backend answers through nginx over TLS, having reached Postgres and Redis.
    let (status, body) = eventually("GET /api/health over TLS", PATIENCE, || {
        curl_insecure(https, "/api/health")
    });
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&health["postgres"], &health["redis"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{health}"
    );
    let (status, page) = curl_insecure(https, "/").unwrap();
    assert_eq!((status, page.contains("<h1>sp404</h1>")), (200, true), "{page}");
    assert!(
        page.contains("postgres"),
        "the page is rendered from the backend's answer: {page}"
    );
    // Plain HTTP is sent to HTTPS.
    assert_eq!(get(local(http), "/").0, 301);

    // Prometheus scrapes the backend and itself.
    let mut jobs = targets_up(prometheus);
    jobs.sort();
    assert_eq!(jobs, [r#""backend" "up""#, r#""prometheus" "up""#]);

    settled_then_destroyed(&live);
}

// ---------------------------------------------------------------------------
// shared-infra

/// The subnet of the network `name`.
fn network_subnet(name: &str) -> String {
    docker(&[
        "network",
        "inspect",
        name,
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    ])
    .trim()
    .to_owned()
}

#[test]
fn shared_infra_service_joins_the_infra_networks_reaches_its_database_and_leaves_them() {
    // Declared first, dropped last: the service leaves the networks before they go.
    let Some(mut infra) = LiveStack::example("shared-infra/infra") else {
        return;
    };
    let Some(mut service) = LiveStack::example("shared-infra") else {
        return;
    };
    prepare_images("shared-infra");
    // /24s of this test's own in place of the host's 172.22.1.0/24 and 172.22.0.0/24.
    let [app, db] = [subnet(), subnet()].map(|range| range.trim_end_matches(".0/24").to_owned());
    for live in [&mut infra, &mut service] {
        live.set_env("PG_PASSWORD", "shared-test-password");
        set_var(live, "app-prefix", &app);
        set_var(live, "db-prefix", &db);
    }
    service.set_env("MONGO_PASSWORD", "mongo-test-password");
    service.set_env("REDIS_PASSWORD", "redis-test-password");
    set_var(&mut service, "infra", &infra.name);

    infra.run("apply", &["--auto-approve"]).success();
    let app_network = infra.object("infra_app-network");
    let db_network = infra.object("db-network");
    assert_eq!(network_subnet(&app_network), format!("{app}.0/24"));
    assert_eq!(network_subnet(&db_network), format!("{db}.0/24"));

    service.run("apply", &["--auto-approve"]).success();
    let container = service.object("my-service-1");
    let address = |network: &str| {
        docker(&[
            "inspect",
            "--format",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
            &container,
        ])
        .trim()
        .to_owned()
    };
    assert_eq!(address(&app_network), format!("{app}.50"));
    assert!(
        address(&db_network).starts_with(&format!("{db}.")),
        "{}",
        address(&db_network)
    );

    // The service reaches the shared Postgres, with the password from its secret file.
    let ip = address(&app_network).parse::<std::net::Ipv4Addr>().unwrap();
    let health = eventually("my-service's /health", PATIENCE, || {
        let (status, body) = try_get(SocketAddr::from((ip, 8080)), "/health")?;
        (status == 200)
            .then_some(body.clone())
            .ok_or(format!("status {status}: {body}"))
    });
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["postgres"], true, "{health}");
    assert_eq!(
        (&health["user"], &health["database"]),
        (&Value::from("checker_user"), &Value::from("checker"))
    );

    infra.run("plan", &["--detailed-exitcode"]).success();
    service.run("plan", &["--detailed-exitcode"]).success();

    // Destroying the service leaves the infrastructure's networks and database alone.
    service.run("destroy", &["--auto-approve", "--volumes"]).success();
    service.nothing_left();
    assert_eq!(network_subnet(&app_network), format!("{app}.0/24"));
    assert_eq!(network_subnet(&db_network), format!("{db}.0/24"));
    let database = infra.object("shared-postgres-1");
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Status}}", &database]).trim(),
        "running"
    );

    settled_then_destroyed(&infra);
}
