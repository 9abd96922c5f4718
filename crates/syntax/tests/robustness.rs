//! No text makes the lexer or the parser panic, loop or lose track of the text.

use proptest::prelude::*;
use stack_diagnostics::Sources;
use stack_syntax::lexer::tokenize;

/// Arbitrary text, and text made mostly of what KDL gives a meaning to.
const TEXT: &str = "\\PC{0,60}|[a-z0-9{}()=;/*\\\\\"#$\\n\\r\\t -]{0,60}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn tokens_cover_the_text(text in TEXT) {
        let mut end = 0;
        for token in tokenize(&text) {
            prop_assert_eq!(token.start, end);
            prop_assert!(token.end > token.start);
            prop_assert!(text.is_char_boundary(token.end));
            end = token.end;
        }
        prop_assert_eq!(end, text.len());
    }

    #[test]
    fn parse_never_panics_and_spans_fit(text in TEXT) {
        let file = Sources::new().add("stack.kdl", "stack.kdl", text.as_str());
        let parsed = stack_syntax::parse(file, &text);
        prop_assert_eq!(parsed.document.is_some(), parsed.diagnostics.is_empty());
        for diagnostic in &parsed.diagnostics {
            for label in &diagnostic.labels {
                prop_assert!(label.span.end as usize <= text.len());
            }
        }
    }

    #[test]
    fn read_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let file = Sources::new().add("stack.kdl", "stack.kdl", "");
        if let Ok(text) = stack_syntax::read(file, &bytes) {
            // The text is the bytes, less a byte order mark at most.
            prop_assert!(bytes.ends_with(text.as_bytes()));
            prop_assert!(matches!(bytes.len() - text.len(), 0 | 3));
        }
    }
}
