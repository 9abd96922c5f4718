//! What `docker-compose config` prints, read with yaml-rust2's own loader.

use yaml_rust2::{Yaml as Raw, YamlLoader};

pub struct Yaml(Raw);

pub fn parse_yaml(text: &str) -> Yaml {
    let mut documents = YamlLoader::load_from_str(text).expect("docker-compose prints YAML");
    Yaml(documents.pop().unwrap_or(Raw::Null))
}

impl Yaml {
    pub fn get(&self, key: &str) -> Option<Yaml> {
        match &self.0[key] {
            Raw::BadValue => None,
            value => Some(Yaml(value.clone())),
        }
    }

    pub fn text(&self) -> Option<String> {
        match &self.0 {
            Raw::String(text) | Raw::Real(text) => Some(text.clone()),
            Raw::Integer(number) => Some(number.to_string()),
            Raw::Boolean(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match &self.0 {
            Raw::Integer(number) => Some(*number),
            Raw::String(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn items(&self) -> Vec<Yaml> {
        match &self.0 {
            Raw::Array(items) => items.iter().cloned().map(Yaml).collect(),
            _ => Vec::new(),
        }
    }

    /// A mapping's entries, or a list's items as keys with no value.
    pub fn entries(&self) -> Vec<(String, Yaml)> {
        match &self.0 {
            Raw::Hash(entries) => entries
                .iter()
                .filter_map(|(key, value)| Some((Yaml(key.clone()).text()?, Yaml(value.clone()))))
                .collect(),
            Raw::Array(items) => items
                .iter()
                .filter_map(|item| Some((Yaml(item.clone()).text()?, Yaml(Raw::Null))))
                .collect(),
            _ => Vec::new(),
        }
    }
}
