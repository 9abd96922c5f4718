//! Swarm secrets: create, list by label, remove. A secret's data can never be read back nor
//! changed: a new value is a new secret.

use base64::Engine;
use bollard::models::SecretSpec as BollardSecretSpec;
use bollard::query_parameters::ListSecretsOptions;

use crate::client::DockerClient;
use crate::error::{ObjectKind, ObjectRef, Result};
use crate::labels::{self, LabelFilter, Labels};

/// A secret to create. `Debug` never shows the data.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub name: String,
    pub data: Vec<u8>,
    pub labels: Labels,
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSpec")
            .field("name", &self.name)
            .field("data", &"(sensitive)")
            .field("labels", &self.labels)
            .finish()
    }
}

/// A secret as the daemon lists it: never its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub id: String,
    pub name: String,
    pub labels: Labels,
    /// The swarm's version of the object: it grows with every write to the swarm's store, so
    /// of two secrets (which never change) the newer has the higher.
    pub version: u64,
}

impl ObjectRef {
    pub fn secret(name: impl Into<String>) -> ObjectRef {
        ObjectRef::new(ObjectKind::Secret, name)
    }
}

impl DockerClient {
    /// Creates the secret and returns its id; a secret of that name is a
    /// [`DockerError::Conflict`](crate::DockerError::Conflict).
    pub async fn create_secret(&self, spec: &SecretSpec) -> Result<String> {
        let request = BollardSecretSpec {
            name: Some(spec.name.clone()),
            labels: Some(labels::to_hash_map(&spec.labels)),
            data: Some(base64::engine::general_purpose::STANDARD.encode(&spec.data)),
            ..Default::default()
        };
        let created = self
            .docker
            .create_secret(request)
            .await
            .map_err(self.error(ObjectRef::secret(&spec.name)))?;
        Ok(created.id)
    }

    /// The secrets carrying the label, in one request.
    pub async fn list_secrets(&self, filter: &LabelFilter) -> Result<Vec<SecretInfo>> {
        let options = ListSecretsOptions {
            filters: Some(filter.to_filters()),
        };
        let secrets =
            self.docker
                .list_secrets(Some(options))
                .await
                .map_err(self.error(ObjectRef::secret(format!(
                    "label {}={}",
                    filter.key, filter.value
                ))))?;
        Ok(secrets.into_iter().map(secret_info).collect())
    }

    /// The secret of that name or id.
    pub async fn inspect_secret(&self, name: &str) -> Result<SecretInfo> {
        let secret = self
            .docker
            .inspect_secret(name)
            .await
            .map_err(self.error(ObjectRef::secret(name)))?;
        Ok(secret_info(secret))
    }

    /// Removes the secret (by id or name); one a service uses is
    /// [`DockerError::InUse`](crate::DockerError::InUse).
    pub async fn remove_secret(&self, name: &str) -> Result<()> {
        self.docker
            .delete_secret(name)
            .await
            .map_err(self.error(ObjectRef::secret(name)))
    }
}

fn secret_info(secret: bollard::models::Secret) -> SecretInfo {
    let spec = secret.spec.unwrap_or_default();
    SecretInfo {
        id: secret.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        labels: labels::from_hash_map(spec.labels),
        version: secret
            .version
            .and_then(|version| version.index)
            .unwrap_or_default(),
    }
}
