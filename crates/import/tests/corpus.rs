//! Every Compose file of the shared corpus (`../shared/corpus/compose/`)
//! imports into a stack that validates; the stack is snapshotted; and for
//! each file that `docker-compose config` (v1) accepts, the stack's evaluated
//! model has the same services, images, ports, environment, volumes,
//! networks and dependencies as what that command resolves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use stack_diagnostics::{Diagnostic, Severity, Sources};
use stack_import::{ImportOptions, import_compose};
use stack_language::{Data, Inputs, Options, Resource, Stack, Value, schema};

mod support;
use support::{Yaml, parse_yaml};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/compose")
}

/// The Compose files of the corpus, each with the name of its snapshot.
fn compose_files() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let mut dirs = vec![corpus()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("the corpus at {}: {error}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name == "compose.yaml" || name == "compose.yml" {
                let dir_name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((dir_name, path));
            } else if let Some(stem) = name.strip_suffix(".compose.yaml") {
                files.push((stem.to_owned(), path));
            }
        }
    }
    files.sort();
    files
}

/// A writable copy of the file's directory (the corpus is read-only in CI).
fn copy(file: &Path) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let source = file.parent().expect("a directory");
    let project = temp.path().join(source.file_name().expect("a name"));
    copy_dir(source, &project);
    let copied = project.join(file.file_name().expect("a file name"));
    (temp, copied)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("a readable directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("a copied file");
        }
    }
}

/// Imports `file` into `<its directory>/stack-NAME`, returning the stack's
/// directory and the warnings as `file:line: message` lines.
fn import(name: &str, file: &Path) -> (PathBuf, String) {
    let mut sources = Sources::new();
    let options = ImportOptions {
        output_dir: Some(file.parent().expect("a directory").join(format!("stack-{name}"))),
        ..ImportOptions::default()
    };
    let imported = match import_compose(&[file.to_path_buf()], &options, &mut sources) {
        Ok(imported) => imported,
        Err(errors) => panic!("{name} does not import:\n{}", lines(&errors, &sources)),
    };
    imported.write().expect("the stack is written");
    (imported.dir, lines(&imported.warnings, &sources))
}

fn lines(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| {
            let place = diagnostic.primary_span().map_or_else(String::new, |span| {
                let file = sources.get(span.file);
                let line = file.text()[..span.start as usize].matches('\n').count() + 1;
                let name = Path::new(file.name())
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{name}:{line}: ")
            });
            format!("{place}{}: {}\n", diagnostic.code, diagnostic.message)
        })
        .collect()
}

fn errors_of(path: &Path) -> Vec<String> {
    let mut sources = Sources::new();
    let validated = stack_language::validate(path, &Options::default(), &schema::builtin(), &mut sources);
    let mut diagnostics = validated.diagnostics.into_vec();
    for stack in &validated.stacks {
        if let Err(cycles) = stack_graph::ResourceGraph::build(stack) {
            diagnostics.extend(cycles);
        }
    }
    let errors: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        Vec::new()
    } else {
        vec![stack_diagnostics::render(
            &errors,
            &sources,
            stack_diagnostics::RenderOptions::plain(),
        )]
    }
}

#[test]
fn every_corpus_file_imports_and_validates() {
    let files = compose_files();
    assert!(files.len() >= 31, "the corpus has {} Compose files", files.len());
    let mut failures = Vec::new();
    for (name, file) in files {
        let (_temp, copied) = copy(&file);
        let (dir, warnings) = import(&name, &copied);
        for error in errors_of(&dir) {
            failures.push(format!("{name}: the imported stack does not validate:\n{error}"));
        }
        let stack = std::fs::read_to_string(dir.join("stack.kdl")).expect("stack.kdl");
        insta::assert_snapshot!(name.clone(), format!("{stack}\n--- warnings\n{warnings}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The variables a Compose file uses, each with a value for both sides.
fn variables(text: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if rest.starts_with('$') {
            rest = &rest[1..];
            continue;
        }
        let inner = rest.strip_prefix('{').unwrap_or(rest);
        let len = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        if len > 0 {
            let name = &inner[..len];
            found.insert(name.to_owned(), format!("value-of-{}", name.to_ascii_lowercase()));
        }
    }
    found
}

/// What both sides say about one service.
#[derive(Debug, Default, PartialEq)]
struct Service {
    /// An image reference, or `build:CONTEXT` for one built from a context.
    image: String,
    ports: BTreeSet<(i64, i64, String)>,
    /// Values moved into sensitive variables are compared as present only.
    environment: BTreeMap<String, Option<String>>,
    /// `(kind, source, target, read-only)`.
    volumes: BTreeSet<(String, String, String, bool)>,
    networks: BTreeSet<String>,
    depends_on: BTreeMap<String, String>,
}

fn from_compose(service: &Yaml, sensitive: &BTreeSet<String>) -> Service {
    let image = match service.get("build") {
        Some(build) => format!(
            "build:{}",
            build
                .get("context")
                .as_ref()
                .and_then(Yaml::text)
                .unwrap_or_default()
        ),
        None => service
            .get("image")
            .as_ref()
            .and_then(Yaml::text)
            .unwrap_or_default(),
    };
    let mut out = Service {
        image,
        ..Service::default()
    };
    for port in service.get("ports").as_ref().map(Yaml::items).unwrap_or_default() {
        let target = port
            .get("target")
            .as_ref()
            .and_then(Yaml::int)
            .unwrap_or_default();
        let Some(published) = port.get("published").as_ref().and_then(Yaml::int) else {
            continue;
        };
        let protocol = port
            .get("protocol")
            .as_ref()
            .and_then(Yaml::text)
            .unwrap_or_else(|| "tcp".to_owned());
        out.ports.insert((published, target, protocol));
    }
    for (key, value) in service
        .get("environment")
        .as_ref()
        .map(Yaml::entries)
        .unwrap_or_default()
    {
        let value = if sensitive.contains(&key) {
            None
        } else {
            value.text()
        };
        out.environment.insert(key, value);
    }
    for volume in service
        .get("volumes")
        .as_ref()
        .map(Yaml::items)
        .unwrap_or_default()
    {
        if volume.get("target").is_some() {
            let field = |key: &str| volume.get(key).as_ref().and_then(Yaml::text).unwrap_or_default();
            let read_only = field("read_only") == "true";
            out.volumes
                .insert((field("type"), field("source"), field("target"), read_only));
            continue;
        }
        let text = volume.text().unwrap_or_default();
        let parts: Vec<&str> = text.split(':').collect();
        let (kind, source, target, read_only) = match parts.as_slice() {
            [target] => ("volume", String::new(), target.to_string(), false),
            [source, target, mode] => {
                let kind = if source.starts_with('/') { "bind" } else { "volume" };
                (
                    kind,
                    source.to_string(),
                    target.to_string(),
                    mode.split(',').any(|m| m == "ro"),
                )
            }
            [source, target] => (
                if source.starts_with('/') { "bind" } else { "volume" },
                source.to_string(),
                target.to_string(),
                false,
            ),
            _ => continue,
        };
        out.volumes.insert((kind.to_owned(), source, target, read_only));
    }
    for (name, _) in service
        .get("networks")
        .as_ref()
        .map(Yaml::entries)
        .unwrap_or_default()
    {
        out.networks.insert(name);
    }
    if out.networks.is_empty() && service.get("network_mode").is_none() {
        out.networks.insert("default".to_owned());
    }
    for (name, settings) in service
        .get("depends_on")
        .as_ref()
        .map(Yaml::entries)
        .unwrap_or_default()
    {
        let condition = settings
            .get("condition")
            .as_ref()
            .and_then(Yaml::text)
            .unwrap_or_else(|| "service_started".to_owned());
        out.depends_on.insert(name, condition);
    }
    out
}

fn from_stack(stack: &Stack, service: &Resource, declared_volumes: &BTreeSet<String>) -> Service {
    let image = match service.field("image").map(|image| &image.data) {
        Some(Data::Ref(address)) => {
            let image = stack
                .resources
                .values()
                .find(|r| r.address == *address)
                .expect("the image resource");
            let context = image.field("context").and_then(Value::as_str).unwrap_or_default();
            format!("build:{}", normalize(&image.dir.join(context)).display())
        }
        Some(Data::Str(text)) => text.clone(),
        other => format!("{other:?}"),
    };
    let mut out = Service {
        image,
        ..Service::default()
    };
    for port in service.items("port") {
        let published = port.get("published").and_then(Value::as_int).unwrap_or_default();
        let target = port.get("target").and_then(Value::as_int).unwrap_or(published);
        let protocol = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("tcp")
            .to_owned();
        out.ports.insert((published, target, protocol));
    }
    for (key, value) in service
        .field("env")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default()
    {
        let text = match &value.data {
            _ if value.contains_sensitive() => None,
            Data::Str(text) => Some(text.clone()),
            Data::Int(number) => Some(number.to_string()),
            other => Some(format!("{other:?}")),
        };
        out.environment.insert(key, text);
    }
    for volume in service.items("volume") {
        let source = volume
            .get("source")
            .and_then(Value::as_ref)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let target = volume
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let read_only = volume.get("read-only").and_then(Value::as_bool).unwrap_or(false);
        // The import names anonymous volumes itself: they are the ones Compose did not declare.
        let source = if declared_volumes.contains(&source) {
            source
        } else {
            String::new()
        };
        out.volumes
            .insert(("volume".to_owned(), source, target, read_only));
    }
    for bind in service.items("bind") {
        let source = bind.get("source").and_then(Value::as_str).unwrap_or_default();
        let target = bind
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let read_only = bind.get("read-only").and_then(Value::as_bool).unwrap_or(false);
        let path = normalize(&service.dir.join(source)).display().to_string();
        out.volumes.insert(("bind".to_owned(), path, target, read_only));
    }
    for network in service.items("network") {
        if let Some(address) = network.get("name").and_then(Value::as_ref) {
            out.networks.insert(address.name.clone());
        }
    }
    for dependency in &service.dependencies {
        let condition = match dependency.condition {
            stack_language::Condition::Started => "service_started",
            stack_language::Condition::Healthy => "service_healthy",
            stack_language::Condition::Completed => "service_completed_successfully",
            stack_language::Condition::Exists => continue,
        };
        out.depends_on
            .insert(dependency.target.name.clone(), condition.to_owned());
    }
    out
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[test]
fn imported_models_match_what_docker_compose_v1_resolves() {
    if Command::new("docker-compose").arg("version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and docker-compose (v1) is not installed"
        );
        eprintln!("skipping: docker-compose is not installed");
        return;
    }
    let mut compared = 0;
    let mut refused = Vec::new();
    let mut failures = Vec::new();
    for (name, file) in compose_files() {
        let (_temp, copied) = copy(&file);
        let text = std::fs::read_to_string(&copied).expect("the Compose file");
        // Variables the `.env` beside the file sets keep its values, on both sides.
        let dot_env = std::fs::read_to_string(copied.with_file_name(".env")).unwrap_or_default();
        let mut values = variables(&text);
        values.retain(|name, _| !dot_env.lines().any(|line| line.starts_with(&format!("{name}="))));
        let output = Command::new("docker-compose")
            .arg("-f")
            .arg(&copied)
            .arg("config")
            .current_dir(copied.parent().expect("a directory"))
            .envs(&values)
            .output()
            .expect("docker-compose runs");
        if !output.status.success() {
            refused.push(name);
            continue;
        }
        let resolved = parse_yaml(&String::from_utf8_lossy(&output.stdout));
        let (dir, _) = import(&name, &copied);
        // As STACK_VAR_name: values for variables a stack does not declare are ignored.
        let mut env: std::collections::HashMap<String, String> = values
            .iter()
            .map(|(compose, value)| (compose.to_ascii_lowercase(), value.clone()))
            .collect();
        env.insert("home".to_owned(), std::env::var("HOME").unwrap_or_default());
        let options = Options {
            inputs: Inputs {
                env,
                ..Inputs::default()
            },
            ..Options::default()
        };
        let mut sources = Sources::new();
        let loaded = stack_language::load(&dir, &options, &schema::builtin(), &mut sources);
        let Some(stack) = loaded.stack else {
            failures.push(format!("{name}: the imported stack does not load"));
            continue;
        };
        // Environment values the import moved into sensitive variables are compared as present.
        let services = resolved
            .get("services")
            .as_ref()
            .map(Yaml::entries)
            .unwrap_or_default();
        let stack_services: BTreeMap<String, &Resource> = stack
            .resources
            .values()
            .filter(|r| r.address.kind == "service")
            .map(|r| (r.address.name.clone(), r))
            .collect();
        let declared_volumes: BTreeSet<String> = resolved
            .get("volumes")
            .as_ref()
            .map(Yaml::entries)
            .unwrap_or_default()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let compose_names: BTreeSet<String> = services.iter().map(|(n, _)| n.clone()).collect();
        let stack_names: BTreeSet<String> = stack_services.keys().cloned().collect();
        if compose_names != stack_names {
            failures.push(format!(
                "{name}: services {compose_names:?} became {stack_names:?}"
            ));
            continue;
        }
        for (service_name, service) in &services {
            let resource = stack_services[service_name];
            let ours = from_stack(&stack, resource, &declared_volumes);
            let sensitive: BTreeSet<String> = ours
                .environment
                .iter()
                .filter(|(_, value)| value.is_none())
                .map(|(key, _)| key.clone())
                .collect();
            let theirs = from_compose(service, &sensitive);
            if ours != theirs {
                failures.push(format!(
                    "{name}/{service_name}:\n  compose: {theirs:?}\n  stack:   {ours:?}"
                ));
            }
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        refused.len(),
        2,
        "docker-compose v1 refuses exactly two corpus files, not {refused:?}"
    );
    assert!(compared >= 29, "compared {compared} files");
}
