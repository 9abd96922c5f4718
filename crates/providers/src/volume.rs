//! Named volumes, owned through their labels; external volumes are only inspected.
//!
//! Whether a volume of the stack is removed is the engine's decision (`stack destroy` keeps
//! them unless `--volumes`): `delete` removes the volume it is given, data and all. Like a
//! network, a volume cannot be changed once created, so every field replaces it, and
//! `depends-on` and `prevent-destroy` are kept out of the recorded configuration
//! ([`common::without_engine_fields`]).

use std::sync::Arc;

use async_trait::async_trait;
use stack_diagnostics::Diagnostic;
use stack_docker::{DockerClient, DockerError, LabelFilter, VolumeInfo, VolumeSpec};
use stack_language::Resource;
use stack_language::schema::KindSchema;
use stack_provider::labels::STACK;
use stack_provider::{Desired, Live, Provider, ProviderError, Resolve, Scope};

use crate::common;

pub struct VolumeProvider {
    docker: Arc<DockerClient>,
    kind: &'static KindSchema,
}

impl VolumeProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        VolumeProvider {
            docker,
            kind: common::builtin_kind("volume"),
        }
    }

    /// The live state of one volume of the stack, or `None` when its labels name no volume
    /// resource.
    fn live(&self, volume: VolumeInfo) -> Option<Live> {
        let (address, recorded) = common::recorded(&volume.labels)?;
        let address = common::parse_address(&address, self.kind.name)?;
        let (config, drift) = common::observe(recorded, observed(&volume));
        Some(Live {
            address,
            kind: self.kind.name,
            state: format!("{} volume at {}", volume.driver, volume.mountpoint),
            name: volume.name,
            config,
            drift,
            healthy: None,
        })
    }

    /// Why a create found the name taken, naming the owner of the volume in the way.
    async fn clash(&self, scope: &Scope, desired: &Desired) -> ProviderError {
        match self.docker.inspect_volume(&desired.name).await {
            Ok(found) => common::name_taken("volume", &desired.name, &found.labels, scope, &desired.address),
            Err(error) => common::error(error),
        }
    }
}

#[async_trait]
impl Provider for VolumeProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    /// Docker removes no volume while a container mounts it.
    fn held_by_dependents(&self) -> bool {
        true
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        Ok(common::fixed_object(self.kind, scope, resource, resolve))
    }

    /// One list request: it carries everything compared.
    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let filter = LabelFilter::new(STACK, &scope.stack);
        let volumes = self.docker.list_volumes(&filter).await.map_err(common::error)?;
        Ok(volumes
            .into_iter()
            .filter_map(|volume| self.live(volume))
            .collect())
    }

    async fn read_external(&self, _scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        match self.docker.inspect_volume(&desired.name).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Err(ProviderError::new(format!(
                "volume `{}` does not exist: create it first, or remove `external` from {} so that this stack creates its own",
                desired.name, desired.address
            ))
            .with_hint(format!(
                "an external volume is created outside this stack, for example by another stack applied first, \
                 or with `docker volume create {}`",
                desired.name
            ))),
            Err(error) => Err(common::error(error)),
        }
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        match self.docker.create_volume(&spec(scope, desired)).await {
            Ok(_) => Ok(()),
            Err(DockerError::Conflict { .. }) => Err(self.clash(scope, desired).await),
            Err(error) => Err(common::error(error)),
        }
    }

    /// Nothing to do: every field that reaches the daemon replaces the volume, and the others
    /// are not recorded (see the module's documentation).
    async fn update(&self, _scope: &Scope, _desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn delete(&self, _scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        match self.docker.remove_volume(&live.name).await {
            Ok(()) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(removal_error(error, &live.name)),
        }
    }
}

fn spec(scope: &Scope, desired: &Desired) -> VolumeSpec {
    VolumeSpec {
        name: desired.name.clone(),
        driver: common::text(&desired.config, "driver").map(str::to_owned),
        driver_options: common::text_map(&desired.config, "driver-opts"),
        labels: common::object_labels(scope, desired),
    }
}

/// The fields of a volume as the daemon shows them, to compare with the recorded ones.
fn observed(volume: &VolumeInfo) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::Value as Json;
    vec![
        ("driver", Json::from(volume.driver.clone())),
        ("driver-opts", common::json_object(&volume.driver_options)),
        (
            "labels",
            common::json_object(&common::user_labels(&volume.labels)),
        ),
    ]
}

/// A volume a container mounts cannot go: say so and what to do.
fn removal_error(error: DockerError, name: &str) -> ProviderError {
    match error {
        DockerError::InUse { .. } => ProviderError::new(format!("volume `{name}` is mounted by a container"))
            .with_hint(format!(
                "remove the containers that use it first (`docker ps -a --filter volume={name}` lists them)"
            )),
        error => common::error(error),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stack_docker::ObjectRef;

    use super::*;
    use crate::common::testing::{Fixture, NoDependencies, resource};

    fn scope() -> Scope {
        Scope {
            stack: "shop".to_owned(),
            ready_timeout: Duration::from_secs(5),
            registries: Vec::new(),
        }
    }

    fn desired(text: &str) -> Desired {
        let stack = Fixture::new().load(text);
        let resource = resource(&stack, "volume", "data");
        common::fixed_object(resource.kind, &scope(), resource, &NoDependencies)
    }

    const DATA: &str = r#"volume "data" {
    driver-opts {
        type "tmpfs"
        device "tmpfs"
    }
    labels {
        backup "daily"
    }
    prevent-destroy #true
    depends-on "network.backend"
}
network "backend"
"#;

    #[test]
    fn the_configuration_leaves_out_what_only_the_engine_reads() {
        let desired = desired(DATA);
        assert_eq!(desired.name, "shop_data");
        assert_eq!(desired.outputs.get("ref").map(String::as_str), Some("shop_data"));
        assert!(!desired.external);
        let fields: Vec<&str> = desired.config.0.keys().map(String::as_str).collect();
        assert_eq!(fields, ["driver", "driver-opts", "labels"]);
    }

    #[test]
    fn the_volume_spec_follows_the_configuration() {
        let desired = desired(DATA);
        let spec = spec(&scope(), &desired);
        assert_eq!(spec.name, "shop_data");
        assert_eq!(spec.driver.as_deref(), Some("local"));
        assert_eq!(
            spec.driver_options,
            common::text_map(&desired.config, "driver-opts")
        );
        assert_eq!(
            spec.driver_options.get("device").map(String::as_str),
            Some("tmpfs")
        );
        assert_eq!(spec.labels.get("backup").map(String::as_str), Some("daily"));
        assert_eq!(spec.labels.get(STACK).map(String::as_str), Some("shop"));
    }

    #[test]
    fn external_volumes_are_named_as_written() {
        let desired = desired("volume \"data\" {\n    external \"infra_cache\"\n}");
        assert!(desired.external);
        assert_eq!(desired.name, "infra_cache");
        assert_eq!(
            desired.outputs.get("ref").map(String::as_str),
            Some("infra_cache")
        );
    }

    #[test]
    fn drift_is_what_the_daemon_shows_against_what_was_recorded() {
        let desired = desired(DATA);
        let spec = spec(&scope(), &desired);
        let mut volume = VolumeInfo {
            name: spec.name,
            driver: "local".to_owned(),
            driver_options: spec.driver_options,
            labels: spec.labels,
            mountpoint: "/var/lib/docker/volumes/shop_data/_data".to_owned(),
        };
        let seen = |volume: &VolumeInfo| {
            let (_, recorded) = common::recorded(&volume.labels).unwrap();
            common::observe(recorded, observed(volume))
        };
        let (config, drift) = seen(&volume);
        assert_eq!(config, desired.config);
        assert!(drift.is_empty(), "{drift:?}");

        volume.driver_options.insert("o".to_owned(), "size=1m".to_owned());
        let (config, drift) = seen(&volume);
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert_eq!(drift[0].field, "driver-opts");
        assert_eq!(desired.config.differing(&config, desired.kind), ["driver-opts"]);
    }

    #[test]
    fn a_mounted_volume_says_what_to_do() {
        let error = removal_error(
            DockerError::InUse {
                object: ObjectRef::volume("shop_data"),
                message: "remove shop_data: volume is in use - [1234]".to_owned(),
            },
            "shop_data",
        );
        assert_eq!(error.message, "volume `shop_data` is mounted by a container");
        assert!(
            error
                .hint
                .is_some_and(|hint| hint.contains("--filter volume=shop_data"))
        );
    }
}
