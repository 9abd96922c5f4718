//! Strings with `${...}` in them.
//!
//! Interpolation happens only inside quoted strings. An expression is a dotted
//! path: `var.name`, `service.api`, `network.backend.subnet`, `module.db.url`.
//! `$${` writes a literal `${`.

use stack_diagnostics::{Diagnostic, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

/// A `${...}` expression: its dotted path and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub path: Vec<String>,
    pub span: Span,
}

impl Expr {
    pub fn text(&self) -> String {
        self.path.join(".")
    }
}

impl Template {
    /// Parses `text`, whose quoted form starts at `span` in the source (`source_text`
    /// is that quoted form, used to point at each expression exactly).
    ///
    /// Returns `Ok(None)` when the string has no interpolation at all.
    pub fn parse(text: &str, span: Span, source_text: &str) -> Result<Option<Template>, Diagnostic> {
        if !text.contains("${") {
            return Ok(None);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if rest[..start].ends_with('$') {
                // `$${` is an escaped, literal `${`.
                literal.push_str(&rest[..start - 1]);
                literal.push_str("${");
                rest = &rest[start + 2..];
                continue;
            }
            literal.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(
                    Diagnostic::error("stack::invalid_interpolation", "`${` is never closed")
                        .primary(span, "this string opens `${` without a closing `}`")
                        .help(
                            "close the expression, e.g. \"${var.name}\", or write `$${` for a literal `${`",
                        ),
                );
            };
            let expression = &after[..end];
            let expr_span = locate(span, source_text, &format!("${{{expression}}}"));
            let path = parse_path(expression).ok_or_else(|| {
                Diagnostic::error(
                    "stack::invalid_interpolation",
                    format!("`${{{expression}}}` is not a valid expression"),
                )
                .primary(expr_span, "expected a dotted path like `var.name` or `service.api`")
                .help("expressions name a variable (`var.NAME`), a resource (`KIND.NAME` or `KIND.NAME.FIELD`) or a module output (`module.ALIAS.OUTPUT`)")
            })?;
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Expr(Expr {
                path,
                span: expr_span,
            }));
            rest = &after[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Some(Template {
            source: text.to_owned(),
            parts,
        }))
    }

    /// The string as written, with its `${...}`.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The single expression, when the whole string is one `${...}`: its value
    /// then keeps its type (a number stays a number, a reference a reference).
    pub fn sole_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(expr)] => Some(expr),
            _ => None,
        }
    }
}

fn parse_path(expression: &str) -> Option<Vec<String>> {
    let path: Vec<String> = expression.trim().split('.').map(str::to_owned).collect();
    path.iter().all(|segment| valid_segment(segment)).then_some(path)
}

/// Whether `name` can be one part of a `${...}` path: a variable's name, for one.
pub fn valid_segment(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Narrows `span` to where `needle` stands in the quoted source, when it can be found.
fn locate(span: Span, source_text: &str, needle: &str) -> Span {
    match source_text.find(needle) {
        Some(offset) => {
            let start = span.start as usize + offset;
            Span::new(span.file, start..start + needle.len())
        }
        None => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_diagnostics::Sources;

    fn span() -> Span {
        let mut sources = Sources::new();
        Span::new(sources.add("t", "t", ""), 0..0)
    }

    fn parse(text: &str) -> Result<Option<Template>, Diagnostic> {
        Template::parse(text, span(), &format!("{text:?}"))
    }

    #[test]
    fn plain_strings_are_not_templates() {
        assert_eq!(parse("hello").ok().flatten(), None);
    }

    #[test]
    fn splits_text_and_expressions() {
        let template = parse("redis://${service.cache}:6379")
            .ok()
            .flatten()
            .expect("a template");
        assert_eq!(template.parts().len(), 3);
        let exprs: Vec<String> = template
            .parts()
            .iter()
            .filter_map(|part| match part {
                Part::Expr(expr) => Some(expr.text()),
                Part::Text(_) => None,
            })
            .collect();
        assert_eq!(exprs, ["service.cache"]);
        assert!(template.sole_expr().is_none());
    }

    #[test]
    fn a_lone_expression_is_sole() {
        let template = parse("${var.replicas}").ok().flatten().expect("a template");
        assert_eq!(
            template.sole_expr().map(Expr::text).as_deref(),
            Some("var.replicas")
        );
    }

    #[test]
    fn double_dollar_escapes() {
        let template = parse("cost: $${price} and ${var.x}")
            .ok()
            .flatten()
            .expect("a template");
        assert_eq!(template.parts()[0], Part::Text("cost: ${price} and ".to_owned()));
    }

    #[test]
    fn rejects_unclosed_and_invalid() {
        assert!(parse("${var.x").is_err());
        assert!(parse("${var x}").is_err());
        assert!(parse("${}").is_err());
    }
}
