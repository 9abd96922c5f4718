//! What the schema says may be written at a place of a file.

use stack_language::schema::{Field, KindSchema, Schema, Shape, Type};

/// What the nodes of a block may be.
pub enum Nodes {
    /// The top of a file: resource kinds and the language's own nodes.
    TopLevel,
    /// Inside an overlay: the kinds of the resources it changes.
    Kinds,
    /// The fields of a resource or of a block inside one.
    Fields(Vec<&'static Field>),
    /// Free keys (`env { KEY "value" }`), or a place the schema does not describe.
    Free,
}

/// What may be written inside the nodes of `path` (outermost first).
pub fn nodes(schema: &Schema, path: &[String]) -> Nodes {
    let mut names = path.iter().map(String::as_str);
    let kind = match names.next() {
        None => return Nodes::TopLevel,
        Some("overlay") => match names.next() {
            None => return Nodes::Kinds,
            Some(kind) => schema.kind(kind),
        },
        Some(kind) => schema.kind(kind),
    };
    let Some(kind) = kind else { return Nodes::Free };
    let mut fields: Vec<&'static Field> = kind.all_fields().collect();
    for name in names {
        let Some(field) = fields.iter().find(|field| field.name == name) else {
            return Nodes::Free;
        };
        fields = match &field.shape {
            Shape::Block(children) | Shape::Record { children, .. } => children.iter().collect(),
            _ => return Nodes::Free,
        };
    }
    Nodes::Fields(fields)
}

/// The field a node named `name` inside `path` is.
pub fn field(schema: &Schema, path: &[String], name: &str) -> Option<&'static Field> {
    match nodes(schema, path) {
        Nodes::Fields(fields) => fields.into_iter().find(|field| field.name == name),
        _ => None,
    }
}

/// The resource kind whose block `path` is in.
pub fn kind(schema: &Schema, path: &[String]) -> Option<&'static KindSchema> {
    let mut names = path.iter().map(String::as_str);
    match names.next()? {
        "overlay" => schema.kind(names.next()?),
        kind => schema.kind(kind),
    }
}

/// The type of a field's argument number `index`.
pub fn argument_type(field: &Field, index: usize) -> Option<Type> {
    match &field.shape {
        Shape::Scalar(ty) if index == 0 => Some(*ty),
        Shape::List(ty) => Some(*ty),
        Shape::Record { arg: Some(arg), .. } if index == 0 => Some(arg.ty),
        _ => None,
    }
}

/// The type of a field's property `key`.
pub fn property_type(field: &Field, key: &str) -> Option<Type> {
    match &field.shape {
        Shape::Record { props, .. } => props.iter().find(|prop| prop.name == key).map(|prop| prop.ty),
        _ => None,
    }
}

/// A field's shape in words: `integer`, `list of string`, `block`, `port, properties target, protocol`.
pub fn describe(field: &Field) -> String {
    let shape = match &field.shape {
        Shape::Scalar(ty) => ty.describe(),
        Shape::List(ty) => format!("list of {}", ty.describe()),
        Shape::Map(ty) => format!("block of KEY {}", ty.describe()),
        Shape::Block(_) => "block".to_owned(),
        Shape::Record { arg, props, .. } => {
            let mut parts: Vec<String> = arg.iter().map(|arg| arg.ty.describe()).collect();
            if !props.is_empty() {
                let names: Vec<&str> = props.iter().map(|prop| prop.name).collect();
                parts.push(format!("properties {}", names.join(", ")));
            }
            parts.join(", ")
        }
    };
    match field.repeat {
        stack_language::schema::Repeat::Many => format!("{shape}, repeatable"),
        stack_language::schema::Repeat::Once => shape,
    }
}
