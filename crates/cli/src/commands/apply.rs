//! `stack apply`: show the plan, confirm, carry it out with progress.

use std::io::IsTerminal;
use std::process::ExitCode;

use stack_engine::{Outcome, Prepared, Report};
use stack_graph::ResourceGraph;
use stack_provider::Scope;

use super::load::{Loaded, load};
use super::plan::{KEPT_KINDS, rendered};
use super::{options, report};
use crate::args::{PlanFormat, StackArgs};
use crate::daemon::{Connecting, Daemon, with_hint};
use crate::output::Output;
use crate::plan_file::PlanFile;
use crate::progress::{Plain, Terminal};

pub(super) fn run(stack: &StackArgs, auto_approve: bool, output: &Output) -> Result<ExitCode, String> {
    let plan_file = PlanFile::read(&stack.path)?;
    if plan_file.is_none() && !auto_approve {
        ensure_terminal(
            "apply",
            "pass --auto-approve, or apply a plan saved with `stack plan --out FILE`",
        )?;
    }
    let (path, options, target) = match &plan_file {
        Some(file) => {
            if stack.environment.is_some()
                || stack.name.is_some()
                || !stack.var_files.is_empty()
                || stack.target.is_some()
            {
                return Err(format!(
                    "{} is a plan file: it carries its own --env, --name, --var-file and --target (only --var values are given again)",
                    stack.path.display()
                ));
            }
            (file.path.clone(), file.options(&stack.vars), file.target)
        }
        None => (stack.path.clone(), options(stack, true), stack.target),
    };
    let connecting = Daemon::connect(target)?;
    let loaded = match load(&path, &options, output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    apply_loaded(
        connecting,
        &loaded,
        stack,
        plan_file.as_ref(),
        auto_approve,
        output,
    )
}

/// Plans `loaded` against the daemon being connected, shows the plan, and carries it out
/// once confirmed (or checked against `plan_file`), under the stack's lock.
pub(super) fn apply_loaded(
    connecting: Connecting,
    loaded: &Loaded,
    stack: &StackArgs,
    plan_file: Option<&PlanFile>,
    auto_approve: bool,
    output: &Output,
) -> Result<ExitCode, String> {
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    let name = loaded.stack.name.clone();
    let work = async {
        let (planned, recorded) = tokio::join!(
            stack_engine::plan(
                &daemon.providers,
                &scope,
                &loaded.stack,
                &loaded.graph,
                KEPT_KINDS,
            ),
            daemon.recorded(&name)
        );
        let recorded = recorded?;
        let planned =
            planned.and_then(|prepared| stack_engine::check_recorded(&loaded.stack, &recorded, prepared));
        let prepared = match planned {
            Ok(prepared) => prepared,
            Err(problems) => return Ok(report(&problems, &loaded.sources, output)),
        };
        if let Some(file) = plan_file {
            file.check(&prepared, &stack.path)?;
        }
        print!("{}", rendered(&prepared, PlanFormat::Human));
        let protected = stack_engine::protected(&loaded.stack);
        if !prepared.plan.has_changes() {
            daemon.record(&name, &recorded, &protected).await?;
            return Ok(ExitCode::SUCCESS);
        }
        if plan_file.is_none()
            && !auto_approve
            && !confirm(&format!("Apply these changes to stack `{name}`?"))?
        {
            println!("Apply cancelled: nothing was changed.");
            return Ok(ExitCode::from(1));
        }
        daemon.record(&name, &recorded, &protected).await?;
        let report = carry_out(&daemon, &scope, &prepared, &loaded.graph).await;
        Ok(summary(&report, "Apply"))
    };
    daemon.runtime.block_on(daemon.locked(&name, "apply", work))?
}

/// Refuses to go on when there is no terminal to ask on.
pub(super) fn ensure_terminal(command: &str, instead: &str) -> Result<(), String> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(format!(
        "refusing to {command} without confirmation: standard input is not a terminal\nhint: {instead}"
    ))
}

/// Asks `question` on the terminal: only `y` or `yes` goes on.
pub(super) fn confirm(question: &str) -> Result<bool, String> {
    eprint!("\n{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|error| format!("cannot read the answer: {error}"))?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// Applies `prepared`, drawing progress on a terminal and printing lines otherwise.
pub(super) async fn carry_out(
    daemon: &Daemon,
    scope: &Scope,
    prepared: &Prepared,
    graph: &ResourceGraph,
) -> Report {
    println!();
    if std::io::stdout().is_terminal() {
        let progress = Terminal::start();
        stack_engine::apply(&daemon.providers, scope, prepared, graph, &progress).await
    } else {
        stack_engine::apply(&daemon.providers, scope, prepared, graph, &Plain).await
    }
}

/// What was done, failed and skipped; the exit code says whether all was done.
pub(super) fn summary(report: &Report, what: &str) -> ExitCode {
    let done = report.done().count();
    let failed = report.failed().count();
    let skipped = report.skipped().count();
    let not_started = report.not_started().count();
    if report.succeeded() && !report.interrupted {
        println!("\n{what} complete: {done} done.");
        return ExitCode::SUCCESS;
    }
    let mut counts = vec![
        format!("{done} done"),
        format!("{failed} failed"),
        format!("{skipped} skipped"),
    ];
    if not_started > 0 {
        counts.push(format!("{not_started} not started"));
    }
    let ended = if report.interrupted {
        "interrupted"
    } else {
        "failed"
    };
    println!("\n{what} {ended}: {}.", counts.join(", "));
    for entry in &report.entries {
        match &entry.outcome {
            Outcome::Failed(error) => {
                println!(
                    "  failed   {}: {}",
                    entry.address,
                    with_hint(error).replace('\n', "\n             ")
                );
            }
            Outcome::Skipped { upstream } => println!("  skipped  {}: {upstream} failed", entry.address),
            Outcome::NotStarted => println!("  not started  {}", entry.address),
            Outcome::Done => {}
        }
    }
    if report.interrupted {
        println!("Run `stack {}` again to complete it.", what.to_ascii_lowercase());
    }
    ExitCode::from(1)
}
