//! Declarations: what the files of one stack or module say, before evaluation.

use std::path::PathBuf;

use indexmap::IndexMap;
use stack_diagnostics::Span;

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
    pub fields: IndexMap<String, Value>,
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
