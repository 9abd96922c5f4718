//! Compose's variable interpolation turned into stack variables.
//!
//! `${VAR}`, `$VAR`, `${VAR:-x}`, `${VAR-x}`, `${VAR:?msg}` and `${VAR?msg}`
//! become `${var.var}` with a `variable "var"` declared once: with the default
//! `x`, or required (described by `msg`). `$$` is a literal `$`. A value the
//! `.env` file gives becomes the default, as Compose would have used it.
//! Variables whose names look like credentials are `sensitive`, and never get
//! a default: the value stays out of the stack file.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use stack_diagnostics::{Diagnostic, Span};
use stack_language::looks_secret;

use crate::kdl::{Item, Node, Val, escape_template};
use crate::report::Report;

#[derive(Debug)]
pub struct Var {
    /// The name in the stack: `DB_PASSWORD` is `db-password`.
    pub name: String,
    pub default: Option<String>,
    /// What `${VAR:?msg}` says when the value is missing.
    pub description: Option<String>,
    pub sensitive: bool,
}

/// The variables found so far, and the values `.env` gives.
#[derive(Debug, Default)]
pub struct Vars {
    /// By the name Compose uses (`DB_PASSWORD`, or for a literal credential
    /// moved out of the file, the stack name).
    declared: IndexMap<String, Var>,
    env_file: HashMap<String, String>,
    /// Literal credentials already moved into a variable, by value: the same
    /// password written twice becomes one variable.
    moved: HashMap<String, String>,
    names: HashSet<String>,
    /// Declarations the importer adds itself, written first.
    own: Vec<Node>,
}

/// A piece of a Compose string.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Var { name: String, op: Op },
}

#[derive(Debug, PartialEq)]
enum Op {
    Plain,
    Default(String),
    Required(String),
    /// `${VAR:+x}`: `x` when set; no stack equivalent.
    Alternative(String),
}

impl Vars {
    pub fn new(env_file: HashMap<String, String>) -> Vars {
        Vars {
            env_file,
            ..Vars::default()
        }
    }

    /// A Compose string as the text of a stack string: variables become
    /// `${var.NAME}`. With `sensitive`, each variable used is marked sensitive
    /// (the value of a key that holds a credential).
    pub fn template(&mut self, text: &str, span: Span, sensitive: bool, report: &mut Report) -> String {
        let Some(pieces) = pieces(text, span, report) else {
            return escape_template(text);
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(&escape_template(&text)),
                Piece::Var { name, op } => {
                    let stack_name = self.declare(&name, &op, span, sensitive, report);
                    out.push_str(&format!("${{var.{stack_name}}}"));
                }
            }
        }
        out
    }

    /// A Compose string resolved to a fixed value, for a field that takes no
    /// variable (a port, a duration): the `.env` value, else the default.
    pub fn resolve(&mut self, text: &str, span: Span, report: &mut Report) -> String {
        let Some(pieces) = pieces(text, span, report) else {
            return text.to_owned();
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(&text),
                Piece::Var { name, op } => {
                    let value = self.env_file.get(&name).cloned().or(match op {
                        Op::Default(default) => Some(default),
                        _ => None,
                    });
                    report.warn(
                        "stack::compose_unsupported",
                        span,
                        format!("`${{{name}}}` was fixed at import: this field takes no variable in a stack"),
                        format!(
                            "the stack has `{}` here; declare a variable by hand to keep it open",
                            value.as_deref().unwrap_or("")
                        ),
                    );
                    out.push_str(&value.unwrap_or_default());
                }
            }
        }
        out
    }

    /// A literal credential taken out of the file: the stack reads it from a
    /// sensitive variable instead. Returns the template that stands for it.
    pub fn move_literal(&mut self, key: &str, value: &str, span: Span, report: &mut Report) -> String {
        let name = match self.moved.get(value) {
            Some(name) => name.clone(),
            None => {
                let name = self.unique(&kebab(key));
                self.declared.insert(
                    name.clone(),
                    Var {
                        name: name.clone(),
                        default: None,
                        description: Some(format!(
                            "{key}: its value in the Compose file is not copied into the stack"
                        )),
                        sensitive: true,
                    },
                );
                self.moved.insert(value.to_owned(), name.clone());
                name
            }
        };
        report.push_warning(
            Diagnostic::warning(
                "stack::compose_secret",
                format!("the literal credential in `{key}` was not copied into the stack"),
            )
            .primary(span, format!("now the sensitive variable `{name}`"))
            .help(format!(
                "give it a value when you run stack: STACK_VAR_{}=... or --var {name}=...; better, mount a `secret` and point the program at its file",
                name.replace('-', "_")
            )),
        );
        format!("${{var.{name}}}")
    }

    fn declare(
        &mut self,
        compose_name: &str,
        op: &Op,
        span: Span,
        sensitive: bool,
        report: &mut Report,
    ) -> String {
        let sensitive = sensitive || looks_secret(compose_name);
        let from_env_file = self.env_file.get(compose_name).cloned();
        if !self.declared.contains_key(compose_name) {
            let name = self.unique(&kebab(compose_name));
            self.declared.insert(
                compose_name.to_owned(),
                Var {
                    name,
                    default: None,
                    description: None,
                    sensitive: false,
                },
            );
        }
        let Some(var) = self.declared.get_mut(compose_name) else {
            return kebab(compose_name);
        };
        let default = match op {
            Op::Default(default) => Some(default.clone()),
            Op::Plain | Op::Required(_) => None,
            Op::Alternative(_) => {
                report.warn(
                    "stack::compose_unsupported",
                    span,
                    format!("`${{{compose_name}:+...}}` has no equivalent in a stack"),
                    "the stack uses the variable's value instead; rewrite the value by hand",
                );
                None
            }
        };
        if let Op::Required(message) = op
            && var.description.is_none()
        {
            var.description = Some(message.clone());
        }
        let default = from_env_file.or(default);
        if sensitive && !var.sensitive {
            var.sensitive = true;
            if var.default.take().is_some() || default.is_some() {
                report.warn(
                    "stack::compose_secret",
                    span,
                    format!("the default of `{compose_name}` is a credential: it was not copied into the stack"),
                    format!(
                        "the sensitive variable `{}` has no default: set it when you run stack (STACK_VAR_{})",
                        var.name,
                        var.name.replace('-', "_")
                    ),
                );
            }
        }
        if !var.sensitive {
            match (&var.default, default) {
                (None, Some(default)) => var.default = Some(default),
                (Some(first), Some(other)) if *first != other => report.warn(
                    "stack::compose_unsupported",
                    span,
                    format!("`{compose_name}` has another default here than before"),
                    format!("a stack variable has one default: `{first}` is kept"),
                ),
                _ => {}
            }
        }
        var.name.clone()
    }

    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut counter = 2;
        while self.names.contains(&name) {
            name = format!("{base}-{counter}");
            counter += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// The literal credentials moved into variables: each value with its variable's name.
    pub fn moved(&self) -> Vec<(String, String)> {
        self.moved
            .iter()
            .map(|(value, name)| (value.clone(), name.clone()))
            .collect()
    }

    pub fn prepend(&mut self, node: Node) {
        self.own.push(node);
    }

    /// The `variable` declarations, in the order they were first used.
    pub fn items(&self) -> Vec<Item> {
        let own = self.own.iter().cloned().map(Item::Node);
        own.chain(self.declared.values().map(|var| {
            let mut node = Node::new("variable")
                .arg(Val::str(&var.name))
                .prop("type", Val::str("string"));
            if let Some(default) = &var.default {
                node = node.prop("default", Val::literal(default));
            }
            if let Some(description) = &var.description {
                node = node.prop("description", Val::literal(description));
            }
            if var.sensitive {
                node = node.prop("sensitive", Val::Bool(true));
            }
            Item::Node(node)
        }))
        .collect()
    }
}

/// `DB_PASSWORD` as a stack name: `db-password`.
pub fn kebab(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '-' => c,
            _ => '-',
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "value".to_owned()
    } else {
        name.to_owned()
    }
}

/// Splits a Compose string into text and variables; `None` (with an error
/// reported) when an expression is not closed.
fn pieces(text: &str, span: Span, report: &mut Report) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            literal.push('$');
            rest = after;
        } else if let Some(inner) = rest.strip_prefix('{') {
            let Some(end) = closing_brace(inner) else {
                report.error(
                    "stack::compose_invalid",
                    span,
                    format!("`${{` without its `}}` in `{text}`"),
                    "close the expression, or write `$$` for a literal `$`",
                );
                return None;
            };
            let expression = &inner[..end];
            rest = &inner[end + 1..];
            let Some(piece) = expression_piece(expression) else {
                report.error(
                    "stack::compose_invalid",
                    span,
                    format!("`${{{expression}}}` is not a variable Compose can substitute"),
                    "write ${NAME}, ${NAME:-default} or ${NAME:?message}; `$$` is a literal `$`",
                );
                return None;
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                literal.push('$');
                continue;
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Var {
                name: rest[..len].to_owned(),
                op: Op::Plain,
            });
            rest = &rest[len..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Some(pieces)
}

/// The `}` that closes an expression, skipping nested `${...}` in defaults.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(at),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn expression_piece(expression: &str) -> Option<Piece> {
    let len = expression
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let name = &expression[..len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let rest = &expression[len..];
    let op = if rest.is_empty() {
        Op::Plain
    } else if let Some(default) = rest.strip_prefix(":-").or_else(|| rest.strip_prefix('-')) {
        Op::Default(default.to_owned())
    } else if let Some(message) = rest.strip_prefix(":?").or_else(|| rest.strip_prefix('?')) {
        Op::Required(message.to_owned())
    } else if let Some(alternative) = rest.strip_prefix(":+").or_else(|| rest.strip_prefix('+')) {
        Op::Alternative(alternative.to_owned())
    } else {
        return None;
    };
    Some(Piece::Var {
        name: name.to_owned(),
        op,
    })
}

#[cfg(test)]
mod tests;
