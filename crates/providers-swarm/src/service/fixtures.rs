//! Test fixtures: services read from stack text, with the desired states of what they refer to.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use stack_language::{Address, Resource, Stack};
use stack_provider::{Config, Desired, Resolve};

/// Loads `stack.kdl` from a fresh directory, kept while the test runs; a variable `password`,
/// where declared, is `hunter2`.
pub fn load(text: &str) -> (Stack, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.kdl"), text).unwrap();
    let mut sources = stack_diagnostics::Sources::default();
    let schema = stack_language::schema::builtin();
    let mut options = stack_language::Options::default();
    if text.contains("variable \"password\"") {
        options.inputs.vars.push(("password".to_owned(), "hunter2".to_owned()));
    }
    let loaded = stack_language::load(dir.path(), &options, &schema, &mut sources);
    let stack = loaded.stack.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    (stack, dir)
}

pub fn resource<'a>(stack: &'a Stack, kind: &'static str, name: &str) -> &'a Resource {
    &stack.resources[&Address::new(&[], kind, name)]
}

/// The desired states of everything but services and jobs: an image as `NAME:abc123`, a secret
/// as the versioned Docker name `NAME_v1` with its content, anything else by `<stack>_<name>`.
pub struct Resolved(HashMap<Address, Desired>);

impl Resolved {
    pub fn of(stack: &Stack) -> Resolved {
        let mut desired = HashMap::new();
        for (address, resource) in &stack.resources {
            let mut name = format!("{}_{}", stack.name, address.path_name());
            let mut outputs = IndexMap::new();
            let mut payload: Option<Arc<dyn std::any::Any + Send + Sync>> = None;
            match address.kind {
                "service" | "job" => continue,
                "image" => {
                    outputs.insert("ref".to_owned(), format!("{name}:abc123"));
                }
                "secret" => {
                    name.push_str("_v1");
                    payload = Some(Arc::new(b"hunter2".to_vec()));
                }
                _ => {
                    outputs.insert("ref".to_owned(), name.clone());
                }
            }
            desired.insert(
                address.clone(),
                Desired {
                    address: address.clone(),
                    kind: resource.kind,
                    name,
                    config: Config::default(),
                    outputs,
                    external: false,
                    source: None,
                    payload,
                },
            );
        }
        Resolved(desired)
    }
}

impl Resolve for Resolved {
    fn desired(&self, address: &Address) -> Option<&Desired> {
        self.0.get(address)
    }
}
