//! The build context: the folder packed as a tar in memory, less what `.dockerignore` excludes.

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

/// Packs `context` into a tar. `dockerfile` (relative to the context) is always included, as
/// the Docker CLI does, since the daemon needs it even when `.dockerignore` names it.
pub fn pack(context: &Path, dockerfile: &str) -> Result<Vec<u8>, ContextError> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError { path, source }
    };
    let ignore = match fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(error) => return Err(at(&context.join(".dockerignore"))(error)),
    };
    let mut builder = tar::Builder::new(Vec::new());
    // Fixed times and owners: the same files give the same tar, and the build cache holds.
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);

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
            let is_dir = entry.file_type().map_err(at(&entry.path()))?.is_dir();
            if is_dir && (!excluded || ignore.has_exceptions()) {
                pending.push(relative.clone());
            }
            if !excluded {
                builder
                    .append_path_with_name(entry.path(), &relative)
                    .map_err(at(&entry.path()))?;
            }
        }
    }
    builder.into_inner().map_err(at(context))
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
