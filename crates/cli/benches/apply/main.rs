//! How much `stack apply` and `stack plan` cost on top of the daemon.
//!
//! For N = 30 and N = 100 services of one local image (each `stack-demo
//! serve` on one user network, no probe), measures in the same run:
//!
//! 1. apply from nothing: `stack apply --auto-approve` (run first and last in
//!    each round) against the same containers made straight through the API
//!    (at several parallelisms), by parallel `docker run` and by
//!    `docker-compose up -d`; stack's median run is compared with the median
//!    of the baseline that is fastest by its median (and, for comparison,
//!    fastest run with fastest run);
//! 2. a no-op `stack plan` against the reads it needs done directly by a
//!    program: a fresh process of this bench that starts, connects as stack
//!    does, and makes only those reads, in parallel. `stack plan` is a
//!    process too, so that is the goal's baseline. For comparison, the same
//!    reads on a client connected long before (no process to start, its
//!    connections open) and by the `docker` command line, how they are done
//!    by hand; the number of API requests stack makes (counted by a proxy on a
//!    unix socket), and a no-op `docker-compose up -d`;
//! 3. the peak memory of `stack apply` (`/usr/bin/time -f %M`).
//!
//! Prints a table with each goal of issue 4 and whether it is met. Needs the
//! daemon, `docker`, `docker-compose` (v1) and `/usr/bin/time`. Everything it
//! makes is named `stackbench-<pid>-…` and removed between runs and at the end.
//!
//! Run with `cargo bench -p stack-cli --bench apply`. `STACKBENCH_SIZES=10,30`
//! changes the sizes; `STACKBENCH_ROUNDS=3` repeats the applies from nothing:
//! the daemon's pace varies by up to 20 % from one run of the same work to
//! the next, and the medians need several rounds. `STACKBENCH_NOOP_ONLY=1`
//! measures only the no-op plan (one apply per size, no baselines of the
//! apply): a check of a minute or two.

mod baselines;
mod proxy;
mod report;
mod sweep;
mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stack_docker::DockerClient;
use tokio::runtime::Runtime;

use proxy::CountingProxy;
use report::{Applies, Measured, NoopPlan};
use sweep::{Guard, sweep, warn_stuck};

const DEFAULT_SIZES: [usize; 2] = [30, 100];
/// The parallelisms tried for the direct API baseline.
const API_PARALLELISMS: [usize; 4] = [4, 8, 16, 32];
const DOCKER_RUN_PARALLELISM: usize = 8;
/// Runs of each no-op measurement; the median counts.
const PLAN_ROUNDS: usize = 7;
const COMPOSE_NOOP_ROUNDS: usize = 3;
const DAEMON_SOCKET: &str = "/var/run/docker.sock";
const TIME: &str = "/usr/bin/time";

const APPLY_GOAL: f64 = 1.1;
const PLAN_GOAL: f64 = 1.5;
const MEMORY_GOAL_MB: f64 = 60.0;

/// The argument that makes this bench a process that only does the reads.
const READS_MODE: &str = "reads";

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed: the bench stops at the next step and cleans up.
fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, stack, expected] = args.as_slice()
        && mode == READS_MODE
    {
        return fresh_process_reads(stack, expected);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The children get the signal too and stop; the bench stops after them.
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            INTERRUPTED.store(true, Ordering::Relaxed);
        }
    });
    let prefix = format!("stackbench-{}-", std::process::id());
    let mut guard = Guard {
        prefix: prefix.clone(),
        image: None,
    };
    let result = bench(&runtime, &prefix, &mut guard);
    eprintln!("cleaning up {prefix}*");
    drop(guard);
    match result {
        Ok(sizes) => {
            if !sizes.is_empty() {
                print!("{}", report::summary(&sizes, rounds()));
            }
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("bench failed: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// The reads of a no-op plan in a process of their own: started, connected
/// (as `stack` connects), reading. Exits 0 when it found `expected` containers.
fn fresh_process_reads(stack: &str, expected: &str) -> ExitCode {
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else {
        return ExitCode::FAILURE;
    };
    let inspected = runtime.block_on(async {
        let client = DockerClient::connect().await.map_err(|error| error.to_string())?;
        baselines::reads(&client, stack).await
    });
    match inspected {
        Ok(inspected) if inspected.to_string() == expected => ExitCode::SUCCESS,
        Ok(inspected) => {
            eprintln!("found {inspected} containers, not {expected}");
            ExitCode::FAILURE
        }
        Err(problem) => {
            eprintln!("{problem}");
            ExitCode::FAILURE
        }
    }
}

struct Bench<'a> {
    runtime: &'a Runtime,
    rounds: usize,
    client: DockerClient,
    stack: PathBuf,
    image: String,
    work: tempfile::TempDir,
    prefix: String,
    proxy: CountingProxy,
}

fn bench(runtime: &Runtime, prefix: &str, guard: &mut Guard) -> Result<Vec<Measured>, String> {
    preflight()?;
    let sizes = sizes()?;
    let client = runtime
        .block_on(DockerClient::connect())
        .map_err(|error| error.to_string())?;
    let work = tempfile::tempdir().map_err(|error| error.to_string())?;
    eprintln!("building the static demo image");
    let image = runtime.block_on(workload::demo_image(&client, prefix, &work.path().join("image")))?;
    guard.image = Some(image.clone());
    let proxy = CountingProxy::start(&work.path().join("docker.sock"), Path::new(DAEMON_SOCKET))?;
    let bench = Bench {
        runtime,
        rounds: rounds(),
        client,
        stack: PathBuf::from(env!("CARGO_BIN_EXE_stack")),
        image,
        work,
        prefix: prefix.to_owned(),
        proxy,
    };
    if noop_only() {
        for services in sizes {
            bench.noop_only(services)?;
        }
        return Ok(Vec::new());
    }
    sizes.into_iter().map(|services| bench.size(services)).collect()
}

/// `STACKBENCH_NOOP_ONLY=1`: only the no-op plan is measured.
fn noop_only() -> bool {
    std::env::var("STACKBENCH_NOOP_ONLY").is_ok_and(|value| value == "1")
}

fn preflight() -> Result<(), String> {
    sweep::docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|problem| format!("the bench needs the Docker daemon: {problem}"))?;
    let mut compose = Command::new("docker-compose");
    compose.arg("version");
    run(&mut compose).map_err(|problem| format!("the bench needs docker-compose (v1): {problem}"))?;
    if !Path::new(TIME).exists() {
        return Err(format!(
            "the bench needs {TIME} (GNU time) to measure peak memory"
        ));
    }
    Ok(())
}

fn sizes() -> Result<Vec<usize>, String> {
    let Ok(text) = std::env::var("STACKBENCH_SIZES") else {
        return Ok(DEFAULT_SIZES.to_vec());
    };
    text.split(',')
        .map(|size| {
            size.trim()
                .parse()
                .ok()
                .filter(|size| *size > 0)
                .ok_or_else(|| format!("STACKBENCH_SIZES: `{size}` is not a positive number"))
        })
        .collect()
}

/// `STACKBENCH_ROUNDS`, 1 when unset or not a positive number.
fn rounds() -> usize {
    std::env::var("STACKBENCH_ROUNDS")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .filter(|rounds| *rounds > 0)
        .unwrap_or(1)
}

impl Bench<'_> {
    /// The stack of `services` services, written: its name and directory.
    fn stack_dir(&self, services: usize) -> Result<(String, PathBuf), String> {
        eprintln!("\n== {services} services");
        let name = self.run_name("stack", services);
        let dir = self.work.path().join(&name);
        std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
        std::fs::write(
            dir.join("stack.kdl"),
            workload::stack_file(&name, &self.image, services),
        )
        .map_err(|error| error.to_string())?;
        Ok((name, dir))
    }

    /// The no-op plan alone, against its goal.
    fn noop_only(&self, services: usize) -> Result<(), String> {
        let (name, dir) = self.stack_dir(services)?;
        let measured = self
            .stack_apply(&dir)
            .and_then(|_| self.noop_plan(&name, &dir, services));
        self.finish(&name)?;
        let noop = measured?;
        println!(
            "{services} services: no-op plan {:.1} ms, {:.2}x the direct reads by a process (goal {PLAN_GOAL}x), {:.2}x those on a connected client, {} requests",
            millis(noop.plan),
            noop.plan.as_secs_f64() / noop.fresh_process_reads.as_secs_f64(),
            noop.plan.as_secs_f64() / noop.reads.as_secs_f64(),
            noop.requests.values().sum::<usize>()
        );
        Ok(())
    }

    fn size(&self, services: usize) -> Result<Measured, String> {
        let (name, dir) = self.stack_dir(services)?;
        let mut applies = Applies::default();
        let mut stack_peak_kb = 0;
        let mut noop = None;
        let mut compose_noop = None;
        for round in 1..=self.rounds {
            if self.rounds > 1 {
                eprintln!("-- round {round} of {}", self.rounds);
            }
            let first_round = round == 1;
            // The no-op measurements need the stack applied: they come before its sweep.
            let applied = self.stack_apply(&dir).and_then(|applied| {
                if first_round {
                    noop = Some(self.noop_plan(&name, &dir, services)?);
                }
                Ok(applied)
            });
            self.finish(&name)?;
            let (took, peak_kb) = applied?;
            applies.stack.push(took);
            stack_peak_kb = stack_peak_kb.max(peak_kb);

            for parallelism in API_PARALLELISMS {
                let run = self.run_name(&format!("api-p{parallelism:02}"), services);
                let took = self.runtime.block_on(baselines::api_apply(
                    &self.client,
                    &run,
                    &self.image,
                    services,
                    parallelism,
                ));
                self.finish(&run)?;
                let took = took?;
                eprintln!("API, {parallelism} at once: {:.2} s", took.as_secs_f64());
                applies.api.entry(parallelism).or_default().push(took);
            }

            let run = self.run_name("run", services);
            let took = baselines::docker_run(&run, &self.image, services, DOCKER_RUN_PARALLELISM);
            self.finish(&run)?;
            let took = took?;
            eprintln!("docker run: {:.2} s", took.as_secs_f64());
            applies.docker_run.push(took);

            let (took, idle) = self.compose_runs(services, first_round)?;
            applies.compose.push(took);
            compose_noop = compose_noop.or(idle);

            let applied = self.stack_apply(&dir);
            self.finish(&name)?;
            let (took, peak_kb) = applied?;
            applies.stack.push(took);
            stack_peak_kb = stack_peak_kb.max(peak_kb);
        }
        Ok(Measured {
            services,
            applies,
            stack_peak_kb,
            noop: noop.ok_or("no round measured the no-op plan")?,
            compose_noop: compose_noop.ok_or("no round measured the no-op docker-compose")?,
        })
    }

    /// `stack apply --auto-approve` from nothing, under GNU time: how long
    /// it took and its peak resident memory in KB.
    fn stack_apply(&self, dir: &Path) -> Result<(Duration, u64), String> {
        let memory = self.work.path().join("memory");
        let mut apply = Command::new(TIME);
        apply
            .args(["-f", "%M", "-o"])
            .arg(&memory)
            .arg(&self.stack)
            .arg("apply")
            .arg(dir)
            .arg("--auto-approve");
        let took = run(&mut apply)?;
        let peak_kb = std::fs::read_to_string(&memory)
            .map_err(|error| error.to_string())?
            .trim()
            .parse()
            .map_err(|_| "cannot read the peak memory GNU time wrote".to_owned())?;
        eprintln!(
            "stack apply: {:.2} s, peak {:.1} MB",
            took.as_secs_f64(),
            kb_to_mb(peak_kb)
        );
        self.stop_if_interrupted()?;
        Ok((took, peak_kb))
    }

    /// No-op plans of the applied stack: timed, their requests counted, and
    /// the same reads done directly.
    fn noop_plan(&self, name: &str, dir: &Path, services: usize) -> Result<NoopPlan, String> {
        let plan = || {
            let mut plan = Command::new(&self.stack);
            plan.arg("plan").arg(dir).arg("--detailed-exitcode");
            plan
        };
        let plan_time = median(PLAN_ROUNDS, || run(&mut plan()))?;
        self.proxy.take();
        run(plan().env("DOCKER_HOST", self.proxy.endpoint()))?;
        let mut requests = BTreeMap::new();
        for request in self.proxy.take() {
            *requests.entry(request).or_insert(0) += 1;
        }
        eprintln!(
            "stack plan: {:.1} ms, {} requests",
            millis(plan_time),
            requests.values().sum::<usize>()
        );
        let reads = median(PLAN_ROUNDS, || {
            let started = Instant::now();
            let inspected = self.runtime.block_on(baselines::reads(&self.client, name))?;
            if inspected != services {
                return Err(format!(
                    "the direct reads found {inspected} containers, not {services}"
                ));
            }
            Ok(started.elapsed())
        })?;
        let this = std::env::current_exe().map_err(|error| error.to_string())?;
        let fresh_process_reads = median(PLAN_ROUNDS, || {
            let mut reads = Command::new(&this);
            reads.args([READS_MODE, name, &services.to_string()]);
            run(&mut reads)
        })?;
        let cli_reads = median(PLAN_ROUNDS, || baselines::cli_reads(name, services))?;
        eprintln!(
            "direct reads: {:.1} ms on a connected client, {:.1} ms by a fresh process, {:.1} ms by the docker command line",
            millis(reads),
            millis(fresh_process_reads),
            millis(cli_reads)
        );
        Ok(NoopPlan {
            plan: plan_time,
            requests,
            reads,
            fresh_process_reads,
            cli_reads,
        })
    }

    /// `docker-compose up -d` from nothing, then, if `noop`, again with nothing to do.
    fn compose_runs(&self, services: usize, noop: bool) -> Result<(Duration, Option<Duration>), String> {
        let project = self.run_name("compose", services);
        let file = self.work.path().join(format!("{project}.yml"));
        std::fs::write(&file, workload::compose_file(&self.image, services))
            .map_err(|error| error.to_string())?;
        let measured = baselines::compose_up(&project, &file, services).and_then(|up| {
            eprintln!("docker-compose up -d: {:.2} s", up.as_secs_f64());
            self.stop_if_interrupted()?;
            if !noop {
                return Ok((up, None));
            }
            let idle = median(COMPOSE_NOOP_ROUNDS, || {
                baselines::compose_up(&project, &file, services)
            })?;
            eprintln!("docker-compose up -d, no-op: {:.1} ms", millis(idle));
            Ok((up, Some(idle)))
        });
        self.finish(&project)?;
        measured
    }

    /// `stackbench-<pid>-<what>-n030`: no run's name is the prefix of another's.
    fn run_name(&self, what: &str, services: usize) -> String {
        format!("{}{what}-n{services:03}", self.prefix)
    }

    /// Removes what the run made, then stops here if Ctrl-C was pressed.
    fn finish(&self, run: &str) -> Result<(), String> {
        warn_stuck(&sweep(run)?);
        self.stop_if_interrupted()
    }

    fn stop_if_interrupted(&self) -> Result<(), String> {
        if interrupted() {
            Err("interrupted".to_owned())
        } else {
            Ok(())
        }
    }
}

/// Runs `command` to its end; how long it took, or its output when it failed.
fn run(command: &mut Command) -> Result<Duration, String> {
    let started = Instant::now();
    finished(command)?;
    Ok(started.elapsed())
}

/// Runs `command` to its end; what it printed, or its output when it failed.
fn output_of(command: &mut Command) -> Result<String, String> {
    finished(command).map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn finished(command: &mut Command) -> Result<std::process::Output, String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(format!(
        "{command:?} failed ({}):\n{}{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    ))
}

/// The last lines of a program's output, for a failure.
fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if !tail.is_empty() {
        tail.push('\n');
    }
    tail
}

/// The median of `rounds` measurements.
fn median(rounds: usize, mut measure: impl FnMut() -> Result<Duration, String>) -> Result<Duration, String> {
    let times = (0..rounds)
        .map(|_| measure())
        .collect::<Result<Vec<Duration>, String>>()?;
    Ok(report::median(&times))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}
