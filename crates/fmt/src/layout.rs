//! The layout rules, applied in one pass over the tokens of a valid document.
//!
//! Whitespace between tokens is dropped and put back canonically: what
//! matters is where nodes end (newline, `;`, `}`, a line comment), which the
//! walk follows with a little state.

use stack_syntax::lexer::{Token, TokenKind, tokenize};

use crate::printer::Printer;

/// Formats the tokens of `text`, which kdl has accepted.
pub(crate) fn format_tokens(text: &str) -> String {
    let mut layout = Layout {
        text,
        printer: Printer::with_capacity(text.len() + text.len() / 8),
        depth: 0,
        in_node: false,
        newlines: 0,
        block_empty: false,
        after_slashdash: false,
        after_continuation: false,
        on_continuation_line: false,
        keep_empty_line: false,
    };
    for token in tokenize(text) {
        layout.token(token);
    }
    layout.printer.finish()
}

struct Layout<'a> {
    text: &'a str,
    printer: Printer,
    /// How many children blocks are open.
    depth: usize,
    /// A node has started and has not ended yet; after a children block's
    /// `}` this is its node again, which may still have a comment or a
    /// slashdashed block on its line.
    in_node: bool,
    /// Newlines seen between nodes since the last token written.
    newlines: usize,
    /// Nothing has been written since the last `{`.
    block_empty: bool,
    /// A `/-` was written, and what it comments out has not started yet:
    /// newlines before it do not end anything.
    after_slashdash: bool,
    /// A `\` was written on this line: the next newline continues the node.
    after_continuation: bool,
    /// The current line continues a node and nothing is on it yet.
    on_continuation_line: bool,
    /// A node ended on an empty continuation line; that line must stay empty,
    /// or whatever comes next would continue the node.
    keep_empty_line: bool,
}

impl Layout<'_> {
    fn token(&mut self, token: Token) {
        match token.kind {
            TokenKind::Whitespace => {}
            TokenKind::Newline => self.newline(),
            TokenKind::Semicolon => self.end_node(),
            // Between nodes a `\` continues nothing: it is only whitespace.
            TokenKind::LineContinuation if !self.in_node => {}
            TokenKind::LineContinuation => {
                self.write(token);
                self.after_continuation = true;
            }
            TokenKind::OpenBrace => {
                self.write(token);
                self.depth += 1;
                self.in_node = false;
                self.after_slashdash = false;
            }
            TokenKind::CloseBrace => self.close_block(token),
            TokenKind::Slashdash => {
                self.write_part(token);
                self.after_slashdash = true;
            }
            TokenKind::LineComment | TokenKind::BlockComment => {
                if self.in_node || self.after_slashdash {
                    self.write(token);
                } else {
                    self.write_item(token);
                }
            }
            TokenKind::Equals
            | TokenKind::OpenParen
            | TokenKind::CloseParen
            | TokenKind::Atom
            | TokenKind::String
            | TokenKind::MultiLineString
            | TokenKind::RawString
            | TokenKind::MultiLineRawString => {
                self.write_part(token);
                self.in_node = true;
                self.after_slashdash = false;
            }
        }
    }

    fn newline(&mut self) {
        if self.after_continuation {
            self.after_continuation = false;
            self.printer.new_line(false);
            self.on_continuation_line = true;
        } else if self.after_slashdash {
            // `/-` reaches across newlines to what it comments out.
        } else if self.in_node {
            self.end_node();
            self.newlines = 1;
        } else {
            self.newlines += 1;
        }
    }

    fn end_node(&mut self) {
        if self.in_node {
            self.in_node = false;
            self.keep_empty_line |= self.on_continuation_line;
        }
    }

    fn close_block(&mut self, token: Token) {
        self.end_node();
        // `}` ends the node on its own: it may stand on the continuation line.
        self.keep_empty_line = false;
        self.depth = self.depth.saturating_sub(1);
        if !self.block_empty {
            self.printer.new_line(false);
        }
        self.write(token);
        self.in_node = true;
    }

    /// A token of a node: its first one starts a new line, the others follow.
    fn write_part(&mut self, token: Token) {
        if self.in_node || self.after_slashdash {
            self.write(token);
        } else {
            self.write_item(token);
        }
    }

    /// A node's first token, or a comment between nodes: on a new line,
    /// except an inline comment after a node and a node after an inline
    /// comment, which stay on their line.
    fn write_item(&mut self, token: Token) {
        let stays_on_line = self.newlines == 0
            && !self.printer.at_line_start()
            && (token.kind.is_comment()
                || !self.printer.line_has_code() && self.printer.last() == Some(TokenKind::BlockComment));
        if !stays_on_line {
            let after_open_brace = self.printer.last() == Some(TokenKind::OpenBrace);
            let blank = self.keep_empty_line || self.newlines >= 2 && !after_open_brace;
            self.printer.new_line(blank);
        }
        self.keep_empty_line = false;
        self.write(token);
    }

    /// Writes a token on the current line; a line comment before it ends the line.
    fn write(&mut self, token: Token) {
        let last = self.printer.last();
        if last == Some(TokenKind::LineComment) && !self.printer.at_line_start() {
            self.printer.new_line(false);
        }
        let indent = self.depth + usize::from(self.in_node);
        let space = space_between(last, token.kind);
        self.printer
            .write(token.kind, token.text(self.text), indent, space);
        self.newlines = 0;
        self.block_empty = token.kind == TokenKind::OpenBrace;
        self.on_continuation_line = false;
    }
}

/// Whether one space separates two tokens on a line: not inside `(type)`,
/// not around `=`, not after `/-`, not in `{}`.
fn space_between(previous: Option<TokenKind>, next: TokenKind) -> bool {
    use TokenKind::*;
    match (previous, next) {
        (None | Some(OpenParen | Equals), _) => false,
        (Some(Slashdash | CloseParen), next) => next.is_comment(),
        (_, CloseParen | Equals) => false,
        (Some(OpenBrace), CloseBrace) => false,
        _ => true,
    }
}
