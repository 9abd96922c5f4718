//! The open buffers, and the stacks they belong to, checked.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use lsp_types::Url;
use stack_diagnostics::{Diagnostics, FileId, Sources};
use stack_graph::ResourceGraph;
use stack_language::{Buffers, FileCache, Index, Options, schema::Schema};

/// One stack (or a lone file), checked as its buffers read now.
pub struct Analysis {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
    pub index: Index,
    /// The files read, parsed and lowered: the next check reuses those that did not change.
    files: FileCache,
}

impl Analysis {
    /// Whether the file at `path` parsed, when this check read it.
    pub fn parsed(&self, path: &Path) -> Option<bool> {
        self.files.parsed(path)
    }

    /// The file loaded from `path`, and its text.
    pub fn file(&self, path: &Path) -> Option<(FileId, &str)> {
        let file = self.sources.find(path)?;
        Some((file, self.sources.get(file).text()))
    }
}

pub struct Workspace {
    pub schema: Schema,
    buffers: Buffers,
    /// By root: the stack's directory, or a file outside any stack.
    analyses: HashMap<PathBuf, Analysis>,
    /// The files each root has published diagnostics for, to clear them later.
    published: HashMap<PathBuf, HashSet<Url>>,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            schema: stack_language::schema::builtin(),
            buffers: Buffers::new(),
            analyses: HashMap::new(),
            published: HashMap::new(),
        }
    }

    pub fn open(&mut self, path: &Path, text: String) {
        self.buffers.insert(path, text);
    }

    /// The editor closed the buffer: the file on disk counts again.
    pub fn close(&mut self, path: &Path) {
        self.buffers.remove(path);
    }

    /// Checks the stack `path` belongs to again; gives its root.
    ///
    /// While the file does not parse (a block just opened, a string not yet
    /// closed), its names are those of the last check: completion still
    /// offers them as the user types.
    pub fn check(&mut self, path: &Path) -> PathBuf {
        let root = self.root(path);
        let previous = self.analyses.remove(&root);
        let (files, previous_index) = match previous {
            Some(previous) => (previous.files, Some(previous.index)),
            None => (FileCache::default(), None),
        };
        let mut analysis = self.analyze(&root, files);
        if analysis.files.parsed(path) == Some(false)
            && let Some(index) = previous_index
        {
            analysis.index = index;
        }
        self.analyses.insert(root.clone(), analysis);
        root
    }

    /// The stack `path` belongs to, checked (now, if it was not yet).
    pub fn analysis(&mut self, path: &Path) -> &Analysis {
        let root = self.root(path);
        if !self.analyses.contains_key(&root) {
            let analysis = self.analyze(&root, FileCache::default());
            self.analyses.insert(root.clone(), analysis);
        }
        &self.analyses[&root]
    }

    /// The stack `path` belongs to, as last checked.
    pub fn analysis_of(&self, path: &Path) -> Option<&Analysis> {
        self.analyses.get(&self.root(path))
    }

    pub fn analysis_of_root(&self, root: &Path) -> Option<&Analysis> {
        self.analyses.get(root)
    }

    /// Records what `root` published now; gives the files whose diagnostics must be cleared.
    pub fn published(&mut self, root: &Path, now: HashSet<Url>) -> Vec<Url> {
        let before = self
            .published
            .insert(root.to_path_buf(), now.clone())
            .unwrap_or_default();
        before.difference(&now).cloned().collect()
    }

    /// The nearest directory at or above the file's that holds a `stack.kdl`
    /// (a module's files are checked with the stack that calls them), else the file itself.
    fn root(&self, path: &Path) -> PathBuf {
        path.ancestors()
            .skip(1)
            .find(|dir| self.buffers.is_file(&dir.join("stack.kdl")))
            .unwrap_or(path)
            .to_path_buf()
    }

    fn analyze(&self, root: &Path, mut files: FileCache) -> Analysis {
        let mut sources = Sources::new();
        if !root.is_dir() {
            return self.lone_file(root, sources);
        }
        let analysis = stack_language::analyze(
            root,
            &Options::default(),
            &self.schema,
            &mut sources,
            &self.buffers,
            &mut files,
        );
        let mut diagnostics = analysis.validated.diagnostics;
        // As `stack validate`: cycles are a property of the graph.
        for stack in &analysis.validated.stacks {
            if let Err(cycles) = ResourceGraph::build(stack) {
                diagnostics.extend(cycles);
            }
        }
        diagnostics.sort();
        // Freeing the evaluated stacks (a thousand resources) takes milliseconds: not while the editor waits.
        let stacks = analysis.validated.stacks;
        std::thread::spawn(move || drop(stacks));
        Analysis {
            sources,
            diagnostics,
            index: analysis.index,
            files,
        }
    }

    /// A file in no stack (a module being written, a scratch file): only its syntax is checked,
    /// since what it may declare depends on who uses it.
    fn lone_file(&self, path: &Path, mut sources: Sources) -> Analysis {
        let text = match self.buffers.get(path) {
            Some(text) => text.to_string(),
            None => std::fs::read_to_string(path).unwrap_or_default(),
        };
        let file = sources.add(path.display().to_string(), path, text.as_str());
        let diagnostics = match stack_syntax::read(file, text.as_bytes()) {
            Ok(text) => stack_syntax::parse(file, text).diagnostics.into(),
            Err(problem) => problem.into(),
        };
        Analysis {
            sources,
            diagnostics,
            index: Index::default(),
            files: FileCache::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_diagnostics::Diagnostic;

    const STACK: &str = "variable \"release\" default=\"1\"\nnetwork \"net\"\nuse \"./cache\" {\n    network \"net\"\n}\nservice \"db\" {\n    image \"postgres:16\"\n    network \"net\"\n}\nservice \"api\" {\n    image \"api:${var.release}\"\n    env {\n        CACHE \"${module.cache.host}\"\n    }\n    depends-on \"db\"\n}\n";
    const OVERLAY: &str = "overlay \"production\" {\n    service \"db\" {\n        replicas 1\n    }\n}\n";
    const MODULE: &str = "variable \"network\" type=\"network\"\nservice \"memcached\" {\n    image \"memcached:1\"\n    network \"${var.network}\"\n}\noutput \"host\" \"${service.memcached}\"\n";

    /// Each diagnostic as `stack validate` would place it: file, range, code, message, help, labels.
    fn described(diagnostics: &Diagnostics, sources: &Sources) -> Vec<String> {
        let place = |span: stack_diagnostics::Span| {
            format!("{}:{:?}", sources.get(span.file).path().display(), span.range())
        };
        diagnostics
            .iter()
            .map(|diagnostic: &Diagnostic| {
                let labels: Vec<String> = diagnostic
                    .labels
                    .iter()
                    .map(|label| format!("{} {}", place(label.span), label.message))
                    .collect();
                format!(
                    "{} {} | {:?} | {labels:?}",
                    diagnostic.code, diagnostic.message, diagnostic.help
                )
            })
            .collect()
    }

    /// What `stack validate` reports for the files on disk.
    fn validate(root: &Path) -> Vec<String> {
        let mut sources = Sources::new();
        let schema = stack_language::schema::builtin();
        let validated = stack_language::validate(root, &Options::default(), &schema, &mut sources);
        let mut diagnostics = validated.diagnostics;
        for stack in &validated.stacks {
            if let Err(cycles) = ResourceGraph::build(stack) {
                diagnostics.extend(cycles);
            }
        }
        diagnostics.sort();
        described(&diagnostics, &sources)
    }

    #[test]
    fn an_edited_stack_is_checked_as_validate_checks_it_afresh() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().canonicalize().expect("the directory's path");
        let stack = root.join("stack.kdl");
        let overlay = root.join("production.kdl");
        let module = root.join("cache/module.kdl");
        let added = root.join("more.kdl");
        std::fs::create_dir_all(root.join("cache")).expect("the module's directory");
        let edits: Vec<(&Path, String)> = vec![
            (&stack, STACK.to_owned()),
            (&overlay, OVERLAY.to_owned()),
            (&module, MODULE.to_owned()),
            // A typo in a field and in a variable.
            (
                &stack,
                STACK
                    .replace("image \"api", "imag \"api")
                    .replace("var.release", "var.relase"),
            ),
            // An overlay of a resource that does not exist.
            (&overlay, OVERLAY.replace("\"db\"", "\"dbb\"")),
            // The module reads a variable it does not declare, and its output goes.
            (&module, MODULE.replace("var.network", "var.netwrk")),
            (&module, MODULE.replace("output \"host\"", "output \"hostname\"")),
            // Not KDL, then fixed.
            (
                &overlay,
                OVERLAY.replace("{\n        replicas", "{{\n        replicas"),
            ),
            (&overlay, OVERLAY.to_owned()),
            // A new file, read between the others, declares a name twice.
            (
                &added,
                "service \"db\" {\n    image \"postgres:17\"\n}\n".to_owned(),
            ),
            (&stack, STACK.to_owned()),
            (&module, MODULE.to_owned()),
            (&added, "volume \"data\"\n".to_owned()),
        ];
        let mut workspace = Workspace::new();
        for (step, (path, text)) in edits.into_iter().enumerate() {
            std::fs::write(path, &text).expect("the file");
            workspace.open(path, text);
            let checked = workspace.check(path);
            assert_eq!(checked, root);
            let analysis = workspace.analysis_of_root(&root).expect("an analysis");
            let incremental = described(&analysis.diagnostics, &analysis.sources);
            assert_eq!(incremental, validate(&root), "after edit {step}");
        }
        let analysis = workspace.analysis_of_root(&root).expect("an analysis");
        assert!(
            analysis.diagnostics.is_empty(),
            "{:?}",
            described(&analysis.diagnostics, &analysis.sources)
        );
    }
}
