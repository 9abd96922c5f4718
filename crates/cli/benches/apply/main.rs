//! How much `stack apply` and `stack plan` cost on top of the daemon.
//!
//! For N = 30 and N = 100 services of one local image (each `stack-demo
//! serve` on one user network, no probe), measures in the same run:
//!
//! 1. apply from nothing: `stack apply --auto-approve` against the same
//!    containers made straight through the API (at several parallelisms, the
//!    fastest counts), by parallel `docker run` and by `docker-compose up -d`;
//! 2. a no-op `stack plan` against the reads it needs done directly, with the
//!    number of API requests it makes (counted by a proxy on a unix socket),
//!    and a no-op `docker-compose up -d` for comparison;
//! 3. the peak memory of `stack apply` (`/usr/bin/time -f %M`).
//!
//! Prints a table with each goal of issue 4 and whether it is met. Needs the
//! daemon, `docker`, `docker-compose` (v1) and `/usr/bin/time`. Everything it
//! makes is named `stackbench-<pid>-…` and removed between runs and at the end.
//!
//! Run with `cargo bench -p stack-cli --bench apply`; `STACKBENCH_SIZES=10,30`
//! changes the sizes.

mod baselines;
mod proxy;
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
use sweep::{Guard, sweep};

const DEFAULT_SIZES: [usize; 2] = [30, 100];
/// The parallelisms tried for the direct API baseline.
const API_PARALLELISMS: [usize; 3] = [4, 8, 16];
const DOCKER_RUN_PARALLELISM: usize = 8;
/// Runs of each no-op measurement; the median counts.
const PLAN_ROUNDS: usize = 7;
const COMPOSE_NOOP_ROUNDS: usize = 3;
const DAEMON_SOCKET: &str = "/var/run/docker.sock";
const TIME: &str = "/usr/bin/time";

const APPLY_GOAL: f64 = 1.1;
const PLAN_GOAL: f64 = 1.5;
const MEMORY_GOAL_MB: f64 = 60.0;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed: the bench stops at the next step and cleans up.
fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

fn main() -> ExitCode {
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
            print!("{}", summary(&sizes));
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("bench failed: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// What was measured at one size.
struct Measured {
    services: usize,
    stack_apply: Duration,
    stack_peak_kb: u64,
    api: Vec<(usize, Duration)>,
    docker_run: Duration,
    compose_up: Duration,
    stack_plan: Duration,
    reads: Duration,
    compose_noop: Duration,
    /// The requests of one no-op `stack plan`, by `METHOD /path`.
    plan_requests: BTreeMap<String, usize>,
}

impl Measured {
    fn fastest_baseline(&self) -> (String, Duration) {
        let mut all: Vec<(String, Duration)> = self
            .api
            .iter()
            .map(|(parallelism, took)| (format!("API p={parallelism}"), *took))
            .collect();
        all.push((format!("docker run -P{DOCKER_RUN_PARALLELISM}"), self.docker_run));
        all.push(("docker-compose".to_owned(), self.compose_up));
        all.into_iter()
            .min_by_key(|(_, took)| *took)
            .unwrap_or_else(|| ("none".to_owned(), Duration::MAX))
    }

    fn plan_request_count(&self) -> usize {
        self.plan_requests.values().sum()
    }

    /// The reads a no-op plan truly needs: a list per kind (containers,
    /// networks, volumes, images) and an inspect per container.
    fn needed_requests(&self) -> usize {
        4 + self.services
    }
}

struct Bench<'a> {
    runtime: &'a Runtime,
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
        client,
        stack: PathBuf::from(env!("CARGO_BIN_EXE_stack")),
        image,
        work,
        prefix: prefix.to_owned(),
        proxy,
    };
    sizes.into_iter().map(|services| bench.size(services)).collect()
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
                .map_err(|_| format!("STACKBENCH_SIZES: `{size}` is not a number"))
        })
        .collect()
}

impl Bench<'_> {
    fn size(&self, services: usize) -> Result<Measured, String> {
        eprintln!("\n== {services} services");
        let (stack_apply, stack_peak_kb, stack_plan, plan_requests, reads) = self.stack_runs(services)?;
        let mut api = Vec::new();
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
            api.push((parallelism, took));
        }
        let run = self.run_name("run", services);
        let docker_run = baselines::docker_run(&run, &self.image, services, DOCKER_RUN_PARALLELISM);
        self.finish(&run)?;
        let docker_run = docker_run?;
        eprintln!("docker run: {:.2} s", docker_run.as_secs_f64());
        let (compose_up, compose_noop) = self.compose_runs(services)?;
        Ok(Measured {
            services,
            stack_apply,
            stack_peak_kb,
            api,
            docker_run,
            compose_up,
            stack_plan,
            reads,
            compose_noop,
            plan_requests,
        })
    }

    /// `stack apply` from nothing, then no-op plans: timed, counted, and the
    /// same reads done directly.
    #[allow(clippy::type_complexity)]
    fn stack_runs(
        &self,
        services: usize,
    ) -> Result<(Duration, u64, Duration, BTreeMap<String, usize>, Duration), String> {
        let name = self.run_name("stack", services);
        let dir = self.work.path().join(&name);
        std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
        std::fs::write(
            dir.join("stack.kdl"),
            workload::stack_file(&name, &self.image, services),
        )
        .map_err(|error| error.to_string())?;
        let measured = self.stack_measurements(&name, &dir, services);
        self.finish(&name)?;
        measured
    }

    #[allow(clippy::type_complexity)]
    fn stack_measurements(
        &self,
        name: &str,
        dir: &Path,
        services: usize,
    ) -> Result<(Duration, u64, Duration, BTreeMap<String, usize>, Duration), String> {
        let memory = self.work.path().join("memory");
        let mut apply = Command::new(TIME);
        apply
            .args(["-f", "%M", "-o"])
            .arg(&memory)
            .arg(&self.stack)
            .arg("apply")
            .arg(dir)
            .arg("--auto-approve");
        let applied = run(&mut apply)?;
        let peak_kb = std::fs::read_to_string(&memory)
            .map_err(|error| error.to_string())?
            .trim()
            .parse()
            .map_err(|_| "cannot read the peak memory GNU time wrote".to_owned())?;
        eprintln!(
            "stack apply: {:.2} s, peak {:.1} MB",
            applied.as_secs_f64(),
            kb_to_mb(peak_kb)
        );
        self.stop_if_interrupted()?;

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
        eprintln!("direct reads: {:.1} ms", millis(reads));
        Ok((applied, peak_kb, plan_time, requests, reads))
    }

    /// `docker-compose up -d` from nothing, then no-op.
    fn compose_runs(&self, services: usize) -> Result<(Duration, Duration), String> {
        let project = self.run_name("compose", services);
        let file = self.work.path().join(format!("{project}.yml"));
        std::fs::write(&file, workload::compose_file(&self.image, services))
            .map_err(|error| error.to_string())?;
        let measured = baselines::compose_up(&project, &file).and_then(|up| {
            eprintln!("docker-compose up -d: {:.2} s", up.as_secs_f64());
            self.stop_if_interrupted()?;
            let noop = median(COMPOSE_NOOP_ROUNDS, || baselines::compose_up(&project, &file))?;
            eprintln!("docker-compose up -d, no-op: {:.1} ms", millis(noop));
            Ok((up, noop))
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
        sweep(run)?;
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
    let output = command
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    let took = started.elapsed();
    if output.status.success() {
        return Ok(took);
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

fn median(rounds: usize, mut measure: impl FnMut() -> Result<Duration, String>) -> Result<Duration, String> {
    let mut times = (0..rounds)
        .map(|_| measure())
        .collect::<Result<Vec<Duration>, String>>()?;
    times.sort();
    Ok(times[rounds / 2])
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

fn summary(sizes: &[Measured]) -> String {
    let mut out = String::from("\n");
    let line = |out: &mut String, label: &str, cells: Vec<String>, goal: &str| {
        out.push_str(&format!("{label:<34}"));
        for cell in cells {
            out.push_str(&format!("{cell:>12}"));
        }
        out.push_str(&format!("  {goal}\n"));
    };
    let header: Vec<String> = sizes.iter().map(|size| format!("N={}", size.services)).collect();
    line(&mut out, "", header, "");
    out.push_str("apply from nothing\n");
    line(
        &mut out,
        "  stack apply --auto-approve",
        seconds(sizes, |size| size.stack_apply),
        "",
    );
    for (i, parallelism) in API_PARALLELISMS.iter().enumerate() {
        line(
            &mut out,
            &format!("  API direct, {parallelism} at once"),
            seconds(sizes, |size| size.api[i].1),
            "",
        );
    }
    line(
        &mut out,
        &format!("  docker run, {DOCKER_RUN_PARALLELISM} at once"),
        seconds(sizes, |size| size.docker_run),
        "",
    );
    line(
        &mut out,
        "  docker-compose up -d",
        seconds(sizes, |size| size.compose_up),
        "",
    );
    line(
        &mut out,
        "  fastest baseline",
        sizes.iter().map(|size| size.fastest_baseline().0).collect(),
        "",
    );
    let apply_ratios: Vec<f64> = sizes
        .iter()
        .map(|size| ratio(size.stack_apply, size.fastest_baseline().1))
        .collect();
    line(
        &mut out,
        "  stack / fastest baseline",
        apply_ratios.iter().map(|ratio| format!("{ratio:.2}x")).collect(),
        &format!(
            "goal <= {APPLY_GOAL}x: {}",
            verdict(apply_ratios.iter().all(|ratio| *ratio <= APPLY_GOAL))
        ),
    );

    out.push_str(&format!("no-op plan (median of {PLAN_ROUNDS})\n"));
    line(
        &mut out,
        "  stack plan",
        millis_cells(sizes, |size| size.stack_plan),
        "",
    );
    line(
        &mut out,
        "  the same reads, directly",
        millis_cells(sizes, |size| size.reads),
        "",
    );
    let plan_ratios: Vec<f64> = sizes
        .iter()
        .map(|size| ratio(size.stack_plan, size.reads))
        .collect();
    line(
        &mut out,
        "  stack plan / direct reads",
        plan_ratios.iter().map(|ratio| format!("{ratio:.2}x")).collect(),
        &format!(
            "goal <= {PLAN_GOAL}x: {}",
            verdict(plan_ratios.iter().all(|ratio| *ratio <= PLAN_GOAL))
        ),
    );
    line(
        &mut out,
        &format!("  docker-compose up -d (median of {COMPOSE_NOOP_ROUNDS})"),
        millis_cells(sizes, |size| size.compose_noop),
        "",
    );
    line(
        &mut out,
        "  docker-compose / direct reads",
        sizes
            .iter()
            .map(|size| format!("{:.1}x", ratio(size.compose_noop, size.reads)))
            .collect(),
        "",
    );
    line(
        &mut out,
        "  API requests of stack plan",
        sizes
            .iter()
            .map(|size| size.plan_request_count().to_string())
            .collect(),
        "",
    );
    line(
        &mut out,
        "  per-object reads needed",
        sizes
            .iter()
            .map(|size| size.needed_requests().to_string())
            .collect(),
        "(a list per kind + an inspect per container)",
    );
    let extras: Vec<i64> = sizes
        .iter()
        .map(|size| size.plan_request_count() as i64 - size.needed_requests() as i64)
        .collect();
    let constant = extras.windows(2).all(|pair| pair[0] == pair[1]);
    line(
        &mut out,
        "  requests beyond those",
        extras.iter().map(ToString::to_string).collect(),
        &format!("goal: not growing with N: {}", verdict(constant)),
    );

    out.push_str("peak memory\n");
    let largest = sizes.iter().max_by_key(|size| size.services);
    line(
        &mut out,
        "  stack apply",
        sizes
            .iter()
            .map(|size| format!("{:.1} MB", kb_to_mb(size.stack_peak_kb)))
            .collect(),
        &match largest {
            Some(size) => format!(
                "goal < {MEMORY_GOAL_MB} MB at N={}: {}",
                size.services,
                verdict(kb_to_mb(size.stack_peak_kb) < MEMORY_GOAL_MB)
            ),
            None => String::new(),
        },
    );

    for size in sizes {
        out.push_str(&format!(
            "\nrequests of one no-op `stack plan`, N={}:\n",
            size.services
        ));
        for (request, count) in &size.plan_requests {
            out.push_str(&format!("  {count:>5}  {request}\n"));
        }
    }
    out
}

fn seconds(sizes: &[Measured], of: impl Fn(&Measured) -> Duration) -> Vec<String> {
    sizes
        .iter()
        .map(|size| format!("{:.2} s", of(size).as_secs_f64()))
        .collect()
}

fn millis_cells(sizes: &[Measured], of: impl Fn(&Measured) -> Duration) -> Vec<String> {
    sizes
        .iter()
        .map(|size| format!("{:.1} ms", millis(of(size))))
        .collect()
}

fn ratio(measured: Duration, baseline: Duration) -> f64 {
    measured.as_secs_f64() / baseline.as_secs_f64()
}
