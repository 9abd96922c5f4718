//! `stack rollback`, `stack rollout continue|undo` and `stack history`: the revisions a
//! service keeps on the daemon (its current containers, and those its last update replaced).

use std::process::ExitCode;

use stack_engine::{Operation, Prepared};
use stack_language::{Address, Stack};

use super::load::{Loaded, load};
use super::plan::KEPT_KINDS;
use super::{options, report};
use crate::args::StackArgs;
use crate::daemon::{Daemon, with_hint};
use crate::output::Output;

/// Rolls `service` back, or carries its paused rollout on, under the stack's lock.
pub(super) fn operate(
    service: &str,
    stack: &StackArgs,
    operation: Operation,
    output: &Output,
) -> Result<ExitCode, String> {
    let connecting = Daemon::connect()?;
    let loaded = match load(&stack.path, &options(stack, true), output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let address = find_service(&loaded.stack, service)?;
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    let name = loaded.stack.name.clone();
    let (doing, done) = match operation {
        Operation::RollBack => ("Rolling back", "rolled back: its previous revision serves"),
        Operation::Resume => (
            "Continuing the rollout of",
            "rolled out: every replica runs the configuration of the files",
        ),
    };
    let work = async {
        let prepared = match prepare(&daemon, &scope, &loaded, output).await {
            Ok(prepared) => prepared,
            Err(code) => return Ok(code),
        };
        println!("{doing} {address} of stack `{name}`...");
        match stack_engine::operate(&daemon.providers, &scope, &prepared, &address, operation).await {
            Ok(()) => {
                println!("{address} {done}.");
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => {
                eprintln!("error: {}", with_hint(&error));
                Ok(ExitCode::from(1))
            }
        }
    };
    let verb = match operation {
        Operation::RollBack => "rollback",
        Operation::Resume => "rollout continue",
    };
    daemon.runtime.block_on(daemon.locked(&name, verb, work))?
}

/// Prints the revisions each service keeps.
pub(super) fn history(stack: &StackArgs, output: &Output) -> Result<ExitCode, String> {
    let connecting = Daemon::connect()?;
    let loaded = match load(&stack.path, &options(stack, true), output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    daemon.runtime.block_on(async {
        let prepared = match prepare(&daemon, &scope, &loaded, output).await {
            Ok(prepared) => prepared,
            Err(code) => return Ok(code),
        };
        let histories = stack_engine::history(&daemon.providers, &scope, &prepared).await;
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

async fn prepare(
    daemon: &Daemon,
    scope: &stack_provider::Scope,
    loaded: &Loaded,
    output: &Output,
) -> Result<Prepared, ExitCode> {
    stack_engine::plan(&daemon.providers, scope, &loaded.stack, &loaded.graph, KEPT_KINDS)
        .await
        .map_err(|problems| report(&problems, &loaded.sources, output))
}

/// The service `text` names: its name at the top level (`web`), or its address
/// (`service.web`, `module.db.service.postgres`).
fn find_service(stack: &Stack, text: &str) -> Result<Address, String> {
    let services: Vec<&Address> = stack
        .resources
        .keys()
        .filter(|address| address.kind == "service")
        .collect();
    services
        .iter()
        .find(|address| address.to_string() == text || (address.module.is_empty() && address.name == text))
        .map(|address| (*address).clone())
        .ok_or_else(|| {
            let known: Vec<String> = services.iter().map(ToString::to_string).collect();
            format!(
                "stack `{}` has no service `{text}`\nhint: its services: {}",
                stack.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
}
