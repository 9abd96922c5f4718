use std::panic::{AssertUnwindSafe, catch_unwind};

use kdl::KdlDocument;
use stack_diagnostics::{Diagnostic, FileId, Span};

use crate::{checks, plain};

/// A parsed file: the document when the file is valid, and every problem found.
#[derive(Debug)]
pub struct Parsed {
    /// `None` when kdl rejected the file, or when a lexical check failed: a
    /// bare `${` parses, but not as what was meant.
    pub document: Option<KdlDocument>,
    /// Lexical problems first (the clearer messages), then kdl's.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file's text as KDL v2 (a leading byte order mark is accepted).
///
/// The lexical checks run first; a file that could make kdl overflow its
/// stack or take quadratic time (see `stack::nesting_too_deep`), or that has
/// a token out of place in KDL's grammar (kdl's error recovery recurses once
/// per such token), never reaches it: its first problem is reported instead.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let findings = checks::check(file, text);
    let mut diagnostics = findings.diagnostics;
    if findings.unsafe_for_kdl {
        return Parsed {
            document: None,
            diagnostics,
        };
    }
    if diagnostics.is_empty()
        && let Some(document) = plain::parse(text)
    {
        return Parsed {
            document: Some(document),
            diagnostics,
        };
    }
    let document = match parse_kdl(file, text) {
        Ok(document) => Some(document).filter(|_| diagnostics.is_empty()),
        Err(kdl_diagnostics) => {
            diagnostics.extend(kdl_diagnostics);
            None
        }
    };
    Parsed {
        document,
        diagnostics,
    }
}

fn parse_kdl(file: FileId, text: &str) -> Result<KdlDocument, Vec<Diagnostic>> {
    // kdl is not ours: a panic inside it must not take the whole run down.
    match catch_unwind(AssertUnwindSafe(|| KdlDocument::parse_v2(text))) {
        Ok(Ok(document)) => Ok(document),
        Ok(Err(error)) => Err(error
            .diagnostics
            .iter()
            .map(|diagnostic| syntax_error(file, text, diagnostic))
            .collect()),
        Err(_) => Err(vec![
            Diagnostic::error("stack::syntax", "the KDL parser failed on this file")
                .primary(Span::file_start(file), "while reading this file")
                .help("this is a bug in the KDL parser; please report it with the file attached"),
        ]),
    }
}

fn syntax_error(file: FileId, text: &str, diagnostic: &kdl::KdlDiagnostic) -> Diagnostic {
    let start = diagnostic.span.offset().min(text.len());
    let end = (start + diagnostic.span.len()).min(text.len());
    let message = diagnostic
        .message
        .clone()
        .unwrap_or_else(|| "invalid KDL".to_owned());
    let label = diagnostic.label.clone().unwrap_or_else(|| "here".to_owned());
    let mut result = Diagnostic::error("stack::syntax", lowercase_first(&message))
        .primary(Span::new(file, start..end), label);
    result.help = Some(
        diagnostic
            .help
            .clone()
            .unwrap_or_else(|| "stack files are KDL v2 documents; see spec/files.md".to_owned()),
    );
    result
}

fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first
            .to_lowercase()
            .chain(chars)
            .collect::<String>()
            .trim_end_matches('.')
            .to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_diagnostics::Sources;

    #[test]
    fn reports_kdl_errors_with_spans() {
        let mut sources = Sources::new();
        let text = "service \"api\" {\n    replicas 1.\n}\n";
        let file = sources.add("stack.kdl", "stack.kdl", text);
        let parsed = parse(file, text);
        assert!(parsed.document.is_none());
        assert!(!parsed.diagnostics.is_empty());
        assert!(parsed.diagnostics.iter().all(|d| d.code == "stack::syntax"));
    }

    #[test]
    fn accepts_kdl_v2() {
        let mut sources = Sources::new();
        let text = "service \"api\" {\n    replicas 1\n    init #true\n}\n";
        let file = sources.add("stack.kdl", "stack.kdl", text);
        let parsed = parse(file, text);
        assert!(parsed.diagnostics.is_empty());
        assert_eq!(parsed.document.map(|d| d.nodes().len()), Some(1));
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        let mut sources = Sources::new();
        let text = "\u{FEFF}stack \"shop\"\n";
        let file = sources.add("stack.kdl", "stack.kdl", text);
        let parsed = parse(file, text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert!(parsed.document.is_some());
    }

    #[test]
    fn a_bare_interpolation_comes_before_kdl_errors_and_drops_the_document() {
        let mut sources = Sources::new();
        let valid = "service \"api\" {\n    image ${var.image}\n}\n";
        let file = sources.add("stack.kdl", "stack.kdl", valid);
        let parsed = parse(file, valid);
        assert!(parsed.document.is_none());
        let codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["stack::bare_interpolation"]);

        let invalid = "image ${var.image}\nreplicas 1.\n";
        let parsed = parse(file, invalid);
        let codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes.first(), Some(&"stack::bare_interpolation"));
        assert!(codes[1..].iter().all(|&code| code == "stack::syntax") && codes.len() > 1);
    }

    #[test]
    fn deep_files_never_reach_kdl() {
        let mut sources = Sources::new();
        // Deep enough to overflow any thread's stack inside kdl.
        let deep = "a {".repeat(1_000_000);
        let file = sources.add("stack.kdl", "stack.kdl", deep.as_str());
        let parsed = parse(file, &deep);
        assert!(parsed.document.is_none());
        let codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["stack::nesting_too_deep"]);
    }
}
