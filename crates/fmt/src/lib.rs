//! The formatter behind `stack fmt`: the canonical layout of a KDL v2 file.
//!
//! It formats any valid KDL v2 document, not only valid stacks (as gofmt
//! formats code that does not compile). kdl parses the file once, to tell
//! whether it is valid; the layout is then one pass over the lexer's tokens,
//! which keep what kdl's own formatting drops (inline and trailing comments).
//!
//! The rules:
//! - one node per line, 4 spaces of indentation per children level; `;`
//!   between nodes becomes a line break;
//! - one space between a node's name and its entries, `key=value` with no
//!   spaces, `(type)value` with none either, `/-` right before what it
//!   comments out;
//! - ` {` ends the node's line and `}` stands alone at the node's indentation;
//!   a children block with nothing in it, not even a comment, is `name {}`;
//! - every comment stays, where it was relative to the nodes: a trailing
//!   `// x` or an inline `/* x */` stays on its line, one space away; the
//!   inner lines of a block comment are copied, less their trailing whitespace;
//! - blank lines: a run of them becomes one, none at the start or end of a
//!   block or of the file, which ends with exactly one newline (an empty
//!   document formats to an empty file); no trailing whitespace, `\n` newlines;
//! - a line continuation `\` stays, and the line it continues onto is
//!   indented one level deeper than the node (a `\` between nodes continues
//!   nothing: it goes, as other whitespace does);
//! - values are copied as written: strings (raw and multi-line ones too, with
//!   their inner lines and the trailing whitespace that belongs to their
//!   value), numbers and keywords. Only the newlines inside them become `\n`,
//!   which KDL reads the same;
//! - formatting is idempotent.

mod layout;
mod printer;

use stack_diagnostics::{Diagnostic, FileId};

/// The canonical layout of `text`, or the diagnostics that make it invalid
/// (then the file should be left as it is).
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = stack_syntax::parse(file, text);
    if parsed.document.is_none() || parsed.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(parsed.diagnostics);
    }
    Ok(format_parsed(text))
}

/// The canonical layout of a text already known to be valid (`stack_syntax::parse`
/// found no problem in it): an editor that has just checked the file needs no second parse.
pub fn format_parsed(text: &str) -> String {
    layout::format_tokens(text)
}

#[cfg(test)]
mod tests;
