//! The JSON-RPC 2.0 envelope and the parameters and results of each method.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::schema::{FieldSpec, KindSpec};

/// The methods, in the order of a provider's life.
pub mod method {
    pub const INITIALIZE: &str = "initialize";
    pub const CONFIGURE: &str = "configure";
    pub const READ: &str = "read";
    pub const READ_EXTERNAL: &str = "read_external";
    pub const CREATE: &str = "create";
    pub const UPDATE: &str = "update";
    pub const REPLACE: &str = "replace";
    pub const DELETE: &str = "delete";
    pub const WAIT: &str = "wait";
    /// Optional, called only by `stack provider check`: changes an object outside stack, so
    /// that the next `read` reports drift.
    pub const MAKE_DRIFT: &str = "make_drift";
}

/// A call from `stack` to the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub jsonrpc: String,
    pub id: u64,
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

impl Request {
    pub fn new(id: u64, method: &str, params: Value) -> Self {
        Request {
            jsonrpc: "2.0".to_owned(),
            id,
            method: method.to_owned(),
            params,
        }
    }
}

/// The provider's answer to the request with the same `id`: a result or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub jsonrpc: String,
    /// `null` only for a request that could not be read at all.
    pub id: Option<u64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

/// Keeps `"result": null` apart from no `result` at all.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl Response {
    pub fn success(id: u64, result: Value) -> Self {
        Response {
            jsonrpc: "2.0".to_owned(),
            id: Some(id),
            result: Some(result),
            error: None,
        }
    }

    pub fn failure(id: Option<u64>, error: RpcError) -> Self {
        Response {
            jsonrpc: "2.0".to_owned(),
            id,
            result: None,
            error: Some(error),
        }
    }

    /// What the call returned, or why it failed. A response with neither breaks the protocol.
    pub fn outcome(self) -> Result<Value, RpcError> {
        match (self.error, self.result) {
            (Some(error), _) => Err(error),
            (None, Some(result)) => Ok(result),
            (None, None) => Err(RpcError::new(
                ErrorCode::InvalidRequest,
                "the response has neither `result` nor `error`",
            )),
        }
    }
}

/// A failed call: what went wrong, said for the user, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ErrorData>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError {
            code: code as i64,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.data = Some(ErrorData {
            hint: Some(hint.into()),
        });
        self
    }

    pub fn hint(&self) -> Option<&str> {
        self.data.as_ref()?.hint.as_deref()
    }
}

/// The error codes: JSON-RPC's own, and one for a failure of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ParseError = -32700,
    InvalidRequest = -32600,
    MethodNotFound = -32601,
    InvalidParams = -32602,
    Internal = -32603,
    /// The backend refused or failed: the message says what, for the user.
    Provider = -32000,
}

/// `initialize`: the first call, before any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Initialize {
    pub protocol_version: u32,
}

/// The result of `initialize`: who the provider is and what it provides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handshake {
    pub protocol_version: u32,
    pub name: String,
    pub version: String,
    pub kinds: Vec<KindSpec>,
    /// The fields of the provider's own configuration (its `provider` block).
    #[serde(default)]
    pub config: Vec<FieldSpec>,
}

/// `configure`: the provider's configuration, sensitive values included, once per run
/// before any call about objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configure {
    pub config: Map<String, Value>,
}

/// `read`: every object of `kind` that belongs to `stack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Read {
    pub stack: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResult {
    pub objects: Vec<LiveObject>,
}

/// `create` and `read_external`: one object as the stack wants it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithObject {
    pub stack: String,
    pub object: DesiredObject,
}

/// `update` and `replace`: the object as the stack wants it, and as `read` returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub stack: String,
    pub object: DesiredObject,
    pub live: LiveObject,
}

/// `delete` and `make_drift`: an object `read` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WithLive {
    pub stack: String,
    pub object: LiveObject,
}

/// `wait`: returns once the object has reached `condition` (`started`, `healthy`,
/// `completed`), or fails after `timeout_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub stack: String,
    pub object: DesiredObject,
    pub condition: String,
    pub timeout_ms: u64,
}

/// What an object should be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredObject {
    pub kind: String,
    /// Its resource: `db.app`, `module.shop.db.app`.
    pub address: String,
    /// Its name on the backend, chosen by `stack`: `STACK_NAME`.
    pub name: String,
    /// Every field, defaults filled in, as the provider records it: a sensitive field's value
    /// is `{"sensitive": HASH}`.
    pub config: Map<String, Value>,
    /// The values of the sensitive fields, only in `create`, `update` and `replace`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub secrets: Map<String, Value>,
}

impl DesiredObject {
    /// The value to apply for `field`: the secret when it is sensitive, else its config.
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.secrets.get(field).or_else(|| self.config.get(field))
    }
}

/// An object of the stack as the provider finds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveObject {
    pub address: String,
    pub name: String,
    /// The `config` it was last given, as the provider recorded it.
    pub config: Map<String, Value>,
    /// The fields whose value on the backend differs from `config`: changes made outside stack.
    #[serde(default)]
    pub drift: Vec<DriftItem>,
    /// A few words for `stack status`.
    #[serde(default)]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
}

/// A field changed outside stack, and the value it has now (ignored for a sensitive field:
/// `stack` shows only that it changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    pub field: String,
    #[serde(default)]
    pub actual: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_result_is_a_result() {
        let response: Response =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":3,"result":null}"#).expect("a response");
        assert_eq!(response.outcome(), Ok(Value::Null));
        let text = serde_json::to_string(&Response::success(3, Value::Null)).expect("serializes");
        assert_eq!(text, r#"{"jsonrpc":"2.0","id":3,"result":null}"#);
    }

    #[test]
    fn a_response_without_result_or_error_is_refused() {
        let response: Response = serde_json::from_str(r#"{"jsonrpc":"2.0","id":3}"#).expect("a response");
        let error = response.outcome().expect_err("no outcome");
        assert_eq!(error.code, ErrorCode::InvalidRequest as i64);
    }

    #[test]
    fn errors_carry_their_hint() {
        let error =
            RpcError::new(ErrorCode::Provider, "role `app` cannot log in").with_hint("check the password");
        let text = serde_json::to_string(&Response::failure(Some(1), error)).expect("serializes");
        let back: Response = serde_json::from_str(&text).expect("reads back");
        let error = back.outcome().expect_err("an error");
        assert_eq!(error.hint(), Some("check the password"));
        assert_eq!(error.code, -32000);
    }

    #[test]
    fn secrets_are_applied_but_left_out_when_empty() {
        let mut object = DesiredObject {
            kind: "role".to_owned(),
            address: "role.app".to_owned(),
            name: "shop_app".to_owned(),
            config: Map::from_iter([(
                "password".to_owned(),
                serde_json::json!({"sensitive": "pbkdf2-sha256:00"}),
            )]),
            secrets: Map::new(),
        };
        assert!(
            !serde_json::to_string(&object)
                .expect("serializes")
                .contains("secrets")
        );
        object.secrets.insert("password".to_owned(), "hunter2".into());
        assert_eq!(object.value("password"), Some(&Value::from("hunter2")));
    }
}
