//! Jobs on a swarm: a Swarm service in replicated-job mode (API 1.41), run to completion once.
//!
//! It is made, compared and changed as a service is ([`crate::service`]); only its wait differs:
//! dependents wait until its run has completed. A change of its configuration is a service
//! update that runs it again; a run that failed `retries` more times fails the apply.

use std::sync::Arc;

use stack_docker::DockerClient;

use crate::service::ServiceProvider;
use crate::service::spec::Mode;

/// The provider of the `job` kind on a swarm.
pub fn provider(docker: Arc<DockerClient>) -> ServiceProvider {
    ServiceProvider::of_kind(docker, "job", Mode::Job)
}
