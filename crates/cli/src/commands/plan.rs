//! `stack plan`: what apply would change, and saving it for later.

use std::process::ExitCode;

use stack_engine::Prepared;

use super::load::load;
use super::{options, report};
use crate::args::{PlanFormat, RenderArgs, StackArgs};
use crate::daemon::Daemon;
use crate::output::Output;
use crate::plan_file::PlanFile;

/// Kinds whose objects only `stack destroy --volumes` removes: their data outlives the files.
pub(super) const KEPT_KINDS: &[&str] = &["volume"];

pub(super) fn run(
    stack: &StackArgs,
    render: &RenderArgs,
    detailed_exitcode: bool,
    out: Option<&std::path::Path>,
    output: &Output,
) -> Result<ExitCode, String> {
    let options = options(stack, true);
    let connecting = Daemon::connect_reading(&stack.path, &options, stack.target)?;
    let loaded = match load(&stack.path, &options, output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    let (planned, recorded) = daemon.runtime.block_on(async {
        tokio::join!(
            stack_engine::plan_against(
                daemon.read_live(&scope),
                &daemon.providers,
                &scope,
                &loaded.stack,
                &loaded.graph,
                KEPT_KINDS,
            ),
            daemon.recorded(&loaded.stack.name)
        )
    });
    let recorded = recorded?;
    let planned =
        planned.and_then(|prepared| stack_engine::check_recorded(&loaded.stack, &recorded, prepared));
    let prepared = match planned {
        Ok(prepared) => prepared,
        Err(problems) => return Ok(report(&problems, &loaded.sources, output)),
    };
    print!("{}", rendered(&prepared, render.format()));
    if prepared.plan.has_unknown() {
        // Not a plan to carry out as it is: the next plan reads those resources again.
        let code = report(&prepared.problems, &loaded.sources, output);
        if let Some(out) = out {
            eprintln!(
                "The plan was not saved to {}: {} resources could not be planned.",
                out.display(),
                prepared.plan.summary.unknown
            );
        }
        return Ok(code);
    }
    if let Some(out) = out {
        PlanFile::new(stack, &prepared).write(out)?;
        if render.format() == PlanFormat::Human {
            println!(
                "Saved the plan to {}: `stack apply {}` carries out exactly this plan.",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if detailed_exitcode && prepared.plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The plan in `format`, with the objects kept though they left the files.
pub(super) fn rendered(prepared: &Prepared, format: PlanFormat) -> String {
    match format {
        PlanFormat::Json => prepared.plan.to_json() + "\n",
        PlanFormat::Markdown => {
            stack_plan::markdown(&prepared.plan) + &kept(prepared, LEFT_THE_FILES, "- `", "`")
        }
        PlanFormat::Human => stack_plan::human(&prepared.plan) + &kept(prepared, LEFT_THE_FILES, "  = ", ""),
    }
}

const LEFT_THE_FILES: &str = "Kept, though no longer in the files (`stack destroy --volumes` removes them):";

/// The objects `prepared` keeps, under `heading`, one a line.
pub(super) fn kept(prepared: &Prepared, heading: &str, before: &str, after: &str) -> String {
    if prepared.kept.is_empty() {
        return String::new();
    }
    let mut text = format!("\n{heading}\n");
    for object in &prepared.kept {
        text.push_str(&format!("{before}{}{after}\n", object.address));
    }
    text
}
