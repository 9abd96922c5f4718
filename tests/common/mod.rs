//! Helpers shared by the tests of the documentation and of the examples.

// Each test file uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;

use stack_diagnostics::{Diagnostic, Severity, Sources};
use stack_graph::ResourceGraph;
use stack_language::{Options, schema};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// Checks the stack at `path` as `stack validate` does: the base and every
/// environment, then the dependency graph of each for cycles. Returns whether
/// anything was evaluated, the diagnostics and their sources.
pub fn validate(path: &Path) -> (bool, Vec<Diagnostic>, Sources) {
    let mut sources = Sources::new();
    let validated = stack_language::validate(path, &Options::default(), &schema::builtin(), &mut sources);
    let mut diagnostics = validated.diagnostics.into_vec();
    for stack in &validated.stacks {
        if let Err(cycles) = ResourceGraph::build(stack) {
            diagnostics.extend(cycles);
        }
    }
    (!validated.stacks.is_empty(), diagnostics, sources)
}

pub fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

pub fn indented(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

/// Fails once with every failure collected, so one run shows them all.
pub fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
