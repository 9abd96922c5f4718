//! Definitions, references, symbols, rename and formatting.

use std::collections::HashMap;

use lsp_types::{Location, SymbolInformation, TextEdit, Url, WorkspaceEdit};
use stack_diagnostics::{FileId, Sources};
use stack_language::{Index, SymbolKind, valid_name};

use crate::text::{LineIndex, Locator};

/// Where the name at `offset` is declared.
pub fn definition(index: &Index, sources: &Sources, file: FileId, offset: usize) -> Option<Location> {
    let symbol = index.symbol_at(file, offset)?;
    Locator::new(sources).locate(index.symbols[symbol].span)
}

/// Where the name at `offset` is used, and declared when asked.
pub fn references(
    index: &Index,
    sources: &Sources,
    file: FileId,
    offset: usize,
    with_declaration: bool,
) -> Vec<Location> {
    let Some(symbol) = index.symbol_at(file, offset) else {
        return Vec::new();
    };
    let mut locator = Locator::new(sources);
    let declaration = with_declaration.then_some(index.symbols[symbol].span);
    declaration
        .into_iter()
        .chain(index.references_to(symbol))
        .filter_map(|span| locator.locate(span))
        .collect()
}

/// The names `file` declares.
#[allow(deprecated)] // `SymbolInformation::deprecated` must be written, though it is deprecated.
pub fn symbols(index: &Index, sources: &Sources, file: FileId) -> Vec<SymbolInformation> {
    let mut locator = Locator::new(sources);
    index
        .symbols
        .iter()
        .filter(|symbol| symbol.span.file == file)
        .filter_map(|symbol| {
            Some(SymbolInformation {
                name: symbol.address(),
                kind: match symbol.kind {
                    SymbolKind::Resource(_) => lsp_types::SymbolKind::OBJECT,
                    SymbolKind::Variable { .. } => lsp_types::SymbolKind::VARIABLE,
                    SymbolKind::Module { .. } => lsp_types::SymbolKind::MODULE,
                    SymbolKind::Output => lsp_types::SymbolKind::PROPERTY,
                },
                tags: None,
                deprecated: None,
                location: locator.locate(symbol.span)?,
                container_name: None,
            })
        })
        .collect()
}

/// Renames the resource at `offset` where it is declared and everywhere it is used.
pub fn rename(
    index: &Index,
    sources: &Sources,
    file: FileId,
    offset: usize,
    new_name: &str,
) -> Result<WorkspaceEdit, String> {
    let symbol = index
        .symbol_at(file, offset)
        .ok_or("there is no name to rename here")?;
    if !matches!(index.symbols[symbol].kind, SymbolKind::Resource(_)) {
        return Err("only resources can be renamed".to_owned());
    }
    if !valid_name(new_name) {
        return Err(format!(
            "`{new_name}` is not a valid name: names use lowercase letters, digits, `-` and `_`"
        ));
    }
    let mut locator = Locator::new(sources);
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    let spans = std::iter::once(index.symbols[symbol].span).chain(index.references_to(symbol));
    for location in spans.filter_map(|span| locator.locate(span)) {
        changes
            .entry(location.uri)
            .or_default()
            .push(TextEdit::new(location.range, new_name.to_owned()));
    }
    Ok(WorkspaceEdit::new(changes))
}

/// `stack fmt`'s layout of `text`, as one edit; none when it is already so
/// laid out or does not parse (its errors are among the diagnostics).
pub fn format(text: &str) -> Vec<TextEdit> {
    let mut sources = Sources::new();
    let file = sources.add("buffer", "buffer", text);
    let Ok(text) = stack_syntax::read(file, text.as_bytes()) else {
        return Vec::new();
    };
    match stack_fmt::format(file, text) {
        Ok(formatted) if formatted != text => {
            let whole = LineIndex::new(text).range(stack_diagnostics::Span::new(file, 0..text.len()));
            vec![TextEdit::new(whole, formatted)]
        }
        _ => Vec::new(),
    }
}
