//! The build context: the folder, less what `.dockerignore` excludes, listed (to hash it) or
//! packed as a tar in memory (to send it).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::dockerignore::DockerIgnore;

/// A context that cannot be packed: the path that failed and why.
#[derive(Debug)]
pub struct ContextError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl std::fmt::Display for ContextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for ContextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// One path of a build context, as the daemon receives it.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    /// Relative to the context, `/`-separated.
    pub name: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// Not following symlinks: a link is sent as a link.
    pub file_type: fs::FileType,
}

/// Every path of `context` the daemon receives, less what `.dockerignore` excludes, in the
/// order they are packed. `dockerfile` (relative to the context) is always included, as the
/// Docker CLI does, since the daemon needs it even when `.dockerignore` names it.
pub fn entries(context: &Path, dockerfile: &str) -> Result<Vec<ContextEntry>, ContextError> {
    let ignore = dockerignore(context)?;
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(folder) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(context.join(&folder))
            .and_then(Iterator::collect)
            .map_err(at(&context.join(&folder)))?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let relative = folder.join(entry.file_name());
            let name = relative.to_string_lossy().replace('\\', "/");
            let excluded = ignore.excludes(&name) && name != dockerfile;
            let file_type = entry.file_type().map_err(at(&entry.path()))?;
            if file_type.is_dir() && (!excluded || ignore.has_exceptions()) {
                pending.push(relative);
            }
            if !excluded {
                found.push(ContextEntry {
                    name,
                    path: entry.path(),
                    file_type,
                });
            }
        }
    }
    Ok(found)
}

/// Whether `path` is part of what the daemon receives of `context`: a path in it that
/// `.dockerignore` does not exclude, or `.dockerignore` itself, which says what is excluded.
/// A path whose `.dockerignore` cannot be read counts as part of it.
pub fn in_context(context: &Path, path: &Path, dockerfile: &str) -> bool {
    let Ok(relative) = path.strip_prefix(context) else {
        return false;
    };
    let name = relative.to_string_lossy().replace('\\', "/");
    // The folder itself: what changed in it is named by its own path.
    if name.is_empty() {
        return false;
    }
    if name == ".dockerignore" || name == dockerfile {
        return true;
    }
    match dockerignore(context) {
        Ok(ignore) => !ignore.excludes(&name),
        Err(_) => true,
    }
}

fn dockerignore(context: &Path) -> Result<DockerIgnore, ContextError> {
    match fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => Ok(DockerIgnore::parse(&text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
        Err(error) => Err(at(&context.join(".dockerignore"))(error)),
    }
}

/// Packs `context` into a tar: the [`entries`], with fixed times and owners.
pub fn pack(context: &Path, dockerfile: &str) -> Result<Vec<u8>, ContextError> {
    let mut builder = tar::Builder::new(Vec::new());
    // Fixed times and owners: the same files give the same tar, and the build cache holds.
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    for entry in entries(context, dockerfile)? {
        builder
            .append_path_with_name(&entry.path, &entry.name)
            .map_err(at(&entry.path))?;
    }
    builder.into_inner().map_err(at(context))
}

/// Attaches the path an I/O error was about.
fn at(path: &Path) -> impl FnOnce(io::Error) -> ContextError {
    let path = path.to_path_buf();
    move |source| ContextError { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(archive: &[u8]) -> Vec<String> {
        let mut reader = tar::Archive::new(archive);
        let mut names: Vec<String> = reader
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_path_is_in_the_context_unless_dockerignore_excludes_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join(".dockerignore"), "target\n*.log\n").unwrap();
        assert!(in_context(root, &root.join("src/main.rs"), "Dockerfile"));
        assert!(in_context(root, &root.join(".dockerignore"), "Dockerfile"));
        assert!(in_context(root, &root.join("Dockerfile"), "Dockerfile"));
        assert!(!in_context(root, &root.join("target/debug/app"), "Dockerfile"));
        assert!(!in_context(root, &root.join("build.log"), "Dockerfile"));
        assert!(!in_context(
            &root.join("app"),
            &root.join("stack.kdl"),
            "Dockerfile"
        ));
        assert!(!in_context(root, root, "Dockerfile"));
    }

    #[test]
    fn packs_what_dockerignore_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src")).unwrap();
        fs::create_dir_all(root.join("target/release")).unwrap();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
        fs::write(root.join("src/notes.md"), "notes\n").unwrap();
        fs::write(root.join("README.md"), "readme\n").unwrap();
        fs::write(root.join("target/release/app"), "binary").unwrap();
        fs::write(
            root.join(".dockerignore"),
            "target\n**/*.md\n!README.md\nDockerfile\n",
        )
        .unwrap();

        let archive = pack(root, "Dockerfile").unwrap();
        assert_eq!(
            names(&archive),
            [".dockerignore", "Dockerfile", "README.md", "src", "src/main.rs"]
        );
    }

    #[test]
    fn lists_what_it_packs_in_the_same_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/c")).unwrap();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(root.join("b/c/d.txt"), "d\n").unwrap();
        fs::write(root.join("a.txt"), "a\n").unwrap();
        fs::write(root.join("skipped.log"), "log\n").unwrap();
        fs::write(root.join(".dockerignore"), "*.log\n").unwrap();

        let listed: Vec<String> = entries(root, "Dockerfile")
            .unwrap()
            .into_iter()
            .map(|entry| entry.name)
            .collect();
        let archive = pack(root, "Dockerfile").unwrap();
        let packed: Vec<String> = tar::Archive::new(&archive[..])
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(listed, packed);
        assert!(!listed.contains(&"skipped.log".to_string()), "{listed:?}");
        assert!(listed.contains(&"b/c/d.txt".to_string()), "{listed:?}");
    }

    #[test]
    fn packs_the_same_files_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(
            pack(dir.path(), "Dockerfile").unwrap(),
            pack(dir.path(), "Dockerfile").unwrap()
        );
    }

    #[test]
    fn a_missing_context_names_the_path() {
        let error = pack(Path::new("/nonexistent/context"), "Dockerfile").unwrap_err();
        assert_eq!(error.path, Path::new("/nonexistent/context"));
    }
}
