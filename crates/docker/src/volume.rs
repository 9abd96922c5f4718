//! Named volumes: create, inspect, list by label, remove.

use std::collections::BTreeMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use crate::client::DockerClient;
use crate::error::{DockerError, ObjectRef, Result};
use crate::labels::{self, LabelFilter, Labels};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeSpec {
    pub name: String,
    /// `local` when `None`.
    pub driver: Option<String>,
    pub driver_options: BTreeMap<String, String>,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub driver_options: BTreeMap<String, String>,
    pub labels: Labels,
    /// Where the data lives on the host.
    pub mountpoint: String,
}

impl DockerClient {
    /// Creates the volume. The daemon answers a create of an existing name with that volume,
    /// unchanged; a volume of that name is a [`DockerError::Conflict`] here instead, so a
    /// caller never mistakes someone else's volume for a new one.
    pub async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let object = ObjectRef::volume(&spec.name);
        match self.inspect_volume(&spec.name).await {
            Ok(existing) => {
                let message = format!(
                    "a volume named {} exists (driver {})",
                    existing.name, existing.driver
                );
                return Err(DockerError::Conflict { object, message });
            }
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
        let request = VolumeCreateRequest {
            name: Some(spec.name.clone()),
            driver: Some(spec.driver.clone().unwrap_or_else(|| "local".to_string())),
            driver_opts: Some(labels::to_hash_map(&spec.driver_options)),
            labels: Some(labels::to_hash_map(&spec.labels)),
            ..Default::default()
        };
        let volume = self
            .docker
            .create_volume(request)
            .await
            .map_err(self.error(object))?;
        Ok(volume_info(volume))
    }

    pub async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        let volume = self
            .docker
            .inspect_volume(name)
            .await
            .map_err(self.error(ObjectRef::volume(name)))?;
        Ok(volume_info(volume))
    }

    /// The volumes carrying the label, in one request.
    pub async fn list_volumes(&self, filter: &LabelFilter) -> Result<Vec<VolumeInfo>> {
        let options = ListVolumesOptions {
            filters: Some(filter.to_filters()),
        };
        let listed = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(self.error(ObjectRef::volume(format!(
                "label {}={}",
                filter.key, filter.value
            ))))?;
        Ok(listed
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(volume_info)
            .collect())
    }

    /// Removes the volume and its data; one mounted by a container is [`DockerError::InUse`].
    pub async fn remove_volume(&self, name: &str) -> Result<()> {
        self.docker
            .remove_volume(name, Some(RemoveVolumeOptions { force: false }))
            .await
            .map_err(self.error(ObjectRef::volume(name)))
    }
}

fn volume_info(volume: bollard::models::Volume) -> VolumeInfo {
    VolumeInfo {
        name: volume.name,
        driver: volume.driver,
        driver_options: volume.options.into_iter().collect(),
        labels: volume.labels.into_iter().collect(),
        mountpoint: volume.mountpoint,
    }
}
