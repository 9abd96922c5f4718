//! The providers of the swarm target (placeholder until swarm-target's skeleton is merged).

mod job;
mod service;

use std::sync::Arc;

use stack_docker::{DockerClient, DockerError};
use stack_provider::{ProviderError, Providers};

/// Every provider of the swarm target, sharing one client.
pub fn builtin(docker: DockerClient) -> Providers {
    let docker = Arc::new(docker);
    Providers::new(vec![
        Arc::new(service::ServiceProvider::new(docker.clone())),
        Arc::new(job::provider(docker)),
    ])
}

pub(crate) fn error(error: DockerError) -> ProviderError {
    stack_providers::common::error(error)
}
