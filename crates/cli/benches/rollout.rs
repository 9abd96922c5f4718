//! What a start-first rollout costs on top of the waits it cannot avoid.
//!
//! A service of 5 replicas of the demo image, behind its proxy, rolled start-first one replica
//! at a time. Each new replica warms up for `WARM_UP` before its probe passes, as a real
//! service does. The bench rolls it twice in one run: first with `surge 0`, each replica
//! started only once the one before is switched (what every rollout did before `surge`), then
//! with no `surge` written, so with the default a user gets (`"25%"`: two replicas started
//! ahead of their turn). The goals are measured on the second, the default; the first shows
//! the time the surge saves. For each, in the same run, the bench measures:
//!
//! - the rollout's total time (`stack apply` of the new version);
//! - each new replica's health-probe wait: from its start (a `docker events` start event of a
//!   `.next` container) until its `/health` answers 200 (polled from here every 5 ms);
//! - the requests of a load container resolving the service per request, every 10 ms.
//!
//! and prints the total over the sum of the waits (goal: at most 1.15) and the failed requests
//! (goal: 0). The denominator stays what the issue measured: every replica's own wait, which no
//! rollout can shorten. A surge lets those waits overlap, which is how it meets the goal; so
//! that the overlap cannot hide overhead, the bench also prints the total over the time at
//! least one new replica was warming up (the union of the waits): what is left above 1 there
//! is time in which no replica was getting any closer to ready. Then where the time went, from
//! the steps `stack apply` traced (`STACK_TRACE`): each phase of the rollout in total and per
//! replica, how long each new replica's probe took to pass once the replica was ready, and the
//! time before and after the rollout. Run with `cargo bench -p stack-cli --bench rollout`.
//! Everything it makes is named `stackbench-rollout-<pid>…` and removed at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

const REPLICAS: usize = 5;
const WARM_UP: Duration = Duration::from_millis(1500);
const RATIO_GOAL: f64 = 1.15;

fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "--list") {
        return ExitCode::SUCCESS;
    }
    let bench = Bench::new();
    let outcome = bench.run();
    bench.clean_up();
    match outcome {
        Ok(met) if met => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("rollout bench: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Bench {
    name: String,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let bench = Bench {
            name: format!("stackbench-rollout-{}", std::process::id()),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        let app = bench.dir.path().join("app");
        std::fs::create_dir_all(&app).expect("the build context");
        std::fs::write(
            app.join("Dockerfile"),
            "FROM scratch\nCOPY stack-demo /stack-demo\nENTRYPOINT [\"/stack-demo\"]\n",
        )
        .expect("the Dockerfile");
        std::fs::copy(stack_tests::demo_binary(), app.join("stack-demo")).expect("the demo binary");
        bench
    }

    /// The stack at `version`, with `surge` written in its `update` block when given.
    fn write(&self, version: &str, surge: Option<&str>) {
        let surge = surge.map_or_else(String::new, |surge| format!("\n        surge {surge}"));
        let text = format!(
            r#"
network "app"
image "demo" {{
    context "app"
}}
service "web" {{
    image "${{image.demo}}"
    command "serve" "--port" "8080" "--name" "web"
    env {{
        DEMO_VERSION "{version}"
        DEMO_READY_AFTER_MS "{}"
    }}
    expose 8080
    network "app"
    replicas {REPLICAS}
    stop-grace-period "2s"
    probe {{
        http "http://127.0.0.1:8080/health"
        interval "100ms"
        timeout "500ms"
        retries 3
        start-period "5s"
    }}
    update {{
        order "start-first"{surge}
    }}
}}
"#,
            WARM_UP.as_millis()
        );
        std::fs::write(self.dir.path().join("stack.kdl"), text).expect("the stack file");
    }

    fn stack(&self, args: &[&str], trace: Option<&std::path::Path>) -> Result<(), String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
        command
            .args(args)
            .arg(self.dir.path())
            .args(["--name", &self.name, "--auto-approve"])
            .env("STACK_PROXY_BINARY", stack_tests::proxy_binary());
        if let Some(trace) = trace {
            command.env("STACK_TRACE", trace);
        }
        let output = command.output().map_err(|error| error.to_string())?;
        if !output.status.success() {
            return Err(format!(
                "stack {args:?} failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }

    fn run(&self) -> Result<bool, String> {
        self.write("v1", Some("0"));
        self.stack(&["apply"], None)?;
        let one_by_one = self.roll("v2", Some("0"))?;
        let surging = self.roll("v3", None)?;
        one_by_one.print(
            "surge 0: each replica starts once the one before is switched",
            None,
        );
        surging.print(
            "the default surge (\"25%\" of 5: 2 started ahead)",
            Some(RATIO_GOAL),
        );
        println!(
            "time the surge saved: {:.2}s of {:.2}s ({:.0}%)",
            one_by_one.total.as_secs_f64() - surging.total.as_secs_f64(),
            one_by_one.total.as_secs_f64(),
            100.0 * (1.0 - surging.total.as_secs_f64() / one_by_one.total.as_secs_f64())
        );
        Ok(surging.ratio() <= RATIO_GOAL && surging.failed == 0 && one_by_one.failed == 0)
    }

    /// Rolls the service to `version` with `surge` under load, and measures it.
    fn roll(&self, version: &str, surge: Option<&str>) -> Result<Measured, String> {
        let probes = ProbeWatch::start(&self.name);
        let load = self.start_load()?;
        thread::sleep(Duration::from_millis(500));
        self.write(version, surge);
        let trace = self.dir.path().join(format!("trace-{version}.jsonl"));
        let started = Instant::now();
        let started_at = epoch_seconds();
        self.stack(&["apply"], Some(&trace))?;
        let total = started.elapsed();
        let ended_at = epoch_seconds();
        let healthy = probes.finish();
        let (requests, failed) = self.finish_load(&load)?;
        if healthy.len() != REPLICAS {
            return Err(format!(
                "saw {} new replicas become healthy, not {REPLICAS}",
                healthy.len()
            ));
        }
        Ok(Measured {
            total,
            healthy,
            requests,
            failed,
            steps: Step::read(&trace)?,
            started_at,
            ended_at,
        })
    }

    fn start_load(&self) -> Result<String, String> {
        let name = format!("{}-load", self.name);
        let image = docker(&[
            "inspect",
            &format!("{}_web-1", self.name),
            "--format",
            "{{.Config.Image}}",
        ]);
        let network = format!("{}_app", self.name);
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &network,
            image.trim(),
            "load",
            "http://web:8080/",
            "--interval-ms",
            "10",
        ]);
        Ok(name)
    }

    fn finish_load(&self, name: &str) -> Result<(u64, u64), String> {
        docker(&["stop", name]);
        let _removed = RemoveOnDrop(name);
        let log = docker(&["logs", name]);
        let summary = log
            .lines()
            .find_map(|line| {
                line.strip_prefix("load: ")
                    .filter(|rest| rest.contains(" requests, "))
            })
            .ok_or_else(|| format!("no load summary in:\n{log}"))?;
        let numbers: Vec<u64> = summary
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|word| word.parse().ok())
            .collect();
        Ok((
            numbers.first().copied().unwrap_or(0),
            numbers.get(1).copied().unwrap_or(u64::MAX),
        ))
    }

    fn clean_up(&self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_stack"))
            .arg("destroy")
            .arg(self.dir.path())
            .args(["--name", &self.name, "--auto-approve", "--volumes"])
            .output();
        docker(&["rm", "-f", "-v", &format!("{}-load", self.name)]);
    }
}

/// Removes the container it names when dropped.
struct RemoveOnDrop<'a>(&'a str);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        docker(&["rm", "-f", self.0]);
    }
}

/// One rollout, measured.
struct Measured {
    total: Duration,
    healthy: Vec<Healthy>,
    requests: u64,
    failed: u64,
    steps: Vec<Step>,
    /// When `stack apply` was started and when it had exited, in seconds since the Unix epoch.
    started_at: f64,
    ended_at: f64,
}

impl Measured {
    fn sum_of_waits(&self) -> Duration {
        self.healthy.iter().map(|replica| replica.wait).sum()
    }

    fn ratio(&self) -> f64 {
        self.total.as_secs_f64() / self.sum_of_waits().as_secs_f64()
    }

    /// The time at least one new replica was between its start and its first 200.
    fn warming(&self) -> f64 {
        let mut spans: Vec<(f64, f64)> = self
            .healthy
            .iter()
            .map(|replica| (replica.at - replica.wait.as_secs_f64(), replica.at))
            .collect();
        spans.sort_by(|one, other| one.0.total_cmp(&other.0));
        let mut covered = 0.0;
        let mut reached = f64::MIN;
        for (start, end) in spans {
            covered += (end - start.max(reached)).max(0.0);
            reached = reached.max(end);
        }
        covered
    }

    /// The numbers, with a verdict against `goal` when the rollout has one.
    fn print(&self, title: &str, goal: Option<f64>) {
        let verdict = |met: bool| if met { "met" } else { "MISSED" };
        println!(
            "start-first rollout of {REPLICAS} replicas, each warming up {}ms; {title}:",
            WARM_UP.as_millis()
        );
        println!("  total                      {:>8.2}s", self.total.as_secs_f64());
        println!(
            "  health-probe waits (sum)   {:>8.2}s  ({})",
            self.sum_of_waits().as_secs_f64(),
            self.healthy
                .iter()
                .map(|replica| format!("{:.2}", replica.wait.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(" + ")
        );
        let ratio = self.ratio();
        match goal {
            Some(goal) => println!(
                "  total / waits              {ratio:>8.2}   goal <= {goal}: {}",
                verdict(ratio <= goal)
            ),
            None => println!("  total / waits              {ratio:>8.2}"),
        }
        println!(
            "  total / time a replica warmed up {:>5.2}   ({:.2}s: the waits overlapping)",
            self.total.as_secs_f64() / self.warming(),
            self.warming()
        );
        println!("  requests during the update {:>8}", self.requests);
        println!(
            "  failed requests            {:>8}   goal 0: {}",
            self.failed,
            verdict(self.failed == 0)
        );
        Breakdown {
            steps: &self.steps,
            healthy: &self.healthy,
            started_at: self.started_at,
            ended_at: self.ended_at,
        }
        .print();
    }
}

/// A new replica seen becoming healthy from here.
struct Healthy {
    replica: u32,
    /// From its start event until its `/health` answered 200.
    wait: Duration,
    /// When it answered, in seconds since the Unix epoch.
    at: f64,
}

/// Follows the start of each `.next` container and times its warm-up from here.
struct ProbeWatch {
    events: std::process::Child,
    healthy: Arc<Mutex<Vec<Healthy>>>,
    probers: Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
    reader: thread::JoinHandle<()>,
}

impl ProbeWatch {
    fn start(stack: &str) -> ProbeWatch {
        let mut events = Command::new("docker")
            .args(["events", "--filter", &format!("label=dev.stack.stack={stack}")])
            .args([
                "--filter",
                "event=start",
                "--format",
                "{{.Actor.Attributes.name}}",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker events runs");
        let stdout = events.stdout.take().expect("its output");
        let healthy = Arc::new(Mutex::new(Vec::new()));
        let probers = Arc::new(Mutex::new(Vec::new()));
        let (found, running) = (Arc::clone(&healthy), Arc::clone(&probers));
        let reader = thread::spawn(move || {
            for name in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Some(replica) = name
                    .strip_suffix(".next")
                    .and_then(|base| base.rsplit_once('-'))
                    .and_then(|(_, number)| number.parse().ok())
                else {
                    continue;
                };
                let started = Instant::now();
                let healthy = Arc::clone(&found);
                let prober = thread::spawn(move || {
                    if let Some(wait) = time_to_healthy(&name, started) {
                        let at = epoch_seconds();
                        let seen = Healthy { replica, wait, at };
                        healthy.lock().expect("the waits").push(seen);
                    }
                });
                running.lock().expect("the probers").push(prober);
            }
        });
        ProbeWatch {
            events,
            healthy,
            probers,
            reader,
        }
    }

    fn finish(mut self) -> Vec<Healthy> {
        let _ = self.events.kill();
        let _ = self.reader.join();
        for prober in std::mem::take(&mut *self.probers.lock().expect("the probers")) {
            let _ = prober.join();
        }
        std::mem::take(&mut *self.healthy.lock().expect("the waits"))
    }
}

/// From `started` until the container's `/health` answers 200, or `None` after 30 s.
fn time_to_healthy(container: &str, started: Instant) -> Option<Duration> {
    let mut address = String::new();
    while started.elapsed() < Duration::from_secs(30) {
        if address.is_empty() {
            address = docker(&[
                "inspect",
                container,
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            ])
            .trim()
            .to_owned();
        }
        if !address.is_empty() && healthy(&address) {
            return Some(started.elapsed());
        }
        thread::sleep(Duration::from_millis(5));
    }
    None
}

fn healthy(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(
        &format!("{address}:8080").parse().expect("an address"),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = String::new();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

fn docker(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

/// One step `stack apply` traced: a span of its own, with the replica it concerns.
struct Step {
    name: String,
    replica: Option<u32>,
    start: f64,
    end: f64,
}

impl Step {
    fn read(path: &std::path::Path) -> Result<Vec<Step>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("no trace at {}: {error}", path.display()))?;
        text.lines()
            .map(|line| {
                let step: Json = serde_json::from_str(line)
                    .map_err(|error| format!("a trace line that is no JSON ({error}): {line}"))?;
                let seconds = |field: &str| {
                    step[field]
                        .as_f64()
                        .ok_or_else(|| format!("a trace line without `{field}`: {line}"))
                };
                Ok(Step {
                    name: step["step"].as_str().unwrap_or_default().to_owned(),
                    replica: step["replica"]
                        .as_u64()
                        .and_then(|number| u32::try_from(number).ok()),
                    start: seconds("start")?,
                    end: seconds("end")?,
                })
            })
            .collect()
    }

    fn seconds(&self) -> f64 {
        self.end - self.start
    }
}

/// Where the time of the rollout went, phase by phase.
struct Breakdown<'a> {
    steps: &'a [Step],
    healthy: &'a [Healthy],
    /// When `stack apply` was started and when it had exited, in seconds since the Unix epoch.
    started_at: f64,
    ended_at: f64,
}

/// The phases of one replica's replacement, in order, as the rollout names its steps.
const PHASES: [(&str, &str); 9] = [
    ("rollout.create", "create (ahead of its turn, when it can)"),
    ("rollout.start", "start"),
    ("rollout.probe", "probe: start to first pass"),
    ("rollout.monitor", "monitor"),
    ("rollout.switch", "proxy switch"),
    ("rollout.drain", "drain the old replica"),
    ("rollout.stop", "stop the old replica"),
    ("rollout.keep", "keep it as previous"),
    ("rollout.promote", "rename the new one"),
];

impl Breakdown<'_> {
    fn print(&self) {
        let replicas = REPLICAS as f64;
        println!("where the time went (from `stack apply`'s trace):");
        println!("  {:<40} {:>8} {:>12}", "phase", "total", "per replica");
        let line = |label: &str, total: f64| {
            println!("  {label:<40} {total:>7.2}s {:>11.3}s", total / replicas);
        };
        for (name, label) in PHASES {
            line(label, self.total(name));
            if name == "rollout.probe" {
                line("  of which after the replica was ready", self.probe_lag());
            }
        }
        line("idle between replicas", self.idle_between_replicas());
        let rollout = self.steps.iter().find(|step| step.name == "rollout");
        let check = self.steps.iter().find(|step| step.name == "apply.check");
        if let (Some(rollout), Some(check)) = (rollout, check) {
            let single = |label: &str, seconds: f64| println!("  {label:<40} {seconds:>7.2}s");
            single(
                "before the rollout (start, plan)",
                rollout.start - self.started_at,
            );
            single("after the rollout, before the checks", check.start - rollout.end);
            single("the final health checks", check.seconds());
            single("after the checks (exit)", self.ended_at - check.end);
        }
    }

    fn total(&self, name: &str) -> f64 {
        self.steps
            .iter()
            .filter(|step| step.name == name)
            .map(Step::seconds)
            .sum()
    }

    /// From each new replica answering its `/health` (seen from here) to its probe passing.
    fn probe_lag(&self) -> f64 {
        self.steps
            .iter()
            .filter(|step| step.name == "rollout.probe")
            .filter_map(|step| {
                let ready = self
                    .healthy
                    .iter()
                    .find(|seen| Some(seen.replica) == step.replica)?;
                Some((step.end - ready.at).max(0.0))
            })
            .sum()
    }

    /// From the last step of one replica that ended before the next one's start to that
    /// start: the time nothing of the rollout moved on.
    fn idle_between_replicas(&self) -> f64 {
        let mut starts: Vec<&Step> = self
            .steps
            .iter()
            .filter(|step| step.name == "rollout.start")
            .collect();
        starts.sort_by(|one, other| one.start.total_cmp(&other.start));
        starts
            .windows(2)
            .filter_map(|pair| {
                let (previous, next) = (pair[0].replica, pair[1].start);
                self.steps
                    .iter()
                    .filter(|step| step.replica == previous && step.end <= next)
                    .map(|step| step.end)
                    .reduce(f64::max)
                    .map(|last| next - last)
            })
            .sum()
    }
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}
