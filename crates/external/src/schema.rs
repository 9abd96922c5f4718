//! A provider's handshake, checked and turned into the schemas the checker and the plan use.
//!
//! Schemas are `'static` because the built-in ones are; a provider's are made once per run,
//! when it starts, and live as long as the run.

use stack_language::Condition;
use stack_language::schema::{Effect, Field, KindSchema, Repeat, Shape, Type};
use stack_protocol::{self as protocol, FieldSpec, Handshake, KindSpec, TypeSpec};

/// Fields of every `provider` block, which `stack` reads itself.
pub const BLOCK_FIELDS: &[&str] = &["source", "version", "timeout"];
/// Fields of every resource, which the engine reads itself: providers neither record nor
/// apply them.
pub const ENGINE_FIELDS: &[&str] = &["depends-on", "prevent-destroy"];

/// One kind of a provider.
#[derive(Debug, Clone)]
pub struct Kind {
    pub schema: &'static KindSchema,
    /// The fields whose value is always a secret, whatever it is written with.
    pub sensitive: Vec<&'static str>,
}

/// What a provider's handshake declares.
#[derive(Debug, Clone)]
pub struct Declared {
    pub kinds: Vec<Kind>,
    /// The fields of its `provider` block: `source`, `version`, `timeout`, then its own.
    pub config: Kind,
}

/// Checks the handshake of the provider declared as `name`: every kind and field named
/// properly once, types and defaults that agree. `taken` are the node names already in use
/// (built-in kinds, other providers' kinds, top-level nodes). Every problem is listed.
pub fn declared(name: &str, handshake: &Handshake, taken: &[&str]) -> Result<Declared, Vec<String>> {
    let mut problems = Vec::new();
    if handshake.name != name {
        problems.push(format!(
            "it calls itself `{}`, but is declared as provider `{name}`",
            handshake.name
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut kinds = Vec::new();
    for kind in &handshake.kinds {
        if !stack_language::valid_name(&kind.name) {
            problems.push(format!(
                "kind `{}` is not a valid name: use lowercase letters, digits, `-` and `_`",
                kind.name
            ));
        } else if taken.contains(&kind.name.as_str()) || seen.contains(&kind.name.as_str()) {
            problems.push(format!(
                "kind `{}` is already a node name of the stack",
                kind.name
            ));
        }
        seen.push(&kind.name);
        kinds.extend(convert_kind(kind, &mut problems));
    }
    if handshake.kinds.is_empty() {
        problems.push("it declares no kind".to_owned());
    }
    let block = KindSpec {
        name: "provider".to_owned(),
        doc: format!("The configuration of provider `{name}`"),
        fields: block_fields()
            .into_iter()
            .chain(handshake.config.iter().cloned())
            .collect(),
        ready: "exists".to_owned(),
    };
    let config = convert_kind(&block, &mut problems);
    match config {
        Some(config) if problems.is_empty() => Ok(Declared { kinds, config }),
        _ => Err(problems),
    }
}

/// `source`, `version` and `timeout`, as fields of the block.
fn block_fields() -> Vec<FieldSpec> {
    let field = |name: &str, ty, doc: &str| FieldSpec {
        name: name.to_owned(),
        doc: doc.to_owned(),
        ty,
        shape: protocol::Shape::Scalar,
        required: false,
        default: None,
        effect: protocol::Effect::InPlace,
        sensitive: false,
    };
    vec![
        field(
            "source",
            TypeSpec::String,
            "The provider's executable (default `stack-provider-NAME`), or a path from the stack's directory",
        ),
        field(
            "version",
            TypeSpec::String,
            "The versions accepted: `>=0.1`, `0.2`",
        ),
        field(
            "timeout",
            TypeSpec::Duration,
            "How long a call may take before it fails (default 60s)",
        ),
    ]
}

fn convert_kind(kind: &KindSpec, problems: &mut Vec<String>) -> Option<Kind> {
    let reserved: &[&str] = if kind.name == "provider" {
        &[]
    } else {
        ENGINE_FIELDS
    };
    let mut fields = Vec::new();
    let mut sensitive = Vec::new();
    for field in &kind.fields {
        let before = problems.len();
        let what = format!("field `{}` of `{}`", field.name, kind.name);
        if !valid_field_name(&field.name) {
            problems.push(format!(
                "{what} is not a valid name: use lowercase letters, digits and `-`"
            ));
        }
        if reserved.contains(&field.name.as_str())
            || fields.iter().any(|known: &Field| known.name == field.name)
        {
            problems.push(format!(
                "{what} is declared twice (every kind has `depends-on` and `prevent-destroy`)"
            ));
        }
        if let TypeSpec::Enum(options) = &field.ty
            && options.is_empty()
        {
            problems.push(format!("{what} is an enum without values"));
        }
        if field.required && field.default.is_some() {
            problems.push(format!(
                "{what} is required and has a default: it can only be one"
            ));
        }
        let default = field
            .default
            .as_ref()
            .and_then(|default| match kdl_default(default, &field.ty) {
                Some(text) => Some(text),
                None => {
                    problems.push(format!(
                        "{what} has a default, {default}, that is not a {:?} value",
                        field.ty
                    ));
                    None
                }
            });
        if problems.len() > before {
            continue;
        }
        let name = leak(&field.name);
        if field.sensitive {
            sensitive.push(name);
        }
        fields.push(Field {
            name,
            doc: leak(&field.doc),
            shape: match field.shape {
                protocol::Shape::Scalar => Shape::Scalar(ty(&field.ty)),
                protocol::Shape::List => Shape::List(ty(&field.ty)),
                protocol::Shape::Map => Shape::Map(ty(&field.ty)),
            },
            repeat: Repeat::Once,
            required: field.required,
            default,
            effect: match field.effect {
                protocol::Effect::InPlace => Effect::InPlace,
                protocol::Effect::Replace => Effect::Replace,
            },
        });
    }
    let ready = match kind.ready.as_str() {
        "exists" => Condition::Exists,
        other => Condition::parse(other).unwrap_or_else(|| {
            problems.push(format!(
                "kind `{}` is ready when `{other}`: say `exists`, `started`, `healthy` or `completed`",
                kind.name
            ));
            Condition::Exists
        }),
    };
    let schema: &'static KindSchema = Box::leak(Box::new(KindSchema {
        name: leak(&kind.name),
        doc: leak(&kind.doc),
        fields: fields.leak(),
        interpolates: true,
        on_replace: "replace",
        ready,
    }));
    Some(Kind { schema, sensitive })
}

fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn ty(spec: &TypeSpec) -> Type {
    match spec {
        TypeSpec::String => Type::String,
        TypeSpec::Int => Type::Int,
        TypeSpec::Float => Type::Float,
        TypeSpec::Bool => Type::Bool,
        TypeSpec::Duration => Type::Duration,
        TypeSpec::Size => Type::Size,
        TypeSpec::Path => Type::Path,
        TypeSpec::Enum(options) => {
            let options: Vec<&'static str> = options.iter().map(|option| leak(option)).collect();
            Type::Enum(options.leak())
        }
    }
}

/// A default as the schema writes defaults: as KDL (`#true`, `5`, `text`).
fn kdl_default(default: &serde_json::Value, spec: &TypeSpec) -> Option<&'static str> {
    use serde_json::Value as Json;
    let text = match (default, spec) {
        (Json::Bool(flag), TypeSpec::Bool) => if *flag { "#true" } else { "#false" }.to_owned(),
        (Json::Number(number), TypeSpec::Int) if number.is_i64() => number.to_string(),
        (Json::Number(number), TypeSpec::Float) => number.to_string(),
        (Json::String(text), TypeSpec::Enum(options)) if options.contains(text) => text.clone(),
        (Json::String(text), TypeSpec::String | TypeSpec::Duration | TypeSpec::Size | TypeSpec::Path) => {
            text.clone()
        }
        _ => return None,
    };
    Some(leak(&text))
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(kinds: serde_json::Value) -> Handshake {
        serde_json::from_value(serde_json::json!({
            "protocol_version": 1, "name": "demo", "version": "0.1.0", "kinds": kinds,
            "config": [{"name": "root", "type": "path", "required": true}]
        }))
        .expect("a handshake")
    }

    #[test]
    fn kinds_become_schemas_with_their_effects_defaults_and_secrets() {
        let declared = declared(
            "demo",
            &handshake(serde_json::json!([{"name": "note", "doc": "A note", "fields": [
                {"name": "text", "type": "string", "required": true},
                {"name": "tags", "type": "string", "shape": "list"},
                {"name": "mode", "type": {"enum": ["a", "b"]}, "default": "a", "effect": "replace"},
                {"name": "token", "type": "string", "sensitive": true}
            ]}])),
            &["network"],
        )
        .expect("valid");
        let note = declared.kinds[0].schema;
        assert_eq!(note.name, "note");
        assert!(note.field("text").is_some_and(|field| field.required));
        assert!(matches!(
            note.field("tags").map(|field| &field.shape),
            Some(Shape::List(Type::String))
        ));
        let mode = note.field("mode").expect("mode");
        assert_eq!((mode.default, mode.effect), (Some("a"), Effect::Replace));
        assert_eq!(declared.kinds[0].sensitive, ["token"]);
        let block: Vec<&str> = declared
            .config
            .schema
            .fields
            .iter()
            .map(|field| field.name)
            .collect();
        assert_eq!(block, ["source", "version", "timeout", "root"]);
    }

    #[test]
    fn every_problem_of_a_handshake_is_listed() {
        let problems = declared(
            "other",
            &handshake(serde_json::json!([
                {"name": "network"},
                {"name": "Bad"},
                {"name": "note", "ready": "soon", "fields": [
                    {"name": "depends-on", "type": "string"},
                    {"name": "size", "type": "int", "default": "big"},
                    {"name": "kind", "type": {"enum": []}},
                    {"name": "x", "type": "int", "required": true, "default": 1}
                ]}
            ])),
            &["network"],
        )
        .expect_err("invalid");
        let expected = [
            "calls itself `demo`",
            "kind `network` is already",
            "kind `Bad` is not a valid name",
            "`depends-on` of `note` is declared twice",
            "`size` of `note` has a default, \"big\"",
            "enum without values",
            "required and has a default",
            "ready when `soon`",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, expected) in problems.iter().zip(expected) {
            assert!(problem.contains(expected), "{problem} should say {expected}");
        }
    }
}
