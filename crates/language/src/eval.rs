//! Evaluation: variables bound, overlays applied, modules instantiated and
//! every `${...}` resolved, lazily and once each, with cycles reported.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use stack_diagnostics::{Diagnostic, Span};

use crate::decl::{ResourceDecl, ResourceKey, Unit, VariableDecl, VariableType};
use crate::load::Loader;
use crate::model::{Condition, Dependency};
use crate::reuse::{Fact, Reads, Root};
use crate::schema::{Field, Schema, Shape};
use crate::suggest::did_you_mean;
use crate::template::{Expr, Part, Template};
use crate::variables::{check_rules, coerce, type_name};
use crate::{Address, Data, Value};

/// One instantiation of a unit: the root stack, or a module at a `use`.
pub(crate) struct Instance {
    pub path: Vec<String>,
    pub unit: Arc<Unit>,
    /// The unit's resources, with the selected environment's overlays applied.
    pub resources: IndexMap<(&'static str, String), ResourceDecl>,
    pub vars: IndexMap<String, Binding>,
    pub modules: IndexMap<String, usize>,
}

/// The value of a variable of an instance.
pub(crate) enum Binding {
    Ready(Value),
    /// A module argument, written in the calling instance, evaluated when first read.
    Argument {
        value: Value,
        caller: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Cell {
    Field(usize, &'static str, String, String),
    Var(usize, String),
    Output(usize, String),
}

/// What a cell evaluated to, with the resources it referenced and what it read.
#[derive(Clone)]
struct Evaluated {
    value: Value,
    dependencies: Vec<Dependency>,
    reads: Reads,
}

/// The instance of the root stack: the only one whose reads are recorded.
pub(crate) const ROOT: usize = 0;

pub(crate) struct Evaluator<'a> {
    pub schema: &'a Schema,
    pub stack_name: String,
    pub instances: Vec<Instance>,
    pub diagnostics: Vec<Diagnostic>,
    memo: HashMap<Cell, Evaluated>,
    in_progress: Vec<(Cell, Span)>,
    /// What each evaluation under way has read so far, innermost last, with the number of
    /// diagnostics when it started.
    recording: Vec<(Reads, usize)>,
}

impl<'a> Evaluator<'a> {
    pub fn new(schema: &'a Schema, stack_name: String) -> Self {
        Evaluator {
            schema,
            stack_name,
            instances: Vec::new(),
            diagnostics: Vec::new(),
            memo: HashMap::new(),
            in_progress: Vec::new(),
            recording: Vec::new(),
        }
    }

    /// Runs `evaluate`, recording what it reads; an evaluation that reports a problem is opaque.
    pub(crate) fn record<T>(&mut self, evaluate: impl FnOnce(&mut Self) -> T) -> (T, Reads) {
        self.recording.push((Reads::default(), self.diagnostics.len()));
        let result = evaluate(self);
        let (mut reads, diagnostics) = self.recording.pop().unwrap_or_default();
        reads.opaque |= self.diagnostics.len() != diagnostics;
        self.note(&reads);
        (result, reads)
    }

    /// What the evaluation under way read, through an evaluation made (or memoized) inside it.
    fn note(&mut self, reads: &Reads) {
        if let Some((reading, _)) = self.recording.last_mut() {
            reading.absorb(reads);
        }
    }

    /// Records a read of `instance`'s declarations; only the root's are checked again later.
    pub(crate) fn read(&mut self, instance: usize, fact: impl FnOnce() -> Fact) {
        if let Some((reading, _)) = self.recording.last_mut() {
            if instance == ROOT {
                reading.push(fact());
            } else {
                reading.opaque = true;
            }
        }
    }

    /// Records a read of what facts do not describe (a module's values).
    pub(crate) fn read_opaque(&mut self) {
        if let Some((reading, _)) = self.recording.last_mut() {
            reading.opaque = true;
        }
    }

    /// Records whether `instance` declares the resource, and its fields.
    pub(crate) fn read_declaration(&mut self, instance: usize, kind: &'static str, name: &str) {
        let fields = self.instances[instance]
            .resources
            .get(&ResourceKey(kind, name))
            .map(|declaration| Arc::clone(&declaration.fields));
        self.read(instance, || Fact::Resource {
            kind,
            name: name.to_owned(),
            fields,
        });
    }

    /// Instantiates `unit` and, recursively, the modules it uses.
    /// `chain` holds the module sources on the way here, to catch a module using itself.
    pub fn instantiate(
        &mut self,
        loader: &mut Loader,
        path: Vec<String>,
        unit: Arc<Unit>,
        resources: IndexMap<(&'static str, String), ResourceDecl>,
        vars: IndexMap<String, Binding>,
        chain: &mut Vec<(String, Span)>,
    ) -> usize {
        let index = self.instances.len();
        self.instances.push(Instance {
            path: path.clone(),
            unit: Arc::clone(&unit),
            resources,
            vars,
            modules: IndexMap::new(),
        });
        for (alias, call) in &unit.uses {
            let source_key = module_key(&call.source, &call.dir);
            if let Some(position) = chain.iter().position(|(key, _)| *key == source_key) {
                let mut diagnostic = Diagnostic::error(
                    "stack::module_cycle",
                    format!("module `{}` uses itself", call.source),
                )
                .primary(call.source_span, "used again here, inside itself");
                for (_, span) in &chain[position..] {
                    diagnostic = diagnostic.secondary(*span, "on the way here");
                }
                self.diagnostics
                    .push(diagnostic.help("a module cannot use itself, directly or through other modules"));
                continue;
            }
            let Some(module) = loader.load_module(&call.source, &call.dir, call.source_span) else {
                continue;
            };
            let mut module_vars = IndexMap::new();
            for (name, variable) in &module.variables {
                match call.arguments.get(name) {
                    Some((_, value)) => {
                        let literal = matches!(
                            value.data,
                            Data::Str(_) | Data::Int(_) | Data::Float(_) | Data::Bool(_)
                        );
                        if variable.sensitive && literal {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    "stack::literal_secret",
                                    format!("module parameter `{name}` is sensitive, but is given a literal"),
                                )
                                .primary(value.span, "this value would be committed with the file")
                                .secondary(variable.name_span, "declared sensitive here")
                                .help("pass a sensitive variable instead: \"${var.NAME}\""),
                            );
                        }
                        module_vars.insert(
                            name.clone(),
                            Binding::Argument {
                                value: value.clone(),
                                caller: index,
                            },
                        );
                    }
                    None => match &variable.default {
                        Some(default) => {
                            module_vars.insert(name.clone(), Binding::Ready(default.clone()));
                        }
                        None => self.diagnostics.push(
                            Diagnostic::error(
                                "stack::module_parameter_missing",
                                format!("module `{}` needs parameter `{name}`", call.source),
                            )
                            .primary(call.alias_span, format!("`{name}` not given"))
                            .secondary(variable.name_span, "declared here, without a default")
                            .help(format!(
                                "set it in the block: use \"{}\" as=\"{alias}\" {{ {name} ... }}",
                                call.source
                            )),
                        ),
                    },
                }
            }
            for (name, (span, _)) in &call.arguments {
                if !module.variables.contains_key(name) {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::module_parameter_unknown",
                            format!("module `{}` has no parameter `{name}`", call.source),
                        )
                        .primary(*span, "unknown parameter")
                        .help(did_you_mean(
                            name,
                            "parameter",
                            module.variables.keys().map(String::as_str),
                        )),
                    );
                }
            }
            let mut module_path = path.clone();
            module_path.push(alias.clone());
            chain.push((source_key, call.source_span));
            let module_resources = module.resources.clone();
            let child = self.instantiate(
                loader,
                module_path,
                Arc::clone(&module),
                module_resources,
                module_vars,
                chain,
            );
            chain.pop();
            self.instances[index].modules.insert(alias.clone(), child);
        }
        index
    }

    pub fn address(&self, instance: usize, kind: &'static str, name: &str) -> Address {
        Address::new(&self.instances[instance].path, kind, name)
    }

    /// A resource's field, evaluated; `None` when the field is not set.
    pub fn field(
        &mut self,
        instance: usize,
        kind: &'static str,
        name: &str,
        field: &str,
    ) -> Option<(Value, Vec<Dependency>)> {
        let fields = Arc::clone(
            &self.instances[instance]
                .resources
                .get(&(kind, name.to_owned()))?
                .fields,
        );
        let value = fields.get(field)?;
        let cell = Cell::Field(instance, kind, name.to_owned(), field.to_owned());
        let evaluated = self.cell(cell, value.span, |this, dependencies| {
            this.read_declaration(instance, kind, name);
            this.value(instance, value, dependencies)
        })?;
        Some((evaluated.value, evaluated.dependencies))
    }

    /// An output of an instance, evaluated.
    pub fn output(&mut self, instance: usize, name: &str) -> Option<Value> {
        self.output_with_dependencies(instance, name)
            .map(|(value, _)| value)
    }

    fn output_with_dependencies(&mut self, instance: usize, name: &str) -> Option<(Value, Vec<Dependency>)> {
        let value = self.instances[instance].unit.outputs.get(name)?.value.clone();
        let cell = Cell::Output(instance, name.to_owned());
        self.cell(cell, value.span, |this, dependencies| {
            this.value(instance, &value, dependencies)
        })
        .map(|evaluated| (evaluated.value, evaluated.dependencies))
    }

    /// Evaluates a cell once; a cell met again while it is evaluated is a cycle.
    fn cell(
        &mut self,
        cell: Cell,
        span: Span,
        evaluate: impl FnOnce(&mut Self, &mut Vec<Dependency>) -> Value,
    ) -> Option<Evaluated> {
        if let Some(done) = self.memo.get(&cell).cloned() {
            self.note(&done.reads);
            return Some(done);
        }
        if let Some(position) = self.in_progress.iter().position(|(open, _)| *open == cell) {
            let mut diagnostic = Diagnostic::error(
                "stack::dependency_cycle",
                "these values are defined in terms of each other",
            )
            .primary(span, "this value depends on itself");
            for (_, step) in &self.in_progress[position + 1..] {
                diagnostic = diagnostic.secondary(*step, "through this reference");
            }
            self.diagnostics
                .push(diagnostic.help("break the cycle: one of these values must not refer to the others"));
            return Some(Evaluated {
                value: Value::new(Data::Unknown, span),
                dependencies: Vec::new(),
                reads: Reads::default(),
            });
        }
        self.in_progress.push((cell.clone(), span));
        let ((value, dependencies), reads) = self.record(|this| {
            let mut dependencies = Vec::new();
            let value = evaluate(this, &mut dependencies);
            (value, dependencies)
        });
        self.in_progress.pop();
        let evaluated = Evaluated {
            value,
            dependencies,
            reads,
        };
        self.memo.insert(cell, evaluated.clone());
        Some(evaluated)
    }

    /// Evaluates every template inside `value`, in `instance`'s scope.
    pub fn value(&mut self, instance: usize, value: &Value, dependencies: &mut Vec<Dependency>) -> Value {
        match &value.data {
            Data::Template(template) => self.template(instance, template, value.span, dependencies),
            Data::List(items) => {
                let items = items
                    .iter()
                    .map(|item| self.value(instance, item, dependencies))
                    .collect();
                Value {
                    data: Data::List(items),
                    ..value.clone()
                }
            }
            Data::Map(map) => {
                let map = map
                    .iter()
                    .map(|(key, item)| (key.clone(), self.value(instance, item, dependencies)))
                    .collect();
                Value {
                    data: Data::Map(map),
                    ..value.clone()
                }
            }
            _ => value.clone(),
        }
    }

    fn template(
        &mut self,
        instance: usize,
        template: &Template,
        span: Span,
        dependencies: &mut Vec<Dependency>,
    ) -> Value {
        if let Some(expr) = template.sole_expr() {
            let result = self.expr(instance, expr, dependencies);
            return Value { span, ..result };
        }
        let mut text = String::new();
        let mut sensitive = false;
        for part in template.parts() {
            match part {
                Part::Text(literal) => text.push_str(literal),
                Part::Expr(expr) => {
                    let value = self.expr(instance, expr, dependencies);
                    sensitive |= value.contains_sensitive();
                    match self.text_form(&value, expr) {
                        Some(Some(piece)) => text.push_str(&piece),
                        Some(None) => {
                            return Value {
                                sensitive,
                                ..Value::new(Data::Unknown, span)
                            };
                        }
                        None => return Value::new(Data::Unknown, span),
                    }
                }
            }
        }
        Value {
            sensitive,
            ..Value::new(Data::Str(text), span)
        }
    }

    /// How a value reads inside a string: `Some(None)` when it is not known yet,
    /// `None` (after a diagnostic) when it cannot be put in text.
    fn text_form(&mut self, value: &Value, expr: &Expr) -> Option<Option<String>> {
        Some(Some(match &value.data {
            Data::Str(text) => text.clone(),
            Data::Int(number) => number.to_string(),
            Data::Float(number) => number.to_string(),
            Data::Bool(flag) => flag.to_string(),
            Data::Unknown => return Some(None),
            Data::Ref(address) => return self.ref_text(address, expr.span).map(Some),
            Data::Null | Data::List(_) | Data::Map(_) | Data::Template(_) => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "stack::invalid_value",
                        format!("`${{{}}}` is not text", expr.text()),
                    )
                    .primary(expr.span, "a list or block cannot be part of a string")
                    .help("refer to one of its values instead"),
                );
                return None;
            }
        }))
    }

    /// A reference written as text: the object's name, for kinds that have one in text.
    pub(crate) fn ref_text(&mut self, address: &Address, span: Span) -> Option<String> {
        if let Some(name) = self.external_name(address) {
            return Some(name);
        }
        if self
            .schema
            .kind(address.kind)
            .is_some_and(|kind| kind.interpolates)
        {
            return Some(object_name(&self.stack_name, address));
        }
        let diagnostic = if address.kind == "secret" {
            Diagnostic::error("stack::secret_in_text", format!("{address} cannot be written into text"))
                .help("secrets are delivered as files under /run/secrets: mount it with `secret \"NAME\"` in the service and point the program at the file")
        } else {
            Diagnostic::error("stack::invalid_value", format!("{address} has no text form"))
                .help("refer to one of its fields instead, like \"${KIND.NAME.FIELD}\"")
        };
        self.diagnostics
            .push(diagnostic.primary(span, "used as text here"));
        None
    }

    /// The existing object an `external` resource stands for.
    fn external_name(&mut self, address: &Address) -> Option<String> {
        let instance = self
            .instances
            .iter()
            .position(|instance| instance.path == address.module)?;
        self.read_declaration(instance, address.kind, &address.name);
        let declaration = self.instances[instance]
            .resources
            .get(&(address.kind, address.name.clone()))?;
        declaration.fields.get("external")?.as_str().map(str::to_owned)
    }

    fn expr(&mut self, instance: usize, expr: &Expr, dependencies: &mut Vec<Dependency>) -> Value {
        let unknown = Value::new(Data::Unknown, expr.span);
        let path: Vec<&str> = expr.path.iter().map(String::as_str).collect();
        match path.as_slice() {
            ["var", name] => self
                .variable(instance, name, expr, dependencies)
                .unwrap_or(unknown),
            ["var", name, ..] => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "stack::unknown_reference",
                        format!("variable `{name}` has no fields"),
                    )
                    .primary(expr.span, "write just var.NAME"),
                );
                unknown
            }
            ["module", alias, output, rest @ ..] => {
                self.read_opaque();
                let Some(&child) = self.instances[instance].modules.get(*alias) else {
                    let known: Vec<String> = self.instances[instance].unit.uses.keys().cloned().collect();
                    if !known.iter().any(|name| name == alias) {
                        self.diagnostics.push(
                            Diagnostic::error(
                                "stack::unknown_reference",
                                format!("there is no module `{alias}`"),
                            )
                            .primary(expr.span, "unknown module")
                            .help(did_you_mean(
                                alias,
                                "module",
                                known.iter().map(String::as_str),
                            )),
                        );
                    }
                    return unknown;
                };
                let outputs: Vec<String> = self.instances[child].unit.outputs.keys().cloned().collect();
                let Some((value, output_dependencies)) = self.output_with_dependencies(child, output) else {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::unknown_reference",
                            format!("module `{alias}` has no output `{output}`"),
                        )
                        .primary(expr.span, "unknown output")
                        .help(did_you_mean(
                            output,
                            "output",
                            outputs.iter().map(String::as_str),
                        )),
                    );
                    return unknown;
                };
                // What an output refers to, the caller depends on, at the place it reads the output.
                dependencies.extend(
                    output_dependencies
                        .into_iter()
                        .map(|dependency| Dependency::reference(dependency.target, expr.span)),
                );
                self.descend(Some(value), None, rest, expr)
            }
            [kind, name, rest @ ..] if self.schema.kind(kind).is_some() => {
                let Some(kind) = self.schema.kind(kind) else {
                    return unknown;
                };
                let key = (kind.name, (*name).to_owned());
                self.read_declaration(instance, kind.name, name);
                if !self.instances[instance].resources.contains_key(&key) {
                    let names: Vec<String> = self.instances[instance]
                        .resources
                        .keys()
                        .filter(|(k, _)| *k == kind.name)
                        .map(|(_, n)| n.clone())
                        .collect();
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::unknown_reference",
                            format!("there is no {} `{name}`", kind.name),
                        )
                        .primary(expr.span, "unknown reference")
                        .help(did_you_mean(
                            name,
                            kind.name,
                            names.iter().map(String::as_str),
                        )),
                    );
                    return unknown;
                }
                let address = self.address(instance, kind.name, name);
                dependencies.push(Dependency::reference(address.clone(), expr.span));
                let [field, rest @ ..] = rest else {
                    return Value::new(Data::Ref(address), expr.span);
                };
                let Some(schema_field) = kind.field(field) else {
                    let names: Vec<&str> = kind.all_fields().map(|f| f.name).collect();
                    self.diagnostics.push(
                        Diagnostic::error(
                            "stack::unknown_reference",
                            format!("a {} has no field `{field}`", kind.name),
                        )
                        .primary(expr.span, "unknown field")
                        .help(did_you_mean(field, "field", names.iter().copied())),
                    );
                    return unknown;
                };
                let value = self
                    .field(instance, kind.name, name, field)
                    .map(|(value, _)| value);
                self.descend(value, Some(schema_field), rest, expr)
            }
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "stack::unknown_reference",
                        format!("`{}` refers to nothing", expr.text()),
                    )
                    .primary(expr.span, "unknown reference")
                    .help("expressions are var.NAME, KIND.NAME, KIND.NAME.FIELD or module.ALIAS.OUTPUT"),
                );
                unknown
            }
        }
    }

    /// Follows `path` into the blocks of `value`; what is not set reads as the
    /// schema's default, where `field` (the schema of `value`) has one.
    fn descend(
        &mut self,
        value: Option<Value>,
        field: Option<&'static Field>,
        path: &[&str],
        expr: &Expr,
    ) -> Value {
        let default = |field: Option<&'static Field>| {
            field.and_then(|f| f.default).map(|d| default_value(d, expr.span))
        };
        let mut current = value.or_else(|| default(field));
        let mut schema = field;
        for key in path {
            match &current {
                Some(value) if value.is_unknown() => break,
                Some(value) => {
                    schema = match schema.map(|field| &field.shape) {
                        Some(Shape::Block(fields)) => fields.iter().find(|child| child.name == *key),
                        _ => None,
                    };
                    current = value.get(key).cloned().or_else(|| default(schema));
                }
                None => break,
            }
        }
        current.unwrap_or_else(|| {
            self.diagnostics.push(
                Diagnostic::error(
                    "stack::unknown_reference",
                    format!("`{}` is not set", expr.text()),
                )
                .primary(expr.span, "no value to refer to")
                .help("set it where it is declared, or refer to something else"),
            );
            Value::new(Data::Unknown, expr.span)
        })
    }

    fn variable(
        &mut self,
        instance: usize,
        name: &str,
        expr: &Expr,
        dependencies: &mut Vec<Dependency>,
    ) -> Option<Value> {
        let Some(declaration) = self.instances[instance].unit.variables.get(name).cloned() else {
            let names: Vec<String> = self.instances[instance].unit.variables.keys().cloned().collect();
            self.diagnostics.push(
                Diagnostic::error(
                    "stack::unknown_variable",
                    format!("there is no variable `{name}`"),
                )
                .primary(expr.span, "unknown variable")
                .help(
                    match crate::suggest::closest(name, names.iter().map(String::as_str)) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("declare it: variable \"{name}\" type=\"string\""),
                    },
                ),
            );
            return None;
        };
        let binding = match self.instances[instance].vars.get(name) {
            Some(Binding::Ready(value)) => Binding::Ready(value.clone()),
            Some(Binding::Argument { value, caller }) => Binding::Argument {
                value: value.clone(),
                caller: *caller,
            },
            None => {
                self.read(instance, || Fact::Variable {
                    name: name.to_owned(),
                    value: None,
                });
                return Some(Value::new(Data::Unknown, expr.span));
            }
        };
        let mut value = match binding {
            Binding::Ready(value) => value,
            Binding::Argument { value, caller } => {
                self.read_opaque();
                let cell = Cell::Var(instance, name.to_owned());
                let evaluated = self.cell(cell, value.span, |this, deps| {
                    let evaluated = this.value(caller, &value, deps);
                    this.bind_argument(caller, &declaration, evaluated)
                })?;
                dependencies.extend(evaluated.dependencies);
                evaluated.value
            }
        };
        value.sensitive |= declaration.sensitive;
        self.read(instance, || Fact::Variable {
            name: name.to_owned(),
            value: Some(value.clone()),
        });
        Some(value)
    }

    /// A variable of the root bound to a value, as expressions read it.
    fn root_variable(&self, name: &str) -> Option<Value> {
        let root = self.instances.get(ROOT)?;
        let declaration = root.unit.variables.get(name)?;
        match root.vars.get(name)? {
            Binding::Ready(value) => Some(Value {
                sensitive: value.sensitive || declaration.sensitive,
                ..value.clone()
            }),
            Binding::Argument { .. } => None,
        }
    }

    /// Checks a module argument against the module's variable, resolving resource names in the caller.
    fn bind_argument(&mut self, caller: usize, declaration: &VariableDecl, value: Value) -> Value {
        let value = match (declaration.ty, &value.data) {
            (VariableType::Resource(kind), Data::Str(name)) => {
                if self.instances[caller]
                    .resources
                    .contains_key(&(kind, name.clone()))
                {
                    Value::new(Data::Ref(self.address(caller, kind, name)), value.span)
                } else {
                    let names: Vec<String> = self.instances[caller]
                        .resources
                        .keys()
                        .filter(|(k, _)| *k == kind)
                        .map(|(_, n)| n.clone())
                        .collect();
                    self.diagnostics.push(
                        Diagnostic::error("stack::unknown_reference", format!("there is no {kind} `{name}`"))
                            .primary(
                                value.span,
                                format!("module parameter `{}` takes a {kind}", declaration.name),
                            )
                            .help(did_you_mean(name, kind, names.iter().map(String::as_str))),
                    );
                    return Value::new(Data::Unknown, value.span);
                }
            }
            _ => value,
        };
        match coerce(declaration.ty, value.clone()) {
            Ok(value) => {
                for problem in check_rules(declaration, &value, value.span) {
                    self.diagnostics.push(problem);
                }
                value
            }
            Err(message) => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "stack::invalid_value",
                        format!(
                            "module parameter `{}` takes {}",
                            declaration.name,
                            crate::variables::with_article(type_name(declaration.ty))
                        ),
                    )
                    .primary(value.span, message)
                    .secondary(declaration.name_span, "declared here"),
                );
                Value::new(Data::Unknown, value.span)
            }
        }
    }
}

impl Root for Evaluator<'_> {
    fn declaration(&self, kind: &'static str, name: &str) -> Option<&ResourceDecl> {
        self.instances.get(ROOT)?.resources.get(&ResourceKey(kind, name))
    }

    fn variable(&self, name: &str) -> Option<Value> {
        self.root_variable(name)
    }
}

/// A module's identity, to tell when a module uses itself.
fn module_key(source: &str, dir: &Path) -> String {
    if source.starts_with(crate::load::STDLIB_PREFIX) {
        return source.to_owned();
    }
    let path = dir.join(source);
    path.canonicalize().unwrap_or(path).display().to_string()
}

/// The name a resource has on the daemon and in text: services by their host
/// name on the stack's networks, everything else as `<stack>_<path>`.
pub fn object_name(stack: &str, address: &Address) -> String {
    match address.kind {
        "service" => address.path_name(),
        _ => format!("{stack}_{}", address.path_name()),
    }
}

/// A schema default (written as KDL) as a value.
fn default_value(default: &str, span: Span) -> Value {
    let data = match default {
        "#true" => Data::Bool(true),
        "#false" => Data::Bool(false),
        _ => match (default.parse::<i64>(), default.parse::<f64>()) {
            (Ok(number), _) => Data::Int(number),
            (_, Ok(number)) => Data::Float(number),
            _ => Data::Str(default.to_owned()),
        },
    };
    Value::new(data, span)
}

impl Dependency {
    pub(crate) fn reference(target: Address, span: Span) -> Self {
        Dependency {
            target,
            span,
            condition: Condition::Exists,
        }
    }
}
