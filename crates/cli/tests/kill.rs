//! `kill -9` of `stack apply` (and `destroy`) at distinct moments, then another apply: it
//! converges to the desired state, with no duplicate or leftover containers or networks, the
//! lock of the killed run taken over, and the volume data written before the kill still there.
//!
//! The moments are reached black-box: the test follows `docker events` while `stack` runs as a
//! child process, and sends SIGKILL (`Child::kill`) at the first event that matches.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stack_tests::Outcome;
use support::{LiveStack, docker};

/// How long a kill point may take to come.
const WITHIN: Duration = Duration::from_secs(120);

/// One line of `docker events --format '{{json .}}'`.
#[derive(Debug)]
struct Event {
    kind: String,
    action: String,
    id: String,
    attributes: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    fn parse(line: &str) -> Option<Event> {
        let json: serde_json::Value = serde_json::from_str(line).ok()?;
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        Some(Event {
            kind: text(&json["Type"]),
            action: text(&json["Action"]),
            id: text(&json["Actor"]["ID"]),
            attributes: json["Actor"]["Attributes"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        })
    }

    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(serde_json::Value::as_str)
    }

    /// The object's name: a container's or network's `name`, a volume's id, an image's tag.
    fn name(&self) -> &str {
        self.attribute("name").unwrap_or(&self.id)
    }

    fn is(&self, kind: &str, action: &str) -> bool {
        self.kind == kind && self.action == action
    }

    /// A container event of a service of the stack.
    fn of_service(&self, service: &str) -> bool {
        self.kind == "container" && self.attribute("dev.stack.address") == Some(&format!("service.{service}"))
    }

    fn of_stack(&self, stack: &str) -> bool {
        self.attribute("dev.stack.stack") == Some(stack)
            || self.attribute("dev.stack.image.stack") == Some(stack)
            || self.attribute("dev.stack.lock") == Some(stack)
            || self.name().starts_with(&format!("{stack}_"))
    }
}

/// What was on the daemon just after the kill, for messages.
#[derive(Debug)]
#[allow(dead_code, reason = "shown in failure messages")]
struct Killed {
    /// The stack's events up to the kill.
    events: Vec<String>,
    containers: Vec<(String, String)>,
    images: Vec<String>,
    output: String,
}

/// Runs `stack COMMAND --auto-approve` as a child process and SIGKILLs it at the first event of
/// the stack for which `at` says yes. Fails when the run ends before.
fn kill_at(live: &LiveStack, command: &str, mut at: impl FnMut(&Event) -> bool) -> Killed {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut events = Command::new("docker")
        .args([
            "events",
            "--since",
            &format!("{since:.6}"),
            "--format",
            "{{json .}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (send, receive) = mpsc::channel();
    let lines = BufReader::new(events.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let mut child = live.spawn(command, &["--auto-approve"], "killed");
    let mut seen = Vec::new();
    let give_up = Instant::now() + WITHIN;
    let reached = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Err(format!(
                "`stack {command}` ended ({status}) before the kill point"
            ));
        }
        if Instant::now() > give_up {
            break Err(format!("no kill point within {WITHIN:?}"));
        }
        let Ok(line) = receive.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        let Some(event) = Event::parse(&line).filter(|event| event.of_stack(&live.name)) else {
            continue;
        };
        seen.push(format!("{} {} {}", event.kind, event.action, event.name()));
        if at(&event) {
            break Ok(());
        }
    };
    // SIGKILL, at once: nothing of `stack` runs after this.
    let _ = child.kill();
    let _ = child.wait();
    let _ = events.kill();
    let _ = events.wait();
    let _ = reader.join();
    let killed = Killed {
        events: seen,
        containers: live.containers(),
        images: live.objects("image"),
        output: live.output("killed"),
    };
    if let Err(why) = reached {
        panic!("{why}: {killed:#?}");
    }
    killed
}

/// Applies again and checks that the daemon holds exactly the desired state: the apply and a
/// following `plan --detailed-exitcode` succeed, the containers whose names start with the
/// stack's are exactly `containers` (as `name state`), the stack's networks are `networks`,
/// and no lock is left.
fn converges(live: &LiveStack, killed: &Killed, containers: &[&str], networks: &[&str]) -> Outcome {
    let applied = live.run("apply", &["--auto-approve"]);
    assert_eq!(
        applied.status,
        Some(0),
        "the apply after the kill\n--- stdout\n{}\n--- stderr\n{}\n--- killed at\n{killed:#?}",
        applied.stdout,
        applied.stderr
    );
    let plan = live.run("plan", &["--detailed-exitcode"]);
    assert_eq!(
        plan.status,
        Some(0),
        "a plan after the apply after the kill\n{}\n--- killed at\n{killed:#?}",
        plan.stdout
    );
    let mut wanted: Vec<(String, String)> = containers
        .iter()
        .map(|entry| {
            let (name, state) = entry.split_once(' ').unwrap_or((entry, "running"));
            (live.object(name), state.to_owned())
        })
        .collect();
    wanted.sort();
    // An update keeps the replicas it replaced, stopped, as the previous revision.
    let (previous, serving): (Vec<_>, Vec<_>) = live
        .containers()
        .into_iter()
        .partition(|(name, _)| name.ends_with(".prev"));
    for (name, state) in &previous {
        assert_ne!(
            state, "running",
            "{name} of the previous revision runs; killed at {killed:#?}"
        );
    }
    assert_eq!(serving, wanted, "containers; killed at {killed:#?}");
    let mut wanted: Vec<String> = networks.iter().map(|network| live.object(network)).collect();
    wanted.sort();
    assert_eq!(live.objects("network"), wanted, "networks; killed at {killed:#?}");
    let lock = format!("name=^/stack-lock.{}$", live.name);
    assert_eq!(docker(&["ps", "-aq", "--filter", &lock]), "", "the lock is left");
    applied
}

fn api(version: &str, replicas: u32) -> String {
    format!(
        r#"
service "api" {{
    image "${{image.demo}}"
    replicas {replicas}
    network "backend"
    volume "data" target="/data"
    init #true
    stop-grace-period "1s"
    env {{
        DEMO_VERSION "{version}"
    }}
    probe {{
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "200ms"
    }}
    update {{
        order "start-first"
    }}
}}
"#
    )
}

/// The demo image, its volume and network, service `api` at `version` with `replicas`, and
/// `more`.
fn shop(version: &str, replicas: u32, more: &str) -> String {
    format!(
        r#"
image "demo" {{
    context "app"
}}
volume "data"
network "backend"
{}{more}"#,
        api(version, replicas)
    )
}

/// A service of the demo image that does nothing but run.
fn plain_service(name: &str, more: &str) -> String {
    format!(
        r#"
service "{name}" {{
    image "${{image.demo}}"
    network "backend"
    init #true
    stop-grace-period "1s"
{more}}}
"#
    )
}

const API: [&str; 3] = ["api-1", "api-2", "api-3"];

/// A stack with `text` applied, and data written to its volume through `api-1`.
fn applied(text: &str) -> Option<LiveStack> {
    let live = LiveStack::new()?;
    live.demo_context("app");
    live.write("stack.kdl", text);
    live.run("apply", &["--auto-approve"]).success();
    live.put_data("api-1", "kept", "written before the kill");
    Some(live)
}

fn data_kept(live: &LiveStack) {
    live.assert_data("api-1", "kept", "written before the kill");
}

/// The ids of the containers of `service` now.
fn ids(live: &LiveStack, service: &str) -> HashSet<String> {
    live.container_ids(service).into_iter().collect()
}

#[test]
fn killed_while_images_build() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app").demo_context("bulky");
    // A big build context, so that its build takes a while.
    live.write("bulky/ballast", vec![7u8; 150 << 20]);
    let bulky = "image \"bulky\" {\n    context \"bulky\"\n}\n";
    live.write("stack.kdl", shop("v1", 1, bulky));
    // The builder's first intermediate container: a build is under way, and the image it
    // makes is not tagged yet, whichever of the two builds came first.
    let stack_name = live.name.clone();
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "create")
            && !event.name().starts_with(&stack_name)
            && !event.name().starts_with("stack-lock.")
    });
    let bulky_image = format!("{}_bulky:", live.name);
    let demo_image = format!("{}_demo:", live.name);
    let built = |prefix: &str| killed.images.iter().any(|image| image.starts_with(prefix));
    assert!(
        !(built(&bulky_image) && built(&demo_image)),
        "both images were built before the kill: {killed:#?}"
    );
    converges(&live, &killed, &["api-1"], &["backend"]);
    assert!(
        live.objects("image")
            .iter()
            .any(|image| image.starts_with(&bulky_image))
    );
}

#[test]
fn killed_once_the_network_exists_before_any_container() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", shop("v1", 3, ""));
    let network = live.object("backend");
    let killed = kill_at(&live, "apply", |event| {
        event.is("network", "create") && event.name() == network
    });
    assert_eq!(killed.containers, [], "containers made before the kill");
    converges(&live, &killed, &API, &["backend"]);
}

#[test]
fn killed_when_the_first_of_three_replicas_is_created() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", shop("v1", 3, ""));
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "create") && event.of_service("api")
    });
    converges(&live, &killed, &API, &["backend"]);
}

#[test]
fn killed_when_one_replica_of_three_is_healthy() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    let web = plain_service("web", "    depends-on \"api\" condition=\"healthy\"\n");
    live.write("stack.kdl", shop("v1", 3, &web));
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "health_status: healthy") && event.of_service("api")
    });
    converges(
        &live,
        &killed,
        &["api-1", "api-2", "api-3", "web-1"],
        &["backend"],
    );
}

#[test]
fn killed_holding_a_fresh_lock() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    live.write("stack.kdl", shop("v2", 3, ""));
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "create") && event.attribute("dev.stack.lock") == Some(live.name.as_str())
    });
    let again = converges(&live, &killed, &API, &["backend"]);
    assert!(
        again.stderr.contains("warning: took over the lock"),
        "{}",
        again.stderr
    );
    data_kept(&live);
}

#[test]
fn killed_after_an_old_replica_was_stopped_beside_a_new_one() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    let old = ids(&live, "api");
    live.write("stack.kdl", shop("v2", 3, ""));
    let mut new_started = false;
    let killed = kill_at(&live, "apply", |event| {
        if event.is("container", "start") && event.of_service("api") && !old.contains(&event.id) {
            new_started = true;
        }
        new_started && event.is("container", "die") && old.contains(&event.id)
    });
    converges(&live, &killed, &API, &["backend"]);
    assert!(ids(&live, "api").is_disjoint(&old), "every replica was replaced");
    data_kept(&live);
}

#[test]
fn killed_when_an_old_replica_is_retired_in_a_replacement() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    let old = ids(&live, "api");
    live.write("stack.kdl", shop("v2", 3, ""));
    // Retired: stopped and renamed to the previous revision's name.
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "rename") && old.contains(&event.id)
    });
    converges(&live, &killed, &API, &["backend"]);
    assert!(ids(&live, "api").is_disjoint(&old), "every replica was replaced");
    data_kept(&live);
}

/// Killed while a start-first rollout has a new replica running beside all the old ones,
/// before the switch.
#[test]
fn killed_with_a_replacement_beside_the_old_replicas() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    let old = ids(&live, "api");
    live.write("stack.kdl", shop("v2", 3, ""));
    let mut old_gone = false;
    let killed = kill_at(&live, "apply", |event| {
        if old.contains(&event.id) && matches!(event.action.as_str(), "die" | "destroy") {
            old_gone = true;
        }
        !old_gone && event.is("container", "start") && event.of_service("api") && !old.contains(&event.id)
    });
    converges(&live, &killed, &API, &["backend"]);
    assert!(ids(&live, "api").is_disjoint(&old), "every replica was replaced");
    data_kept(&live);
}

#[test]
fn killed_while_scaling_up() {
    let Some(live) = applied(&shop("v1", 1, "")) else {
        return;
    };
    live.write("stack.kdl", shop("v1", 3, ""));
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "create") && event.of_service("api")
    });
    converges(&live, &killed, &API, &["backend"]);
    data_kept(&live);
}

#[test]
fn killed_while_joining_a_new_network_in_place() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    let old = ids(&live, "api");
    let joined = shop("v1", 3, "network \"front\"\n").replace(
        "    network \"backend\"\n    volume",
        "    network \"backend\"\n    network \"front\"\n    volume",
    );
    live.write("stack.kdl", joined);
    let front = live.object("front");
    let killed = kill_at(&live, "apply", |event| {
        event.is("network", "connect") && event.name() == front
    });
    converges(&live, &killed, &API, &["backend", "front"]);
    assert_eq!(
        ids(&live, "api"),
        old,
        "joining a network changes the replicas in place"
    );
    data_kept(&live);
}

#[test]
fn killed_while_a_removed_service_is_deleted() {
    let worker = plain_service("worker", "    replicas 2\n");
    let Some(live) = applied(&shop("v1", 3, &worker)) else {
        return;
    };
    live.write("stack.kdl", shop("v1", 3, ""));
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "die") && event.of_service("worker")
    });
    converges(&live, &killed, &API, &["backend"]);
    data_kept(&live);
}

#[test]
fn killed_while_a_one_shot_job_runs() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    let job = plain_service(
        "migrate",
        "    command \"job\" \"--sleep\" \"3000\" \"--message\" \"migrating\"\n    restart \"no\"\n",
    );
    let web = plain_service("web", "    depends-on \"migrate\" condition=\"completed\"\n");
    live.write("stack.kdl", shop("v1", 3, &format!("{job}{web}")));
    let killed = kill_at(&live, "apply", |event| {
        event.is("container", "start") && event.of_service("migrate")
    });
    converges(
        &live,
        &killed,
        &["api-1", "api-2", "api-3", "migrate-1 exited", "web-1"],
        &["backend"],
    );
    data_kept(&live);
}

#[test]
fn killed_during_destroy() {
    let Some(live) = applied(&shop("v1", 3, "")) else {
        return;
    };
    let killed = kill_at(&live, "destroy", |event| {
        event.is("container", "destroy") && event.of_service("api")
    });
    converges(&live, &killed, &API, &["backend"]);
    data_kept(&live);
}
