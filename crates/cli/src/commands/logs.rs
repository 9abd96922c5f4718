//! `stack logs`: the output of every replica of services and of jobs, merged in time order,
//! each line after the replica it came from.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use stack_docker::{DockerClient, LogLine, LogRequest};
use stack_language::Address;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::session::{Session, find};
use crate::args::{LogsArgs, StackArgs};
use crate::output::Output;

/// The kinds whose resources run something that writes output.
const KINDS: &[&str] = &["service", "job"];
/// How often a follow looks for replicas started or stopped since.
const DISCOVERY: Duration = Duration::from_secs(1);
/// How long a followed line waits for lines of other replicas written before it.
const SETTLE: Duration = Duration::from_millis(150);

pub(super) fn run(
    names: &[String],
    stack: &StackArgs,
    logs: &LogsArgs,
    output: &Output,
) -> Result<ExitCode, String> {
    let session = match Session::open(stack, false, output) {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let addresses = targets(&session, names)?;
    let request = LogRequest {
        follow: logs.follow,
        since: logs.since,
        tail: logs.tail,
    };
    let mut printer = Printer::new(Output::stdout_color(), logs.timestamps);
    let daemon = &session.daemon;
    daemon.runtime.block_on(async {
        if logs.follow {
            follow(
                &session,
                &addresses,
                &request,
                &HashSet::new(),
                &mut printer,
                std::future::pending(),
            )
            .await
        } else {
            show(&session, &addresses, &request, &mut printer).await
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The resources `names` name, or every service and job when none.
fn targets(session: &Session, names: &[String]) -> Result<Vec<Address>, String> {
    let stack = &session.loaded.stack;
    if names.is_empty() {
        return Ok(stack
            .resources
            .keys()
            .filter(|address| KINDS.contains(&address.kind))
            .cloned()
            .collect());
    }
    names.iter().map(|name| find(stack, name, KINDS)).collect()
}

/// Prints what the instances of `addresses` wrote so far, in time order.
async fn show(
    session: &Session,
    addresses: &[Address],
    request: &LogRequest,
    printer: &mut Printer,
) -> Result<(), String> {
    let mut lines: Vec<(String, LogLine)> = Vec::new();
    for address in addresses {
        for instance in session.instances(address).await? {
            printer.know(&instance.label);
            let mut stream = session.daemon.docker.container_logs(&instance.container, request);
            while let Some(line) = stream.next().await {
                match line {
                    Ok(line) => lines.push((instance.label.clone(), line)),
                    // Removed since it was listed: it has nothing to show any more.
                    Err(error) if error.is_not_found() => break,
                    Err(error) => return Err(error.to_string()),
                }
            }
        }
    }
    // Stable: lines of one replica with the same time keep their order.
    lines.sort_by(|(_, a), (_, b)| a.time.cmp(&b.time));
    printer.print(&lines);
    Ok(())
}

/// One container followed.
struct Followed {
    label: String,
    reader: Option<JoinHandle<()>>,
    /// The time of the last line read from it, to go on after when it starts again.
    last: Option<String>,
}

/// Prints what the instances of `addresses` write until `done`, in time order within a short
/// window: replicas a rollout starts are followed as they appear, those that stop end. The
/// containers of `skip` are left out (a job's run before the one to follow). Once `done`, goes on
/// until every container followed has stopped writing.
pub(super) async fn follow(
    session: &Session,
    addresses: &[Address],
    first: &LogRequest,
    skip: &HashSet<String>,
    printer: &mut Printer,
    done: impl Future<Output = ()>,
) -> Result<(), String> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<(String, LogLine)>();
    let mut followed: HashMap<String, Followed> = HashMap::new();
    let mut waiting: Vec<(Instant, String, LogLine)> = Vec::new();
    let mut at_start = true;
    let mut finishing = false;
    let mut done = std::pin::pin!(done);
    loop {
        for address in addresses {
            for instance in session.instances(address).await? {
                if skip.contains(&instance.container) {
                    continue;
                }
                printer.know(&instance.label);
                let container = instance.container.clone();
                let seen = followed.entry(container.clone()).or_insert_with(|| Followed {
                    label: instance.label.clone(),
                    reader: None,
                    last: None,
                });
                let reading = seen.reader.as_ref().is_some_and(|reader| !reader.is_finished());
                // A container read to its end is read again only once it runs again.
                if reading || (seen.reader.is_some() && !instance.running) {
                    continue;
                }
                let request = match &seen.last {
                    Some(last) => LogRequest {
                        follow: true,
                        since: crate::since::unix_seconds(last),
                        tail: None,
                    },
                    None if at_start => first.clone(),
                    // Started since: all of it.
                    None => LogRequest {
                        follow: true,
                        ..LogRequest::default()
                    },
                };
                let docker = session.daemon.docker.clone();
                let after = seen.last.clone();
                seen.reader = Some(tokio::spawn(read(
                    docker,
                    container,
                    request,
                    after,
                    sender.clone(),
                )));
            }
        }
        at_start = false;
        let all_read = followed
            .values()
            .all(|seen| seen.reader.as_ref().is_none_or(JoinHandle::is_finished));
        if finishing && all_read {
            while let Ok((container, line)) = receiver.try_recv() {
                waiting.push((Instant::now(), container, line));
            }
            flush(&mut waiting, &mut followed, printer, None);
            return Ok(());
        }
        let next_discovery = tokio::time::sleep(DISCOVERY);
        let mut next_discovery = std::pin::pin!(next_discovery);
        let mut ticks = tokio::time::interval(SETTLE / 2);
        loop {
            tokio::select! {
                Some((container, line)) = receiver.recv() => {
                    waiting.push((Instant::now(), container, line));
                }
                _ = ticks.tick() => flush(&mut waiting, &mut followed, printer, Some(SETTLE)),
                () = &mut done, if !finishing => {
                    finishing = true;
                    break;
                }
                () = &mut next_discovery => break,
            }
        }
    }
}

/// Reads a container's lines into `sender`, leaving out those up to `after`.
async fn read(
    docker: DockerClient,
    container: String,
    request: LogRequest,
    after: Option<String>,
    sender: mpsc::UnboundedSender<(String, LogLine)>,
) {
    let mut lines = docker.container_logs(&container, &request);
    // An error ends the reading: the container was removed.
    while let Some(Ok(line)) = lines.next().await {
        if after.as_ref().is_none_or(|after| line.time > *after)
            && sender.send((container.clone(), line)).is_err()
        {
            return;
        }
    }
}

/// Prints the waiting lines that arrived at least `settled` ago (all without it), in time order.
fn flush(
    waiting: &mut Vec<(Instant, String, LogLine)>,
    followed: &mut HashMap<String, Followed>,
    printer: &mut Printer,
    settled: Option<Duration>,
) {
    let now = Instant::now();
    let (mut ready, rest): (Vec<_>, Vec<_>) = std::mem::take(waiting)
        .into_iter()
        .partition(|(arrived, _, _)| settled.is_none_or(|settled| now.duration_since(*arrived) >= settled));
    *waiting = rest;
    ready.sort_by(|(_, _, a), (_, _, b)| a.time.cmp(&b.time));
    let mut lines = Vec::with_capacity(ready.len());
    for (_, container, line) in ready {
        if let Some(seen) = followed.get_mut(&container) {
            seen.last = Some(line.time.clone());
            lines.push((seen.label.clone(), line));
        }
    }
    printer.print(&lines);
}

/// Writes lines after the label of the replica they came from, in its color.
pub(super) struct Printer {
    color: bool,
    timestamps: bool,
    /// The longest label known, to line the lines up.
    width: usize,
}

/// ANSI colors (cyan, yellow, green, magenta, blue, and their bright kin), picked by the label
/// so that a replica keeps its color from one run to the next.
const PALETTE: [u8; 10] = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

impl Printer {
    pub fn new(color: bool, timestamps: bool) -> Printer {
        Printer {
            color,
            timestamps,
            width: 0,
        }
    }

    pub fn know(&mut self, label: &str) {
        self.width = self.width.max(label.len());
    }

    fn print(&self, lines: &[(String, LogLine)]) {
        if lines.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        for (label, line) in lines {
            let _ = writeln!(out, "{}", self.line(label, line));
        }
        let _ = out.flush();
    }

    fn line(&self, label: &str, line: &LogLine) -> String {
        let prefix = format!("{label:<0$} |", self.width);
        let prefix = match self.color {
            true => format!("\x1b[{}m{prefix}\x1b[0m", color_of(label)),
            false => prefix,
        };
        match self.timestamps {
            true => format!("{prefix} {} {}", line.time, line.text),
            false => format!("{prefix} {}", line.text),
        }
    }
}

/// The label's color: FNV-1a of its bytes, so the same on every run.
fn color_of(label: &str) -> u8 {
    let hash = label.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine {
            time: "2026-12-07T16:03:05.100000000Z".to_owned(),
            text: text.to_owned(),
            stderr: false,
        }
    }

    #[test]
    fn lines_start_with_their_replica_lined_up() {
        let mut printer = Printer::new(false, false);
        printer.know("web-1");
        printer.know("migrate");
        assert_eq!(printer.line("web-1", &line("up")), "web-1   | up");
        let printer = Printer::new(false, true);
        assert_eq!(
            printer.line("web-1", &line("up")),
            "web-1 | 2026-12-07T16:03:05.100000000Z up"
        );
    }

    #[test]
    fn a_replica_keeps_its_color() {
        let printer = Printer::new(true, false);
        let painted = printer.line("web-1", &line("up"));
        assert_eq!(painted, format!("\x1b[{}mweb-1 |\x1b[0m up", color_of("web-1")));
        assert_eq!(color_of("web-1"), color_of("web-1"));
        let colors: HashSet<u8> = ["web-1", "web-2", "web-3", "api-1"]
            .iter()
            .map(|label| color_of(label))
            .collect();
        assert!(colors.len() > 1, "replicas share one color");
    }
}
