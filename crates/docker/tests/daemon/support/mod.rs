//! What every daemon test needs: a client (or a loud failure on CI), a scope that names and
//! labels what the test creates and removes it all afterwards, the demo image and an HTTP client.

mod demo_image;
mod http;
mod scope;

pub use demo_image::demo_image;
pub use http::{get, put};
pub use scope::Scope;

use stack_docker::DockerClient;

/// The daemon, or `None` (with a message) when there is none and this is not CI. On CI a
/// missing daemon fails the test: a suite that skips quietly there proves nothing.
pub async fn docker() -> Option<DockerClient> {
    match DockerClient::connect().await {
        Ok(client) => Some(client),
        Err(error) => {
            stack_tests::without_docker(&error);
            None
        }
    }
}
