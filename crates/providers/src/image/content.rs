//! The content hash of an image's build inputs: the same inputs give the same hash, and the
//! tag the image is built under comes from it, so a changed input rebuilds the image and rolls
//! the services that run it.
//!
//! Files are streamed through the hash one at a time (a big context is never held in memory),
//! and only what the daemon receives counts: the context as `.dockerignore` filters it, each
//! file's bytes and its executable bit (the rest of the mode, times and owners are not sent).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use stack_docker::{ContextEntry, ContextError};

/// Everything a build reads besides the daemon's cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInputs {
    /// The context folder, absolute.
    pub context: PathBuf,
    /// Relative to the context.
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// The Docker labels the file asks for (besides those every object of a stack carries).
    pub labels: BTreeMap<String, String>,
}

/// The SHA-256 of the inputs, as 64 hex digits.
pub fn hash(inputs: &BuildInputs) -> Result<String, ContextError> {
    let mut hasher = Sha256::new();
    // A version, so a change of what is hashed can never reuse an old tag.
    put(&mut hasher, b"stack image inputs 1");
    for entry in stack_docker::context_entries(&inputs.context, &inputs.dockerfile)? {
        put_entry(&mut hasher, &entry).map_err(|source| ContextError {
            path: entry.path.clone(),
            source,
        })?;
    }
    put(&mut hasher, b"dockerfile");
    put(&mut hasher, inputs.dockerfile.as_bytes());
    put(&mut hasher, b"target");
    put(
        &mut hasher,
        inputs.target.as_deref().unwrap_or_default().as_bytes(),
    );
    for (section, map) in [("args", &inputs.args), ("labels", &inputs.labels)] {
        put(&mut hasher, section.as_bytes());
        put(&mut hasher, &(map.len() as u64).to_le_bytes());
        for (key, value) in map {
            put(&mut hasher, key.as_bytes());
            put(&mut hasher, value.as_bytes());
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// One path: its kind, name, and for a file its executable bit and the hash of its bytes, for
/// a link its target.
fn put_entry(hasher: &mut Sha256, entry: &ContextEntry) -> io::Result<()> {
    put(hasher, entry.name.as_bytes());
    if entry.file_type.is_dir() {
        put(hasher, b"dir");
    } else if entry.file_type.is_symlink() {
        put(hasher, b"link");
        put(
            hasher,
            std::fs::read_link(&entry.path)?.as_os_str().as_encoded_bytes(),
        );
    } else {
        let file = File::open(&entry.path)?;
        put(hasher, if executable(&file)? { b"exec" } else { b"file" });
        put(hasher, &file_digest(file)?);
    }
    Ok(())
}

/// A length-prefixed field: no two different sequences of fields hash the same bytes.
fn put(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

fn file_digest(mut file: File) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => hasher.update(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(hasher.finalize().into())
}

/// The owner's execute bit: the only part of the mode the packed context keeps.
#[cfg(unix)]
fn executable(file: &File) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    Ok(file.metadata()?.permissions().mode() & 0o100 != 0)
}

#[cfg(not(unix))]
fn executable(_file: &File) -> io::Result<bool> {
    Ok(false)
}

/// Whether the context holds the Dockerfile, so a missing one is reported before a build.
pub fn has_dockerfile(inputs: &BuildInputs) -> bool {
    inputs.context.join(&inputs.dockerfile).is_file()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;

    fn context() -> (tempfile::TempDir, BuildInputs) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        fs::write(dir.path().join("src/main.txt"), "hello\n").unwrap();
        fs::write(dir.path().join("notes.log"), "ignored\n").unwrap();
        fs::write(dir.path().join(".dockerignore"), "*.log\n").unwrap();
        let inputs = BuildInputs {
            context: dir.path().to_path_buf(),
            dockerfile: "Dockerfile".to_string(),
            args: BTreeMap::from([("VERSION".to_string(), "1".to_string())]),
            target: None,
            labels: BTreeMap::new(),
        };
        (dir, inputs)
    }

    #[test]
    fn is_stable_for_the_same_inputs() {
        let (_dir, inputs) = context();
        let first = hash(&inputs).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(hash(&inputs).unwrap(), first);
        // Fixed for these inputs on every machine and run: a change here rebuilds every image.
        assert_eq!(
            first,
            "646499c3caf7a0198c833599c31e81ab73445a5f7c626af3d860f71bc4d965f0"
        );
    }

    #[test]
    fn ignores_times_and_ignored_files() {
        let (dir, inputs) = context();
        let before = hash(&inputs).unwrap();
        fs::write(dir.path().join("notes.log"), "changed, but ignored\n").unwrap();
        fs::write(dir.path().join("other.log"), "new, but ignored\n").unwrap();
        let file = File::options()
            .write(true)
            .open(dir.path().join("src/main.txt"))
            .unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(hash(&inputs).unwrap(), before);
    }

    #[test]
    fn changes_with_every_input() {
        let (dir, inputs) = context();
        let mut seen = vec![hash(&inputs).unwrap()];
        let mut differs = |inputs: &BuildInputs, what: &str| {
            let hash = hash(inputs).unwrap();
            assert!(!seen.contains(&hash), "{what} did not change the hash");
            seen.push(hash);
        };

        fs::write(dir.path().join("src/main.txt"), "hello, world\n").unwrap();
        differs(&inputs, "a file's content");
        fs::write(dir.path().join("src/new.txt"), "").unwrap();
        differs(&inputs, "a new empty file");
        fs::rename(dir.path().join("src/new.txt"), dir.path().join("src/renamed.txt")).unwrap();
        differs(&inputs, "a renamed file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("src/main.txt");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            differs(&inputs, "an executable bit");
            std::os::unix::fs::symlink("main.txt", dir.path().join("src/link")).unwrap();
            differs(&inputs, "a symlink");
        }
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        differs(&inputs, "the Dockerfile's content");
        fs::write(dir.path().join("Other.Dockerfile"), "FROM scratch\n").unwrap();
        differs(&inputs, "a new file");
        let other_dockerfile = BuildInputs {
            dockerfile: "Other.Dockerfile".to_string(),
            ..inputs.clone()
        };
        differs(&other_dockerfile, "the dockerfile");
        let mut other_args = inputs.clone();
        other_args.args.insert("VERSION".to_string(), "2".to_string());
        differs(&other_args, "an arg's value");
        let mut more_args = inputs.clone();
        more_args.args.insert("EXTRA".to_string(), String::new());
        differs(&more_args, "a new empty arg");
        let other_target = BuildInputs {
            target: Some("runtime".to_string()),
            ..inputs.clone()
        };
        differs(&other_target, "the target");
        let mut other_labels = inputs.clone();
        other_labels.labels.insert("team".to_string(), "web".to_string());
        differs(&other_labels, "a label");
    }

    #[test]
    fn keeps_a_dockerignored_dockerfile() {
        let (dir, inputs) = context();
        fs::write(dir.path().join(".dockerignore"), "*.log\nDockerfile\n").unwrap();
        let before = hash(&inputs).unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_ne!(
            hash(&inputs).unwrap(),
            before,
            "the daemon still gets the Dockerfile"
        );
    }

    #[test]
    fn names_the_path_it_cannot_read() {
        let inputs = BuildInputs {
            context: PathBuf::from("/nonexistent/context"),
            dockerfile: "Dockerfile".to_string(),
            args: BTreeMap::new(),
            target: None,
            labels: BTreeMap::new(),
        };
        let error = hash(&inputs).unwrap_err();
        assert_eq!(error.path, Path::new("/nonexistent/context"));
        assert!(!has_dockerfile(&inputs));
    }
}
