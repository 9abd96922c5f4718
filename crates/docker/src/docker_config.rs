//! The credentials `docker login` left: the Docker client's config file (`$DOCKER_CONFIG` or
//! `~/.docker`, file `config.json`), with its `auths`, `credsStore` and `credHelpers`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::registry::{DEFAULT_REGISTRY, RegistryAuth};

/// The key Docker Hub's credentials have in the config file.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The Docker client's config file, as far as credentials go. A missing file has none.
#[derive(Debug, Default)]
pub struct DockerConfig {
    path: PathBuf,
    /// `auths`, by registry host.
    auths: HashMap<String, RegistryAuth>,
    /// `credsStore`: the helper that keeps every registry's credentials.
    store: Option<String>,
    /// `credHelpers`: a helper per registry host.
    helpers: HashMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(default)]
    auths: HashMap<String, Entry>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
struct Entry {
    /// base64 of `user:password`.
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// What a credential helper answers to `get`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

impl DockerConfig {
    /// Reads `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn load() -> Result<DockerConfig, String> {
        let dir = match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(".docker"),
                None => return Ok(DockerConfig::default()),
            },
        };
        let path = dir.join("config.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => DockerConfig::parse(path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfig::default()),
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }

    fn parse(path: PathBuf, text: &str) -> Result<DockerConfig, String> {
        let file: File = serde_json::from_str(text)
            .map_err(|error| format!("{} is not valid: {error}", path.display()))?;
        let mut auths = HashMap::new();
        for (key, entry) in file.auths {
            if let Some(auth) = entry.credentials() {
                auths.insert(host(&key).to_string(), auth);
            }
        }
        Ok(DockerConfig {
            path,
            auths,
            store: file.creds_store.filter(|store| !store.is_empty()),
            helpers: file
                .cred_helpers
                .into_iter()
                .map(|(key, helper)| (host(&key).to_string(), helper))
                .collect(),
        })
    }

    /// The credentials for `registry` (a host, as [`crate::registry_of`] gives it): from its
    /// credential helper, else `auths`, else the credentials store; `None` when there are none.
    /// Helpers are programs (`docker-credential-NAME`): this blocks while one runs.
    pub fn credentials(&self, registry: &str) -> Result<Option<RegistryAuth>, String> {
        if let Some(helper) = self.helpers.get(registry) {
            return run_helper(helper, registry);
        }
        if let Some(auth) = self.auths.get(registry) {
            return Ok(Some(auth.clone()));
        }
        match &self.store {
            Some(store) => run_helper(store, registry),
            None => Ok(None),
        }
    }

    /// Where the config was read from, for messages.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Entry {
    fn credentials(self) -> Option<RegistryAuth> {
        if let (Some(username), Some(password)) = (self.username, self.password) {
            return Some(RegistryAuth { username, password });
        }
        let decoded = STANDARD.decode(self.auth?.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        Some(RegistryAuth {
            username: username.to_string(),
            password: password.to_string(),
        })
    }
}

/// A config key as a registry host: `https://index.docker.io/v1/` is Docker Hub, and a scheme
/// or path around a host goes.
fn host(key: &str) -> &str {
    if key == DOCKER_HUB_KEY || key == "index.docker.io" {
        return DEFAULT_REGISTRY;
    }
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

/// `docker-credential-HELPER get`, given the registry on its standard input.
fn run_helper(helper: &str, registry: &str) -> Result<Option<RegistryAuth>, String> {
    let program = format!("docker-credential-{helper}");
    let server = if registry == DEFAULT_REGISTRY {
        DOCKER_HUB_KEY
    } else {
        registry
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run the credential helper `{program}`: {error}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|error| format!("`{program} get` did not take the registry's name: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("`{program} get` failed: {error}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout);
        // What helpers print when they keep nothing for the registry.
        if said.to_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "`{program} get` failed for {registry} ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("`{program} get` answered something that is not credentials: {error}"))?;
    Ok(Some(RegistryAuth {
        username: answer.username,
        password: answer.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DockerConfig {
        DockerConfig::parse(PathBuf::from("config.json"), text).unwrap()
    }

    #[test]
    fn auths_give_user_and_password_by_host() {
        let config = config(
            r#"{"auths": {
                "127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0"},
                "https://index.docker.io/v1/": {"username": "bob", "password": "pw"},
                "https://ghcr.io/v2/": {}
            }}"#,
        );
        let alice = RegistryAuth {
            username: "alice".to_string(),
            password: "s3cret".to_string(),
        };
        assert_eq!(config.credentials("127.0.0.1:5000"), Ok(Some(alice)));
        assert_eq!(
            config.credentials("docker.io").unwrap().map(|auth| auth.username),
            Some("bob".to_string())
        );
        assert_eq!(config.credentials("ghcr.io"), Ok(None));
        assert_eq!(config.credentials("elsewhere:5000"), Ok(None));
    }

    #[test]
    fn a_helper_that_cannot_run_is_an_error_naming_it() {
        let config = config(r#"{"credHelpers": {"127.0.0.1:5000": "stack-test-nonexistent"}}"#);
        let error = config.credentials("127.0.0.1:5000").unwrap_err();
        assert!(
            error.contains("docker-credential-stack-test-nonexistent"),
            "{error}"
        );
        // Other registries do not ask it.
        assert_eq!(config.credentials("ghcr.io"), Ok(None));
    }

    #[test]
    fn an_invalid_file_is_an_error_naming_it() {
        let error = DockerConfig::parse(PathBuf::from("/home/u/.docker/config.json"), "{").unwrap_err();
        assert!(error.contains("/home/u/.docker/config.json"), "{error}");
    }
}
