//! The output text: lines, indentation and the tokens copied into it.

use stack_syntax::lexer::{TokenKind, is_newline};

const INDENT: &str = "    ";

pub(crate) struct Printer {
    out: String,
    at_line_start: bool,
    /// The current line holds something other than comments.
    line_has_code: bool,
    last: Option<TokenKind>,
}

impl Printer {
    pub fn with_capacity(capacity: usize) -> Printer {
        Printer {
            out: String::with_capacity(capacity),
            at_line_start: true,
            line_has_code: false,
            last: None,
        }
    }

    /// The kind of the last token written.
    pub fn last(&self) -> Option<TokenKind> {
        self.last
    }

    pub fn at_line_start(&self) -> bool {
        self.at_line_start
    }

    pub fn line_has_code(&self) -> bool {
        self.line_has_code
    }

    /// Ends the current line, if anything is on it, and leaves an empty line
    /// after it when `blank` (never at the start of the file, never two).
    pub fn new_line(&mut self, blank: bool) {
        if self.out.is_empty() {
            return;
        }
        if !self.at_line_start {
            self.out.push('\n');
        }
        if blank && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.at_line_start = true;
        self.line_has_code = false;
    }

    /// Writes a token: at the start of a line after `indent` levels of
    /// indentation, else after a space when `space`.
    pub fn write(&mut self, kind: TokenKind, text: &str, indent: usize, space: bool) {
        if self.at_line_start {
            for _ in 0..indent {
                self.out.push_str(INDENT);
            }
        } else if space {
            self.out.push(' ');
        }
        match kind {
            TokenKind::LineComment => self.out.push_str(text.trim_end()),
            TokenKind::BlockComment => push_lines(&mut self.out, text, true),
            // KDL reads every newline inside a string as `\n`, and keeps the
            // whitespace at the end of a multi-line string's lines.
            _ => push_lines(&mut self.out, text, false),
        }
        self.at_line_start = false;
        self.line_has_code |= !kind.is_comment();
        self.last = Some(kind);
    }

    /// The text, ending with exactly one newline unless it is empty.
    pub fn finish(mut self) -> String {
        let content_len = self.out.trim_end_matches('\n').len();
        self.out.truncate(content_len);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

/// Copies `text` with every KDL newline as `\n`, and the whitespace at the
/// end of each line but the last removed when `trim_line_ends`.
fn push_lines(out: &mut String, text: &str, trim_line_ends: bool) {
    let mut rest = text;
    while let Some((index, newline)) = rest.char_indices().find(|&(_, c)| is_newline(c)) {
        let line = &rest[..index];
        out.push_str(if trim_line_ends { line.trim_end() } else { line });
        out.push('\n');
        let after = &rest[index + newline.len_utf8()..];
        rest = if newline == '\r' {
            after.strip_prefix('\n').unwrap_or(after)
        } else {
            after
        };
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, trim: bool) -> String {
        let mut out = String::new();
        push_lines(&mut out, text, trim);
        out
    }

    #[test]
    fn every_newline_becomes_a_line_feed() {
        assert_eq!(lines("a\r\nb\rc\u{2028}d\u{85}e", false), "a\nb\nc\nd\ne");
    }

    #[test]
    fn trims_line_ends_only_when_asked() {
        assert_eq!(lines("/* a  \r\n b */", true), "/* a\n b */");
        assert_eq!(lines("\"\"\"\n a  \n \"\"\"", false), "\"\"\"\n a  \n \"\"\"");
    }

    #[test]
    fn finish_ends_with_one_newline() {
        let mut printer = Printer::with_capacity(0);
        printer.write(TokenKind::Atom, "a", 0, false);
        printer.new_line(true);
        assert_eq!(printer.finish(), "a\n");
        assert_eq!(Printer::with_capacity(0).finish(), "");
    }
}
