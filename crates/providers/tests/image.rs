//! The image provider against the real daemon: small `FROM scratch` images built from a
//! temporary stack, through the provider as the engine calls it. Each test works in a stack of
//! its own (`stacktest-...`), whose images and containers are removed afterwards.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stack_diagnostics::Sources;
use stack_docker::{ContainerSpec, DockerClient, LabelFilter, Labels};
use stack_language::{Options, Resource, Stack};
use stack_provider::labels::{IMAGE_STACK, STACK};
use stack_provider::{Desired, Live, Provider, Resolve, Scope};

/// A stack of one test: a temporary folder with `stack.kdl` and the context `app/`.
struct TestStack {
    client: DockerClient,
    provider: Arc<dyn Provider>,
    scope: Scope,
    dir: tempfile::TempDir,
}

impl TestStack {
    /// `None` without a daemon, except on CI, where that fails the test.
    async fn new() -> Option<TestStack> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let client = match DockerClient::connect().await {
            Ok(client) => client,
            Err(error) => {
                stack_tests::without_docker(&error);
                return None;
            }
        };
        let stack = format!(
            "stacktest-{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|time| time.subsec_nanos())
                .unwrap_or(0),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let provider = stack_providers::builtin(client.clone())
            .get("image")
            .unwrap()
            .clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        Some(TestStack {
            client,
            provider,
            scope: Scope {
                stack,
                ready_timeout: Duration::from_secs(30),
                registries: Vec::new(),
            },
            dir,
        })
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.path().join(path), text).unwrap();
    }

    /// The desired state of `image.app` as declared by `body`.
    async fn desired(&self, body: &str) -> Desired {
        self.write("stack.kdl", &format!("image \"app\" {{\n{body}\n}}\n"));
        let stack = load(self.dir.path(), &self.scope.stack);
        let resource: &Resource = stack.resources.values().next().unwrap();
        self.provider
            .desired(&self.scope, resource, &NoDependencies)
            .await
            .unwrap()
    }

    async fn read(&self) -> Vec<Live> {
        self.provider.read(&self.scope).await.unwrap()
    }

    /// The one live image, which must match `desired` exactly.
    async fn live_matching(&self, desired: &Desired) -> Live {
        let lives = self.read().await;
        assert_eq!(lives.len(), 1, "{lives:?}");
        let live = lives.into_iter().next().unwrap();
        assert_eq!(live.address, desired.address);
        assert_eq!(live.config, desired.config);
        assert!(live.config.differing(&desired.config, desired.kind).is_empty());
        assert!(live.drift.is_empty(), "{:?}", live.drift);
        live
    }

    async fn tags_of(&self, reference: &str) -> Option<Vec<String>> {
        match self.client.inspect_image(reference).await {
            Ok(image) => {
                let mut tags = image.tags;
                tags.sort();
                Some(tags)
            }
            Err(error) if error.is_not_found() => None,
            Err(error) => panic!("{error}"),
        }
    }

    fn filter(&self) -> LabelFilter {
        LabelFilter::new(STACK, &self.scope.stack)
    }

    fn image_filter(&self) -> LabelFilter {
        LabelFilter::new(IMAGE_STACK, &self.scope.stack)
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be the one unwinding.
        let client = self.client.clone();
        let (filter, image_filter) = (self.filter(), self.image_filter());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                for container in client.list_containers(&filter).await.unwrap_or_default() {
                    let _ = client.remove_container(&container.id, true).await;
                }
                for image in client.list_images(&image_filter).await.unwrap_or_default() {
                    let _ = client.remove_image(&image.id, true).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

struct NoDependencies;

impl Resolve for NoDependencies {
    fn desired(&self, _address: &stack_language::Address) -> Option<&Desired> {
        None
    }
}

fn load(dir: &Path, name: &str) -> Stack {
    let options = Options {
        stack_name: Some(name.to_owned()),
        require_values: true,
        ..Default::default()
    };
    let mut sources = Sources::new();
    let loaded = stack_language::load(dir, &options, &stack_language::schema::builtin(), &mut sources);
    loaded.stack.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics))
}

const DOCKERFILE: &str = "FROM scratch\nARG VERSION\nCOPY hello.txt /\n";

#[tokio::test]
async fn builds_reads_and_deletes_an_image() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    test.write("app/Dockerfile", DOCKERFILE);
    test.write("app/hello.txt", "hello\n");
    let extra = format!("{}-extra:1", test.scope.stack);
    let desired = test
        .desired(&format!(
            "context \"./app\"\nargs {{\n VERSION \"1\"\n}}\ntags \"{extra}\""
        ))
        .await;
    let tag = desired.outputs["ref"].clone();
    assert_eq!(desired.name, tag);
    assert!(tag.starts_with(&format!("{}_app:", test.scope.stack)), "{tag}");
    assert_eq!(tag.len(), test.scope.stack.len() + "_app:".len() + 12, "{tag}");
    assert!(test.read().await.is_empty());

    test.provider.create(&test.scope, &desired).await.unwrap();
    let live = test.live_matching(&desired).await;
    assert_eq!(live.name, tag);
    let mut both = vec![tag.clone(), extra.clone()];
    both.sort();
    assert_eq!(test.tags_of(&tag).await, Some(both));

    // The same inputs give the same tag: nothing to build on the next plan.
    let again = test
        .desired(&format!(
            "context \"./app\"\nargs {{\n VERSION \"1\"\n}}\ntags \"{extra}\""
        ))
        .await;
    assert_eq!(again.config, live.config);

    test.provider.delete(&test.scope, &live).await.unwrap();
    assert!(test.read().await.is_empty());
    assert_eq!(test.tags_of(&tag).await, None);
    assert_eq!(test.tags_of(&extra).await, None);
    // Deleting what is gone already is fine.
    test.provider.delete(&test.scope, &live).await.unwrap();
}

#[tokio::test]
async fn rebuilds_on_a_content_change_and_retags_in_place() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    test.write("app/Dockerfile", DOCKERFILE);
    test.write("app/hello.txt", "hello\n");
    let first = test.desired("context \"app\"").await;
    test.provider.create(&test.scope, &first).await.unwrap();
    let live = test.live_matching(&first).await;

    // A file of the context changed: a new tag, built beside the old image, which goes since
    // no container runs it.
    test.write("app/hello.txt", "hello again\n");
    let second = test.desired("context \"app\"").await;
    assert_ne!(second.name, first.name);
    assert_eq!(second.config.differing(&live.config, second.kind), ["content"]);
    test.provider.replace(&test.scope, &second, &live).await.unwrap();
    let live = test.live_matching(&second).await;
    assert_eq!(test.tags_of(&first.name).await, None);

    // Extra tags come and go without a build.
    let id = test.client.inspect_image(&second.name).await.unwrap().id;
    let extra = format!("{}-extra", test.scope.stack);
    let tagged = test.desired(&format!("context \"app\"\ntags \"{extra}\"")).await;
    assert_eq!(tagged.config.differing(&live.config, tagged.kind), ["tags"]);
    test.provider.update(&test.scope, &tagged, &live).await.unwrap();
    let live = test.live_matching(&tagged).await;
    assert_eq!(
        test.client
            .inspect_image(&format!("{extra}:latest"))
            .await
            .unwrap()
            .id,
        id
    );

    let untagged = test.desired("context \"app\"").await;
    test.provider.update(&test.scope, &untagged, &live).await.unwrap();
    test.live_matching(&untagged).await;
    assert_eq!(test.tags_of(&extra).await, None);

    // A tag removed by hand is drift, repaired in place.
    test.client
        .tag_image(&untagged.name, &format!("{extra}:keep"))
        .await
        .unwrap();
    test.client.remove_image(&untagged.name, false).await.unwrap();
    let drifted = test.read().await.remove(0);
    assert_eq!(drifted.drift.len(), 1, "{:?}", drifted.drift);
    assert_eq!(drifted.name, id);
    let keep_tagged = test
        .desired(&format!("context \"app\"\ntags \"{extra}:keep\""))
        .await;
    test.provider
        .update(&test.scope, &keep_tagged, &drifted)
        .await
        .unwrap();
    let live = test.live_matching(&keep_tagged).await;
    assert_eq!(test.client.inspect_image(&untagged.name).await.unwrap().id, id);

    // Other in-place fields are recorded in labels, which only a build sets: the same tag,
    // built again, the dropped extra tag gone.
    let protected = test.desired("context \"app\"\nprevent-destroy #true").await;
    assert_eq!(
        protected.config.differing(&live.config, protected.kind),
        ["tags", "prevent-destroy"]
    );
    test.provider
        .update(&test.scope, &protected, &live)
        .await
        .unwrap();
    let live = test.live_matching(&protected).await;
    assert_eq!(live.name, untagged.name);
    assert_eq!(test.tags_of(&format!("{extra}:keep")).await, None);
    test.provider.delete(&test.scope, &live).await.unwrap();
    assert!(test.read().await.is_empty());
}

#[tokio::test]
async fn an_image_a_container_uses_stays_until_it_is_free() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    test.write("app/Dockerfile", DOCKERFILE);
    test.write("app/hello.txt", "one\n");
    let first = test.desired("context \"app\"").await;
    test.provider.create(&test.scope, &first).await.unwrap();
    let live = test.live_matching(&first).await;
    let container = ContainerSpec {
        name: format!("{}-user", test.scope.stack),
        image: first.name.clone(),
        command: Some(vec!["/hello.txt".to_owned()]),
        labels: Labels::from([(STACK.to_owned(), test.scope.stack.clone())]),
        ..Default::default()
    };
    test.client.create_container(&container).await.unwrap();

    test.write("app/hello.txt", "two\n");
    let second = test.desired("context \"app\"").await;
    test.provider.replace(&test.scope, &second, &live).await.unwrap();
    let live = test.live_matching(&second).await;
    assert!(
        test.tags_of(&first.name).await.is_some(),
        "the container's image stays"
    );

    // Only the newest build is live; deleting removes every build, once free.
    let error = test.provider.delete(&test.scope, &live).await.unwrap_err();
    assert!(
        error.hint.as_ref().is_some_and(|hint| hint.contains("docker ps")),
        "{error:?}"
    );
    test.client.remove_container(&container.name, true).await.unwrap();
    test.provider.delete(&test.scope, &live).await.unwrap();
    assert!(
        test.client
            .list_images(&test.image_filter())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failing_build_reports_the_end_of_its_log() {
    let Some(test) = TestStack::new().await else {
        return;
    };
    test.write("app/Dockerfile", "FROM scratch\nCOPY missing.txt /\n");
    let desired = test.desired("context \"app\"").await;
    let error = test.provider.create(&test.scope, &desired).await.unwrap_err();
    assert!(
        error.message.starts_with("image.app: building image"),
        "{}",
        error.message
    );
    assert!(error.message.contains("COPY missing.txt"), "{}", error.message);
    assert!(error.hint.is_some());
    assert!(test.read().await.is_empty());
}
