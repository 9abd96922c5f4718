//! Running a command in a running container, as `docker exec` does.

use std::pin::Pin;
use std::time::Duration;

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::ResizeExecOptions;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use crate::client::DockerClient;
use crate::error::{DockerError, ObjectRef, Result};

/// What to run, and how it is attached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Whether the command reads what is written to [`Exec::input`].
    pub stdin: bool,
    /// Whether it runs on a terminal of its own; its output is then one stream.
    pub tty: bool,
    /// The terminal's size, columns then rows.
    pub size: Option<(u16, u16)>,
}

/// Output of a running command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    Stdout(bytes::Bytes),
    Stderr(bytes::Bytes),
}

/// A command started in a container.
#[derive(Debug, Clone)]
pub struct Exec {
    id: String,
    container: String,
}

/// What a started command writes, and its standard input.
pub struct ExecStreams {
    /// What it writes, until it ends.
    pub output: Pin<Box<dyn Stream<Item = Result<ExecOutput>> + Send>>,
    /// Its standard input; shut it down to close it.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// How often the exit code is asked for while the daemon still sees the command running.
const EXIT_POLL: Duration = Duration::from_millis(20);
/// How long after its output ended the command may take to be seen as ended.
const EXIT_WAIT: Duration = Duration::from_secs(10);

impl DockerClient {
    /// Starts `spec`'s command in container `container` (a name or an id).
    pub async fn exec(&self, container: &str, spec: &ExecSpec) -> Result<(Exec, ExecStreams)> {
        let object = ObjectRef::container(container);
        let config = ExecConfig {
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(spec.tty),
            cmd: Some(spec.command.clone()),
            console_size: spec
                .size
                .map(|(columns, rows)| vec![usize::from(rows), usize::from(columns)]),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container, config)
            .await
            .map_err(self.error(object.clone()))?;
        let options = StartExecOptions {
            detach: false,
            tty: spec.tty,
            output_capacity: None,
        };
        let started = self
            .docker
            .start_exec(&created.id, Some(options))
            .await
            .map_err(self.error(object.clone()))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(DockerError::Daemon {
                object,
                status: 200,
                message: "the daemon started the command detached".to_owned(),
            });
        };
        let client = self.clone();
        let output = output.filter_map(move |chunk| {
            let chunk = match chunk {
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    Some(Ok(ExecOutput::Stderr(message)))
                }
                Ok(
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message },
                ) => Some(Ok(ExecOutput::Stdout(message))),
                Ok(bollard::container::LogOutput::StdIn { .. }) => None,
                Err(error) => Some(Err(client.error(object.clone())(error))),
            };
            std::future::ready(chunk)
        });
        let exec = Exec {
            id: created.id,
            container: container.to_owned(),
        };
        let streams = ExecStreams {
            output: Box::pin(output),
            input,
        };
        Ok((exec, streams))
    }

    /// Gives the command's terminal a new size, columns then rows.
    pub async fn resize_exec(&self, exec: &Exec, (columns, rows): (u16, u16)) -> Result<()> {
        let options = ResizeExecOptions {
            h: i32::from(rows),
            w: i32::from(columns),
        };
        self.docker
            .resize_exec(&exec.id, options)
            .await
            .map_err(self.error(ObjectRef::container(&exec.container)))
    }

    /// The command's exit code, once its output has ended.
    pub async fn exec_exit_code(&self, exec: &Exec) -> Result<i64> {
        let object = ObjectRef::container(&exec.container);
        let deadline = tokio::time::Instant::now() + EXIT_WAIT;
        loop {
            let inspected = self
                .docker
                .inspect_exec(&exec.id)
                .await
                .map_err(self.error(object.clone()))?;
            match (inspected.running, inspected.exit_code) {
                (Some(false), Some(code)) => return Ok(code),
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(DockerError::Timeout {
                        object,
                        action: "see the command end".to_owned(),
                        after: EXIT_WAIT,
                    });
                }
                _ => tokio::time::sleep(EXIT_POLL).await,
            }
        }
    }
}
