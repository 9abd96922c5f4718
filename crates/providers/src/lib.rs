//! The built-in providers, on the Docker engine through `stack-docker`.
//!
//! Each kind implements [`stack_provider::Provider`] and nothing else: the
//! engine treats them exactly as it would a provider written elsewhere.

pub mod common;
// The stack's lock on the daemon (stack_provider::lock::StackLock).
mod lock;
// One module per kind (each helper adds its own line here).
mod image;
mod job;
mod network;
mod probe;
mod registry;
mod secret;
mod service;
mod volume;

use std::sync::Arc;

use stack_docker::DockerClient;
use stack_provider::Providers;

pub use lock::DockerLock;

/// The typed model of a service, read from its resource, that the providers of other targets
/// (Swarm) build their objects from too.
pub mod service_model {
    pub use crate::service::rollout::{FailureAction, Order, Strategy, Update};
    pub use crate::service::spec::{Check, Probe, ServiceSpec};
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
