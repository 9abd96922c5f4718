//! Rendering through miette: one graphical report per diagnostic.
//!
//! miette shows one source file per report, so labels in other files (the base
//! an overlay conflicts with, a module's definition) become related reports.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use crate::{Diagnostic, FileId, Severity, Sources};

#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub color: bool,
    pub unicode: bool,
    pub width: usize,
}

impl RenderOptions {
    /// Plain output for snapshots and logs: no color, stable width.
    pub fn plain() -> Self {
        RenderOptions {
            color: false,
            unicode: true,
            width: 100,
        }
    }
}

/// Renders diagnostics, in order, followed by nothing else.
pub fn render<'a>(
    diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
    sources: &Sources,
    options: RenderOptions,
) -> String {
    let theme = match (options.color, options.unicode) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::ascii(),
        (false, true) => GraphicalTheme::unicode_nocolor(),
        (false, false) => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = Report::new(diagnostic, sources);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&diagnostic.message);
            out.push('\n');
        }
    }
    out
}

/// A diagnostic seen from one file, in the shape miette renders.
#[derive(Debug)]
struct Report {
    code: &'static str,
    /// `None` for a note about another file, shown as advice.
    severity: Option<Severity>,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(diagnostic: &Diagnostic, sources: &Sources) -> Report {
        let home = diagnostic.primary_span().map(|span| span.file);
        let mut related: Vec<Report> = Vec::new();
        let mut other_files: Vec<FileId> = Vec::new();
        for label in &diagnostic.labels {
            if Some(label.span.file) != home && !other_files.contains(&label.span.file) {
                other_files.push(label.span.file);
            }
        }
        for file in other_files {
            related.push(Report {
                code: diagnostic.code,
                severity: None,
                message: format!("in {}", sources.get(file).name()),
                help: None,
                source: Some(named_source(sources, file)),
                labels: labels_in(diagnostic, file),
                related: Vec::new(),
            });
        }
        Report {
            code: diagnostic.code,
            severity: Some(diagnostic.severity),
            message: diagnostic.message.clone(),
            help: diagnostic.help.clone(),
            source: home.map(|file| named_source(sources, file)),
            labels: home.map(|file| labels_in(diagnostic, file)).unwrap_or_default(),
            related,
        }
    }
}

fn named_source(sources: &Sources, file: FileId) -> NamedSource<Arc<str>> {
    let source = sources.get(file);
    NamedSource::new(source.name(), source.shared_text())
}

fn labels_in(diagnostic: &Diagnostic, file: FileId) -> Vec<LabeledSpan> {
    diagnostic
        .labels
        .iter()
        .filter(|label| label.span.file == file)
        .map(|label| {
            let text = (!label.message.is_empty()).then(|| label.message.clone());
            LabeledSpan::new_with_span(text, label.span.range())
        })
        .collect()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        // Notes about other files belong to their parent: no code of their own.
        self.severity
            .map(|_| Box::new(self.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Some(Severity::Error) => miette::Severity::Error,
            Some(Severity::Warning) => miette::Severity::Warning,
            None => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        (!self.related.is_empty()).then(|| {
            Box::new(
                self.related
                    .iter()
                    .map(|report| report as &dyn miette::Diagnostic),
            ) as Box<dyn Iterator<Item = _>>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_other_files_become_related_reports() {
        let mut sources = Sources::new();
        let base = sources.add("stack.kdl", "stack.kdl", "service \"api\" {\n    replicas 2\n}\n");
        let overlay = sources.add(
            "production.kdl",
            "production.kdl",
            "overlay \"production\" {\n    service \"apj\"\n}\n",
        );
        let diagnostic = Diagnostic::error("stack::test", "something is wrong")
            .primary(crate::Span::new(overlay, 37..42), "this one")
            .secondary(crate::Span::new(base, 8..13), "declared here")
            .help("fix it");
        let text = render([&diagnostic], &sources, RenderOptions::plain());
        assert!(text.contains("production.kdl"), "{text}");
        assert!(text.contains("stack.kdl"), "{text}");
        assert!(
            text.contains("this one") && text.contains("declared here"),
            "{text}"
        );
        assert!(text.contains("help: fix it"), "{text}");
    }
}
