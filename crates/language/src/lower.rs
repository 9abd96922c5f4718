//! From KDL documents to declarations, checked against the schema.
//!
//! Lowering checks the shape of every node (known names, number of values,
//! properties, required fields, duplicates); types are checked after
//! evaluation, when interpolated values are known too.

use std::path::Path;

use indexmap::IndexMap;
use indexmap::map::Entry;
use kdl::{KdlDocument, KdlEntry, KdlIdentifier, KdlNode, KdlValue};
use stack_diagnostics::{Diagnostic, FileId, Span};

use crate::decl::{
    OutputDecl, OverlayDecl, OverlayTarget, ProviderDecl, RegistryDecl, ResourceDecl, Rule, Unit, UseDecl,
    VariableDecl, VariableType,
};
use crate::schema::{Field, KindSchema, REGISTRY_FIELDS, Repeat, Schema, Shape};
use crate::suggest::did_you_mean;
use crate::template::Template;
use crate::variables::coerce;
use crate::{Data, Target, Value};

/// The nodes of the language itself, beside resources, at the top of a stack's file.
pub const TOP_LEVEL: &[&str] = &[
    "stack", "variable", "overlay", "use", "output", "registry", "provider",
];
const IN_MODULE: &[&str] = &["variable", "use", "output"];

/// Names of resources and stacks: they become parts of object and host names.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 63
}

/// Lowers one parsed file into `unit`, adding every problem to `diagnostics`.
pub struct Lowerer<'a> {
    pub file: FileId,
    pub text: &'a str,
    pub dir: &'a Path,
    pub schema: &'a Schema,
    pub in_module: bool,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl Lowerer<'_> {
    pub fn lower(&mut self, document: &KdlDocument, unit: &mut Unit) {
        self.reject_annotations(document);
        for node in document.nodes() {
            let name = node.name().value();
            match name {
                "stack" if !self.in_module => self.lower_stack(node, unit),
                "variable" => self.lower_variable(node, unit),
                "overlay" if !self.in_module => self.lower_overlay(node, unit),
                "use" => self.lower_use(node, unit),
                "output" => self.lower_output(node, unit),
                "registry" if !self.in_module => self.lower_registry(node, unit),
                "provider" if !self.in_module => self.lower_provider(node, unit),
                "stack" | "overlay" | "registry" | "provider" => self.error(
                    Diagnostic::error(
                        "stack::not_allowed_in_module",
                        format!("a module cannot declare `{name}`"),
                    )
                    .primary(self.ident_span(node.name()), "not allowed in a module")
                    .help(match name {
                        "stack" => "the stack's name belongs to the stack that uses the module",
                        "registry" => "registry credentials belong to the stack that uses the module: declare the `registry` there",
                        "provider" => "providers are declared by the stack that uses the module",
                        _ => {
                            "environments are chosen by the stack: pass values through the module's variables"
                        }
                    }),
                ),
                _ => match self.schema.kind(name) {
                    Some(kind) => self.lower_resource(node, kind, unit),
                    None => {
                        let top = if self.in_module { IN_MODULE } else { TOP_LEVEL };
                        let candidates: Vec<&str> = top
                            .iter()
                            .copied()
                            .chain(self.schema.kinds().map(|k| k.name))
                            .collect();
                        self.error(
                            Diagnostic::error("stack::unknown_node", format!("unknown node `{name}`"))
                                .primary(
                                    self.ident_span(node.name()),
                                    "not a resource kind or top-level node",
                                )
                                .help(did_you_mean(name, "node", candidates.iter().copied())),
                        );
                    }
                },
            }
        }
    }

    /// KDL type annotations like `(u8)3` mean nothing to stack: say so rather than ignore them.
    fn reject_annotations(&mut self, document: &KdlDocument) {
        for node in document.nodes() {
            let annotations = node
                .ty()
                .into_iter()
                .chain(node.entries().iter().filter_map(KdlEntry::ty));
            for annotation in annotations {
                self.error(
                    Diagnostic::error(
                        "stack::invalid_value",
                        "type annotations are not used in stack files",
                    )
                    .primary(self.ident_span(annotation), "this annotation would be ignored")
                    .help("remove the `(...)` before the name or value"),
                );
            }
            if let Some(children) = node.children() {
                self.reject_annotations(children);
            }
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn span(&self, range: miette::SourceSpan) -> Span {
        Span::from_miette(self.file, range)
    }

    fn ident_span(&self, ident: &KdlIdentifier) -> Span {
        self.span(ident.span())
    }

    /// The span of an entry's value, without the whitespace and comments kdl includes.
    fn entry_span(&self, entry: &KdlEntry) -> Span {
        let span = self.span(entry.span());
        let slice = self.text.get(span.range()).unwrap_or("").trim_end();
        let repr = entry
            .format()
            .map(|format| format.value_repr.as_str())
            .unwrap_or("");
        if !repr.is_empty() && slice.ends_with(repr) {
            let end = span.start as usize + slice.len();
            return Span::new(self.file, end - repr.len()..end);
        }
        let trimmed = slice.trim_start();
        let start = span.start as usize + (slice.len() - trimmed.len());
        Span::new(self.file, start..start + trimmed.len())
    }

    fn arguments<'n>(&self, node: &'n KdlNode) -> Vec<&'n KdlEntry> {
        node.entries()
            .iter()
            .filter(|entry| entry.name().is_none())
            .collect()
    }

    fn properties<'n>(&self, node: &'n KdlNode) -> Vec<&'n KdlEntry> {
        node.entries()
            .iter()
            .filter(|entry| entry.name().is_some())
            .collect()
    }

    fn value(&mut self, entry: &KdlEntry) -> Option<Value> {
        let span = self.entry_span(entry);
        let data = match entry.value() {
            KdlValue::String(text) => {
                let source = self.text.get(span.range()).unwrap_or("");
                match Template::parse(text, span, source) {
                    Ok(Some(template)) => Data::Template(template),
                    Ok(None) => Data::Str(text.clone()),
                    Err(diagnostic) => {
                        self.error(diagnostic);
                        return None;
                    }
                }
            }
            KdlValue::Integer(number) => match i64::try_from(*number) {
                Ok(number) => Data::Int(number),
                Err(_) => {
                    self.error(
                        Diagnostic::error("stack::invalid_value", "this number is too large")
                            .primary(span, "does not fit in 64 bits"),
                    );
                    return None;
                }
            },
            KdlValue::Float(number) => Data::Float(*number),
            KdlValue::Bool(flag) => Data::Bool(*flag),
            KdlValue::Null => {
                self.error(
                    Diagnostic::error("stack::invalid_value", "`#null` is not a value stack accepts")
                        .primary(span, "a null value")
                        .help("to leave a field at its default, remove the line"),
                );
                return None;
            }
        };
        Some(Value::new(data, span))
    }

    /// A node's single string argument (a name, a path), or a diagnostic.
    fn name_argument(&mut self, node: &KdlNode, what: &str) -> Option<(String, Span)> {
        let arguments = self.arguments(node);
        let node_name = node.name().value();
        match arguments.as_slice() {
            [entry] => match entry.value() {
                KdlValue::String(text) => Some((text.clone(), self.entry_span(entry))),
                _ => {
                    self.error(
                        Diagnostic::error(
                            "stack::invalid_value",
                            format!("the {what} of a `{node_name}` must be a string"),
                        )
                        .primary(self.entry_span(entry), "not a string"),
                    );
                    None
                }
            },
            [] => {
                self.error(
                    Diagnostic::error(
                        "stack::missing_field",
                        format!("this `{node_name}` has no {what}"),
                    )
                    .primary(self.ident_span(node.name()), format!("{what} missing"))
                    .help(format!("write it after the node name: {node_name} \"...\"")),
                );
                None
            }
            [_, extra, ..] => {
                self.error(
                    Diagnostic::error(
                        "stack::invalid_value",
                        format!("a `{node_name}` takes exactly one {what}"),
                    )
                    .primary(self.entry_span(extra), "unexpected value"),
                );
                None
            }
        }
    }

    fn resource_name(&mut self, node: &KdlNode) -> Option<(String, Span)> {
        let (name, span) = self.name_argument(node, "name")?;
        if !valid_name(&name) {
            self.error(
                Diagnostic::error("stack::invalid_name", format!("`{name}` is not a valid name"))
                    .primary(span, "invalid name")
                    .help("names use lowercase letters, digits, `-` and `_`, start with a letter or digit, and have at most 63 characters: they become object and host names"),
            );
            return None;
        }
        Some((name, span))
    }

    fn reject_properties(&mut self, node: &KdlNode, allowed: &[&str]) {
        for entry in self.properties(node) {
            let Some(key) = entry.name() else { continue };
            if !allowed.contains(&key.value()) {
                let message = if allowed.is_empty() {
                    format!("`{}` takes no properties", node.name().value())
                } else {
                    did_you_mean(key.value(), "property", allowed.iter().copied())
                };
                self.error(
                    Diagnostic::error(
                        "stack::unknown_property",
                        format!("unknown property `{}`", key.value()),
                    )
                    .primary(self.ident_span(key), "not a property of this node")
                    .help(message),
                );
            }
        }
    }

    fn reject_children(&mut self, node: &KdlNode) {
        if let Some(children) = node.children() {
            self.error(
                Diagnostic::error(
                    "stack::invalid_value",
                    format!("`{}` takes no block", node.name().value()),
                )
                .primary(self.span(children.span()), "unexpected block")
                .help("remove the braces and what is inside them"),
            );
        }
    }

    fn lower_stack(&mut self, node: &KdlNode, unit: &mut Unit) {
        self.reject_properties(node, &[]);
        self.reject_children(node);
        let Some((name, span)) = self.name_argument(node, "name") else {
            return;
        };
        if !valid_name(&name) {
            self.error(
                Diagnostic::error("stack::invalid_name", format!("`{name}` is not a valid stack name"))
                    .primary(span, "invalid name")
                    .help("stack names use lowercase letters, digits, `-` and `_`: they prefix every object on the daemon"),
            );
            return;
        }
        match &unit.stack_name {
            Some((_, first)) => {
                let first = *first;
                self.error(
                    Diagnostic::error("stack::duplicate_name", "the stack is named twice")
                        .primary(span, "second name")
                        .secondary(first, "first named here")
                        .help("keep one `stack` node"),
                );
            }
            None => unit.stack_name = Some((name, span)),
        }
    }

    /// A `provider` block: where to find the provider, kept as written so that it can be
    /// started before its kinds are known, and, once its schema is known, its configuration,
    /// lowered as a resource of kind `provider`.
    fn lower_provider(&mut self, node: &KdlNode, unit: &mut Unit) {
        let Some((name, name_span)) = self.resource_name(node) else {
            return;
        };
        let literal = |field: &str| {
            let child = node
                .children()?
                .nodes()
                .iter()
                .find(|child| child.name().value() == field)?;
            let entry = child.entries().iter().find(|entry| entry.name().is_none())?;
            let text = entry.value().as_string()?.to_owned();
            Some((text, self.entry_span(entry)))
        };
        let decl = ProviderDecl {
            name: name.clone(),
            name_span,
            dir: self.dir.to_path_buf(),
            source: literal("source"),
            version: literal("version"),
            timeout: literal("timeout"),
        };
        if let Some(provider) = self.schema.provider(&name) {
            self.lower_resource(node, provider.config, unit);
        }
        unit.providers.entry(name).or_insert(decl);
    }

    fn lower_resource(&mut self, node: &KdlNode, kind: &'static KindSchema, unit: &mut Unit) {
        self.reject_properties(node, &[]);
        let Some((name, name_span)) = self.resource_name(node) else {
            return;
        };
        let fields = self.lower_block(node, FieldSet::Kind(kind), true);
        let key = (kind.name, name.clone());
        if let Some(first) = unit.resources.get(&key) {
            let first = first.name_span;
            self.error(
                Diagnostic::error(
                    "stack::duplicate_name",
                    format!("{} `{name}` is declared twice", kind.name),
                )
                .primary(name_span, "declared again here")
                .secondary(first, "first declared here")
                .help("rename one of them, or merge them into one declaration"),
            );
            return;
        }
        unit.resources.insert(
            key,
            ResourceDecl {
                kind,
                name_span,
                dir: self.dir.to_path_buf(),
                fields,
            },
        );
    }

    /// Lowers the children of `node` as the fields of `set`.
    fn lower_block(
        &mut self,
        node: &KdlNode,
        set: FieldSet,
        check_required: bool,
    ) -> IndexMap<String, Value> {
        let mut fields: IndexMap<String, Value> = IndexMap::new();
        let mut first_spans: IndexMap<&str, Span> = IndexMap::new();
        let mut present: Vec<&str> = Vec::new();
        for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
            let field_name = child.name().value();
            let Some(field) = set.field(field_name) else {
                self.unknown_field(child, &set);
                continue;
            };
            let span = self.ident_span(child.name());
            // Written, even if wrongly: not also "missing".
            present.push(field.name);
            let Some(value) = self.lower_field(child, field, check_required) else {
                continue;
            };
            match (field.repeat, fields.entry(field.name.to_owned())) {
                (Repeat::Many, Entry::Occupied(mut list)) => {
                    if let Data::List(items) = &mut list.get_mut().data {
                        items.push(value);
                    }
                }
                (Repeat::Many, Entry::Vacant(slot)) => {
                    first_spans.insert(field.name, span);
                    slot.insert(Value::new(Data::List(vec![value]), span));
                }
                (Repeat::Once, Entry::Occupied(_)) => {
                    let first = first_spans.get(field.name).copied().unwrap_or(span);
                    self.error(
                        Diagnostic::error("stack::duplicate_field", format!("`{field_name}` is set twice"))
                            .primary(span, "set again here")
                            .secondary(first, "first set here")
                            .help(format!("`{field_name}` takes one value: keep one line")),
                    );
                }
                (Repeat::Once, Entry::Vacant(slot)) => {
                    first_spans.insert(field.name, span);
                    slot.insert(value);
                }
            }
        }
        if check_required {
            let missing: Vec<&str> = set
                .fields()
                .filter(|f| f.required && !present.contains(&f.name))
                .map(|f| f.name)
                .collect();
            for name in missing {
                self.error(
                    Diagnostic::error(
                        "stack::missing_field",
                        format!("{} has no `{name}`", set.describe(node)),
                    )
                    .primary(self.node_label_span(node), format!("`{name}` is required"))
                    .help(format!("add `{name}` inside the block")),
                );
            }
        }
        fields
    }

    /// Where to point for a whole node: its name argument if it has one, else its name.
    fn node_label_span(&self, node: &KdlNode) -> Span {
        self.arguments(node)
            .first()
            .map(|entry| self.entry_span(entry))
            .unwrap_or_else(|| self.ident_span(node.name()))
    }

    fn unknown_field(&mut self, child: &KdlNode, set: &FieldSet) {
        let name = child.name().value();
        let span = self.ident_span(child.name());
        if matches!(set, FieldSet::Kind(kind) if kind.name == "secret")
            && ["value", "content", "literal", "data", "password", "text"].contains(&name)
        {
            self.error(
                Diagnostic::error("stack::literal_secret", "a secret cannot hold a literal value")
                    .primary(span, "the value would be committed with the file")
                    .help("read it at plan time instead: `from-env \"NAME\"`, `from-file \"/path/outside/the/repo\"` or `from-command \"program\" \"arg\"`"),
            );
            return;
        }
        let names: Vec<&str> = set.fields().map(|field| field.name).collect();
        self.error(
            Diagnostic::error(
                "stack::unknown_field",
                format!("unknown field `{name}` in {}", set.describe_kind()),
            )
            .primary(span, "unknown field")
            .help(did_you_mean(name, "field", names.iter().copied())),
        );
    }

    fn lower_field(&mut self, node: &KdlNode, field: &'static Field, check_required: bool) -> Option<Value> {
        let span = self.ident_span(node.name());
        let name = field.name;
        match &field.shape {
            Shape::Scalar(_) | Shape::List(_) => {
                self.reject_properties(node, &[]);
                self.reject_children(node);
                let arguments = self.arguments(node);
                let values: Vec<Value> = arguments.iter().filter_map(|entry| self.value(entry)).collect();
                if values.len() != arguments.len() {
                    return None;
                }
                let scalar = matches!(field.shape, Shape::Scalar(_));
                match values.len() {
                    0 => {
                        self.error(
                            Diagnostic::error("stack::invalid_value", format!("`{name}` has no value"))
                                .primary(span, "value missing")
                                .help(format!("write the value after the name: {name} ...")),
                        );
                        None
                    }
                    1 if scalar => values.into_iter().next(),
                    _ if scalar => {
                        self.error(
                            Diagnostic::error(
                                "stack::invalid_value",
                                format!("`{name}` takes exactly one value"),
                            )
                            .primary(values[1].span, "unexpected value")
                            .help("to pass several words as one value, quote them as one string"),
                        );
                        None
                    }
                    _ => Some(Value::new(Data::List(values), span)),
                }
            }
            Shape::Map(_) => {
                self.reject_properties(node, &[]);
                self.reject_arguments(node, "a block of `KEY value` lines");
                let mut map: IndexMap<String, Value> = IndexMap::new();
                let mut key_spans: IndexMap<String, Span> = IndexMap::new();
                for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
                    let key = child.name().value().to_owned();
                    let key_span = self.ident_span(child.name());
                    self.reject_properties(child, &[]);
                    self.reject_children(child);
                    let arguments = self.arguments(child);
                    let [entry] = arguments.as_slice() else {
                        self.error(
                            Diagnostic::error(
                                "stack::invalid_value",
                                format!("`{key}` in `{name}` needs exactly one value"),
                            )
                            .primary(key_span, "one value expected")
                            .help(format!("write `{key} \"value\"`")),
                        );
                        continue;
                    };
                    let Some(value) = self.value(entry) else { continue };
                    if let Some(first) = key_spans.get(&key) {
                        let first = *first;
                        self.error(
                            Diagnostic::error(
                                "stack::duplicate_field",
                                format!("`{key}` is set twice in `{name}`"),
                            )
                            .primary(key_span, "set again here")
                            .secondary(first, "first set here"),
                        );
                        continue;
                    }
                    key_spans.insert(key.clone(), key_span);
                    map.insert(key, value);
                }
                Some(Value::new(Data::Map(map), span))
            }
            Shape::Block(fields) => {
                self.reject_properties(node, &[]);
                self.reject_arguments(node, "a block of fields");
                let map = self.lower_block(node, FieldSet::Block(name, fields), check_required);
                Some(Value::new(Data::Map(map), span))
            }
            Shape::Record { arg, props, children } => {
                let mut map: IndexMap<String, Value> = IndexMap::new();
                let arguments = self.arguments(node);
                match (arg, arguments.as_slice()) {
                    (Some(arg), [entry]) => map.insert(arg.name.to_owned(), self.value(entry)?),
                    (Some(arg), []) => {
                        self.error(
                            Diagnostic::error(
                                "stack::invalid_value",
                                format!("`{name}` has no {}", arg.name),
                            )
                            .primary(span, "value missing")
                            .help(format!("write it after the name: {name} ...")),
                        );
                        return None;
                    }
                    (Some(_), [_, extra, ..]) => {
                        self.error(
                            Diagnostic::error(
                                "stack::invalid_value",
                                format!("`{name}` takes exactly one value"),
                            )
                            .primary(self.entry_span(extra), "unexpected value")
                            .help("other settings are properties, like `target=80`"),
                        );
                        return None;
                    }
                    (None, _) => {
                        self.reject_arguments(node, "properties only");
                        None
                    }
                };
                let prop_names: Vec<&str> = props.iter().map(|prop| prop.name).collect();
                self.reject_properties(node, &prop_names);
                for entry in self.properties(node) {
                    let Some(key) = entry.name() else { continue };
                    if !prop_names.contains(&key.value()) {
                        continue;
                    }
                    if map.contains_key(key.value()) {
                        self.error(
                            Diagnostic::error(
                                "stack::duplicate_field",
                                format!("`{}` is set twice", key.value()),
                            )
                            .primary(self.ident_span(key), "set again here"),
                        );
                        continue;
                    }
                    if let Some(value) = self.value(entry) {
                        map.insert(key.value().to_owned(), value);
                    }
                }
                for prop in props
                    .iter()
                    .filter(|prop| prop.required && !map.contains_key(prop.name))
                {
                    self.error(
                        Diagnostic::error("stack::missing_field", format!("`{name}` has no `{}`", prop.name))
                            .primary(span, format!("`{}=` is required", prop.name))
                            .help(format!("add it as a property: {name} ... {}=...", prop.name)),
                    );
                }
                if children.is_empty() {
                    self.reject_children(node);
                } else {
                    let block = self.lower_block(node, FieldSet::Block(name, children), check_required);
                    map.extend(block);
                }
                Some(Value::new(Data::Map(map), span))
            }
        }
    }

    fn reject_arguments(&mut self, node: &KdlNode, expected: &str) {
        if let Some(entry) = self.arguments(node).first() {
            self.error(
                Diagnostic::error(
                    "stack::invalid_value",
                    format!("`{}` takes no values", node.name().value()),
                )
                .primary(self.entry_span(entry), "unexpected value")
                .help(format!("`{}` takes {expected}", node.name().value())),
            );
        }
    }

    fn lower_variable(&mut self, node: &KdlNode, unit: &mut Unit) {
        self.reject_properties(node, &["type", "default", "description", "sensitive"]);
        let Some((name, name_span)) = self.name_argument(node, "name") else {
            return;
        };
        let mut ty = VariableType::String;
        let mut description = None;
        let mut sensitive = false;
        let mut default_entry = None;
        for entry in self.properties(node) {
            let Some(key) = entry.name() else { continue };
            match (key.value(), entry.value()) {
                ("type", KdlValue::String(type_name)) => match VariableType::parse(type_name) {
                    Some(parsed) => ty = parsed,
                    None => self.error(
                        Diagnostic::error(
                            "stack::invalid_value",
                            format!("unknown variable type `{type_name}`"),
                        )
                        .primary(self.entry_span(entry), "not a type")
                        .help(did_you_mean(
                            type_name,
                            "type",
                            VariableType::NAMES.iter().copied(),
                        )),
                    ),
                },
                ("description", KdlValue::String(text)) => description = Some(text.clone()),
                ("sensitive", KdlValue::Bool(flag)) => sensitive = *flag,
                ("default", _) => default_entry = Some(entry),
                (key, _) => {
                    let expected = if key == "sensitive" {
                        "#true or #false"
                    } else {
                        "a string"
                    };
                    self.error(
                        Diagnostic::error(
                            "stack::invalid_value",
                            format!("`{key}` of a variable must be {expected}"),
                        )
                        .primary(self.entry_span(entry), "wrong type"),
                    );
                }
            }
        }
        let mut default = None;
        if let Some(entry) = default_entry {
            let span = self.entry_span(entry);
            if let Some(value) = self.value(entry) {
                if sensitive {
                    self.error(
                        Diagnostic::error("stack::literal_secret", format!("sensitive variable `{name}` has a literal default"))
                            .primary(span, "this value would be committed with the file")
                            .help(format!("remove the default and set it at plan time: --var {name}=..., STACK_VAR_{} or --var-file", env_name(&name))),
                    );
                } else if matches!(value.data, Data::Template(_)) {
                    self.error(
                        Diagnostic::error("stack::invalid_value", "a variable's default cannot use `${...}`")
                            .primary(span, "interpolation in a default")
                            .help("defaults are literal values; compute derived values where the variable is used"),
                    );
                } else {
                    match coerce(ty, value) {
                        Ok(value) => default = Some(value),
                        Err(message) => self.error(
                            Diagnostic::error(
                                "stack::invalid_value",
                                format!("the default of `{name}` does not fit its type"),
                            )
                            .primary(span, message),
                        ),
                    }
                }
            }
        }
        if let VariableType::Resource(kind) = ty
            && !self.in_module
        {
            self.error(
                Diagnostic::error(
                    "stack::invalid_value",
                    format!("variables of type {kind} belong in modules"),
                )
                .primary(name_span, "a stack's own variables hold values, not resources")
                .help(format!(
                    "refer to the {kind} directly by its name, or move this variable into a module"
                )),
            );
        }
        let mut rules = Vec::new();
        for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
            if let Some(rule) = self.lower_rule(child, &mut description) {
                let fits = match &rule {
                    Rule::Min(..) | Rule::Max(..) => matches!(ty, VariableType::Int | VariableType::Float),
                    Rule::OneOf(..) | Rule::Pattern { .. } => ty == VariableType::String,
                };
                if fits {
                    rules.push(rule);
                } else {
                    self.error(
                        Diagnostic::error(
                            "stack::invalid_value",
                            format!(
                                "`{}` does not apply to a {} variable",
                                child.name().value(),
                                crate::variables::type_name(ty)
                            ),
                        )
                        .primary(self.ident_span(child.name()), "rule for another type")
                        .help("min and max check numbers; one-of and pattern check strings"),
                    );
                }
            }
        }
        if let Some(value) = &default {
            // Checked once here, for stacks and modules alike.
            self.diagnostics.extend(crate::variables::check_rules_of(
                &name, sensitive, &rules, value, value.span,
            ));
            if let VariableType::Resource(kind) = ty {
                self.error(
                    Diagnostic::error(
                        "stack::invalid_value",
                        format!("a variable of type {kind} has no default"),
                    )
                    .primary(value.span, "a resource is passed by the caller")
                    .help("remove the default: callers name the resource in their `use` block"),
                );
                default = None;
            }
        }
        let declaration = VariableDecl {
            name: name.clone(),
            name_span,
            ty,
            default,
            description,
            sensitive,
            rules,
        };
        if let Some(first) = unit.variables.get(&name) {
            let first = first.name_span;
            self.error(
                Diagnostic::error(
                    "stack::duplicate_name",
                    format!("variable `{name}` is declared twice"),
                )
                .primary(name_span, "declared again here")
                .secondary(first, "first declared here"),
            );
            return;
        }
        unit.variables.insert(name, declaration);
    }

    fn lower_rule(&mut self, node: &KdlNode, description: &mut Option<String>) -> Option<Rule> {
        let span = self.ident_span(node.name());
        let rule_name = node.name().value();
        self.reject_children(node);
        let arguments = self.arguments(node);
        let strings: Vec<String> = arguments
            .iter()
            .filter_map(|entry| entry.value().as_string().map(str::to_owned))
            .collect();
        let number = match arguments.as_slice() {
            [entry] => entry
                .value()
                .as_float()
                .or_else(|| entry.value().as_integer().map(|n| n as f64)),
            _ => None,
        };
        let wrong = |what: &str| {
            Diagnostic::error("stack::invalid_value", format!("`{rule_name}` takes {what}"))
                .primary(span, "invalid rule")
        };
        match rule_name {
            "min" | "max" => {
                self.reject_properties(node, &[]);
                let Some(number) = number else {
                    self.error(wrong("one number"));
                    return None;
                };
                Some(if rule_name == "min" {
                    Rule::Min(number, span)
                } else {
                    Rule::Max(number, span)
                })
            }
            "one-of" => {
                self.reject_properties(node, &[]);
                if strings.is_empty() || strings.len() != arguments.len() {
                    self.error(wrong("one or more strings"));
                    return None;
                }
                Some(Rule::OneOf(strings, span))
            }
            "pattern" => {
                self.reject_properties(node, &["message"]);
                let [pattern] = strings.as_slice() else {
                    self.error(wrong("one regular expression"));
                    return None;
                };
                let message = node
                    .get("message")
                    .and_then(KdlValue::as_string)
                    .map(str::to_owned);
                match regex::Regex::new(pattern) {
                    Ok(regex) => Some(Rule::Pattern { regex, message, span }),
                    Err(error) => {
                        self.error(
                            Diagnostic::error("stack::invalid_value", "invalid regular expression")
                                .primary(span, error.to_string()),
                        );
                        None
                    }
                }
            }
            "description" => {
                self.reject_properties(node, &[]);
                match strings.as_slice() {
                    [text] => *description = Some(text.clone()),
                    _ => self.error(wrong("one string")),
                }
                None
            }
            other => {
                self.error(
                    Diagnostic::error(
                        "stack::unknown_field",
                        format!("unknown field `{other}` in variable"),
                    )
                    .primary(span, "unknown field")
                    .help(did_you_mean(
                        other,
                        "field",
                        ["min", "max", "one-of", "pattern", "description"],
                    )),
                );
                None
            }
        }
    }

    fn lower_overlay(&mut self, node: &KdlNode, unit: &mut Unit) {
        self.reject_properties(node, &[]);
        let mut environments = Vec::new();
        for entry in self.arguments(node) {
            match entry.value() {
                KdlValue::String(name) => environments.push((name.clone(), self.entry_span(entry))),
                _ => self.error(
                    Diagnostic::error("stack::invalid_value", "environment names are strings")
                        .primary(self.entry_span(entry), "not a string"),
                ),
            }
        }
        if environments.is_empty() {
            self.error(
                Diagnostic::error("stack::missing_field", "this overlay names no environment")
                    .primary(self.ident_span(node.name()), "environment missing")
                    .help("name the environments it applies to: overlay \"production\" { ... }"),
            );
            return;
        }
        let mut targets = Vec::new();
        let mut target = None;
        for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
            let kind_name = child.name().value();
            if kind_name == "target" {
                self.lower_target(child, &mut target);
                continue;
            }
            let Some(kind) = self.schema.kind(kind_name) else {
                let kinds: Vec<&str> = self.schema.kinds().map(|kind| kind.name).collect();
                self.error(
                    Diagnostic::error(
                        "stack::unknown_node",
                        format!("`{kind_name}` is not a resource kind"),
                    )
                    .primary(self.ident_span(child.name()), "an overlay changes resources")
                    .help(did_you_mean(kind_name, "kind", kinds.iter().copied())),
                );
                continue;
            };
            self.reject_properties(child, &[]);
            let Some((name, name_span)) = self.resource_name(child) else {
                continue;
            };
            let fields = self.lower_block(child, FieldSet::Kind(kind), false);
            targets.push(OverlayTarget {
                kind,
                name,
                name_span,
                fields,
            });
        }
        unit.overlays.push(OverlayDecl {
            environments,
            target,
            targets,
        });
    }

    /// `target "swarm"` in an overlay: once, and one of the targets.
    fn lower_target(&mut self, node: &KdlNode, target: &mut Option<(Target, Span)>) {
        self.reject_properties(node, &[]);
        let Some((name, span)) = self.name_argument(node, "target") else {
            return;
        };
        let Some(parsed) = Target::parse(&name) else {
            self.error(
                Diagnostic::error("stack::invalid_value", format!("`{name}` is not a target"))
                    .primary(span, "unknown target")
                    .help(did_you_mean(&name, "target", Target::NAMES.iter().copied())),
            );
            return;
        };
        if let Some((_, first)) = target {
            self.error(
                Diagnostic::error("stack::duplicate_field", "this overlay sets `target` twice")
                    .primary(span, "set again here")
                    .secondary(*first, "first set here")
                    .help("keep one `target` per overlay"),
            );
            return;
        }
        *target = Some((parsed, span));
    }

    fn lower_use(&mut self, node: &KdlNode, unit: &mut Unit) {
        self.reject_properties(node, &["as"]);
        let Some((source, source_span)) = self.name_argument(node, "module path") else {
            return;
        };
        let (alias, alias_span) = match node
            .entries()
            .iter()
            .find(|entry| entry.name().is_some_and(|key| key.value() == "as"))
        {
            Some(entry) => match entry.value() {
                KdlValue::String(alias) => (alias.clone(), self.entry_span(entry)),
                _ => {
                    self.error(
                        Diagnostic::error("stack::invalid_value", "`as` must be a string")
                            .primary(self.entry_span(entry), "not a string"),
                    );
                    return;
                }
            },
            None => {
                let last = source
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or(&source)
                    .to_owned();
                (last, source_span)
            }
        };
        if !valid_name(&alias) {
            self.error(
                Diagnostic::error(
                    "stack::invalid_name",
                    format!("`{alias}` is not a valid module name"),
                )
                .primary(alias_span, "invalid name")
                .help("name the module call with as=\"...\": lowercase letters, digits, `-` and `_`"),
            );
            return;
        }
        let mut arguments: IndexMap<String, (Span, Value)> = IndexMap::new();
        for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
            let key = child.name().value().to_owned();
            let key_span = self.ident_span(child.name());
            self.reject_properties(child, &[]);
            self.reject_children(child);
            let values = self.arguments(child);
            let [entry] = values.as_slice() else {
                self.error(
                    Diagnostic::error(
                        "stack::invalid_value",
                        format!("module parameter `{key}` needs exactly one value"),
                    )
                    .primary(key_span, "one value expected"),
                );
                continue;
            };
            let Some(value) = self.value(entry) else { continue };
            if let Some((first, _)) = arguments.get(&key) {
                let first = *first;
                self.error(
                    Diagnostic::error(
                        "stack::duplicate_field",
                        format!("module parameter `{key}` is set twice"),
                    )
                    .primary(key_span, "set again here")
                    .secondary(first, "first set here"),
                );
                continue;
            }
            arguments.insert(key, (key_span, value));
        }
        if let Some(first) = unit.uses.get(&alias) {
            let first = first.alias_span;
            self.error(
                Diagnostic::error(
                    "stack::duplicate_name",
                    format!("module name `{alias}` is used twice"),
                )
                .primary(alias_span, "used again here")
                .secondary(first, "first used here")
                .help("give each module call its own name with as=\"...\""),
            );
            return;
        }
        unit.uses.insert(
            alias.clone(),
            UseDecl {
                source,
                source_span,
                alias_span,
                dir: self.dir.to_path_buf(),
                arguments,
            },
        );
    }

    fn lower_output(&mut self, node: &KdlNode, unit: &mut Unit) {
        self.reject_properties(node, &["description"]);
        self.reject_children(node);
        let arguments = self.arguments(node);
        let [name_entry, value_entry] = arguments.as_slice() else {
            self.error(
                Diagnostic::error("stack::invalid_value", "an output takes a name and a value").primary(
                    self.ident_span(node.name()),
                    "expected: output \"name\" \"value\"",
                ),
            );
            return;
        };
        let name_span = self.entry_span(name_entry);
        let Some(name) = name_entry.value().as_string().map(str::to_owned) else {
            self.error(
                Diagnostic::error("stack::invalid_value", "the name of an output must be a string")
                    .primary(name_span, "not a string"),
            );
            return;
        };
        let Some(value) = self.value(value_entry) else {
            return;
        };
        if let Some(first) = unit.outputs.get(&name) {
            let first = first.name_span;
            self.error(
                Diagnostic::error(
                    "stack::duplicate_name",
                    format!("output `{name}` is declared twice"),
                )
                .primary(name_span, "declared again here")
                .secondary(first, "first declared here"),
            );
            return;
        }
        unit.outputs.insert(name, OutputDecl { name_span, value });
    }
}

impl Lowerer<'_> {
    fn lower_registry(&mut self, node: &KdlNode, unit: &mut Unit) {
        self.reject_properties(node, &[]);
        let Some((server, server_span)) = self.name_argument(node, "host") else {
            return;
        };
        let fields = self.lower_block(node, FieldSet::Block("registry", REGISTRY_FIELDS), true);
        if !valid_server(&server) {
            self.error(
                Diagnostic::error("stack::invalid_value", format!("`{server}` is not a registry host"))
                    .primary(server_span, "not a host, or host and port")
                    .help("write the registry as image references name it, without a scheme or path: `ghcr.io`, `registry.example.com:5000`, `127.0.0.1:5000`"),
            );
            return;
        }
        if let Some(password) = fields.get("password")
            && matches!(password.data, Data::Str(_))
        {
            self.error(
                Diagnostic::error("stack::literal_secret", "a registry password cannot be written in the file")
                    .primary(password.span, "the password would be committed with the file")
                    .help("declare `variable \"NAME\" type=\"string\" sensitive=#true`, set it with `--var`, a var file or `STACK_VAR_NAME`, and write `password \"${var.NAME}\"`"),
            );
        }
        if let Some(first) = unit.registries.get(&server) {
            let first = first.server_span;
            self.error(
                Diagnostic::error(
                    "stack::duplicate_name",
                    format!("registry `{server}` is declared twice"),
                )
                .primary(server_span, "declared again here")
                .secondary(first, "first declared here")
                .help("keep one `registry` block per registry host"),
            );
            return;
        }
        unit.registries
            .insert(server, RegistryDecl { server_span, fields });
    }
}

/// A registry as image references name it: a host name or address, and maybe a port.
fn valid_server(server: &str) -> bool {
    !server.is_empty()
        && server
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && !server.starts_with(['.', '-', ':'])
}

/// The environment variable that sets a stack variable: `STACK_VAR_` and the
/// name with `-` written as `_`.
pub fn env_name(variable: &str) -> String {
    variable.replace('-', "_")
}

/// The fields a block accepts: a resource kind's, or a nested block's.
enum FieldSet {
    Kind(&'static KindSchema),
    Block(&'static str, &'static [Field]),
}

impl FieldSet {
    fn fields(&self) -> Box<dyn Iterator<Item = &'static Field>> {
        match self {
            FieldSet::Kind(kind) => Box::new(kind.all_fields()),
            FieldSet::Block(_, fields) => Box::new(fields.iter()),
        }
    }

    fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields().find(|field| field.name == name)
    }

    fn describe_kind(&self) -> String {
        match self {
            FieldSet::Kind(kind) => kind.name.to_owned(),
            FieldSet::Block(name, _) => format!("`{name}`"),
        }
    }

    fn describe(&self, node: &KdlNode) -> String {
        match self {
            FieldSet::Kind(kind) => {
                let name = node
                    .entries()
                    .first()
                    .and_then(|entry| entry.value().as_string())
                    .unwrap_or("");
                format!("{} `{name}`", kind.name)
            }
            FieldSet::Block(name, _) => format!("`{name}`"),
        }
    }
}
