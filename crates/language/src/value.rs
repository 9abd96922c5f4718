use std::fmt;

use indexmap::IndexMap;
use stack_diagnostics::Span;

use crate::Address;
use crate::template::Template;

/// A value in a stack file, with where it was written.
///
/// Equality ignores spans: two values are equal when they mean the same.
#[derive(Debug, Clone)]
pub struct Value {
    pub data: Data,
    pub span: Span,
    /// Derived from a sensitive variable or secret: never shown, only `(sensitive)`.
    pub sensitive: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(IndexMap<String, Value>),
    /// A reference to another resource, e.g. from `"${network.backend}"`.
    Ref(Address),
    /// A string with `${...}` not yet evaluated.
    Template(Template),
    /// Not known until plan time: derived from a variable that was not set.
    Unknown,
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data && self.sensitive == other.sensitive
    }
}

impl Value {
    pub fn new(data: Data, span: Span) -> Self {
        Value {
            data,
            span,
            sensitive: false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            Data::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.data {
            Data::Int(number) => Some(number),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self.data {
            Data::Float(number) => Some(number),
            Data::Int(number) => Some(number as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.data {
            Data::Bool(flag) => Some(flag),
            _ => None,
        }
    }

    pub fn as_list(&self) -> &[Value] {
        match &self.data {
            Data::List(items) => items,
            _ => std::slice::from_ref(self),
        }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Value>> {
        match &self.data {
            Data::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_ref(&self) -> Option<&Address> {
        match &self.data {
            Data::Ref(address) => Some(address),
            _ => None,
        }
    }

    /// A field of a map value (a block like `probe { ... }`, or a record like `port 80 target=8080`).
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.as_map().and_then(|map| map.get(field))
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self.data, Data::Unknown)
    }

    /// True when this value or anything inside it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        self.sensitive
            || match &self.data {
                Data::List(items) => items.iter().any(Value::contains_sensitive),
                Data::Map(map) => map.values().any(Value::contains_sensitive),
                _ => false,
            }
    }
}

/// Renders a value as it would be written in a stack file; sensitive values as `(sensitive)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sensitive {
            return f.write_str("(sensitive)");
        }
        match &self.data {
            Data::Null => f.write_str("#null"),
            Data::Bool(flag) => write!(f, "#{flag}"),
            Data::Int(number) => write!(f, "{number}"),
            Data::Float(number) => write!(f, "{number:?}"),
            Data::Str(text) => write!(f, "{text:?}"),
            Data::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
            Data::Map(map) => {
                f.write_str("{")?;
                for (key, item) in map {
                    write!(f, " {key}={item};")?;
                }
                f.write_str(" }")
            }
            Data::Ref(address) => write!(f, "{address}"),
            Data::Template(template) => write!(f, "{:?}", template.source()),
            Data::Unknown => f.write_str("(known at plan time)"),
        }
    }
}
