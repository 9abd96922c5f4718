//! The configuration of a resource, as the plan compares it.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stack_language::schema::KindSchema;
use stack_language::{Address, Data, Resource, Value};

/// Field name to setting, in the order of the schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config(pub IndexMap<String, Setting>);

/// One field's value: plain JSON, or a hash standing for a sensitive value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Setting {
    Sensitive { sensitive: String },
    Plain(serde_json::Value),
}

/// Read back as sensitive only what `Setting::sensitive` writes: an object with the single
/// key `sensitive` holding a hash. A map of the user's that happens to have a `sensitive`
/// key stays plain.
impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Some(hash) = sensitive_mark(&value) {
            return Ok(Setting::Sensitive {
                sensitive: hash.to_owned(),
            });
        }
        Ok(Setting::Plain(value))
    }
}

/// The hash a sensitive value stands as, when `value` is one: an object with the single key
/// `sensitive` holding a hash, as a whole [`Setting::Sensitive`] serializes and as one
/// sensitive entry inside a plain value (a key of an `env`) is written.
pub fn sensitive_mark(value: &serde_json::Value) -> Option<&str> {
    let serde_json::Value::Object(map) = value else {
        return None;
    };
    match map.get("sensitive") {
        Some(serde_json::Value::String(hash))
            if map.len() == 1 && (hash.starts_with(SENSITIVE_PREFIX) || hash.starts_with("sha256:")) =>
        {
            Some(hash)
        }
        _ => None,
    }
}

/// A short version of a sensitive value's hash (12 hex digits), which changes when the value
/// does: what a plan shows of a secret's content.
pub fn short_version(hash: &str) -> String {
    let digits = hash.rsplit(':').next().unwrap_or(hash);
    digits.chars().take(12).collect()
}

impl Setting {
    /// A sensitive value, kept only as a hash so changes are seen but the value never is.
    /// `salt` says whose value it is: `stack/address/field` (see [`sensitive_hash`]).
    pub fn sensitive(salt: &str, value: &[u8]) -> Setting {
        Setting::Sensitive {
            sensitive: sensitive_hash(salt, value),
        }
    }

    pub fn is_sensitive(&self) -> bool {
        matches!(self, Setting::Sensitive { .. })
    }

    /// How a message shows it: `(sensitive)` for a sensitive value, and for each sensitive
    /// entry inside a plain one.
    pub fn display(&self) -> String {
        match self {
            Setting::Sensitive { .. } => "(sensitive)".to_owned(),
            Setting::Plain(serde_json::Value::String(text)) => format!("{text:?}"),
            Setting::Plain(value) => masked(value).to_string(),
        }
    }

    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match self {
            Setting::Plain(value) => Some(value),
            Setting::Sensitive { .. } => None,
        }
    }
}

const SENSITIVE_PREFIX: &str = "pbkdf2-sha256:";
/// Rounds of HMAC-SHA256 per sensitive value: a millisecond or so here, and as much for
/// every guess of someone trying words against a hash they read in a label.
const SENSITIVE_ROUNDS: u32 = 4096;

/// How a sensitive value is kept in labels and plans: PBKDF2-HMAC-SHA256 of the value,
/// salted with whose value it is (`stack/address/field`), all 32 bytes, as
/// `pbkdf2-sha256:` and 64 hex digits. Whoever may inspect the daemon's objects reads
/// the labels; a plain hash of a short password would give it away to a dictionary at
/// once. The salt makes every stack and field a search of its own (no table of hashes
/// serves two), and the rounds make each guess cost thousands of hashes. A password of
/// few words is still guessable: give secrets enough entropy.
pub fn sensitive_hash(salt: &str, value: &[u8]) -> String {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(value, salt.as_bytes(), SENSITIVE_ROUNDS, &mut key);
    format!("{SENSITIVE_PREFIX}{}", hex::encode(key))
}

/// `value` with each sensitive entry replaced by the text `(sensitive)`.
fn masked(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    if sensitive_mark(value).is_some() {
        return Json::String("(sensitive)".to_owned());
    }
    match value {
        Json::Array(items) => Json::Array(items.iter().map(masked).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), masked(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A short, stable hash of some bytes, as `sha256:` and 16 hex digits.
pub fn hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("sha256:{}", hex::encode(&digest[..8]))
}

impl Config {
    /// The configuration of `resource` in `stack`: every field it sets, and the
    /// schema's default for those it does not, with references replaced by
    /// `reference` (how the referenced resource reads: a name, a tag) and
    /// sensitive values hashed ([`sensitive_hash`]): a field sensitive as a whole
    /// is a [`Setting::Sensitive`]; in a list or map, only the sensitive entries
    /// are hashed, so a plan shows every other key and element.
    pub fn from_resource(
        resource: &Resource,
        stack: &str,
        reference: impl Fn(&Address) -> Option<String>,
    ) -> Config {
        let mut fields = IndexMap::new();
        for field in resource.kind.all_fields() {
            let salt = || salt(stack, &resource.address, field.name);
            let setting = match resource.fields.get(field.name) {
                Some(value) if value.sensitive => {
                    Setting::sensitive(&salt(), value_json(value, &reference).to_string().as_bytes())
                }
                Some(value) if value.contains_sensitive() => {
                    Setting::Plain(masked_json(value, &reference, &salt()))
                }
                Some(value) => Setting::Plain(value_json(value, &reference)),
                None => match field.default {
                    Some(default) => Setting::Plain(default_json(default)),
                    None => continue,
                },
            };
            fields.insert(field.name.to_owned(), setting);
        }
        Config(fields)
    }

    pub fn get(&self, field: &str) -> Option<&Setting> {
        self.0.get(field)
    }

    /// A hash of the whole configuration.
    pub fn hash(&self) -> String {
        hash(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a configuration a label kept; an unreadable one reads as empty,
    /// so every field shows as changed and the object is brought in line.
    pub fn from_json(text: &str) -> Config {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The fields of `kind` that differ between two configurations.
    pub fn differing<'a>(&'a self, other: &'a Config, kind: &KindSchema) -> Vec<&'a str> {
        let mut names: Vec<&str> = kind.all_fields().map(|field| field.name).collect();
        for name in self.0.keys().chain(other.0.keys()) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
            .into_iter()
            .filter(|name| self.0.get(*name) != other.0.get(*name))
            .collect()
    }
}

/// The salt of a sensitive value: whose value it is.
pub fn salt(stack: &str, address: &Address, field: &str) -> String {
    format!("{stack}/{address}/{field}")
}

/// A value as JSON, with each reference to a resource as `reference` reads it (its name, a tag).
pub fn value_json(value: &Value, reference: &impl Fn(&Address) -> Option<String>) -> serde_json::Value {
    use serde_json::Value as Json;
    match &value.data {
        Data::Null | Data::Unknown | Data::Template(_) => Json::Null,
        Data::Bool(flag) => Json::Bool(*flag),
        Data::Int(number) => Json::from(*number),
        Data::Float(number) => serde_json::Number::from_f64(*number).map_or(Json::Null, Json::Number),
        Data::Str(text) => Json::String(text.clone()),
        Data::List(items) => Json::Array(items.iter().map(|item| value_json(item, reference)).collect()),
        Data::Map(map) => Json::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), value_json(item, reference)))
                .collect(),
        ),
        Data::Ref(address) => Json::String(reference(address).unwrap_or_else(|| address.to_string())),
    }
}

/// [`json`], with each sensitive entry hashed, salted with its path under `salt`
/// (`stack/address/field/KEY`, `.../INDEX`).
fn masked_json(
    value: &Value,
    reference: &impl Fn(&Address) -> Option<String>,
    salt: &str,
) -> serde_json::Value {
    use serde_json::Value as Json;
    if value.sensitive {
        let hash = sensitive_hash(salt, value_json(value, reference).to_string().as_bytes());
        return serde_json::json!({ "sensitive": hash });
    }
    match &value.data {
        Data::List(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| masked_json(item, reference, &format!("{salt}/{index}")))
                .collect(),
        ),
        Data::Map(map) => Json::Object(
            map.iter()
                .map(|(key, item)| {
                    (
                        key.clone(),
                        masked_json(item, reference, &format!("{salt}/{key}")),
                    )
                })
                .collect(),
        ),
        _ => value_json(value, reference),
    }
}

fn default_json(default: &str) -> serde_json::Value {
    match default {
        "#true" => serde_json::Value::Bool(true),
        "#false" => serde_json::Value::Bool(false),
        _ => serde_json::from_str::<serde_json::Number>(default)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|_| serde_json::Value::String(default.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_settings_serialize_as_hashes_only() {
        let setting = Setting::sensitive("shop/secret.token/content", b"hunter2");
        let text = serde_json::to_string(&setting).unwrap_or_default();
        assert!(!text.contains("hunter2"));
        assert!(text.contains("pbkdf2-sha256:"));
        assert_eq!(setting.display(), "(sensitive)");
        let back: Setting = serde_json::from_str(&text).unwrap_or(Setting::Plain(serde_json::Value::Null));
        assert_eq!(back, setting);
    }

    #[test]
    fn only_the_sensitive_entries_of_a_map_are_hashed() {
        let span = stack_diagnostics::Span::file_start(stack_diagnostics::Sources::new().add("x", "x", ""));
        let text = |text: &str| Value::new(Data::Str(text.to_owned()), span);
        let mut token = text("hunter2");
        token.sensitive = true;
        let env = Value::new(
            Data::Map(IndexMap::from([
                ("LOG".to_owned(), text("info")),
                ("TOKEN".to_owned(), token),
            ])),
            span,
        );
        let masked = masked_json(&env, &|_| None, "shop/service.api/env");
        assert_eq!(masked["LOG"], serde_json::json!("info"));
        assert_eq!(
            sensitive_mark(&masked["TOKEN"]),
            Some(sensitive_hash("shop/service.api/env/TOKEN", b"\"hunter2\"").as_str())
        );
        let shown = Setting::Plain(masked).display();
        assert_eq!(shown, r#"{"LOG":"info","TOKEN":"(sensitive)"}"#);
        assert_eq!(short_version("pbkdf2-sha256:0123456789abcdef"), "0123456789ab");
    }

    #[test]
    fn the_same_value_hashes_apart_in_another_stack_or_field() {
        let hash = |salt: &str| sensitive_hash(salt, b"hunter2");
        let token = hash("shop/secret.token/content");
        assert_eq!(token, hash("shop/secret.token/content"));
        assert_ne!(token, hash("blog/secret.token/content"));
        assert_ne!(token, hash("shop/service.api/env"));
        assert_eq!(token.len(), "pbkdf2-sha256:".len() + 64);
    }

    #[test]
    fn configs_round_trip_through_labels() {
        let mut config = Config::default();
        config
            .0
            .insert("replicas".to_owned(), Setting::Plain(serde_json::json!(3)));
        config
            .0
            .insert("env".to_owned(), Setting::Plain(serde_json::json!({"A": "1"})));
        assert_eq!(Config::from_json(&config.to_json()), config);
        assert_eq!(Config::from_json("not json"), Config::default());
    }

    #[test]
    fn a_map_with_a_sensitive_key_stays_plain() {
        let labels = serde_json::json!({"sensitive": "yes", "team": "core"});
        let mut config = Config::default();
        config
            .0
            .insert("labels".to_owned(), Setting::Plain(labels.clone()));
        config.0.insert(
            "only".to_owned(),
            Setting::Plain(serde_json::json!({"sensitive": "yes"})),
        );
        assert_eq!(Config::from_json(&config.to_json()), config);
    }
}
