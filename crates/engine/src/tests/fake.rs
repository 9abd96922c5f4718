//! A provider that keeps its objects in memory and logs every call, with a
//! delay per call so that overlaps show.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::{Diagnostic, Sources};
use stack_graph::ResourceGraph;
use stack_language::schema::{self, KindSchema};
use stack_language::{Address, Condition, Options, Resource, Stack};
use stack_provider::{
    Config, Desired, Fetch, Live, Provider, ProviderError, Providers, Resolve, Scope, Setting,
};

/// What every fake provider shares: the "daemon".
pub struct World {
    pub objects: Mutex<IndexMap<Address, Live>>,
    /// `(what, address, when it started, when it ended)` for every call that changed something.
    pub calls: Mutex<Vec<Call>>,
    /// Addresses whose create, update or replace fails.
    pub failing: Mutex<HashSet<String>>,
    /// Addresses whose wait fails.
    pub unhealthy: Mutex<HashSet<String>>,
    /// Images (a service's `image`) the "host" lacks: fetched before any change.
    pub missing_images: Mutex<HashSet<String>>,
    /// Images whose fetch fails.
    pub unfetchable: Mutex<HashSet<String>>,
    /// Addresses whose `ref` output is `NAME:planned` in the plan and `NAME:settled` once applied.
    pub settling: Mutex<HashSet<String>>,
    /// Kinds whose provider cannot read them, as if it had crashed.
    pub unreadable: Mutex<HashSet<&'static str>>,
    /// External objects whose check fails, with the error it fails with.
    pub unchecked: Mutex<IndexMap<String, ProviderError>>,
    pub delay: Duration,
    epoch: Instant,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub what: &'static str,
    pub address: String,
    pub start: Duration,
    pub end: Duration,
}

impl World {
    pub fn new(delay: Duration) -> Arc<World> {
        Arc::new(World {
            objects: Mutex::new(IndexMap::new()),
            calls: Mutex::new(Vec::new()),
            failing: Mutex::new(HashSet::new()),
            unhealthy: Mutex::new(HashSet::new()),
            missing_images: Mutex::new(HashSet::new()),
            unfetchable: Mutex::new(HashSet::new()),
            settling: Mutex::new(HashSet::new()),
            unreadable: Mutex::new(HashSet::new()),
            unchecked: Mutex::new(IndexMap::new()),
            delay,
            epoch: Instant::now(),
        })
    }

    /// A provider for each built-in kind, all on this world.
    pub fn providers(self: &Arc<World>) -> Providers {
        Providers::new(
            schema::builtin()
                .kinds()
                .map(|kind| {
                    Arc::new(Fake {
                        kind,
                        world: Arc::clone(self),
                    }) as Arc<dyn Provider>
                })
                .collect(),
        )
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls as `what address`, in the order they started.
    pub fn log(&self) -> Vec<String> {
        let mut calls = self.calls();
        calls.sort_by_key(|call| call.start);
        calls
            .iter()
            .map(|call| format!("{} {}", call.what, call.address))
            .collect()
    }

    pub fn call(&self, what: &str, address: &str) -> Call {
        self.calls()
            .into_iter()
            .find(|call| call.what == what && call.address == address)
            .unwrap_or_else(|| panic!("no {what} of {address} in {:?}", self.log()))
    }

    pub fn addresses(&self) -> Vec<String> {
        self.objects
            .lock()
            .unwrap()
            .keys()
            .map(ToString::to_string)
            .collect()
    }

    async fn record<T>(&self, what: &'static str, address: &Address, work: impl FnOnce() -> T) -> T {
        let start = self.epoch.elapsed();
        tokio::time::sleep(self.delay).await;
        let result = work();
        self.calls.lock().unwrap().push(Call {
            what,
            address: address.to_string(),
            start,
            end: self.epoch.elapsed(),
        });
        result
    }

    fn fails(&self, address: &Address) -> Result<(), ProviderError> {
        if self.failing.lock().unwrap().contains(&address.to_string()) {
            return Err(ProviderError::new(format!("{address} exploded")).with_hint("try again"));
        }
        Ok(())
    }

    fn store(&self, desired: &Desired) {
        self.objects.lock().unwrap().insert(
            desired.address.clone(),
            Live {
                address: desired.address.clone(),
                kind: desired.kind.name,
                name: desired.name.clone(),
                config: desired.config.clone(),
                drift: Vec::new(),
                state: "running".to_owned(),
                healthy: Some(true),
            },
        );
    }
}

struct Fake {
    kind: &'static KindSchema,
    world: Arc<World>,
}

#[async_trait]
impl Provider for Fake {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let config = Config::from_resource(resource, &scope.stack, |address| {
            let desired = resolve.desired(address)?;
            Some(desired.outputs.get("ref").unwrap_or(&desired.name).clone())
        });
        let name = format!("{}_{}", scope.stack, resource.address.path_name());
        let settling = self
            .world
            .settling
            .lock()
            .unwrap()
            .contains(&resource.address.to_string());
        let outputs = if settling {
            IndexMap::from([("ref".to_owned(), format!("{name}:planned"))])
        } else {
            IndexMap::new()
        };
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind,
            name,
            config,
            outputs,
            external: resource.field("external").is_some(),
            source: None,
            payload: None,
        })
    }

    /// Like Docker: a network or volume cannot go while an object names it.
    fn held_by_dependents(&self) -> bool {
        matches!(self.kind.name, "network" | "volume")
    }

    async fn read(&self, _scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        if self.world.unreadable.lock().unwrap().contains(self.kind.name) {
            return Err(ProviderError::unavailable("the provider exited (exit status: 4)"));
        }
        let objects = self.world.objects.lock().unwrap();
        Ok(objects
            .values()
            .filter(|live| live.kind == self.kind.name)
            .cloned()
            .collect())
    }

    async fn read_external(&self, _scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        match self
            .world
            .unchecked
            .lock()
            .unwrap()
            .get(&desired.address.to_string())
        {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    async fn fetches(&self, _scope: &Scope, desired: &Desired) -> Result<Vec<Fetch>, ProviderError> {
        let image = desired
            .config
            .get("image")
            .and_then(Setting::as_json)
            .and_then(serde_json::Value::as_str);
        let missing = self.world.missing_images.lock().unwrap();
        Ok(image
            .filter(|image| missing.contains(*image))
            .map(|image| Fetch {
                item: image.to_owned(),
                source: "registry.test".to_owned(),
            })
            .into_iter()
            .collect())
    }

    async fn fetch(
        &self,
        _scope: &Scope,
        fetch: &Fetch,
        progress: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> Result<(), ProviderError> {
        progress("Downloading");
        let address = Address::new(&[], "fetch", &fetch.item);
        self.world
            .record("fetch", &address, || {
                if self.world.unfetchable.lock().unwrap().contains(&fetch.item) {
                    return Err(ProviderError::new(format!(
                        "pulling {} failed: unauthorized",
                        fetch.item
                    )));
                }
                Ok(())
            })
            .await
    }

    async fn applied_outputs(
        &self,
        _scope: &Scope,
        desired: &Desired,
    ) -> Result<Option<IndexMap<String, String>>, ProviderError> {
        let settling = self
            .world
            .settling
            .lock()
            .unwrap()
            .contains(&desired.address.to_string());
        Ok(settling.then(|| IndexMap::from([("ref".to_owned(), format!("{}:settled", desired.name))])))
    }

    async fn create(&self, _scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        self.world
            .record("create", &desired.address, || {
                self.world.fails(&desired.address)?;
                self.world.store(desired);
                Ok(())
            })
            .await
    }

    async fn update(&self, _scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        self.world
            .record("update", &desired.address, || {
                self.world.fails(&desired.address)?;
                self.world.store(desired);
                Ok(())
            })
            .await
    }

    async fn delete(&self, _scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        self.world
            .record("delete", &live.address, || {
                self.world.fails(&live.address)?;
                let held = self.held_by_dependents()
                    && self
                        .world
                        .objects
                        .lock()
                        .unwrap()
                        .values()
                        .any(|other| other.config.to_json().contains(&format!("\"{}\"", live.name)));
                if held {
                    return Err(ProviderError::new(format!("{} is in use", live.address)));
                }
                self.world.objects.lock().unwrap().shift_remove(&live.address);
                Ok(())
            })
            .await
    }

    async fn wait(
        &self,
        _scope: &Scope,
        desired: &Desired,
        condition: Condition,
    ) -> Result<(), ProviderError> {
        let what = match condition {
            Condition::Healthy => "wait-healthy",
            Condition::Completed => "wait-completed",
            Condition::Started | Condition::Exists => "wait-started",
        };
        self.world
            .record(what, &desired.address, || {
                if self
                    .world
                    .unhealthy
                    .lock()
                    .unwrap()
                    .contains(&desired.address.to_string())
                {
                    return Err(
                        ProviderError::new("its health check failed 3 times").with_hint("see its logs")
                    );
                }
                Ok(())
            })
            .await
    }
}

/// Loads a stack written in KDL, with its graph.
pub fn load(kdl: &str) -> (Stack, ResourceGraph) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.kdl"), kdl).unwrap();
    let options = Options {
        require_values: true,
        stack_name: Some("shop".to_owned()),
        ..Options::default()
    };
    let loaded = stack_language::load(
        Path::new(dir.path()),
        &options,
        &schema::builtin(),
        &mut Sources::new(),
    );
    let stack = loaded.stack.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let graph = ResourceGraph::build(&stack).unwrap();
    (stack, graph)
}

pub fn scope() -> Scope {
    Scope {
        stack: "shop".to_owned(),
        ready_timeout: Duration::from_secs(5),
        registries: Vec::new(),
    }
}
