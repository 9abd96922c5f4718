//! Variables: where their values come from, their types and their rules.

use std::collections::HashMap;
use std::path::PathBuf;

use stack_diagnostics::{Diagnostic, Span};

use crate::decl::{Rule, VariableDecl, VariableType};
use crate::units::{parse_duration, parse_size};
use crate::{Data, Value};

/// Values given for a stack's variables from outside the files.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--var NAME=VALUE`, in command-line order.
    pub vars: Vec<(String, String)>,
    /// `--var-file FILE`, in command-line order: later files win.
    pub var_files: Vec<PathBuf>,
    /// The process environment's `STACK_VAR_*` variables, without the prefix.
    pub env: HashMap<String, String>,
}

impl Inputs {
    /// Collects `STACK_VAR_*` from the process environment.
    pub fn from_environment() -> HashMap<String, String> {
        std::env::vars()
            .filter_map(|(key, value)| {
                key.strip_prefix("STACK_VAR_")
                    .map(|name| (name.to_owned(), value))
            })
            .collect()
    }
}

/// Checks `value` against `ty`, converting text (from the command line or the
/// environment) to the type's value.
pub fn coerce(ty: VariableType, value: Value) -> Result<Value, String> {
    let describe = |value: &Value| value.to_string();
    let data = match (ty, value.data.clone()) {
        (_, Data::Unknown) => Data::Unknown,
        (VariableType::String, Data::Str(text)) => Data::Str(text),
        (VariableType::String, Data::Int(number)) => Data::Str(number.to_string()),
        (VariableType::String, Data::Float(number)) => Data::Str(number.to_string()),
        (VariableType::String, Data::Bool(flag)) => Data::Str(flag.to_string()),
        (VariableType::Int, Data::Int(number)) => Data::Int(number),
        (VariableType::Int, Data::Str(text)) => Data::Int(
            text.trim()
                .parse()
                .map_err(|_| format!("{} is not an integer", describe(&value)))?,
        ),
        (VariableType::Float, Data::Int(number)) => Data::Float(number as f64),
        (VariableType::Float, Data::Float(number)) => Data::Float(number),
        (VariableType::Float, Data::Str(text)) => Data::Float(
            text.trim()
                .parse()
                .map_err(|_| format!("{} is not a number", describe(&value)))?,
        ),
        (VariableType::Bool, Data::Bool(flag)) => Data::Bool(flag),
        (VariableType::Bool, Data::Str(text)) => match text.trim() {
            "true" | "#true" => Data::Bool(true),
            "false" | "#false" => Data::Bool(false),
            _ => return Err(format!("{} is not true or false", describe(&value))),
        },
        (VariableType::Duration, Data::Str(text)) => {
            parse_duration(&text)?;
            Data::Str(text)
        }
        (VariableType::Size, Data::Str(text)) => {
            parse_size(&text)?;
            Data::Str(text)
        }
        (VariableType::Size, Data::Int(number)) if number >= 0 => Data::Int(number),
        (VariableType::Resource(_), Data::Str(name)) => Data::Str(name),
        (VariableType::Resource(kind), Data::Ref(address)) if address.kind == kind => Data::Ref(address),
        (ty, _) => {
            return Err(format!(
                "{} is not {}",
                describe(&value),
                with_article(type_name(ty))
            ));
        }
    };
    Ok(Value { data, ..value })
}

pub(crate) fn with_article(name: &str) -> String {
    match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {name}"),
        _ => format!("a {name}"),
    }
}

pub fn type_name(ty: VariableType) -> &'static str {
    match ty {
        VariableType::String => "string",
        VariableType::Int => "integer",
        VariableType::Float => "number",
        VariableType::Bool => "boolean",
        VariableType::Duration => "duration",
        VariableType::Size => "size",
        VariableType::Resource(kind) => kind,
    }
}

/// Checks a variable's validation rules; `origin` says where the value came from.
pub fn check_rules(variable: &VariableDecl, value: &Value, origin: Span) -> Vec<Diagnostic> {
    check_rules_of(&variable.name, variable.sensitive, &variable.rules, value, origin)
}

pub(crate) fn check_rules_of(
    name: &str,
    sensitive: bool,
    rules: &[Rule],
    value: &Value,
    origin: Span,
) -> Vec<Diagnostic> {
    let shown = if sensitive {
        "(sensitive)".to_owned()
    } else {
        value.to_string()
    };
    let fail = |rule_span: Span, problem: String| {
        Diagnostic::error(
            "stack::variable_invalid",
            format!("variable `{name}` is {shown}, which {problem}"),
        )
        .primary(origin, "value given here")
        .secondary(rule_span, "rule declared here")
        .help(format!("give `{name}` a value the rule accepts"))
    };
    let mut problems = Vec::new();
    for rule in rules {
        match rule {
            Rule::Min(min, span) => {
                if value.as_float().is_some_and(|number| number < *min) {
                    problems.push(fail(*span, format!("is below the minimum {min}")));
                }
            }
            Rule::Max(max, span) => {
                if value.as_float().is_some_and(|number| number > *max) {
                    problems.push(fail(*span, format!("is above the maximum {max}")));
                }
            }
            Rule::OneOf(options, span) => {
                if value
                    .as_str()
                    .is_some_and(|text| !options.iter().any(|option| option == text))
                {
                    problems.push(fail(*span, format!("is not one of {}", options.join(", "))));
                }
            }
            Rule::Pattern { regex, message, span } => {
                if value.as_str().is_some_and(|text| !regex.is_match(text)) {
                    let problem = match message {
                        Some(message) => format!("is not valid: {message}"),
                        None => format!("is not matching `{}`", regex.as_str()),
                    };
                    problems.push(fail(*span, problem));
                }
            }
        }
    }
    problems
}

/// A value given for a root variable from outside the stack files.
struct Given {
    value: Value,
    /// Where it came from, for messages: `--var`, a var file, the environment.
    origin: String,
}

/// Binds the root stack's variables from the inputs, by precedence:
/// `--var`, then `--var-file` (later files first), then `STACK_VAR_*`, then the default.
///
/// A variable without any value is unknown (fine for `validate`), or an error
/// when `require_values` is set (plan and apply need every value).
pub(crate) fn bind_root(
    unit: &crate::decl::Unit,
    inputs: &Inputs,
    require_values: bool,
    sources: &mut stack_diagnostics::Sources,
) -> (indexmap::IndexMap<String, crate::eval::Binding>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let mut given: std::collections::HashMap<String, Given> = std::collections::HashMap::new();
    let names: Vec<&str> = unit.variables.keys().map(String::as_str).collect();
    let unknown = |name: &str| {
        Diagnostic::error(
            "stack::unknown_variable",
            format!("the stack declares no variable `{name}`"),
        )
        .help(crate::suggest::did_you_mean(
            name,
            "variable",
            names.iter().copied(),
        ))
    };
    for path in &inputs.var_files {
        for (name, name_span, value) in read_var_file(path, sources, &mut problems) {
            if unit.variables.contains_key(&name) {
                let origin = format!("--var-file {}", path.display());
                given.insert(name, Given { value, origin });
            } else {
                problems.push(unknown(&name).primary(name_span, "not a variable of this stack"));
            }
        }
    }
    // --var wins over files: insert last, overwriting.
    for (name, text) in &inputs.vars {
        match unit.variables.get(name) {
            Some(variable) => {
                let value = Value::new(Data::Str(text.clone()), variable.name_span);
                given.insert(
                    name.clone(),
                    Given {
                        value,
                        origin: format!("--var {name}=..."),
                    },
                );
            }
            None => problems.push(unknown(name)),
        }
    }
    let mut bindings = indexmap::IndexMap::new();
    for (name, variable) in &unit.variables {
        let env_key = crate::lower::env_name(name);
        let from_env = || {
            inputs.env.get(&env_key).map(|text| Given {
                value: Value::new(Data::Str(text.clone()), variable.name_span),
                origin: format!("STACK_VAR_{env_key}"),
            })
        };
        let value = match given.remove(name).or_else(from_env) {
            Some(Given { value, origin }) => match coerce(variable.ty, value.clone()) {
                Ok(value) => {
                    problems.extend(check_rules(variable, &value, value.span));
                    value
                }
                Err(message) => {
                    let shown = if variable.sensitive {
                        "the value given is not valid".to_owned()
                    } else {
                        message
                    };
                    problems.push(
                        Diagnostic::error(
                            "stack::variable_invalid",
                            format!(
                                "the value of `{name}` from {origin} is not {}",
                                with_article(type_name(variable.ty))
                            ),
                        )
                        .primary(value.span, shown)
                        .help(format!("`{name}` is declared as {}", type_name(variable.ty))),
                    );
                    Value::new(Data::Unknown, value.span)
                }
            },
            None => match &variable.default {
                Some(default) => default.clone(),
                None => {
                    if require_values {
                        let what = variable
                            .description
                            .as_ref()
                            .map(|text| format!(" ({text})"))
                            .unwrap_or_default();
                        problems.push(
                            Diagnostic::error("stack::variable_unset", format!("variable `{name}`{what} has no value"))
                                .primary(variable.name_span, "required: it has no default")
                                .help(format!("set it with --var {name}=VALUE, with the environment variable STACK_VAR_{env_key}, or in a --var-file")),
                        );
                    }
                    Value::new(Data::Unknown, variable.name_span)
                }
            },
        };
        let value = Value {
            sensitive: variable.sensitive,
            ..value
        };
        bindings.insert(name.clone(), crate::eval::Binding::Ready(value));
    }
    (bindings, problems)
}

/// Reads `name value` lines of a var file.
fn read_var_file(
    path: &std::path::Path,
    sources: &mut stack_diagnostics::Sources,
    problems: &mut Vec<Diagnostic>,
) -> Vec<(String, Span, Value)> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            problems.push(Diagnostic::error(
                "stack::io",
                format!("cannot read var file {}: {error}", path.display()),
            ));
            return Vec::new();
        }
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let file = sources.add(path.display().to_string(), path, text);
    if let Err(problem) = stack_syntax::read(file, &bytes) {
        problems.push(problem);
        return Vec::new();
    }
    let text = sources.get(file).shared_text();
    let parsed = stack_syntax::parse(file, &text);
    problems.extend(parsed.diagnostics);
    let Some(document) = parsed.document else {
        return Vec::new();
    };
    let span_of = |range| Span::from_miette(file, range);
    let mut values = Vec::new();
    for node in document.nodes() {
        let name_span = span_of(node.name().span());
        let data = match node.entries() {
            [entry] if entry.name().is_none() => match entry.value() {
                kdl::KdlValue::String(text) => Some(Data::Str(text.clone())),
                kdl::KdlValue::Integer(number) => i64::try_from(*number).ok().map(Data::Int),
                kdl::KdlValue::Float(number) => Some(Data::Float(*number)),
                kdl::KdlValue::Bool(flag) => Some(Data::Bool(*flag)),
                kdl::KdlValue::Null => None,
            },
            _ => None,
        };
        match data {
            Some(data) if node.children().is_none() => {
                let span = node
                    .entries()
                    .first()
                    .map(|entry| span_of(entry.span()))
                    .unwrap_or(name_span);
                values.push((node.name().value().to_owned(), name_span, Value::new(data, span)));
            }
            _ => problems.push(
                Diagnostic::error("stack::invalid_value", "a var file line is a name and one value")
                    .primary(name_span, "expected: NAME VALUE")
                    .help("write one variable a line, like: replicas 3"),
            ),
        }
    }
    values
}
