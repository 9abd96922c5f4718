//! Finding, reading and parsing the files of a stack and of the modules it uses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{Dir, include_dir};
use rayon::prelude::*;
use stack_diagnostics::{Diagnostic, FileId, Sources, Span};

use crate::decl::Unit;
use crate::lower::Lowerer;
use crate::reuse::Evaluations;
use crate::schema::Schema;

/// The standard library, built into the binary: `use "stdlib/postgres"`.
static STDLIB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../stdlib");

/// Where module paths starting with this prefix are looked up.
pub const STDLIB_PREFIX: &str = "stdlib/";

/// Loads units (the root stack and each module directory) once each.
pub struct Loader<'a> {
    pub schema: &'a Schema,
    pub sources: &'a mut Sources,
    pub diagnostics: Vec<Diagnostic>,
    buffers: &'a Buffers,
    modules: HashMap<String, Option<Arc<Unit>>>,
    /// Files lowered by an earlier load, and those lowered by this one.
    earlier: FileCache,
    now: FileCache,
}

/// Files already parsed and lowered, each kept while its text and its place
/// among the files read stay the same: checking a stack again after an edit
/// of one file parses and lowers only that file. Beside them, the root's
/// resources as last evaluated (see `reuse`).
#[derive(Default)]
pub struct FileCache {
    files: HashMap<CacheKey, Arc<LoweredFile>>,
    /// The root's resources as the last check evaluated them.
    pub(crate) evaluations: Evaluations,
}

/// A file, read in a module or not: its declarations depend on both.
type CacheKey = (PathBuf, bool);

/// One file, parsed and lowered on its own.
struct LoweredFile {
    /// Spans of the declarations and diagnostics point into this file.
    file: FileId,
    bytes: Vec<u8>,
    /// Whether the file parsed: an editor keeps the names of the last file that did.
    parsed: bool,
    unit: Unit,
    diagnostics: Vec<Diagnostic>,
}

impl FileCache {
    /// Whether the file at `path` parsed when it was last read; `None` when it was not.
    pub fn parsed(&self, path: &Path) -> Option<bool> {
        let path = normalize(path);
        [false, true]
            .into_iter()
            .find_map(|in_module| self.files.get(&(path.clone(), in_module)))
            .map(|lowered| lowered.parsed)
    }
}

/// Texts that stand for files, by path: an editor's open buffers, saved or
/// not. A buffer replaces the file of the same path, and a buffer of a `.kdl`
/// file not yet on disk joins the files of its directory.
#[derive(Debug, Clone, Default)]
pub struct Buffers {
    texts: HashMap<PathBuf, Arc<str>>,
}

impl Buffers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, path: &Path, text: impl Into<Arc<str>>) {
        self.texts.insert(normalize(path), text.into());
    }

    pub fn remove(&mut self, path: &Path) {
        self.texts.remove(&normalize(path));
    }

    pub fn get(&self, path: &Path) -> Option<&Arc<str>> {
        self.texts.get(&normalize(path))
    }

    /// Whether `path` is a file, on disk or in a buffer.
    pub fn is_file(&self, path: &Path) -> bool {
        self.get(path).is_some() || path.is_file()
    }

    /// The `.kdl` files of `dir`, on disk and in buffers, in the order of [`stack_files`].
    fn stack_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut paths = stack_files(dir)?;
        let dir = normalize(dir);
        let unsaved = self.texts.keys().filter(|path| {
            path.parent() == Some(dir.as_path())
                && path.extension().is_some_and(|ext| ext == "kdl")
                && !paths.iter().any(|listed| normalize(listed) == **path)
        });
        paths.extend(unsaved.cloned().collect::<Vec<_>>());
        sort_stack_files(&mut paths);
        Ok(paths)
    }
}

/// A file to read: shown under `name`, found at `path`.
struct Input {
    name: String,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl<'a> Loader<'a> {
    pub fn new(schema: &'a Schema, sources: &'a mut Sources, buffers: &'a Buffers) -> Self {
        Loader {
            schema,
            sources,
            diagnostics: Vec::new(),
            buffers,
            modules: HashMap::new(),
            earlier: FileCache::default(),
            now: FileCache::default(),
        }
    }

    /// A loader that reuses the files of `cache` that have not changed.
    pub fn with_cache(
        schema: &'a Schema,
        sources: &'a mut Sources,
        buffers: &'a Buffers,
        cache: FileCache,
    ) -> Self {
        Loader {
            earlier: cache,
            ..Loader::new(schema, sources, buffers)
        }
    }

    /// The files this loader read, for the next load to reuse.
    pub fn into_cache(self) -> FileCache {
        self.now
    }

    /// Loads the stack at `path`: a directory with `stack.kdl`, or one file.
    pub fn load_root(&mut self, path: &Path) -> Option<Unit> {
        let inputs = if path.is_dir() {
            if !self.buffers.is_file(&path.join("stack.kdl")) {
                self.diagnostics.push(
                    Diagnostic::error("stack::no_stack", format!("{} has no stack.kdl", path.display()))
                        .help("a stack is a directory with a stack.kdl file; pass the directory or a single .kdl file"),
                );
                return None;
            }
            self.read_dir(path)?
        } else {
            vec![self.read_file(path)?]
        };
        Some(self.load_unit(inputs, false))
    }

    /// Loads the module a `use` names, relative to `from_dir`; `None` when it cannot be found.
    pub fn load_module(&mut self, source: &str, from_dir: &Path, span: Span) -> Option<Arc<Unit>> {
        let (key, inputs) = if let Some(name) = source.strip_prefix(STDLIB_PREFIX) {
            let Some(module) = STDLIB.get_dir(name) else {
                let names: Vec<String> = STDLIB
                    .dirs()
                    .filter_map(|dir| dir.path().to_str().map(str::to_owned))
                    .collect();
                self.diagnostics.push(
                    Diagnostic::error(
                        "stack::module_not_found",
                        format!("the standard library has no module `{name}`"),
                    )
                    .primary(span, "no such module")
                    .help(crate::suggest::did_you_mean(
                        name,
                        "module",
                        names.iter().map(String::as_str),
                    )),
                );
                return None;
            };
            let inputs = module
                .files()
                .filter(|file| file.path().extension().is_some_and(|ext| ext == "kdl"))
                .map(|file| Input {
                    name: format!("{STDLIB_PREFIX}{}", file.path().display()),
                    path: Path::new("<stdlib>").join(file.path()),
                    bytes: file.contents().to_vec(),
                })
                .collect::<Vec<_>>();
            (source.to_owned(), inputs)
        } else {
            let dir = normalize(&from_dir.join(source));
            let key = dir
                .canonicalize()
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string();
            if let Some(unit) = self.modules.get(&key) {
                return unit.clone();
            }
            if !dir.is_dir() {
                self.diagnostics.push(
                    Diagnostic::error("stack::module_not_found", format!("module `{source}` not found"))
                        .primary(span, format!("{} is not a directory", display_name(&dir)))
                        .help("module paths are relative to the file that uses them; the standard library is under \"stdlib/\""),
                );
                return None;
            }
            let inputs = self.read_dir(&dir).unwrap_or_default();
            (key, inputs)
        };
        if let Some(unit) = self.modules.get(&key) {
            return unit.clone();
        }
        if inputs.is_empty() {
            self.diagnostics.push(
                Diagnostic::error(
                    "stack::module_not_found",
                    format!("module `{source}` has no .kdl files"),
                )
                .primary(span, "empty module"),
            );
            self.modules.insert(key, None);
            return None;
        }
        let unit = Arc::new(self.load_unit(inputs, true));
        self.modules.insert(key, Some(Arc::clone(&unit)));
        Some(unit)
    }

    fn read_dir(&mut self, dir: &Path) -> Option<Vec<Input>> {
        match self.buffers.stack_files(dir) {
            Ok(paths) => Some(paths.iter().filter_map(|path| self.read_file(path)).collect()),
            Err(error) => {
                self.diagnostics.push(Diagnostic::error(
                    "stack::io",
                    format!("cannot read {}: {error}", dir.display()),
                ));
                None
            }
        }
    }

    fn read_file(&mut self, path: &Path) -> Option<Input> {
        let read = match self.buffers.get(path) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => std::fs::read(path),
        };
        match read {
            Ok(bytes) => Some(Input {
                name: display_name(path),
                path: path.to_path_buf(),
                bytes,
            }),
            Err(error) => {
                self.diagnostics.push(
                    Diagnostic::error("stack::io", format!("cannot read {}: {error}", path.display()))
                        .help("check that the path exists and is readable"),
                );
                None
            }
        }
    }

    /// Decodes, parses (in parallel) and lowers the files of one directory, each
    /// on its own (or as an earlier load left it), then puts their declarations together.
    fn load_unit(&mut self, inputs: Vec<Input>, in_module: bool) -> Unit {
        let mut lowered = Vec::new();
        let mut fresh = Vec::new();
        for input in inputs {
            // Diagnostics need the file's text, so non-UTF-8 input is shown lossily.
            let text = String::from_utf8_lossy(&input.bytes).into_owned();
            let key = (normalize(&input.path), in_module);
            let file = self.sources.add(input.name, input.path, text);
            let reused = self
                .earlier
                .files
                .remove(&key)
                .filter(|earlier| earlier.file == file && earlier.bytes == input.bytes);
            match reused {
                Some(earlier) => lowered.push((key, earlier)),
                None => fresh.push((key, file, input.bytes)),
            }
        }
        let (schema, sources) = (self.schema, &*self.sources);
        let lower = |(key, file, bytes): (CacheKey, FileId, Vec<u8>)| {
            let lowered = lower_file(schema, sources, file, bytes, in_module);
            (key, Arc::new(lowered))
        };
        // Starting rayon's threads costs about a millisecond: a single file is lowered here.
        if fresh.len() > 1 {
            lowered.par_extend(fresh.into_par_iter().map(lower));
        } else {
            lowered.extend(fresh.into_iter().map(lower));
        }
        // In the order the files were read: the first of two declarations of a name is the one kept.
        lowered.sort_by_key(|(_, file)| file.file);
        let mut unit = Unit::default();
        for (key, file) in lowered {
            self.diagnostics.extend(file.diagnostics.iter().cloned());
            unit.merge(&file.unit, &mut self.diagnostics);
            self.now.files.insert(key, file);
        }
        unit
    }
}

/// One file, read, parsed and lowered on its own.
fn lower_file(
    schema: &Schema,
    sources: &Sources,
    file: FileId,
    bytes: Vec<u8>,
    in_module: bool,
) -> LoweredFile {
    let mut lowered = LoweredFile {
        file,
        bytes,
        parsed: false,
        unit: Unit::default(),
        diagnostics: Vec::new(),
    };
    let source = sources.get(file);
    if let Err(problem) = stack_syntax::read(file, &lowered.bytes) {
        lowered.diagnostics.push(problem);
        return lowered;
    }
    let parsed = stack_syntax::parse(file, source.text());
    lowered.diagnostics.extend(parsed.diagnostics);
    let Some(document) = parsed.document else {
        return lowered;
    };
    lowered.parsed = true;
    if document.nodes().is_empty() {
        lowered.diagnostics.push(
            Diagnostic::error("stack::empty_file", format!("{} declares nothing", source.name()))
                .primary(Span::file_start(file), "empty file")
                .help("declare resources in it, or delete it"),
        );
        return lowered;
    }
    let dir = source.path().parent().unwrap_or(Path::new(""));
    Lowerer {
        file,
        text: source.text(),
        dir,
        schema,
        in_module,
        diagnostics: &mut lowered.diagnostics,
    }
    .lower(&document, &mut lowered.unit);
    lowered
}

/// Resolves `.` and `..` without touching the file system, so paths read as
/// the user would write them and compare as the places they name.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(clean.components().next_back(), Some(Component::Normal(_))) => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean
}

/// A path as the user would write it: relative to the working directory when inside it.
fn display_name(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| normalize(path))
        .display()
        .to_string()
}

/// The `.kdl` files of a stack directory: stack.kdl first, then the others by
/// name. Diagnostics and output follow this order.
pub(crate) fn stack_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "kdl"))
        .collect();
    sort_stack_files(&mut paths);
    Ok(paths)
}

fn sort_stack_files(paths: &mut [PathBuf]) {
    paths.sort_by_key(|path| (path.file_name() != Some("stack.kdl".as_ref()), path.clone()));
}
