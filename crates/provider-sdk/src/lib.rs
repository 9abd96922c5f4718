//! Write a provider for `stack` in Rust.
//!
//! A provider is a type implementing [`Provider`], close to the trait of the built-in
//! providers; `main` is one line:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     stack_provider_sdk::serve(MyProvider::default())
//! }
//! ```
//!
//! [`serve`] speaks the protocol (spec/providers.md) on standard input and output: it answers
//! the handshake with the provider's kinds, calls `configure` once, then runs every other
//! call on a thread of its own, so slow calls do not hold up the others. Log to standard
//! error: `stack --verbose` shows it.

mod serve;

use std::time::Duration;

use serde_json::{Map, Value};

pub use serve::serve;
pub use stack_protocol::{
    DesiredObject, DriftItem, Effect, FieldSpec, KindSpec, LiveObject, Shape, TypeSpec,
};

/// A failure to show the user: what went wrong with which object, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A provider: its kinds and what each call does to the backend. Calls come from many
/// threads at once; `configure` comes first, alone.
pub trait Provider: Send + Sync + 'static {
    /// The name it is declared under: `provider "NAME"`.
    fn name(&self) -> &str;
    fn version(&self) -> &str;
    fn kinds(&self) -> Vec<KindSpec>;

    /// The fields of its `provider` block; by default none.
    fn config(&self) -> Vec<FieldSpec> {
        Vec::new()
    }

    /// Takes the configuration of the `provider` block, before any other call.
    fn configure(&mut self, _config: &Map<String, Value>) -> Result<()> {
        Ok(())
    }

    /// Every object of `kind` that belongs to `stack`, with the `config` it recorded when it
    /// was last written, and the fields changed since, outside stack, as `drift`.
    fn read(&self, stack: &str, kind: &str) -> Result<Vec<LiveObject>>;

    /// Checks that an object created outside the stack exists; by default it does.
    fn read_external(&self, _stack: &str, _object: &DesiredObject) -> Result<()> {
        Ok(())
    }

    /// Creates the object and records `object.config` with it.
    fn create(&self, stack: &str, object: &DesiredObject) -> Result<()>;

    /// Changes the object in place to `object` (and repairs drift); records `object.config`.
    fn update(&self, stack: &str, object: &DesiredObject, live: &LiveObject) -> Result<()>;

    /// Replaces the object; by default deletes it, then creates it again.
    fn replace(&self, stack: &str, object: &DesiredObject, live: &LiveObject) -> Result<()> {
        self.delete(stack, live)?;
        self.create(stack, object)
    }

    /// Removes the object; one already gone is no error.
    fn delete(&self, stack: &str, live: &LiveObject) -> Result<()>;

    /// Returns once the object is `started`, `healthy` or `completed`, or fails after
    /// `timeout`; by default an object is ready once it exists.
    fn wait(
        &self,
        _stack: &str,
        _object: &DesiredObject,
        _condition: &str,
        _timeout: Duration,
    ) -> Result<()> {
        Ok(())
    }

    /// Changes the object as someone outside stack would, so that `read` reports drift: only
    /// `stack provider check` calls it. `None`, the default, says the provider cannot.
    fn make_drift(&self, _stack: &str, _live: &LiveObject) -> Option<Result<()>> {
        None
    }
}

/// Builds a field of a kind: `field("content", TypeSpec::String)`, then adjust it with
/// struct update syntax (`FieldSpec { required: true, ..field(...) }`).
pub fn field(name: &str, ty: TypeSpec, doc: &str) -> FieldSpec {
    FieldSpec {
        name: name.to_owned(),
        doc: doc.to_owned(),
        ty,
        shape: Shape::Scalar,
        required: false,
        default: None,
        effect: Effect::InPlace,
        sensitive: false,
    }
}
