//! The output of a container or of a swarm's task, read once or followed, each line with the time the daemon took it in.

use std::pin::Pin;

use bollard::query_parameters::LogsOptions;
use futures_util::{Stream, StreamExt};

use crate::client::DockerClient;
use crate::error::{ObjectKind, ObjectRef, Result};

/// Which of a container's output to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// Keep reading what it writes until it stops.
    pub follow: bool,
    /// Only what it wrote since this time, in seconds since the Unix epoch.
    pub since: Option<i64>,
    /// Only its last lines.
    pub tail: Option<usize>,
}

/// One line a container wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the daemon took it in, RFC 3339 with nine digits of fraction, so that lines sort by
    /// time as text.
    pub time: String,
    /// The line, without its end.
    pub text: String,
    pub stderr: bool,
}

pub type LogStream = Pin<Box<dyn Stream<Item = Result<LogLine>> + Send>>;

impl DockerClient {
    /// The lines of container `name` (a name or an id), oldest first.
    pub fn container_logs(&self, name: &str, request: &LogRequest) -> LogStream {
        let chunks = self.docker.logs(name, Some(options(request)));
        self.lines(chunks, ObjectRef::container(name))
    }

    /// The lines of a swarm's task, by id, oldest first, read through the manager whichever
    /// node runs it. Swarm's following of a task does not end when the task does: whoever
    /// follows one stops once the task has ended.
    pub fn task_logs(&self, task: &str, request: &LogRequest) -> LogStream {
        let chunks = self.docker.task_logs(task, Some(options(request)));
        self.lines(chunks, ObjectRef::new(ObjectKind::Task, task))
    }

    fn lines(
        &self,
        chunks: impl Stream<Item = std::result::Result<bollard::container::LogOutput, bollard::errors::Error>>
        + Send
        + 'static,
        object: ObjectRef,
    ) -> LogStream {
        let client = self.clone();
        // A chunk is one line or a piece of a long one, each after its timestamp.
        Box::pin(chunks.flat_map(move |chunk| {
            let lines = match chunk {
                Ok(output) => {
                    let stderr = matches!(output, bollard::container::LogOutput::StdErr { .. });
                    split(&String::from_utf8_lossy(output.as_ref()), stderr)
                        .into_iter()
                        .map(Ok)
                        .collect()
                }
                Err(error) => vec![Err(client.error(object.clone())(error))],
            };
            futures_util::stream::iter(lines)
        }))
    }
}

/// The daemon's query for `request`, with each line's time.
fn options(request: &LogRequest) -> LogsOptions {
    LogsOptions {
        follow: request.follow,
        stdout: true,
        stderr: true,
        since: request
            .since
            .map_or(0, |since| i32::try_from(since).unwrap_or(i32::MAX)),
        timestamps: true,
        tail: request
            .tail
            .map_or_else(|| "all".to_owned(), |tail| tail.to_string()),
        ..Default::default()
    }
}

/// The lines of a chunk of output read with timestamps: `TIME TEXT\n`, one or more.
fn split(chunk: &str, stderr: bool) -> Vec<LogLine> {
    let mut lines: Vec<LogLine> = Vec::new();
    for line in chunk.lines() {
        let (time, text) = match line.split_once(' ') {
            Some((time, text)) if looks_like_time(time) => (fixed_time(time), text),
            // A line of a chunk without its own time shares the chunk's.
            _ => (
                lines.last().map(|last| last.time.clone()).unwrap_or_default(),
                line,
            ),
        };
        lines.push(LogLine {
            time,
            text: text.trim_end_matches('\r').to_owned(),
            stderr,
        });
    }
    lines
}

fn looks_like_time(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() >= 20 && bytes[4] == b'-' && bytes[10] == b'T' && word.ends_with('Z')
}

/// `2026-12-07T16:03:05.1234Z` as `2026-12-07T16:03:05.123400000Z`: RFC 3339 drops the
/// fraction's trailing zeros, which would sort `.1234Z` after `.12345Z`.
fn fixed_time(time: &str) -> String {
    let body = time.trim_end_matches('Z');
    let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
    format!("{seconds}.{fraction:0<9}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_after_their_times() {
        let lines = split(
            "2026-12-07T16:03:05.1Z first\n2026-12-07T16:03:05.123456789Z second\r\n",
            true,
        );
        assert_eq!(
            lines,
            [
                LogLine {
                    time: "2026-12-07T16:03:05.100000000Z".to_owned(),
                    text: "first".to_owned(),
                    stderr: true,
                },
                LogLine {
                    time: "2026-12-07T16:03:05.123456789Z".to_owned(),
                    text: "second".to_owned(),
                    stderr: true,
                },
            ]
        );
    }

    #[test]
    fn a_line_without_a_time_takes_the_one_before() {
        let lines = split("2026-12-07T16:03:05Z a\nb c\n", false);
        assert_eq!(lines[0].time, "2026-12-07T16:03:05.000000000Z");
        assert_eq!(lines[1].time, lines[0].time);
        assert_eq!(lines[1].text, "b c");
    }

    #[test]
    fn fixed_times_sort_as_the_times_do() {
        assert!(fixed_time("2026-12-07T16:03:05.1234Z") < fixed_time("2026-12-07T16:03:05.12345Z"));
    }
}
