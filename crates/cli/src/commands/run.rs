//! `stack run`: a job run now, whether or not it changed, its output on the terminal and its
//! exit code as the command's.

use std::collections::HashSet;
use std::process::ExitCode;

use stack_docker::LogRequest;
use stack_engine::{Operation, Prepared};
use stack_graph::ResourceGraph;
use stack_language::Address;
use stack_plan::Action;

use super::logs::{Printer, follow};
use super::session::{Session, find};
use crate::args::StackArgs;
use crate::output::Output;

pub(super) fn run(job: &str, stack: &StackArgs, output: &Output) -> Result<ExitCode, String> {
    let session = match Session::open(stack, true, output) {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let address = find(&session.loaded.stack, job, &["job"])?;
    let name = session.loaded.stack.name.clone();
    let work = async {
        let prepared = match session.prepare(output).await {
            Ok(prepared) => prepared,
            Err(code) => return Ok(code),
        };
        needs_applied(&session.loaded.graph, &prepared, &address)?;
        // The runs before this one are not followed.
        let before: HashSet<String> = session
            .instances(&address)
            .await?
            .into_iter()
            .map(|instance| instance.id().to_owned())
            .collect();
        println!("Running {address} of stack `{name}`...");
        let (ended, ended_signal) = tokio::sync::oneshot::channel::<()>();
        let running = async {
            let ran = stack_engine::operate(
                &session.daemon.providers,
                &session.scope,
                &prepared,
                &address,
                Operation::Run,
            )
            .await;
            let _ = ended.send(());
            ran
        };
        let mut printer = Printer::new(Output::stdout_color(), false);
        let request = LogRequest {
            follow: true,
            ..LogRequest::default()
        };
        let until_ended = async {
            let _ = ended_signal.await;
        };
        let (ran, followed) = tokio::join!(
            running,
            follow(
                &session,
                std::slice::from_ref(&address),
                &request,
                &before,
                &mut printer,
                until_ended
            )
        );
        followed?;
        let Err(error) = ran else {
            println!("{address} completed.");
            return Ok(ExitCode::SUCCESS);
        };
        // The output is on the terminal already: the first line says how the run ended.
        let ending = error.message.lines().next().unwrap_or_default().to_owned();
        eprintln!("error: {ending}");
        // The last try of this run (a job may try again on a swarm).
        let exit_code = session
            .instances(&address)
            .await?
            .into_iter()
            .filter(|instance| !before.contains(instance.id()))
            .filter_map(|instance| instance.exit_code)
            .next_back()
            .filter(|code| *code != 0);
        if exit_code.is_none() {
            eprintln!(
                "note: the run's exit code is not known (it may not have started): `stack run` exits with 1"
            );
        }
        Ok(ExitCode::from(
            exit_code.and_then(|code| u8::try_from(code).ok()).unwrap_or(1),
        ))
    };
    let daemon = &session.daemon;
    daemon.runtime.block_on(daemon.locked(&name, "run", work))?
}

/// Refuses to run a job whose dependencies, direct or not, have changes that are not applied:
/// it would run against what the files no longer say.
fn needs_applied(graph: &ResourceGraph, prepared: &Prepared, job: &Address) -> Result<(), String> {
    let mut pending = vec![job];
    let mut seen = HashSet::new();
    let mut unapplied = Vec::new();
    while let Some(address) = pending.pop() {
        for (dependency, _) in graph.dependencies(address) {
            if !seen.insert(dependency) {
                continue;
            }
            pending.push(dependency);
            let changes = prepared.plan.resources.iter().any(|resource| {
                &resource.address == dependency
                    && matches!(resource.action, Action::Create | Action::Update | Action::Replace)
            });
            if changes {
                unapplied.push(dependency.to_string());
            }
        }
    }
    if unapplied.is_empty() {
        return Ok(());
    }
    unapplied.sort();
    Err(format!(
        "{job} uses what is not applied yet: {}\nhint: `stack apply` first (it runs the job too when its inputs changed)",
        unapplied.join(", ")
    ))
}
