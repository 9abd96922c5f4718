use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use stack_docker::{ContainerSpec, DockerClient, LabelFilter, Labels};

/// Every object a test creates carries this label with the test's prefix.
const LABEL_KEY: &str = "dev.stack.test";

/// One test's objects: unique names (`stacktest-...`), one label, and removal of everything
/// carrying that label when dropped, whether the test passed or panicked.
pub struct Scope {
    pub client: DockerClient,
    pub prefix: String,
}

impl Scope {
    /// A scope for one test, or `None` when there is no daemon (see [`super::docker`]).
    pub async fn new() -> Option<Scope> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let client = super::docker().await?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|time| time.subsec_nanos())
            .unwrap_or(0);
        let prefix = format!(
            "stacktest-{:x}-{nanos:x}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Some(Scope { client, prefix })
    }

    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    pub fn labels(&self) -> Labels {
        Labels::from([(LABEL_KEY.to_string(), self.prefix.clone())])
    }

    pub fn filter(&self) -> LabelFilter {
        LabelFilter::new(LABEL_KEY, &self.prefix)
    }

    /// A container spec with this scope's name prefix and label.
    pub fn container(&self, suffix: &str, image: &str) -> ContainerSpec {
        ContainerSpec {
            name: self.name(suffix),
            image: image.to_string(),
            labels: self.labels(),
            ..Default::default()
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be the one unwinding: clean up on a
        // thread with a runtime of its own.
        let client = self.client.clone();
        let filter = self.filter();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match runtime {
                Ok(runtime) => runtime.block_on(remove_all(&client, &filter)),
                Err(error) => eprintln!("cleanup of {} impossible: {error}", filter.value),
            }
        });
        let _ = cleanup.join();
    }
}

/// Containers first (they hold networks, volumes and images), then the rest.
async fn remove_all(client: &DockerClient, filter: &LabelFilter) {
    let report = |what: &str, result: stack_docker::Result<()>| {
        if let Err(error) = result {
            eprintln!("cleanup: could not remove {what}: {error}");
        }
    };
    for container in client.list_containers(filter).await.unwrap_or_default() {
        report(
            &container.name,
            client.remove_container(&container.id, true).await,
        );
    }
    for network in client.list_networks(filter).await.unwrap_or_default() {
        report(&network.name, client.remove_network(&network.id).await);
    }
    for volume in client.list_volumes(filter).await.unwrap_or_default() {
        report(&volume.name, client.remove_volume(&volume.name).await);
    }
    for image in client.list_images(filter).await.unwrap_or_default() {
        report(&image.id, client.remove_image(&image.id, true).await);
    }
}
