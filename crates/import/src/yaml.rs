//! YAML read into a tree that remembers where each value was written.
//!
//! yaml-rust2's own tree drops positions, so the tree is built here from the
//! parser's events. Aliases are resolved to copies of their anchor's node, and
//! merge keys (`<<: *base`, `<<: [*a, *b]`) are applied: the keys a mapping
//! writes itself win over merged ones, and earlier merged mappings over later.

use std::collections::HashMap;

use stack_diagnostics::{Diagnostic, FileId, Span};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML value and where it starts.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Yaml,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Yaml {
    Null,
    /// A scalar as written; `quoted` scalars are always strings.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; keys are unique.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn null(span: Span) -> Node {
        Node {
            value: Yaml::Null,
            span,
        }
    }

    /// A scalar's text (numbers and booleans as written); `None` for anything else.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Null)
    }

    /// A boolean in YAML 1.2's spelling (and Compose's `yes`/`no`, which v1 reads as booleans).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Yaml::Scalar { text, quoted: false } => match text.as_str() {
                "true" | "True" | "TRUE" | "yes" | "Yes" => Some(true),
                "false" | "False" | "FALSE" | "no" | "No" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match &self.value {
            Yaml::Scalar { text, quoted: false } => text.parse().ok(),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(name, _)| name.as_str() == Some(key))
            .map(|(_, value)| value)
    }

    /// What kind of value this is, for messages.
    pub fn describe(&self) -> &'static str {
        self.value.describe()
    }
}

impl Yaml {
    fn describe(&self) -> &'static str {
        match self {
            Yaml::Null => "nothing",
            Yaml::Scalar { .. } => "a scalar",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }
}

/// Parses `text` (the file `file`) into its one document.
pub fn parse(file: FileId, text: &str) -> Result<Node, Vec<Diagnostic>> {
    let offsets = Offsets::new(text);
    let mut builder = Builder {
        file,
        offsets: &offsets,
        text,
        stack: Vec::new(),
        anchors: HashMap::new(),
        documents: Vec::new(),
        problems: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(error) = parser.load(&mut builder, true) {
        // At the end of the file, point at its last character rather than past it.
        let at = offsets.byte(error.marker().index());
        let last = text.trim_end().len().saturating_sub(1);
        let at = if at >= text.trim_end().len() { last } else { at };
        let span = Span::new(file, at..(at + 1).min(text.len()));
        return Err(vec![
            Diagnostic::error(
                "stack::compose_syntax",
                format!("this is not valid YAML: {}", error.info()),
            )
            .primary(span, error.info().to_owned())
            .help("fix the YAML: `docker compose config` reads the file the same way"),
        ]);
    }
    let Builder {
        mut documents,
        problems,
        ..
    } = builder;
    if !problems.is_empty() {
        return Err(problems);
    }
    if documents.len() > 1 {
        let second = &documents[1];
        return Err(vec![
            Diagnostic::error("stack::compose_invalid", "a Compose file holds one YAML document")
                .primary(second.span, "a second document starts here")
                .help("split the documents into files of their own and give them all on the command line"),
        ]);
    }
    Ok(documents
        .pop()
        .unwrap_or_else(|| Node::null(Span::file_start(file))))
}

/// yaml-rust2 counts positions in characters; spans are in bytes.
struct Offsets {
    /// The byte offset of each character, when the text is not all ASCII.
    bytes: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let bytes = (!text.is_ascii()).then(|| text.char_indices().map(|(at, _)| at).collect());
        Offsets {
            bytes,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.bytes {
            Some(bytes) => bytes.get(char_index).copied().unwrap_or(self.len),
            None => char_index.min(self.len),
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
    },
    Map {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
    },
}

struct Builder<'a> {
    file: FileId,
    offsets: &'a Offsets,
    text: &'a str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    documents: Vec<Node>,
    problems: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn span(&self, mark: Marker, chars: usize) -> Span {
        let start = self.offsets.byte(mark.index());
        let end = self.offsets.byte(mark.index() + chars);
        // A span ends at its line's end: enough to point at the value.
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |at| start + at);
        Span::new(self.file, start..end.min(line_end).max(start))
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. } | Frame::Map { items, .. }) => items.push(node),
            None => self.documents.push(node),
        }
    }

    fn mapping(&mut self, items: Vec<Node>, start: Span) -> Node {
        let mut own: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<Node> = Vec::new();
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            if matches!(&key.value, Yaml::Scalar { text, quoted: false } if text == "<<") {
                merged.push(value);
                continue;
            }
            if let Some((first, _)) = own.iter().find(|(seen, _)| same_key(seen, &key)) {
                self.problems.push(
                    Diagnostic::error(
                        "stack::compose_invalid",
                        format!(
                            "the key `{}` appears twice in one mapping",
                            key.as_str().unwrap_or("?")
                        ),
                    )
                    .primary(key.span, "again here")
                    .secondary(first.span, "first here")
                    .help("keep one of them: Compose refuses duplicate keys"),
                );
                continue;
            }
            own.push((key, value));
        }
        for source in merged {
            let sources: Vec<Node> = match source.value {
                Yaml::Seq(items) => items,
                _ => vec![source],
            };
            for source in sources {
                let Yaml::Map(entries) = source.value else {
                    self.problems.push(
                        Diagnostic::error(
                            "stack::compose_invalid",
                            "a merge key `<<` takes a mapping or a list of mappings",
                        )
                        .primary(source.span, format!("this is {}", source.value.describe()))
                        .help("merge an anchored mapping: `<<: *defaults`"),
                    );
                    continue;
                };
                for (key, value) in entries {
                    if !own.iter().any(|(seen, _)| same_key(seen, &key)) {
                        own.push((key, value));
                    }
                }
            }
        }
        Node {
            value: Yaml::Map(own),
            span: start,
        }
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let width = text.chars().count() + if quoted { 2 } else { 0 };
                let span = self.span(mark, width.max(1));
                let value = if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    Yaml::Null
                } else {
                    Yaml::Scalar { text, quoted }
                };
                self.finish(Node { value, span }, anchor);
            }
            Event::Alias(anchor) => {
                let span = self.span(mark, 1);
                match self.anchors.get(&anchor) {
                    Some(node) => {
                        let node = node.clone();
                        self.finish(node, 0);
                    }
                    None => {
                        self.problems.push(
                            Diagnostic::error("stack::compose_syntax", "this alias names no anchor")
                                .primary(span, "unknown alias")
                                .help("define the anchor (`&name`) before the alias (`*name`) that uses it"),
                        );
                        self.finish(Node::null(span), 0);
                    }
                }
            }
            Event::SequenceStart(anchor, _) => {
                let start = self.span(mark, 1);
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    start,
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                let start = self.span(mark, 1);
                self.stack.push(Frame::Map {
                    items: Vec::new(),
                    start,
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { items, start, anchor }) => {
                    let node = Node {
                        value: Yaml::Seq(items),
                        span: start,
                    };
                    self.finish(node, anchor);
                }
                Some(Frame::Map { items, start, anchor }) => {
                    let node = self.mapping(items, start);
                    self.finish(node, anchor);
                }
                None => {}
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests;
