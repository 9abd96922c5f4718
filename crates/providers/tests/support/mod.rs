//! What the daemon tests of the service provider need: a stack of their own whose objects are
//! removed afterwards, the providers as the engine calls them, the demo image and a small HTTP
//! client to talk to containers from the host.

mod demo_image;
mod http;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stack_diagnostics::Sources;
use stack_docker::{DockerClient, LabelFilter};
use stack_language::{Address, Options, Stack, schema};
use stack_provider::labels::STACK;
use stack_provider::{Desired, Live, Provider, Providers, Resolve, Scope};

pub use demo_image::demo_image;
pub use http::get;

/// Objects a test makes by hand (the image, a container in the way) carry this label.
pub const TEST_LABEL: &str = "dev.stack.test";

/// One test's stack: a unique name (`stacktest-...`), its files in a temporary folder, and
/// everything on the daemon carrying its name removed on drop, whether the test passed or not.
pub struct TestStack {
    pub client: DockerClient,
    pub providers: Providers,
    pub scope: Scope,
    dir: tempfile::TempDir,
}

/// The desired states made so far, for references to resolve against.
#[derive(Default)]
pub struct Resolved(HashMap<Address, Desired>);

impl Resolve for Resolved {
    fn desired(&self, address: &Address) -> Option<&Desired> {
        self.0.get(address)
    }
}

impl Resolved {
    pub fn service(&self, name: &str) -> &Desired {
        &self.0[&Address::new(&[], "service", name)]
    }

    pub fn network(&self, name: &str) -> &Desired {
        &self.0[&Address::new(&[], "network", name)]
    }
}

impl TestStack {
    /// `None` without a daemon, except under `CI=true`, where that fails the test.
    pub async fn new() -> Option<TestStack> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let client = match DockerClient::connect().await {
            Ok(client) => client,
            Err(error) => {
                stack_tests::without_docker(&error);
                return None;
            }
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |time| time.subsec_nanos());
        let serial = NEXT.fetch_add(1, Ordering::SeqCst);
        let stack = format!("stacktest-{:x}-{nanos:x}-{serial}", std::process::id());
        Some(TestStack {
            providers: stack_providers::builtin(client.clone()),
            client,
            scope: Scope {
                stack,
                ready_timeout: Duration::from_secs(30),
                registries: Vec::new(),
            },
            dir: tempfile::tempdir().unwrap(),
        })
    }

    pub fn provider(&self, kind: &str) -> &dyn Provider {
        self.providers.get(kind).unwrap().as_ref()
    }

    /// A file outside the stack's folder (where secret files must be), with `content`.
    pub fn outside_file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    /// Loads `text` as this test's stack and makes the desired state of every resource in
    /// file order (so write dependencies first), as the engine would.
    pub async fn desired(&self, text: &str) -> Resolved {
        let stack = self.load(text);
        let mut resolved = Resolved::default();
        for (address, resource) in &stack.resources {
            let desired = self
                .provider(address.kind)
                .desired(&self.scope, resource, &resolved)
                .await
                .unwrap_or_else(|problem| panic!("{address}: {problem:?}"));
            resolved.0.insert(address.clone(), desired);
        }
        resolved
    }

    fn load(&self, text: &str) -> Stack {
        let files = self.dir.path().join("stack");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(
            files.join("stack.kdl"),
            format!("stack \"{}\"\n{text}", self.scope.stack),
        )
        .unwrap();
        let options = Options {
            require_values: true,
            ..Options::default()
        };
        let loaded = stack_language::load(&files, &options, &schema::builtin(), &mut Sources::new());
        loaded
            .stack
            .unwrap_or_else(|| panic!("the test's stack does not load: {:?}", loaded.diagnostics))
    }

    /// Creates every resource that is not external, services last, as the engine would.
    pub async fn create_all(&self, resolved: &Resolved) {
        let mut all: Vec<&Desired> = resolved.0.values().filter(|desired| !desired.external).collect();
        all.sort_by_key(|desired| desired.address.kind == "service");
        for desired in all {
            self.provider(desired.address.kind)
                .create(&self.scope, desired)
                .await
                .unwrap_or_else(|error| panic!("create {}: {error:?}", desired.address));
        }
    }

    /// What the service provider reads of service `name`.
    pub async fn read_service(&self, name: &str) -> Option<Live> {
        let address = Address::new(&[], "service", name);
        let live = self.provider("service").read(&self.scope).await.unwrap();
        live.into_iter().find(|live| live.address == address)
    }

    pub fn container_name(&self, service: &str, replica: u32) -> String {
        format!("{}_{service}-{replica}", self.scope.stack)
    }

    /// The names of this stack's containers, sorted.
    pub async fn containers(&self) -> Vec<String> {
        let filter = LabelFilter::new(STACK, &self.scope.stack);
        let mut names: Vec<String> = self
            .client
            .list_containers(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|container| container.name)
            .collect();
        names.sort();
        names
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be the one unwinding: clean up on a
        // thread with a runtime of its own.
        let client = self.client.clone();
        let stack = self.scope.stack.clone();
        let cleanup = std::thread::spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(remove_all(&client, &stack)),
                Err(error) => eprintln!("cleanup of {stack} impossible: {error}"),
            }
        });
        let _ = cleanup.join();
    }
}

/// Containers first (they hold networks, volumes and images), then the rest.
async fn remove_all(client: &DockerClient, stack: &str) {
    let report = |what: &str, result: stack_docker::Result<()>| {
        if let Err(error) = result {
            eprintln!("cleanup: could not remove {what}: {error}");
        }
    };
    for filter in [
        LabelFilter::new(STACK, stack),
        LabelFilter::new(TEST_LABEL, stack),
    ] {
        for container in client.list_containers(&filter).await.unwrap_or_default() {
            report(
                &container.name,
                client.remove_container(&container.id, true).await,
            );
        }
    }
    let filter = LabelFilter::new(STACK, stack);
    for network in client.list_networks(&filter).await.unwrap_or_default() {
        report(&network.name, client.remove_network(&network.id).await);
    }
    for volume in client.list_volumes(&filter).await.unwrap_or_default() {
        report(&volume.name, client.remove_volume(&volume.name).await);
    }
    for image in client
        .list_images(&LabelFilter::new(TEST_LABEL, stack))
        .await
        .unwrap_or_default()
    {
        report(&image.id, client.remove_image(&image.id, true).await);
    }
}
