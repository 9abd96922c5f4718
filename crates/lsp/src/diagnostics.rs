//! `stack validate`'s diagnostics in the protocol's terms, one list per file.

use std::collections::HashMap;
use std::path::Path;

use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, NumberOrString, PublishDiagnosticsParams, Range, Url,
};
use stack_diagnostics::{Diagnostic, Severity};

use crate::text::Locator;
use crate::workspace::Analysis;

/// The diagnostics of every file the analysis read, by file: an empty list
/// for a file with none, so that the editor clears what it showed before.
/// A diagnostic with no place in a file of its own goes to `fallback`.
pub fn publish(analysis: &Analysis, fallback: &Path) -> Vec<PublishDiagnosticsParams> {
    let mut by_file: HashMap<Url, Vec<lsp_types::Diagnostic>> = HashMap::new();
    for (_, source) in analysis.sources.iter() {
        if let Ok(url) = Url::from_file_path(source.path()) {
            by_file.entry(url).or_default();
        }
    }
    let mut locator = Locator::new(&analysis.sources);
    let fallback_url = Url::from_file_path(fallback).ok();
    for diagnostic in &analysis.diagnostics {
        let place = diagnostic.primary_span().and_then(|span| locator.locate(span));
        let (url, range) = match (place, &fallback_url) {
            (Some(location), _) => (location.uri, location.range),
            (None, Some(url)) => (url.clone(), Range::default()),
            (None, None) => continue,
        };
        let converted = convert(diagnostic, range, &mut locator);
        by_file.entry(url).or_default().push(converted);
    }
    by_file
        .into_iter()
        .map(|(uri, diagnostics)| PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        })
        .collect()
}

/// The message and help as `stack validate` prints them; the other labels as related places.
fn convert(diagnostic: &Diagnostic, range: Range, locator: &mut Locator) -> lsp_types::Diagnostic {
    let mut message = diagnostic.message.clone();
    let primary = diagnostic.labels.iter().find(|label| label.primary);
    if let Some(label) = primary.filter(|label| !label.message.is_empty()) {
        message.push_str(&format!("\n{}", label.message));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|label| !label.primary)
        .filter_map(|label| {
            Some(DiagnosticRelatedInformation {
                location: locator.locate(label.span)?,
                message: label.message.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range,
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.to_owned())),
        source: Some("stack".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}
