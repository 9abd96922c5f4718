//! The providers outside the binary a stack declares (spec/providers.md): found, started and
//! checked before the stack's files are loaded, since their kinds are part of the schema.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use stack_diagnostics::{Diagnostic, Diagnostics, Sources};
use stack_external::schema::{BLOCK_FIELDS, ENGINE_FIELDS};
use stack_external::{External, find};
use stack_language::schema::{ProviderSchema, Schema};
use stack_language::{ProviderDecl, Stack};
use stack_protocol::EXECUTABLE_PREFIX;
use stack_provider::{Config, Provider, Setting, value_json};

/// The started providers of a run; each stops when the last of its kinds is dropped.
#[derive(Default)]
pub struct ExternalProviders {
    started: Vec<External>,
}

impl ExternalProviders {
    /// Starts every provider the stack at `path` declares, and makes its handshake. A
    /// provider not found, that does not start, or whose version or kinds cannot be used is
    /// a diagnostic on its `provider` block.
    pub fn start(path: &Path, verbose: bool, sources: &mut Sources) -> Result<Self, Diagnostics> {
        let declared = stack_language::declared_providers(path, sources);
        if declared.is_empty() {
            return Ok(ExternalProviders::default());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                Diagnostics::from(vec![Diagnostic::error(
                    "stack::provider",
                    format!("cannot start the async runtime: {error}"),
                )])
            })?;
        let mut started = ExternalProviders::default();
        let mut problems = Vec::new();
        for decl in &declared {
            match runtime.block_on(started.start_one(decl, verbose)) {
                Ok(external) => started.started.push(external),
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(started)
        } else {
            Err(Diagnostics::from(problems))
        }
    }

    async fn start_one(&self, decl: &ProviderDecl, verbose: bool) -> Result<External, Diagnostic> {
        let name = &decl.name;
        let (source, source_span) = match &decl.source {
            Some((source, span)) => (source.clone(), *span),
            None => (format!("{EXECUTABLE_PREFIX}{name}"), decl.name_span),
        };
        let program = find::locate(&source, &decl.dir).map_err(|not_found| {
            let places: Vec<String> = not_found
                .looked_in
                .iter()
                .map(|dir| format!("  {}", dir.display()))
                .collect();
            Diagnostic::error(
                "stack::provider_not_found",
                format!("provider `{name}`: no executable `{source}` found"),
            )
            .primary(source_span, "not found")
            .help(format!(
                "looked in (the stack's `{}` directory, then ${}, then $PATH):\n{}\nput the provider's executable in one of them",
                find::STACK_DIR,
                find::PATH_VARIABLE,
                places.join("\n")
            ))
        })?;
        let timeout = match &decl.timeout {
            Some((text, span)) => stack_language::units::parse_duration(text).map_err(|error| {
                Diagnostic::error("stack::invalid_value", format!("provider `{name}`: {error}"))
                    .primary(*span, "not a duration")
                    .help("write a duration like \"30s\" or \"2m\"")
            })?,
            None => stack_external::DEFAULT_TIMEOUT,
        };
        let taken = self.taken();
        let failed = |message: String| {
            Diagnostic::error("stack::provider", message)
                .primary(decl.name_span, "this provider")
                .help("run with --verbose to see the provider's log")
        };
        let external = stack_external::start(name, &program, &decl.dir, timeout, verbose, &taken)
            .await
            .map_err(failed)?;
        if let Some((wanted, span)) = &decl.version {
            let version = &external.handshake.version;
            match stack_external::version::accepts(wanted, version) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Diagnostic::error(
                        "stack::provider_version",
                        format!("provider `{name}` is version {version}, which `{wanted}` does not accept"),
                    )
                    .primary(*span, format!("{} is version {version}", program.display()))
                    .help("install a version this accepts, or change `version`"));
                }
                Err(problem) => {
                    return Err(Diagnostic::error(
                        "stack::invalid_value",
                        format!("provider `{name}`: {problem}"),
                    )
                    .primary(*span, "not a version constraint"));
                }
            }
        }
        Ok(external)
    }

    /// Node names a provider's kind may not take: the top-level nodes, the built-in kinds,
    /// and the kinds of the providers started before it.
    fn taken(&self) -> Vec<&'static str> {
        stack_external::builtin_names()
            .into_iter()
            .chain(self.kinds().map(|kind| kind.name))
            .collect()
    }

    fn kinds(&self) -> impl Iterator<Item = &'static stack_language::schema::KindSchema> + '_ {
        self.started
            .iter()
            .flat_map(|external| external.declared.kinds.iter().map(|kind| kind.schema))
    }

    /// The built-in kinds and those of these providers.
    pub fn schema(&self) -> Schema {
        self.started
            .iter()
            .fold(stack_language::schema::builtin(), |schema, external| {
                let kinds: Vec<_> = external.declared.kinds.iter().map(|kind| kind.schema).collect();
                let provider = ProviderSchema {
                    name: external.client.name().to_owned(),
                    config: external.declared.config.schema,
                    kinds: kinds.iter().map(|kind| kind.name).collect(),
                };
                schema.with_provider(provider, &kinds)
            })
    }

    /// A provider for each of their kinds, for the engine.
    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        self.started.iter().flat_map(External::providers).collect()
    }

    /// Sends each provider its configuration, its `provider` block as evaluated, with the
    /// references as the names of what they reference. A provider whose configuration fails
    /// fails its own resources, saying why.
    pub async fn configure(&self, stack: &Stack) {
        for external in &self.started {
            let Some(block) = stack.providers.get(external.client.name()) else {
                continue;
            };
            let reference =
                |address: &stack_language::Address| Some(stack_language::object_name(&stack.name, address));
            let config = Config::from_resource(block, &stack.name, reference);
            let mut values = Map::new();
            for (field, setting) in config.0 {
                if BLOCK_FIELDS.contains(&field.as_str()) || ENGINE_FIELDS.contains(&field.as_str()) {
                    continue;
                }
                // The provider needs the secret itself: it never leaves the process's input.
                let value = match (setting, block.fields.get(&field)) {
                    (Setting::Sensitive { .. }, Some(value)) => value_json(value, &reference),
                    (Setting::Plain(value), _) => value,
                    (Setting::Sensitive { .. }, None) => Value::Null,
                };
                values.insert(field, value);
            }
            external.configure(values).await;
        }
    }
}
