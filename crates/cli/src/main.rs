//! `stack`: declarative stacks for the Docker engine.

mod args;
mod commands;
mod daemon;
mod external;
mod output;
mod plan_file;
mod progress;
mod since;
mod terminal;
mod trace;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let output = output::Output::detect(cli.verbose);
    if let Err(message) = trace::install() {
        output.error(&message);
        return ExitCode::from(1);
    }
    match commands::run(cli.command, &output) {
        Ok(code) => code,
        Err(message) => {
            output.error(&message);
            ExitCode::from(1)
        }
    }
}
