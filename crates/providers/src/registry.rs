//! Registries: which images a container needs pulled, pulling them, and the credentials for a
//! registry (the stack's `registry` block first, else the user's Docker config).

use stack_docker::{DockerClient, DockerConfig, RegistryAuth, registry_of};
use stack_provider::{Fetch, ProviderError, Scope};

use crate::common;
use crate::service::spec::ServiceSpec;

/// The image of `spec` as a fetch, when the host does not have it and the stack does not
/// build it.
pub async fn missing_image(docker: &DockerClient, spec: &ServiceSpec) -> Result<Vec<Fetch>, ProviderError> {
    if spec.image_built {
        return Ok(Vec::new());
    }
    match docker.inspect_image(&spec.image).await {
        Ok(_) => Ok(Vec::new()),
        Err(error) if error.is_not_found() => Ok(vec![Fetch {
            item: spec.image.clone(),
            source: registry_of(&spec.image).to_owned(),
        }]),
        Err(error) => Err(common::error(error)),
    }
}

/// Pulls the image `fetch` names, with its registry's credentials.
pub async fn pull(
    docker: &DockerClient,
    scope: &Scope,
    fetch: &Fetch,
    progress: &(dyn Fn(&str) + Send + Sync + '_),
) -> Result<(), ProviderError> {
    let auth = credentials(scope, &fetch.source).await?;
    docker
        .pull_image(&fetch.item, auth.as_ref(), progress)
        .await
        .map_err(common::error)
}

/// The credentials for `registry`: the stack's `registry` block for it, else the Docker
/// config's (which may run a credential helper), else none.
pub async fn credentials(scope: &Scope, registry: &str) -> Result<Option<RegistryAuth>, ProviderError> {
    if let Some(login) = scope.registries.iter().find(|login| login.server == registry) {
        return Ok(Some(RegistryAuth {
            username: login.username.clone(),
            password: login.password.clone(),
        }));
    }
    let registry = registry.to_owned();
    let looked_up = tokio::task::spawn_blocking(move || {
        let config = DockerConfig::load()?;
        config.credentials(&registry).map_err(|error| {
            format!(
                "{error} (the credentials for it come from {})",
                config.path().display()
            )
        })
    })
    .await;
    match looked_up {
        Ok(Ok(auth)) => Ok(auth),
        Ok(Err(error)) => Err(ProviderError::new(format!("cannot read the registry credentials: {error}"))
            .with_hint("fix the Docker config (`DOCKER_CONFIG`, else `~/.docker/config.json`), or declare the registry's credentials in the stack with a `registry` block")),
        Err(error) => Err(ProviderError::new(format!("looking up the registry credentials failed: {error}"))),
    }
}
