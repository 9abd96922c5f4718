//! Rollouts against the real daemon: start-first and blue-green updates behind the proxy under
//! a load of requests that must see no failure, automatic rollback of a version that fails its
//! probe, canaries, `stack rollback` and `stack history`.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use support::{LiveStack, TEST_LABEL, docker};

/// A stack of one service `web`: `replicas` of the demo, reporting `version`, failing its
/// probe when `fail_health`, updated as `update` says, with `more` fields.
fn web(version: &str, fail_health: bool, update: &str, more: &str) -> String {
    format!(
        r#"
image "demo" {{
    context "app"
}}
network "app"
service "web" {{
    image "${{image.demo}}"
    command "serve" "--port" "8080" "--name" "web"
    env {{
        DEMO_VERSION "{version}"
        DEMO_FAIL_HEALTH "{fail_health}"
    }}
    expose 8080
    network "app"
    replicas 3
    stop-grace-period "2s"
    probe {{
        http "http://127.0.0.1:8080/health"
        interval "200ms"
        timeout "1s"
        retries 3
    }}
    update {{
{update}
    }}
{more}}}
"#
    )
}

const START_FIRST: &str = r#"        order "start-first""#;

/// A stack applied at v1, with the static proxy at hand.
fn applied(text: &str) -> Option<LiveStack> {
    let mut live = LiveStack::new()?;
    live.set_env(
        "STACK_PROXY_BINARY",
        &stack_tests::proxy_binary().display().to_string(),
    );
    live.demo_context("app");
    live.write("stack.kdl", text);
    live.run("apply", &["--auto-approve"]).success();
    Some(live)
}

/// `stack-demo load` in a container on the stack's network, requesting `http://web:8080/`
/// (resolved before every request) until stopped; removed on drop.
struct Load {
    name: String,
}

/// What a load run counted.
#[derive(Debug)]
struct Tally {
    requests: u64,
    failed: u64,
    slowest_ms: u64,
    answers: String,
    log: String,
}

impl Load {
    fn start(live: &LiveStack) -> Load {
        let image = docker(&["inspect", &live.object("web-1"), "--format", "{{.Config.Image}}"]);
        let name = format!("{}-load", live.name);
        let label = format!("{TEST_LABEL}={}", live.name);
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "--network",
            &live.object("app"),
            image.trim(),
            "load",
            "http://web:8080/",
            "--interval-ms",
            "10",
            "--timeout-ms",
            "3000",
        ]);
        // The first requests must have gone through before the update starts.
        let load = Load { name };
        for _ in 0..50 {
            if docker(&["logs", &load.name]).is_empty() && load.running() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        load
    }

    fn running(&self) -> bool {
        docker(&["inspect", &self.name, "--format", "{{.State.Running}}"]).trim() == "true"
    }

    /// Stops the load (SIGTERM ends it after the request in flight) and reads its summary.
    fn finish(self) -> Tally {
        docker(&["stop", "-t", "10", &self.name]);
        let log = docker(&["logs", &self.name]);
        let summary = log
            .lines()
            .find_map(|line| {
                line.strip_prefix("load: ")
                    .filter(|rest| rest.contains(" requests, "))
            })
            .unwrap_or_else(|| panic!("no load summary in:\n{log}"))
            .to_owned();
        // "N requests, F failed, slowest Xms; ANSWERS"
        let (counts, answers) = summary.split_once("; ").unwrap_or((&summary, ""));
        let numbers: Vec<u64> = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|word| word.parse().ok())
            .collect();
        Tally {
            requests: numbers[0],
            failed: numbers[1],
            slowest_ms: numbers[2],
            answers: answers.to_owned(),
            log,
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

/// No request failed nor stalled, and both versions answered.
fn served_throughout(tally: &Tally, from: &str, to: &str) {
    assert_eq!(
        tally.failed, 0,
        "failed requests during the update:\n{}",
        tally.log
    );
    assert!(
        tally.requests > 100,
        "too few requests to prove anything: {tally:?}"
    );
    assert!(
        tally.slowest_ms < 1000,
        "a request stalled for {}ms:\n{}",
        tally.slowest_ms,
        tally.log
    );
    for version in [from, to] {
        assert!(
            tally.answers.contains(&format!("version={version}")),
            "{version} never answered: {tally:?}"
        );
    }
}

/// The versions the service's current replicas report, sorted.
fn versions(live: &LiveStack) -> Vec<String> {
    versions_of(live, 3)
}

/// The versions replicas 1 to `replicas` report, sorted.
fn versions_of(live: &LiveStack, replicas: u32) -> Vec<String> {
    let mut versions: Vec<String> = (1..=replicas)
        .map(|number| {
            let env = docker(&[
                "inspect",
                &live.object(&format!("web-{number}")),
                "--format",
                "{{json .Config.Env}}",
            ]);
            let version = env.split("DEMO_VERSION=").nth(1).unwrap_or_default();
            version.split('"').next().unwrap_or_default().to_owned()
        })
        .collect();
    versions.sort();
    versions
}

fn ids(live: &LiveStack) -> Vec<String> {
    live.container_ids("web")
}

#[test]
fn start_first_behind_the_proxy_loses_no_request_and_keeps_the_old_replicas_for_a_rollback() {
    let Some(live) = applied(&web("v1", false, START_FIRST, "")) else {
        return;
    };
    let old = ids(&live);
    let load = Load::start(&live);
    live.write("stack.kdl", web("v2", false, START_FIRST, ""));
    live.run("apply", &["--auto-approve"]).success();
    served_throughout(&load.finish(), "v1", "v2");
    assert_eq!(versions(&live), ["v2", "v2", "v2"]);
    assert!(
        ids(&live).iter().all(|id| !old.contains(id)),
        "every replica was replaced"
    );
    live.run("plan", &["--detailed-exitcode"]).success();

    let history = live.run("history", &[]).success();
    assert!(
        history.stdout.contains("current") && history.stdout.contains("3 running"),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("previous") && history.stdout.contains("3 stopped"),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("\"DEMO_VERSION\":\"v1\""),
        "{}",
        history.stdout
    );

    let load = Load::start(&live);
    live.run("rollback web", &[])
        .success()
        .stdout_contains("rolled back");
    served_throughout(&load.finish(), "v2", "v1");
    assert_eq!(versions(&live), ["v1", "v1", "v1"]);
    let mut back = ids(&live);
    back.sort();
    let mut old = old;
    old.sort();
    assert_eq!(back, old, "the previous revision's own containers serve again");
    // The files still say v2: the next plan puts it back.
    live.run("plan", &["--detailed-exitcode"])
        .status(2)
        .stdout_contains("DEMO_VERSION");
}

#[test]
fn a_start_first_restart_behind_the_proxy_replaces_every_replica_without_a_failed_request() {
    let Some(live) = applied(&web("v1", false, START_FIRST, "")) else {
        return;
    };
    let old = ids(&live);
    let load = Load::start(&live);
    live.run("restart web --path", &[])
        .success()
        .stdout_contains("service.web restarted");
    served_throughout(&load.finish(), "v1", "v1");
    assert!(
        ids(&live).iter().all(|id| !old.contains(id)),
        "every replica was replaced"
    );
    assert_eq!(versions(&live), ["v1", "v1", "v1"]);
    live.run("plan", &["--detailed-exitcode"]).success();
}

#[test]
fn a_version_that_fails_its_probe_is_rolled_back_while_the_old_one_serves() {
    let Some(live) = applied(&web("v1", false, START_FIRST, "")) else {
        return;
    };
    let old = ids(&live);
    let load = Load::start(&live);
    live.write("stack.kdl", web("v2", true, START_FIRST, ""));
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    let tally = load.finish();
    assert_eq!(tally.failed, 0, "{}", tally.log);
    assert!(!tally.answers.contains("version=v2"), "v2 served: {tally:?}");
    for expected in [
        "service.web",
        "probe `http http://127.0.0.1:8080/health`",
        "503",
        "rolled back",
    ] {
        assert!(
            failed.stdout.contains(expected),
            "no {expected:?} in:\n{}",
            failed.stdout
        );
    }
    assert_eq!(ids(&live), old, "the old replicas serve on, untouched");
    let names: Vec<String> = live.containers().into_iter().map(|(name, _)| name).collect();
    assert!(
        !names.iter().any(|name| name.ends_with(".next")),
        "a replacement is left: {names:?}"
    );
}

#[test]
fn blue_green_switches_every_replica_at_once_without_a_failed_request() {
    let update = "        strategy \"blue-green\"\n        monitor \"1s\"";
    let Some(live) = applied(&web("v1", false, update, "")) else {
        return;
    };
    let load = Load::start(&live);
    live.write("stack.kdl", web("v2", false, update, ""));
    live.run("apply", &["--auto-approve"]).success();
    served_throughout(&load.finish(), "v1", "v2");
    assert_eq!(versions(&live), ["v2", "v2", "v2"]);

    // A new set that does not stay healthy is never switched to.
    let load = Load::start(&live);
    live.write("stack.kdl", web("v3", true, update, ""));
    live.run("apply", &["--auto-approve"])
        .status(1)
        .stdout_contains("rolled back");
    let tally = load.finish();
    assert_eq!(tally.failed, 0, "{}", tally.log);
    assert!(!tally.answers.contains("version=v3"), "{tally:?}");
    assert_eq!(versions(&live), ["v2", "v2", "v2"]);
}

#[test]
fn a_canary_pauses_after_one_replica_then_continues_or_is_undone() {
    let update = "        strategy \"canary\"\n        order \"start-first\"";
    let Some(live) = applied(&web("v1", false, update, "")) else {
        return;
    };
    live.write("stack.kdl", web("v2", false, update, ""));
    live.run("apply", &["--auto-approve"]).success();
    assert_eq!(
        versions(&live),
        ["v1", "v1", "v2"],
        "one batch runs the new version"
    );

    live.run("rollout undo web", &[]).success();
    assert_eq!(versions(&live), ["v1", "v1", "v1"]);

    live.run("apply", &["--auto-approve"]).success();
    assert_eq!(versions(&live), ["v1", "v1", "v2"]);
    live.run("rollout continue web", &[]).success();
    assert_eq!(versions(&live), ["v2", "v2", "v2"]);
    live.run("plan", &["--detailed-exitcode"]).success();

    live.run("rollout continue nope", &[])
        .status(1)
        .stderr_contains("has no service `nope`");
}

/// Requests to a published host port from this machine, until stopped.
fn host_load(port: u16) -> (Arc<AtomicBool>, JoinHandle<(u64, Vec<String>)>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut requests = 0;
        let mut failures = Vec::new();
        while !stopped.load(Ordering::SeqCst) {
            requests += 1;
            let answer =
                TcpStream::connect_timeout(&address, Duration::from_secs(2)).and_then(|mut stream| {
                    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                    stream.write_all(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")?;
                    let mut answer = String::new();
                    stream.read_to_string(&mut answer)?;
                    Ok(answer)
                });
            match answer {
                Ok(answer) if answer.starts_with("HTTP/1.1 200") => {}
                Ok(answer) => failures.push(answer.lines().next().unwrap_or_default().to_owned()),
                Err(error) => failures.push(error.to_string()),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (requests, failures)
    });
    (stop, handle)
}

#[test]
fn a_published_port_stays_served_through_a_start_first_update() {
    let port = support::free_port();
    let published = format!("    port {port} target=8080 host-ip=\"127.0.0.1\"\n");
    let Some(live) = applied(&web("v1", false, START_FIRST, &published)) else {
        return;
    };
    let (stop, load) = host_load(port);
    std::thread::sleep(Duration::from_millis(300));
    live.write("stack.kdl", web("v2", false, START_FIRST, &published));
    live.run("apply", &["--auto-approve"]).success();
    stop.store(true, Ordering::SeqCst);
    let (requests, failures) = load.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed: {failures:?}",
        failures.len()
    );
    assert!(requests > 50, "{requests}");
    assert_eq!(versions(&live), ["v2", "v2", "v2"]);
}

#[test]
fn pause_and_continue_stop_or_go_on_past_failed_replicas() {
    let pause = "        order \"start-first\"\n        parallelism 3\n        failure-action \"pause\"";
    let Some(live) = applied(&web("v1", false, pause, "")) else {
        return;
    };
    live.write("stack.kdl", web("v2", true, pause, ""));
    live.run("apply", &["--auto-approve"])
        .status(1)
        .stdout_contains("the update of service.web paused: 0 of its replicas run the new configuration");
    assert_eq!(versions(&live), ["v1", "v1", "v1"]);

    let go_on = "        order \"start-first\"\n        failure-action \"continue\"";
    live.write("stack.kdl", web("v2", true, go_on, ""));
    live.run("apply", &["--auto-approve"])
        .status(1)
        .stdout_contains("replicas 1, 2, 3 were not updated (failure-action \"continue\")");
    assert_eq!(versions(&live), ["v1", "v1", "v1"]);
}

/// Five replicas that warm up for a second, rolled one at a time with a surge of two: while
/// one warms up the next two start, so that new replicas do run ahead of their turn, yet never
/// more than three at once outside the proxy's backend set; no request fails meanwhile.
#[test]
fn a_surge_starts_replicas_ahead_but_never_more_than_it_allows() {
    let update = "        order \"start-first\"\n        parallelism 1\n        surge 2";
    let warming = |version: &str| {
        web(version, false, update, "")
            .replace("replicas 3", "replicas 5")
            .replace(
                "DEMO_FAIL_HEALTH",
                "DEMO_READY_AFTER_MS \"1000\"\n        DEMO_FAIL_HEALTH",
            )
            .replace("retries 3", "retries 3\n        start-period \"5s\"")
    };
    let Some(live) = applied(&warming("v1")) else {
        return;
    };
    let load = Load::start(&live);
    let stop = Arc::new(AtomicBool::new(false));
    let watch = {
        let (name, stop) = (live.name.clone(), Arc::clone(&stop));
        std::thread::spawn(move || most_unswitched(&name, &stop))
    };
    live.write("stack.kdl", warming("v2"));
    live.run("apply", &["--auto-approve"]).success();
    stop.store(true, Ordering::SeqCst);
    let most = watch.join().unwrap();
    served_throughout(&load.finish(), "v1", "v2");
    assert!(
        (2..=3).contains(&most),
        "at most {most} new replicas ran outside the proxy at once: a surge of 2 beside a batch of 1 is 3"
    );
    assert_eq!(versions_of(&live, 5), ["v2"; 5]);
    live.run("plan", &["--detailed-exitcode"]).success();
}

/// Until `stop`: the most new replicas (`.next` containers) of service `web` of stack `stack`
/// seen running at once while not in the backend set of its proxy.
fn most_unswitched(stack: &str, stop: &AtomicBool) -> usize {
    let proxy = format!("{stack}_web-proxy");
    let proxy_ip = docker(&[
        "inspect",
        &proxy,
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
    ]);
    let command = docker(&["inspect", &proxy, "--format", "{{join .Config.Cmd \" \"}}"]);
    let control_port = command
        .split_whitespace()
        .skip_while(|word| *word != "--control")
        .nth(1)
        .unwrap_or_else(|| panic!("no control port in the proxy's command: {command}"));
    let control: SocketAddr = format!("{}:{control_port}", proxy_ip.split_whitespace().next().unwrap())
        .parse()
        .unwrap();
    let filter = format!("name=^/{stack}_web-");
    let mut most = 0;
    while !stop.load(Ordering::SeqCst) {
        // Read before the backend set: a replica switched in between then counts as switched.
        let next: Vec<String> = docker(&["ps", "--filter", &filter, "--format", "{{.Names}}"])
            .lines()
            .filter(|name| name.ends_with(".next"))
            .map(str::to_owned)
            .collect();
        if next.is_empty() {
            continue;
        }
        let mut inspect = vec![
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        ];
        inspect.extend(next.iter().map(String::as_str));
        let addresses = docker(&inspect);
        let serving = proxy_backends(control);
        let unswitched = addresses
            .lines()
            .filter(|ip| !ip.is_empty() && !serving.iter().any(|serving| serving == ip))
            .count();
        most = most.max(unswitched);
    }
    most
}

/// The addresses in the proxy's current backend set, from its control API.
fn proxy_backends(control: SocketAddr) -> Vec<String> {
    let mut stream = TcpStream::connect_timeout(&control, Duration::from_secs(2)).unwrap();
    stream
        .write_all(b"GET /backends HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    body.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let ip = words.next()?;
            (words.next() == Some("current")).then(|| ip.to_owned())
        })
        .collect()
}

/// `examples/rollout` as its README runs it: v2 rolls out under load without a failed request,
/// and v3, failing its probe, is rolled back by itself.
#[test]
fn the_rollout_example_rolls_forward_and_back_by_itself() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rollout/stack.kdl");
    let Some(mut live) = LiveStack::new() else {
        return;
    };
    live.set_env(
        "STACK_PROXY_BINARY",
        &stack_tests::proxy_binary().display().to_string(),
    );
    live.demo_context("app");
    live.write("stack.kdl", std::fs::read_to_string(example).unwrap());
    let port_var = format!("port={}", support::free_port());
    live.run("apply", &["--auto-approve", "--var", &port_var])
        .success();

    let load = Load::start(&live);
    live.run(
        "apply",
        &["--auto-approve", "--var", &port_var, "--var", "version=v2"],
    )
    .success();
    served_throughout(&load.finish(), "v1", "v2");

    let load = Load::start(&live);
    let failed = live.run(
        "apply",
        &[
            "--auto-approve",
            "--var",
            &port_var,
            "--var",
            "version=v3",
            "--var",
            "fail_health=true",
        ],
    );
    let tally = load.finish();
    failed.status(1).stdout_contains("rolled back");
    assert_eq!(tally.failed, 0, "{}", tally.log);
    assert!(
        tally.answers.contains("version=v2") && !tally.answers.contains("version=v3"),
        "{tally:?}"
    );
    assert_eq!(versions(&live), ["v2", "v2", "v2"]);
}
