//! Whether the daemon is a manager of a swarm: the Swarm target needs one.

use bollard::models::LocalNodeState;

use crate::client::DockerClient;
use crate::error::{ObjectKind, ObjectRef, Result};

/// The daemon's part in a swarm, from `GET /info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmRole {
    /// `inactive`, `pending`, `active`, `error` or `locked`, as `docker info` says.
    pub state: String,
    /// Whether this node is a manager: it takes the services, networks and secrets API calls.
    pub manager: bool,
    /// The swarm's own error, when it has one (a node that lost its managers).
    pub error: Option<String>,
    /// The id of this daemon's node in the swarm, once it is part of one.
    pub node_id: Option<String>,
}

impl SwarmRole {
    /// Whether a stack can be applied through this daemon: an active manager.
    pub fn is_active_manager(&self) -> bool {
        self.state == "active" && self.manager
    }
}

impl DockerClient {
    /// The daemon's part in a swarm (`docker info` → Swarm.LocalNodeState and ControlAvailable).
    pub async fn swarm_role(&self) -> Result<SwarmRole> {
        let info = self
            .docker
            .info()
            .await
            .map_err(self.error(ObjectRef::new(ObjectKind::Daemon, self.endpoint())))?;
        let swarm = info.swarm.unwrap_or_default();
        let state = match swarm.local_node_state.unwrap_or(LocalNodeState::INACTIVE) {
            LocalNodeState::EMPTY => "inactive".to_owned(),
            state => state.to_string(),
        };
        Ok(SwarmRole {
            state,
            manager: swarm.control_available.unwrap_or(false),
            error: swarm.error.filter(|error| !error.is_empty()),
            node_id: swarm.node_id.filter(|id| !id.is_empty()),
        })
    }
}
