//! Definitions, references, symbols, rename and formatting.

use std::collections::HashMap;

use lsp_types::{Location, Range, SymbolInformation, TextEdit, Url, WorkspaceEdit};
use stack_diagnostics::{FileId, Sources};
use stack_language::{Index, Symbol, SymbolKind, valid_name, valid_segment};

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

/// Renames the resource, variable or module call at `offset` where it is
/// declared and everywhere it is used; refuses a name that is not valid or
/// that another of its kind already has.
pub fn rename(
    index: &Index,
    sources: &Sources,
    file: FileId,
    offset: usize,
    new_name: &str,
) -> Result<WorkspaceEdit, String> {
    let id = index
        .symbol_at(file, offset)
        .ok_or("there is no name to rename here")?;
    let symbol = &index.symbols[id];
    let (valid, rule) = match symbol.kind {
        SymbolKind::Resource(_) | SymbolKind::Module { .. } => (
            valid_name(new_name),
            "names use lowercase letters, digits, `-` and `_`, and start with a letter or digit",
        ),
        SymbolKind::Variable { .. } => (
            valid_segment(new_name),
            "variable names use letters, digits, `-` and `_`",
        ),
        SymbolKind::Output => {
            return Err("outputs cannot be renamed: only resources, variables and modules".to_owned());
        }
    };
    if !valid {
        return Err(format!("`{new_name}` is not a valid name: {rule}"));
    }
    let renamed = Symbol {
        name: new_name.to_owned(),
        ..symbol.clone()
    };
    if let Some(taken) = index
        .in_scope(symbol.scope)
        .find(|other| other.address() == renamed.address())
        .filter(|other| other.span != symbol.span)
    {
        let mut locator = Locator::new(sources);
        let place = locator
            .locate(taken.span)
            .map(|location| format!(" (line {})", location.range.start.line + 1))
            .unwrap_or_default();
        return Err(format!(
            "cannot rename {} to `{new_name}`: {} is already declared{place}",
            symbol.address(),
            renamed.address(),
        ));
    }
    let mut locator = Locator::new(sources);
    let declared = locator.locate(symbol.span).ok_or_else(|| {
        format!(
            "{} is declared in the standard library, which cannot be edited",
            symbol.address()
        )
    })?;
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    let declaration = match symbol.kind {
        // A call without `as=` is named after its path: name it, and keep the path.
        SymbolKind::Module { named: false, .. } => {
            let text = sources.get(symbol.span.file).text();
            let after = closing_quote(text, symbol.span.end as usize);
            let at = LineIndex::new(text).position(after);
            TextEdit::new(Range::new(at, at), format!(" as=\"{new_name}\""))
        }
        _ => TextEdit::new(declared.range, new_name.to_owned()),
    };
    changes.entry(declared.uri).or_default().push(declaration);
    for location in index.references_to(id).filter_map(|span| locator.locate(span)) {
        changes
            .entry(location.uri)
            .or_default()
            .push(TextEdit::new(location.range, new_name.to_owned()));
    }
    Ok(WorkspaceEdit::new(changes))
}

/// Just past the string that goes on at `offset`: its closing quote and the `#`s of a raw string.
fn closing_quote(text: &str, offset: usize) -> usize {
    let rest = &text[offset..];
    let quote = rest.find('"').map_or(rest.len(), |at| at + 1);
    let hashes = rest[quote..].len() - rest[quote..].trim_start_matches('#').len();
    offset + quote + hashes
}

/// `stack fmt`'s layout of `text`, as one edit; none when it is already so
/// laid out or does not parse (its errors are among the diagnostics).
/// `parses` says whether the check of the stack found that it parses, when it read the file.
pub fn format(text: &str, parses: Option<bool>) -> Vec<TextEdit> {
    let mut sources = Sources::new();
    let file = sources.add("buffer", "buffer", text);
    let Ok(text) = stack_syntax::read(file, text.as_bytes()) else {
        return Vec::new();
    };
    let formatted = match parses {
        Some(true) => stack_fmt::format_parsed(text),
        Some(false) => return Vec::new(),
        None => match stack_fmt::format(file, text) {
            Ok(formatted) => formatted,
            Err(_) => return Vec::new(),
        },
    };
    if formatted == text {
        return Vec::new();
    }
    let whole = LineIndex::new(text).range(stack_diagnostics::Span::new(file, 0..text.len()));
    vec![TextEdit::new(whole, formatted)]
}
