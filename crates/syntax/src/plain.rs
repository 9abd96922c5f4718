//! Plain files, read without kdl: kdl takes about 4,000 instructions a byte, which makes an
//! editor wait for every check of a large file, while most stack files use only a small part
//! of KDL. A file in ASCII made only of nodes named by bare identifiers or plain strings,
//! with arguments and `key=value` properties that are plain strings (no escapes), bare
//! identifiers, decimal integers, `#true`, `#false` or `#null`, children blocks and `//`
//! comments, is read here into the document kdl would give (the same values, spans and value
//! representations). Anything else, valid or not, is left to kdl.

use kdl::{KdlDocument, KdlEntry, KdlEntryFormat, KdlIdentifier, KdlNode, KdlValue};

use crate::lexer::{Token, TokenKind, tokenize};

/// The document of a plain file; `None` when the file is not plain (kdl must read it).
pub(crate) fn parse(text: &str) -> Option<KdlDocument> {
    let plain_bytes = text
        .bytes()
        .all(|byte| byte.is_ascii() && (!byte.is_ascii_control() || matches!(byte, b'\t' | b'\n' | b'\r')));
    if !plain_bytes {
        return None;
    }
    let tokens: Vec<Token> = tokenize(text).collect();
    let mut reader = Reader {
        text,
        tokens: &tokens,
        at: 0,
    };
    let document = reader.nodes(false)?;
    (reader.at == tokens.len()).then_some(document)
}

struct Reader<'a> {
    text: &'a str,
    tokens: &'a [Token],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn kind(&self) -> Option<TokenKind> {
        self.peek().map(|token| token.kind)
    }

    /// Skips spaces; gives whether there were any.
    fn spaces(&mut self) -> bool {
        let start = self.at;
        while self.kind() == Some(TokenKind::Whitespace) {
            self.at += 1;
        }
        self.at > start
    }

    /// The nodes up to the end of the text, or (`inside`) up to the `}` of their block.
    fn nodes(&mut self, inside: bool) -> Option<KdlDocument> {
        let mut document = KdlDocument::new();
        let mut span: Option<(usize, usize)> = None;
        loop {
            match self.kind() {
                Some(TokenKind::Whitespace | TokenKind::Newline | TokenKind::LineComment) => self.at += 1,
                Some(TokenKind::Atom | TokenKind::String) => {
                    let (node, start, end) = self.node(inside)?;
                    span = Some((span.map_or(start, |(first, _)| first), end));
                    document.nodes_mut().push(node);
                }
                Some(TokenKind::CloseBrace) if inside => break,
                None if !inside => break,
                _ => return None,
            }
        }
        // kdl's span of a block runs from its first node to the end of its last.
        let (start, end) = span?;
        document.set_span((start, end - start));
        Some(document)
    }

    /// One node; gives it with where it starts and ends (its trailing spaces included).
    fn node(&mut self, inside: bool) -> Option<(KdlNode, usize, usize)> {
        let name = self.peek()?;
        self.at += 1;
        let mut node = KdlNode::new(self.identifier(name)?);
        loop {
            let spaced = self.spaces();
            match self.kind() {
                Some(TokenKind::Atom | TokenKind::String) if spaced => {
                    let entry = self.entry()?;
                    node.entries_mut().push(entry);
                }
                Some(TokenKind::OpenBrace) => {
                    self.at += 1;
                    let children = self.nodes(true)?;
                    self.at += 1;
                    node.set_children(children);
                    self.spaces();
                    return self.end(node, name.start, inside);
                }
                _ => return self.end(node, name.start, inside),
            }
        }
    }

    /// After a node: the end of its line, of its block or of the text.
    fn end(&mut self, mut node: KdlNode, start: usize, inside: bool) -> Option<(KdlNode, usize, usize)> {
        let end = self.peek().map_or(self.text.len(), |token| token.start);
        match self.kind() {
            Some(TokenKind::Newline | TokenKind::LineComment) => self.at += 1,
            Some(TokenKind::CloseBrace) if inside => {}
            None if !inside => {}
            _ => return None,
        }
        node.set_span((start, end - start));
        Some((node, start, end))
    }

    /// An argument, or a property `key=value` with nothing around its `=`.
    fn entry(&mut self) -> Option<KdlEntry> {
        let first = self.peek()?;
        self.at += 1;
        let (mut entry, value) = if self.kind() == Some(TokenKind::Equals) {
            self.at += 1;
            let value = self
                .peek()
                .filter(|token| matches!(token.kind, TokenKind::Atom | TokenKind::String))?;
            self.at += 1;
            let entry = KdlEntry::new_prop(self.identifier(first)?, self.value(value)?);
            (entry, value)
        } else {
            (KdlEntry::new(self.value(first)?), first)
        };
        entry.set_span((first.start, value.end - first.start));
        entry.set_format(KdlEntryFormat {
            value_repr: value.text(self.text).to_owned(),
            ..KdlEntryFormat::default()
        });
        Some(entry)
    }

    /// A node's name or a property's key: a bare identifier or a plain string.
    fn identifier(&self, token: Token) -> Option<KdlIdentifier> {
        let written = token.text(self.text);
        let name = match token.kind {
            TokenKind::String => plain_string(written)?,
            TokenKind::Atom if bare_identifier(written) => written,
            _ => return None,
        };
        let mut identifier = KdlIdentifier::from(name);
        identifier.set_repr(written);
        identifier.set_span((token.start, token.end - token.start));
        Some(identifier)
    }

    fn value(&self, token: Token) -> Option<KdlValue> {
        let written = token.text(self.text);
        if token.kind == TokenKind::String {
            return plain_string(written).map(|text| KdlValue::String(text.to_owned()));
        }
        match written {
            "#true" => Some(KdlValue::Bool(true)),
            "#false" => Some(KdlValue::Bool(false)),
            "#null" => Some(KdlValue::Null),
            _ if bare_identifier(written) => Some(KdlValue::String(written.to_owned())),
            _ => decimal(written).map(KdlValue::Integer),
        }
    }
}

/// The text of `"..."` with no escape, quote or control character inside.
fn plain_string(written: &str) -> Option<&str> {
    let inner = written.strip_prefix('"')?.strip_suffix('"')?;
    inner
        .bytes()
        .all(|byte| !matches!(byte, b'\\' | b'"' | 0..=0x1f | 0x7f))
        .then_some(inner)
}

/// A bare identifier that kdl reads as a string: a letter or `_` first, then letters,
/// digits, `-`, `_`, `.` and `:`; not a word KDL reserves.
fn bare_identifier(written: &str) -> bool {
    let mut bytes = written.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':'))
        && !matches!(written, "true" | "false" | "null" | "inf" | "nan")
}

/// A decimal integer, with an optional `-`: digits only.
fn decimal(written: &str) -> Option<i128> {
    let digits = written.strip_prefix('-').unwrap_or(written);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    written.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;
    use std::path::Path;

    use super::*;

    /// What readers of a document use of it: names, values, representations and spans.
    fn described(document: &KdlDocument) -> String {
        let mut out = String::new();
        for node in document.nodes() {
            let name = node.name();
            let _ = write!(
                out,
                "node {:?} {:?} {:?} ty={:?} [",
                name.value(),
                name.span(),
                name.repr(),
                node.ty()
            );
            for entry in node.entries() {
                let key = entry.name().map(|key| (key.value().to_owned(), key.span()));
                let repr = entry.format().map(|format| format.value_repr.clone());
                let _ = write!(
                    out,
                    " {key:?} {:?} {:?} {repr:?} ty={:?};",
                    entry.value(),
                    entry.span(),
                    entry.ty()
                );
            }
            out.push(']');
            if let Some(children) = node.children() {
                let _ = write!(out, " {{ {:?} {} }}", children.span(), described(children));
            }
            out.push('\n');
        }
        out
    }

    /// A plain text reads as kdl reads it; a text that is not plain is left to kdl.
    fn same_as_kdl(text: &str) -> bool {
        let Some(document) = parse(text) else {
            return false;
        };
        let expected =
            KdlDocument::parse_v2(text).unwrap_or_else(|error| panic!("kdl rejects {text:?}: {error:?}"));
        assert_eq!(described(&document), described(&expected), "{text:?}");
        true
    }

    fn kdl_files(dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                kdl_files(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "kdl")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                found.push(text);
            }
        }
    }

    #[test]
    fn the_repository_s_stack_files_read_as_kdl_reads_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut texts = Vec::new();
        for dir in [
            "examples",
            "stdlib",
            "crates/language/tests",
            "crates/cli/tests",
            "tests",
        ] {
            kdl_files(&root.join(dir), &mut texts);
        }
        let file = stack_diagnostics::Sources::new().add("stack.kdl", "stack.kdl", "");
        let valid: Vec<&String> = texts
            .iter()
            .filter(|text| crate::checks::check(file, text).diagnostics.is_empty())
            .filter(|text| KdlDocument::parse_v2(text).is_ok())
            .collect();
        let plain = valid.iter().filter(|text| same_as_kdl(text)).count();
        assert!(
            valid.len() > 20 && plain * 2 > valid.len(),
            "{plain} of {} files are plain",
            valid.len()
        );
    }

    #[test]
    fn plain_shapes_read_as_kdl_reads_them() {
        for text in [
            "stack \"bench\"\n\nvariable \"version\" default=\"v1\"\n",
            "service \"svc-1\" {\n    image \"bench/app:${var.version}\" // a comment\n    env {\n        PEER \"http://x:8080\"\n    }\n    depends-on \"svc-0\" condition=healthy\n    replicas 3\n    probe { http \"h\" }\n}\n",
            "\"quoted\" 1 -2 007 #true #false #null bare \"\"\n",
            "a{\n  b\n}",
            "a {\n  // first\n  b 1 // after\n  // last\n}   \n",
            "a\r\nb {\r\n\tc \"x\"\t\r\n}\r\n",
            "a { b { c { d } } }\n",
            "a { // after the brace\n    b\n} // after the block\nc // last, with no newline",
            "n \"key\"=1 a:b=c_d.e\n",
            "node \"a\"=\"b\" x=-0\n",
        ] {
            assert!(same_as_kdl(text), "{text:?} is plain");
        }
    }

    #[test]
    fn what_is_not_plain_is_left_to_kdl() {
        for text in [
            "a \"x\"\"y\"\n",
            "a b=\n",
            "a =b\n",
            "a b = c\n",
            "a 1x\n",
            "a true\n",
            "a 1.5 0x10 1_000\n",
            "a \"tab\\tescaped\"\n",
            "a #\"raw\"#\n",
            "a; b\n",
            "/-a\n",
            "(t)a\n",
            "a \\\n  b\n",
            "a /* c */ b\n",
            "a {}\n",
            "a { b } c\n",
            "a {\n",
            "a }\n",
            "a \"é\"\n",
            "a -b\n",
            "",
        ] {
            assert!(parse(text).is_none(), "{text:?} is not plain");
        }
    }
}
