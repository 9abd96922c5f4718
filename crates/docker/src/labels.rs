//! Labels are how stack finds its objects again: every list call filters by one.

use std::collections::{BTreeMap, HashMap};

/// Labels in a stable order, so specs compare and print the same way every time.
pub type Labels = BTreeMap<String, String>;

/// Selects the objects carrying `key=value`, e.g. `dev.stack.stack=shop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelFilter {
    pub key: String,
    pub value: String,
}

impl LabelFilter {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> LabelFilter {
        LabelFilter {
            key: key.into(),
            value: value.into(),
        }
    }

    /// The `filters` query parameter of the list endpoints.
    pub(crate) fn to_filters(&self) -> HashMap<String, Vec<String>> {
        HashMap::from([("label".to_string(), vec![format!("{}={}", self.key, self.value)])])
    }
}

pub(crate) fn to_hash_map(labels: &Labels) -> HashMap<String, String> {
    labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

pub(crate) fn from_hash_map(labels: Option<HashMap<String, String>>) -> Labels {
    labels.unwrap_or_default().into_iter().collect()
}
