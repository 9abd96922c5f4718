//! Swarm services and their tasks: create, inspect, list by label, update (and Swarm's own
//! rollback), remove. The specs are the Engine API's own ([`ServiceSpec`]): the Swarm providers
//! build them, this module only carries them to the daemon and names the service in errors.

use std::collections::HashMap;

use bollard::query_parameters::UpdateServiceOptions;

pub use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, HealthConfig, Limit, Mount as ServiceMount, MountTmpfsOptions, MountType,
    NetworkAttachmentConfig, Node, NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState, ObjectVersion,
    ResourceObject, Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
    TaskState,
};

use crate::client::DockerClient;
use crate::error::{ObjectKind, ObjectRef, Result};
use crate::labels::LabelFilter;
use crate::raw::query_value;

impl DockerClient {
    /// Creates the service; returns its id.
    pub async fn create_service(&self, spec: ServiceSpec) -> Result<String> {
        let object = service_ref(spec.name.as_deref().unwrap_or_default());
        let created = self
            .docker
            .create_service(spec, None)
            .await
            .map_err(self.error(object))?;
        Ok(created.id.unwrap_or_default())
    }

    /// The service by name or id, with its health check ([`crate::raw`]).
    pub async fn inspect_service(&self, name: &str) -> Result<Service> {
        self.get_typed(&format!("/services/{}", query_value(name)), service_ref(name))
            .await
    }

    /// The services carrying the label, with their running and desired task counts and their
    /// health checks ([`crate::raw`]), in one request.
    pub async fn list_services(&self, filter: &LabelFilter) -> Result<Vec<Service>> {
        let path = format!("/services?status=true&filters={}", filters(filter.to_filters()));
        let object = service_ref(format!("label {}={}", filter.key, filter.value));
        self.get_typed(&path, object).await
    }

    /// Every service of the swarm, whoever made it, in one request.
    pub async fn list_all_services(&self) -> Result<Vec<Service>> {
        self.get_typed("/services", service_ref("every service")).await
    }

    /// Replaces the service's spec with `spec`; Swarm rolls the tasks out as its update
    /// configuration says. `version` is the one the service was read at: a change made since is
    /// refused, not overwritten.
    pub async fn update_service(&self, name: &str, version: u64, spec: ServiceSpec) -> Result<()> {
        let options = UpdateServiceOptions {
            version: version_number(version),
            ..Default::default()
        };
        self.docker
            .update_service(name, spec, options, None)
            .await
            .map_err(self.error(service_ref(name)))?;
        Ok(())
    }

    /// Swarm's own rollback: the service goes back to the spec it had before its last update,
    /// rolled out as its rollback configuration says.
    pub async fn roll_back_service(&self, name: &str) -> Result<()> {
        let service = self.inspect_service(name).await?;
        let version = service
            .version
            .and_then(|version| version.index)
            .unwrap_or_default();
        let options = UpdateServiceOptions {
            version: version_number(version),
            rollback: Some("previous".to_string()),
            ..Default::default()
        };
        // The daemon reads the previous spec itself; the body must still be a spec.
        let spec = service.spec.unwrap_or_default();
        self.docker
            .update_service(name, spec, options, None)
            .await
            .map_err(self.error(service_ref(name)))?;
        Ok(())
    }

    /// The service by name or id, and the spec it had before its last update, which Swarm keeps
    /// for its rollback (`PreviousSpec`, which bollard's model of a service leaves out).
    pub async fn inspect_service_with_previous(&self, name: &str) -> Result<(Service, Option<ServiceSpec>)> {
        #[derive(serde::Deserialize)]
        struct WithPrevious {
            #[serde(flatten)]
            service: Service,
            #[serde(rename = "PreviousSpec")]
            previous_spec: Option<ServiceSpec>,
        }
        let read: WithPrevious = self
            .get_typed(&format!("/services/{name}"), service_ref(name))
            .await?;
        Ok((read.service, read.previous_spec))
    }

    pub async fn remove_service(&self, name: &str) -> Result<()> {
        self.docker
            .delete_service(name)
            .await
            .map_err(self.error(service_ref(name)))
    }

    /// The tasks of the service (by name or id), of every state Swarm still keeps, read as
    /// their service is, with their health checks ([`crate::raw`]).
    pub async fn list_tasks(&self, service: &str) -> Result<Vec<Task>> {
        let filter = HashMap::from([("service".to_string(), vec![service.to_string()])]);
        self.get_typed(
            &format!("/tasks?filters={}", filters(filter)),
            service_ref(service),
        )
        .await
    }

    /// The swarm's nodes, as its manager lists them: their state and availability.
    pub async fn list_nodes(&self) -> Result<Vec<Node>> {
        self.docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(self.error(ObjectRef::new(ObjectKind::Daemon, self.endpoint())))
    }

    /// How many nodes the swarm has, as its manager lists them.
    pub async fn swarm_node_count(&self) -> Result<usize> {
        Ok(self.list_nodes().await?.len())
    }
}

/// A `filters` query parameter.
fn filters(filters: HashMap<String, Vec<String>>) -> String {
    query_value(&serde_json::json!(filters).to_string())
}

fn service_ref(name: impl Into<String>) -> ObjectRef {
    ObjectRef::new(ObjectKind::Service, name)
}

/// Swarm's object versions are unsigned; the query parameter bollard takes is an `i32`.
fn version_number(version: u64) -> i32 {
    i32::try_from(version).unwrap_or(i32::MAX)
}
