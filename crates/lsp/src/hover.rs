//! What a name at the cursor is: a resource, a variable, a module, a field of a kind.

use stack_language::schema::{Effect, Field, KindSchema, Schema};
use stack_language::{Index, Symbol, SymbolKind};

use crate::context::{self, Place};
use crate::fields;

/// Markdown about what is at `offset` of `text` (the file `file` of the analysis).
pub fn hover(
    schema: &Schema,
    index: &Index,
    file: stack_diagnostics::FileId,
    text: &str,
    offset: usize,
) -> Option<String> {
    if let Some(symbol) = index.symbol_at(file, offset) {
        return Some(symbol_doc(&index.symbols[symbol]));
    }
    let context = context::at(text, offset);
    match context.place {
        Place::NodeName if context.path.is_empty() || context.path == ["overlay"] => {
            schema.kind(&context.node).map(kind_doc)
        }
        Place::NodeName => {
            let field = fields::field(schema, &context.path, &context.node)?;
            let kind = fields::kind(schema, &context.path)?;
            Some(field_doc(field, kind))
        }
        Place::PropertyKey => {
            let key = context::unquote(context.token?.text(text));
            let field = fields::field(schema, &context.path, &context.node)?;
            let stack_language::schema::Shape::Record { props, .. } = &field.shape else {
                return None;
            };
            let prop = props.iter().find(|prop| prop.name == key)?;
            let default = prop
                .default
                .map(|default| format!("\n\ndefault: `{default}`"))
                .unwrap_or_default();
            Some(format!(
                "**{key}**: {}\n\n{}{default}",
                prop.ty.describe(),
                prop.doc
            ))
        }
        _ => None,
    }
}

fn symbol_doc(symbol: &Symbol) -> String {
    let address = symbol.address();
    match &symbol.kind {
        SymbolKind::Resource(kind) => format!("**{address}**: {}\n\n{}", kind.name, kind.doc),
        SymbolKind::Variable {
            ty,
            description,
            default,
        } => {
            let mut doc = format!("**{address}**: {ty}");
            if let Some(description) = description {
                doc.push_str(&format!("\n\n{description}"));
            }
            if let Some(default) = default {
                doc.push_str(&format!("\n\ndefault: `{default}`"));
            }
            doc
        }
        SymbolKind::Module { source, .. } => format!("**{address}**: module `{source}`"),
        SymbolKind::Output => format!("**{address}**: output"),
    }
}

fn kind_doc(kind: &KindSchema) -> String {
    format!("**{}**: resource kind\n\n{}", kind.name, kind.doc)
}

/// A field's type, default, what changing it does to the live object, and its doc.
fn field_doc(field: &Field, kind: &KindSchema) -> String {
    let mut doc = format!("**{}**: {}", field.name, fields::describe(field));
    if field.required {
        doc.push_str(", required");
    }
    if let Some(default) = field.default {
        doc.push_str(&format!("\n\ndefault: `{default}`"));
    }
    let change = match field.effect {
        Effect::InPlace => format!("a change updates the {} in place", kind.name),
        Effect::Replace => format!("a change cannot be made in place: {}", kind.on_replace),
    };
    doc.push_str(&format!("\n\n{change}\n\n{}", field.doc));
    doc
}
