//! The stack language: from stack files to an evaluated, checked [`Stack`].
//!
//! ```text
//! files ──load──▶ KDL documents ──lower──▶ declarations (Unit)
//!       ──evaluate (variables, overlays, modules, ${...})──▶ Stack ──check──▶ diagnostics
//! ```
//!
//! Every phase collects diagnostics instead of stopping at the first, so a
//! user sees all the problems of a stack at once.

mod address;
mod check;
mod decl;
mod eval;
mod index;
mod load;
mod lower;
mod model;
mod name;
mod overlay;
mod resolve;
mod reuse;
pub mod schema;
mod suggest;
mod template;
pub mod units;
mod value;
mod variables;
mod warnings;

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use stack_diagnostics::{Diagnostics, Sources};

pub use address::Address;
pub use check::looks_secret;
pub use decl::ProviderDecl;
pub use eval::object_name;
pub use index::{Index, Reference, Symbol, SymbolId, SymbolKind};
pub use load::{Buffers, FileCache, STDLIB_PREFIX};
pub use lower::{TOP_LEVEL, valid_name};
pub use model::{Condition, Dependency, Registry, Resource, Stack, Target};
pub use name::{likely_name, likely_target};
pub use template::{Expr, Part, Template, valid_segment};
pub use value::{Data, Value};
pub use variables::Inputs;
pub use warnings::{FLOATING_IMAGE, PORT_WITHOUT_PROXY, SHARED_VOLUME, VOLUME_PER_NODE, allowed, warnings};

use decl::Unit;
use eval::Evaluator;
use load::Loader;
use reuse::Evaluations;
use schema::Schema;

/// What to evaluate a stack with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The environment whose overlays apply (`--env`).
    pub environment: Option<String>,
    pub inputs: Inputs,
    /// Plan and apply need every variable's value; validate does not.
    pub require_values: bool,
    /// Overrides the stack's name (`--name`).
    pub stack_name: Option<String>,
    /// The target the command line asks for (`--target`), which wins over the overlays': the
    /// warnings of a target are those of the one the stack is applied to.
    pub target: Option<Target>,
}

/// A stack loaded for one environment, with what was found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The stack, when there were no errors (warnings may remain).
    pub stack: Option<Stack>,
    pub diagnostics: Diagnostics,
}

/// Loads and evaluates the stack at `path` for `options.environment`.
pub fn load(path: &Path, options: &Options, schema: &Schema, sources: &mut Sources) -> Loaded {
    let buffers = Buffers::default();
    let mut loader = Loader::new(schema, sources, &buffers);
    let Some(unit) = loader.load_root(path) else {
        return failed(loader.diagnostics);
    };
    let unit = Arc::new(unit);
    let mut diagnostics = std::mem::take(&mut loader.diagnostics);
    diagnostics.extend(overlay::check_targets(&unit));
    let environments = overlay::environments(&unit);
    if let Some(name) = &options.environment
        && !environments.contains(name)
    {
        diagnostics.push(overlay::unknown_environment(name, &environments));
        return failed(diagnostics);
    }
    let environment = options.environment.as_deref();
    let stack = evaluate(&mut loader, &unit, path, environment, options, None);
    diagnostics.extend(loader.diagnostics);
    finish(stack, diagnostics)
}

/// The `provider` blocks of the stack at `path`, read before their providers are started: their
/// kinds are not known yet, so only where to find each provider is read (`source`, `version`
/// and `timeout`, as written). Problems are found by [`load`] once the providers have started.
pub fn declared_providers(path: &Path, sources: &mut Sources) -> Vec<ProviderDecl> {
    let schema = schema::builtin();
    let buffers = Buffers::default();
    let mut loader = Loader::new(&schema, sources, &buffers);
    loader
        .load_root(path)
        .map(|unit| unit.providers.into_values().collect())
        .unwrap_or_default()
}

/// A stack checked for the base and each environment.
#[derive(Debug)]
pub struct Validated {
    /// The stack evaluated for each environment checked, even with errors:
    /// later phases (the graph) check what they can.
    pub stacks: Vec<Stack>,
    pub diagnostics: Diagnostics,
}

/// Checks the stack at `path`: for the environment given, or else for the
/// base and every environment its overlays declare.
pub fn validate(path: &Path, options: &Options, schema: &Schema, sources: &mut Sources) -> Validated {
    let buffers = Buffers::default();
    let mut loader = Loader::new(schema, sources, &buffers);
    validate_with(&mut loader, path, options, None).0
}

/// A stack checked as [`validate`] does, with what an editor needs besides.
#[derive(Debug)]
pub struct Analysis {
    pub validated: Validated,
    /// The names the files declare and where each is used.
    pub index: Index,
}

/// Checks the stack at `path` as [`validate`] does, reading the open
/// `buffers` instead of the files they stand for, and indexes its names.
/// The files of `cache` that have not changed are not parsed again, nor its
/// resources evaluated again whose declarations and reads are the same; the
/// cache is left holding the files read and the resources evaluated now.
pub fn analyze(
    path: &Path,
    options: &Options,
    schema: &Schema,
    sources: &mut Sources,
    buffers: &Buffers,
    cache: &mut FileCache,
) -> Analysis {
    let mut evaluations = std::mem::take(&mut cache.evaluations);
    let mut loader = Loader::with_cache(schema, sources, buffers, std::mem::take(cache));
    let (validated, unit) = validate_with(&mut loader, path, options, Some(&mut evaluations));
    let index = match unit {
        Some(unit) => Index::build(&unit, &mut loader),
        None => Index::default(),
    };
    *cache = loader.into_cache();
    cache.evaluations = evaluations;
    Analysis { validated, index }
}

/// Checks the stack as [`validate`] does; with `evaluations`, reusing those of the last check
/// that still hold, and leaving there those made now.
fn validate_with(
    loader: &mut Loader,
    path: &Path,
    options: &Options,
    mut evaluations: Option<&mut Evaluations>,
) -> (Validated, Option<Arc<Unit>>) {
    let Some(unit) = loader.load_root(path) else {
        let diagnostics = failed(std::mem::take(&mut loader.diagnostics)).diagnostics;
        let validated = Validated {
            stacks: Vec::new(),
            diagnostics,
        };
        return (validated, None);
    };
    let unit = Arc::new(unit);
    let mut diagnostics = std::mem::take(&mut loader.diagnostics);
    diagnostics.extend(overlay::check_targets(&unit));
    let declared = overlay::environments(&unit);
    let environments: Vec<Option<String>> = match &options.environment {
        Some(name) if !declared.contains(name) => {
            diagnostics.push(overlay::unknown_environment(name, &declared));
            Vec::new()
        }
        Some(name) => vec![Some(name.clone())],
        None => std::iter::once(None)
            .chain(declared.into_iter().map(Some))
            .collect(),
    };
    let mut stacks = Vec::new();
    for environment in environments {
        let environment = environment.as_deref();
        let evaluations = evaluations.as_deref_mut();
        stacks.extend(evaluate(loader, &unit, path, environment, options, evaluations));
        diagnostics.append(&mut loader.diagnostics);
    }
    let diagnostics = finish(None, diagnostics).diagnostics;
    (Validated { stacks, diagnostics }, Some(unit))
}

fn failed(diagnostics: Vec<stack_diagnostics::Diagnostic>) -> Loaded {
    finish(None, diagnostics)
}

fn finish(stack: Option<Stack>, diagnostics: Vec<stack_diagnostics::Diagnostic>) -> Loaded {
    let mut diagnostics = Diagnostics::from(diagnostics);
    diagnostics.sort();
    let stack = stack.filter(|_| !diagnostics.has_errors());
    Loaded { stack, diagnostics }
}

/// Evaluates `unit` for one environment; problems go to `loader.diagnostics`.
fn evaluate(
    loader: &mut Loader,
    unit: &Arc<Unit>,
    path: &Path,
    environment: Option<&str>,
    options: &Options,
    mut evaluations: Option<&mut Evaluations>,
) -> Option<Stack> {
    let name = name::stack_name(unit, path, options);
    if !valid_name(&name) {
        loader.diagnostics.push(
            stack_diagnostics::Diagnostic::error("stack::invalid_name", format!("`{name}` is not a valid stack name"))
                .help("stack names use lowercase letters, digits, `-` and `_`: they prefix every object on the daemon"),
        );
    }
    let (resources, overlay_problems) = match environment {
        Some(environment) => overlay::apply(unit, environment),
        None => (unit.resources.clone(), Vec::new()),
    };
    loader.diagnostics.extend(overlay_problems);
    let (target, target_problems) = match environment {
        Some(environment) => overlay::target(unit, environment),
        None => (None, Vec::new()),
    };
    loader.diagnostics.extend(target_problems);
    let (vars, variable_problems) =
        variables::bind_root(unit, &options.inputs, options.require_values, loader.sources);
    loader.diagnostics.extend(variable_problems);

    let mut evaluator = Evaluator::new(loader.schema, name.clone());
    let root = evaluator.instantiate(
        loader,
        Vec::new(),
        Arc::clone(unit),
        resources,
        vars,
        &mut Vec::new(),
    );
    let mut earlier = evaluations
        .as_deref_mut()
        .map(|evaluations| evaluations.take(environment, &name));
    let mut now = reuse::Environment::new(&name);
    let mut all = IndexMap::new();
    for instance in 0..evaluator.instances.len() {
        let keys: Vec<(&'static str, String)> =
            evaluator.instances[instance].resources.keys().cloned().collect();
        for (kind, resource_name) in keys {
            let reused = earlier
                .as_mut()
                .filter(|_| instance == eval::ROOT)
                .and_then(|earlier| earlier.reuse(&evaluator, kind, &resource_name, &mut now));
            if let Some(resource) = reused {
                all.insert(resource.address.clone(), resource);
                continue;
            }
            let Some((resource, reads)) = evaluator.resource(instance, kind, &resource_name) else {
                continue;
            };
            if earlier.is_some()
                && instance == eval::ROOT
                && let Some(declaration) = evaluator.instances[instance]
                    .resources
                    .get(&(kind, resource_name.clone()))
            {
                now.keep(declaration, &resource_name, &resource, reads);
            }
            all.insert(resource.address.clone(), resource);
        }
    }
    if let Some(evaluations) = evaluations {
        evaluations.insert(environment, now);
    }
    let output_names: Vec<String> = unit.outputs.keys().cloned().collect();
    let mut outputs = IndexMap::new();
    for output in output_names {
        if let Some(value) = evaluator.output(root, &output) {
            outputs.insert(output, value);
        }
    }
    // Module outputs nobody reads are still checked.
    for instance in 1..evaluator.instances.len() {
        let names: Vec<String> = evaluator.instances[instance]
            .unit
            .outputs
            .keys()
            .cloned()
            .collect();
        for output in names {
            evaluator.output(instance, &output);
        }
    }
    let registries = registries(&mut evaluator, root, unit);
    let providers = provider_configs(&mut all, loader.schema);
    let stack = Stack {
        name,
        environment: environment.map(str::to_owned),
        target,
        resources: all,
        outputs,
        registries,
        providers,
    };
    loader.diagnostics.append(&mut evaluator.diagnostics);
    let stack_dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    loader.diagnostics.extend(check::check(&stack, stack_dir));
    let found = warnings(&stack, options.target.or(stack.target), loader.sources);
    loader.diagnostics.extend(found);
    Some(stack)
}

/// The root's `registry` blocks, evaluated: a password must come from a sensitive variable.
fn registries(evaluator: &mut Evaluator, root: usize, unit: &Unit) -> Vec<Registry> {
    let mut registries = Vec::new();
    for (server, declared) in &unit.registries {
        let mut evaluate = |field: &str| {
            let value = declared.fields.get(field)?;
            Some(evaluator.value(root, value, &mut Vec::new()))
        };
        let (Some(username), Some(password)) = (evaluate("username"), evaluate("password")) else {
            continue;
        };
        // A literal is reported when lowered; a value from a variable that is not sensitive here.
        let from_variable = matches!(
            declared.fields.get("password").map(|value| &value.data),
            Some(Data::Template(_))
        );
        if from_variable && !password.sensitive && !password.is_unknown() {
            evaluator.diagnostics.push(
                stack_diagnostics::Diagnostic::error(
                    "stack::literal_secret",
                    format!(
                        "the password of registry `{server}` comes from a variable that is not sensitive"
                    ),
                )
                .primary(password.span, "this value could be shown in plans and logs")
                .help("declare the variable with `sensitive=#true`"),
            );
        }
        registries.push(Registry {
            server: server.clone(),
            span: declared.server_span,
            username,
            password,
        });
    }
    registries
}

/// Takes the `provider` blocks out of the resources: no provider plans them. What each one
/// references becomes a dependency of every resource of the provider's kinds, which so waits
/// for it (a database service the provider connects to).
fn provider_configs(
    resources: &mut IndexMap<Address, Resource>,
    schema: &Schema,
) -> IndexMap<String, Resource> {
    let (configs, kept): (IndexMap<Address, Resource>, _) = std::mem::take(resources)
        .into_iter()
        .partition(|(address, _)| address.kind == "provider");
    *resources = kept;
    let providers: IndexMap<String, Resource> = configs
        .into_iter()
        .map(|(address, config)| (address.name, config))
        .collect();
    for (name, config) in &providers {
        let Some(provider) = schema.provider(name) else {
            continue;
        };
        for resource in resources.values_mut() {
            if !provider.kinds.contains(&resource.kind.name) {
                continue;
            }
            for dependency in &config.dependencies {
                if !resource
                    .dependencies
                    .iter()
                    .any(|known| known.target == dependency.target)
                {
                    resource.dependencies.push(dependency.clone());
                }
            }
        }
    }
    providers
}
