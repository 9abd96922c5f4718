//! Loading a stack, with its graph, for the commands that talk to the daemon.

use std::path::Path;
use std::process::ExitCode;

use stack_diagnostics::{Diagnostics, Sources};
use stack_graph::ResourceGraph;
use stack_language::{Options, Stack};

use super::report;
use crate::external::ExternalProviders;
use crate::output::Output;

pub(super) struct Loaded {
    pub stack: Stack,
    /// The providers outside the binary the stack declares, started.
    pub external: ExternalProviders,
    pub graph: ResourceGraph,
    /// The files read, for diagnostics that point into them.
    pub sources: Sources,
}

/// Loads the stack at `path`; on errors prints them and gives the exit code.
pub(super) fn load(path: &Path, options: &Options, output: &Output) -> Result<Loaded, ExitCode> {
    let mut sources = Sources::new();
    let external = ExternalProviders::start(path, output.verbose, &mut sources)
        .map_err(|problems| report(&problems, &sources, output))?;
    let loaded = stack_language::load(path, options, &external.schema(), &mut sources);
    let Some(stack) = loaded.stack else {
        return Err(report(&loaded.diagnostics, &sources, output));
    };
    // Warnings.
    output.diagnostics(&loaded.diagnostics, &sources);
    match ResourceGraph::build(&stack) {
        Ok(graph) => Ok(Loaded {
            stack,
            external,
            graph,
            sources,
        }),
        Err(cycles) => Err(report(&Diagnostics::from(cycles), &sources, output)),
    }
}
