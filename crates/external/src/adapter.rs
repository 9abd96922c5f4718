//! A provider's kind, seen through the provider trait: the engine plans and applies it as it
//! does a built-in kind, and each method is one call to the provider process.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use stack_diagnostics::Diagnostic;
use stack_language::schema::KindSchema;
use stack_language::{Address, Condition, Resource};
use stack_protocol::{
    DesiredObject, LiveObject, Read, ReadResult, Update, Wait, WithLive, WithObject, method,
};
use stack_provider::{
    Config, Desired, Drift, Live, Provider, ProviderError, Resolve, Scope, Setting, salt, value_json,
};

use crate::client::{CallError, Client};
use crate::schema::{ENGINE_FIELDS, Kind};

/// What a sensitive field's live value is once the provider says it changed: not a hash of
/// anything, so the plan shows the field as changed, and never the value.
const CHANGED_SECRET: &str = "changed outside stack";

/// One kind of an external provider.
pub struct ExternalKind {
    client: Arc<Client>,
    kind: Kind,
    /// Why the provider cannot be used, once its configuration failed: every call fails so.
    unusable: Arc<OnceLock<ProviderError>>,
}

impl ExternalKind {
    pub fn new(client: Arc<Client>, kind: Kind, unusable: Arc<OnceLock<ProviderError>>) -> Self {
        ExternalKind {
            client,
            kind,
            unusable,
        }
    }

    async fn call<P: serde::Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        address: &str,
        params: &P,
    ) -> Result<R, ProviderError> {
        self.call_within(method, address, params, None).await
    }

    /// A call that returns nothing: it acted on the object of `address`.
    async fn act<P: serde::Serialize>(
        &self,
        method: &str,
        address: &Address,
        params: &P,
    ) -> Result<(), ProviderError> {
        self.call::<P, Value>(method, &address.to_string(), params)
            .await
            .map(|_| ())
    }

    /// One call; a failure names the provider, the resource and what happened.
    async fn call_within<P: serde::Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        about: &str,
        params: &P,
        extra: Option<Duration>,
    ) -> Result<R, ProviderError> {
        if let Some(unusable) = self.unusable.get() {
            return Err(unusable.clone());
        }
        let result = match extra {
            Some(extra) => {
                self.client
                    .call_within(method, params, self.client.timeout() + extra)
                    .await
            }
            None => self.client.call(method, params).await,
        };
        result.map_err(|error| failure(&self.client, method, about, &error))
    }

    /// What the provider is sent of `desired`: with the secrets only when it applies them.
    fn object(&self, desired: &Desired, with_secrets: bool) -> DesiredObject {
        let secrets = match desired.payload::<Map<String, Value>>() {
            Some(secrets) if with_secrets => secrets.clone(),
            _ => Map::new(),
        };
        DesiredObject {
            kind: self.kind.schema.name.to_owned(),
            address: desired.address.to_string(),
            name: desired.name.clone(),
            config: config_map(&desired.config),
            secrets,
        }
    }

    /// A live object as the provider returned it, with its drift applied to its configuration.
    fn live(&self, object: LiveObject) -> Result<Live, String> {
        let address = Address::parse(&object.address, self.kind.schema.name).ok_or_else(|| {
            format!(
                "`{}` is not an address of a {}",
                object.address, self.kind.schema.name
            )
        })?;
        let mut config = Config(
            object
                .config
                .into_iter()
                .map(|(field, value)| {
                    serde_json::from_value::<Setting>(value)
                        .map(|setting| (field, setting))
                        .map_err(|error| error.to_string())
                })
                .collect::<Result<IndexMap<_, _>, _>>()?,
        );
        let mut drift = Vec::new();
        for item in object.drift {
            let expected = config.get(&item.field).cloned();
            let secret = expected.as_ref().is_some_and(Setting::is_sensitive)
                || self.kind.sensitive.contains(&item.field.as_str());
            let actual = if secret {
                Setting::Sensitive {
                    sensitive: CHANGED_SECRET.to_owned(),
                }
            } else {
                Setting::Plain(item.actual)
            };
            drift.push(Drift {
                field: item.field.clone(),
                expected: expected.map_or_else(|| "(unset)".to_owned(), |setting| setting.display()),
                actual: actual.display(),
            });
            config.0.insert(item.field, actual);
        }
        Ok(Live {
            address,
            kind: self.kind.schema.name,
            name: object.name,
            config,
            drift,
            state: object.state,
            healthy: object.healthy,
        })
    }
}

/// The provider's error for the user: which provider, doing what to which resource, and why.
/// Only an error it answered is an answer: anything else, it is unavailable.
fn failure(client: &Client, method: &str, about: &str, error: &CallError) -> ProviderError {
    let error_text = format!(
        "{} failed to {} {about}: {}",
        client.describe(),
        method.replace('_', " "),
        error.describe(method)
    );
    let failure = match error {
        CallError::Refused(_) => ProviderError::new(error_text),
        CallError::TimedOut(_) | CallError::Stopped(_) | CallError::Malformed(_) => {
            ProviderError::unavailable(error_text)
        }
    };
    match error.hint() {
        Some(hint) => failure.with_hint(hint),
        None => failure,
    }
}

/// A configuration as the provider records it: plain values, and `{"sensitive": HASH}`.
fn config_map(config: &Config) -> Map<String, Value> {
    config
        .0
        .iter()
        .map(|(field, setting)| (field.clone(), serde_json::to_value(setting).unwrap_or_default()))
        .collect()
}

fn live_object(live: &Live) -> LiveObject {
    LiveObject {
        address: live.address.to_string(),
        name: live.name.clone(),
        config: config_map(&live.config),
        drift: Vec::new(),
        state: live.state.clone(),
        healthy: live.healthy,
    }
}

#[async_trait]
impl Provider for ExternalKind {
    fn schema(&self) -> &'static KindSchema {
        self.kind.schema
    }

    /// Built by `stack` from the schema: every field set, the defaults, references as the
    /// names of what they reference, and sensitive values hashed; their values go to the
    /// payload, which only `create`, `update` and `replace` send.
    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let reference = |address: &Address| {
            resolve
                .desired(address)
                .map(|dependency| dependency.outputs.get("ref").unwrap_or(&dependency.name).clone())
        };
        let mut config = Config::from_resource(resource, &scope.stack, reference);
        for field in ENGINE_FIELDS {
            config.0.shift_remove(*field);
        }
        let mut secrets = Map::new();
        for (field, value) in &resource.fields {
            let always = self.kind.sensitive.contains(&field.as_str());
            if !(always || value.contains_sensitive()) {
                continue;
            }
            let plain = value_json(value, &reference);
            if always {
                let hashed = Setting::sensitive(
                    &salt(&scope.stack, &resource.address, field),
                    plain.to_string().as_bytes(),
                );
                config.0.insert(field.clone(), hashed);
            }
            secrets.insert(field.clone(), plain);
        }
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind.schema,
            name: stack_language::object_name(&scope.stack, &resource.address),
            config,
            outputs: IndexMap::new(),
            external: false,
            source: None,
            payload: Some(Arc::new(secrets)),
        })
    }

    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        // The engine says which kind and stack: the message it wraps this in names them.
        let about = "its objects";
        let result: ReadResult = self
            .call(
                method::READ,
                about,
                &Read {
                    stack: scope.stack.clone(),
                    kind: self.kind.schema.name.to_owned(),
                },
            )
            .await?;
        result
            .objects
            .into_iter()
            .map(|object| self.live(object))
            .collect::<Result<_, _>>()
            .map_err(|why| failure(&self.client, method::READ, about, &CallError::Malformed(why)))
    }

    async fn read_external(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let params = WithObject {
            stack: scope.stack.clone(),
            object: self.object(desired, false),
        };
        self.act(method::READ_EXTERNAL, &desired.address, &params).await
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let params = WithObject {
            stack: scope.stack.clone(),
            object: self.object(desired, true),
        };
        self.act(method::CREATE, &desired.address, &params).await
    }

    async fn update(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.changed(method::UPDATE, scope, desired, live).await
    }

    async fn replace(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        self.changed(method::REPLACE, scope, desired, live).await
    }

    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        let params = WithLive {
            stack: scope.stack.clone(),
            object: live_object(live),
        };
        self.act(method::DELETE, &live.address, &params).await
    }

    async fn wait(
        &self,
        scope: &Scope,
        desired: &Desired,
        condition: Condition,
    ) -> Result<(), ProviderError> {
        if condition == Condition::Exists {
            return Ok(());
        }
        let params = Wait {
            stack: scope.stack.clone(),
            object: self.object(desired, false),
            condition: condition.as_str().to_owned(),
            timeout_ms: u64::try_from(scope.ready_timeout.as_millis()).unwrap_or(u64::MAX),
        };
        self.call_within(
            method::WAIT,
            &desired.address.to_string(),
            &params,
            Some(scope.ready_timeout),
        )
        .await
        .map(|_: Value| ())
    }
}

impl ExternalKind {
    /// `update` or `replace`: both carry the object as wanted and as it is.
    async fn changed(
        &self,
        method: &str,
        scope: &Scope,
        desired: &Desired,
        live: &Live,
    ) -> Result<(), ProviderError> {
        let params = Update {
            stack: scope.stack.clone(),
            object: self.object(desired, true),
            live: live_object(live),
        };
        self.act(method, &desired.address, &params).await
    }
}
