//! A field's change as nested lines: one per key of a map and per element of a list, each with
//! its own sign (`+` added, `-` removed, `~` changed), so that a review reads what changed and
//! only that. Sensitive entries read `(sensitive)`.

use serde_json::Value as Json;
use similar::{Algorithm, DiffOp, capture_diff_slices};
use stack_provider::{Setting, sensitive_mark};

/// How far each level of nesting is indented.
const STEP: usize = 4;

/// The lines of one field's change, indented by `indent`, with `note` after its first line.
pub(super) fn field_lines(
    indent: usize,
    field: &str,
    before: Option<&Setting>,
    after: Option<&Setting>,
    note: &str,
) -> Vec<String> {
    let before = before.map(as_json);
    let after = after.map(as_json);
    let mut lines = Lines {
        lines: Vec::new(),
        note,
    };
    lines.change(indent, Some(field), before.as_ref(), after.as_ref(), false);
    lines.lines
}

fn as_json(setting: &Setting) -> Json {
    match setting {
        Setting::Plain(value) => value.clone(),
        Setting::Sensitive { sensitive } => serde_json::json!({ "sensitive": sensitive }),
    }
}

struct Lines<'a> {
    lines: Vec<String>,
    /// Said once, after the first line (`# forces replacement`).
    note: &'a str,
}

impl Lines<'_> {
    fn push(&mut self, indent: usize, sign: char, label: Option<&str>, value: Option<&str>) {
        let note = std::mem::take(&mut self.note);
        let line = match (label, value) {
            (Some(label), Some(value)) => format!("{sign} {label}: {value}"),
            (Some(label), None) => format!("{sign} {label}:"),
            (None, Some(value)) => format!("{sign} {value}"),
            (None, None) => sign.to_string(),
        };
        self.lines.push(format!("{}{line}{note}", " ".repeat(indent)));
    }

    /// The change of one value from `before` to `after`; `context` shows an unchanged scalar
    /// too (the name of a network whose aliases changed).
    fn change(
        &mut self,
        indent: usize,
        label: Option<&str>,
        before: Option<&Json>,
        after: Option<&Json>,
        context: bool,
    ) {
        match (before, after) {
            (None, None) => {}
            (None, Some(value)) => self.whole(indent, '+', label, value),
            (Some(value), None) => self.whole(indent, '-', label, value),
            (Some(old), Some(new)) if old == new => {
                if context && is_scalar(new) {
                    self.push(indent, ' ', label, Some(&scalar(new)));
                }
            }
            (Some(old), Some(new)) => match (entries(old), entries(new)) {
                (Some(old), Some(new)) => {
                    self.push(indent, '~', label, None);
                    self.map(indent + STEP, &old, &new, context);
                }
                _ => match (old.as_array(), new.as_array()) {
                    (Some(old), Some(new)) => {
                        self.push(indent, '~', label, None);
                        self.list(indent + STEP, old, new);
                    }
                    _ if is_scalar(old) && is_scalar(new) => self.scalar_change(indent, label, old, new),
                    _ => {
                        self.whole(indent, '-', label, old);
                        self.whole(indent, '+', label, new);
                    }
                },
            },
        }
    }

    /// A value added or removed as a whole: every key and element with the same sign.
    fn whole(&mut self, indent: usize, sign: char, label: Option<&str>, value: &Json) {
        if let Some(map) = entries(value).filter(|map| !map.is_empty()) {
            self.push(indent, sign, label, None);
            for (key, item) in map {
                self.whole(indent + STEP, sign, Some(key), item);
            }
        } else if let Some(items) = value.as_array().filter(|items| !items.is_empty()) {
            self.push(indent, sign, label, None);
            for (index, item) in items.iter().enumerate() {
                self.whole(indent + STEP, sign, element_label(index, item).as_deref(), item);
            }
        } else {
            self.push(indent, sign, label, Some(&scalar(value)));
        }
    }

    /// Two maps: each key added, removed or changed; unchanged keys only as `context`.
    fn map(&mut self, indent: usize, old: &[(&String, &Json)], new: &[(&String, &Json)], context: bool) {
        fn find<'a>(entries: &[(&String, &'a Json)], key: &str) -> Option<&'a Json> {
            entries
                .iter()
                .find(|(name, _)| name.as_str() == key)
                .map(|(_, value)| *value)
        }
        for (key, value) in new {
            self.change(indent, Some(key), find(old, key), Some(value), context);
        }
        for (key, value) in old.iter().filter(|(key, _)| find(new, key).is_none()) {
            self.whole(indent, '-', Some(key), value);
        }
    }

    /// Two lists, element by element: unchanged scalars stay as context, unchanged maps and
    /// lists are left out, and an element changed in place shows what changed in it.
    fn list(&mut self, indent: usize, old: &[Json], new: &[Json]) {
        let keys = |items: &[Json]| -> Vec<String> { items.iter().map(Json::to_string).collect() };
        let (old_keys, new_keys) = (keys(old), keys(new));
        for op in capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys) {
            match op {
                DiffOp::Equal { new_index, len, .. } => {
                    for item in new[new_index..new_index + len]
                        .iter()
                        .filter(|item| is_scalar(item))
                    {
                        self.push(indent, ' ', None, Some(&scalar(item)));
                    }
                }
                DiffOp::Delete {
                    old_index, old_len, ..
                } => self.removed(indent, old, old_index..old_index + old_len),
                DiffOp::Insert {
                    new_index, new_len, ..
                } => self.added(indent, new, new_index..new_index + new_len),
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    let paired = old_len.min(new_len);
                    for offset in 0..paired {
                        let (before, after) = (&old[old_index + offset], &new[new_index + offset]);
                        if is_scalar(before) || is_scalar(after) {
                            self.whole(indent, '-', None, before);
                            self.whole(indent, '+', None, after);
                        } else {
                            let label = element_label(new_index + offset, after);
                            self.change(indent, label.as_deref(), Some(before), Some(after), true);
                        }
                    }
                    self.removed(indent, old, old_index + paired..old_index + old_len);
                    self.added(indent, new, new_index + paired..new_index + new_len);
                }
            }
        }
    }

    fn removed(&mut self, indent: usize, items: &[Json], range: std::ops::Range<usize>) {
        for index in range {
            self.whole(
                indent,
                '-',
                element_label(index, &items[index]).as_deref(),
                &items[index],
            );
        }
    }

    fn added(&mut self, indent: usize, items: &[Json], range: std::ops::Range<usize>) {
        for index in range {
            self.whole(
                indent,
                '+',
                element_label(index, &items[index]).as_deref(),
                &items[index],
            );
        }
    }

    /// A scalar changed: `old -> new` on one line, or a line diff of a text of several lines.
    fn scalar_change(&mut self, indent: usize, label: Option<&str>, old: &Json, new: &Json) {
        let (Some(old_text), Some(new_text)) = (old.as_str(), new.as_str()) else {
            let shown = format!("{} -> {}", scalar(old), scalar(new));
            return self.push(indent, '~', label, Some(&shown));
        };
        if !old_text.contains('\n') && !new_text.contains('\n') {
            let shown = format!("{} -> {}", scalar(old), scalar(new));
            return self.push(indent, '~', label, Some(&shown));
        }
        self.push(indent, '~', label, None);
        for line in similar::TextDiff::from_lines(old_text, new_text).iter_all_changes() {
            let sign = match line.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let text = format!("{:?}", line.value().trim_end_matches('\n'));
            self.push(indent + STEP, sign, None, Some(&text));
        }
    }
}

/// The entries of a map that is not a sensitive value's mark.
fn entries(value: &Json) -> Option<Vec<(&String, &Json)>> {
    match value {
        Json::Object(map) if sensitive_mark(value).is_none() => Some(map.iter().collect()),
        _ => None,
    }
}

/// Whether a value shows on one line: anything but a non-empty map or list.
fn is_scalar(value: &Json) -> bool {
    match value {
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty() || sensitive_mark(value).is_some(),
        _ => true,
    }
}

/// A list element is labelled by its position only when it spreads over several lines.
fn element_label(index: usize, item: &Json) -> Option<String> {
    (!is_scalar(item)).then(|| format!("[{index}]"))
}

/// A value on one line: text quoted, a sensitive value as `(sensitive)`.
fn scalar(value: &Json) -> String {
    if sensitive_mark(value).is_some() {
        return "(sensitive)".to_owned();
    }
    match value {
        Json::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}
