//! Secrets on a single host: a value read when the stack is planned, from exactly one source,
//! and handed to the service provider, which copies it into containers under /run/secrets.
//!
//! There is no daemon object: a secret is external (the plan shows it as read), `read` finds
//! nothing and create, update and delete have nothing to do. Its configuration holds the
//! content only as a hash, which services record, so that a new value rolls them. The value
//! itself is only in [`Desired::payload`], never in a configuration, a message or a label.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_language::schema::KindSchema;
use stack_language::{Resource, Value};
use stack_provider::{
    Config, Desired, Live, Provider, ProviderError, Resolve, Scope, Setting, Source, salt, sensitive_hash,
    short_version,
};

use crate::common;

/// The diagnostic code of every failure to read a secret.
const CODE: &str = "stack::secret_source";

pub struct SecretProvider {
    kind: &'static KindSchema,
}

/// How a variable of the `stack` process's environment is looked up (tests give their own).
type Environment<'a> = &'a (dyn Fn(&str) -> Option<OsString> + Sync);

impl SecretProvider {
    pub fn new() -> Self {
        SecretProvider {
            kind: common::builtin_kind("secret"),
        }
    }

    /// The desired state of a secret whose content has been read.
    fn desired_with(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
        content: Vec<u8>,
    ) -> Desired {
        let mut config = Config::from_resource(resource, &scope.stack, common::reference(resolve));
        let hash = sensitive_hash(&salt(&scope.stack, &resource.address, "content"), &content);
        let version = short_version(&hash);
        let source = resource
            .fields
            .iter()
            .find(|(field, _)| field.starts_with("from-"))
            .map(|(field, value)| Source {
                field: field.clone(),
                name: words(value).join(" "),
                version: version.clone(),
            });
        config.0.insert(
            "content".to_owned(),
            Setting::Sensitive {
                sensitive: hash.clone(),
            },
        );
        Desired {
            address: resource.address.clone(),
            kind: self.kind,
            name: common::object_name(scope, &resource.address),
            config,
            outputs: IndexMap::from([("hash".to_owned(), hash), ("version".to_owned(), version)]),
            external: true,
            source,
            payload: Some(Arc::new(content)),
        }
    }
}

impl Default for SecretProvider {
    fn default() -> Self {
        SecretProvider::new()
    }
}

#[async_trait]
impl Provider for SecretProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let content = read_content(resource, &|name| std::env::var_os(name)).await?;
        Ok(self.desired_with(scope, resource, resolve, content))
    }

    async fn read(&self, _scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        Ok(Vec::new())
    }

    async fn create(&self, _scope: &Scope, _desired: &Desired) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn update(&self, _scope: &Scope, _desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn delete(&self, _scope: &Scope, _live: &Live) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// Reads the secret's value from its one source.
async fn read_content(resource: &Resource, env: Environment<'_>) -> Result<Vec<u8>, Diagnostic> {
    let sources: Vec<(&String, &Value)> = resource
        .fields
        .iter()
        .filter(|(field, _)| field.starts_with("from-"))
        .collect();
    let [(field, value)] = sources.as_slice() else {
        return Err(
            Diagnostic::error(CODE, format!("{} needs exactly one source", resource.address))
                .primary(resource.span, format!("{} sources", sources.len()))
                .help("give one of from-env \"NAME\", from-file \"/path\" or from-command \"program\""),
        );
    };
    match field.as_str() {
        "from-env" => from_env(resource, value, env),
        "from-file" => from_file(resource, value, env),
        _ => from_command(resource, value).await,
    }
}

fn from_env(resource: &Resource, value: &Value, env: Environment<'_>) -> Result<Vec<u8>, Diagnostic> {
    let variable = value.as_str().unwrap_or_default();
    match env(variable) {
        Some(content) => Ok(content.into_vec()),
        None => Err(problem(
            resource,
            value,
            format!(
                "the environment variable `{variable}` that {} reads is not set",
                resource.address
            ),
        )
        .help(format!(
            "set it where `stack` runs: `export {variable}=...` beforehand, or `{variable}=... stack apply`"
        ))),
    }
}

fn from_file(resource: &Resource, value: &Value, env: Environment<'_>) -> Result<Vec<u8>, Diagnostic> {
    let written = value.as_str().unwrap_or_default();
    let path = match written.strip_prefix("~/") {
        Some(rest) => match env("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => {
                return Err(problem(
                    resource,
                    value,
                    format!(
                        "`{written}` of {} starts with `~/`, but HOME is not set",
                        resource.address
                    ),
                )
                .help("set HOME, or write the path in full"));
            }
        },
        None => resource.dir.join(written),
    };
    std::fs::read(&path).map_err(|error| {
        problem(
            resource,
            value,
            format!(
                "cannot read the file of {}: {}: {error}",
                resource.address,
                path.display()
            ),
        )
        .help(
            "check the path (a relative one starts at the directory of the file declaring the secret, \
             `~/` at your home) and that the user running `stack` may read the file",
        )
    })
}

/// Runs the program (no shell) in the directory of the file; its output, less one trailing
/// newline, is the value. Its error output may be quoted; its standard output never is.
async fn from_command(resource: &Resource, value: &Value) -> Result<Vec<u8>, Diagnostic> {
    let words = words(value);
    let Some((program, arguments)) = words.split_first() else {
        return Err(problem(
            resource,
            value,
            format!("the command of {} is empty", resource.address),
        )
        .help("give the program and its arguments: from-command \"pass\" \"show\" \"shop/token\""));
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !resource.dir.as_os_str().is_empty() {
        command.current_dir(&resource.dir);
    }
    let output = command.output().await.map_err(|error| {
        problem(
            resource,
            value,
            format!("cannot run `{program}` for {}: {error}", resource.address),
        )
        .help(
            "install the program or give its full path; it runs without a shell, \
             in the directory of the file declaring the secret",
        )
    })?;
    if !output.status.success() {
        let mut message = format!(
            "the command of {} failed: `{}` {}",
            resource.address,
            words.join(" "),
            common::exit_description(output.status)
        );
        if let Some(line) = common::last_line(&output.stderr) {
            message.push_str(&format!(": {line}"));
        }
        return Err(problem(resource, value, message)
            .help("run the command yourself to see why; its output is the secret, so stack never shows it"));
    }
    let mut content = output.stdout;
    if content.last() == Some(&b'\n') {
        content.pop();
    }
    Ok(content)
}

/// The words of a command line (or the one word of a variable's name, a path).
fn words(value: &Value) -> Vec<&str> {
    value.as_list().iter().filter_map(Value::as_str).collect()
}

/// A diagnostic about the secret, pointing at it and at its source.
fn problem(resource: &Resource, source: &Value, message: String) -> Diagnostic {
    Diagnostic::error(CODE, message)
        .primary(resource.span, "this secret")
        .secondary(source.span, "is read from here")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::{Fixture, NoDependencies, resource};

    const VALUE: &str = "s3cr3t-value-do-not-show";

    fn env(name: &str) -> Option<OsString> {
        match name {
            "DB_PASSWORD" => Some(OsString::from(VALUE)),
            "HOME" => std::env::var_os("CARGO_MANIFEST_DIR"),
            _ => None,
        }
    }

    /// The secret `token` declared with `source` in a stack of `fixture`, or its diagnostic.
    async fn secret(fixture: &Fixture, source: &str) -> Result<Desired, Diagnostic> {
        let stack = fixture.load(&format!("secret \"token\" {{\n    {source}\n}}\n"));
        let resource = resource(&stack, "secret", "token");
        let scope = Scope {
            stack: "shop".to_owned(),
            ready_timeout: std::time::Duration::from_secs(5),
            registries: Vec::new(),
        };
        let content = read_content(resource, &env).await.inspect_err(|error| {
            assert_eq!(error.code, CODE);
            assert_eq!(error.primary_span(), Some(resource.span));
            assert_hidden_in(error);
        })?;
        Ok(SecretProvider::new().desired_with(&scope, resource, &NoDependencies, content))
    }

    fn payload(desired: &Desired) -> Vec<u8> {
        desired.payload::<Vec<u8>>().cloned().unwrap_or_default()
    }

    /// The value must be nowhere but in the payload.
    fn assert_hidden(desired: &Desired) {
        for shown in [desired.config.to_json(), format!("{desired:?}")] {
            assert!(!shown.contains(VALUE), "the value shows in {shown}");
        }
    }

    fn assert_hidden_in(diagnostic: &Diagnostic) {
        let shown = format!("{diagnostic:?}");
        assert!(!shown.contains(VALUE), "the value shows in {shown}");
    }

    #[tokio::test]
    async fn reads_the_environment_of_stack() {
        let desired = secret(&Fixture::new(), "from-env \"DB_PASSWORD\"").await.unwrap();
        assert_eq!(payload(&desired), VALUE.as_bytes());
        assert!(desired.external);
        assert_eq!(desired.name, "shop_token");
        assert_eq!(
            desired.config.get("content"),
            Some(&Setting::sensitive("shop/secret.token/content", VALUE.as_bytes()))
        );
        assert_eq!(
            desired.config.get("from-env"),
            Some(&Setting::Plain(serde_json::json!("DB_PASSWORD")))
        );
        let Some(Setting::Sensitive { sensitive }) = desired.config.get("content") else {
            panic!("the content is not hashed");
        };
        assert_eq!(desired.outputs.get("hash"), Some(sensitive));
        assert_hidden(&desired);
    }

    #[tokio::test]
    async fn a_missing_variable_says_how_to_set_it() {
        let error = secret(&Fixture::new(), "from-env \"API_TOKEN\"")
            .await
            .unwrap_err();
        assert_eq!(
            error.message,
            "the environment variable `API_TOKEN` that secret.token reads is not set"
        );
        assert!(error.help.unwrap_or_default().contains("export API_TOKEN="));
    }

    #[tokio::test]
    async fn reads_files_byte_for_byte() {
        let fixture = Fixture::new();
        let file = fixture.outside("token");
        std::fs::write(&file, format!("{VALUE}\n")).unwrap();
        let absolute = secret(&fixture, &format!("from-file \"{}\"", file.display()))
            .await
            .unwrap();
        assert_eq!(payload(&absolute), format!("{VALUE}\n").as_bytes());
        assert_hidden(&absolute);

        // Relative to the directory of the file, and `~/` from HOME.
        let relative = secret(&fixture, "from-file \"../token\"").await.unwrap();
        assert_eq!(payload(&relative), payload(&absolute));
        let home = secret(&fixture, "from-file \"~/Cargo.toml\"").await.unwrap();
        assert!(String::from_utf8_lossy(&payload(&home)).contains("stack-providers"));
    }

    #[tokio::test]
    async fn an_unreadable_file_names_the_path() {
        let error = secret(&Fixture::new(), "from-file \"/nonexistent/stack/token\"")
            .await
            .unwrap_err();
        assert!(
            error
                .message
                .starts_with("cannot read the file of secret.token: /nonexistent/stack/token: "),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn runs_commands_without_a_shell_and_drops_one_newline() {
        let fixture = Fixture::new();
        let file = fixture.outside("value");
        std::fs::write(&file, format!("{VALUE}\n\n")).unwrap();
        let desired = secret(&fixture, &format!("from-command \"cat\" \"{}\"", file.display()))
            .await
            .unwrap();
        assert_eq!(payload(&desired), format!("{VALUE}\n").as_bytes());
        assert_hidden(&desired);
        // No shell: `$HOME` is passed as it is.
        let literal = secret(&fixture, "from-command \"printf\" \"%s\" \"$HOME\"")
            .await
            .unwrap();
        assert_eq!(payload(&literal), b"$HOME");
    }

    #[tokio::test]
    async fn a_failing_command_shows_its_error_output_never_its_output() {
        let fixture = Fixture::new();
        let value = fixture.outside("value");
        std::fs::write(&value, VALUE).unwrap();
        let script = format!(
            "cat {}; echo first problem >&2; echo 'no such entry' >&2; exit 3",
            value.display()
        );
        let error = secret(&fixture, &format!("from-command \"sh\" \"-c\" \"{script}\""))
            .await
            .unwrap_err();
        assert_eq!(
            error.message,
            format!(
                "the command of secret.token failed: `sh -c {script}` exited with status 3: no such entry"
            )
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let error = secret(&Fixture::new(), "from-command \"stack-no-such-program\" \"x\"")
            .await
            .unwrap_err();
        assert!(
            error
                .message
                .starts_with("cannot run `stack-no-such-program` for secret.token: "),
            "{}",
            error.message
        );
    }
}
