//! The conformance kit behind `stack provider check`: a provider run through a scripted life
//! in a scratch stack, each step said as it passes, fails or is skipped.

use std::path::Path;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Map, Value, json};
use stack_protocol::{
    DesiredObject, ErrorCode, FieldSpec, KindSpec, LiveObject, Read, ReadResult, Shape, TypeSpec, Update,
    WithLive, WithObject, method,
};
use stack_provider::Setting;

use crate::client::{CallError, Client};

/// How many objects the concurrency step creates at once.
const AT_ONCE: usize = 4;

/// How a step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed(String),
    Skipped(String),
}

/// One step: what was checked, and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub verdict: Verdict,
}

/// Runs the provider at `program` (in `dir`) through its life, with `config` as its
/// configuration (fields left out get a made-up value of their type), and tells `report`
/// each step as it ends. `fixed` holds, by `KIND.FIELD`, values the objects get instead of
/// made-up ones and keep throughout (the name of a role that exists on the server).
pub async fn run(
    program: &Path,
    dir: &Path,
    config: &Map<String, Value>,
    fixed: &Map<String, Value>,
    report: &mut dyn FnMut(Step),
) {
    let mut say = |name: &str, verdict: Verdict| {
        report(Step {
            name: name.to_owned(),
            verdict,
        })
    };
    let started = crate::start(
        &provider_name(program),
        program,
        dir,
        Duration::from_secs(30),
        false,
        &crate::builtin_names(),
    )
    .await;
    let external = match started {
        Ok(external) => external,
        Err(error) => return say("handshake and schemas", Verdict::Failed(error)),
    };
    say("handshake and schemas", Verdict::Passed);
    let mut values = config.clone();
    for field in &external.handshake.config {
        if !values.contains_key(&field.name) && (field.required || field.default.is_some()) {
            values.insert(
                field.name.clone(),
                field.default.clone().unwrap_or_else(|| sample(field, 1)),
            );
        }
    }
    external.configure(values).await;
    if let Some(error) = external.unusable() {
        let mut why = error.message.clone();
        if let Some(hint) = &error.hint {
            why.push_str(&format!("\nhint: {hint}"));
        }
        return say("configure", Verdict::Failed(why));
    }
    say("configure", Verdict::Passed);
    let life = Life {
        client: &external.client,
        stack: format!("stackcheck-{}", std::process::id()),
        fixed,
    };
    for kind in &external.handshake.kinds {
        life.kind(kind, &mut say).await;
    }
}

/// `stack-provider-file` provides `file`.
fn provider_name(program: &Path) -> String {
    let file = program
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.strip_prefix(stack_protocol::EXECUTABLE_PREFIX)
        .unwrap_or(&file)
        .to_owned()
}

struct Life<'a> {
    client: &'a Client,
    stack: String,
    fixed: &'a Map<String, Value>,
}

impl Life<'_> {
    async fn kind(&self, kind: &KindSpec, say: &mut dyn FnMut(&str, Verdict)) {
        let step = |what: &str| format!("{}: {what}", kind.name);
        let first = self.object(kind, "check", 1);
        let created = verdict(self.create_and_see(&first).await);
        let failed = created != Verdict::Passed;
        say(&step("create, then read back without drift"), created);
        if failed {
            return;
        }
        let mut current = first;
        for (effect, method, label) in [
            (stack_protocol::Effect::InPlace, method::UPDATE, "update in place"),
            (stack_protocol::Effect::Replace, method::REPLACE, "replace"),
        ] {
            let Some(changed) = self.changed(kind, &current, effect) else {
                say(
                    &step(label),
                    Verdict::Skipped(format!("no field changes by {label}")),
                );
                continue;
            };
            let outcome = verdict(self.change_and_see(method, &changed, &current).await);
            if outcome == Verdict::Passed {
                current = changed;
            }
            say(&step(&format!("{label}, then read back without drift")), outcome);
        }
        let drift = self.drift(&current).await.unwrap_or_else(Verdict::Failed);
        say(&step("drift made outside stack is read, and repaired"), drift);
        say(
            &step("delete, then read: gone"),
            verdict(self.delete_and_see(&current).await),
        );
        let at_once = verdict(self.at_once(kind).await);
        say(
            &step(&format!("{AT_ONCE} objects created and deleted at once")),
            at_once,
        );
    }

    /// An object of `kind` with a value for each field that must have one, or has a default.
    fn object(&self, kind: &KindSpec, name: &str, variant: i64) -> DesiredObject {
        let mut object = DesiredObject {
            kind: kind.name.clone(),
            address: format!("{}.{name}", kind.name),
            name: format!("{}_{name}", self.stack),
            config: Map::new(),
            secrets: Map::new(),
        };
        for field in &kind.fields {
            if let Some(value) = self.fixed_value(kind, field) {
                set(&mut object, field, value.clone());
            } else if field.required || field.default.is_some() {
                let value = field
                    .default
                    .clone()
                    .filter(|_| !field.required)
                    .unwrap_or_else(|| sample(field, variant));
                set(&mut object, field, value);
            }
        }
        object
    }

    async fn read(&self, kind: &str) -> Result<Vec<LiveObject>, String> {
        let params = Read {
            stack: self.stack.clone(),
            kind: kind.to_owned(),
        };
        self.client
            .call::<_, ReadResult>(method::READ, &params)
            .await
            .map(|result| result.objects)
            .map_err(|error| explain(method::READ, &error))
    }

    /// The object as `read` returns it now, checked against what it was last given.
    async fn see(&self, object: &DesiredObject) -> Result<LiveObject, String> {
        let live = self.read(&object.kind).await?;
        let found = live
            .into_iter()
            .find(|live| live.address == object.address)
            .ok_or_else(|| format!("`read` does not return {}", object.address))?;
        if found.config != object.config {
            return Err(format!(
                "`read` returns the configuration {}, not the one last given, {}",
                Value::Object(found.config.clone()),
                Value::Object(object.config.clone())
            ));
        }
        Ok(found)
    }

    async fn no_drift(&self, object: &DesiredObject) -> Result<(), String> {
        let live = self.see(object).await?;
        if live.drift.is_empty() {
            Ok(())
        } else {
            Err(format!("`read` reports drift no one made: {:?}", live.drift))
        }
    }

    async fn create_and_see(&self, object: &DesiredObject) -> Result<(), String> {
        if !self.read(&object.kind).await?.is_empty() {
            return Err(format!(
                "`read` returns objects of stack `{}` before any was created",
                self.stack
            ));
        }
        self.call(method::CREATE, &self.with_object(object)).await?;
        self.no_drift(object).await
    }

    /// `update` or `replace` from what `read` returns of `current` to `changed`, which `read`
    /// then returns without drift.
    async fn change_and_see(
        &self,
        method: &str,
        changed: &DesiredObject,
        current: &DesiredObject,
    ) -> Result<(), String> {
        let live = self.see(current).await?;
        let params = Update {
            stack: self.stack.clone(),
            object: changed.clone(),
            live,
        };
        self.call(method, &params).await?;
        self.no_drift(changed).await
    }

    /// Drift made by `make_drift`, seen by `read` and repaired by `update`; skipped without it.
    async fn drift(&self, object: &DesiredObject) -> Result<Verdict, String> {
        let params = WithLive {
            stack: self.stack.clone(),
            object: self.see(object).await?,
        };
        match self.client.call::<_, Value>(method::MAKE_DRIFT, &params).await {
            Ok(_) => {}
            Err(CallError::Refused(error)) if error.code == ErrorCode::MethodNotFound as i64 => {
                return Ok(Verdict::Skipped("the provider has no `make_drift`".to_owned()));
            }
            Err(error) => return Err(explain(method::MAKE_DRIFT, &error)),
        }
        if self.see(object).await?.drift.is_empty() {
            return Err("`read` reports no drift after `make_drift`".to_owned());
        }
        self.change_and_see(method::UPDATE, object, object).await?;
        Ok(Verdict::Passed)
    }

    async fn delete_and_see(&self, object: &DesiredObject) -> Result<(), String> {
        let params = WithLive {
            stack: self.stack.clone(),
            object: self.see(object).await?,
        };
        self.call(method::DELETE, &params).await?;
        if self
            .read(&object.kind)
            .await?
            .iter()
            .any(|live| live.address == object.address)
        {
            return Err(format!("`read` still returns {} after `delete`", object.address));
        }
        Ok(())
    }

    async fn at_once(&self, kind: &KindSpec) -> Result<(), String> {
        let objects: Vec<DesiredObject> = (0..AT_ONCE)
            .map(|index| self.object(kind, &format!("many-{index}"), 1))
            .collect();
        join_all(objects.iter().map(|object| {
            let params = self.with_object(object);
            async move { self.call(method::CREATE, &params).await }
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<()>, String>>()?;
        let live = self.read(&kind.name).await?;
        if live.len() != AT_ONCE {
            return Err(format!(
                "`read` returns {} objects, not the {AT_ONCE} created",
                live.len()
            ));
        }
        join_all(live.into_iter().map(|object| {
            let params = WithLive {
                stack: self.stack.clone(),
                object,
            };
            async move { self.call(method::DELETE, &params).await }
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<()>, String>>()?;
        let left = self.read(&kind.name).await?.len();
        if left > 0 {
            return Err(format!(
                "`read` still returns {left} objects after deleting them all"
            ));
        }
        Ok(())
    }

    /// The value given for the field with `--field KIND.FIELD=VALUE`.
    fn fixed_value(&self, kind: &KindSpec, field: &FieldSpec) -> Option<&Value> {
        self.fixed.get(&format!("{}.{}", kind.name, field.name))
    }

    /// `current` with the first field of `effect` changed, if the kind has one that is not
    /// fixed.
    fn changed(
        &self,
        kind: &KindSpec,
        current: &DesiredObject,
        effect: stack_protocol::Effect,
    ) -> Option<DesiredObject> {
        let field = kind.fields.iter().find(|field| {
            field.effect == effect
                && self.fixed_value(kind, field).is_none()
                && sample(field, 1) != sample(field, 2)
        })?;
        let mut changed = current.clone();
        let value = if current.value(&field.name) == Some(&sample(field, 2)) {
            sample(field, 1)
        } else {
            sample(field, 2)
        };
        set(&mut changed, field, value);
        Some(changed)
    }

    fn with_object(&self, object: &DesiredObject) -> WithObject {
        WithObject {
            stack: self.stack.clone(),
            object: object.clone(),
        }
    }

    async fn call<P: serde::Serialize>(&self, method: &str, params: &P) -> Result<(), String> {
        self.client
            .call::<_, Value>(method, params)
            .await
            .map(|_| ())
            .map_err(|error| explain(method, &error))
    }
}

fn verdict(outcome: Result<(), String>) -> Verdict {
    outcome.map_or_else(Verdict::Failed, |()| Verdict::Passed)
}

fn explain(method: &str, error: &CallError) -> String {
    format!("`{method}`: {}", error.describe(method))
}

/// Sets a field of the object: a sensitive one as its hash, with its value among the secrets.
fn set(object: &mut DesiredObject, field: &FieldSpec, value: Value) {
    if field.sensitive {
        let salt = format!("{}/{}", object.address, field.name);
        let hashed = Setting::sensitive(&salt, value.to_string().as_bytes());
        object.config.insert(
            field.name.clone(),
            serde_json::to_value(hashed).unwrap_or_default(),
        );
        object.secrets.insert(field.name.clone(), value);
    } else {
        object.config.insert(field.name.clone(), value);
    }
}

/// A value of the field's type; another `variant` gives another value where the type has one.
fn sample(field: &FieldSpec, variant: i64) -> Value {
    let one = match &field.ty {
        TypeSpec::String => json!(format!("check-{variant}")),
        TypeSpec::Int => json!(variant),
        TypeSpec::Float => json!(variant as f64 + 0.5),
        TypeSpec::Bool => json!(variant % 2 == 1),
        TypeSpec::Duration => json!(format!("{variant}s")),
        TypeSpec::Size => json!(format!("{variant}MiB")),
        TypeSpec::Path => json!(format!("check-{variant}")),
        TypeSpec::Enum(options) => {
            let index = usize::try_from(variant - 1)
                .unwrap_or_default()
                .min(options.len().saturating_sub(1));
            json!(options.get(index))
        }
    };
    match field.shape {
        Shape::Scalar => one,
        Shape::List => json!([one]),
        Shape::Map => json!({ "key": one }),
    }
}
