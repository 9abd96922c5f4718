//! What each command does. The commands that talk to the daemon have a
//! module each.

mod apply;
mod destroy;
mod exec;
mod load;
mod logs;
mod plan;
mod provider;
mod revisions;
mod run;
mod session;
mod status;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use stack_diagnostics::{Diagnostics, Sources};
use stack_graph::{Format, ResourceGraph};
use stack_language::schema::Schema;
use stack_language::{Inputs, Options, schema};

use stack_import::ImportOptions;

use crate::args::{Cli, Command, GraphFormat, Import, ProviderCommand, RolloutAction, StackArgs};
use crate::external::ExternalProviders;
use crate::output::Output;

pub fn run(command: Command, output: &Output) -> Result<ExitCode, String> {
    match command {
        Command::Validate { stack, deny_warnings } => validate(&stack, deny_warnings, output),
        Command::Fmt { check, paths } => fmt(&paths, check, output),
        Command::Graph { stack, format } => graph(&stack, format, output),
        Command::Plan {
            stack,
            render,
            detailed_exitcode,
            out,
        } => plan::run(&stack, &render, detailed_exitcode, out.as_deref(), output),
        Command::Apply { stack, auto_approve } => apply::run(&stack, auto_approve, output),
        Command::Destroy {
            stack,
            auto_approve,
            volumes,
        } => destroy::run(&stack, auto_approve, volumes, output),
        Command::Status { stack } => status::run(&stack, output),
        Command::Import(Import::Compose {
            files,
            output: dir,
            env_file,
            project_name,
        }) => {
            let options = ImportOptions {
                output_dir: dir,
                env_file,
                project_name,
            };
            import_compose(&files, &options, output)
        }
        Command::Rollback { service, stack } => {
            revisions::operate(&[service], &stack, stack_engine::Operation::RollBack, output)
        }
        Command::Rollout {
            action,
            service,
            stack,
        } => {
            let operation = match action {
                RolloutAction::Continue => stack_engine::Operation::Resume,
                RolloutAction::Undo => stack_engine::Operation::RollBack,
            };
            revisions::operate(&[service], &stack, operation, output)
        }
        Command::Restart { services, stack } => {
            revisions::operate(&services, &stack, stack_engine::Operation::Restart, output)
        }
        Command::Logs { names, stack, logs } => logs::run(&names, &stack, &logs, output),
        Command::Exec {
            service,
            stack,
            replica,
            interactive,
            tty,
            command,
        } => {
            let how = exec::How {
                replica,
                interactive,
                tty,
            };
            exec::run(&service, &stack, &how, command, output)
        }
        Command::Run { job, stack } => run::run(&job, &stack, output),
        Command::Watch { stack } => watch::run(&stack, output),
        Command::History { stack } => revisions::history(&stack, output),
        Command::Lsp => stack_lsp::run().map(|()| ExitCode::SUCCESS),
        Command::Provider(ProviderCommand::Check {
            executable,
            config,
            field,
        }) => provider::check(&executable, &config, &field),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "stack", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn options(stack: &StackArgs, require_values: bool) -> Options {
    Options {
        environment: stack.environment.clone(),
        inputs: Inputs {
            vars: stack.vars.clone(),
            var_files: stack.var_files.clone(),
            env: Inputs::from_environment(),
        },
        require_values,
        stack_name: stack.name.clone(),
        target: stack.target,
    }
}

/// Prints diagnostics; the exit code says whether any was an error.
fn report(diagnostics: &Diagnostics, sources: &Sources, output: &Output) -> ExitCode {
    output.diagnostics(diagnostics, sources);
    if diagnostics.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn validate(stack: &StackArgs, deny_warnings: bool, output: &Output) -> Result<ExitCode, String> {
    let mut sources = Sources::new();
    // Providers outside the binary are started for their handshake only: they are not configured.
    let external = match ExternalProviders::start(&stack.path, output.verbose, &mut sources) {
        Ok(external) => external,
        Err(problems) => return Ok(report(&problems, &sources, output)),
    };
    let diagnostics = validation(
        &stack.path,
        &options(stack, false),
        &external.schema(),
        &mut sources,
    );
    let code = report(&diagnostics, &sources, output);
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let warnings = diagnostics.iter().filter(|d| !d.is_error()).count();
    if deny_warnings && warnings > 0 {
        eprintln!(
            "{} has {warnings} warnings, denied by --deny-warnings",
            stack.path.display()
        );
        return Ok(ExitCode::from(1));
    }
    let warnings = if warnings > 0 {
        format!(" with {warnings} warnings")
    } else {
        String::new()
    };
    println!("{} is valid{warnings}", stack.path.display());
    Ok(code)
}

/// What `stack validate` reports for the stack at `path`: every file's problems, and the
/// dependency cycles of each environment validated (a property of the graph).
fn validation(path: &Path, options: &Options, schema: &Schema, sources: &mut Sources) -> Diagnostics {
    let validated = stack_language::validate(path, options, schema, sources);
    let mut diagnostics = validated.diagnostics;
    for evaluated in &validated.stacks {
        if let Err(cycles) = ResourceGraph::build(evaluated) {
            diagnostics.extend(cycles);
        }
    }
    diagnostics.sort();
    diagnostics
}

/// Writes the stack only when the import found no error, then checks it as `stack validate`
/// does: a stack that does not validate is reported and removed again.
fn import_compose(files: &[PathBuf], options: &ImportOptions, output: &Output) -> Result<ExitCode, String> {
    let mut sources = Sources::new();
    let imported = match stack_import::import_compose(files, options, &mut sources) {
        Ok(imported) => imported,
        Err(errors) => return Ok(report(&Diagnostics::from(errors), &sources, output)),
    };
    output.diagnostics(&imported.warnings, &sources);
    imported
        .write()
        .map_err(|error| format!("cannot write {}: {error}", imported.dir.display()))?;
    let mut checked = Sources::new();
    let validated = validation(
        &imported.dir,
        &Options::default(),
        &schema::builtin(),
        &mut checked,
    );
    if validated.has_errors() {
        output.diagnostics(&validated, &checked);
        imported.remove();
        eprintln!(
            "nothing was written to {}: the stack it would hold does not validate",
            imported.dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    let moved = imported
        .warnings
        .iter()
        .filter(|warning| warning.code == "stack::compose_secret")
        .count();
    let not_imported = imported.warnings.len() - moved;
    println!(
        "wrote {} ({not_imported} settings not imported, {moved} credentials moved out of the file)",
        imported.dir.join("stack.kdl").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn graph(stack: &StackArgs, format: GraphFormat, output: &Output) -> Result<ExitCode, String> {
    let mut sources = Sources::new();
    let external = match ExternalProviders::start(&stack.path, output.verbose, &mut sources) {
        Ok(external) => external,
        Err(problems) => return Ok(report(&problems, &sources, output)),
    };
    let loaded = stack_language::load(
        &stack.path,
        &options(stack, false),
        &external.schema(),
        &mut sources,
    );
    let Some(loaded_stack) = loaded.stack else {
        return Ok(report(&loaded.diagnostics, &sources, output));
    };
    output.diagnostics(&loaded.diagnostics, &sources);
    match ResourceGraph::build(&loaded_stack) {
        Ok(graph) => {
            let format = match format {
                GraphFormat::Text => Format::Text,
                GraphFormat::Dot => Format::Dot,
                GraphFormat::Mermaid => Format::Mermaid,
            };
            print!("{}", graph.render(format));
            Ok(ExitCode::SUCCESS)
        }
        Err(cycles) => Ok(report(&Diagnostics::from(cycles), &sources, output)),
    }
}

fn fmt(paths: &[PathBuf], check: bool, output: &Output) -> Result<ExitCode, String> {
    let mut files = Vec::new();
    for path in paths {
        collect_kdl_files(path, &mut files)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    }
    let mut sources = Sources::new();
    let mut failed = false;
    let mut changed = Vec::new();
    for path in files {
        let bytes =
            std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let file = sources.add(
            path.display().to_string(),
            &path,
            String::from_utf8_lossy(&bytes).into_owned(),
        );
        let formatted = stack_syntax::read(file, &bytes)
            .map_err(|problem| vec![problem])
            .and_then(|text| {
                stack_fmt::format(file, text).map(|formatted| {
                    let unchanged = text == formatted;
                    (formatted, unchanged)
                })
            });
        match formatted {
            Ok((_, true)) => {}
            Ok((formatted, false)) => {
                if !check {
                    std::fs::write(&path, formatted)
                        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
                }
                changed.push(path);
            }
            Err(problems) => {
                failed = true;
                output.diagnostics(&problems, &sources);
            }
        }
    }
    for path in &changed {
        println!("{}", path.display());
    }
    Ok(if failed || (check && !changed.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `path` itself if it is a file, else the .kdl files below it, skipping hidden and build directories.
fn collect_kdl_files(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|name| name.to_str()).unwrap_or("");
        if entry.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                collect_kdl_files(&entry, files)?;
            }
        } else if entry.extension().is_some_and(|ext| ext == "kdl") {
            files.push(entry);
        }
    }
    Ok(())
}
