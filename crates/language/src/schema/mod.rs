//! What each resource kind accepts: its fields, their types, defaults, and
//! whether a change updates the live object in place or replaces it.
//!
//! The checker validates stack files against these schemas, the plan reads
//! the effects, and `spec/resources.md` is tested against them. Providers of
//! new kinds describe their resources with the same types.

mod builtin;

use crate::model::Condition;

pub use builtin::{REGISTRY_FIELDS, builtin};

/// The kinds a run knows about.
#[derive(Debug, Clone)]
pub struct Schema {
    kinds: Vec<&'static KindSchema>,
    providers: Vec<ProviderSchema>,
}

/// A provider outside the binary (spec/providers.md), as its handshake described it.
#[derive(Debug, Clone)]
pub struct ProviderSchema {
    /// The name of its `provider` block.
    pub name: String,
    /// The fields of its `provider` block.
    pub config: &'static KindSchema,
    /// The kinds it provides, also in [`Schema::kinds`].
    pub kinds: Vec<&'static str>,
}

impl Schema {
    pub fn new(kinds: Vec<&'static KindSchema>) -> Self {
        Schema {
            kinds,
            providers: Vec::new(),
        }
    }

    /// This schema and the kinds of `provider`.
    pub fn with_provider(mut self, provider: ProviderSchema, kinds: &[&'static KindSchema]) -> Self {
        self.kinds.extend_from_slice(kinds);
        self.providers.push(provider);
        self
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderSchema> {
        self.providers.iter().find(|provider| provider.name == name)
    }

    pub fn providers(&self) -> impl Iterator<Item = &ProviderSchema> {
        self.providers.iter()
    }

    pub fn kind(&self, name: &str) -> Option<&'static KindSchema> {
        self.kinds.iter().copied().find(|kind| kind.name == name)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static KindSchema> + '_ {
        self.kinds.iter().copied()
    }
}

/// One resource kind: `network`, `service`, ...
#[derive(Debug)]
pub struct KindSchema {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// What `"${KIND.NAME}"` means in text: the resource's object name, or nothing
    /// when the kind cannot be interpolated (secrets are mounted, never inlined).
    pub interpolates: bool,
    /// What a `Replace` change means for this kind, in the words the docs use:
    /// "replace", "rebuild" (images), "rolls users" (secrets).
    pub on_replace: &'static str,
    /// What a dependent waits for at least, whatever its `depends-on` asks: `Exists` for most
    /// kinds, `Completed` for a kind that runs to completion (a job).
    pub ready: Condition,
}

impl KindSchema {
    /// The kind's own fields followed by those every kind has.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static Field> {
        self.fields.iter().chain(COMMON_FIELDS)
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.all_fields().find(|field| field.name == name)
    }
}

/// A child node of a resource (or of a block inside one).
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub doc: &'static str,
    pub shape: Shape,
    pub repeat: Repeat,
    pub required: bool,
    pub default: Option<&'static str>,
    pub effect: Effect,
}

/// How a field is written.
#[derive(Debug)]
pub enum Shape {
    /// `driver "bridge"`: exactly one argument.
    Scalar(Type),
    /// `command "serve" "--port" "80"`: one or more arguments.
    List(Type),
    /// `env { KEY "value" }`: free keys, each with one argument.
    Map(Type),
    /// `update { order "start-first" }`: a block of named fields.
    Block(&'static [Field]),
    /// `port 8080 target=80` or `network "backend" { aliases "api" }`: an
    /// optional argument (stored under its name), properties and child fields.
    Record {
        arg: Option<Arg>,
        props: &'static [Prop],
        children: &'static [Field],
    },
}

#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    pub ty: Type,
}

#[derive(Debug)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// How often a field may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Once,
    /// Repeatable; the values form a list in file order.
    Many,
}

/// What changing a field does to the live object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    InPlace,
    Replace,
}

impl Effect {
    pub fn describe(self) -> &'static str {
        match self {
            Effect::InPlace => "in place",
            Effect::Replace => "replace",
        }
    }
}

/// The type of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Int,
    Float,
    Bool,
    Duration,
    Size,
    Cidr,
    Ip,
    Port,
    /// A file mode like `0o400`.
    Mode,
    /// A number of replicas, `2`, or a percentage of them, `"25%"`.
    Count,
    /// A path on the host, relative to the file's directory.
    Path,
    Enum(&'static [&'static str]),
    /// The name of a resource of this kind, in the current scope.
    Ref(&'static str),
    /// An image: a literal reference like `"redis:7-alpine"` or `"${image.api}"`.
    Image,
    /// What `depends-on` takes: `"name"` (a service), `"KIND.name"` or `"module.alias"`.
    Dependency,
}

impl Type {
    /// The type with its article, for messages: "an integer", "one of ...".
    pub fn expected(self) -> String {
        match self {
            Type::Enum(_) => format!("one of {}", self.describe()),
            Type::Int | Type::Ip => format!("an {}", self.describe()),
            _ => format!("a {}", self.describe()),
        }
    }

    pub fn describe(self) -> String {
        match self {
            Type::String => "string".to_owned(),
            Type::Int => "integer".to_owned(),
            Type::Float => "number".to_owned(),
            Type::Bool => "boolean".to_owned(),
            Type::Duration => "duration".to_owned(),
            Type::Size => "size".to_owned(),
            Type::Cidr => "CIDR".to_owned(),
            Type::Ip => "IP address".to_owned(),
            Type::Port => "port".to_owned(),
            Type::Mode => "file mode".to_owned(),
            Type::Count => "number of replicas or a percentage".to_owned(),
            Type::Path => "path".to_owned(),
            Type::Enum(options) => options
                .iter()
                .map(|option| format!("\"{option}\""))
                .collect::<Vec<_>>()
                .join(" | "),
            Type::Ref(kind) => format!("{kind} name"),
            Type::Image => "image".to_owned(),
            Type::Dependency => "dependency".to_owned(),
        }
    }
}

macro_rules! field {
    ($name:literal, $shape:expr, $effect:ident, $doc:literal) => {
        $crate::schema::Field {
            name: $name,
            doc: $doc,
            shape: $shape,
            repeat: $crate::schema::Repeat::Once,
            required: false,
            default: None,
            effect: $crate::schema::Effect::$effect,
        }
    };
    ($name:literal, $shape:expr, $effect:ident, default = $default:literal, $doc:literal) => {
        $crate::schema::Field {
            default: Some($default),
            ..field!($name, $shape, $effect, $doc)
        }
    };
    ($name:literal, $shape:expr, $effect:ident, required, $doc:literal) => {
        $crate::schema::Field {
            required: true,
            ..field!($name, $shape, $effect, $doc)
        }
    };
    ($name:literal, $shape:expr, $effect:ident, many, $doc:literal) => {
        $crate::schema::Field {
            repeat: $crate::schema::Repeat::Many,
            ..field!($name, $shape, $effect, $doc)
        }
    };
}
pub(crate) use field;

macro_rules! prop {
    ($name:literal, $ty:expr, $doc:literal) => {
        $crate::schema::Prop {
            name: $name,
            ty: $ty,
            required: false,
            default: None,
            doc: $doc,
        }
    };
    ($name:literal, $ty:expr, default = $default:literal, $doc:literal) => {
        $crate::schema::Prop {
            default: Some($default),
            ..prop!($name, $ty, $doc)
        }
    };
}
pub(crate) use prop;

/// Fields every kind has.
static COMMON_FIELDS: &[Field] = &[
    field!(
        "depends-on",
        Shape::Record {
            arg: Some(Arg {
                name: "target",
                ty: Type::Dependency
            }),
            props: &[prop!(
                "condition",
                Type::Enum(&["started", "healthy", "completed"]),
                default = "started",
                "What the dependency must reach before this resource starts"
            )],
            children: &[],
        },
        InPlace,
        many,
        "A resource that must be ready first; repeatable"
    ),
    field!(
        "prevent-destroy",
        Shape::Scalar(Type::Bool),
        InPlace,
        default = "#false",
        "Plans that would delete or replace this resource fail instead"
    ),
];
