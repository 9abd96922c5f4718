//! After evaluation: every value checked against its field's type, and every
//! name of another resource resolved to its address (a graph edge).

use indexmap::IndexMap;
use stack_diagnostics::{Diagnostic, Span};

use crate::eval::Evaluator;
use crate::model::{Condition, Dependency, Resource};
use crate::reuse::Reads;
use crate::schema::{Field, Repeat, Shape, Type};
use crate::suggest::did_you_mean;
use crate::units::{Cidr, parse_duration, parse_percent, parse_port, parse_size};
use crate::{Data, Value};

impl Evaluator<'_> {
    /// The resource `(kind, name)` of `instance`, evaluated and checked.
    pub(crate) fn resource(
        &mut self,
        instance: usize,
        kind: &'static str,
        name: &str,
    ) -> Option<(Resource, Reads)> {
        let (resource, reads) = self.record(|this| this.evaluate_resource(instance, kind, name));
        Some((resource?, reads))
    }

    fn evaluate_resource(&mut self, instance: usize, kind: &'static str, name: &str) -> Option<Resource> {
        let declaration = self.instances[instance]
            .resources
            .get(&(kind, name.to_owned()))?
            .clone();
        let mut dependencies = Vec::new();
        let mut fields = IndexMap::new();
        for field_name in declaration.fields.keys() {
            let Some((value, field_dependencies)) = self.field(instance, kind, name, field_name) else {
                continue;
            };
            dependencies.extend(field_dependencies);
            let Some(field) = declaration.kind.field(field_name) else {
                continue;
            };
            let value = self.check_field(instance, field, value, Condition::Exists, &mut dependencies);
            fields.insert(field_name.clone(), value);
        }
        let address = self.address(instance, kind, name);
        if let Some(itself) = dependencies
            .iter()
            .find(|dependency| dependency.target == address && dependency.condition != Condition::Exists)
        {
            self.diagnostics.push(
                Diagnostic::error("stack::dependency_cycle", format!("{address} depends on itself"))
                    .primary(itself.span, "names the resource it is in")
                    .help("remove this depends-on"),
            );
        }
        // A resource may read its own fields; that is no edge.
        dependencies.retain(|dependency| dependency.target != address);
        // Some kinds are ready only later than asked: a job once it has completed.
        for dependency in &mut dependencies {
            if let Some(target) = self.schema.kind(dependency.target.kind) {
                dependency.condition = dependency.condition.max(target.ready);
            }
        }
        Some(Resource {
            address,
            kind: declaration.kind,
            span: declaration.name_span,
            dir: declaration.dir,
            fields,
            dependencies: deduplicate(dependencies),
        })
    }

    fn check_field(
        &mut self,
        instance: usize,
        field: &'static Field,
        value: Value,
        condition: Condition,
        dependencies: &mut Vec<Dependency>,
    ) -> Value {
        match (field.repeat, &value.data) {
            (Repeat::Many, Data::List(items)) => {
                let items = items
                    .clone()
                    .into_iter()
                    .map(|item| self.check_shape(instance, field, item, condition, dependencies))
                    .collect();
                Value {
                    data: Data::List(items),
                    ..value
                }
            }
            _ => self.check_shape(instance, field, value, condition, dependencies),
        }
    }

    fn check_shape(
        &mut self,
        instance: usize,
        field: &'static Field,
        value: Value,
        condition: Condition,
        dependencies: &mut Vec<Dependency>,
    ) -> Value {
        let name = field.name;
        match (&field.shape, value.data.clone()) {
            (_, Data::Unknown) => value,
            (Shape::Scalar(ty), _) => self.check_type(instance, name, *ty, value, condition, dependencies),
            (Shape::List(ty), Data::List(items)) => {
                let items = items
                    .into_iter()
                    .map(|item| self.check_type(instance, name, *ty, item, condition, dependencies))
                    .collect();
                Value {
                    data: Data::List(items),
                    ..value
                }
            }
            (Shape::Map(ty), Data::Map(map)) => {
                let map = map
                    .into_iter()
                    .map(|(key, item)| {
                        let item = self.check_type(instance, &key, *ty, item, condition, dependencies);
                        (key, item)
                    })
                    .collect();
                Value {
                    data: Data::Map(map),
                    ..value
                }
            }
            (Shape::Block(fields), Data::Map(map)) => {
                let map = map
                    .into_iter()
                    .map(
                        |(key, item)| match fields.iter().find(|field| field.name == key) {
                            Some(field) => {
                                let item = self.check_field(instance, field, item, condition, dependencies);
                                (key, item)
                            }
                            None => (key, item),
                        },
                    )
                    .collect();
                Value {
                    data: Data::Map(map),
                    ..value
                }
            }
            (Shape::Record { arg, props, children }, Data::Map(map)) => {
                // A record with a `condition` (depends-on) asks for it, or for its default.
                let declared_default = props
                    .iter()
                    .find(|prop| prop.name == "condition")
                    .and_then(|prop| prop.default);
                let condition = map
                    .get("condition")
                    .and_then(Value::as_str)
                    .or(declared_default)
                    .and_then(Condition::parse)
                    .unwrap_or(condition);
                let map = map
                    .into_iter()
                    .map(|(key, item)| {
                        let item = if let Some(arg) = arg.as_ref().filter(|arg| arg.name == key) {
                            self.check_type(instance, name, arg.ty, item, condition, dependencies)
                        } else if let Some(prop) = props.iter().find(|prop| prop.name == key) {
                            self.check_type(instance, prop.name, prop.ty, item, condition, dependencies)
                        } else if let Some(child) = children.iter().find(|child| child.name == key) {
                            self.check_field(instance, child, item, condition, dependencies)
                        } else {
                            item
                        };
                        (key, item)
                    })
                    .collect();
                Value {
                    data: Data::Map(map),
                    ..value
                }
            }
            _ => value,
        }
    }

    /// Checks one value against `ty`; names of resources become references.
    fn check_type(
        &mut self,
        instance: usize,
        name: &str,
        ty: Type,
        value: Value,
        condition: Condition,
        dependencies: &mut Vec<Dependency>,
    ) -> Value {
        let span = value.span;
        let result: Result<Data, String> = match (ty, value.data.clone()) {
            (_, Data::Unknown) => return value,
            (Type::String | Type::Path, Data::Str(text)) => Ok(Data::Str(text)),
            (Type::String, Data::Int(number)) => Ok(Data::Str(number.to_string())),
            (Type::String, Data::Float(number)) => Ok(Data::Str(number.to_string())),
            (Type::String, Data::Bool(flag)) => Ok(Data::Str(flag.to_string())),
            (Type::String, Data::Ref(address)) => {
                dependencies.push(Dependency::reference(address.clone(), span));
                match self.ref_text(&address, span) {
                    Some(text) => Ok(Data::Str(text)),
                    None => return Value::new(Data::Unknown, span),
                }
            }
            (Type::Int, Data::Int(number)) => Ok(Data::Int(number)),
            (Type::Float, Data::Int(number)) => Ok(Data::Float(number as f64)),
            (Type::Float, Data::Float(number)) => Ok(Data::Float(number)),
            (Type::Bool, Data::Bool(flag)) => Ok(Data::Bool(flag)),
            (Type::Duration, Data::Str(text)) => parse_duration(&text).map(|_| Data::Str(text)),
            (Type::Size, Data::Str(text)) => parse_size(&text).map(|_| Data::Str(text)),
            (Type::Size, Data::Int(number)) if number >= 0 => Ok(Data::Int(number)),
            (Type::Cidr, Data::Str(text)) => Cidr::parse(&text).map(|_| Data::Str(text)),
            (Type::Ip, Data::Str(text)) => text
                .parse::<std::net::IpAddr>()
                .map(|_| Data::Str(text.clone()))
                .map_err(|_| format!("`{text}` is not an IP address")),
            (Type::Port, Data::Int(number)) => parse_port(number).map(|_| Data::Int(number)),
            (Type::Mode, Data::Int(mode)) if (0..=0o7777).contains(&mode) => Ok(Data::Int(mode)),
            (Type::Count, Data::Int(count)) if u32::try_from(count).is_ok() => Ok(Data::Int(count)),
            (Type::Count, Data::Str(text)) => parse_percent(&text).map(|_| Data::Str(text)),
            (Type::Enum(options), Data::Str(text)) if options.contains(&text.as_str()) => Ok(Data::Str(text)),
            (Type::Enum(options), Data::Str(text)) => Err(format!(
                "`{text}` is not a valid value; {}",
                did_you_mean(&text, "value", options.iter().copied())
            )),
            (Type::Ref(kind), Data::Str(target)) => {
                return self.reference(instance, kind, &target, value, condition, dependencies);
            }
            (Type::Ref(_) | Type::Dependency, Data::Ref(address)) if kind_matches(ty, address.kind) => {
                dependencies.push(Dependency {
                    target: address.clone(),
                    span,
                    condition,
                });
                Ok(Data::Ref(address))
            }
            (Type::Image, Data::Str(text)) => Ok(Data::Str(text)),
            (Type::Image, Data::Ref(address)) if address.kind == "image" => {
                dependencies.push(Dependency::reference(address.clone(), span));
                Ok(Data::Ref(address))
            }
            (Type::Dependency, Data::Str(target)) => {
                return self.dependency(instance, &target, value, condition, dependencies);
            }
            (ty, _) => Err(format!("{value} is not {}", ty.expected())),
        };
        match result {
            Ok(data) => Value { data, ..value },
            Err(problem) => {
                let shown = if value.sensitive {
                    "(sensitive)".to_owned()
                } else {
                    problem
                };
                self.diagnostics.push(
                    Diagnostic::error(
                        "stack::invalid_value",
                        format!("`{name}` must be {}", ty.expected()),
                    )
                    .primary(span, shown)
                    .help(example(ty)),
                );
                Value::new(Data::Unknown, span)
            }
        }
    }

    /// Resolves the name of a `kind` resource in `instance`'s scope.
    fn reference(
        &mut self,
        instance: usize,
        kind: &'static str,
        target: &str,
        value: Value,
        condition: Condition,
        dependencies: &mut Vec<Dependency>,
    ) -> Value {
        self.read_declaration(instance, kind, target);
        if self.instances[instance]
            .resources
            .contains_key(&(kind, target.to_owned()))
        {
            let address = self.address(instance, kind, target);
            dependencies.push(Dependency {
                target: address.clone(),
                span: value.span,
                condition,
            });
            return Value {
                data: Data::Ref(address),
                ..value
            };
        }
        self.unknown_reference(instance, kind, target, value.span);
        Value::new(Data::Unknown, value.span)
    }

    fn unknown_reference(&mut self, instance: usize, kind: &str, target: &str, span: Span) {
        let names: Vec<String> = self.instances[instance]
            .resources
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, name)| name.clone())
            .collect();
        let help = match crate::suggest::closest(target, names.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("declare it: {kind} \"{target}\" {{ ... }}"),
        };
        self.diagnostics.push(
            Diagnostic::error(
                "stack::unknown_reference",
                format!("there is no {kind} `{target}`"),
            )
            .primary(span, format!("no {kind} by this name is declared"))
            .help(help),
        );
    }

    /// Resolves what `depends-on` names: `"api"` (a service), `"probe.ready"`, `"module.db"`.
    fn dependency(
        &mut self,
        instance: usize,
        target: &str,
        value: Value,
        condition: Condition,
        dependencies: &mut Vec<Dependency>,
    ) -> Value {
        let span = value.span;
        match target.split_once('.') {
            None => {
                if let Some(kind) = self.other_kind_named(instance, target) {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::unknown_reference",
                            format!("there is no service `{target}`"),
                        )
                        .primary(span, "a bare name is a service")
                        .help(format!(
                            "`{target}` is a {kind}: write depends-on \"{kind}.{target}\""
                        )),
                    );
                    return Value::new(Data::Unknown, span);
                }
                self.reference(instance, "service", target, value, condition, dependencies)
            }
            Some(("module", alias)) => {
                self.read_opaque();
                let Some(&child) = self.instances[instance].modules.get(alias) else {
                    let aliases: Vec<String> = self.instances[instance].unit.uses.keys().cloned().collect();
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::unknown_reference",
                            format!("there is no module `{alias}`"),
                        )
                        .primary(span, "unknown module")
                        .help(did_you_mean(
                            alias,
                            "module",
                            aliases.iter().map(String::as_str),
                        )),
                    );
                    return Value::new(Data::Unknown, span);
                };
                // Health and completion are for services; the module's other resources must
                // exist (or be ready the way their kind is, as a job is once completed).
                for target in self.addresses_within(child) {
                    let condition = if target.kind == "service" {
                        condition
                    } else {
                        Condition::Exists
                    };
                    dependencies.push(Dependency {
                        target,
                        span,
                        condition,
                    });
                }
                value
            }
            Some((kind, name)) => match self.schema.kind(kind) {
                Some(kind) => self.reference(instance, kind.name, name, value, condition, dependencies),
                None => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::unknown_reference",
                            format!("`{target}` names no resource"),
                        )
                        .primary(span, format!("`{kind}` is not a resource kind"))
                        .help("depends-on takes \"NAME\" (a service), \"KIND.NAME\" or \"module.ALIAS\""),
                    );
                    Value::new(Data::Unknown, span)
                }
            },
        }
    }

    /// The kind of a resource called `name` when no service is: what a bare name in
    /// `depends-on` was probably meant to be.
    fn other_kind_named(&self, instance: usize, name: &str) -> Option<&'static str> {
        let resources = &self.instances[instance].resources;
        if resources.contains_key(&("service", name.to_owned())) {
            return None;
        }
        resources
            .keys()
            .find(|(_, declared)| declared == name)
            .map(|(kind, _)| *kind)
    }

    /// Every resource of an instance and of the modules inside it: what
    /// depending on a module means.
    fn addresses_within(&self, instance: usize) -> Vec<crate::Address> {
        let mut addresses: Vec<crate::Address> = self.instances[instance]
            .resources
            .keys()
            .map(|(kind, name)| self.address(instance, kind, name))
            .collect();
        for &child in self.instances[instance].modules.values() {
            addresses.extend(self.addresses_within(child));
        }
        addresses
    }
}

fn kind_matches(ty: Type, kind: &str) -> bool {
    match ty {
        Type::Ref(expected) => expected == kind,
        _ => true,
    }
}

/// Keeps one edge per target, with the strictest condition asked for.
fn deduplicate(dependencies: Vec<Dependency>) -> Vec<Dependency> {
    let mut unique: Vec<Dependency> = Vec::new();
    for dependency in dependencies {
        match unique
            .iter_mut()
            .find(|existing| existing.target == dependency.target)
        {
            Some(existing) if dependency.condition > existing.condition => *existing = dependency,
            Some(_) => {}
            None => unique.push(dependency),
        }
    }
    unique
}

fn example(ty: Type) -> String {
    match ty {
        Type::Duration => "durations are strings like \"500ms\", \"10s\", \"1m30s\"".to_owned(),
        Type::Size => "sizes are strings like \"512MiB\", \"2GiB\", \"64MB\"".to_owned(),
        Type::Cidr => "networks are written like \"172.30.0.0/24\"".to_owned(),
        Type::Ip => "addresses are written like \"172.30.0.10\"".to_owned(),
        Type::Port => "ports are numbers from 1 to 65535, without quotes".to_owned(),
        Type::Int => "write a whole number without quotes, like 3".to_owned(),
        Type::Float => "write a number without quotes, like 0.5".to_owned(),
        Type::Bool => "write #true or #false".to_owned(),
        Type::Mode => "write a file mode as an octal number, like 0o400".to_owned(),
        Type::Count => {
            "write a number of replicas without quotes, like 2, or a percentage of them, like \"25%\""
                .to_owned()
        }
        Type::Enum(options) => format!("write one of {}", options.join(", ")),
        Type::Ref(kind) => format!("write the name of a {kind} declared in this stack"),
        Type::Image => {
            "write an image like \"redis:7-alpine\", or \"${image.NAME}\" for one built here".to_owned()
        }
        Type::Dependency => "write \"NAME\" (a service), \"KIND.NAME\" or \"module.ALIAS\"".to_owned(),
        Type::String | Type::Path => "write a quoted string".to_owned(),
    }
}
