//! `stack exec`: a command in a running replica of a service, its exit code passed through.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use futures_util::StreamExt;
use stack_docker::{ExecOutput, ExecSpec};
use stack_language::Address;
use stack_provider::{Instance, Runner};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::session::{Session, find};
use crate::args::StackArgs;
use crate::output::Output;
use crate::terminal::{RawMode, size};

/// How the command is run.
pub(super) struct How {
    pub replica: Option<u32>,
    pub interactive: bool,
    pub tty: bool,
}

pub(super) fn run(
    service: &str,
    stack: &StackArgs,
    how: &How,
    command: Vec<String>,
    output: &Output,
) -> Result<ExitCode, String> {
    let session = match Session::open(stack, false, output) {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let address = find(&session.loaded.stack, service, &["service"])?;
    let daemon = &session.daemon;
    daemon.runtime.block_on(async {
        let instances = session.instances(&address).await?;
        let instance = pick(&address, &instances, how.replica)?;
        let container = reachable(instance, &command)?;
        let spec = ExecSpec {
            command,
            stdin: how.interactive,
            tty: how.tty,
            size: how.tty.then(size).flatten(),
        };
        let (exec, streams) = daemon
            .docker
            .exec(container, &spec)
            .await
            .map_err(|error| error.to_string())?;
        // Keys go to the command as they are typed, not after a line is edited.
        let _raw = match how.tty && how.interactive && std::io::stdin().is_terminal() {
            true => Some(RawMode::enable()?),
            false => None,
        };
        let input = how
            .interactive
            .then(|| tokio::spawn(forward_stdin(streams.input)));
        let resizes = how.tty.then(|| {
            let (docker, exec) = (daemon.docker.clone(), exec.clone());
            tokio::spawn(async move {
                let Ok(mut changes) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
                else {
                    return;
                };
                while changes.recv().await.is_some() {
                    if let Some(size) = size() {
                        let _ = docker.resize_exec(&exec, size).await;
                    }
                }
            })
        });
        let mut written = streams.output;
        while let Some(chunk) = written.next().await {
            let result = match chunk.map_err(|error| error.to_string())? {
                ExecOutput::Stdout(bytes) => write_all(&mut std::io::stdout(), &bytes),
                ExecOutput::Stderr(bytes) => write_all(&mut std::io::stderr(), &bytes),
            };
            result.map_err(|error| format!("cannot write the command's output: {error}"))?;
        }
        for task in [input, resizes].into_iter().flatten() {
            task.abort();
        }
        let code = daemon
            .docker
            .exec_exit_code(&exec)
            .await
            .map_err(|error| error.to_string())?;
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    })
}

/// Replica `number`, or the first healthy one (the first running one where the daemon cannot
/// tell health).
fn pick<'a>(
    address: &Address,
    instances: &'a [Instance],
    number: Option<u32>,
) -> Result<&'a Instance, String> {
    let listed = || {
        let states: Vec<String> = instances
            .iter()
            .map(|instance| {
                let state = match (instance.running, instance.healthy) {
                    (true, Some(false)) => "running, not healthy",
                    (true, _) => "running",
                    (false, _) => "not running",
                };
                format!("{} ({state})", instance.label)
            })
            .collect();
        match states.is_empty() {
            true => "it has no replica on the daemon: `stack apply` creates them".to_owned(),
            false => format!("its replicas: {}", states.join(", ")),
        }
    };
    let found = match number {
        Some(number) => instances
            .iter()
            .find(|instance| instance.number == number && instance.running)
            .ok_or_else(|| format!("{address} has no running replica {number}")),
        // On a swarm, one on the node stack talks to first: only there can it run commands.
        None => [
            (Some(true), true),
            (None, true),
            (Some(true), false),
            (None, false),
        ]
        .into_iter()
        .find_map(|(healthy, here)| {
            instances.iter().find(|instance| {
                instance.running && instance.healthy == healthy && instance.container_here().is_some() == here
            })
        })
        .ok_or_else(|| format!("no replica of {address} is running and healthy")),
    };
    found.map_err(|error| format!("{error}\nhint: {}; --replica N picks one", listed()))
}

/// The container of `instance` on the daemon `stack` talks to. Only a node's own daemon runs
/// commands in its containers: a task of another node of a swarm is an error naming the node
/// and how to reach it.
fn reachable<'a>(instance: &'a Instance, command: &[String]) -> Result<&'a str, String> {
    if let Some(container) = instance.container_here() {
        return Ok(container);
    }
    let Runner::Task(task) = &instance.runner else {
        return Err(format!("{} has no container", instance.label));
    };
    let (Some(node), Some(container)) = (&task.node, &task.container) else {
        return Err(format!(
            "{} has no container yet (its task is {})\nhint: wait until it runs, or pick another with --replica N",
            instance.label, task.state
        ));
    };
    let at = node
        .address
        .as_ref()
        .map_or_else(String::new, |address| format!(" ({address})"));
    let how = match node.manager {
        true => format!(
            "it is a manager: run `stack exec` again with DOCKER_HOST set to its daemon (for example tcp://{}:2375 where it listens on TCP), or on that node",
            node.address.as_deref().unwrap_or(&node.hostname)
        ),
        false => format!(
            "on that node, or with DOCKER_HOST set to its daemon: docker exec {} {}",
            short(container),
            shell_words(command)
        ),
    };
    Err(format!(
        "{} runs on node `{}`{at}, not on the node whose daemon stack talks to: only a node's own daemon runs commands in its containers\nhint: {how}",
        instance.label, node.hostname
    ))
}

/// `command` as a shell reads it back: words with spaces or quotes in single quotes.
fn shell_words(command: &[String]) -> String {
    let quoted = command.iter().map(|word| {
        match word.is_empty() || word.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
            true => format!("'{}'", word.replace('\'', "'\\''")),
            false => word.clone(),
        }
    });
    quoted.collect::<Vec<_>>().join(" ")
}

/// A container id as `docker ps` shows it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Copies standard input to the command until it ends, then closes the command's input.
/// Standard input is read on a thread of its own: a read blocks until a key is typed.
async fn forward_stdin(mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>) {
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buffer = [0; 4096];
        while let Ok(read) = stdin.read(&mut buffer) {
            if read == 0 || sender.blocking_send(buffer[..read].to_vec()).is_err() {
                break;
            }
        }
    });
    while let Some(bytes) = receiver.recv().await {
        if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
            return;
        }
    }
    let _ = input.shutdown().await;
}

fn write_all(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(number: u32, running: bool, healthy: Option<bool>) -> Instance {
        Instance {
            label: format!("web-{number}"),
            number,
            runner: Runner::Container(format!("id{number}")),
            running,
            healthy,
            exit_code: None,
        }
    }

    #[test]
    fn the_first_healthy_replica_unless_one_is_named() {
        let address = Address::new(&[], "service", "web");
        let instances = [
            instance(1, false, None),
            instance(2, true, Some(false)),
            instance(3, true, Some(true)),
        ];
        assert_eq!(pick(&address, &instances, None).expect("a replica").number, 3);
        assert_eq!(pick(&address, &instances, Some(2)).expect("replica 2").number, 2);
        let stopped = pick(&address, &instances, Some(1)).expect_err("replica 1 is stopped");
        assert!(
            stopped.starts_with("service.web has no running replica 1\nhint: its replicas: web-1 (not running), web-2 (running, not healthy), web-3 (running)"),
            "{stopped}"
        );
        let unknown = [instance(1, true, None)];
        assert_eq!(
            pick(&address, &unknown, None).expect("a running replica").number,
            1
        );
        let none = pick(&address, &[], None).expect_err("no replica");
        assert!(none.contains("`stack apply` creates them"), "{none}");
    }

    /// Replica `number` as a running task of a swarm, on node `node`.
    fn task(number: u32, node: &str, here: bool, manager: bool) -> Instance {
        Instance {
            runner: Runner::Task(stack_provider::Task {
                id: format!("task{number}"),
                state: "running".to_owned(),
                container: Some(format!("{number}0123456789abcdef")),
                node: Some(stack_provider::Node {
                    id: format!("id-{node}"),
                    hostname: node.to_owned(),
                    address: Some("10.0.0.12".to_owned()),
                    manager,
                    here,
                }),
            }),
            ..instance(number, true, None)
        }
    }

    #[test]
    fn on_a_swarm_a_task_of_this_node_unless_another_is_named() {
        let address = Address::new(&[], "service", "web");
        let instances = [
            task(1, "worker-1", false, false),
            task(2, "manager-1", true, true),
        ];
        let picked = pick(&address, &instances, None).expect("a replica");
        assert_eq!(picked.number, 2);
        let command = ["sh".to_owned(), "-c".to_owned(), "id -u".to_owned()];
        assert_eq!(reachable(picked, &command), Ok("20123456789abcdef"));

        let elsewhere = pick(&address, &instances, Some(1)).expect("replica 1");
        assert_eq!(
            reachable(elsewhere, &command).expect_err("on another node"),
            "web-1 runs on node `worker-1` (10.0.0.12), not on the node whose daemon stack talks to: only a node's own daemon runs commands in its containers\nhint: on that node, or with DOCKER_HOST set to its daemon: docker exec 10123456789a sh -c 'id -u'"
        );
        let manager = task(3, "manager-2", false, true);
        let hint = reachable(&manager, &command).expect_err("on another manager");
        assert!(
            hint.contains("it is a manager: run `stack exec` again with DOCKER_HOST set to its daemon (for example tcp://10.0.0.12:2375"),
            "{hint}"
        );
    }
}
