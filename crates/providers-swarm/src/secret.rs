//! Secrets on a swarm: Docker secrets, which services mount under /run/secrets.
//!
//! A swarm secret cannot change, so each content is a secret of its own, named after a short
//! version of its content's salted hash: `<stack>_<name>_<version>`. A new content is a new
//! secret (the plan replaces the resource, and updates the services that mount it, which only
//! follow it); the old one goes as soon as no service uses it: at once when none does, else
//! when the last service that mounted it has moved to the new one ([`prune_versions`], which the
//! service provider calls after each rollout). An apply stopped in between leaves an old
//! version no service uses: the next plan shows it as drift of the secret, and apply removes
//! it. All versions of a resource carry its address label: the newest is the live one.
//!
//! The value is read as on one engine (`stack_providers::SecretProvider`: one source, a
//! diagnostic when it cannot be read); it goes to the daemon only in the create request.
//! Plans, labels and messages carry only the salted hash of it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use stack_diagnostics::Diagnostic;
use stack_docker::{DockerClient, DockerError, LabelFilter, SecretInfo, SecretSpec};
use stack_language::Resource;
use stack_language::schema::KindSchema;
use stack_provider::labels::{ADDRESS, STACK};
use stack_provider::{Desired, Drift, Live, Provider, ProviderError, Resolve, Scope};
use stack_providers::common;

/// The one field of the configuration: the salted hash of the content. Where the value is
/// read from is not the secret's business on the daemon: another source of the same value
/// changes nothing.
const CONTENT: &str = "content";
/// The drift of a secret whose older versions no service mounts any more.
const OLD_VERSIONS: &str = "old versions";

pub struct SecretProvider {
    docker: Arc<DockerClient>,
    engine: stack_providers::SecretProvider,
    kind: &'static KindSchema,
}

impl SecretProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        SecretProvider {
            docker,
            engine: stack_providers::SecretProvider::new(),
            kind: common::builtin_kind("secret"),
        }
    }

    /// Removes the versions of the secret at `live.address` other than `keep`, leaving those
    /// a service still uses. Without `keep` every version goes, and one in use is an error.
    async fn remove_versions(
        &self,
        scope: &Scope,
        live: &Live,
        keep: Option<&str>,
    ) -> Result<(), ProviderError> {
        let versions = versions(&self.docker, scope).await?;
        let address = live.address.to_string();
        for secret in versions.get(&address).into_iter().flatten() {
            if Some(secret.name.as_str()) == keep {
                continue;
            }
            match self.docker.remove_secret(&secret.id).await {
                Ok(()) => {}
                Err(error) if error.is_not_found() => {}
                Err(DockerError::InUse { .. }) if keep.is_some() => {}
                Err(error) => return Err(removal_error(error, &secret.name)),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for SecretProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let read = self.engine.desired(scope, resource, resolve).await?;
        Ok(versioned(read))
    }

    /// Two list requests, secrets and services; the newest version of each resource is its
    /// live object, and older ones no service mounts are drift.
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let (versions, mounted) = tokio::join!(versions(&self.docker, scope), mounted(&self.docker));
        let (versions, mounted) = (versions?, mounted?);
        Ok(versions
            .into_values()
            .filter_map(|mut secrets| {
                let newest = newest(&mut secrets)?;
                let unused = secrets
                    .iter()
                    .filter(|secret| !mounted.contains(&secret.id))
                    .count();
                self.live(newest, secrets.len(), unused)
            })
            .collect())
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let content = desired.payload::<Vec<u8>>().ok_or_else(|| {
            ProviderError::new(format!("{}: the desired state holds no content", desired.address)).with_hint(
                "this is a bug in stack: the secret provider's `desired` reads the content of every secret",
            )
        })?;
        let spec = SecretSpec {
            name: desired.name.clone(),
            data: content.clone(),
            labels: common::labels(scope, desired),
        };
        match self.docker.create_secret(&spec).await {
            Ok(_) => Ok(()),
            Err(DockerError::Conflict { .. }) => Err(match self.docker.inspect_secret(&desired.name).await {
                Ok(found) => {
                    common::name_taken("secret", &desired.name, &found.labels, scope, &desired.address)
                }
                Err(error) => common::error(error),
            }),
            Err(error) => Err(common::error(error)),
        }
    }

    /// Nothing changes in place: a new content is a new secret, which `replace` makes. What an
    /// update repairs is drift: older versions no service mounts any more, which go.
    async fn update(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.remove_versions(scope, live, Some(&desired.name)).await
    }

    /// The new version first, so that services can move to it; then the old ones that no
    /// service uses any more.
    async fn replace(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        if desired.name == live.name {
            // The same content under a configuration the labels no longer hold as written.
            self.delete(scope, live).await?;
            return self.create(scope, desired).await;
        }
        self.create(scope, desired).await?;
        self.remove_versions(scope, live, Some(&desired.name)).await
    }

    /// Every version: services that used them are gone first (they depend on the secret).
    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        self.remove_versions(scope, live, None).await
    }
}

impl SecretProvider {
    /// The live state of the newest version of a secret, or `None` when its labels name no
    /// secret resource. Of its `older` versions, `unused` are mounted by no service.
    fn live(&self, newest: SecretInfo, older: usize, unused: usize) -> Option<Live> {
        let (address, config) = common::recorded(&newest.labels)?;
        let address = common::parse_address(&address, self.kind.name)?;
        let version = newest.name.rsplit('_').next().unwrap_or_default().to_owned();
        let state = match older {
            0 => format!("version {version}"),
            older => format!("version {version}, {older} older kept while services use them"),
        };
        let drift = (unused > 0)
            .then(|| Drift {
                field: OLD_VERSIONS.to_owned(),
                expected: "none unused".to_owned(),
                actual: format!("{unused} that no service mounts"),
            })
            .into_iter()
            .collect();
        Some(Live {
            address,
            kind: self.kind.name,
            name: newest.name,
            config,
            drift,
            state,
            healthy: None,
        })
    }
}

/// The secret as a swarm keeps it: a versioned name, and only the content's hash to compare.
/// `ref` is the name services mount it by.
fn versioned(mut desired: Desired) -> Desired {
    let version = desired.outputs.get("version").cloned().unwrap_or_default();
    desired.name = format!("{}_{version}", desired.name);
    desired.config.0.retain(|field, _| field == CONTENT);
    desired.external = false;
    desired.source = None;
    desired.outputs.insert("ref".to_owned(), desired.name.clone());
    desired
}

/// The stack's secrets, every version, by the address they belong to.
async fn versions(
    docker: &DockerClient,
    scope: &Scope,
) -> Result<BTreeMap<String, Vec<SecretInfo>>, ProviderError> {
    let secrets = docker
        .list_secrets(&LabelFilter::new(STACK, &scope.stack))
        .await
        .map_err(common::error)?;
    let mut by_address: BTreeMap<String, Vec<SecretInfo>> = BTreeMap::new();
    for secret in secrets {
        if let Some(address) = secret.labels.get(ADDRESS) {
            by_address.entry(address.clone()).or_default().push(secret);
        }
    }
    Ok(by_address)
}

/// The ids of the secrets services mount, in one list request: those of any service, since a
/// version another service mounts cannot go either.
async fn mounted(docker: &DockerClient) -> Result<HashSet<String>, ProviderError> {
    let services = docker.list_all_services().await.map_err(common::error)?;
    Ok(services
        .iter()
        .filter_map(|service| {
            service
                .spec
                .as_ref()?
                .task_template
                .as_ref()?
                .container_spec
                .as_ref()
        })
        .flat_map(|container| container.secrets.iter().flatten())
        .filter_map(|secret| secret.secret_id.clone())
        .collect())
}

/// Takes the newest of the versions of one secret out of `secrets`, which keeps the older.
fn newest(secrets: &mut Vec<SecretInfo>) -> Option<SecretInfo> {
    secrets.sort_by_key(|secret| secret.version);
    secrets.pop()
}

/// Removes the stack's secrets older than the newest version of their resource that no
/// service uses any more. The Swarm service provider calls it once a service has moved to new
/// versions or is gone; a version another service still uses stays.
pub(crate) async fn prune_versions(docker: &DockerClient, scope: &Scope) -> Result<(), ProviderError> {
    for (_, mut secrets) in versions(docker, scope).await? {
        newest(&mut secrets);
        for old in secrets {
            match docker.remove_secret(&old.id).await {
                Ok(()) => {}
                Err(error) if error.is_not_found() => {}
                Err(DockerError::InUse { .. }) => {}
                Err(error) => return Err(removal_error(error, &old.name)),
            }
        }
    }
    Ok(())
}

/// A secret a service uses cannot go: say which and what to do.
fn removal_error(error: DockerError, name: &str) -> ProviderError {
    match error {
        DockerError::InUse { message, .. } => {
            ProviderError::new(format!("secret `{name}` is still in use: {message}"))
                .with_hint("remove the services that mount it first (`docker service ls` lists them)")
        }
        error => common::error(error),
    }
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use stack_provider::Setting;
    use stack_providers::common::testing::{Fixture, NoDependencies, resource};

    use super::*;

    const VALUE: &str = "s3cr3t-value-do-not-show";

    fn scope() -> Scope {
        Scope {
            stack: "shop".to_owned(),
            ready_timeout: Duration::from_secs(5),
            registries: Vec::new(),
        }
    }

    async fn desired(fixture: &Fixture, content: &str) -> Desired {
        let file = fixture.outside("token");
        std::fs::write(&file, content).unwrap();
        let stack = fixture.load(&format!(
            "secret \"token\" {{\n    from-file \"{}\"\n}}\n",
            file.display()
        ));
        let resource = resource(&stack, "secret", "token");
        let read = stack_providers::SecretProvider::new()
            .desired(&scope(), resource, &NoDependencies)
            .await
            .unwrap();
        versioned(read)
    }

    #[tokio::test]
    async fn each_content_is_a_secret_of_its_own_name() {
        let fixture = Fixture::new();
        let first = desired(&fixture, VALUE).await;
        let version = first.outputs.get("version").cloned().unwrap();
        assert_eq!(version.len(), 12);
        assert_eq!(first.name, format!("shop_token_{version}"));
        assert_eq!(first.outputs.get("ref"), Some(&first.name));
        assert!(!first.external, "a swarm secret is the stack's object");
        assert_eq!(first.source, None);
        let fields: Vec<&str> = first.config.0.keys().map(String::as_str).collect();
        assert_eq!(fields, [CONTENT]);
        assert!(matches!(
            first.config.get(CONTENT),
            Some(Setting::Sensitive { .. })
        ));
        assert_eq!(
            first.payload::<Vec<u8>>().map(Vec::as_slice),
            Some(VALUE.as_bytes())
        );

        let same = desired(&fixture, VALUE).await;
        assert_eq!(same.name, first.name);
        assert!(same.config.differing(&first.config, first.kind).is_empty());

        let other = desired(&fixture, "another value").await;
        assert_ne!(other.name, first.name);
        assert_eq!(other.config.differing(&first.config, first.kind), [CONTENT]);
    }

    #[tokio::test]
    async fn the_value_shows_only_in_the_payload() {
        let desired = desired(&Fixture::new(), VALUE).await;
        let labels = common::labels(&scope(), &desired);
        let spec = SecretSpec {
            name: desired.name.clone(),
            data: VALUE.as_bytes().to_vec(),
            labels: labels.clone(),
        };
        for shown in [
            desired.config.to_json(),
            format!("{desired:?}"),
            format!("{labels:?}"),
            format!("{spec:?}"),
            desired.outputs.values().cloned().collect::<Vec<_>>().join(" "),
        ] {
            assert!(!shown.contains(VALUE), "the value shows in {shown}");
        }
    }
}
