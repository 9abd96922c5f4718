//! The providers of the Swarm target (`--target swarm`, or `target "swarm"` in an overlay).
//!
//! The same kinds as on one engine, realized through a swarm manager's API: overlay networks,
//! Docker secrets, Swarm services and replicated jobs. What is the same on both targets is
//! `stack-providers`' own code, reused rather than copied: the image provider (build, push),
//! the probe provider, the labels and the hashing of sensitive values. Nothing above the
//! [`stack_provider::Provider`] trait knows which target runs: the target only picks this set
//! of providers instead of `stack_providers::builtin`.

mod job;
mod network;
mod secret;
mod service;

use std::sync::Arc;

use stack_docker::{DockerClient, DockerError};
use stack_provider::{ProviderError, Providers};

/// Every provider of the Swarm target, sharing one client (of a swarm manager).
pub fn builtin(docker: DockerClient) -> Providers {
    let docker = Arc::new(docker);
    let providers: Vec<Arc<dyn stack_provider::Provider>> = vec![
        Arc::new(network::provider(docker.clone())),
        // A volume per node, as on one engine: a service's mount creates it on the other nodes
        // its tasks run on (see the book's "From one host to a cluster").
        Arc::new(stack_providers::VolumeProvider::new(docker.clone())),
        // Built locally and pushed (`push`) as on one engine.
        Arc::new(stack_providers::ImageProvider::new(docker.clone())),
        Arc::new(secret::SecretProvider::new(docker.clone())),
        Arc::new(stack_providers::ProbeProvider::new()),
        Arc::new(service::ServiceProvider::new(docker.clone())),
        Arc::new(job::provider(docker)),
    ];
    Providers::new(providers)
}

/// A daemon error as a provider reports it.
pub(crate) fn error(error: DockerError) -> ProviderError {
    stack_providers::common::error(error)
}
