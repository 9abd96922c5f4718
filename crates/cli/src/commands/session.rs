//! A stack loaded and its daemon connected, for the commands that act on resources by name.

use std::process::ExitCode;

use stack_engine::Prepared;
use stack_language::{Address, Stack};
use stack_provider::{Instance, Provider, Scope};

use super::load::{Loaded, load};
use super::plan::KEPT_KINDS;
use super::{options, report};
use crate::args::StackArgs;
use crate::daemon::{Daemon, with_hint};
use crate::output::Output;

pub(super) struct Session {
    pub daemon: Daemon,
    pub loaded: Loaded,
    pub scope: Scope,
}

impl Session {
    /// Loads the stack while connecting; on a failure prints why and gives the exit code.
    pub fn open(stack: &StackArgs, require_values: bool, output: &Output) -> Result<Session, ExitCode> {
        let failed = |message: String| {
            output.error(&message);
            ExitCode::from(1)
        };
        let connecting = Daemon::connect(stack.target).map_err(failed)?;
        let loaded = load(&stack.path, &options(stack, require_values), output)?;
        let daemon = connecting
            .connected(&loaded.external, &loaded.stack)
            .map_err(failed)?;
        let scope = Daemon::scope(&loaded.stack);
        Ok(Session {
            daemon,
            loaded,
            scope,
        })
    }

    /// The plan of the whole stack; on errors prints them and gives the exit code.
    pub async fn prepare(&self, output: &Output) -> Result<Prepared, ExitCode> {
        let loaded = &self.loaded;
        stack_engine::plan(
            &self.daemon.providers,
            &self.scope,
            &loaded.stack,
            &loaded.graph,
            KEPT_KINDS,
        )
        .await
        .map_err(|problems| report(&problems, &loaded.sources, output))
    }

    /// The instances of the resource at `address` on the daemon.
    pub async fn instances(&self, address: &Address) -> Result<Vec<Instance>, String> {
        let provider = self.provider(address)?;
        provider
            .instances(&self.scope, address)
            .await
            .map_err(|error| with_hint(&error))
    }

    fn provider(&self, address: &Address) -> Result<&std::sync::Arc<dyn Provider>, String> {
        self.daemon
            .providers
            .get(address.kind)
            .ok_or_else(|| format!("no provider handles {}", address.kind))
    }
}

/// The resource of one of `kinds` that `text` names: its name at the top level (`web`), or its
/// address (`service.web`, `module.db.service.postgres`).
pub(super) fn find(stack: &Stack, text: &str, kinds: &[&str]) -> Result<Address, String> {
    let candidates: Vec<&Address> = stack
        .resources
        .keys()
        .filter(|address| kinds.contains(&address.kind))
        .collect();
    let matching: Vec<&&Address> = candidates
        .iter()
        .filter(|address| address.to_string() == text || (address.module.is_empty() && address.name == text))
        .collect();
    match matching.as_slice() {
        [address] => Ok((**address).clone()),
        [] => {
            let known: Vec<String> = candidates.iter().map(ToString::to_string).collect();
            Err(format!(
                "stack `{}` has no {} `{text}`\nhint: its {}: {}",
                stack.name,
                kinds.join(" or "),
                kinds
                    .iter()
                    .map(|kind| format!("{kind}s"))
                    .collect::<Vec<_>>()
                    .join(" and "),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        }
        several => {
            let names: Vec<String> = several.iter().map(ToString::to_string).collect();
            Err(format!(
                "`{text}` names {}\nhint: write the address of the one you mean",
                names.join(" and ")
            ))
        }
    }
}
