//! Byte offsets and the protocol's positions: lines and UTF-16 code units.

use std::collections::HashMap;

use lsp_types::{Location, Position, Range, Url};
use stack_diagnostics::{FileId, Sources, Span};

/// Where each line of a text starts.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|start| *start <= offset) - 1;
        let start = self.starts[line];
        let character = self
            .text
            .get(start..offset)
            .map_or(0, |before| before.encode_utf16().count());
        Position::new(line as u32, character as u32)
    }

    /// The byte offset of `position`, clamped to its line and to the text.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let mut units = 0;
        for (at, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + at;
            }
            units += c.len_utf16();
        }
        start + line.len()
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(
            self.position(span.start as usize),
            self.position(span.end as usize),
        )
    }
}

/// Finds where spans are, indexing each file's lines once.
pub struct Locator<'a> {
    sources: &'a Sources,
    indexes: HashMap<FileId, LineIndex<'a>>,
}

impl<'a> Locator<'a> {
    pub fn new(sources: &'a Sources) -> Self {
        Locator {
            sources,
            indexes: HashMap::new(),
        }
    }

    /// Where a span is, when its file is one an editor can open (not the built-in standard library).
    pub fn locate(&mut self, span: Span) -> Option<Location> {
        let file = self.sources.get(span.file);
        let uri = Url::from_file_path(file.path()).ok()?;
        let index = self
            .indexes
            .entry(span.file)
            .or_insert_with(|| LineIndex::new(file.text()));
        Some(Location::new(uri, index.range(span)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_utf16_units_per_line() {
        let text = "a\nzé𝄞x\n";
        let index = LineIndex::new(text);
        let x = text.find('x').expect("x");
        assert_eq!(index.position(x), Position::new(1, 4));
        assert_eq!(index.offset(Position::new(1, 4)), x);
        assert_eq!(index.offset(Position::new(1, 99)), text.len() - 1);
        assert_eq!(index.offset(Position::new(9, 0)), text.len());
    }
}
