use std::fmt;

use serde::Serialize;

/// Where a resource lives: its kind and name, inside zero or more module calls.
///
/// Shown as `service.api` or `module.db.service.postgres`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// Aliases of the module calls, outermost first; empty at the root.
    pub module: Vec<String>,
    pub kind: &'static str,
    pub name: String,
}

impl Address {
    pub fn new(module: &[String], kind: &'static str, name: impl Into<String>) -> Self {
        Address {
            module: module.to_vec(),
            kind,
            name: name.into(),
        }
    }

    /// Reads an address back from its text (`service.api`, `module.db.service.postgres`), when
    /// it is one of `kind`.
    pub fn parse(text: &str, kind: &'static str) -> Option<Address> {
        let mut parts: Vec<&str> = text.split('.').collect();
        let name = parts.pop()?;
        if parts.pop()? != kind {
            return None;
        }
        let mut module = Vec::new();
        while let [first, alias, rest @ ..] = parts.as_slice() {
            if *first != "module" {
                return None;
            }
            module.push((*alias).to_owned());
            parts = rest.to_vec();
        }
        parts.is_empty().then(|| Address::new(&module, kind, name))
    }

    /// The name path without the kind, joined by `-`: `api`, `db-postgres`.
    /// Object names on the daemon and host names are built from it.
    pub fn path_name(&self) -> String {
        let mut parts: Vec<&str> = self.module.iter().map(String::as_str).collect();
        parts.push(&self.name);
        parts.join("-")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for alias in &self.module {
            write!(f, "module.{alias}.")?;
        }
        write!(f, "{}.{}", self.kind, self.name)
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_module_path() {
        let address = Address::new(&["db".to_owned()], "service", "postgres");
        assert_eq!(address.to_string(), "module.db.service.postgres");
        assert_eq!(address.path_name(), "db-postgres");
        assert_eq!(
            Address::new(&[], "network", "backend").to_string(),
            "network.backend"
        );
    }
}
