//! What kdl accepts and the KDL v2 specification does not, for the properties that compare
//! `stack` with kdl (here and in the formatter's tests).

use stack_syntax::lexer::{TokenKind, tokenize};

/// U+007F anywhere, a disallowed code point in a comment, and a one-line raw string that
/// opens with `"""`: kdl takes them, `stack` rejects them as the specification does.
pub fn kdl_v2_forbids(text: &str) -> bool {
    let disallowed = |c: char| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{E}'..='\u{1F}' | '\u{7F}' | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    text.contains('\u{7F}')
        || tokenize(text).any(|token| {
            let written = token.text(text);
            (token.kind.is_comment() && written.contains(disallowed))
                || (token.kind == TokenKind::RawString
                    && written.trim_start_matches('#').starts_with("\"\"\""))
        })
}
