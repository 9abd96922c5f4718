//! The names a stack declares and every place that uses them: what an editor
//! needs to go to a definition, find references and rename.
//!
//! Built from the declarations (before overlays and evaluation), so each name
//! is indexed once, whatever the environment. A module called twice is
//! indexed once: its names live in its own scope.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use stack_diagnostics::{FileId, Sources, Span};

use crate::decl::{Unit, VariableType};
use crate::load::Loader;
use crate::schema::{Field, KindSchema, Shape, Type};
use crate::template::Template;
use crate::{Data, Value};

/// A name declared in a stack or module file.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The name as written, without its quotes.
    pub span: Span,
    /// The unit (the stack, or one module directory) it is declared in.
    pub scope: usize,
}

#[derive(Debug, Clone)]
pub enum SymbolKind {
    Resource(&'static KindSchema),
    Variable {
        ty: &'static str,
        description: Option<String>,
        default: Option<String>,
    },
    /// A `use`: the alias, with the module's path.
    Module {
        source: String,
        /// Whether the call is named with `as="..."`; else its name is the path's last part.
        named: bool,
    },
    Output,
}

impl Symbol {
    /// How expressions name it: `service.api`, `var.replicas`, `module.db`, `output.url`.
    pub fn address(&self) -> String {
        let prefix = match &self.kind {
            SymbolKind::Resource(kind) => kind.name,
            SymbolKind::Variable { .. } => "var",
            SymbolKind::Module { .. } => "module",
            SymbolKind::Output => "output",
        };
        format!("{prefix}.{}", self.name)
    }
}

/// Identifies a symbol in its [`Index`].
pub type SymbolId = usize;

/// A place where a symbol is used: the name only, without quotes or `${`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub symbol: SymbolId,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Index {
    pub symbols: Vec<Symbol>,
    pub references: Vec<Reference>,
    /// The scope of each file read.
    scopes: HashMap<FileId, usize>,
}

impl Index {
    /// Indexes `root` and, through the `loader`, the modules it uses.
    pub(crate) fn build(root: &Arc<Unit>, loader: &mut Loader) -> Index {
        let mut index = Index::default();
        let mut built = HashMap::new();
        let saved = std::mem::take(&mut loader.diagnostics);
        index.unit(root, loader, &mut built);
        // Modules were loaded, and their problems reported, by the evaluation.
        loader.diagnostics = saved;
        index
    }

    /// The symbol declared or used at `offset` of `file`.
    pub fn symbol_at(&self, file: FileId, offset: usize) -> Option<SymbolId> {
        // A cursor just after a name is on it too.
        let covers =
            |span: &Span| span.file == file && (span.start as usize..=span.end as usize).contains(&offset);
        self.symbols
            .iter()
            .position(|symbol| covers(&symbol.span))
            .or_else(|| {
                self.references
                    .iter()
                    .find(|reference| covers(&reference.span))
                    .map(|reference| reference.symbol)
            })
    }

    /// Where `symbol` is used.
    pub fn references_to(&self, symbol: SymbolId) -> impl Iterator<Item = Span> + '_ {
        self.references
            .iter()
            .filter(move |reference| reference.symbol == symbol)
            .map(|reference| reference.span)
    }

    /// The scope of `file`; the stack's own (0) for a file that declares nothing.
    pub fn scope_of(&self, file: FileId) -> usize {
        self.scopes.get(&file).copied().unwrap_or(0)
    }

    /// The symbols declared in `scope`.
    pub fn in_scope(&self, scope: usize) -> impl Iterator<Item = &Symbol> {
        self.symbols.iter().filter(move |symbol| symbol.scope == scope)
    }

    /// Indexes one unit once; returns its scope.
    fn unit(
        &mut self,
        unit: &Arc<Unit>,
        loader: &mut Loader,
        built: &mut HashMap<*const Unit, usize>,
    ) -> usize {
        if let Some(scope) = built.get(&Arc::as_ptr(unit)) {
            return *scope;
        }
        let scope = built.len();
        built.insert(Arc::as_ptr(unit), scope);
        let mut names = Names::default();
        for ((_, name), declaration) in &unit.resources {
            let id = self.declare(
                loader.sources,
                scope,
                name,
                declaration.name_span,
                SymbolKind::Resource(declaration.kind),
            );
            names.resources.insert((declaration.kind.name, name), id);
        }
        for (name, variable) in &unit.variables {
            let ty = match variable.ty {
                VariableType::Resource(kind) => kind,
                other => crate::variables::type_name(other),
            };
            let kind = SymbolKind::Variable {
                ty,
                description: variable.description.clone(),
                default: variable.default.as_ref().map(ToString::to_string),
            };
            let id = self.declare(loader.sources, scope, name, variable.name_span, kind);
            names.variables.insert(name.clone(), id);
        }
        for (alias, call) in &unit.uses {
            let kind = SymbolKind::Module {
                source: call.source.clone(),
                named: call.alias_span != call.source_span,
            };
            let id = self.declare(loader.sources, scope, alias, call.alias_span, kind);
            names.modules.insert(alias.clone(), id);
        }
        for (name, output) in &unit.outputs {
            self.declare(loader.sources, scope, name, output.name_span, SymbolKind::Output);
        }
        let sources: &Sources = loader.sources;
        let mut uses = Uses {
            sources,
            names: &names,
            found: Vec::new(),
        };
        for declaration in unit.resources.values() {
            uses.fields(&declaration.fields, declaration.kind);
        }
        for overlay in &unit.overlays {
            for target in &overlay.targets {
                uses.resource(target.kind.name, &target.name, target.name_span);
                uses.fields(&target.fields, target.kind);
            }
        }
        for output in unit.outputs.values() {
            uses.value(&output.value, None);
        }
        for registry in unit.registries.values() {
            registry.fields.values().for_each(|value| uses.value(value, None));
        }
        let found = uses.found;
        self.references.extend(found);
        for call in unit.uses.values() {
            let Some(module) = loader.load_module(&call.source, &call.dir, call.source_span) else {
                continue;
            };
            let module_scope = self.unit(&module, loader, built);
            let sources: &Sources = loader.sources;
            let mut uses = Uses {
                sources,
                names: &names,
                found: Vec::new(),
            };
            for (parameter, (key_span, value)) in &call.arguments {
                let variable = self.symbols.iter().position(|symbol| {
                    symbol.scope == module_scope
                        && symbol.name == *parameter
                        && matches!(symbol.kind, SymbolKind::Variable { .. })
                });
                if let Some(variable) = variable {
                    uses.found.push(Reference {
                        symbol: variable,
                        span: *key_span,
                    });
                }
                let ty = match module.variables.get(parameter).map(|variable| variable.ty) {
                    Some(VariableType::Resource(kind)) => Some(Type::Ref(kind)),
                    _ => None,
                };
                uses.value(value, ty);
            }
            let found = uses.found;
            self.references.extend(found);
        }
        scope
    }

    fn declare(
        &mut self,
        sources: &Sources,
        scope: usize,
        name: &str,
        span: Span,
        kind: SymbolKind,
    ) -> SymbolId {
        self.scopes.entry(span.file).or_insert(scope);
        self.symbols.push(Symbol {
            name: name.to_owned(),
            kind,
            span: narrow(sources, span, name, 0),
            scope,
        });
        self.symbols.len() - 1
    }
}

/// The names declared in one unit, by what expressions call them.
#[derive(Default)]
struct Names<'u> {
    /// By kind and name.
    resources: HashMap<(&'u str, &'u str), SymbolId>,
    variables: HashMap<String, SymbolId>,
    modules: HashMap<String, SymbolId>,
}

/// Collects the references in the values of one unit.
struct Uses<'a> {
    sources: &'a Sources,
    names: &'a Names<'a>,
    found: Vec<Reference>,
}

impl Uses<'_> {
    fn fields(&mut self, fields: &IndexMap<String, Value>, kind: &'static KindSchema) {
        for (name, value) in fields {
            self.field(value, kind.field(name));
        }
    }

    /// A field's value, read with the field's shape.
    fn field(&mut self, value: &Value, field: Option<&'static Field>) {
        let Some(field) = field else {
            return self.value(value, None);
        };
        if let Data::List(items) = &value.data
            && !matches!(field.shape, Shape::List(_))
        {
            return items.iter().for_each(|item| self.field(item, Some(field)));
        }
        match (&field.shape, &value.data) {
            (Shape::Scalar(ty) | Shape::List(ty), _) => self.value(value, Some(*ty)),
            (Shape::Map(ty), Data::Map(map)) => map.values().for_each(|item| self.value(item, Some(*ty))),
            (Shape::Block(fields), Data::Map(map)) => {
                for (key, item) in map {
                    self.field(item, fields.iter().find(|field| field.name == key));
                }
            }
            (Shape::Record { arg, props, children }, Data::Map(map)) => {
                for (key, item) in map {
                    if let Some(arg) = arg.as_ref().filter(|arg| arg.name == key) {
                        self.value(item, Some(arg.ty));
                    } else if let Some(prop) = props.iter().find(|prop| prop.name == key) {
                        self.value(item, Some(prop.ty));
                    } else {
                        self.field(item, children.iter().find(|child| child.name == key));
                    }
                }
            }
            _ => self.value(value, None),
        }
    }

    /// A value of type `ty` (when known): its `${...}`, or the name it is.
    fn value(&mut self, value: &Value, ty: Option<Type>) {
        match (&value.data, ty) {
            (Data::List(items), _) => items.iter().for_each(|item| self.value(item, ty)),
            (Data::Map(map), _) => map.values().for_each(|item| self.value(item, None)),
            (Data::Template(template), _) => self.template(template),
            (Data::Str(name), Some(Type::Ref(kind))) => self.resource(kind, name, value.span),
            (Data::Str(target), Some(Type::Dependency)) => self.dependency(target, value.span),
            _ => {}
        }
    }

    fn template(&mut self, template: &Template) {
        for part in template.parts() {
            let crate::Part::Expr(expr) = part else { continue };
            let path: Vec<&str> = expr.path.iter().map(String::as_str).collect();
            // Where each segment starts in `${a.b.c}`: after `${`, the spaces and the segments before.
            let text = self.sources.get(expr.span.file).slice(expr.span);
            let inner = text.strip_prefix("${").unwrap_or(text);
            let start = expr.span.start as usize + (text.len() - inner.trim_start().len());
            let segment = |index: usize| {
                let offset: usize = path[..index].iter().map(|part| part.len() + 1).sum();
                Span::new(expr.span.file, start + offset..start + offset + path[index].len())
            };
            let symbol = match path.as_slice() {
                ["var", name, ..] => self.names.variables.get(*name),
                ["module", alias, ..] => self.names.modules.get(*alias),
                [kind, name, ..] => self.names.resources.get(&(*kind, *name)),
                _ => None,
            };
            if let Some(&symbol) = symbol {
                self.found.push(Reference {
                    symbol,
                    span: segment(1),
                });
            }
        }
    }

    /// A resource named by its bare name, at `span` (the quoted string).
    fn resource(&mut self, kind: &str, name: &str, span: Span) {
        if let Some(&symbol) = self.names.resources.get(&(kind, name)) {
            self.found.push(Reference {
                symbol,
                span: narrow(self.sources, span, name, 0),
            });
        }
    }

    /// What `depends-on` names: `"api"`, `"KIND.NAME"` or `"module.ALIAS"`.
    fn dependency(&mut self, target: &str, span: Span) {
        match target.split_once('.') {
            None => self.resource("service", target, span),
            Some(("module", alias)) => {
                if let Some(&symbol) = self.names.modules.get(alias) {
                    self.found.push(Reference {
                        symbol,
                        span: narrow(self.sources, span, target, "module.".len()),
                    });
                }
            }
            Some((kind, name)) => {
                if let Some(&symbol) = self.names.resources.get(&(kind, name)) {
                    self.found.push(Reference {
                        symbol,
                        span: narrow(self.sources, span, target, kind.len() + 1),
                    });
                }
            }
        }
    }
}

/// The part of `span` where `text` is written, from `skip` bytes into it:
/// a name without its quotes. `span` itself when `text` is not found there.
fn narrow(sources: &Sources, span: Span, text: &str, skip: usize) -> Span {
    let written = sources.get(span.file).slice(span);
    match written.find(text) {
        Some(offset) => {
            let start = span.start as usize + offset + skip;
            Span::new(span.file, start..span.start as usize + offset + text.len())
        }
        None => span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Buffers;
    use crate::schema::builtin;

    fn analyze(files: &[(&str, &str)]) -> (Index, Sources) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut buffers = Buffers::new();
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("the module directory");
            }
            // Modules are found on disk; the stack's own files come from buffers only.
            if name.contains('/') {
                std::fs::write(&path, text).expect("a module file");
            }
            buffers.insert(&path, *text);
        }
        let mut sources = Sources::new();
        let analysis = crate::analyze(
            dir.path(),
            &crate::Options::default(),
            &builtin(),
            &mut sources,
            &buffers,
            &mut crate::FileCache::default(),
        );
        (analysis.index, sources)
    }

    fn uses_of<'a>(index: &Index, sources: &'a Sources, address: &str) -> Vec<&'a str> {
        let symbol = index
            .symbols
            .iter()
            .position(|symbol| symbol.address() == address)
            .expect("the symbol");
        index
            .references_to(symbol)
            .map(|span| sources.get(span.file).slice(span))
            .collect()
    }

    #[test]
    fn finds_every_use_of_a_resource() {
        let (index, sources) = analyze(&[
            (
                "stack.kdl",
                "network \"backend\"\nservice \"db\" {\n    image \"postgres:16\"\n    network \"backend\"\n}\nservice \"api\" {\n    image \"api:1\"\n    env {\n        DB \"${service.db}:5432\"\n    }\n    depends-on \"db\"\n    depends-on \"network.backend\"\n}\n",
            ),
            (
                "production.kdl",
                "overlay \"production\" {\n    service \"db\" {\n        replicas 1\n    }\n}\n",
            ),
        ]);
        assert_eq!(uses_of(&index, &sources, "service.db"), ["db", "db", "db"]);
        assert_eq!(
            uses_of(&index, &sources, "network.backend"),
            ["backend", "backend"]
        );
        let db = index
            .symbols
            .iter()
            .find(|symbol| symbol.address() == "service.db")
            .expect("db");
        assert_eq!(sources.get(db.span.file).slice(db.span), "db");
    }

    #[test]
    fn module_calls_and_their_parameters_are_indexed() {
        let (index, sources) = analyze(&[
            (
                "stack.kdl",
                "variable \"size\" default=\"1GiB\"\nnetwork \"net\"\nuse \"./cache\" as=\"sessions\" {\n    network \"net\"\n    memory \"${var.size}\"\n}\nservice \"api\" {\n    image \"api\"\n    env {\n        CACHE \"${module.sessions.host}\"\n    }\n}\n",
            ),
            (
                "cache/module.kdl",
                "variable \"network\" type=\"network\"\nvariable \"memory\" type=\"size\"\nservice \"memcached\" {\n    image \"memcached\"\n    network \"${var.network}\"\n}\noutput \"host\" \"${service.memcached}\"\n",
            ),
        ]);
        assert_eq!(uses_of(&index, &sources, "module.sessions"), ["sessions"]);
        assert_eq!(uses_of(&index, &sources, "network.net"), ["net"]);
        assert_eq!(uses_of(&index, &sources, "var.size"), ["size"]);
        assert_eq!(uses_of(&index, &sources, "var.network"), ["network", "network"]);
        assert_eq!(uses_of(&index, &sources, "service.memcached"), ["memcached"]);
    }
}
