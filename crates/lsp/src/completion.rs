//! What may be written at the cursor: kinds, fields, enum values, names.

use lsp_types::{CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind};
use stack_language::schema::{Schema, Type};
use stack_language::{Index, SymbolKind, TOP_LEVEL};

use crate::context::{Context, Place};
use crate::fields::{self, Nodes};

/// The completions at the cursor, for a file of `scope` in `index`.
pub fn complete(schema: &Schema, index: &Index, scope: usize, context: &Context) -> Vec<CompletionItem> {
    let quoted = !context.in_string();
    match &context.place {
        Place::NodeName => match fields::nodes(schema, &context.path) {
            Nodes::TopLevel => TOP_LEVEL
                .iter()
                .map(|name| item(name, CompletionItemKind::KEYWORD, None, None))
                .chain(kinds(schema))
                .collect(),
            Nodes::Kinds => kinds(schema).collect(),
            Nodes::Fields(fields) => fields
                .into_iter()
                .map(|field| {
                    item(
                        field.name,
                        CompletionItemKind::FIELD,
                        Some(fields::describe(field)),
                        Some(field.doc),
                    )
                })
                .collect(),
            Nodes::Free => Vec::new(),
        },
        Place::Argument(position) => {
            let Some(field) = fields::field(schema, &context.path, &context.node) else {
                return Vec::new();
            };
            fields::argument_type(field, *position)
                .map(|ty| values(ty, index, scope, quoted))
                .unwrap_or_default()
        }
        Place::PropertyValue(key) => {
            let Some(field) = fields::field(schema, &context.path, &context.node) else {
                return Vec::new();
            };
            fields::property_type(field, key)
                .map(|ty| values(ty, index, scope, quoted))
                .unwrap_or_default()
        }
        Place::Interpolation(written) => interpolation(schema, index, scope, written),
        Place::PropertyKey => Vec::new(),
    }
}

fn kinds(schema: &Schema) -> impl Iterator<Item = CompletionItem> + '_ {
    schema
        .kinds()
        .map(|kind| item(kind.name, CompletionItemKind::CLASS, None, Some(kind.doc)))
}

/// The values a `ty` may take: an enum's, or the names of resources in scope.
fn values(ty: Type, index: &Index, scope: usize, quoted: bool) -> Vec<CompletionItem> {
    let names: Vec<(String, &'static str)> = match ty {
        Type::Enum(options) => options.iter().map(|option| ((*option).to_owned(), "")).collect(),
        Type::Ref(kind) => index
            .in_scope(scope)
            .filter(|symbol| matches!(symbol.kind, SymbolKind::Resource(k) if k.name == kind))
            .map(|symbol| (symbol.name.clone(), kind))
            .collect(),
        // A bare name is a service; anything else is written with its kind.
        Type::Dependency => index
            .in_scope(scope)
            .filter_map(|symbol| match symbol.kind {
                SymbolKind::Resource(kind) if kind.name == "service" => {
                    Some((symbol.name.clone(), "service"))
                }
                SymbolKind::Resource(kind) => Some((symbol.address(), kind.name)),
                SymbolKind::Module { .. } => Some((symbol.address(), "module")),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .map(|(name, detail)| {
            let kind = if detail.is_empty() {
                CompletionItemKind::ENUM_MEMBER
            } else {
                CompletionItemKind::REFERENCE
            };
            let mut completion = item(&name, kind, (!detail.is_empty()).then(|| detail.to_owned()), None);
            if quoted {
                completion.insert_text = Some(format!("\"{name}\""));
            }
            completion
        })
        .collect()
}

/// Inside `${`: the roots of expressions, then the names under the one written.
fn interpolation(schema: &Schema, index: &Index, scope: usize, written: &str) -> Vec<CompletionItem> {
    let Some((root, _)) = written.split_once('.') else {
        return ["var", "module"]
            .into_iter()
            .chain(schema.kinds().map(|kind| kind.name))
            .map(|name| item(name, CompletionItemKind::KEYWORD, None, None))
            .collect();
    };
    index
        .in_scope(scope)
        .filter(|symbol| match (&symbol.kind, root) {
            (SymbolKind::Variable { .. }, "var") | (SymbolKind::Module { .. }, "module") => true,
            (SymbolKind::Resource(kind), root) => kind.name == root,
            _ => false,
        })
        .map(|symbol| {
            let detail = match &symbol.kind {
                SymbolKind::Variable { ty, .. } => (*ty).to_owned(),
                SymbolKind::Module { source, .. } => source.clone(),
                _ => symbol.address(),
            };
            item(&symbol.name, CompletionItemKind::REFERENCE, Some(detail), None)
        })
        .collect()
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>, doc: Option<&str>) -> CompletionItem {
    CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        detail,
        documentation: doc.map(|doc| {
            Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: doc.to_owned(),
            })
        }),
        ..CompletionItem::default()
    }
}
