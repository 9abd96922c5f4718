//! Declarations: what the files of one stack or module say, before evaluation.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use indexmap::map::Entry;
use stack_diagnostics::{Diagnostic, Span};

use crate::Value;
use crate::model::Target;
use crate::schema::KindSchema;

/// The files of one directory: the root stack or one module.
#[derive(Debug, Default)]
pub struct Unit {
    pub stack_name: Option<(String, Span)>,
    pub variables: IndexMap<String, VariableDecl>,
    pub resources: IndexMap<(&'static str, String), ResourceDecl>,
    pub overlays: Vec<OverlayDecl>,
    pub uses: IndexMap<String, UseDecl>,
    pub outputs: IndexMap<String, OutputDecl>,
    /// `registry "HOST" { ... }` blocks, by host (the root stack's only).
    pub registries: IndexMap<String, RegistryDecl>,
    /// The `provider` blocks, by name (only a root stack has them).
    pub providers: IndexMap<String, ProviderDecl>,
}

impl Unit {
    /// Adds what `other` (a file of the same directory, read after those already in `self`)
    /// declares, reporting names declared in both.
    pub fn merge(&mut self, other: &Unit, diagnostics: &mut Vec<Diagnostic>) {
        let mut report = |result: Result<(), Diagnostic>| diagnostics.extend(result.err());
        if let Some((name, span)) = &other.stack_name {
            report(self.name_stack(name.clone(), *span));
        }
        for (name, variable) in &other.variables {
            report(self.declare_variable(name.clone(), variable.clone()));
        }
        for ((_, name), resource) in &other.resources {
            report(self.declare_resource(name.clone(), resource.clone()));
        }
        self.overlays.extend(other.overlays.iter().cloned());
        for (alias, call) in &other.uses {
            report(self.declare_use(alias.clone(), call.clone()));
        }
        for (name, output) in &other.outputs {
            report(self.declare_output(name.clone(), output.clone()));
        }
        for (server, registry) in &other.registries {
            report(self.declare_registry(server.clone(), registry.clone()));
        }
        for (name, provider) in &other.providers {
            self.providers
                .entry(name.clone())
                .or_insert_with(|| provider.clone());
        }
    }

    pub fn name_stack(&mut self, name: String, span: Span) -> Result<(), Diagnostic> {
        if let Some((_, first)) = &self.stack_name {
            return Err(
                Diagnostic::error("stack::duplicate_name", "the stack is named twice")
                    .primary(span, "second name")
                    .secondary(*first, "first named here")
                    .help("keep one `stack` node"),
            );
        }
        self.stack_name = Some((name, span));
        Ok(())
    }

    pub fn declare_resource(&mut self, name: String, resource: ResourceDecl) -> Result<(), Diagnostic> {
        let kind = resource.kind.name;
        match self.resources.entry((kind, name)) {
            Entry::Occupied(first) => Err(Diagnostic::error(
                "stack::duplicate_name",
                format!("{kind} `{}` is declared twice", first.key().1),
            )
            .primary(resource.name_span, "declared again here")
            .secondary(first.get().name_span, "first declared here")
            .help("rename one of them, or merge them into one declaration")),
            Entry::Vacant(place) => {
                place.insert(resource);
                Ok(())
            }
        }
    }

    pub fn declare_variable(&mut self, name: String, variable: VariableDecl) -> Result<(), Diagnostic> {
        match self.variables.entry(name) {
            Entry::Occupied(first) => Err(Diagnostic::error(
                "stack::duplicate_name",
                format!("variable `{}` is declared twice", first.key()),
            )
            .primary(variable.name_span, "declared again here")
            .secondary(first.get().name_span, "first declared here")),
            Entry::Vacant(place) => {
                place.insert(variable);
                Ok(())
            }
        }
    }

    pub fn declare_use(&mut self, alias: String, call: UseDecl) -> Result<(), Diagnostic> {
        match self.uses.entry(alias) {
            Entry::Occupied(first) => Err(Diagnostic::error(
                "stack::duplicate_name",
                format!("module name `{}` is used twice", first.key()),
            )
            .primary(call.alias_span, "used again here")
            .secondary(first.get().alias_span, "first used here")
            .help("give each module call its own name with as=\"...\"")),
            Entry::Vacant(place) => {
                place.insert(call);
                Ok(())
            }
        }
    }

    pub fn declare_output(&mut self, name: String, output: OutputDecl) -> Result<(), Diagnostic> {
        match self.outputs.entry(name) {
            Entry::Occupied(first) => Err(Diagnostic::error(
                "stack::duplicate_name",
                format!("output `{}` is declared twice", first.key()),
            )
            .primary(output.name_span, "declared again here")
            .secondary(first.get().name_span, "first declared here")),
            Entry::Vacant(place) => {
                place.insert(output);
                Ok(())
            }
        }
    }

    pub fn declare_registry(&mut self, server: String, registry: RegistryDecl) -> Result<(), Diagnostic> {
        match self.registries.entry(server) {
            Entry::Occupied(first) => Err(Diagnostic::error(
                "stack::duplicate_name",
                format!("registry `{}` is declared twice", first.key()),
            )
            .primary(registry.server_span, "declared again here")
            .secondary(first.get().server_span, "first declared here")
            .help("keep one `registry` block per registry host")),
            Entry::Vacant(place) => {
                place.insert(registry);
                Ok(())
            }
        }
    }
}

/// A `provider "NAME" { source ...; version ...; timeout ...; ... }` block: what is needed to
/// find and start the provider, read before its schema is known. Its configuration is
/// lowered as a resource of kind `provider` once it is.
#[derive(Debug, Clone)]
pub struct ProviderDecl {
    pub name: String,
    pub name_span: Span,
    /// The directory of the declaring file: a provider is looked for beside it.
    pub dir: PathBuf,
    pub source: Option<(String, Span)>,
    pub version: Option<(String, Span)>,
    pub timeout: Option<(String, Span)>,
}

#[derive(Debug, Clone)]
pub struct ResourceDecl {
    pub kind: &'static KindSchema,
    pub name_span: Span,
    /// The directory of the file it is declared in: relative paths start there.
    pub dir: PathBuf,
    /// Shared: each environment and each evaluation reads them, an overlay changes a copy.
    pub fields: Arc<IndexMap<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableType {
    String,
    Int,
    Float,
    Bool,
    Duration,
    Size,
    /// A reference to a resource of this kind: how modules take networks, secrets, ...
    Resource(&'static str),
}

impl VariableType {
    pub const NAMES: &[&str] = &[
        "string", "int", "float", "bool", "duration", "size", "network", "volume", "image", "secret",
        "service",
    ];

    pub fn parse(name: &str) -> Option<VariableType> {
        Some(match name {
            "string" => VariableType::String,
            "int" => VariableType::Int,
            "float" => VariableType::Float,
            "bool" => VariableType::Bool,
            "duration" => VariableType::Duration,
            "size" => VariableType::Size,
            "network" => VariableType::Resource("network"),
            "volume" => VariableType::Resource("volume"),
            "image" => VariableType::Resource("image"),
            "secret" => VariableType::Resource("secret"),
            "service" => VariableType::Resource("service"),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct VariableDecl {
    pub name: String,
    pub name_span: Span,
    pub ty: VariableType,
    pub default: Option<Value>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub rules: Vec<Rule>,
}

/// A validation rule of a variable.
#[derive(Debug, Clone)]
pub enum Rule {
    Min(f64, Span),
    Max(f64, Span),
    OneOf(Vec<String>, Span),
    Pattern {
        regex: regex::Regex,
        message: Option<String>,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub struct OverlayDecl {
    pub environments: Vec<(String, Span)>,
    /// `target "swarm"`: where the stack of these environments is applied.
    pub target: Option<(Target, Span)>,
    pub targets: Vec<OverlayTarget>,
}

/// The changes an overlay makes to one resource.
#[derive(Debug, Clone)]
pub struct OverlayTarget {
    pub kind: &'static KindSchema,
    pub name: String,
    pub name_span: Span,
    pub fields: IndexMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct UseDecl {
    pub source: String,
    pub source_span: Span,
    pub alias_span: Span,
    /// The directory of the calling file: relative module paths start there.
    pub dir: PathBuf,
    /// Values of the module's variables, by name, with the span of the name.
    pub arguments: IndexMap<String, (Span, Value)>,
}

#[derive(Debug, Clone)]
pub struct OutputDecl {
    pub name_span: Span,
    pub value: Value,
}

/// The credentials a stack gives for one registry.
#[derive(Debug, Clone)]
pub struct RegistryDecl {
    pub server_span: Span,
    /// `username` and `password`, as written.
    pub fields: IndexMap<String, Value>,
}

/// A resource's key in [`Unit::resources`], borrowed: looks one up without making a `String`.
#[derive(Hash)]
pub(crate) struct ResourceKey<'a>(pub &'static str, pub &'a str);

impl indexmap::Equivalent<(&'static str, String)> for ResourceKey<'_> {
    fn equivalent(&self, key: &(&'static str, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}
