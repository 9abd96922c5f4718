//! The provider of the book's chapter "Writing a provider", compiled and run: the chapter
//! (book/src/providers.md) shows the parts of this file between `ANCHOR` comments.
//!
//! A new kind, `file`: text files in one directory. It is small, but it keeps every rule a
//! provider keeps: the state lives with the objects (in labels beside each file), files
//! without this stack's labels are never changed nor removed, changes made by hand are seen
//! as drift, and a sensitive content appears nowhere but in the file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::{Diagnostic, Sources};
use stack_language::schema::{Effect, Field, KindSchema, Repeat, Shape, Type};
use stack_language::{Address, Condition, Inputs, Options, Resource, Stack, Value};
use stack_plan::{Action, Reason};
use stack_provider::labels::{ADDRESS, CONFIG, HASH, STACK};
use stack_provider::{
    Config, Desired, Drift, Live, Provider, ProviderError, Providers, Resolve, Scope, Setting, salt,
};

// ANCHOR: schema
/// `file "motd" { content "Welcome!" }`: a text file in the provider's directory.
pub static FILE: KindSchema = KindSchema {
    name: "file",
    doc: "A text file in a directory",
    // `"${file.motd}"` in text is refused: the file's name is the provider's business.
    interpolates: false,
    on_replace: "replace",
    // Dependents wait only until the file exists.
    ready: Condition::Exists,
    fields: &[
        Field {
            name: "content",
            doc: "What the file holds",
            shape: Shape::Scalar(Type::String),
            repeat: Repeat::Once,
            required: true,
            default: None,
            // Writing the file again keeps it: a new content is an update in place.
            effect: Effect::InPlace,
        },
        Field {
            name: "extension",
            doc: "The end of the file's name, after the dot",
            shape: Shape::Scalar(Type::String),
            repeat: Repeat::Once,
            required: false,
            default: Some("txt"),
            // Another name is another file: the old one goes, the new one is written.
            effect: Effect::Replace,
        },
    ],
};
// ANCHOR_END: schema

// ANCHOR: provider
/// Files in one directory. `file "motd"` of stack `notes` is the file `notes_motd.txt`, and
/// `.notes_motd.txt.labels` beside it holds its labels: whose it is and how it was written.
pub struct FileProvider {
    dir: PathBuf,
}

impl FileProvider {
    pub fn new(dir: impl Into<PathBuf>) -> FileProvider {
        FileProvider { dir: dir.into() }
    }

    fn labels_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}.labels"))
    }

    /// The object `name`, when its labels say it is one of the stack's and its file is
    /// there. Labels that cannot be read are not the stack's: such files are left alone.
    fn live(&self, scope: &Scope, name: &str) -> Option<Live> {
        let text = std::fs::read_to_string(self.labels_path(name)).ok()?;
        let labels: BTreeMap<String, String> = serde_json::from_str(&text).ok()?;
        if labels.get(STACK) != Some(&scope.stack) {
            return None;
        }
        let address = parse_address(labels.get(ADDRESS)?)?;
        let recorded = Config::from_json(labels.get(CONFIG)?);
        // A file removed by hand is not there: the plan creates it again.
        let on_disk = std::fs::read_to_string(self.dir.join(name)).ok()?;
        let salt = salt(&scope.stack, &address, "content");
        let (config, drift) = observe(recorded, &on_disk, &salt);
        Some(Live {
            address,
            kind: FILE.name,
            name: name.to_owned(),
            config,
            drift,
            state: format!("{} bytes", on_disk.len()),
            healthy: None,
        })
    }

    /// Writes the labels, then the content. Should the second write fail, the labels already
    /// record the new content: the next plan sees the file differ from them, and repairs it.
    fn write(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let content = desired
            .payload
            .as_ref()
            .and_then(|payload| payload.downcast_ref::<String>())
            .ok_or_else(|| ProviderError::new(format!("{}: no content was planned", desired.address)))?;
        let labels = BTreeMap::from([
            (STACK, scope.stack.clone()),
            (ADDRESS, desired.address.to_string()),
            (CONFIG, desired.config.to_json()),
            (HASH, desired.config.hash()),
        ]);
        let labels_path = self.labels_path(&desired.name);
        let labels = serde_json::to_string(&labels).unwrap_or_default();
        std::fs::write(&labels_path, labels)
            .map_err(|error| io_error("cannot write", &labels_path, &error))?;
        let path = self.dir.join(&desired.name);
        std::fs::write(&path, content).map_err(|error| io_error("cannot write", &path, &error))
    }
}
// ANCHOR_END: provider

// ANCHOR: trait
// Small files, so plain blocking I/O; a provider talking to a server awaits its client.
#[async_trait]
impl Provider for FileProvider {
    fn schema(&self) -> &'static KindSchema {
        &FILE
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        // Every field, defaults filled in; a reference reads as the referenced object's name.
        let mut config = Config::from_resource(resource, &scope.stack, |address| {
            resolve.desired(address).map(|dependency| dependency.name.clone())
        });
        let extension = config
            .get("extension")
            .and_then(Setting::as_json)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if extension.is_empty() || extension.contains(['/', '.']) {
            return Err(Diagnostic::error(
                "files::extension",
                format!(
                    "`{extension}` cannot end the name of the file of {}",
                    resource.address
                ),
            )
            .primary(resource.span, "declared here")
            .help("give `extension` a word without dots or slashes, like \"txt\""));
        }
        let name = format!("{}_{}.{extension}", scope.stack, resource.address.path_name());
        // The content itself goes to the payload, which only this provider reads. The
        // configuration (what the plan shows and the labels keep) has it as it is, or
        // only as a hash when it comes from a sensitive variable.
        let content = resource.field("content");
        let text = content.and_then(Value::as_str).unwrap_or_default().to_owned();
        let sensitive = content.is_some_and(Value::contains_sensitive);
        let salt = salt(&scope.stack, &resource.address, "content");
        config
            .0
            .insert("content".to_owned(), recorded_content(&text, sensitive, &salt));
        Ok(Desired {
            address: resource.address.clone(),
            kind: &FILE,
            name,
            config,
            outputs: IndexMap::new(),
            external: false,
            source: None,
            payload: Some(Arc::new(text)),
        })
    }

    /// One listing of the directory: every file whose labels name this stack.
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_error("cannot list", &self.dir, &error)),
        };
        let mut live = Vec::new();
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let labelled = file_name
                .strip_prefix('.')
                .and_then(|rest| rest.strip_suffix(".labels"));
            if let Some(object) = labelled.and_then(|name| self.live(scope, name)) {
                live.push(object);
            }
        }
        Ok(live)
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let path = self.dir.join(&desired.name);
        // Had the stack written it, `read` would have found it: it is someone else's.
        if path.exists() {
            return Err(ProviderError::new(format!(
                "file `{}`, needed by {}, already exists and was not written by stack `{}`",
                path.display(),
                desired.address,
                scope.stack
            ))
            .with_hint("stack never changes what it does not own: move that file away, or give the stack another name"));
        }
        std::fs::create_dir_all(&self.dir).map_err(|error| io_error("cannot create", &self.dir, &error))?;
        self.write(scope, desired)
    }

    /// A new content, or the content changed by hand: the file is written again.
    async fn update(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        self.write(scope, desired)
    }

    // `replace` is left to the trait: `delete` the old file, then `create` the new one.

    /// The file, then its labels: a file is never left without them.
    async fn delete(&self, _scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        for path in [self.dir.join(&live.name), self.labels_path(&live.name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error("cannot remove", &path, &error)),
            }
        }
        Ok(())
    }
}
// ANCHOR_END: trait

// ANCHOR: helpers
/// How a content is recorded: as it is, or only as a hash (salted with whose it is) when it
/// is sensitive.
fn recorded_content(text: &str, sensitive: bool, salt: &str) -> Setting {
    if sensitive {
        Setting::sensitive(salt, text.as_bytes())
    } else {
        Setting::Plain(text.into())
    }
}

/// Compares the file on disk with the content its labels recorded. A difference is drift,
/// and the live configuration takes what is on disk, so that the plan shows the change back
/// to what the stack says, and the apply makes it.
fn observe(mut recorded: Config, on_disk: &str, salt: &str) -> (Config, Vec<Drift>) {
    let Some(expected) = recorded.get("content").cloned() else {
        return (recorded, Vec::new());
    };
    let actual = recorded_content(on_disk, expected.is_sensitive(), salt);
    if actual == expected {
        return (recorded, Vec::new());
    }
    let drift = Drift {
        field: "content".to_owned(),
        expected: expected.display(),
        actual: actual.display(),
    };
    recorded.0.insert("content".to_owned(), actual);
    (recorded, vec![drift])
}

/// The address a label recorded: `file.motd`, or `module.docs.file.motd` inside a module.
fn parse_address(text: &str) -> Option<Address> {
    let mut parts: Vec<&str> = text.split('.').collect();
    let name = parts.pop()?;
    if parts.pop()? != FILE.name {
        return None;
    }
    let modules: Option<Vec<String>> = parts
        .chunks(2)
        .map(|pair| match pair {
            ["module", alias] => Some((*alias).to_owned()),
            _ => None,
        })
        .collect();
    Some(Address::new(&modules?, FILE.name, name))
}

fn io_error(what: &str, path: &Path, error: &std::io::Error) -> ProviderError {
    ProviderError::new(format!("{what} {}: {error}", path.display()))
        .with_hint("check that the user running `stack` may write to that directory")
}
// ANCHOR_END: helpers

// ANCHOR: register
/// The providers of a run that knows one kind, `file`. Their schema is what stack files
/// are checked against: `file` becomes a resource kind like `network` or `service`.
fn providers(dir: &Path) -> Providers {
    Providers::new(vec![Arc::new(FileProvider::new(dir))])
}
// ANCHOR_END: register

// ---------------------------------------------------------------------------
// Tests

// ANCHOR: stack
const NOTES: &str = r#"stack "notes"

variable "api-token" type="string" sensitive=#true

file "motd" {
    content "Welcome!"
}

file "token" {
    content "${var.api-token}"
    extension "secret"
}
"#;
// ANCHOR_END: stack

/// A stack file in `dir`, loaded with the kinds `providers` know, as `stack plan` loads one.
fn load(dir: &Path, text: &str, providers: &Providers) -> Stack {
    let path = dir.join("stack.kdl");
    std::fs::write(&path, text).expect("the stack file is written");
    let options = Options {
        require_values: true,
        inputs: Inputs {
            vars: vec![("api-token".to_owned(), "s3cr3t".to_owned())],
            ..Inputs::default()
        },
        ..Options::default()
    };
    let mut sources = Sources::new();
    let loaded = stack_language::load(&path, &options, &providers.schema(), &mut sources);
    match loaded.stack {
        Some(stack) => stack,
        None => panic!("the stack does not load: {:?}", loaded.diagnostics),
    }
}

/// The desired states planned so far, for the references of those planned next.
#[derive(Default)]
struct Planned(IndexMap<Address, Desired>);

impl Resolve for Planned {
    fn desired(&self, address: &Address) -> Option<&Desired> {
        self.0.get(address)
    }
}

/// The desired state of every resource, in file order (these files reference nothing).
async fn desired_states(provider: &dyn Provider, scope: &Scope, stack: &Stack) -> Planned {
    let mut planned = Planned::default();
    for resource in stack.resources.values() {
        let desired = provider
            .desired(scope, resource, &planned)
            .await
            .expect("a desired state");
        planned.0.insert(resource.address.clone(), desired);
    }
    planned
}

fn by_address(live: Vec<Live>) -> IndexMap<Address, Live> {
    live.into_iter()
        .map(|object| (object.address.clone(), object))
        .collect()
}

fn scope(stack: &str) -> Scope {
    Scope {
        stack: stack.to_owned(),
        ready_timeout: Duration::from_secs(5),
        registries: Vec::new(),
    }
}

fn contents(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn address(name: &str) -> Address {
    Address::new(&[], "file", name)
}

// ANCHOR: lifecycle
#[tokio::test]
async fn a_file_is_created_repaired_replaced_and_deleted() -> Result<(), ProviderError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let objects = dir.path().join("objects");
    let providers = providers(&objects);
    let provider = providers.get("file").expect("the provider of `file`");
    let scope = scope("notes");

    // Nothing yet: every file is created, the sensitive one without its value in the labels.
    let stack = load(dir.path(), NOTES, &providers);
    let planned = desired_states(provider.as_ref(), &scope, &stack).await;
    assert!(provider.read(&scope).await?.is_empty());
    for desired in planned.0.values() {
        let plan = stack_plan::diff(Some(desired), None).expect("a plan");
        assert_eq!(plan.action, Action::Create);
        provider.create(&scope, desired).await?;
    }
    assert_eq!(contents(objects.join("notes_motd.txt")), "Welcome!");
    assert_eq!(contents(objects.join("notes_token.secret")), "s3cr3t");
    let labels = contents(objects.join(".notes_token.secret.labels"));
    assert!(
        labels.contains("sha256:") && !labels.contains("s3cr3t"),
        "{labels}"
    );

    // Read back, the files match the stack: nothing to do.
    let live = by_address(provider.read(&scope).await?);
    for desired in planned.0.values() {
        let plan = stack_plan::diff(Some(desired), live.get(&desired.address)).expect("a plan");
        assert_eq!(plan.action, Action::NoChange, "{plan:?}");
    }

    // Edited by hand: drift, repaired in place. The sensitive one shows no value.
    std::fs::write(objects.join("notes_motd.txt"), "Edited").expect("an edit");
    std::fs::write(objects.join("notes_token.secret"), "guess").expect("an edit");
    let live = by_address(provider.read(&scope).await?);
    for desired in planned.0.values() {
        let plan = stack_plan::diff(Some(desired), live.get(&desired.address)).expect("a plan");
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.reasons, [Reason::Drift], "only the daemon changed: {plan:?}");
        provider.update(&scope, desired, &live[&desired.address]).await?;
    }
    let token = &live[&address("token")].drift[0];
    assert_eq!(
        (token.expected.as_str(), token.actual.as_str()),
        ("(sensitive)", "(sensitive)")
    );
    assert_eq!(contents(objects.join("notes_motd.txt")), "Welcome!");
    assert_eq!(contents(objects.join("notes_token.secret")), "s3cr3t");

    // A new extension forces a replacement: the old file goes, the new one is written.
    let changed = NOTES.replace(r#"extension "secret""#, r#"extension "key""#);
    let stack = load(dir.path(), &changed, &providers);
    let planned = desired_states(provider.as_ref(), &scope, &stack).await;
    let live = by_address(provider.read(&scope).await?);
    let desired = &planned.0[&address("token")];
    let plan = stack_plan::diff(Some(desired), live.get(&address("token"))).expect("a plan");
    assert_eq!(plan.action, Action::Replace);
    assert_eq!(
        plan.reasons,
        [Reason::ForcesReplacement {
            field: "extension".to_owned()
        }]
    );
    provider
        .replace(&scope, desired, &live[&address("token")])
        .await?;
    assert!(!objects.join("notes_token.secret").exists());
    assert_eq!(contents(objects.join("notes_token.key")), "s3cr3t");

    // Gone from the files: deleted, labels and all.
    for object in provider.read(&scope).await? {
        assert_eq!(
            stack_plan::diff(None, Some(&object)).map(|plan| plan.action),
            Some(Action::Delete)
        );
        provider.delete(&scope, &object).await?;
    }
    assert_eq!(std::fs::read_dir(&objects).map(Iterator::count).ok(), Some(0));
    Ok(())
}
// ANCHOR_END: lifecycle

#[tokio::test]
async fn files_the_stack_did_not_write_are_never_touched() -> Result<(), ProviderError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let objects = dir.path().join("objects");
    let providers = providers(&objects);
    let provider = providers.get("file").expect("the provider of `file`");
    std::fs::create_dir_all(&objects).expect("the directory");
    std::fs::write(objects.join("notes_motd.txt"), "Someone else's").expect("a stranger's file");

    // Another stack's files are not this stack's objects.
    let other = scope("other");
    let stack = load(dir.path(), NOTES, &providers);
    for desired in desired_states(provider.as_ref(), &other, &stack).await.0.values() {
        provider.create(&other, desired).await?;
    }
    let scope = scope("notes");
    assert!(provider.read(&scope).await?.is_empty());
    assert_eq!(provider.read(&other).await?.len(), 2);

    // A file of the same name that the stack did not write is a clear error, and stays.
    let planned = desired_states(provider.as_ref(), &scope, &stack).await;
    let clash = provider
        .create(&scope, &planned.0[&address("motd")])
        .await
        .expect_err("the name is taken");
    assert!(clash.message.contains("already exists"), "{}", clash.message);
    assert!(clash.hint.is_some());
    assert_eq!(contents(objects.join("notes_motd.txt")), "Someone else's");
    Ok(())
}

#[tokio::test]
async fn a_bad_extension_is_a_diagnostic_naming_the_resource() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let providers = providers(&dir.path().join("objects"));
    let provider = providers.get("file").expect("the provider of `file`");
    let changed = NOTES.replace(r#"extension "secret""#, r#"extension "tar.gz""#);
    let stack = load(dir.path(), &changed, &providers);
    let resource = &stack.resources[&address("token")];
    let problem = provider
        .desired(&scope("notes"), resource, &Planned::default())
        .await
        .expect_err("a diagnostic");
    assert_eq!(problem.code, "files::extension");
    assert!(problem.message.contains("file.token"), "{}", problem.message);
}
