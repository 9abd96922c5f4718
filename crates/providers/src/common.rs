//! What the providers share: labels, object names, error conversion.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use indexmap::IndexMap;
use stack_docker::{DockerClient, DockerError, LabelFilter, Labels};
use stack_language::schema::KindSchema;
use stack_language::{Address, Resource, Value};
use stack_provider::labels::{ADDRESS, CONFIG, HASH, STACK};
use stack_provider::{Config, Desired, Drift, ProviderError, Resolve, Scope, Setting};

/// The labels every object of a stack carries: whose it is, which resource, and its configuration.
pub fn labels(scope: &Scope, desired: &Desired) -> Labels {
    let mut labels = Labels::new();
    labels.insert(STACK.to_owned(), scope.stack.clone());
    labels.insert(ADDRESS.to_owned(), desired.address.to_string());
    labels.insert(CONFIG.to_owned(), desired.config.to_json());
    labels.insert(HASH.to_owned(), desired.config.hash());
    labels
}

/// Imports `rootfs` as `reference`, an image every stack shares, marked by `label`. Two
/// clients importing at once leave one copy untagged: untagged copies are removed, unless a
/// container still uses one.
pub async fn import_shared_image(
    docker: &DockerClient,
    rootfs: Vec<u8>,
    reference: &str,
    label: &str,
) -> Result<(), ProviderError> {
    let labels = Labels::from([(label.to_owned(), "1".to_owned())]);
    docker
        .import_image(rootfs, reference, &labels)
        .await
        .map_err(error)?;
    let copies = docker
        .list_images(&LabelFilter::new(label, "1"))
        .await
        .map_err(error)?;
    for untagged in copies.iter().filter(|image| image.tags.is_empty()) {
        let _ = docker.remove_image(&untagged.id, false).await;
    }
    Ok(())
}

/// The address and last applied configuration an object's labels record.
pub fn recorded(labels: &Labels) -> Option<(String, Config)> {
    let address = labels.get(ADDRESS)?.clone();
    let config = labels
        .get(CONFIG)
        .map(|json| Config::from_json(json))
        .unwrap_or_default();
    Some((address, config))
}

/// Parses an address recorded in a label (`service.api`, `module.db.service.postgres`).
pub fn parse_address(text: &str, kind: &'static str) -> Option<Address> {
    Address::parse(text, kind)
}

/// The spec the `kind` provider's `desired` left in `desired`. It leaves one for every
/// resource, so a missing one is a bug in stack.
pub fn spec<'a, T: std::any::Any>(desired: &'a Desired, kind: &str) -> Result<&'a T, ProviderError> {
    desired.payload::<T>().ok_or_else(|| {
        ProviderError::new(format!(
            "{}: the desired state holds no {kind} spec",
            desired.address
        ))
        .with_hint(format!(
            "this is a bug in stack: the {kind} provider's `desired` makes the spec of every {kind}"
        ))
    })
}

/// The object name of a resource: `<stack>_<path>` (services add a replica number).
pub fn object_name(scope: &Scope, address: &Address) -> String {
    format!("{}_{}", scope.stack, address.path_name())
}

pub fn error(error: DockerError) -> ProviderError {
    let message = error.to_string();
    match message.split_once("\nhint: ") {
        Some((message, hint)) => ProviderError::new(message).with_hint(hint),
        None => ProviderError::new(message),
    }
}

/// The schema of a built-in kind.
pub fn builtin_kind(name: &str) -> &'static KindSchema {
    match stack_language::schema::builtin().kind(name) {
        Some(kind) => kind,
        None => panic!("`{name}` is not a built-in kind"),
    }
}

/// How a reference to another resource reads in a configuration: its `ref` output, else its name.
pub fn reference(resolve: &dyn Resolve) -> impl Fn(&Address) -> Option<String> + '_ {
    move |address| {
        let desired = resolve.desired(address)?;
        Some(
            desired
                .outputs
                .get("ref")
                .cloned()
                .unwrap_or_else(|| desired.name.clone()),
        )
    }
}

/// The fields only the engine reads: ordering and protection from deletion.
const ENGINE_FIELDS: [&str; 2] = ["depends-on", "prevent-destroy"];

/// The configuration of an object Docker cannot relabel (a network, a volume), without the
/// fields only the engine reads. A change of those fields could never reach the object's
/// labels, so keeping them would show the same change in every plan; left out, changing them
/// plans nothing, which is what happens on the daemon.
pub fn without_engine_fields(mut config: Config) -> Config {
    config
        .0
        .retain(|field, _| !ENGINE_FIELDS.contains(&field.as_str()));
    config
}

/// The desired state of an object Docker cannot change once created (a network, a volume):
/// the stack's own, named `<stack>_<path>`, or with `external "NAME"` someone else's, only read.
/// Its `ref` is the name on the daemon.
pub fn fixed_object(
    kind: &'static KindSchema,
    scope: &Scope,
    resource: &Resource,
    resolve: &dyn Resolve,
) -> Desired {
    let config = without_engine_fields(Config::from_resource(resource, &scope.stack, reference(resolve)));
    let external = resource.field("external").and_then(Value::as_str);
    let name = external.map_or_else(|| object_name(scope, &resource.address), str::to_owned);
    Desired {
        address: resource.address.clone(),
        kind,
        outputs: IndexMap::from([("ref".to_owned(), name.clone())]),
        name,
        config,
        external: external.is_some(),
        source: None,
        payload: None,
    }
}

/// A text field of a configuration.
pub fn text<'a>(config: &'a Config, field: &str) -> Option<&'a str> {
    config.get(field)?.as_json()?.as_str()
}

/// A boolean field of a configuration; `false` when absent.
pub fn flag(config: &Config, field: &str) -> bool {
    config
        .get(field)
        .and_then(Setting::as_json)
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// A map field of a configuration (`labels`, `driver-opts`); empty when absent.
pub fn text_map(config: &Config, field: &str) -> Labels {
    let Some(map) = config
        .get(field)
        .and_then(Setting::as_json)
        .and_then(serde_json::Value::as_object)
    else {
        return Labels::new();
    };
    map.iter()
        .map(|(key, value)| {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            (key.clone(), text)
        })
        .collect()
}

/// The labels of an object the stack creates: the user's `labels`, then the stack's own.
pub fn object_labels(scope: &Scope, desired: &Desired) -> Labels {
    let mut all = text_map(&desired.config, "labels");
    all.extend(labels(scope, desired));
    all
}

/// A map of texts (labels, driver options) as JSON, to compare with a configuration.
pub fn json_object(map: &Labels) -> serde_json::Value {
    map.iter()
        .map(|(key, value)| (key.clone(), serde_json::Value::from(value.as_str())))
        .collect()
}

/// The labels a user gave an object, without the stack's own (`dev.stack.*`).
pub fn user_labels(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(key, _)| !key.starts_with("dev.stack."))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Compares what the daemon shows of an object with the configuration its labels recorded.
/// Fields that differ are drift, and the live configuration takes the values seen, so that
/// the plan shows (and the apply makes) the change back to the desired ones. Fields the
/// recorded configuration does not have are not compared.
pub fn observe(recorded: Config, seen: Vec<(&str, serde_json::Value)>) -> (Config, Vec<Drift>) {
    let mut config = recorded;
    let mut drift = Vec::new();
    for (field, actual) in seen {
        let Some(expected) = config.get(field) else {
            continue;
        };
        if expected.as_json() == Some(&actual) {
            continue;
        }
        let actual = Setting::Plain(actual);
        drift.push(Drift {
            field: field.to_owned(),
            expected: expected.display(),
            actual: actual.display(),
        });
        config.0.insert(field.to_owned(), actual);
    }
    (config, drift)
}

/// The error for an object of another owner found under a resource's name (`what` is
/// `network` or `volume`): never changed nor removed, whoever it belongs to.
pub fn name_taken(what: &str, name: &str, found: &Labels, scope: &Scope, address: &Address) -> ProviderError {
    let owner = found.get(STACK);
    let owned_address = found.get(ADDRESS);
    if owner == Some(&scope.stack) && owned_address.is_some_and(|owned| *owned == address.to_string()) {
        return ProviderError::new(format!(
            "{what} `{name}` of {address} was created after this plan was made"
        ))
        .with_hint("plan again: the new plan starts from what is on the daemon now");
    }
    let message = match (owner, owned_address) {
        (Some(stack), Some(owned)) => {
            format!(
                "{what} `{name}`, needed by {address}, already exists: it belongs to {owned} of stack `{stack}`"
            )
        }
        _ => format!("{what} `{name}`, needed by {address}, already exists and was not created by stack"),
    };
    ProviderError::new(message).with_hint(format!(
        "stack never changes nor removes what it does not own: remove or rename that {what} \
         (`docker {what} rm {name}`), give this stack another name, or use the {what} as it is with \
         `external \"{name}\"`"
    ))
}

/// The longest part of a program's output a message quotes.
const MAX_QUOTED: usize = 200;

/// How a program ended, for a message: `exited with status 3`.
pub fn exit_description(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_owned(),
    }
}

/// The last non-empty line of a program's output, shortened, for a message.
pub fn last_line(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let line = text.lines().map(str::trim).rfind(|line| !line.is_empty())?;
    let mut quoted: String = line.chars().take(MAX_QUOTED).collect();
    if quoted.len() < line.len() {
        quoted.push('…');
    }
    Some(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_labels() {
        for address in [
            Address::new(&[], "service", "api"),
            Address::new(&["db".to_owned()], "service", "postgres"),
            Address::new(&["a".to_owned(), "b".to_owned()], "volume", "data"),
        ] {
            assert_eq!(parse_address(&address.to_string(), address.kind), Some(address));
        }
        assert_eq!(parse_address("network.backend", "service"), None);
        assert_eq!(parse_address("garbage", "service"), None);
    }

    #[test]
    fn quotes_only_the_last_line_shortened() {
        assert_eq!(last_line(b"one\ntwo\n\n"), Some("two".to_owned()));
        assert_eq!(last_line(b"\n \n"), None);
        let long = "x".repeat(500);
        assert_eq!(
            last_line(long.as_bytes()).map(|line| line.chars().count()),
            Some(MAX_QUOTED + 1)
        );
    }
}

/// Stacks written to a temporary directory and loaded as `stack plan` would; the Swarm
/// providers' unit tests use them too (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::path::{Path, PathBuf};

    use stack_diagnostics::Sources;
    use stack_language::{Address, Options, Resource, Stack, schema};
    use stack_provider::{Desired, Resolve};

    /// A directory with the stack (`stack/stack.kdl`) and room beside it for files the stack
    /// reads from outside (secrets).
    pub struct Fixture {
        pub root: tempfile::TempDir,
    }

    impl Fixture {
        pub fn new() -> Fixture {
            Fixture {
                root: tempfile::tempdir().expect("a temporary directory"),
            }
        }

        /// A path beside the stack's directory.
        pub fn outside(&self, name: &str) -> PathBuf {
            self.root.path().join(name)
        }

        /// Loads `text` as the stack `shop`; panics with the diagnostics when it does not load.
        pub fn load(&self, text: &str) -> Stack {
            let dir = self.root.path().join("stack");
            std::fs::create_dir_all(&dir).expect("the stack's directory");
            std::fs::write(dir.join("stack.kdl"), format!("stack \"shop\"\n{text}")).expect("stack.kdl");
            load(&dir)
        }
    }

    fn load(dir: &Path) -> Stack {
        let mut sources = Sources::new();
        let options = Options {
            require_values: true,
            ..Options::default()
        };
        let loaded = stack_language::load(dir, &options, &schema::builtin(), &mut sources);
        match loaded.stack {
            Some(stack) => stack,
            None => panic!("the stack does not load: {:?}", loaded.diagnostics),
        }
    }

    pub fn resource<'a>(stack: &'a Stack, kind: &'static str, name: &str) -> &'a Resource {
        &stack.resources[&Address::new(&[], kind, name)]
    }

    /// For resources that reference nothing.
    pub struct NoDependencies;

    impl Resolve for NoDependencies {
        fn desired(&self, _address: &Address) -> Option<&Desired> {
            None
        }
    }
}
