//! User-defined networks: create, inspect, list by label, remove; attach and detach containers.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use bollard::errors::Error as BollardError;
use bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest,
};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};

use crate::client::DockerClient;
use crate::error::{DockerError, ObjectRef, Result};
use crate::labels::{self, LabelFilter, Labels};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    pub name: String,
    /// `bridge` when `None`.
    pub driver: Option<String>,
    /// No route to the outside: containers reach only each other.
    pub internal: bool,
    /// Containers started outside stack may join it.
    pub attachable: bool,
    pub labels: Labels,
    /// Fixed addressing; the daemon picks a free subnet when empty.
    pub subnets: Vec<Subnet>,
    /// Options of the driver (`encrypted` for an overlay network).
    pub options: Labels,
}

/// One IPAM pool, in CIDR notation as Docker takes it (`10.20.0.0/24`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subnet {
    pub subnet: String,
    pub gateway: Option<String>,
    /// The part of the subnet the daemon hands out automatically; fixed addresses may lie outside it.
    pub ip_range: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub labels: Labels,
    pub subnets: Vec<Subnet>,
    /// Options of the driver.
    pub options: Labels,
    /// The attached containers by id.
    pub containers: BTreeMap<String, AttachedContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedContainer {
    pub name: String,
    /// In CIDR notation (`10.20.0.2/24`), as Docker reports it.
    pub ipv4_address: Option<String>,
}

/// How a container joins a network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub network: String,
    /// Extra DNS names on this network, beside the container's name.
    pub aliases: Vec<String>,
    /// A fixed address; the network needs a subnet for it.
    pub ipv4_address: Option<Ipv4Addr>,
}

impl NetworkAttachment {
    pub(crate) fn endpoint_settings(&self) -> EndpointSettings {
        EndpointSettings {
            aliases: (!self.aliases.is_empty()).then(|| self.aliases.clone()),
            ipam_config: self.ipv4_address.map(|address| EndpointIpamConfig {
                ipv4_address: Some(address.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

impl DockerClient {
    /// Creates the network; a network of the same name is a [`DockerError::Conflict`].
    pub async fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        let object = ObjectRef::network(&spec.name);
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some(spec.driver.clone().unwrap_or_else(|| "bridge".to_string())),
            internal: Some(spec.internal),
            attachable: Some(spec.attachable),
            labels: Some(labels::to_hash_map(&spec.labels)),
            options: (!spec.options.is_empty()).then(|| labels::to_hash_map(&spec.options)),
            ipam: (!spec.subnets.is_empty()).then(|| Ipam {
                config: Some(
                    spec.subnets
                        .iter()
                        .map(|subnet| IpamConfig {
                            subnet: Some(subnet.subnet.clone()),
                            gateway: subnet.gateway.clone(),
                            ip_range: subnet.ip_range.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_network(request)
            .await
            .map_err(self.error(object.clone()))?;
        // API 1.41 has no way left in bollard to ask for `CheckDuplicate`: the daemon creates a
        // second network of the same name and only warns. Undo that and report the conflict.
        if created.warning.contains("already exists") {
            self.docker
                .remove_network(&created.id)
                .await
                .map_err(self.error(object.clone()))?;
            return Err(DockerError::Conflict {
                object,
                message: created.warning,
            });
        }
        Ok(created.id)
    }

    pub async fn inspect_network(&self, name: &str) -> Result<NetworkInfo> {
        let network = self
            .docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
            .map_err(self.error(ObjectRef::network(name)))?;
        let containers = network
            .containers
            .unwrap_or_default()
            .into_iter()
            .map(|(id, endpoint)| {
                let attached = AttachedContainer {
                    name: endpoint.name.unwrap_or_default(),
                    ipv4_address: endpoint.ipv4_address.filter(|address| !address.is_empty()),
                };
                (id, attached)
            })
            .collect();
        Ok(NetworkInfo {
            id: network.id.unwrap_or_default(),
            name: network.name.unwrap_or_default(),
            driver: network.driver.unwrap_or_default(),
            internal: network.internal.unwrap_or_default(),
            attachable: network.attachable.unwrap_or_default(),
            labels: labels::from_hash_map(network.labels),
            subnets: subnets(network.ipam),
            options: labels::from_hash_map(network.options),
            containers,
        })
    }

    /// The networks carrying the label, in one request. The list has each network's
    /// addressing, `internal` and `attachable`, but no containers: `containers` is empty.
    pub async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkInfo>> {
        let options = ListNetworksOptions {
            filters: Some(filter.to_filters()),
        };
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(self.error(ObjectRef::network(format!(
                "label {}={}",
                filter.key, filter.value
            ))))?;
        Ok(networks
            .into_iter()
            .map(|network| NetworkInfo {
                id: network.id.unwrap_or_default(),
                name: network.name.unwrap_or_default(),
                driver: network.driver.unwrap_or_default(),
                internal: network.internal.unwrap_or_default(),
                attachable: network.attachable.unwrap_or_default(),
                labels: labels::from_hash_map(network.labels),
                subnets: subnets(network.ipam),
                options: labels::from_hash_map(network.options),
                containers: BTreeMap::new(),
            })
            .collect())
    }

    /// Removes the network; one that still has endpoints is [`DockerError::InUse`].
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        self.docker
            .remove_network(name)
            .await
            .map_err(self.error(ObjectRef::network(name)))
    }

    /// Attaches a container (running or not) to a network.
    pub async fn connect_network(&self, container: &str, attachment: &NetworkAttachment) -> Result<()> {
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(attachment.endpoint_settings()),
        };
        match self.docker.connect_network(&attachment.network, request).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.error(attachment_object(
                &error,
                container,
                &attachment.network,
            ))(error)),
        }
    }

    /// Detaches a container; `force` also clears the endpoint of a container that is gone.
    pub async fn disconnect_network(&self, container: &str, network: &str, force: bool) -> Result<()> {
        let request = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(force),
        };
        match self.docker.disconnect_network(network, request).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.error(attachment_object(&error, container, network))(error)),
        }
    }
}

/// The IPAM pools of a network as inspect and list answer them.
fn subnets(ipam: Option<Ipam>) -> Vec<Subnet> {
    ipam.and_then(|ipam| ipam.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|config| {
            Some(Subnet {
                subnet: config.subnet?,
                gateway: config.gateway,
                ip_range: config.ip_range,
            })
        })
        .collect()
}

/// Connect and disconnect fail for the container or for the network: the daemon's message
/// says which one is missing.
fn attachment_object(error: &BollardError, container: &str, network: &str) -> ObjectRef {
    match error {
        BollardError::DockerResponseServerError { message, .. }
            if !message.contains("No such container") && message.to_lowercase().contains("network") =>
        {
            ObjectRef::network(network)
        }
        _ => ObjectRef::container(container),
    }
}
