//! The built-in providers, on the Docker engine through `stack-docker`.
//!
//! Each kind implements [`stack_provider::Provider`] and nothing else: the
//! engine treats them exactly as it would a provider written elsewhere.
//!
//! What is the same on a swarm (`stack-providers-swarm`) is public and reused there, not
//! copied: the helpers of [`common`] (labels, names, drift), the image and probe providers as
//! they are, and the network, volume and secret providers that the Swarm ones build on.

pub mod common;
// The stack's lock on the daemon (stack_provider::lock::StackLock).
mod lock;
// One module per kind (each helper adds its own line here).
mod image;
mod job;
pub mod network;
mod probe;
mod registry;
mod secret;
mod service;
mod volume;

use std::sync::Arc;

use stack_docker::DockerClient;
use stack_provider::Providers;

pub use image::ImageProvider;
pub use job::JobProvider;
pub use lock::DockerLock;
pub use network::NetworkProvider;
pub use probe::ProbeProvider;
pub use secret::SecretProvider;
pub use service::ServiceProvider;
/// Services read from stack text, and the desired states of what they refer to, for tests.
#[cfg(any(test, feature = "testing"))]
pub use service::fixtures;
pub use volume::VolumeProvider;

/// The typed model of a service, read from its resource, that the providers of other targets
/// (Swarm) build their objects from too.
pub mod service_model {
    pub use crate::service::rollout::{FailureAction, Order, Strategy, Update};
    pub use crate::service::spec::{Check, Probe, ServiceSpec};
}

/// The image of `stack-proxy`, the proxy in front of a start-first service, which the Swarm
/// target puts in front of services too.
pub mod proxy {
    pub use crate::service::front::image;
}

/// Every built-in provider, sharing one client.
pub fn builtin(docker: DockerClient) -> Providers {
    let docker = Arc::new(docker);
    let providers: Vec<Arc<dyn stack_provider::Provider>> = vec![
        // One line per kind (each helper adds its own line here).
        Arc::new(network::NetworkProvider::new(docker.clone())),
        Arc::new(volume::VolumeProvider::new(docker.clone())),
        Arc::new(image::ImageProvider::new(docker.clone())),
        Arc::new(secret::SecretProvider::new()),
        Arc::new(probe::ProbeProvider::new()),
        Arc::new(service::ServiceProvider::new(docker.clone())),
        Arc::new(job::JobProvider::new(docker.clone())),
    ];
    let _ = docker;
    Providers::new(providers)
}
