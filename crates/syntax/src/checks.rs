//! The checks made on the tokens before kdl sees the text.
//!
//! Two kinds: mistakes kdl accepts silently (a bare `${`), and shapes that
//! would make kdl's recursive parser overflow the stack or take quadratic time
//! (deep nesting, block comments it reads one `*` at a time, stray `}`,
//! chained `/-`, and the tokens [`structure`] finds out of place: kdl recovers
//! from most syntax errors by recursing, so a run of them overflows its
//! stack). A file with one of the latter never reaches kdl.

mod structure;

use stack_diagnostics::{Diagnostic, FileId, Span};

use crate::lexer::{Token, TokenKind, tokenize};
use structure::Structure;

/// The deepest nesting of children blocks, and of block comments.
pub const MAX_NESTING: usize = 64;

/// kdl recurses once per `*` or `/` inside a block comment; this keeps that
/// depth well within a 2 MiB thread stack.
const MAX_COMMENT_SLASHES_AND_STARS: usize = 500;

/// How far after a bare `${` to look for its `}`, to quote the whole of it.
const INTERPOLATION_LOOKAHEAD: usize = 200;

/// What the checks found.
pub(crate) struct Findings {
    pub diagnostics: Vec<Diagnostic>,
    /// The text must not be given to kdl.
    pub unsafe_for_kdl: bool,
}

pub(crate) fn check(file: FileId, text: &str) -> Findings {
    let mut findings = Findings {
        diagnostics: Vec::new(),
        unsafe_for_kdl: false,
    };
    let mut depth = 0usize;
    let mut previous: Option<Token> = None;
    // A stray `}` or a chained `/-` is reported once: the first says it all.
    let mut unmatched_close_seen = false;
    let mut chained_slashdash_seen = false;
    // A `/-` still waiting for the node, entry or block it comments out.
    let mut pending_slashdash: Option<Token> = None;
    let mut structure = Structure::default();
    // A bare `${` was reported on the current line.
    let mut interpolation_on_line = false;
    for token in tokenize(text) {
        match token.kind {
            TokenKind::OpenBrace => {
                if let Some(dollar) = previous.filter(|&atom| is_bare_interpolation(text, atom, token)) {
                    findings.report(bare_interpolation(file, text, dollar.end - 1));
                    interpolation_on_line = true;
                }
                depth += 1;
                if depth == MAX_NESTING + 1 {
                    findings.block(too_deep(file, token, "children blocks"));
                }
            }
            TokenKind::CloseBrace if depth == 0 && !unmatched_close_seen => {
                unmatched_close_seen = true;
                findings.block(unmatched_close(file, token));
            }
            TokenKind::CloseBrace if depth == 0 => {}
            TokenKind::CloseBrace => depth -= 1,
            TokenKind::BlockComment => {
                if let Some(diagnostic) = check_block_comment(file, text, token) {
                    findings.block(diagnostic);
                }
            }
            TokenKind::Slashdash => {
                if let Some(first) = pending_slashdash.filter(|_| !chained_slashdash_seen) {
                    chained_slashdash_seen = true;
                    findings.block(chained_slashdash(file, first, token));
                }
                pending_slashdash = Some(token);
            }
            _ => {}
        }
        let is_blank = matches!(
            token.kind,
            TokenKind::Whitespace | TokenKind::Newline | TokenKind::LineContinuation
        ) || token.kind.is_comment();
        if !is_blank && token.kind != TokenKind::Slashdash {
            pending_slashdash = None;
        }
        // The structural check runs after the others on each token, and only
        // while nothing blocks the file: its first finding is the one that
        // counts, and a stray `}` or a chained `/-` is reported above.
        if !findings.unsafe_for_kdl
            && let Some(problem) = structure.step(text, token)
        {
            findings.structural(file, text, &problem, interpolation_on_line);
        }
        if token.kind == TokenKind::Newline {
            interpolation_on_line = false;
        }
        previous = Some(token);
    }
    if !findings.unsafe_for_kdl
        && let Some(problem) = structure.finish()
    {
        findings.structural(file, text, &problem, interpolation_on_line);
    }
    findings
}

impl Findings {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn block(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
        self.unsafe_for_kdl = true;
    }

    /// A structural finding blocks the file. After a bare `${` on the same
    /// line it goes unsaid: kdl reads the `${...}` as a children block, so
    /// what follows it on its line is out of place for a reason the bare
    /// interpolation diagnostic already gives.
    fn structural(
        &mut self,
        file: FileId,
        text: &str,
        problem: &structure::Problem,
        after_interpolation: bool,
    ) {
        if after_interpolation {
            self.unsafe_for_kdl = true;
        } else {
            self.block(problem.diagnostic(file, text));
        }
    }
}

/// `$` right before `{`: kdl reads `image ${var.x}` as an argument `$` and a
/// children block holding a node `var.x`.
fn is_bare_interpolation(text: &str, atom: Token, open_brace: Token) -> bool {
    atom.kind == TokenKind::Atom && atom.end == open_brace.start && atom.text(text).ends_with('$')
}

fn bare_interpolation(file: FileId, text: &str, dollar: usize) -> Diagnostic {
    let after_dollar = text.get(dollar + 1..).unwrap_or("");
    let closed = after_dollar
        .char_indices()
        .take(INTERPOLATION_LOOKAHEAD)
        .take_while(|&(_, c)| c != '\n' && c != '\r')
        .find(|&(_, c)| c == '}');
    let end = closed.map_or(dollar + 2, |(index, _)| dollar + 1 + index + 1);
    let written = text.get(dollar..end).unwrap_or("${");
    let example = if closed.is_some() { written } else { "${var.name}" };
    Diagnostic::error("stack::bare_interpolation", "`${` outside a quoted string")
        .primary(
            Span::new(file, dollar..end),
            "KDL reads this as a `$` followed by a children block, not as an interpolation",
        )
        .help(format!(
            "interpolation only works inside a quoted string: write \"{example}\""
        ))
}

/// Checks what kdl would recurse on inside a block comment: nested comments
/// and the `*` and `/` characters.
fn check_block_comment(file: FileId, text: &str, comment: Token) -> Option<Diagnostic> {
    let bytes = comment.text(text).as_bytes();
    let mut depth = 0usize;
    let mut slashes_and_stars = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        match (bytes[index], bytes.get(index + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                if depth == MAX_NESTING + 1 {
                    let start = comment.start + index;
                    return Some(too_deep(
                        file,
                        Token {
                            kind: TokenKind::BlockComment,
                            start,
                            end: start + 2,
                        },
                        "block comments",
                    ));
                }
                index += 2;
            }
            (b'*', Some(b'/')) => {
                depth = depth.saturating_sub(1);
                index += 2;
            }
            (b'/' | b'*', _) => {
                slashes_and_stars += 1;
                index += 1;
            }
            _ => index += 1,
        }
    }
    (slashes_and_stars > MAX_COMMENT_SLASHES_AND_STARS).then(|| {
        Diagnostic::error(
            "stack::nesting_too_deep",
            format!("block comment with more than {MAX_COMMENT_SLASHES_AND_STARS} `*` and `/` characters"),
        )
        .primary(
            Span::new(file, comment.start..comment.start + 2),
            "the KDL parser reads this comment one `*` or `/` at a time, recursively",
        )
        .help("comment the lines out with `//`, or put `/-` before a node to comment out all of it")
    })
}

fn too_deep(file: FileId, open: Token, what: &str) -> Diagnostic {
    Diagnostic::error(
        "stack::nesting_too_deep",
        format!("{what} nested more than {MAX_NESTING} levels deep"),
    )
    .primary(
        Span::new(file, open.range()),
        format!("level {}", MAX_NESTING + 1),
    )
    .help("flatten the file: no stack needs this much nesting, and deeper files cannot be read safely")
}

fn unmatched_close(file: FileId, close: Token) -> Diagnostic {
    Diagnostic::error("stack::syntax", "unmatched `}`")
        .primary(Span::new(file, close.range()), "no `{` is open here")
        .help("remove it, or add the `{` it should close")
}

fn chained_slashdash(file: FileId, first: Token, second: Token) -> Diagnostic {
    Diagnostic::error("stack::syntax", "`/-` followed by another `/-`")
        .primary(Span::new(file, second.range()), "second `/-`")
        .secondary(
            Span::new(file, first.range()),
            "this one comments out what follows",
        )
        .help("a `/-` comments out the one node, entry or children block after it: remove one of the two")
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_diagnostics::Sources;

    fn check_text(text: &str) -> Findings {
        let file = Sources::new().add("stack.kdl", "stack.kdl", text);
        check(file, text)
    }

    fn codes(findings: &Findings) -> Vec<&'static str> {
        findings.diagnostics.iter().map(|d| d.code).collect()
    }

    fn primary_text<'a>(text: &'a str, diagnostic: &Diagnostic) -> &'a str {
        diagnostic
            .primary_span()
            .and_then(|span| text.get(span.range()))
            .unwrap_or("")
    }

    #[test]
    fn finds_a_bare_interpolation_and_quotes_all_of_it() {
        let text = "service \"api\" {\n    image ${var.image}\n}\n";
        let findings = check_text(text);
        assert_eq!(codes(&findings), ["stack::bare_interpolation"]);
        assert!(!findings.unsafe_for_kdl);
        let diagnostic = &findings.diagnostics[0];
        assert_eq!(primary_text(text, diagnostic), "${var.image}");
        assert_eq!(
            diagnostic.help.as_deref(),
            Some("interpolation only works inside a quoted string: write \"${var.image}\"")
        );
    }

    #[test]
    fn finds_a_bare_interpolation_after_other_text() {
        let text = "env URL=redis:${service.cache}:6379";
        let findings = check_text(text);
        assert_eq!(codes(&findings), ["stack::bare_interpolation"]);
        assert_eq!(primary_text(text, &findings.diagnostics[0]), "${service.cache}");
    }

    #[test]
    fn an_unclosed_bare_interpolation_points_at_its_start() {
        let text = "image ${var.\n";
        let findings = check_text(text);
        assert_eq!(primary_text(text, &findings.diagnostics[0]), "${");
    }

    #[test]
    fn interpolation_in_strings_and_comments_is_fine() {
        let text = "image \"${var.x}\" #\"${y}\"# // ${z}\n/* ${w} */ a \"\"\"\n  ${v}\n  \"\"\"\n";
        assert!(check_text(text).diagnostics.is_empty());
    }

    #[test]
    fn a_dollar_before_a_spaced_brace_is_a_children_block() {
        assert!(check_text("price $ {\n    a 1\n}\n").diagnostics.is_empty());
    }

    #[test]
    fn nesting_of_64_levels_is_fine_65_is_not() {
        let nested = |levels: usize| "a {".repeat(levels) + &"}".repeat(levels);
        assert!(check_text(&nested(MAX_NESTING)).diagnostics.is_empty());
        let text = nested(MAX_NESTING + 1);
        let findings = check_text(&text);
        assert_eq!(codes(&findings), ["stack::nesting_too_deep"]);
        assert!(findings.unsafe_for_kdl);
        let span = findings.diagnostics[0].primary_span().map(Span::range);
        assert_eq!(span, Some(3 * MAX_NESTING + 2..3 * MAX_NESTING + 3));
    }

    #[test]
    fn deep_nesting_is_reported_once() {
        // The first `{`, with no node before it, is out of place too.
        let findings = check_text(&"{".repeat(100_000));
        assert_eq!(codes(&findings), ["stack::syntax", "stack::nesting_too_deep"]);
        let findings = check_text(&"a {".repeat(100_000));
        assert_eq!(codes(&findings), ["stack::nesting_too_deep"]);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_nest() {
        let text = format!("a \"{}\" // {}\n", "{".repeat(100), "{".repeat(100));
        assert!(check_text(&text).diagnostics.is_empty());
    }

    #[test]
    fn deeply_nested_block_comments() {
        let nested = |levels: usize| "/*".repeat(levels) + &"*/".repeat(levels);
        assert!(check_text(&nested(MAX_NESTING)).diagnostics.is_empty());
        let findings = check_text(&nested(MAX_NESTING + 1));
        assert_eq!(codes(&findings), ["stack::nesting_too_deep"]);
        assert!(findings.unsafe_for_kdl);
        assert!(findings.diagnostics[0].message.contains("block comments"));
    }

    #[test]
    fn block_comments_with_too_many_stars() {
        let banner = |stars: usize| format!("/*{}*/ a", "*".repeat(stars));
        assert!(
            check_text(&banner(MAX_COMMENT_SLASHES_AND_STARS))
                .diagnostics
                .is_empty()
        );
        let findings = check_text(&banner(MAX_COMMENT_SLASHES_AND_STARS + 1));
        assert_eq!(codes(&findings), ["stack::nesting_too_deep"]);
        assert!(findings.unsafe_for_kdl);
    }

    #[test]
    fn an_unmatched_close_brace_is_reported_once() {
        let text = "a {\n}\n}\n}";
        let findings = check_text(text);
        assert_eq!(codes(&findings), ["stack::syntax"]);
        assert!(findings.unsafe_for_kdl);
        assert_eq!(
            findings.diagnostics[0].primary_span().map(Span::range),
            Some(6..7)
        );
    }

    #[test]
    fn chained_slashdashes() {
        let findings = check_text("/- /* c */\n/- a");
        assert_eq!(codes(&findings), ["stack::syntax"]);
        assert!(findings.unsafe_for_kdl);
        assert!(check_text("/- a /-b\n/-c {\n} /-{ }").diagnostics.is_empty());
    }

    #[test]
    fn a_bare_interpolation_is_found_in_a_file_kdl_rejects() {
        let findings = check_text("a ${x} \"unterminated");
        assert_eq!(codes(&findings), ["stack::bare_interpolation"]);
    }
}
