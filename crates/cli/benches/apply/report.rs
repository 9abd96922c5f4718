//! What was measured at each size, and the table of results against the goals.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::{
    APPLY_GOAL, COMPOSE_NOOP_ROUNDS, DOCKER_RUN_PARALLELISM, MEMORY_GOAL_MB, PLAN_GOAL, PLAN_ROUNDS,
    kb_to_mb, millis,
};

/// Every apply from nothing at one size, by tool.
#[derive(Default)]
pub struct Applies {
    pub stack: Vec<Duration>,
    pub api: BTreeMap<usize, Vec<Duration>>,
    pub docker_run: Vec<Duration>,
    pub compose: Vec<Duration>,
}

impl Applies {
    /// Each baseline by name, with its runs.
    fn baselines(&self) -> Vec<(String, &[Duration])> {
        let mut all: Vec<(String, &[Duration])> = self
            .api
            .iter()
            .map(|(parallelism, runs)| (format!("API, {parallelism} at once"), runs.as_slice()))
            .collect();
        all.push((
            format!("docker run, {DOCKER_RUN_PARALLELISM} at once"),
            &self.docker_run,
        ));
        all.push(("docker-compose up -d".to_owned(), &self.compose));
        all
    }

    /// The baseline that is fastest by `statistic`, and its value.
    fn fastest_baseline(&self, statistic: fn(&[Duration]) -> Duration) -> (String, Duration) {
        self.baselines()
            .into_iter()
            .map(|(name, runs)| (name, statistic(runs)))
            .min_by_key(|(_, took)| *took)
            .unwrap_or_else(|| ("none".to_owned(), Duration::MAX))
    }
}

/// The no-op plan of the applied stack and its baselines.
pub struct NoopPlan {
    pub plan: Duration,
    /// The requests of one `stack plan`, by `METHOD /path`.
    pub requests: BTreeMap<String, usize>,
    /// The reads on the bench's own client, connected long before.
    pub reads: Duration,
    /// The reads by a process started for them: the goal's baseline.
    pub fresh_process_reads: Duration,
    pub cli_reads: Duration,
}

impl NoopPlan {
    fn request_count(&self) -> usize {
        self.requests.values().sum()
    }
}

pub struct Measured {
    pub services: usize,
    pub applies: Applies,
    pub stack_peak_kb: u64,
    pub noop: NoopPlan,
    pub compose_noop: Duration,
}

impl Measured {
    /// The reads a no-op plan truly needs: a list per kind (containers,
    /// networks, volumes, images) and an inspect per container.
    fn needed_requests(&self) -> usize {
        4 + self.services
    }
}

fn best(runs: &[Duration]) -> Duration {
    runs.iter().copied().min().unwrap_or(Duration::MAX)
}

/// The middle run; of an even number, the mean of the two in the middle.
pub fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::MAX,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2,
    }
}

fn ratio(measured: Duration, baseline: Duration) -> f64 {
    measured.as_secs_f64() / baseline.as_secs_f64()
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// The table: one column per size, each goal with whether it is met.
pub fn summary(sizes: &[Measured], rounds: usize) -> String {
    let mut table = Table::default();
    table.row("", sizes.iter().map(|size| format!("N={}", size.services)), "");

    table.heading(&format!(
        "apply from nothing: median (fastest) of {rounds} round(s); stack runs first and last in each"
    ));
    let cell = |runs: &[Duration]| {
        format!(
            "{:.2} ({:.2}) s",
            median(runs).as_secs_f64(),
            best(runs).as_secs_f64()
        )
    };
    table.row(
        "  stack apply --auto-approve",
        sizes.iter().map(|size| cell(&size.applies.stack)),
        "",
    );
    let names: Vec<String> = sizes.first().map_or_else(Vec::new, |size| {
        size.applies
            .baselines()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    });
    for (i, name) in names.iter().enumerate() {
        table.row(
            &format!("  {name}"),
            sizes.iter().map(|size| cell(size.applies.baselines()[i].1)),
            "",
        );
    }
    table.row(
        "  daemon pace, fastest baseline",
        sizes.iter().map(|size| {
            let (_, took) = size.applies.fastest_baseline(median);
            format!("{:.1}/s", size.services as f64 / took.as_secs_f64())
        }),
        "(containers created and started a second)",
    );
    // The same work takes 20 % more or less from one run to the next: the
    // fastest of many runs is mostly luck, their median is what a run costs.
    let apply_ratios: Vec<f64> = sizes
        .iter()
        .map(|size| {
            ratio(
                median(&size.applies.stack),
                size.applies.fastest_baseline(median).1,
            )
        })
        .collect();
    table.row(
        "  stack / fastest baseline, medians",
        apply_ratios.iter().map(|ratio| format!("{ratio:.2}x")),
        &format!(
            "goal <= {APPLY_GOAL}x: {}",
            verdict(apply_ratios.iter().all(|ratio| *ratio <= APPLY_GOAL))
        ),
    );
    table.row(
        "  stack / fastest baseline, fastest runs",
        sizes.iter().map(|size| {
            format!(
                "{:.2}x",
                ratio(best(&size.applies.stack), size.applies.fastest_baseline(best).1)
            )
        }),
        "(for comparison)",
    );

    table.heading(&format!("no-op plan (median of {PLAN_ROUNDS})"));
    table.row(
        "  stack plan",
        sizes.iter().map(|size| milliseconds(size.noop.plan)),
        "",
    );
    table.row(
        "  the reads, by a fresh process",
        sizes
            .iter()
            .map(|size| milliseconds(size.noop.fresh_process_reads)),
        "(start, connect as stack does, lists by label, inspects in parallel)",
    );
    let plan_ratios: Vec<f64> = sizes
        .iter()
        .map(|size| ratio(size.noop.plan, size.noop.fresh_process_reads))
        .collect();
    table.row(
        "  stack plan / fresh-process reads",
        plan_ratios.iter().map(|ratio| format!("{ratio:.2}x")),
        &format!(
            "goal <= {PLAN_GOAL}x: {}",
            verdict(plan_ratios.iter().all(|ratio| *ratio <= PLAN_GOAL))
        ),
    );
    table.row(
        "  the reads, on a connected client",
        sizes.iter().map(|size| milliseconds(size.noop.reads)),
        "(no process to start, connections open)",
    );
    table.row(
        "  stack plan / connected reads",
        sizes
            .iter()
            .map(|size| format!("{:.2}x", ratio(size.noop.plan, size.noop.reads))),
        "(for comparison)",
    );
    table.row(
        "  the reads, by the docker CLI",
        sizes.iter().map(|size| milliseconds(size.noop.cli_reads)),
        "(docker ps, inspect, network/volume/image ls, in parallel)",
    );
    table.row(
        &format!("  docker-compose up -d (median of {COMPOSE_NOOP_ROUNDS})"),
        sizes.iter().map(|size| milliseconds(size.compose_noop)),
        "",
    );
    let by_fresh_process: fn(&NoopPlan) -> Duration = |noop| noop.fresh_process_reads;
    let by_cli: fn(&NoopPlan) -> Duration = |noop| noop.cli_reads;
    for (name, baseline) in [
        ("fresh-process reads", by_fresh_process),
        ("docker CLI reads", by_cli),
    ] {
        table.row(
            &format!("  docker-compose / {name}"),
            sizes
                .iter()
                .map(|size| format!("{:.1}x", ratio(size.compose_noop, baseline(&size.noop)))),
            "",
        );
    }
    table.row(
        "  API requests of stack plan",
        sizes.iter().map(|size| size.noop.request_count().to_string()),
        "",
    );
    table.row(
        "  per-object reads needed",
        sizes.iter().map(|size| size.needed_requests().to_string()),
        "(a list per kind, an inspect per container)",
    );
    let extras: Vec<i64> = sizes
        .iter()
        .map(|size| size.noop.request_count() as i64 - size.needed_requests() as i64)
        .collect();
    table.row(
        "  requests beyond those",
        extras.iter().map(ToString::to_string),
        &format!(
            "goal: not growing with N: {}",
            verdict(extras.windows(2).all(|pair| pair[0] == pair[1]))
        ),
    );

    table.heading("peak memory");
    let largest = sizes.iter().max_by_key(|size| size.services);
    table.row(
        "  stack apply",
        sizes
            .iter()
            .map(|size| format!("{:.1} MB", kb_to_mb(size.stack_peak_kb))),
        &largest.map_or_else(String::new, |size| {
            format!(
                "goal < {MEMORY_GOAL_MB} MB at N={}: {}",
                size.services,
                verdict(kb_to_mb(size.stack_peak_kb) < MEMORY_GOAL_MB)
            )
        }),
    );

    let mut out = table.text;
    for size in sizes {
        let _ = writeln!(out, "\nevery apply from nothing, N={}:", size.services);
        let _ = writeln!(out, "  {:<30}{}", "stack apply", all_seconds(&size.applies.stack));
        for (parallelism, runs) in &size.applies.api {
            let _ = writeln!(
                out,
                "  {:<30}{}",
                format!("API, {parallelism} at once"),
                all_seconds(runs)
            );
        }
        let _ = writeln!(
            out,
            "  {:<30}{}",
            "docker run",
            all_seconds(&size.applies.docker_run)
        );
        let _ = writeln!(
            out,
            "  {:<30}{}",
            "docker-compose up -d",
            all_seconds(&size.applies.compose)
        );
        let _ = writeln!(out, "requests of one no-op `stack plan`, N={}:", size.services);
        for (request, count) in &size.noop.requests {
            let _ = writeln!(out, "  {count:>5}  {request}");
        }
    }
    out
}

#[derive(Default)]
struct Table {
    text: String,
}

impl Table {
    fn heading(&mut self, heading: &str) {
        let _ = writeln!(self.text, "{heading}");
    }

    fn row(&mut self, label: &str, cells: impl Iterator<Item = String>, note: &str) {
        let _ = write!(self.text, "{label:<36}");
        for cell in cells {
            let _ = write!(self.text, "{cell:>16}");
        }
        let _ = writeln!(self.text, "  {note}");
    }
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.1} ms", millis(duration))
}

fn all_seconds(runs: &[Duration]) -> String {
    runs.iter()
        .map(|took| format!("{:.2}", took.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(" ")
        + " s"
}
