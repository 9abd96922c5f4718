//! `STACK_TRACE=FILE`: the timed steps `stack` marks as it works (tracing spans, such as each
//! phase of a rollout), appended to FILE as one JSON line per step when it ends. Benchmarks
//! read them to show where the time of an apply goes.
//!
//! `{"step":"rollout.probe","replica":2,"start":1765134000.123,"end":1765134001.678}`: the
//! span's name, its fields, and when it began and ended, in seconds since the Unix epoch so
//! that another process can set them against its own clock.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

pub const FILE_VARIABLE: &str = "STACK_TRACE";

/// Writes the steps to the file `STACK_TRACE` names, when it names one.
pub fn install() -> Result<(), String> {
    let Some(path) = std::env::var_os(FILE_VARIABLE) else {
        return Ok(());
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|error| {
            format!(
                "cannot open {} to write the trace to (${FILE_VARIABLE}): {error}",
                std::path::Path::new(&path).display()
            )
        })?;
    let steps = Steps {
        file: Mutex::new(file),
        open: Mutex::new(HashMap::new()),
        last_id: AtomicU64::new(0),
    };
    tracing::subscriber::set_global_default(steps).map_err(|error| error.to_string())
}

/// The spans of `stack`'s own crates; events and the libraries' spans are left out.
struct Steps {
    file: Mutex<File>,
    /// The spans not closed yet, by id.
    open: Mutex<HashMap<u64, Step>>,
    last_id: AtomicU64,
}

struct Step {
    name: &'static str,
    fields: Map<String, Json>,
    start: f64,
    /// Handles to the span still alive: it ends when the last one is dropped.
    handles: usize,
}

impl Subscriber for Steps {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_span() && metadata.target().starts_with("stack")
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Map::new();
        span.record(&mut Fields(&mut fields));
        // Ids start at 1: 0 is not a valid span id.
        let id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let step = Step {
            name: span.metadata().name(),
            fields,
            start: now(),
            handles: 1,
        };
        lock(&self.open).insert(id, step);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(step) = lock(&self.open).get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut step.fields));
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &Event<'_>) {}

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}

    fn clone_span(&self, span: &Id) -> Id {
        if let Some(step) = lock(&self.open).get_mut(&span.into_u64()) {
            step.handles += 1;
        }
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        let mut open = lock(&self.open);
        let id = span.into_u64();
        let Some(step) = open.get_mut(&id) else {
            return false;
        };
        step.handles = step.handles.saturating_sub(1);
        if step.handles > 0 {
            return false;
        }
        let Some(step) = open.remove(&id) else {
            return false;
        };
        drop(open);
        let mut line = Map::new();
        line.insert("step".to_owned(), Json::from(step.name));
        line.extend(step.fields);
        line.insert("start".to_owned(), Json::from(step.start));
        line.insert("end".to_owned(), Json::from(now()));
        // A trace that cannot be written is no reason to stop an apply.
        let _ = writeln!(lock(&self.file), "{}", Json::Object(line));
        true
    }
}

/// Records a span's fields as JSON values.
struct Fields<'a>(&'a mut Map<String, Json>);

impl Visit for Fields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Json::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Json::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Json::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Json::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Json::from(format!("{value:?}")));
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_line_per_span_when_its_last_handle_goes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("trace");
        let steps = Steps {
            file: Mutex::new(File::create(&path).expect("the trace file")),
            open: Mutex::new(HashMap::new()),
            last_id: AtomicU64::new(0),
        };
        tracing::subscriber::with_default(steps, || {
            let span = tracing::info_span!("rollout.switch", replica = 2_u32, service = "service.web");
            let handle = span.clone();
            drop(span);
            assert_eq!(std::fs::read_to_string(&path).expect("the trace"), "");
            drop(handle);
        });
        let text = std::fs::read_to_string(&path).expect("the trace");
        let line: Json = serde_json::from_str(text.trim()).expect("a JSON line");
        assert_eq!(line["step"], "rollout.switch");
        assert_eq!(line["replica"], 2);
        assert_eq!(line["service"], "service.web");
        let (start, end) = (line["start"].as_f64(), line["end"].as_f64());
        assert!(
            start.is_some_and(|start| end.is_some_and(|end| start > 0.0 && end >= start)),
            "{line}"
        );
    }
}
