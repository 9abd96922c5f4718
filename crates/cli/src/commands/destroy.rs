//! `stack destroy`: remove every object of the stack, users first.

use std::collections::BTreeSet;
use std::process::ExitCode;

use super::apply::{carry_out, confirm, ensure_terminal, summary};
use super::load::load;
use super::plan::{KEPT_KINDS, kept};
use super::{options, report};
use crate::args::StackArgs;
use crate::daemon::Daemon;
use crate::output::Output;

pub(super) fn run(
    stack: &StackArgs,
    auto_approve: bool,
    volumes: bool,
    output: &Output,
) -> Result<ExitCode, String> {
    if !auto_approve {
        ensure_terminal("destroy", "pass --auto-approve")?;
    }
    // Destroy needs the stack's name and graph, not every variable's value.
    let connecting = Daemon::connect(stack.target)?;
    let loaded = match load(&stack.path, &options(stack, false), output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    let name = loaded.stack.name.clone();
    let keep = if volumes { &[][..] } else { KEPT_KINDS };
    let work = async {
        let (planned, recorded) = tokio::join!(
            stack_engine::destroy(&daemon.providers, &scope, &loaded.stack, &loaded.graph, keep),
            daemon.recorded(&name)
        );
        let recorded = recorded?;
        let planned =
            planned.and_then(|prepared| stack_engine::check_recorded(&loaded.stack, &recorded, prepared));
        let prepared = match planned {
            Ok(prepared) => prepared,
            Err(problems) => return Ok(report(&problems, &loaded.sources, output)),
        };
        let kept = kept(&prepared, "Kept (pass --volumes to remove them too):", "  = ", "");
        // What is left to protect once the destroy is done: the kept objects.
        let left: BTreeSet<String> = prepared
            .kept
            .iter()
            .map(|object| object.address.to_string())
            .collect();
        let still: BTreeSet<String> = recorded.intersection(&left).cloned().collect();
        if prepared.plan.resources.is_empty() {
            daemon.record(&name, &recorded, &still).await?;
            print!("Nothing to destroy: stack `{name}` has no objects on the daemon.\n{kept}");
            return Ok(ExitCode::SUCCESS);
        }
        print!("{}{kept}", stack_plan::human(&prepared.plan));
        if !auto_approve && !confirm(&format!("Destroy every object above of stack `{name}`?"))? {
            println!("Destroy cancelled: nothing was removed.");
            return Ok(ExitCode::from(1));
        }
        let report = carry_out(&daemon, &scope, &prepared, &loaded.graph).await;
        if report.succeeded() && !report.interrupted {
            daemon.record(&name, &recorded, &still).await?;
        }
        Ok(summary(&report, "Destroy"))
    };
    daemon.runtime.block_on(daemon.locked(&name, "destroy", work))?
}
