//! `stack destroy`: remove every object of the stack, users first.

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
    let loaded = match load(&stack.path, &options(stack, false), output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let daemon = Daemon::connect()?;
    let scope = Daemon::scope(&loaded.stack);
    let name = loaded.stack.name.clone();
    let keep = if volumes { &[][..] } else { KEPT_KINDS };
    let work = async {
        let planned =
            stack_engine::destroy(&daemon.providers, &scope, &loaded.stack, &loaded.graph, keep).await;
        let prepared = match planned {
            Ok(prepared) => prepared,
            Err(problems) => return Ok(report(&problems, &loaded.sources, output)),
        };
        let kept = kept(&prepared, "Kept (pass --volumes to remove them too):", "  = ", "");
        if prepared.plan.resources.is_empty() {
            print!("Nothing to destroy: stack `{name}` has no objects on the daemon.\n{kept}");
            return Ok(ExitCode::SUCCESS);
        }
        print!("{}{kept}", stack_plan::human(&prepared.plan));
        if !auto_approve && !confirm(&format!("Destroy every object above of stack `{name}`?"))? {
            println!("Destroy cancelled: nothing was removed.");
            return Ok(ExitCode::from(1));
        }
        let report = carry_out(&daemon, &scope, &prepared, &loaded.graph).await;
        Ok(summary(&report, "Destroy"))
    };
    daemon.runtime.block_on(daemon.locked(&name, "destroy", work))?
}
