//! `stack rollback`, `stack rollout continue|undo` and `stack history`: the revisions a
//! service keeps on the daemon (its current containers, and those its last update replaced).

use std::process::ExitCode;

use stack_engine::{Operation, Prepared};
use stack_language::Address;
use stack_plan::Action;

use super::session::{Session, find};
use crate::args::StackArgs;
use crate::daemon::with_hint;
use crate::output::Output;

/// Rolls services back, carries their paused rollout on, or restarts them, one after the
/// other under the stack's lock.
pub(super) fn operate(
    services: &[String],
    stack: &StackArgs,
    operation: Operation,
    output: &Output,
) -> Result<ExitCode, String> {
    let session = match Session::open(stack, true, output) {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let addresses = services
        .iter()
        .map(|service| find(&session.loaded.stack, service, &["service"]))
        .collect::<Result<Vec<_>, _>>()?;
    let name = session.loaded.stack.name.clone();
    let (verb, doing, done) = match operation {
        Operation::RollBack => (
            "rollback",
            "Rolling back",
            "rolled back: its previous revision serves",
        ),
        Operation::Resume => (
            "rollout continue",
            "Continuing the rollout of",
            "rolled out: every replica runs the configuration of the files",
        ),
        Operation::Restart | Operation::Run => (
            "restart",
            "Restarting",
            "restarted: every replica is a fresh container",
        ),
    };
    let work = async {
        let prepared = match session.prepare(output).await {
            Ok(prepared) => prepared,
            Err(code) => return Ok(code),
        };
        if operation == Operation::Restart {
            for address in &addresses {
                not_behind_the_files(&prepared, address)?;
            }
        }
        for address in &addresses {
            println!("{doing} {address} of stack `{name}`...");
            let operated = stack_engine::operate(
                &session.daemon.providers,
                &session.scope,
                &prepared,
                address,
                operation,
            )
            .await;
            if let Err(error) = operated {
                eprintln!("error: {}", with_hint(&error));
                return Ok(ExitCode::from(1));
            }
            println!("{address} {done}.");
        }
        Ok(ExitCode::SUCCESS)
    };
    let daemon = &session.daemon;
    daemon.runtime.block_on(daemon.locked(&name, verb, work))?
}

/// A restart starts the configuration that runs: refused where the files say otherwise, since
/// the fresh containers would run the files' configuration.
fn not_behind_the_files(prepared: &Prepared, address: &Address) -> Result<(), String> {
    let planned = prepared
        .plan
        .resources
        .iter()
        .find(|resource| &resource.address == address);
    match planned {
        Some(resource) if resource.action == Action::Create => Err(format!(
            "{address} is not on the daemon\nhint: `stack apply` creates it"
        )),
        Some(resource) if !resource.changes.is_empty() => {
            let fields: Vec<&str> = resource
                .changes
                .iter()
                .map(|change| change.field.as_str())
                .collect();
            Err(format!(
                "{address} runs another configuration than the files say ({} changed)\nhint: `stack apply` rolls the change out, which restarts its replicas",
                fields.join(", ")
            ))
        }
        _ => Ok(()),
    }
}

/// Prints the revisions each service keeps.
pub(super) fn history(stack: &StackArgs, output: &Output) -> Result<ExitCode, String> {
    let session = match Session::open(stack, true, output) {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let (daemon, loaded) = (&session.daemon, &session.loaded);
    daemon.runtime.block_on(async {
        let prepared = match session.prepare(output).await {
            Ok(prepared) => prepared,
            Err(code) => return Ok(code),
        };
        let histories = stack_engine::history(&daemon.providers, &session.scope, &prepared).await;
        println!("stack {}", loaded.stack.name);
        if histories.is_empty() {
            println!("\n  (no revisions kept: nothing has been applied)");
        }
        let mut failed = false;
        for (address, revisions) in histories {
            println!("\n{address}");
            let revisions = match revisions {
                Ok(revisions) => revisions,
                Err(error) => {
                    failed = true;
                    println!("  cannot be read: {}", with_hint(&error));
                    continue;
                }
            };
            let current = revisions.first().map(|revision| revision.config.clone());
            for revision in &revisions {
                let hash = revision.config.hash();
                println!(
                    "  {:<8}  applied {}  {}  config {}",
                    revision.label,
                    revision.applied,
                    revision.state,
                    hash.strip_prefix("sha256:")
                        .unwrap_or(&hash)
                        .get(..12)
                        .unwrap_or(&hash)
                );
                let kind = prepared.desired(&address).map(|desired| desired.kind);
                if let (Some(current), Some(kind), "previous") = (&current, kind, revision.label) {
                    for field in current.differing(&revision.config, kind) {
                        let shown = |config: &stack_provider::Config| {
                            config
                                .get(field)
                                .map_or_else(|| "(none)".to_owned(), |setting| setting.display())
                        };
                        println!(
                            "    {field}: {}  (now {})",
                            shown(&revision.config),
                            shown(current)
                        );
                    }
                }
            }
        }
        Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}
