//! The network and volume providers against the real daemon. Each test works as a stack of its
//! own (`stacktest-...`); everything carrying that stack's label, or the test label on objects
//! made by hand, is removed afterwards, whether the test passed or not.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stack_diagnostics::Sources;
use stack_docker::{DockerClient, LabelFilter, Labels, NetworkSpec, Subnet, VolumeSpec};
use stack_language::{Address, Options, Stack, schema};
use stack_provider::labels::STACK;
use stack_provider::{Desired, Live, Provider, Providers, Resolve, Scope, Setting};

/// Objects a test makes by hand (to be in the way, or external) carry this label.
const TEST_LABEL: &str = "dev.stack.test";

struct TestStack {
    client: DockerClient,
    providers: Providers,
    scope: Scope,
    dir: tempfile::TempDir,
    /// A /24 of 10.213.0.0/16 no other test of this run uses.
    octet: u32,
}

impl TestStack {
    /// A stack for one test, or `None` without a daemon. Under `CI=true` a missing daemon
    /// fails the test: a suite that skips quietly there proves nothing.
    async fn new() -> Option<TestStack> {
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
                ready_timeout: Duration::from_secs(10),
                registries: Vec::new(),
            },
            dir: tempfile::tempdir().unwrap(),
            octet: (std::process::id() * 7 + serial * 31 + nanos / 1000) % 250 + 1,
        })
    }

    fn subnet(&self) -> String {
        format!("10.213.{}.0/24", self.octet)
    }

    fn provider(&self, kind: &str) -> &dyn Provider {
        self.providers.get(kind).unwrap().as_ref()
    }

    /// Loads `text` as this test's stack.
    fn load(&self, text: &str) -> Stack {
        let body = format!("stack \"{}\"\n{text}", self.scope.stack);
        std::fs::write(self.dir.path().join("stack.kdl"), body).unwrap();
        let mut sources = Sources::new();
        let options = Options {
            require_values: true,
            ..Options::default()
        };
        let loaded = stack_language::load(self.dir.path(), &options, &schema::builtin(), &mut sources);
        loaded
            .stack
            .unwrap_or_else(|| panic!("the stack does not load: {:?}", loaded.diagnostics))
    }

    /// The desired state of `KIND.NAME` in `text`.
    async fn desired(&self, text: &str, kind: &'static str, name: &str) -> Desired {
        let stack = self.load(text);
        let resource = &stack.resources[&Address::new(&[], kind, name)];
        self.provider(kind)
            .desired(&self.scope, resource, &NoDependencies)
            .await
            .unwrap()
    }

    async fn read(&self, kind: &str) -> Vec<Live> {
        self.provider(kind).read(&self.scope).await.unwrap()
    }

    /// Labels for an object made by hand: removed with the test's objects.
    fn test_labels(&self) -> Labels {
        Labels::from([(TEST_LABEL.to_owned(), self.scope.stack.clone())])
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be the one unwinding: clean up on a
        // thread with a runtime of its own.
        let client = self.client.clone();
        let filters = [
            LabelFilter::new(STACK, &self.scope.stack),
            LabelFilter::new(TEST_LABEL, &self.scope.stack),
        ];
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                for filter in &filters {
                    for network in client.list_networks(filter).await.unwrap_or_default() {
                        if let Err(error) = client.remove_network(&network.id).await {
                            eprintln!("cleanup: {error}");
                        }
                    }
                    for volume in client.list_volumes(filter).await.unwrap_or_default() {
                        if let Err(error) = client.remove_volume(&volume.name).await {
                            eprintln!("cleanup: {error}");
                        }
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

struct NoDependencies;

impl Resolve for NoDependencies {
    fn desired(&self, _address: &Address) -> Option<&Desired> {
        None
    }
}

fn text(setting: Option<&Setting>) -> Option<&str> {
    setting?.as_json()?.as_str()
}

#[tokio::test]
async fn networks_are_created_read_back_and_deleted() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let subnet = test.subnet();
    let prefix = subnet.trim_end_matches("0/24");
    let file = format!(
        r#"network "backend" {{
    subnet "{subnet}"
    gateway "{prefix}1"
    ip-range "{prefix}128/25"
    internal #true
    labels {{
        team "core"
    }}
}}"#
    );
    let desired = test.desired(&file, "network", "backend").await;
    assert_eq!(desired.name, format!("{}_backend", test.scope.stack));
    assert_eq!(desired.outputs.get("ref"), Some(&desired.name));
    assert!(!desired.external);
    assert!(test.read("network").await.is_empty());

    let provider = test.provider("network");
    provider.create(&test.scope, &desired).await.unwrap();
    let info = test.client.inspect_network(&desired.name).await.unwrap();
    assert!(info.internal);
    assert_eq!(
        info.subnets,
        vec![Subnet {
            subnet: subnet.clone(),
            gateway: Some(format!("{prefix}1")),
            ip_range: Some(format!("{prefix}128/25")),
        }]
    );
    assert_eq!(info.labels.get("team").map(String::as_str), Some("core"));
    assert_eq!(info.labels.get(STACK), Some(&test.scope.stack));

    let live = test.read("network").await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].address, desired.address);
    assert_eq!(live[0].name, desired.name);
    assert_eq!(live[0].config, desired.config);
    assert!(live[0].drift.is_empty(), "{:?}", live[0].drift);

    // Fields only the engine reads change nothing, so the plan stays empty.
    let ordered = test
        .desired(
            &format!("{file}\nvolume \"data\" {{\n    depends-on \"network.backend\"\n}}\n"),
            "network",
            "backend",
        )
        .await;
    let protected = file.replace("internal #true", "internal #true\n    prevent-destroy #true");
    let protected = test.desired(&protected, "network", "backend").await;
    for desired in [ordered, protected] {
        assert!(desired.config.differing(&live[0].config, desired.kind).is_empty());
    }

    provider.delete(&test.scope, &live[0]).await.unwrap();
    assert!(test.read("network").await.is_empty());
    // Deleting what is gone already is done.
    provider.delete(&test.scope, &live[0]).await.unwrap();
}

#[tokio::test]
async fn a_network_recreated_by_hand_shows_drift() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let file = format!("network \"backend\" {{\n    subnet \"{}\"\n}}", test.subnet());
    let desired = test.desired(&file, "network", "backend").await;
    let provider = test.provider("network");
    provider.create(&test.scope, &desired).await.unwrap();

    // Someone removes it and makes another with the same labels and other addressing.
    let original = test.client.inspect_network(&desired.name).await.unwrap();
    test.client.remove_network(&desired.name).await.unwrap();
    let other = format!("10.213.{}.0/24", (test.octet + 1) % 250 + 1);
    let spec = NetworkSpec {
        name: desired.name.clone(),
        labels: original.labels.clone(),
        subnets: vec![Subnet {
            subnet: other.clone(),
            ..Subnet::default()
        }],
        ..NetworkSpec::default()
    };
    test.client.create_network(&spec).await.unwrap();

    let live = test.read("network").await;
    assert_eq!(live.len(), 1);
    let drift = &live[0].drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].field, "subnet");
    assert_eq!(drift[0].expected, format!("{:?}", test.subnet()));
    assert_eq!(drift[0].actual, format!("{other:?}"));
    // The plan sees the subnet the network has, and replaces it.
    assert_eq!(text(live[0].config.get("subnet")), Some(other.as_str()));
    assert_eq!(
        desired.config.differing(&live[0].config, desired.kind),
        vec!["subnet"]
    );
}

#[tokio::test]
async fn external_networks_must_exist_with_the_declared_subnet() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let name = format!("{}-infra", test.scope.stack);
    let subnet = test.subnet();
    let file = format!("network \"shared\" {{\n    external \"{name}\"\n    subnet \"{subnet}\"\n}}");
    let desired = test.desired(&file, "network", "shared").await;
    assert!(desired.external);
    assert_eq!(desired.name, name);
    assert_eq!(desired.outputs.get("ref"), Some(&name));
    let provider = test.provider("network");

    let missing = provider.read_external(&test.scope, &desired).await.unwrap_err();
    assert_eq!(
        missing.message,
        format!(
            "network `{name}` does not exist: create it first, or remove `external` from network.shared \
             so that this stack creates its own"
        )
    );

    let other = format!("10.213.{}.0/24", (test.octet + 1) % 250 + 1);
    let spec = NetworkSpec {
        name: name.clone(),
        labels: test.test_labels(),
        subnets: vec![Subnet {
            subnet: other.clone(),
            ..Subnet::default()
        }],
        ..NetworkSpec::default()
    };
    test.client.create_network(&spec).await.unwrap();
    let mismatch = provider.read_external(&test.scope, &desired).await.unwrap_err();
    assert_eq!(
        mismatch.message,
        format!("network `{name}` has subnet {other}, not {subnet} as network.shared declares")
    );

    let matching = file.replace(&subnet, &other);
    let desired = test.desired(&matching, "network", "shared").await;
    provider.read_external(&test.scope, &desired).await.unwrap();
    // Not the stack's: never read as one of its objects.
    assert!(test.read("network").await.is_empty());
}

#[tokio::test]
async fn a_network_in_the_way_is_never_taken_over() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let desired = test.desired("network \"backend\"", "network", "backend").await;
    let spec = NetworkSpec {
        name: desired.name.clone(),
        labels: test.test_labels(),
        ..NetworkSpec::default()
    };
    test.client.create_network(&spec).await.unwrap();

    let error = test
        .provider("network")
        .create(&test.scope, &desired)
        .await
        .unwrap_err();
    assert_eq!(
        error.message,
        format!(
            "network `{}`, needed by network.backend, already exists and was not created by stack",
            desired.name
        )
    );
    assert!(
        error
            .hint
            .unwrap()
            .contains(&format!("external \"{}\"", desired.name))
    );
    let info = test.client.inspect_network(&desired.name).await.unwrap();
    assert_eq!(info.labels, test.test_labels());
}

#[tokio::test]
async fn volumes_are_created_read_back_and_deleted() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let file = r#"volume "data" {
    driver-opts {
        type "tmpfs"
        device "tmpfs"
        o "size=1m"
    }
    labels {
        backup "daily"
    }
}"#;
    let desired = test.desired(file, "volume", "data").await;
    assert_eq!(desired.name, format!("{}_data", test.scope.stack));
    assert_eq!(desired.outputs.get("ref"), Some(&desired.name));
    let provider = test.provider("volume");
    provider.create(&test.scope, &desired).await.unwrap();

    let info = test.client.inspect_volume(&desired.name).await.unwrap();
    assert_eq!(info.driver, "local");
    assert_eq!(info.driver_options.get("o").map(String::as_str), Some("size=1m"));
    assert_eq!(info.labels.get("backup").map(String::as_str), Some("daily"));

    let live = test.read("volume").await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].address, desired.address);
    assert_eq!(live[0].config, desired.config);
    assert!(live[0].drift.is_empty(), "{:?}", live[0].drift);

    let protected = file.replace(
        "volume \"data\" {",
        "volume \"data\" {\n    prevent-destroy #true",
    );
    let protected = test.desired(&protected, "volume", "data").await;
    assert!(
        protected
            .config
            .differing(&live[0].config, protected.kind)
            .is_empty()
    );

    // A second create finds the name taken by the stack's own volume: the plan is stale.
    let again = provider.create(&test.scope, &desired).await.unwrap_err();
    assert_eq!(
        again.message,
        format!(
            "volume `{}` of volume.data was created after this plan was made",
            desired.name
        )
    );

    provider.delete(&test.scope, &live[0]).await.unwrap();
    assert!(test.read("volume").await.is_empty());
    provider.delete(&test.scope, &live[0]).await.unwrap();
}

#[tokio::test]
async fn a_volume_recreated_by_hand_shows_drift() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let file = "volume \"data\" {\n    driver-opts {\n        type \"tmpfs\"\n        device \"tmpfs\"\n        o \"size=1m\"\n    }\n}";
    let desired = test.desired(file, "volume", "data").await;
    let provider = test.provider("volume");
    provider.create(&test.scope, &desired).await.unwrap();

    // Someone removes it and makes another with the same labels and other options.
    let original = test.client.inspect_volume(&desired.name).await.unwrap();
    test.client.remove_volume(&desired.name).await.unwrap();
    let mut driver_options = original.driver_options.clone();
    driver_options.insert("o".to_owned(), "size=2m".to_owned());
    let spec = VolumeSpec {
        name: desired.name.clone(),
        driver_options,
        labels: original.labels.clone(),
        ..VolumeSpec::default()
    };
    test.client.create_volume(&spec).await.unwrap();

    let live = test.read("volume").await;
    assert_eq!(live.len(), 1);
    let drift = &live[0].drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].field, "driver-opts");
    assert!(drift[0].actual.contains("size=2m"), "{drift:?}");
    assert_eq!(
        desired.config.differing(&live[0].config, desired.kind),
        vec!["driver-opts"]
    );
}

#[tokio::test]
async fn volumes_in_the_way_or_missing_are_clear_errors() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    let desired = test.desired("volume \"data\"", "volume", "data").await;
    let spec = VolumeSpec {
        name: desired.name.clone(),
        labels: test.test_labels(),
        ..VolumeSpec::default()
    };
    test.client.create_volume(&spec).await.unwrap();
    let error = test
        .provider("volume")
        .create(&test.scope, &desired)
        .await
        .unwrap_err();
    assert_eq!(
        error.message,
        format!(
            "volume `{}`, needed by volume.data, already exists and was not created by stack",
            desired.name
        )
    );

    let name = format!("{}-cache", test.scope.stack);
    let external = test
        .desired(
            &format!("volume \"cache\" {{\n    external \"{name}\"\n}}"),
            "volume",
            "cache",
        )
        .await;
    assert!(external.external);
    let missing = test
        .provider("volume")
        .read_external(&test.scope, &external)
        .await
        .unwrap_err();
    assert!(
        missing
            .message
            .starts_with(&format!("volume `{name}` does not exist: create it first")),
        "{}",
        missing.message
    );
}
