//! Networks on a swarm: overlay networks, which span the nodes, attachable so that containers
//! outside the swarm's services (the stack's own proxy, a `docker run` to debug) may join.
//!
//! Only the configuration differs from one engine's networks: a network that names no driver
//! is an `overlay` one and one that does not say otherwise is attachable. Reading, creating
//! and removing is the engine provider's work, done the same way through a manager, which
//! lists and creates the swarm's networks.

use std::sync::Arc;

use serde_json::Value as Json;
use stack_diagnostics::Diagnostic;
use stack_docker::DockerClient;
use stack_language::Resource;
use stack_provider::{Desired, Setting};

/// Drivers whose networks stay on one host: no service of a swarm can join one.
const LOCAL_DRIVERS: &[&str] = &["bridge", "host", "none"];

/// The provider of the `network` kind on a swarm: the engine's, with networks configured by
/// [`on_a_swarm`].
pub fn provider(docker: Arc<DockerClient>) -> stack_providers::NetworkProvider {
    stack_providers::NetworkProvider::configured(docker, on_a_swarm)
}

/// The configuration of a network on a swarm: `overlay` and attachable unless the files say
/// otherwise; a driver whose networks stay on one host is an error.
fn on_a_swarm(resource: &Resource, desired: &mut Desired) -> Result<(), Diagnostic> {
    let config = &mut desired.config.0;
    match resource.field("driver") {
        None => {
            config.insert("driver".to_owned(), Setting::Plain(Json::from("overlay")));
        }
        Some(driver) => {
            if let Some(local) = driver.as_str().filter(|name| LOCAL_DRIVERS.contains(name)) {
                return Err(Diagnostic::error(
                    "stack::invalid_value",
                    format!(
                        "{} has driver `{local}`, whose networks stay on one host: the services of a swarm join overlay networks",
                        resource.address
                    ),
                )
                .primary(driver.span, "not a network of the swarm")
                .help(
                    "leave `driver` out (on a swarm a network is an overlay network), or set it in the \
                     overlay of the environment that uses the engine target",
                ));
            }
        }
    }
    if resource.field("attachable").is_none() {
        config.insert("attachable".to_owned(), Setting::Plain(Json::from(true)));
    }
    Ok(())
}

// Test code may unwrap.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use stack_provider::Scope;
    use stack_providers::common;
    use stack_providers::common::testing::{Fixture, NoDependencies, resource};

    use super::*;

    fn scope() -> Scope {
        Scope {
            stack: "shop".to_owned(),
            ready_timeout: Duration::from_secs(5),
            registries: Vec::new(),
        }
    }

    fn desired(text: &str) -> Result<Desired, Diagnostic> {
        let stack = Fixture::new().load(text);
        let resource = resource(&stack, "network", "backend");
        let mut desired = common::fixed_object(resource.kind, &scope(), resource, &NoDependencies);
        on_a_swarm(resource, &mut desired)?;
        stack_providers::network::check_encryption(resource, &desired)?;
        Ok(desired)
    }

    fn plain<'a>(desired: &'a Desired, field: &str) -> Option<&'a Json> {
        desired.config.get(field).and_then(Setting::as_json)
    }

    #[test]
    fn a_network_is_an_attachable_overlay_network() {
        let desired = desired("network \"backend\" {\n    subnet \"10.1.0.0/24\"\n}").unwrap();
        assert_eq!(plain(&desired, "driver"), Some(&Json::from("overlay")));
        assert_eq!(plain(&desired, "attachable"), Some(&Json::from(true)));
        assert_eq!(plain(&desired, "subnet"), Some(&Json::from("10.1.0.0/24")));
        let spec = stack_providers::network::spec(&scope(), &desired);
        assert_eq!(spec.driver.as_deref(), Some("overlay"));
        assert!(spec.attachable);
        assert!(spec.options.is_empty());
    }

    #[test]
    fn what_the_files_say_wins() {
        let desired =
            desired("network \"backend\" {\n    attachable #false\n    encrypted #true\n}").unwrap();
        assert_eq!(plain(&desired, "attachable"), Some(&Json::from(false)));
        let spec = stack_providers::network::spec(&scope(), &desired);
        assert!(!spec.attachable);
        assert_eq!(
            spec.options.get("encrypted").map(String::as_str),
            Some(""),
            "{spec:?}"
        );
    }

    #[test]
    fn a_bridge_network_is_refused_where_it_is_written() {
        let error = desired("network \"backend\" {\n    driver \"bridge\"\n}").unwrap_err();
        assert_eq!(error.code, "stack::invalid_value");
        assert!(
            error.message.starts_with("network.backend has driver `bridge`"),
            "{}",
            error.message
        );
        assert!(error.primary_span().is_some());
    }
}
