//! Standalone probes: a check of an endpoint, from the machine that runs `stack`, that gates
//! what depends on it.
//!
//! A probe has no daemon object: it is external (the plan shows it as read), `read` finds
//! nothing, and create, update and delete have nothing to do. `wait` runs the check: every
//! `interval` until one passes, failing after `retries` failures in a row (those within
//! `start-period` do not count) or when the scope's ready timeout runs out.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_language::schema::KindSchema;
use stack_language::units::parse_duration;
use stack_language::{Address, Condition, Resource};
use stack_provider::{Config, Desired, Live, Provider, ProviderError, Resolve, Scope, Setting};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common;

/// The most of an HTTP answer read to find its status line.
const MAX_HEAD: usize = 8 * 1024;

pub struct ProbeProvider {
    kind: &'static KindSchema,
}

impl ProbeProvider {
    pub fn new() -> Self {
        ProbeProvider {
            kind: common::builtin_kind("probe"),
        }
    }
}

impl Default for ProbeProvider {
    fn default() -> Self {
        ProbeProvider::new()
    }
}

#[async_trait]
impl Provider for ProbeProvider {
    fn schema(&self) -> &'static KindSchema {
        self.kind
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let config = Config::from_resource(resource, &scope.stack, common::reference(resolve));
        let probe = Probe::parse(resource, &config)?;
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.kind,
            name: common::object_name(scope, &resource.address),
            config,
            outputs: IndexMap::new(),
            external: true,
            source: None,
            payload: Some(Arc::new(probe)),
        })
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

    /// Runs the check until it passes, whatever the condition: a probe is ready once it has.
    async fn wait(
        &self,
        scope: &Scope,
        desired: &Desired,
        _condition: Condition,
    ) -> Result<(), ProviderError> {
        match desired.payload::<Probe>() {
            Some(probe) => probe.wait(scope.ready_timeout).await,
            None => Err(
                ProviderError::new(format!("{} was planned without its check", desired.address))
                    .with_hint("plan again"),
            ),
        }
    }
}

/// A probe as planned: what it checks and how often.
#[derive(Debug)]
struct Probe {
    address: Address,
    check: Check,
    interval: Duration,
    timeout: Duration,
    retries: u32,
    start_period: Duration,
}

/// One check of an endpoint.
#[derive(Debug)]
enum Check {
    /// `GET` of a plain `http://` URL; a 2xx or 3xx status passes.
    Http { url: String, target: HttpTarget },
    /// A TCP connection to `host:port` opens.
    Tcp { address: String },
    /// The program (no shell), run in the directory of the file, exits with 0.
    Exec { command: Vec<String>, dir: PathBuf },
}

#[derive(Debug, PartialEq, Eq)]
struct HttpTarget {
    host: String,
    port: u16,
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    /// The path and query, at least `/`.
    path: String,
}

impl Probe {
    /// Reads the probe from its configuration (which has the defaults filled in); a value that
    /// cannot work is a diagnostic pointing at it.
    fn parse(resource: &Resource, config: &Config) -> Result<Probe, Diagnostic> {
        let span = |field: &str| resource.field(field).map_or(resource.span, |value| value.span);
        let invalid = |field: &str, message: String| {
            Diagnostic::error("stack::invalid_probe", message)
                .primary(span(field), format!("in {}", resource.address))
        };
        let checks: Vec<&str> = ["http", "tcp", "exec"]
            .into_iter()
            .filter(|field| config.get(field).is_some())
            .collect();
        let check = match checks.as_slice() {
            ["http"] => {
                let url = common::text(config, "http").unwrap_or_default().to_owned();
                let target = parse_url(&url).map_err(|message| {
                    invalid("http", message)
                        .help("write a plain http URL like \"http://127.0.0.1:8080/health\"")
                })?;
                Check::Http { url, target }
            }
            ["tcp"] => {
                let address = common::text(config, "tcp").unwrap_or_default().to_owned();
                split_host_port(&address, None).map_err(|message| {
                    invalid("tcp", message).help("write the host and the port, like \"127.0.0.1:5432\"")
                })?;
                Check::Tcp { address }
            }
            ["exec"] => {
                let command: Vec<String> = config
                    .get("exec")
                    .and_then(Setting::as_json)
                    .and_then(serde_json::Value::as_array)
                    .map(|words| {
                        words
                            .iter()
                            .filter_map(|word| word.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if command.is_empty() {
                    return Err(
                        invalid("exec", "the command of the probe is empty".to_owned()).help(
                            "give the program and its arguments: exec \"pg_isready\" \"-h\" \"127.0.0.1\"",
                        ),
                    );
                }
                Check::Exec {
                    command,
                    dir: resource.dir.clone(),
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    "stack::invalid_probe",
                    format!("{} needs exactly one of http, tcp and exec", resource.address),
                )
                .primary(resource.span, format!("{} checks", checks.len()))
                .help("write one check: http \"http://127.0.0.1:8080/health\", tcp \"127.0.0.1:5432\" or exec \"pg_isready\""));
            }
        };
        let duration = |field: &str| {
            let text = common::text(config, field).unwrap_or_default();
            parse_duration(text).map_err(|message| invalid(field, message))
        };
        let retries = config
            .get("retries")
            .and_then(Setting::as_json)
            .and_then(serde_json::Value::as_u64)
            .and_then(|retries| u32::try_from(retries).ok())
            .filter(|retries| *retries > 0)
            .ok_or_else(|| invalid("retries", "`retries` must be a whole number from 1".to_owned()))?;
        Ok(Probe {
            address: resource.address.clone(),
            check,
            interval: duration("interval")?,
            timeout: duration("timeout")?,
            retries,
            start_period: duration("start-period")?,
        })
    }

    /// Checks until a check passes, `retries` fail in a row, or `limit` has passed.
    async fn wait(&self, limit: Duration) -> Result<(), ProviderError> {
        let started = Instant::now();
        let mut failures = 0;
        loop {
            let last = match tokio::time::timeout(self.timeout, self.check.run()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(result)) => result,
                Err(_) => format!("no result within {:?}", self.timeout),
            };
            let elapsed = started.elapsed();
            if elapsed >= self.start_period {
                failures += 1;
            }
            if failures >= self.retries {
                let how = match failures {
                    1 => "failed".to_owned(),
                    _ => format!("failed {failures} times in a row"),
                };
                return Err(self.failed(&how, &last));
            }
            if elapsed + self.interval > limit {
                return Err(self
                    .failed(&format!("did not pass within {limit:?}"), &last)
                    .with_hint(
                        "give it more time with `start-period`, or wait longer for readiness in the apply",
                    ));
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    fn failed(&self, how: &str, last: &str) -> ProviderError {
        ProviderError::new(format!(
            "{}: {} {how}; last result: {last}",
            self.address,
            self.check.describe()
        ))
        .with_hint(
            "the probe runs on the machine that runs `stack` (127.0.0.1 is that machine): check that the endpoint \
             answers there, or give it more time with `retries`, `interval` or `start-period`",
        )
    }
}

impl Check {
    fn describe(&self) -> String {
        match self {
            Check::Http { url, .. } => format!("GET {url}"),
            Check::Tcp { address } => format!("TCP connection to {address}"),
            Check::Exec { command, .. } => format!("`{}`", command.join(" ")),
        }
    }

    /// One check: `Err` says what happened instead of passing.
    async fn run(&self) -> Result<(), String> {
        match self {
            Check::Http { target, .. } => match http_status(target).await? {
                (200..=399, _) => Ok(()),
                (status, line) => Err(format!("answered {status}{line}")),
            },
            Check::Tcp { address } => TcpStream::connect(address.as_str())
                .await
                .map(drop)
                .map_err(|error| error.to_string()),
            Check::Exec { command, dir } => exec(command, dir).await,
        }
    }
}

/// Sends `GET` and reads the status line: the status and the reason phrase after it.
async fn http_status(target: &HttpTarget) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|error| error.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: stack-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|error| format!("sending the request failed: {error}"))?;
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(2).any(|pair| pair == b"\r\n") && head.len() < MAX_HEAD {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|error| format!("reading the answer failed: {error}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.splitn(3, ' ');
    let status = match (words.next(), words.next().and_then(|code| code.parse().ok())) {
        (Some(version), Some(status)) if version.starts_with("HTTP/") => status,
        _ if line.is_empty() => return Err("the connection closed without an answer".to_owned()),
        _ => return Err(format!("answered something that is not HTTP: {line:?}")),
    };
    let reason = words
        .next()
        .map(|reason| format!(" {reason}"))
        .unwrap_or_default();
    Ok((status, reason))
}

async fn exec(command: &[String], dir: &std::path::Path) -> Result<(), String> {
    let Some((program, arguments)) = command.split_first() else {
        return Err("the command is empty".to_owned());
    };
    let mut process = tokio::process::Command::new(program);
    process
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !dir.as_os_str().is_empty() {
        process.current_dir(dir);
    }
    let output = process
        .output()
        .await
        .map_err(|error| format!("cannot run `{program}`: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut result = common::exit_description(output.status);
    if let Some(line) = common::last_line(&output.stderr).or_else(|| common::last_line(&output.stdout)) {
        result.push_str(&format!(": {line}"));
    }
    Err(result)
}

/// Splits `http://host[:port][/path][?query]`; other schemes, and credentials, are refused.
fn parse_url(url: &str) -> Result<HttpTarget, String> {
    let scheme_end = url.find("://").map(|end| end + 3);
    let scheme = scheme_end.map(|end| url[..end].to_ascii_lowercase());
    let rest = match (scheme.as_deref(), scheme_end) {
        (Some("http://"), Some(end)) => &url[end..],
        (Some("https://"), _) => {
            return Err(format!(
                "`{url}`: standalone probes speak plain http, not https; check the port with `tcp`, or run a client with `exec`"
            ));
        }
        _ => return Err(format!("`{url}` is not an http:// URL")),
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path) = match rest.find(['/', '?']) {
        Some(start) => (&rest[..start], &rest[start..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(format!("`{url}`: credentials in probe URLs are not supported"));
    }
    let (host, port) =
        split_host_port(authority, Some(80)).map_err(|message| format!("`{url}`: {message}"))?;
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Ok(HttpTarget {
        host,
        port,
        authority: authority.to_owned(),
        path,
    })
}

/// `host:port`, `[v6]:port`, or a host alone when there is a default port.
fn split_host_port(text: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = match text.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => return Err(format!("`{text}` opens `[` without closing it")),
        },
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    if host.is_empty() {
        return Err(format!("`{text}` names no host"));
    }
    let port = match (port, default_port) {
        (Some(port), _) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| format!("`{port}` is not a port; ports are 1 to 65535"))?,
        (None, Some(default)) => default,
        (None, None) => return Err(format!("`{text}` has no port")),
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;
    use crate::common::testing::{Fixture, NoDependencies, resource};

    fn scope(ready_timeout: Duration) -> Scope {
        Scope {
            stack: "shop".to_owned(),
            ready_timeout,
            registries: Vec::new(),
        }
    }

    async fn desired(fixture: &Fixture, body: &str) -> Result<Desired, Diagnostic> {
        let stack = fixture.load(&format!("probe \"up\" {{\n{body}\n}}\n"));
        let resource = resource(&stack, "probe", "up");
        ProbeProvider::new()
            .desired(&scope(Duration::from_secs(10)), resource, &NoDependencies)
            .await
    }

    /// Plans the probe and waits for it as the engine does.
    async fn wait(body: &str, ready_timeout: Duration) -> Result<(), ProviderError> {
        let fixture = Fixture::new();
        let desired = desired(&fixture, body).await.unwrap();
        assert!(desired.external);
        let provider = ProbeProvider::new();
        provider
            .wait(&scope(ready_timeout), &desired, Condition::Healthy)
            .await
    }

    /// Answers each connection with the next of `statuses`, the last one from then on.
    fn http_server(statuses: &'static [&'static str]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut request = [0; 1024];
                let _ = stream.read(&mut request);
                let status = statuses[index.min(statuses.len() - 1)];
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        port
    }

    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn http_passes_on_2xx_and_3xx() {
        let port = http_server(&["200 OK"]);
        wait(
            &format!("http \"http://127.0.0.1:{port}/health\""),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let port = http_server(&["302 Found"]);
        wait(
            &format!("http \"http://127.0.0.1:{port}\""),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn http_waits_until_the_endpoint_is_up() {
        let port = http_server(&["503 Service Unavailable", "503 Service Unavailable", "200 OK"]);
        let body = format!("http \"http://127.0.0.1:{port}/health\"\ninterval \"50ms\"\nretries 5");
        wait(&body, Duration::from_secs(5)).await.unwrap();
    }

    #[tokio::test]
    async fn a_failing_probe_names_what_it_checked_and_the_last_result() {
        let port = http_server(&["503 Service Unavailable"]);
        let body = format!("http \"http://127.0.0.1:{port}/health\"\ninterval \"10ms\"\nretries 3");
        let error = wait(&body, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(
            error.message,
            format!(
                "probe.up: GET http://127.0.0.1:{port}/health failed 3 times in a row; \
                 last result: answered 503 Service Unavailable"
            )
        );
    }

    #[tokio::test]
    async fn tcp_passes_when_a_connection_opens() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        wait(&format!("tcp \"127.0.0.1:{port}\""), Duration::from_secs(5))
            .await
            .unwrap();

        let port = closed_port();
        let body = format!("tcp \"127.0.0.1:{port}\"\ninterval \"10ms\"\nretries 2");
        let error = wait(&body, Duration::from_secs(5)).await.unwrap_err();
        assert!(
            error.message.starts_with(&format!(
                "probe.up: TCP connection to 127.0.0.1:{port} failed 2 times in a row; last result: Connection refused"
            )),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn exec_runs_a_program_on_this_machine() {
        wait("exec \"true\"", Duration::from_secs(5)).await.unwrap();
        let body =
            "exec \"sh\" \"-c\" \"echo starting; echo not ready >&2; exit 1\"\ninterval \"10ms\"\nretries 1";
        let error = wait(body, Duration::from_secs(5)).await.unwrap_err();
        assert!(
            error.message.ends_with("`sh -c echo starting; echo not ready >&2; exit 1` failed; last result: exited with status 1: not ready"),
            "{}",
            error.message
        );
        let error = wait(
            "exec \"stack-no-such-program\"\nretries 1",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(
            error
                .message
                .contains("last result: cannot run `stack-no-such-program`: "),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn a_check_that_hangs_counts_as_failed_after_its_timeout() {
        let body = "exec \"sleep\" \"5\"\ntimeout \"100ms\"\nretries 1";
        let started = Instant::now();
        let error = wait(body, Duration::from_secs(5)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            error.message.ends_with("last result: no result within 100ms"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn failures_in_the_start_period_do_not_count_but_the_ready_timeout_does() {
        let port = closed_port();
        let body = format!("tcp \"127.0.0.1:{port}\"\ninterval \"50ms\"\nretries 1\nstart-period \"1h\"");
        let started = Instant::now();
        let error = wait(&body, Duration::from_millis(300)).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(
            error.message.contains(&format!(
                "TCP connection to 127.0.0.1:{port} did not pass within 300ms"
            )),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn unusable_checks_are_diagnostics_at_plan_time() {
        let fixture = Fixture::new();
        let error = desired(&fixture, "http \"https://example.com/\"")
            .await
            .unwrap_err();
        assert_eq!(error.code, "stack::invalid_probe");
        assert!(
            error.message.contains("plain http, not https"),
            "{}",
            error.message
        );
        let error = desired(&fixture, "tcp \"127.0.0.1\"").await.unwrap_err();
        assert_eq!(error.message, "`127.0.0.1` has no port");
    }

    #[test]
    fn parses_http_urls() {
        let target = |host: &str, port, authority: &str, path: &str| HttpTarget {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path: path.to_owned(),
        };
        assert_eq!(
            parse_url("http://127.0.0.1:8080/health?full=1#x"),
            Ok(target("127.0.0.1", 8080, "127.0.0.1:8080", "/health?full=1"))
        );
        assert_eq!(parse_url("HTTP://api"), Ok(target("api", 80, "api", "/")));
        assert_eq!(
            parse_url("http://[::1]:81?x"),
            Ok(target("::1", 81, "[::1]:81", "/?x"))
        );
        assert!(parse_url("http://user:pw@api/").is_err());
        assert!(parse_url("ftp://api/").is_err());
        assert!(parse_url("http://:80/").is_err());
    }
}
