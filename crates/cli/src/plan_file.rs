//! Saved plans (`stack plan --out FILE`, `stack apply FILE`).
//!
//! A plan file keeps the plan as JSON, where the stack is and how it was
//! evaluated, and fingerprints of the desired and the live state it was made
//! from. It never keeps a variable's value (only which were given with
//! `--var`) nor a secret: sensitive settings are hashes in the plan. Applying
//! it evaluates the stack again and goes ahead only when both fingerprints
//! still match, so what is carried out is exactly the plan that was shown.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stack_engine::Prepared;
use stack_language::{Inputs, Options, Target};
use stack_plan::Plan;

use crate::args::StackArgs;

/// The format of plan files; bumped on incompatible changes.
const FORMAT: u32 = 1;

/// A plan file; `P` is the plan, typed when written and JSON when read back.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFile<P = serde_json::Value> {
    /// Marks the file as a plan file, and its format.
    pub stack_plan_file: u32,
    /// The stack, as an absolute path.
    pub path: PathBuf,
    pub environment: Option<String>,
    pub name: Option<String>,
    /// `--target`, when given (the files' own is read again with them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Absolute paths: they are read again when the plan is applied.
    pub var_files: Vec<PathBuf>,
    /// The variables given with `--var`, by name only.
    pub vars: Vec<String>,
    pub desired_fingerprint: String,
    pub live_fingerprint: String,
    pub plan: P,
}

impl<'a> PlanFile<&'a Plan> {
    pub fn new(stack: &StackArgs, prepared: &'a Prepared) -> PlanFile<&'a Plan> {
        PlanFile {
            stack_plan_file: FORMAT,
            path: absolute(&stack.path),
            environment: stack.environment.clone(),
            name: stack.name.clone(),
            target: stack.target,
            var_files: stack.var_files.iter().map(|file| absolute(file)).collect(),
            vars: stack.vars.iter().map(|(name, _)| name.clone()).collect(),
            desired_fingerprint: prepared.desired_fingerprint(),
            live_fingerprint: prepared.live_fingerprint(),
            plan: &prepared.plan,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|error| error.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|error| format!("cannot write the plan to {}: {error}", path.display()))
    }
}

impl PlanFile {
    /// The plan file at `path`, or `None` when `path` is not one (a stack).
    pub fn read(path: &Path) -> Result<Option<PlanFile>, String> {
        if !path.is_file() || path.extension().is_some_and(|extension| extension == "kdl") {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        if !text.trim_start().starts_with('{') {
            return Ok(None);
        }
        let file: PlanFile = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a plan file stack can read: {error}", path.display()))?;
        if file.stack_plan_file != FORMAT {
            return Err(format!(
                "{} is a plan file of format {}, this stack reads format {FORMAT}: make the plan again",
                path.display(),
                file.stack_plan_file
            ));
        }
        Ok(Some(file))
    }

    /// How to evaluate the stack again: as planned, with variable values
    /// given anew (`--var`, `STACK_VAR_*`; var files are read again).
    pub fn options(&self, vars: &[(String, String)]) -> Options {
        Options {
            environment: self.environment.clone(),
            inputs: Inputs {
                vars: vars.to_vec(),
                var_files: self.var_files.clone(),
                env: Inputs::from_environment(),
            },
            require_values: true,
            stack_name: self.name.clone(),
            target: self.target,
        }
    }

    /// Whether `prepared`, planned now, is what this file planned.
    pub fn check(&self, prepared: &Prepared, file: &Path) -> Result<(), String> {
        if prepared.live_fingerprint() != self.live_fingerprint {
            return Err(format!(
                "the live state of stack `{}` changed since the plan in {} was made: it is not applied\n\
                 hint: run `stack plan --out {}` again, review it, and apply that",
                prepared.plan.stack,
                file.display(),
                file.display()
            ));
        }
        if prepared.desired_fingerprint() != self.desired_fingerprint {
            let vars = if self.vars.is_empty() {
                String::new()
            } else {
                format!(
                    "; it was made with --var {}: plan files keep no values, give them again",
                    self.vars.join(", ")
                )
            };
            return Err(format!(
                "the stack's files or variables changed since the plan in {} was made: it is not applied\n\
                 hint: run `stack plan --out {}` again{vars}",
                file.display(),
                file.display()
            ));
        }
        Ok(())
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
