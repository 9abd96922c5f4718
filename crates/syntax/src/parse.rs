use std::panic::{AssertUnwindSafe, catch_unwind};

use kdl::KdlDocument;
use stack_diagnostics::{Diagnostic, FileId, Span};

/// A parsed file: the document when kdl accepted it, and every problem found.
#[derive(Debug)]
pub struct Parsed {
    pub document: Option<KdlDocument>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file's text as KDL v2.
pub fn parse(file: FileId, text: &str) -> Parsed {
    // kdl is not ours: a panic inside it must not take the whole run down.
    let result = catch_unwind(AssertUnwindSafe(|| KdlDocument::parse_v2(text)));
    match result {
        Ok(Ok(document)) => Parsed {
            document: Some(document),
            diagnostics: Vec::new(),
        },
        Ok(Err(error)) => Parsed {
            document: None,
            diagnostics: error
                .diagnostics
                .iter()
                .map(|diagnostic| syntax_error(file, text, diagnostic))
                .collect(),
        },
        Err(_) => Parsed {
            document: None,
            diagnostics: vec![
                Diagnostic::error("stack::syntax", "the KDL parser failed on this file")
                    .primary(Span::file_start(file), "while reading this file")
                    .help("this is a bug in the KDL parser; please report it with the file attached"),
            ],
        },
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
}
