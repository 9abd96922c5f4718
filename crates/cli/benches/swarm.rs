//! What `stack` costs on a swarm on top of the Docker work it cannot avoid.
//!
//! On a swarm of the bench's own (`tests/support/swarm_cluster.rs`: test daemons in network
//! namespaces, a registry on their network, the demo image pinned by digest), measures in the
//! same run:
//!
//! 1. a no-op `stack plan --target swarm` of a stack of `SERVICES` services, against the reads
//!    it needs done by a fresh process of this bench, straight on the API socket, in
//!    parallel (goal: at most 1.5×). The requests `stack plan` makes are counted (a proxy on a
//!    unix socket) and listed, so that the baseline's reads can be checked against them;
//! 2. an update of a service of `REPLICAS` replicas (a new environment value, rolled out by
//!    Swarm) by `stack apply`, against `docker service update --env-add` doing the same on a
//!    copy of that service's spec made beside it (goal: at most 1.1×). Both wait until the
//!    update has converged.
//!
//! Each is measured `ROUNDS` times, alternating, and the medians are compared. Run with
//! `cargo bench -p stack-cli --bench swarm`; it needs what the swarm tests need (root, `ip`,
//! `nsenter`, `dockerd`, `fuse-overlayfs`, `docker-registry`). Everything it makes goes with
//! the swarm at the end.

// A bench may unwrap what it set up itself, as the tests do.
#![allow(clippy::unwrap_used)]

#[path = "apply/proxy.rs"]
mod proxy;
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use proxy::CountingProxy;
use support::swarm_cluster::SwarmCluster;

const NODES: usize = 3;
const SERVICES: usize = 30;
const REPLICAS: usize = 5;
const ROUNDS: usize = 7;
const UPDATE_ROUNDS: usize = 3;
const PLAN_GOAL: f64 = 1.5;
const UPDATE_GOAL: f64 = 1.1;
/// The argument that makes this bench a process that only does the reads of a no-op plan.
const READS_MODE: &str = "reads";
/// What the copy of the updated service, updated by `docker service update`, is called.
const BASELINE_SERVICE: &str = "baseline-web";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, socket, stack] = args.as_slice()
        && mode == READS_MODE
    {
        return match plan_reads(Path::new(socket), stack) {
            Ok(services) if services == SERVICES => ExitCode::SUCCESS,
            Ok(services) => {
                eprintln!("the reads found {services} services, not {SERVICES}");
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        };
    }
    if args.iter().any(|arg| arg == "--list") {
        return ExitCode::SUCCESS;
    }
    let Some(cluster) = SwarmCluster::start(NODES) else {
        eprintln!("swarm bench: this machine cannot start a test swarm");
        return ExitCode::FAILURE;
    };
    let bench = Bench::new(&cluster);
    let outcome = bench.noop_plan().and_then(|plan| Ok((plan, bench.update()?)));
    match outcome {
        Ok((plan, update)) => {
            let verdict = |met: bool| if met { "met" } else { "MISSED" };
            println!(
                "no-op plan, {SERVICES} services on {NODES} nodes: {:.1} ms, the reads it needs {:.1} ms: {:.2}x (goal <= {PLAN_GOAL}x: {})",
                millis(plan.0),
                millis(plan.1),
                ratio(plan),
                verdict(ratio(plan) <= PLAN_GOAL)
            );
            println!(
                "update of {REPLICAS} replicas: stack apply {:.2} s, docker service update {:.2} s: {:.2}x (goal <= {UPDATE_GOAL}x: {})",
                update.0.as_secs_f64(),
                update.1.as_secs_f64(),
                ratio(update),
                verdict(ratio(update) <= UPDATE_GOAL)
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("swarm bench: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Bench<'a> {
    cluster: &'a SwarmCluster,
    image: String,
    name: String,
    dir: tempfile::TempDir,
}

impl<'a> Bench<'a> {
    fn new(cluster: &'a SwarmCluster) -> Bench<'a> {
        Bench {
            image: cluster.push_demo("demo:bench"),
            cluster,
            name: format!("stackbench-swarm-{}", std::process::id()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The median no-op plan of `SERVICES` services, and the median of the reads it needs.
    fn noop_plan(&self) -> Result<(Duration, Duration), String> {
        let services: String = (1..=SERVICES)
            .map(|number| service(&format!("s{number}"), &self.image, 1, "v1"))
            .collect();
        self.write(&services);
        self.stack(&["apply", "--auto-approve"], None)?;
        let plan = || self.stack(&["plan", "--detailed-exitcode"], None);
        let proxy = CountingProxy::start(&self.dir.path().join("proxy.sock"), &self.socket())?;
        self.stack(&["plan", "--detailed-exitcode"], Some(&proxy.endpoint()))?;
        let mut requests = std::collections::BTreeMap::new();
        for request in proxy.take() {
            *requests.entry(request).or_insert(0) += 1;
        }
        eprintln!("the requests of stack plan:");
        for (request, count) in requests {
            eprintln!("  {count:>3} {request}");
        }
        let this = std::env::current_exe().map_err(|error| error.to_string())?;
        let reads = || {
            let mut reads = Command::new(&this);
            reads.arg(READS_MODE).arg(self.socket()).arg(&self.name);
            timed(&mut reads)
        };
        let (mut plans, mut baselines) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            plans.push(plan()?);
            baselines.push(reads()?);
        }
        self.stack(&["destroy", "--auto-approve"], None)?;
        Ok((median(&plans), median(&baselines)))
    }

    /// The median update of `REPLICAS` replicas by `stack apply`, and by `docker service
    /// update` on a copy of the service.
    fn update(&self) -> Result<(Duration, Duration), String> {
        self.write(&service("web", &self.image, REPLICAS, "v0"));
        self.stack(&["apply", "--auto-approve"], None)?;
        self.copy_service(&format!("{}_web", self.name))?;
        let (mut applies, mut updates) = (Vec::new(), Vec::new());
        for round in 1..=UPDATE_ROUNDS {
            self.write(&service("web", &self.image, REPLICAS, &format!("v{round}")));
            applies.push(self.stack(&["apply", "--auto-approve"], None)?);
            let env = format!("DEMO_VERSION=v{round}");
            let mut update = Command::new("docker");
            update
                .args([
                    "--host",
                    &self.cluster.docker_host(),
                    "service",
                    "update",
                    "--quiet",
                ])
                .args(["--env-add", &env, BASELINE_SERVICE]);
            updates.push(timed(&mut update)?);
        }
        self.stack(&["destroy", "--auto-approve"], None)?;
        Ok((median(&applies), median(&updates)))
    }

    /// Creates `BASELINE_SERVICE` with the spec of `service`, without its labels or its
    /// tasks' (it is no part of the stack, and removing the stack's service waits until no
    /// container labelled the stack's is left), and waits until it runs.
    fn copy_service(&self, service: &str) -> Result<(), String> {
        let inspected = request(&self.socket(), "GET", &format!("/services/{service}"), None)?;
        let mut spec = inspected["Spec"].clone();
        spec["Name"] = BASELINE_SERVICE.into();
        spec["Labels"] = serde_json::json!({});
        spec["TaskTemplate"]["ContainerSpec"]["Labels"] = serde_json::json!({});
        request(&self.socket(), "POST", "/services/create", Some(&spec))?;
        self.cluster
            .wait_for("the copy of the service to run", |cluster| {
                cluster.running_tasks(BASELINE_SERVICE).len() == REPLICAS
            });
        Ok(())
    }

    fn write(&self, services: &str) {
        let text = format!("overlay \"swarm\" {{\n    target \"swarm\"\n}}\n\n{services}");
        std::fs::write(self.dir.path().join("stack.kdl"), text).unwrap();
    }

    /// Runs `stack ARGS` on the bench's stack against the manager (or `host`), timed.
    fn stack(&self, args: &[&str], host: Option<&str>) -> Result<Duration, String> {
        let mut stack = Command::new(env!("CARGO_BIN_EXE_stack"));
        stack
            .args(args)
            .arg(self.dir.path())
            .args(["--name", &self.name, "--env", "swarm"])
            .env(
                "DOCKER_HOST",
                host.map_or_else(|| self.cluster.docker_host(), str::to_owned),
            );
        timed(&mut stack)
    }

    /// The manager's API socket.
    fn socket(&self) -> PathBuf {
        self.cluster.manager().dir.join("docker.sock")
    }
}

/// A service of the bench's stacks: `replicas` of the demo, serving, its version in the
/// environment.
fn service(name: &str, image: &str, replicas: usize, version: &str) -> String {
    format!(
        r#"service "{name}" {{
    image "{image}"
    command "serve"
    replicas {replicas}
    env {{
        DEMO_VERSION "{version}"
    }}
}}
"#
    )
}

/// What a no-op plan of the stack `stack` must read, straight on the API socket, in
/// parallel: the daemon's swarm state, and the stack's services, networks, secrets and
/// volumes listed by label. Returns how many services it found.
fn plan_reads(socket: &Path, stack: &str) -> Result<usize, String> {
    let filter = serde_json::json!({ "label": [format!("dev.stack.stack={stack}")] }).to_string();
    let paths: Vec<String> = ["/info".to_owned()]
        .into_iter()
        .chain(
            ["services", "networks", "secrets", "volumes"]
                .iter()
                .map(|kind| format!("/{kind}?filters={}", encode(&filter))),
        )
        .collect();
    let answers: Vec<Result<serde_json::Value, String>> = std::thread::scope(|scope| {
        let reading: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || request(socket, "GET", path, None)))
            .collect();
        reading
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err("a read panicked".to_owned()))
            })
            .collect()
    });
    let answers = answers.into_iter().collect::<Result<Vec<_>, String>>()?;
    Ok(answers[1].as_array().map_or(0, Vec::len))
}

/// One request of the Engine API (version 1.41, as `stack` speaks it) on `socket`, HTTP/1.0
/// so that the answer is neither chunked nor kept alive; its JSON answer.
fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, String> {
    let body = body.map(serde_json::Value::to_string).unwrap_or_default();
    let mut stream = UnixStream::connect(socket).map_err(|error| format!("{}: {error}", socket.display()))?;
    write!(
        stream,
        "{method} /v1.41{path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|error| error.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|error| error.to_string())?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("an answer without a head")?;
    let status = head.split(' ').nth(1).unwrap_or_default();
    if !status.starts_with('2') {
        return Err(format!("{method} {path}: {head}\n{body}"));
    }
    serde_json::from_str(body).map_err(|error| format!("{method} {path}: {error}"))
}

/// `text` as a URL query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Runs `command`, which must succeed; how long it took.
fn timed(command: &mut Command) -> Result<Duration, String> {
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|error| format!("{command:?}: {error}"))?;
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(took)
}

fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn ratio((measured, baseline): (Duration, Duration)) -> f64 {
    measured.as_secs_f64() / baseline.as_secs_f64()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
