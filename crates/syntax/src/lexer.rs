//! A lenient KDL v2 lexer: text to tokens with byte ranges.
//!
//! It accepts any text: what KDL does not allow still becomes tokens (most
//! often atoms), and unterminated strings and comments run to the end of the
//! input. Every token covers at least one character, so lexing ends, and each
//! byte is looked at a bounded number of times, so it takes linear time. It
//! never recurses: nested block comments are a counter.
//!
//! On a valid document the tokens are the ones kdl sees, which is what the
//! checks of this crate and the formatter rely on.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A run of KDL unicode spaces (tabs, spaces, ...), or the byte order mark
    /// at the very start of the text.
    Whitespace,
    /// One newline, of any KDL form (`\r\n` is one).
    Newline,
    /// `// ...` up to, not including, the newline.
    LineComment,
    /// `/* ... */`, nested ones included.
    BlockComment,
    /// `/-`: comments out the node, entry or children block after it.
    Slashdash,
    /// `\`: continues a node on the next line.
    LineContinuation,
    OpenBrace,
    CloseBrace,
    Semicolon,
    Equals,
    OpenParen,
    CloseParen,
    /// `"..."`.
    String,
    /// `"""` newline ... `"""`.
    MultiLineString,
    /// `#"..."#`, with any number of `#`.
    RawString,
    /// `#"""` newline ... `"""#`, with any number of `#`.
    MultiLineRawString,
    /// Anything else up to a delimiter: identifiers, numbers, keywords (`#true`).
    Atom,
}

impl TokenKind {
    pub fn is_comment(self) -> bool {
        matches!(self, TokenKind::LineComment | TokenKind::BlockComment)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    /// The token's text in the `source` it was lexed from.
    pub fn text(self, source: &str) -> &str {
        source.get(self.range()).unwrap_or("")
    }
}

/// The tokens of `text`, in order, covering all of it.
pub fn tokenize(text: &str) -> Lexer<'_> {
    Lexer { text, position: 0 }
}

/// An iterator over the tokens of a text; see [`tokenize`].
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    text: &'a str,
    position: usize,
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let start = self.position;
        let rest = self.text.get(start..).filter(|rest| !rest.is_empty())?;
        let (kind, len) = lex_one(rest, start == 0);
        // Every branch of `lex_one` consumes at least one character; the
        // `max` is a second guard that the lexer always moves on.
        let first_char = rest.chars().next().map_or(1, char::len_utf8);
        self.position = start + len.max(first_char);
        Some(Token {
            kind,
            start,
            end: self.position,
        })
    }
}

/// The kind and byte length of the token at the start of `rest` (not empty).
fn lex_one(rest: &str, at_text_start: bool) -> (TokenKind, usize) {
    let bytes = rest.as_bytes();
    let Some(first) = rest.chars().next() else {
        return (TokenKind::Atom, 0);
    };
    let second = bytes.get(1).copied();
    match first {
        '\u{FEFF}' if at_text_start => (TokenKind::Whitespace, first.len_utf8()),
        _ if is_unicode_space(first) => (TokenKind::Whitespace, prefix_len(rest, is_unicode_space)),
        _ if is_newline(first) => (TokenKind::Newline, newline_len(rest)),
        '/' if second == Some(b'/') => (TokenKind::LineComment, prefix_len(rest, |c| !is_newline(c))),
        '/' if second == Some(b'*') => (TokenKind::BlockComment, block_comment_len(bytes)),
        '/' if second == Some(b'-') => (TokenKind::Slashdash, 2),
        '\\' => (TokenKind::LineContinuation, 1),
        '{' => (TokenKind::OpenBrace, 1),
        '}' => (TokenKind::CloseBrace, 1),
        ';' => (TokenKind::Semicolon, 1),
        '=' => (TokenKind::Equals, 1),
        '(' => (TokenKind::OpenParen, 1),
        ')' => (TokenKind::CloseParen, 1),
        '"' if rest.starts_with("\"\"\"") => (TokenKind::MultiLineString, quoted_len(bytes, 3)),
        '"' => (TokenKind::String, quoted_len(bytes, 1)),
        '#' => raw_string(rest).unwrap_or((TokenKind::Atom, atom_len(rest))),
        _ => (TokenKind::Atom, atom_len(rest)),
    }
}

/// The KDL v2 unicode-space table.
pub(crate) fn is_unicode_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// The KDL v2 newline table (`\r\n` counts as one newline, see [`newline_len`]).
pub fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\r' | '\n' | '\u{0085}' | '\u{000B}' | '\u{000C}' | '\u{2028}' | '\u{2029}'
    )
}

/// The length of the newline at the start of `rest`, 0 if there is none.
pub(crate) fn newline_len(rest: &str) -> usize {
    if rest.starts_with("\r\n") {
        return 2;
    }
    rest.chars()
        .next()
        .filter(|&c| is_newline(c))
        .map_or(0, char::len_utf8)
}

/// The length of the longest prefix of `rest` whose characters match `keep`.
fn prefix_len(rest: &str, keep: impl Fn(char) -> bool) -> usize {
    rest.char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(rest.len(), |(index, _)| index)
}

/// `/* ... */` with nesting; an unterminated comment runs to the end.
fn block_comment_len(bytes: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        match (bytes[index], bytes.get(index + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                index += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                index += 2;
                if depth == 0 {
                    return index;
                }
            }
            _ => index += 1,
        }
    }
    bytes.len()
}

/// A quoted string opened by `quotes` (1 or 3) double quotes, up to the same
/// number of unescaped quotes; an unterminated one runs to the end.
fn quoted_len(bytes: &[u8], quotes: usize) -> usize {
    let mut index = quotes;
    while index < bytes.len() {
        match bytes[index] {
            // Skipping the escaped byte is enough, even for a whitespace
            // escape: none of the bytes it may span is a quote.
            b'\\' => index += 2,
            b'"' if bytes[index..].iter().take(quotes).filter(|&&b| b == b'"').count() == quotes => {
                return index + quotes;
            }
            _ => index += 1,
        }
    }
    bytes.len()
}

/// `#"..."#`, `##"..."##`, `#"""` newline ... `"""#`: the hashes, then a
/// quote. `None` when `rest` is not a raw string (a keyword such as `#true`).
fn raw_string(rest: &str) -> Option<(TokenKind, usize)> {
    let hashes = rest.bytes().take_while(|&b| b == b'#').count();
    let after_hashes = &rest[hashes..];
    if !after_hashes.starts_with('"') {
        return None;
    }
    // As kdl does, `"""` opens a multi-line raw string only when a newline follows.
    let multi_line = after_hashes.starts_with("\"\"\"") && newline_len(&after_hashes[3..]) > 0;
    let (kind, quotes) = if multi_line {
        (TokenKind::MultiLineRawString, "\"\"\"")
    } else {
        (TokenKind::RawString, "\"")
    };
    let body_start = hashes + quotes.len();
    let closing = format!("{quotes}{}", "#".repeat(hashes));
    let len = rest[body_start..]
        .find(&closing)
        .map_or(rest.len(), |offset| body_start + offset + closing.len());
    Some((kind, len))
}

/// An identifier, number or keyword: everything up to the next delimiter.
fn atom_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut chars = rest.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        let ends = match c {
            '{' | '}' | '(' | ')' | ';' | '=' | '"' | '\\' => true,
            '/' => matches!(bytes.get(index + 1), Some(b'/' | b'*' | b'-')),
            // The `#`s of a raw string: kdl reads `#true##"x"##`, in a
            // node commented out with `/-`, as a keyword and a raw string.
            '#' => {
                let hashes = bytes[index..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(index + hashes) == Some(&b'"') {
                    true
                } else {
                    // The rest of the run, one byte each.
                    if hashes > 1 {
                        chars.nth(hashes - 2);
                    }
                    false
                }
            }
            _ => is_unicode_space(c) || is_newline(c),
        };
        if ends {
            return index;
        }
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind::*;

    fn kinds_and_texts(text: &str) -> Vec<(TokenKind, &str)> {
        tokenize(text)
            .map(|token| (token.kind, token.text(text)))
            .collect()
    }

    fn assert_covers(text: &str) {
        let mut expected_start = 0;
        for token in tokenize(text) {
            assert_eq!(token.start, expected_start, "gap before {token:?} in {text:?}");
            assert!(token.end > token.start, "empty token {token:?} in {text:?}");
            assert!(
                text.is_char_boundary(token.end),
                "{token:?} splits a character in {text:?}"
            );
            expected_start = token.end;
        }
        assert_eq!(
            expected_start,
            text.len(),
            "tokens do not reach the end of {text:?}"
        );
    }

    #[test]
    fn every_punctuation_and_atom() {
        assert_eq!(
            kinds_and_texts("(t)node a=1 { x; }"),
            vec![
                (OpenParen, "("),
                (Atom, "t"),
                (CloseParen, ")"),
                (Atom, "node"),
                (Whitespace, " "),
                (Atom, "a"),
                (Equals, "="),
                (Atom, "1"),
                (Whitespace, " "),
                (OpenBrace, "{"),
                (Whitespace, " "),
                (Atom, "x"),
                (Semicolon, ";"),
                (Whitespace, " "),
                (CloseBrace, "}"),
            ]
        );
    }

    #[test]
    fn keywords_and_numbers_are_atoms() {
        assert_eq!(
            kinds_and_texts("#true #-inf 0x1F -1.5e10"),
            vec![
                (Atom, "#true"),
                (Whitespace, " "),
                (Atom, "#-inf"),
                (Whitespace, " "),
                (Atom, "0x1F"),
                (Whitespace, " "),
                (Atom, "-1.5e10"),
            ]
        );
    }

    #[test]
    fn comments_and_slashdash() {
        assert_eq!(
            kinds_and_texts("a // x /* y\n/* 1 /* 2 */ 3 */b/-c"),
            vec![
                (Atom, "a"),
                (Whitespace, " "),
                (LineComment, "// x /* y"),
                (Newline, "\n"),
                (BlockComment, "/* 1 /* 2 */ 3 */"),
                (Atom, "b"),
                (Slashdash, "/-"),
                (Atom, "c"),
            ]
        );
    }

    #[test]
    fn an_atom_ends_where_a_raw_string_starts() {
        assert_eq!(
            kinds_and_texts("#true##\"x\"## a#b#\"y\"#"),
            vec![
                (Atom, "#true"),
                (RawString, "##\"x\"##"),
                (Whitespace, " "),
                (Atom, "a#b"),
                (RawString, "#\"y\"#"),
            ]
        );
        assert_covers(&"#".repeat(10_000));
        assert_covers(&format!("a{}", "#".repeat(10_000)));
    }

    #[test]
    fn a_slash_that_starts_nothing_stays_in_the_atom() {
        assert_eq!(kinds_and_texts("a/b"), vec![(Atom, "a/b")]);
        assert_eq!(kinds_and_texts("a//b"), vec![(Atom, "a"), (LineComment, "//b")]);
    }

    #[test]
    fn quoted_strings_with_escapes() {
        assert_eq!(
            kinds_and_texts(r#""a\"b\\" "c\   d""#),
            vec![
                (String, r#""a\"b\\""#),
                (Whitespace, " "),
                (String, r#""c\   d""#)
            ]
        );
    }

    #[test]
    fn multi_line_strings() {
        let text = "a \"\"\"\n  x \"\" y\n  \\\"\"\"\n  \"\"\" b";
        assert_eq!(
            kinds_and_texts(text),
            vec![
                (Atom, "a"),
                (Whitespace, " "),
                (MultiLineString, "\"\"\"\n  x \"\" y\n  \\\"\"\"\n  \"\"\""),
                (Whitespace, " "),
                (Atom, "b"),
            ]
        );
    }

    #[test]
    fn raw_strings() {
        assert_eq!(
            kinds_and_texts(r###"#"a\"# ##"b"#c"## #""#"###),
            vec![
                (RawString, r##"#"a\"#"##),
                (Whitespace, " "),
                (RawString, r###"##"b"#c"##"###),
                (Whitespace, " "),
                (RawString, r##"#""#"##),
            ]
        );
        let multi_line = "#\"\"\"\n  \"\"\" inside\n  \"\"\"# x";
        assert_eq!(
            kinds_and_texts(multi_line),
            vec![
                (MultiLineRawString, "#\"\"\"\n  \"\"\" inside\n  \"\"\"#"),
                (Whitespace, " "),
                (Atom, "x"),
            ]
        );
    }

    #[test]
    fn every_newline_form_is_one_token() {
        let text = "\n\r\r\n\u{85}\u{b}\u{c}\u{2028}\u{2029}";
        let newlines: Vec<&str> = kinds_and_texts(text)
            .into_iter()
            .map(|(kind, text)| {
                assert_eq!(kind, Newline);
                text
            })
            .collect();
        assert_eq!(
            newlines,
            [
                "\n", "\r", "\r\n", "\u{85}", "\u{b}", "\u{c}", "\u{2028}", "\u{2029}"
            ]
        );
    }

    #[test]
    fn crlf_ends_a_line_comment() {
        assert_eq!(
            kinds_and_texts("// a\r\nb"),
            vec![(LineComment, "// a"), (Newline, "\r\n"), (Atom, "b")]
        );
    }

    #[test]
    fn line_continuation() {
        assert_eq!(
            kinds_and_texts("a \\ // c\n  b"),
            vec![
                (Atom, "a"),
                (Whitespace, " "),
                (LineContinuation, "\\"),
                (Whitespace, " "),
                (LineComment, "// c"),
                (Newline, "\n"),
                (Whitespace, "  "),
                (Atom, "b"),
            ]
        );
    }

    #[test]
    fn unicode_spaces_and_the_byte_order_mark() {
        assert_eq!(
            kinds_and_texts("\u{feff}a\u{3000}\tb"),
            vec![
                (Whitespace, "\u{feff}"),
                (Atom, "a"),
                (Whitespace, "\u{3000}\t"),
                (Atom, "b")
            ]
        );
        // Anywhere else it is not whitespace.
        assert_eq!(
            kinds_and_texts("a \u{feff}"),
            vec![(Atom, "a"), (Whitespace, " "), (Atom, "\u{feff}")]
        );
    }

    #[test]
    fn unterminated_constructs_run_to_the_end() {
        for (text, kind) in [
            ("\"abc\\\"", String),
            ("\"\"\"\nabc\"\"", MultiLineString),
            ("#\"abc\"", RawString),
            ("##\"abc\"#", RawString),
            ("#\"\"\"\nabc\"\"\"", MultiLineRawString),
            ("/* a /* b */", BlockComment),
            ("/*/", BlockComment),
            ("\"\\", String),
        ] {
            assert_eq!(kinds_and_texts(text), vec![(kind, text)], "{text:?}");
        }
    }

    #[test]
    fn odd_input_still_covers_the_text() {
        for text in [
            "", "#", "##", "#\"", "/", "/*", "\\", "\"", "\"\"\"", "é/é", "a\u{0}b", "}}}{{{", "\r",
            "#\"\"\"x", "\"\\é\"",
        ] {
            assert_covers(text);
        }
    }

    #[test]
    fn long_input_lexes_in_linear_time() {
        // Many unterminated-looking raw string openers: each search is linear,
        // and each token ends the search it started.
        let text = "#\"".repeat(20_000) + &"/*".repeat(20_000) + &"\"".repeat(20_000);
        assert_covers(&text);
    }
}
