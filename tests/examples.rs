//! The examples and the standard library are valid:
//!
//! - every directory under `examples/` with a `stack.kdl`, nested ones too
//!   (`shared-infra/infra`), validates, in its base and in every environment,
//!   with an acyclic graph;
//! - every module of `stdlib/` validates when a stack calls it with its
//!   required parameters only, and with every parameter set to its default;
//!   and each has a service with a probe, a volume and an output.
//!
//! Each test collects every failure before it asserts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlNode, KdlValue};
use stack_diagnostics::{RenderOptions, Sources, render};

mod common;
use common::{errors, indented, relative, report, root, validate};

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Every directory under `examples/` that holds a stack, at any depth, sorted.
fn example_stacks() -> Vec<PathBuf> {
    let mut stacks = Vec::new();
    let mut pending = subdirectories(&root().join("examples"));
    while let Some(dir) = pending.pop() {
        if dir.join("stack.kdl").is_file() {
            stacks.push(dir.clone());
        }
        pending.extend(subdirectories(&dir));
    }
    stacks.sort();
    stacks
}

/// The errors `stack validate` would report for `path`, rendered, or `None`.
fn validation_errors(path: &Path) -> Option<String> {
    let providers = stack_language::declared_providers(path, &mut Sources::new());
    if !providers.is_empty() {
        return validation_errors_with(path, &providers);
    }
    let (evaluated, diagnostics, sources) = validate(path);
    let errors = errors(&diagnostics);
    if !evaluated && errors.is_empty() {
        return Some("nothing was evaluated".to_owned());
    }
    (!errors.is_empty()).then(|| render(errors, &sources, RenderOptions::plain()))
}

/// The errors of `stack validate` for a stack that declares `providers`: each is a program of
/// this repository, whose package is named like its executable, and `stack` starts each for
/// the schemas of its kinds.
fn validation_errors_with(path: &Path, providers: &[stack_language::ProviderDecl]) -> Option<String> {
    let folders: Vec<PathBuf> = providers
        .iter()
        .map(|provider| {
            let executable = provider.source.as_ref().map_or_else(
                || format!("stack-provider-{}", provider.name),
                |(source, _)| source.clone(),
            );
            let binary = stack_tests::provider_binary(&executable);
            binary.parent().unwrap_or(Path::new(".")).to_owned()
        })
        .collect();
    let output = std::process::Command::new(stack_tests::stack_binary())
        .arg("validate")
        .arg(path)
        .env(
            "STACK_PROVIDER_PATH",
            std::env::join_paths(folders).unwrap_or_default(),
        )
        .output()
        .unwrap_or_else(|error| panic!("stack does not run: {error}"));
    (!output.status.success()).then(|| String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn examples_are_valid() {
    let mut failures = Vec::new();
    let stacks = example_stacks();
    for dir in &stacks {
        if let Some(errors) = validation_errors(dir) {
            failures.push(format!("{} is not valid:\n{}", relative(dir), indented(&errors)));
        }
    }
    assert!(
        stacks.iter().any(|dir| dir.ends_with("shared-infra/infra")),
        "nested examples are not found: {stacks:?}"
    );
    report(&failures);
}

/// Plan and status read the daemon under the name a first look at the files
/// gives, while the files load; for the examples that look must be right.
#[test]
fn a_first_look_at_each_example_finds_its_name() {
    let mut failures = Vec::new();
    for dir in example_stacks() {
        // Their kinds come from providers this test does not start: `examples_are_valid`
        // runs `stack validate` on them, and their own tests plan them under their names.
        if !stack_language::declared_providers(&dir, &mut Sources::new()).is_empty() {
            continue;
        }
        let options = stack_language::Options::default();
        let schema = stack_language::schema::builtin();
        let loaded = stack_language::load(&dir, &options, &schema, &mut Sources::new());
        let Some(stack) = loaded.stack else {
            failures.push(format!("{} does not load", relative(&dir)));
            continue;
        };
        let likely = stack_language::likely_name(&dir, &options);
        if likely != stack.name {
            failures.push(format!(
                "{}: a first look finds `{likely}`, the stack is `{}`",
                relative(&dir),
                stack.name
            ));
        }
    }
    report(&failures);
}

// ---------------------------------------------------------------------------
// The standard library

/// A module of `stdlib/`, read with the stack parser.
struct Module {
    name: String,
    dir: PathBuf,
    nodes: Vec<KdlNode>,
}

fn stdlib_modules() -> Vec<Module> {
    let mut modules = Vec::new();
    for dir in subdirectories(&root().join("stdlib")) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        files.retain(|path| path.extension().is_some_and(|ext| ext == "kdl"));
        files.sort();
        let mut nodes = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
            let mut sources = Sources::new();
            let id = sources.add(relative(file), file, text.as_str());
            let parsed = stack_syntax::parse(id, &text);
            let document: KdlDocument = parsed.document.unwrap_or_else(|| {
                panic!(
                    "{} is not KDL v2:\n{}",
                    relative(file),
                    render(&parsed.diagnostics, &sources, RenderOptions::plain())
                )
            });
            nodes.extend(document.nodes().iter().cloned());
        }
        let name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_owned();
        if !files.is_empty() {
            modules.push(Module { name, dir, nodes });
        }
    }
    modules
}

/// A `variable` node of a module: a parameter.
struct Parameter<'n> {
    name: String,
    ty: String,
    default: Option<&'n KdlValue>,
    node: &'n KdlNode,
}

impl Module {
    fn parameters(&self) -> Vec<Parameter<'_>> {
        self.nodes
            .iter()
            .filter(|node| node.name().value() == "variable")
            .filter_map(|node| {
                let name = node
                    .entries()
                    .iter()
                    .find(|entry| entry.name().is_none())?
                    .value()
                    .as_string()?
                    .to_owned();
                let ty = node
                    .get("type")
                    .and_then(KdlValue::as_string)
                    .unwrap_or("string")
                    .to_owned();
                Some(Parameter {
                    name,
                    ty,
                    default: node.get("default"),
                    node,
                })
            })
            .collect()
    }

    fn top_level(&self, kind: &str) -> impl Iterator<Item = &KdlNode> {
        self.nodes.iter().filter(move |node| node.name().value() == kind)
    }
}

impl Parameter<'_> {
    /// The argument of a rule child, such as `min 1`.
    fn rule(&self, rule: &str) -> Option<&KdlValue> {
        let children = self.node.children()?;
        children
            .get(rule)?
            .entries()
            .iter()
            .find(|entry| entry.name().is_none())
            .map(|entry| entry.value())
    }

    fn rule_number(&self, rule: &str) -> Option<f64> {
        let value = self.rule(rule)?;
        value
            .as_float()
            .or_else(|| value.as_integer().map(|number| number as f64))
    }
}

/// A value of `parameter`'s type that passes its rules, written as KDL, with
/// any resource the stack must declare for it.
fn argument(module: &str, parameter: &Parameter<'_>) -> Result<(String, Option<String>), String> {
    let resource_name = format!("given-{}", parameter.name);
    let resource = match parameter.ty.as_str() {
        "network" => Some(format!("network \"{resource_name}\"\n")),
        "volume" => Some(format!("volume \"{resource_name}\"\n")),
        "secret" => Some(format!(
            "secret \"{resource_name}\" {{\n    from-env \"GIVEN_SECRET\"\n}}\n"
        )),
        "image" => Some(format!("image \"{resource_name}\" {{\n    context \".\"\n}}\n")),
        "service" => Some(format!(
            "service \"{resource_name}\" {{\n    image \"alpine:3.20\"\n}}\n"
        )),
        _ => None,
    };
    if let Some(resource) = resource {
        return Ok((format!("\"{resource_name}\""), Some(resource)));
    }
    let value = match parameter.ty.as_str() {
        "string" => string_argument(module, parameter)?,
        "int" => {
            let number = parameter
                .rule_number("min")
                .or_else(|| parameter.rule_number("max"))
                .unwrap_or(1.0);
            format!("{}", number.ceil() as i64)
        }
        "float" => {
            let number = parameter
                .rule_number("min")
                .or_else(|| parameter.rule_number("max"))
                .unwrap_or(1.0);
            format!("{number:?}")
        }
        "bool" => "#true".to_owned(),
        "duration" => "\"10s\"".to_owned(),
        "size" => "\"64MiB\"".to_owned(),
        other => {
            return Err(format!(
                "stdlib/{module}: parameter `{}` has the unknown type `{other}`",
                parameter.name
            ));
        }
    };
    Ok((value, None))
}

/// A string that passes the parameter's `one-of` or `pattern`.
fn string_argument(module: &str, parameter: &Parameter<'_>) -> Result<String, String> {
    if let Some(first) = parameter.rule("one-of").and_then(KdlValue::as_string) {
        return Ok(format!("{first:?}"));
    }
    let Some(pattern) = parameter.rule("pattern").and_then(KdlValue::as_string) else {
        return Ok("\"value\"".to_owned());
    };
    let regex = regex::Regex::new(pattern).map_err(|error| {
        format!(
            "stdlib/{module}: parameter `{}` has an invalid pattern: {error}",
            parameter.name
        )
    })?;
    const CANDIDATES: &[&str] = &[
        "value",
        "/srv/www",
        "1",
        "128MB",
        "256mb",
        "v1",
        "a.b",
        "127.0.0.1",
        "http://127.0.0.1/",
    ];
    CANDIDATES
        .iter()
        .find(|candidate| regex.is_match(candidate))
        .map(|candidate| format!("{candidate:?}"))
        .ok_or_else(|| {
            format!(
                "stdlib/{module}: no test value matches the pattern `{pattern}` of parameter `{}`; add one to CANDIDATES",
                parameter.name
            )
        })
}

/// The KDL text of a default value, as written in the module.
fn kdl_text(value: &KdlValue) -> String {
    match value {
        KdlValue::String(text) => format!("{text:?}"),
        KdlValue::Integer(number) => number.to_string(),
        KdlValue::Float(number) => format!("{number:?}"),
        KdlValue::Bool(flag) => if *flag { "#true" } else { "#false" }.to_owned(),
        KdlValue::Null => "#null".to_owned(),
    }
}

/// A stack that calls `module` as `m`: with its required parameters, and with
/// the others set to their defaults when `all` is set. Every output is read.
fn calling_stack(module: &Module, all: bool) -> Result<String, String> {
    let mut resources = String::new();
    let mut arguments = String::new();
    for parameter in module.parameters() {
        let value = match (parameter.default, all) {
            (Some(default), true) => kdl_text(default),
            (Some(_), false) => continue,
            (None, _) => {
                let (value, resource) = argument(&module.name, &parameter)?;
                if let Some(resource) = resource {
                    resources.push_str(&resource);
                    resources.push('\n');
                }
                value
            }
        };
        let _ = writeln!(arguments, "    {} {value}", parameter.name);
    }
    let mut stack = format!(
        "stack \"stdlib-test\"\n\n{resources}use \"stdlib/{}\" as=\"m\" {{\n{arguments}}}\n",
        module.name
    );
    for output in module.top_level("output") {
        if let Some(name) = output
            .entries()
            .first()
            .and_then(|entry| entry.value().as_string())
        {
            let _ = write!(stack, "\noutput \"read-{name}\" \"${{module.m.{name}}}\"\n");
        }
    }
    Ok(stack)
}

#[test]
fn stdlib_modules_validate_when_called() {
    let modules = stdlib_modules();
    assert!(!modules.is_empty(), "no module found under stdlib/");
    let mut failures = Vec::new();
    for module in &modules {
        for (all, what) in [
            (false, "its required parameters"),
            (true, "every parameter at its default"),
        ] {
            let stack = match calling_stack(module, all) {
                Ok(stack) => stack,
                Err(problem) => {
                    failures.push(problem);
                    continue;
                }
            };
            let dir = tempfile::tempdir().expect("a temporary directory");
            std::fs::write(dir.path().join("stack.kdl"), &stack).expect("writing stack.kdl");
            if let Some(errors) = validation_errors(dir.path()) {
                failures.push(format!(
                    "stdlib/{} called with {what} is not valid.\nThe stack:\n{}The errors:\n{}",
                    module.name,
                    indented(&stack),
                    indented(&errors)
                ));
            }
        }
    }
    report(&failures);
}

/// What every module of the standard library has: a service with a probe (so
/// that `condition="healthy"` works on the call), a volume, and an output.
#[test]
fn stdlib_modules_have_a_probe_a_volume_and_an_output() {
    let mut failures = Vec::new();
    for module in stdlib_modules() {
        let location = relative(&module.dir);
        let probed = module.top_level("service").any(|service| {
            service
                .children()
                .is_some_and(|children| children.get("probe").is_some())
        });
        if !probed {
            failures.push(format!("{location}: no service with a probe"));
        }
        if module.top_level("volume").next().is_none() {
            failures.push(format!("{location}: no volume"));
        }
        if module.top_level("output").next().is_none() {
            failures.push(format!("{location}: no output"));
        }
    }
    report(&failures);
}
