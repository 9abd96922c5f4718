//! `stack status`: each resource with its live state and health.

use std::process::ExitCode;

use indexmap::IndexMap;
use stack_provider::Live;

use super::load::load;
use super::{options, report};
use crate::args::StackArgs;
use crate::daemon::Daemon;
use crate::output::Output;

pub(super) fn run(stack: &StackArgs, output: &Output) -> Result<ExitCode, String> {
    let options = options(stack, false);
    let connecting = Daemon::connect_reading(stack_language::likely_name(&stack.path, &options))?;
    let loaded = match load(&stack.path, &options, output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    let live = match daemon.runtime.block_on(daemon.read_live(&scope)) {
        Ok(live) => live,
        Err(problems) => return Ok(report(&problems, &loaded.sources, output)),
    };
    let mut live: IndexMap<_, Live> = live
        .into_iter()
        .map(|object| (object.address.clone(), object))
        .collect();
    let mut rows = Vec::new();
    for resource in loaded.stack.resources.values() {
        let row = match live.shift_remove(&resource.address) {
            Some(object) => [
                object.address.to_string(),
                object.state.clone(),
                health(&object).to_owned(),
            ],
            None if resource.field("external").is_some() => {
                [resource.address.to_string(), "external".to_owned(), String::new()]
            }
            None => [
                resource.address.to_string(),
                "not created".to_owned(),
                String::new(),
            ],
        };
        rows.push(row);
    }
    // What is left on the daemon is no longer in the files.
    for object in live.values() {
        rows.push([
            object.address.to_string(),
            object.state.clone(),
            "no longer in the files".to_owned(),
        ]);
    }
    println!("stack {}\n", loaded.stack.name);
    if rows.is_empty() {
        println!("  (no resources)");
    }
    let widths: Vec<usize> = (0..2)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    for [address, state, health] in rows {
        let line = format!("  {address:<0$}  {state:<1$}  {health}", widths[0], widths[1]);
        println!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn health(object: &Live) -> &'static str {
    match object.healthy {
        Some(true) => "healthy",
        Some(false) => "unhealthy",
        None => "",
    }
}
