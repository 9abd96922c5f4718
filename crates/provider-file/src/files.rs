//! The provider: one kind, `file`, whose `content` changes in place and whose `extension`
//! replaces the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use stack_provider_sdk::{
    DesiredObject, DriftItem, Effect, Error, FieldSpec, KindSpec, LiveObject, Provider, Result, TypeSpec,
    field,
};

/// Where the files go until `configure` says: the stack's directory, where stack starts us.
#[derive(Debug)]
pub struct Files {
    directory: PathBuf,
}

impl Default for Files {
    fn default() -> Self {
        Files {
            directory: PathBuf::from("."),
        }
    }
}

/// What is kept beside each file: whose it is, and what it was last given.
#[derive(Debug, Serialize, Deserialize)]
struct Labels {
    stack: String,
    address: String,
    config: Map<String, Value>,
    /// The SHA-256 of the content written: drift shows without keeping the content, which
    /// may be a secret.
    digest: String,
}

impl Provider for Files {
    fn name(&self) -> &str {
        "file"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn kinds(&self) -> Vec<KindSpec> {
        vec![KindSpec {
            name: "file".to_owned(),
            doc: "A text file in the provider's directory".to_owned(),
            fields: vec![
                FieldSpec {
                    required: true,
                    ..field("content", TypeSpec::String, "What the file holds")
                },
                FieldSpec {
                    default: Some("txt".into()),
                    effect: Effect::Replace,
                    ..field("extension", TypeSpec::String, "The file name's extension")
                },
            ],
            ready: "exists".to_owned(),
        }]
    }

    fn config(&self) -> Vec<FieldSpec> {
        vec![FieldSpec {
            required: true,
            ..field(
                "directory",
                TypeSpec::Path,
                "Where the files are written, relative to the stack's directory",
            )
        }]
    }

    fn configure(&mut self, config: &Map<String, Value>) -> Result<()> {
        if let Some(directory) = config.get("directory").and_then(Value::as_str) {
            self.directory = PathBuf::from(directory);
        }
        Ok(())
    }

    fn read(&self, stack: &str, _kind: &str) -> Result<Vec<LiveObject>> {
        let entries = match std::fs::read_dir(&self.directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_error("cannot list", &self.directory, &error)),
        };
        let mut live = Vec::new();
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let labelled = file_name
                .strip_prefix('.')
                .and_then(|rest| rest.strip_suffix(".labels"));
            if let Some(object) = labelled.and_then(|name| self.live(stack, name)) {
                live.push(object);
            }
        }
        Ok(live)
    }

    fn create(&self, stack: &str, object: &DesiredObject) -> Result<()> {
        let path = self.directory.join(file_name(object));
        // Had the stack written it, `read` would have found it: it is someone else's.
        if path.exists() {
            return Err(Error::new(format!(
                "file `{}`, needed by {}, already exists and was not written by stack `{stack}`",
                path.display(),
                object.address
            ))
            .with_hint("stack never changes what it does not own: move that file away, or give the stack another name"));
        }
        std::fs::create_dir_all(&self.directory)
            .map_err(|error| io_error("cannot create", &self.directory, &error))?;
        self.write(stack, object)
    }

    fn update(&self, stack: &str, object: &DesiredObject, _live: &LiveObject) -> Result<()> {
        self.write(stack, object)
    }

    fn delete(&self, _stack: &str, live: &LiveObject) -> Result<()> {
        for path in [self.directory.join(&live.name), self.labels_path(&live.name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error("cannot remove", &path, &error)),
            }
        }
        Ok(())
    }

    fn make_drift(&self, _stack: &str, live: &LiveObject) -> Option<Result<()>> {
        let path = self.directory.join(&live.name);
        Some(
            std::fs::write(&path, "changed by hand").map_err(|error| io_error("cannot write", &path, &error)),
        )
    }
}

impl Files {
    fn labels_path(&self, name: &str) -> PathBuf {
        self.directory.join(format!(".{name}.labels"))
    }

    /// The file `name` when its labels say it is `stack`'s, with any change made by hand.
    fn live(&self, stack: &str, name: &str) -> Option<LiveObject> {
        let labels: Labels =
            serde_json::from_str(&std::fs::read_to_string(self.labels_path(name)).ok()?).ok()?;
        if labels.stack != stack {
            return None;
        }
        let on_disk = std::fs::read_to_string(self.directory.join(name)).ok();
        let drift = match on_disk {
            Some(text) if digest(&text) == labels.digest => Vec::new(),
            // A secret's value never goes back: `stack` shows only that it changed.
            Some(text) if !is_sensitive(labels.config.get("content")) => vec![DriftItem {
                field: "content".to_owned(),
                actual: Value::String(text),
            }],
            _ => vec![DriftItem {
                field: "content".to_owned(),
                actual: Value::Null,
            }],
        };
        Some(LiveObject {
            address: labels.address,
            name: name.to_owned(),
            config: labels.config,
            drift,
            state: "written".to_owned(),
            healthy: None,
        })
    }

    /// The labels, then the content: a file is never left without them.
    fn write(&self, stack: &str, object: &DesiredObject) -> Result<()> {
        let name = file_name(object);
        let content = object
            .value("content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let labels = Labels {
            stack: stack.to_owned(),
            address: object.address.clone(),
            config: object.config.clone(),
            digest: digest(content),
        };
        let labels_path = self.labels_path(&name);
        let text = serde_json::to_string(&labels).unwrap_or_default();
        std::fs::write(&labels_path, text).map_err(|error| io_error("cannot write", &labels_path, &error))?;
        let path = self.directory.join(&name);
        std::fs::write(&path, content).map_err(|error| io_error("cannot write", &path, &error))
    }
}

/// `STACK_NAME.EXTENSION`.
fn file_name(object: &DesiredObject) -> String {
    let extension = object
        .config
        .get("extension")
        .and_then(Value::as_str)
        .unwrap_or("txt");
    format!("{}.{extension}", object.name)
}

fn is_sensitive(recorded: Option<&Value>) -> bool {
    recorded.and_then(|value| value.get("sensitive")).is_some()
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn io_error(what: &str, path: &Path, error: &std::io::Error) -> Error {
    Error::new(format!("{what} {}: {error}", path.display()))
        .with_hint("check that the user running `stack` may write to that directory")
}
