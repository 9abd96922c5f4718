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
    let connecting = Daemon::connect_reading(&stack.path, &options, stack.target)?;
    let loaded = match load(&stack.path, &options, output) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let daemon = connecting.connected(&loaded.external, &loaded.stack)?;
    let scope = Daemon::scope(&loaded.stack);
    let live = match daemon
        .runtime
        .block_on(daemon.read_live(&scope))
        .complete(&scope.stack)
    {
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
            Some(object) => Row::new(&object.address, &object.state, health(&object)),
            None if resource.field("external").is_some() => Row::new(&resource.address, "external", ""),
            None => Row::new(&resource.address, "not created", ""),
        };
        rows.push(row);
    }
    // What is left on the daemon is no longer in the files.
    for object in live.values() {
        rows.push(Row::new(&object.address, &object.state, "no longer in the files"));
    }
    print!("{}", table(&loaded.stack.name, &rows));
    Ok(ExitCode::SUCCESS)
}

fn health(object: &Live) -> &'static str {
    match object.healthy {
        Some(true) => "healthy",
        Some(false) => "unhealthy",
        None => "",
    }
}

/// One line of the table: a resource, its state, and its health (or a remark).
struct Row {
    address: String,
    state: String,
    health: &'static str,
}

impl Row {
    fn new(address: &impl ToString, state: &str, health: &'static str) -> Row {
        Row {
            address: address.to_string(),
            state: state.to_owned(),
            health,
        }
    }
}

/// The status table. Health is aligned in one column after the states of the rows that have
/// one: a long state without health (a volume's mount point) does not push it away.
fn table(stack: &str, rows: &[Row]) -> String {
    let mut out = format!("stack {stack}\n\n");
    if rows.is_empty() {
        out.push_str("  (no resources)\n");
    }
    let address_width = rows.iter().map(|row| row.address.len()).max().unwrap_or(0);
    let state_width = rows
        .iter()
        .filter(|row| !row.health.is_empty())
        .map(|row| row.state.len())
        .max()
        .unwrap_or(0);
    for row in rows {
        let line = format!(
            "  {:<address_width$}  {:<state_width$}  {}",
            row.address, row.state, row.health
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_one_aligned_column() {
        let rows = [
            Row::new(&"network.private", "bridge, 172.26.0.0/16", ""),
            Row::new(
                &"volume.data",
                "local volume at /var/lib/docker/volumes/quickstart_data/_data",
                "",
            ),
            Row::new(&"image.app", "built: quickstart_app:24babe79797a", ""),
            Row::new(&"service.cache", "1/1 running", "healthy"),
            Row::new(&"service.api", "2/2 running, 1 starting", "unhealthy"),
            Row::new(&"service.web", "not created", ""),
            Row::new(
                &"job.migrate",
                "failed with code 3 at 2026-12-01 19:59:34 UTC",
                "unhealthy",
            ),
            Row::new(&"service.old", "1/1 running", "no longer in the files"),
        ];
        insta::assert_snapshot!(table("quickstart", &rows));
    }

    #[test]
    fn a_stack_without_resources_says_so() {
        assert_eq!(table("empty", &[]), "stack empty\n\n  (no resources)\n");
    }
}
