//! Evaluations kept from one check to the next: an editor checks the stack again after every
//! edit, and a root resource whose declaration is the same, and whose every read gives what
//! it gave before, evaluates to what it did then.
//!
//! While a resource is evaluated, what it reads outside its own declaration is recorded: which
//! resources the root declares (and their fields, by identity: an unchanged file keeps its
//! declarations), and the values of the root's variables. A resource whose evaluation reported
//! a problem, or read a module's values, is not kept: it is evaluated afresh each time, so the
//! diagnostics are always those of a check from scratch.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use stack_diagnostics::Span;

use crate::decl::ResourceDecl;
use crate::model::Resource;
use crate::{Data, Value};

/// A declaration's fields: shared by every check that reads its file unchanged.
pub(crate) type Fields = Arc<IndexMap<String, Value>>;

/// What an evaluation read besides its own declaration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reads {
    facts: Vec<Fact>,
    /// It reported a problem, or read what is not recorded (a module's values).
    pub opaque: bool,
}

impl Reads {
    pub fn push(&mut self, fact: Fact) {
        self.facts.push(fact);
    }

    pub fn absorb(&mut self, other: &Reads) {
        self.facts.extend(other.facts.iter().cloned());
        self.opaque |= other.opaque;
    }
}

/// One read of the root's declarations.
#[derive(Debug, Clone)]
pub(crate) enum Fact {
    /// Whether the root declares this resource and, when it does, its fields.
    Resource {
        kind: &'static str,
        name: String,
        fields: Option<Fields>,
    },
    /// The value a variable of the root had, as expressions read it.
    Variable { name: String, value: Option<Value> },
}

/// What the root declares now, to check facts against.
pub(crate) trait Root {
    fn declaration(&self, kind: &'static str, name: &str) -> Option<&ResourceDecl>;
    fn variable(&self, name: &str) -> Option<Value>;
}

impl Fact {
    fn holds(&self, root: &impl Root) -> bool {
        match self {
            Fact::Resource { kind, name, fields } => match (root.declaration(kind, name), fields) {
                (None, None) => true,
                (Some(declaration), Some(fields)) => Arc::ptr_eq(&declaration.fields, fields),
                _ => false,
            },
            Fact::Variable { name, value } => match (root.variable(name), value) {
                (None, None) => true,
                (Some(now), Some(before)) => same(&now, before),
                _ => false,
            },
        }
    }
}

/// Equal, and written at the same place: a value's span shows in diagnostics.
fn same(a: &Value, b: &Value) -> bool {
    a == b && a.span == b.span && !matches!(a.data, Data::List(_) | Data::Map(_))
}

/// A root resource as a check evaluated it, with what it read.
struct Kept {
    fields: Fields,
    name_span: Span,
    dir: PathBuf,
    resource: Resource,
    facts: Vec<Fact>,
}

/// The root's resources evaluated by one check, for one environment.
#[derive(Default)]
pub(crate) struct Environment {
    /// Resources name objects after the stack: another name changes them all.
    stack_name: String,
    kept: HashMap<(&'static str, String), Kept>,
}

impl Environment {
    pub fn new(stack_name: &str) -> Self {
        Environment {
            stack_name: stack_name.to_owned(),
            kept: HashMap::new(),
        }
    }

    /// The resource as evaluated before, when that still holds; it moves to `now`.
    pub fn reuse(
        &mut self,
        root: &impl Root,
        kind: &'static str,
        name: &str,
        now: &mut Environment,
    ) -> Option<Resource> {
        let key = (kind, name.to_owned());
        let kept = self.kept.remove(&key)?;
        let declaration = root.declaration(kind, name)?;
        let unchanged = Arc::ptr_eq(&declaration.fields, &kept.fields)
            && declaration.name_span == kept.name_span
            && declaration.dir == kept.dir
            && kept.facts.iter().all(|fact| fact.holds(root));
        if !unchanged {
            return None;
        }
        let resource = kept.resource.clone();
        now.kept.insert(key, kept);
        Some(resource)
    }

    /// Keeps a resource just evaluated, unless what it read cannot be checked again.
    pub fn keep(&mut self, declaration: &ResourceDecl, name: &str, resource: &Resource, reads: Reads) {
        if reads.opaque {
            return;
        }
        let kept = Kept {
            fields: Arc::clone(&declaration.fields),
            name_span: declaration.name_span,
            dir: declaration.dir.clone(),
            resource: resource.clone(),
            facts: reads.facts,
        };
        self.kept.insert((declaration.kind.name, name.to_owned()), kept);
    }
}

/// The evaluations of the last check, by environment (`None`: the base).
#[derive(Default)]
pub(crate) struct Evaluations {
    environments: HashMap<Option<String>, Environment>,
}

impl Evaluations {
    /// What the last check evaluated for `environment`, under the stack name `stack_name`.
    pub(crate) fn take(&mut self, environment: Option<&str>, stack_name: &str) -> Environment {
        self.environments
            .remove(&environment.map(str::to_owned))
            .filter(|kept| kept.stack_name == stack_name)
            .unwrap_or_else(|| Environment::new(stack_name))
    }

    pub(crate) fn insert(&mut self, environment: Option<&str>, evaluated: Environment) {
        self.environments
            .insert(environment.map(str::to_owned), evaluated);
    }
}
