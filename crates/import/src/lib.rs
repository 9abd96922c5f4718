//! `stack import compose`: a Compose project as a stack directory.
//!
//! ```text
//! compose files ──yaml (with positions, anchors, merge keys)──▶ trees
//!   ──load (override files, include, extends)──▶ one project
//!   ──convert──▶ stack items ──kdl + stack fmt──▶ stack.kdl
//! ```
//!
//! Nothing is written here: [`import_compose`] returns the files and the
//! warnings, or every error found, and the caller writes (or does not).

mod convert;
mod cycles;
mod env_file;
mod job;
mod kdl;
mod load;
mod report;
mod resources;
mod scrub;
mod service;
mod units;
mod vars;
mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stack_diagnostics::{Diagnostic, Sources};

use crate::convert::Cx;
use crate::report::Report;
use crate::vars::Vars;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The stack directory to write; default: `stack/` beside the first file.
    pub output_dir: Option<PathBuf>,
    /// The file of variables Compose reads; default: `.env` beside the first file.
    pub env_file: Option<PathBuf>,
    /// The stack's name; default: the file's `name`, else its directory's name.
    pub project_name: Option<String>,
}

/// The stack an import made: its directory, its files, what could not be carried over.
#[derive(Debug)]
pub struct ImportedStack {
    pub dir: PathBuf,
    /// File names in `dir`, with their text (formatted as `stack fmt` writes it).
    pub files: Vec<(String, String)>,
    /// Fields not mapped and credentials moved out, each pointing at the Compose file.
    pub warnings: Vec<Diagnostic>,
}

impl ImportedStack {
    /// Writes the files, creating the directory.
    pub fn write(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        for (name, text) in &self.files {
            std::fs::write(self.dir.join(name), text)?;
        }
        Ok(())
    }

    /// Removes what [`write`](Self::write) wrote, and the directory when that leaves it empty.
    pub fn remove(&self) {
        for (name, _) in &self.files {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Reads the Compose `files` (later ones override earlier ones) and maps them
/// onto a stack. On any error, returns every error found and nothing else.
pub fn import_compose(
    files: &[PathBuf],
    options: &ImportOptions,
    sources: &mut Sources,
) -> Result<ImportedStack, Vec<Diagnostic>> {
    let mut report = Report::default();
    let project = load::load(files, sources, &mut report);
    let Some(project) = project else {
        return Err(report.errors);
    };
    if let Some(services) = project.root.get("services") {
        report.errors.extend(cycles::cycles(services));
    }
    let out_dir = load::absolute(
        &options
            .output_dir
            .clone()
            .unwrap_or_else(|| project.dir.join("stack")),
    );
    if out_dir.join("stack.kdl").exists() {
        return Err(vec![
            Diagnostic::error(
                "stack::io",
                format!("{} already exists", out_dir.join("stack.kdl").display()),
            )
            .help("import into a new directory with -o DIR, or remove the old stack first"),
        ]);
    }
    let env_file = match &options.env_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => env_file::parse(&text),
            Err(error) => {
                return Err(vec![Diagnostic::error(
                    "stack::io",
                    format!("cannot read the env file {}: {error}", path.display()),
                )]);
            }
        },
        None => std::fs::read_to_string(project.dir.join(".env"))
            .map(|text| env_file::parse(&text))
            .unwrap_or_default(),
    };
    let vars = Vars::new(env_file.into_iter().collect::<HashMap<_, _>>());
    let name = match &options.project_name {
        Some(name) => name.clone(),
        None => match project.root.get("name").and_then(|name| name.as_str()) {
            Some(name) => name.to_owned(),
            None => convert::project_name(&dir_name(&project.dir)),
        },
    };
    if !stack_language::valid_name(&name) {
        return Err(vec![
            Diagnostic::error(
                "stack::invalid_name",
                format!("`{name}` is not a valid stack name"),
            )
            .help("give one with --project-name: lowercase letters, digits, `-` and `_`"),
        ]);
    }
    let origin = files
        .iter()
        .map(|file| {
            file.file_name().map_or_else(
                || file.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sources_view: &Sources = sources;
    let mut cx = Cx::new(sources_view, &project, vars, out_dir.clone());
    let mut items = convert::convert(&mut cx, &project, &name, &origin);
    let Cx {
        report: mut found,
        vars,
        ..
    } = cx;
    scrub::scrub(&mut items, &vars.moved(), &mut found);
    report.errors.extend(found.errors);
    report.warnings.extend(found.warnings);
    if !report.errors.is_empty() {
        return Err(report.errors);
    }
    let text = kdl::render(&items);
    let path = out_dir.join("stack.kdl");
    let file = sources.add(path.display().to_string(), &path, text.as_str());
    let formatted = stack_fmt::format(file, &text)?;
    Ok(ImportedStack {
        dir: out_dir,
        files: vec![("stack.kdl".to_owned(), formatted)],
        warnings: report.warnings,
    })
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stack".to_owned())
}
