//! `stack logs`: the output of every replica of services and of jobs, merged in time order,
//! each line after the replica it came from.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use stack_docker::{DockerClient, LogLine, LogRequest, LogStream};
use stack_language::Address;
use stack_provider::Runner;
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
            let mut stream = output_of(&session.daemon.docker, &instance.runner, request);
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

/// The output of what runs an instance: its container's, or its task's, which a swarm's manager
/// reads from whichever node runs it.
fn output_of(docker: &DockerClient, runner: &Runner, request: &LogRequest) -> LogStream {
    match runner {
        Runner::Container(id) => docker.container_logs(id, request),
        Runner::Task(task) => docker.task_logs(&task.id, request),
    }
}

/// One instance followed, by its id.
struct Followed {
    label: String,
    runner: Runner,
    reader: Option<JoinHandle<()>>,
    /// Whether its reader follows: it ends only once the instance has stopped writing.
    following: bool,
    /// What its first reading asked for.
    first: LogRequest,
    /// The time of the last line received from it, to go on after when it is read again.
    last: Option<String>,
}

impl Followed {
    fn reading(&self) -> bool {
        self.reader.as_ref().is_some_and(|reader| !reader.is_finished())
    }

    /// Starts reading it after its last line, following it while it runs.
    fn read(&mut self, docker: &DockerClient, id: &str, follow: bool, sender: &Sender) {
        let request = match &self.last {
            Some(last) => LogRequest {
                follow,
                since: crate::since::unix_seconds(last),
                tail: None,
            },
            None => LogRequest {
                follow,
                ..self.first.clone()
            },
        };
        self.following = follow;
        let lines = output_of(docker, &self.runner, &request);
        let after = self.last.clone();
        self.reader = Some(tokio::spawn(read(lines, id.to_owned(), after, sender.clone())));
    }
}

type Sender = mpsc::UnboundedSender<(String, LogLine)>;

/// Prints what the instances of `addresses` write until `done`, in time order within a short
/// window: replicas a rollout starts are followed as they appear, those that stop end. The
/// instances of `skip` (by id) are left out (a job's run before the one to follow). Once
/// `done`, goes on until every instance followed has stopped writing.
pub(super) async fn follow(
    session: &Session,
    addresses: &[Address],
    first: &LogRequest,
    skip: &HashSet<String>,
    printer: &mut Printer,
    done: impl Future<Output = ()>,
) -> Result<(), String> {
    let docker = &session.daemon.docker;
    let (sender, mut receiver) = mpsc::unbounded_channel::<(String, LogLine)>();
    let mut followed: HashMap<String, Followed> = HashMap::new();
    let mut waiting: Vec<(Instant, String, LogLine)> = Vec::new();
    let mut at_start = true;
    let mut finishing = false;
    let mut done = std::pin::pin!(done);
    loop {
        let mut listed: HashMap<String, bool> = HashMap::new();
        for address in addresses {
            for instance in session.instances(address).await? {
                if !skip.contains(instance.id()) {
                    printer.know(&instance.label);
                    listed.insert(instance.id().to_owned(), instance.running);
                    followed
                        .entry(instance.id().to_owned())
                        .or_insert_with(|| Followed {
                            label: instance.label.clone(),
                            runner: instance.runner.clone(),
                            reader: None,
                            following: false,
                            // Started since the start: all of it.
                            first: match at_start {
                                true => first.clone(),
                                false => LogRequest::default(),
                            },
                            last: None,
                        });
                }
            }
        }
        // Swarm's following of a task goes on after the task has ended: such a reading stops,
        // and what the task wrote after the last line received is read once more, to its end.
        let ended: Vec<String> = followed
            .iter()
            .filter(|(id, seen)| seen.reading() && seen.following && listed.get(*id) != Some(&true))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ended {
            if let Some(reader) = followed.get_mut(id).and_then(|seen| seen.reader.take()) {
                reader.abort();
                let _ = reader.await;
            }
        }
        if !ended.is_empty() {
            while let Ok((from, line)) = receiver.try_recv() {
                receive(&mut waiting, &mut followed, from, line);
            }
        }
        for id in ended {
            if let Some(seen) = followed.get_mut(&id) {
                seen.read(docker, &id, false, &sender);
            }
        }
        for (id, seen) in &mut followed {
            // Read to its end, it is read again only once it runs again.
            match (seen.reading(), listed.get(id), &seen.reader) {
                (true, _, _) | (_, None, _) | (_, Some(false), Some(_)) => {}
                (false, Some(running), _) => seen.read(docker, id, *running, &sender),
            }
        }
        at_start = false;
        let all_read = followed.values().all(|seen| !seen.reading());
        if finishing && all_read {
            while let Ok((from, line)) = receiver.try_recv() {
                receive(&mut waiting, &mut followed, from, line);
            }
            flush(&mut waiting, &followed, printer, None);
            return Ok(());
        }
        let next_discovery = tokio::time::sleep(DISCOVERY);
        let mut next_discovery = std::pin::pin!(next_discovery);
        let mut ticks = tokio::time::interval(SETTLE / 2);
        loop {
            tokio::select! {
                Some((from, line)) = receiver.recv() => receive(&mut waiting, &mut followed, from, line),
                _ = ticks.tick() => flush(&mut waiting, &followed, printer, Some(SETTLE)),
                () = &mut done, if !finishing => {
                    finishing = true;
                    break;
                }
                () = &mut next_discovery => break,
            }
        }
    }
}

/// Takes in a line of instance `from`, to print once lines of the others written before it
/// had the time to arrive.
fn receive(
    waiting: &mut Vec<(Instant, String, LogLine)>,
    followed: &mut HashMap<String, Followed>,
    from: String,
    line: LogLine,
) {
    if let Some(seen) = followed.get_mut(&from)
        && seen.last.as_ref().is_none_or(|last| line.time > *last)
    {
        seen.last = Some(line.time.clone());
    }
    waiting.push((Instant::now(), from, line));
}

/// Reads `lines` of instance `id` into `sender`, leaving out those up to `after`.
async fn read(mut lines: LogStream, id: String, after: Option<String>, sender: Sender) {
    // An error ends the reading: the container was removed.
    while let Some(Ok(line)) = lines.next().await {
        if after.as_ref().is_none_or(|after| line.time > *after) && sender.send((id.clone(), line)).is_err() {
            return;
        }
    }
}

/// Prints the waiting lines that arrived at least `settled` ago (all without it), in time order.
fn flush(
    waiting: &mut Vec<(Instant, String, LogLine)>,
    followed: &HashMap<String, Followed>,
    printer: &mut Printer,
    settled: Option<Duration>,
) {
    let now = Instant::now();
    let (mut ready, rest): (Vec<_>, Vec<_>) = std::mem::take(waiting)
        .into_iter()
        .partition(|(arrived, _, _)| settled.is_none_or(|settled| now.duration_since(*arrived) >= settled));
    *waiting = rest;
    ready.sort_by(|(_, _, a), (_, _, b)| a.time.cmp(&b.time));
    let lines: Vec<(String, LogLine)> = ready
        .into_iter()
        .filter_map(|(_, from, line)| Some((followed.get(&from)?.label.clone(), line)))
        .collect();
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
