use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Identifies a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Self {
        let clamp = |offset: usize| u32::try_from(offset).unwrap_or(u32::MAX);
        Span {
            file,
            start: clamp(range.start),
            end: clamp(range.end.max(range.start)),
        }
    }

    /// A span covering the whole of a file, used when there is no better place.
    pub fn file_start(file: FileId) -> Self {
        Span {
            file,
            start: 0,
            end: 0,
        }
    }

    /// Converts a span from miette (what kdl reports) in `file`.
    pub fn from_miette(file: FileId, span: miette::SourceSpan) -> Self {
        Span::new(file, span.offset()..span.offset() + span.len())
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// One loaded file: its name as shown to the user and its text.
#[derive(Debug)]
pub struct SourceFile {
    name: String,
    path: PathBuf,
    text: Arc<str>,
}

impl SourceFile {
    /// The name shown in diagnostics (a path relative to where the user ran `stack`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the file lives (for embedded files, a virtual path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text, shared without copying.
    pub fn shared_text(&self) -> Arc<str> {
        Arc::clone(&self.text)
    }

    /// The text a span covers, or "" for a span that does not fit the file.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// All files a run has read, addressed by [`FileId`].
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(
        &mut self,
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        text: impl Into<Arc<str>>,
    ) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 4 billion source files"));
        self.files.push(SourceFile {
            name: name.into(),
            path: path.into(),
            text: text.into(),
        });
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(index, file)| (FileId(index as u32), file))
    }

    /// Finds a file already loaded from `path`.
    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.iter().find(|(_, file)| file.path == path).map(|(id, _)| id)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
