//! The command line.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use stack_language::Target;

#[derive(Debug, Parser)]
#[command(
    name = "stack",
    version,
    about = "Declarative stacks for the Docker engine: see what will change, then change it",
    long_about = "Declarative stacks for the Docker engine.\n\n\
        A stack is a directory with a stack.kdl file (and any other .kdl files beside it) \
        describing networks, volumes, images, services, secrets and probes.\n\n\
        Colors follow the terminal; set NO_COLOR=1 to turn them off."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show the log (standard error) of the providers outside the binary the stack declares
    #[arg(long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a stack: syntax, fields, types, references, cycles, clashes
    ///
    /// Without --env, the base and every environment its overlays declare are
    /// checked. Required variables may be left unset and secrets are not read,
    /// so this runs in a pull-request check without credentials. Warnings
    /// (a stack that is valid but will hurt) are shown; a comment
    /// `// stack:allow(CODE)` on the line allows one.
    /// Exits with 0 when valid, 1 with errors (or warnings, with --deny-warnings).
    Validate {
        #[command(flatten)]
        stack: StackArgs,
        /// Fail (exit 1) when there are warnings, as with errors
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Rewrite stack files in the canonical layout
    ///
    /// Formats any syntactically valid KDL file, keeps every comment and never
    /// changes a value. A file that does not parse is reported and left untouched.
    Fmt {
        /// Do not write: list the files that would change and exit with 1 if any would
        #[arg(long)]
        check: bool,
        /// Files or directories (searched recursively for .kdl files)
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
    },
    /// Print the resource graph: what depends on what, and what can run at once
    Graph {
        #[command(flatten)]
        stack: StackArgs,
        /// How to print it: text (layers), dot (Graphviz) or mermaid (renders in PR comments)
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Show what apply would change: each resource's action and changed fields
    ///
    /// Reads the live state from the Docker daemon and compares it with the
    /// stack, field by field. Every variable needs a value.
    /// Exits with 0 (with --detailed-exitcode: 0 no changes, 2 changes), 1 on errors.
    Plan {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        render: RenderArgs,
        /// Exit with 2 when the plan has changes, 0 when it has none
        #[arg(long)]
        detailed_exitcode: bool,
        /// Save the plan to FILE, for `stack apply FILE` to carry out exactly
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make the daemon match the stack: show the plan, confirm, carry it out
    ///
    /// PATH may also be a plan file saved by `stack plan --out`: it is carried
    /// out exactly, without asking, and refused when the live state changed
    /// since. Without a terminal to confirm on, apply needs --auto-approve.
    /// Exits with 0 when everything was done, 1 otherwise.
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        /// Do not ask for confirmation
        #[arg(long)]
        auto_approve: bool,
    },
    /// Remove every object of the stack from the daemon, users first
    ///
    /// Volumes stay unless --volumes is given. A resource with
    /// `prevent-destroy #true` stops the whole destroy before anything is removed.
    Destroy {
        #[command(flatten)]
        stack: StackArgs,
        /// Do not ask for confirmation
        #[arg(long)]
        auto_approve: bool,
        /// Remove the stack's volumes, and the data in them, too
        #[arg(long)]
        volumes: bool,
    },
    /// Show each resource of the stack with its live state and health
    Status {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Bring a project over from another tool
    #[command(subcommand)]
    Import(Import),
    /// Put a service's previous revision back: the containers its last update replaced,
    /// started again start-first in place of the current ones
    Rollback {
        /// The service: its name (`web`) or address (`service.web`)
        service: String,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Finish or revert a rollout that paused (a canary)
    Rollout {
        #[arg(value_enum)]
        action: RolloutAction,
        /// The service: its name (`web`) or address (`service.web`)
        service: String,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// List the revisions each service keeps on the daemon: the current one and the previous
    History {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Print the output of services' replicas and of jobs, merged in time order
    ///
    /// Each line starts with the replica it came from (`web-2`), in a color of its own on a
    /// terminal. A job's last run shows though it has ended. Changes nothing on the daemon.
    // The positional arguments name resources: the stack is given by --path.
    #[command(mut_arg("path", |path| path.long("path").value_name("PATH")))]
    Logs {
        /// Services and jobs, by name (`web`) or address (`job.migrate`); all when none is named
        #[arg(value_name = "SERVICE|JOB")]
        names: Vec<String>,
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        logs: LogsArgs,
    },
    /// Run a command in a running replica of a service, as `docker exec` does
    ///
    /// Runs in the first healthy replica (the first running one when the daemon cannot tell
    /// health) unless --replica says which. Exits with the command's exit code.
    Exec {
        /// The service: its name (`web`) or address (`service.web`)
        service: String,
        #[command(flatten)]
        stack: StackArgs,
        /// The replica to run in, by its number (`web-2` is 2)
        #[arg(long, value_name = "N")]
        replica: Option<u32>,
        /// Pass standard input to the command
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Give the command a terminal (with -i: an interactive shell, as `docker exec -it`)
        #[arg(short = 't', long)]
        tty: bool,
        /// The program and its arguments, after `--`
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Replace the replicas of services with fresh ones, as their `update` block rolls them
    ///
    /// Batch after batch in the order the `update` block says, each batch ready (healthy
    /// where there is a probe) before the next; start-first behind the proxy, no request is
    /// lost. Refuses a service whose files differ from what runs: apply those changes instead.
    #[command(mut_arg("path", |path| path.long("path").value_name("PATH")))]
    Restart {
        /// The services, by name (`web`) or address (`service.web`)
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Run a job now, whether or not it changed, with its output on the terminal
    ///
    /// Exits with the job's exit code. What the job uses must be applied first.
    Run {
        /// The job: its name (`migrate`) or address (`job.migrate`)
        job: String,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Apply, then apply again whenever the stack's files or an image's build context change
    ///
    /// Watches the stack's files, those of the modules it calls, and the build context of every
    /// image (what `.dockerignore` leaves in it). After a change, once the files have been
    /// quiet for a moment, plans and applies what changed without asking, printing the plan.
    /// A stack with errors or a failed build or apply is shown, and watching goes on.
    Watch {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Serve editors as a language server over stdin and stdout
    ///
    /// Editors start it themselves: diagnostics as you type (those of `stack
    /// validate`), hover, completion, go to definition, references, symbols,
    /// formatting and rename. See the book's "Editor support" page.
    Lsp,
    /// Work with providers outside the binary (spec/providers.md)
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Print a shell completion script
    ///
    /// For example: stack completions bash > /etc/bash_completion.d/stack
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Run a provider through a scripted life, and say what passed
    ///
    /// In a scratch folder and a scratch stack, for each kind: create, read back without
    /// drift, update in place, replace, drift made by the provider's `make_drift` (skipped
    /// without it) and its repair, delete, read (gone), and objects created and deleted at
    /// once. Fields are given made-up values of their types.
    /// Exits with 0 when every step passed or was skipped, 1 otherwise.
    Check {
        /// The provider's executable
        executable: PathBuf,
        /// A field of the provider's configuration, as JSON or else as text (repeatable);
        /// a required field left out gets a made-up value
        #[arg(long = "config", value_name = "FIELD=VALUE")]
        config: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Import {
    /// Write a stack directory from Compose files
    ///
    /// Later files override earlier ones, as with `docker compose -f A -f B`.
    /// Every setting that has no equivalent is a warning that points at the
    /// Compose file, and a comment in the stack; credentials are never copied:
    /// they become sensitive variables or secrets. On any error nothing is written.
    Compose {
        /// The Compose files (compose.yaml, ...)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The stack directory to write (default: stack/ beside the first file)
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<PathBuf>,
        /// The file of variables Compose reads (default: .env beside the first file)
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
        /// The stack's name (default: the file's `name`, else its directory's name)
        #[arg(long, value_name = "NAME")]
        project_name: Option<String>,
    },
}

/// Which stack, in which environment, with which variables.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// The stack: a directory with stack.kdl, or a single .kdl file
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The environment whose overlays apply (overlay "NAME" { ... })
    #[arg(long = "env", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,
    /// Set a variable; repeatable. Wins over --var-file and STACK_VAR_NAME
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    pub vars: Vec<(String, String)>,
    /// Read variables from a file of `name value` lines; repeatable, later files win
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Use this stack name instead of the one in the files
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Apply to one Docker engine, or to a swarm through one of its managers; wins over
    /// `target` in the environment's overlays [default: engine] (validate and graph ignore it)
    #[arg(long, value_name = "TARGET", value_parser = target_parser())]
    pub target: Option<Target>,
}

/// `--target`: one of the names the language gives targets.
fn target_parser() -> impl clap::builder::TypedValueParser<Value = Target> {
    clap::builder::PossibleValuesParser::new(Target::NAMES)
        .map(|name| Target::parse(&name).unwrap_or_default())
}

/// Which output `stack logs` prints.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing what the replicas write, following those a rollout starts
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only what was written since a time (`2026-12-07T16:00:00Z`) or for a while (`10m`)
    #[arg(long, value_name = "DURATION|TIME", value_parser = crate::since::parse_since)]
    pub since: Option<i64>,
    /// Only the last N lines of each replica
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
    /// Show the time of each line
    #[arg(long)]
    pub timestamps: bool,
}

/// How a plan is printed.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Print the plan as JSON (the same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan: human, json (a stable document) or markdown (for a pull request)
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

impl RenderArgs {
    pub fn format(&self) -> PlanFormat {
        if self.json { PlanFormat::Json } else { self.format }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RolloutAction {
    /// Replace the rest of the replicas, batch after batch
    Continue,
    /// Put the replicas replaced so far back to their previous revision
    Undo,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn assignments() {
        assert_eq!(parse_assignment("a=b=c"), Ok(("a".to_owned(), "b=c".to_owned())));
        assert!(parse_assignment("=x").is_err());
        assert!(parse_assignment("novalue").is_err());
    }
}
