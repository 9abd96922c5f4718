//! Providers outside the binary (spec/providers.md): `stack` finds a provider's executable,
//! starts it, makes the handshake, and plans and applies its kinds through the provider trait,
//! each method a JSON-RPC call to the process.
//!
//! ```text
//! provider "NAME" { source ... } ──find──▶ executable ──start──▶ Client ──handshake──▶ schemas
//!                                                         │
//!                                           ExternalKind (one per kind, implements Provider)
//! ```

mod adapter;
pub mod check;
mod client;
pub mod find;
pub mod schema;
pub mod version;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};
use stack_protocol::{Configure, Handshake, method};
use stack_provider::{Provider, ProviderError};

pub use adapter::ExternalKind;
pub use client::{CallError, Client};
pub use schema::{Declared, Kind};

/// How long a call may take when the `provider` block sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Node names no provider's kind may take: the top-level nodes and the built-in kinds.
pub fn builtin_names() -> Vec<&'static str> {
    ["stack", "variable", "overlay", "use", "output", "provider"]
        .into_iter()
        .chain(stack_language::schema::builtin().kinds().map(|kind| kind.name))
        .collect()
}

/// A provider process, started and checked.
pub struct External {
    pub client: Arc<Client>,
    pub handshake: Handshake,
    pub declared: Declared,
    /// Why it cannot be used, once its configuration failed: the error of its every call.
    unusable: Arc<OnceLock<ProviderError>>,
}

/// Starts the provider declared as `name` from `program` in the stack's directory `dir`, makes
/// the handshake, and checks what it declares (`taken`: node names already in use). Errors
/// name the provider.
pub async fn start(
    name: &str,
    program: &Path,
    dir: &Path,
    timeout: Duration,
    verbose: bool,
    taken: &[&str],
) -> Result<External, String> {
    let (client, handshake) = Client::start(name, program, dir, timeout, verbose).await?;
    let declared = schema::declared(name, &handshake, taken).map_err(|problems| {
        format!(
            "{} declares kinds stack cannot use:\n  - {}",
            client.describe(),
            problems.join("\n  - ")
        )
    })?;
    Ok(External {
        client: Arc::new(client),
        handshake,
        declared,
        unusable: Arc::default(),
    })
}

impl External {
    /// A provider for each of its kinds, for the engine.
    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        self.declared
            .kinds
            .iter()
            .map(|kind| {
                Arc::new(ExternalKind::new(
                    Arc::clone(&self.client),
                    kind.clone(),
                    Arc::clone(&self.unusable),
                )) as Arc<dyn Provider>
            })
            .collect()
    }

    /// Sends the provider its configuration (sensitive values included). When that fails,
    /// the provider is not used: every call to it fails with why, so that only its own
    /// resources fail.
    pub async fn configure(&self, config: Map<String, Value>) {
        let Err(error) = self
            .client
            .call::<_, Value>(method::CONFIGURE, &Configure { config })
            .await
        else {
            return;
        };
        let message = format!(
            "{} could not be configured: {}",
            self.client.describe(),
            error.describe(method::CONFIGURE)
        );
        let mut unusable = ProviderError::unavailable(message);
        unusable.hint = error.hint().map(str::to_owned);
        let _ = self.unusable.set(unusable);
    }

    /// Why the provider cannot be used, once its configuration failed.
    pub fn unusable(&self) -> Option<&ProviderError> {
        self.unusable.get()
    }
}
