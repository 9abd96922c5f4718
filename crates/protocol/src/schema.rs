//! How a provider describes its kinds and its own configuration in the handshake.

use serde::{Deserialize, Serialize};

/// One resource kind: the node name in stack files and the fields it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindSpec {
    pub name: String,
    #[serde(default)]
    pub doc: String,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// What a dependent waits for at least: `exists` (the default), `started`, `healthy`
    /// or `completed`.
    #[serde(default = "exists")]
    pub ready: String,
}

fn exists() -> String {
    "exists".to_owned()
}

/// One field of a kind, or of a provider's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    #[serde(default)]
    pub doc: String,
    #[serde(rename = "type")]
    pub ty: TypeSpec,
    #[serde(default)]
    pub shape: Shape,
    #[serde(default)]
    pub required: bool,
    /// The value when the field is not set; `null` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What a change of this field does to the object.
    #[serde(default)]
    pub effect: Effect,
    /// Its value is a secret: only hashes of it are shown and recorded, and the value itself
    /// travels only in `create`, `update` and `replace` (and `configure`).
    #[serde(default)]
    pub sensitive: bool,
}

/// The type of one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TypeSpec {
    String,
    Int,
    Float,
    Bool,
    /// `"30s"`, `"5m"`: sent as the text written.
    Duration,
    /// `"512MiB"`: sent as the text written.
    Size,
    /// A path, relative to the declaring file's directory; sent as written.
    Path,
    /// One of these strings: `{"enum": ["a", "b"]}`.
    Enum(Vec<String>),
}

/// How a field is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// `owner "app"`: one value.
    #[default]
    Scalar,
    /// `privileges "SELECT" "INSERT"`: one or more values, sent as an array.
    List,
    /// `options { KEY "value" }`: free keys, sent as an object.
    Map,
}

/// What changing a field does to the object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// `update` changes it on the object.
    #[default]
    InPlace,
    /// The object is replaced: deleted and created again (`replace`).
    Replace,
}
