//! `load`: requests a URL in a loop, resolving its host name before each request as a client
//! behind a service name does, and counts what failed. Rollout tests run it beside an update
//! and read its summary from the container's log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::client;

pub struct Load {
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Stop after this long; `None` runs until SIGTERM.
    pub duration: Option<Duration>,
}

/// What a run saw: answers by body, every failure with its time since the start, and the
/// slowest request (a stall is as bad as a failure to whoever waits for it).
#[derive(Debug, Default)]
pub struct Tally {
    pub answers: BTreeMap<String, u64>,
    pub failures: Vec<(Duration, String)>,
    pub slowest: Duration,
}

impl Tally {
    pub fn requests(&self) -> u64 {
        self.answers.values().sum::<u64>() + self.failures.len() as u64
    }

    /// One line a test can parse: `load: 512 requests, 0 failed, slowest 12ms; v1 200, v2 312`.
    pub fn summary(&self) -> String {
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(body, count)| format!("{body} {count}"))
            .collect();
        format!(
            "load: {} requests, {} failed, slowest {}ms; {}",
            self.requests(),
            self.failures.len(),
            self.slowest.as_millis(),
            answers.join(", ")
        )
    }
}

impl Load {
    /// Runs until `duration` has passed or `stop` is set; each failure is printed as it happens.
    pub fn run(&self, stop: &Arc<AtomicBool>) -> Tally {
        let started = Instant::now();
        let mut tally = Tally::default();
        while !stop.load(Ordering::SeqCst) && self.duration.is_none_or(|limit| started.elapsed() < limit) {
            let sent = Instant::now();
            match client::get(&self.url, self.timeout) {
                Ok(reply) if (200..300).contains(&reply.status) => {
                    let body = String::from_utf8_lossy(&reply.body).trim().to_string();
                    *tally.answers.entry(body).or_default() += 1;
                }
                Ok(reply) => self.fail(&mut tally, started, format!("status {}", reply.status)),
                Err(error) => self.fail(&mut tally, started, error),
            }
            tally.slowest = tally.slowest.max(sent.elapsed());
            std::thread::sleep(self.interval.saturating_sub(sent.elapsed()));
        }
        tally
    }

    fn fail(&self, tally: &mut Tally, started: Instant, error: String) {
        let at = started.elapsed();
        println!("load: failed at {:.3}s: {error}", at.as_secs_f64());
        tally.failures.push((at, error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_answers_and_failures() {
        let mut tally = Tally::default();
        tally.answers.insert("version=v1".into(), 3);
        tally.answers.insert("version=v2".into(), 2);
        tally.failures.push((Duration::from_millis(5), "refused".into()));
        assert_eq!(tally.requests(), 6);
        assert_eq!(
            tally.summary(),
            "load: 6 requests, 1 failed, slowest 0ms; version=v1 3, version=v2 2"
        );
    }

    #[test]
    fn a_run_against_nothing_counts_failures_and_stops_in_time() {
        let load = Load {
            url: "http://127.0.0.1:9/".into(),
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(100),
            duration: Some(Duration::from_millis(100)),
        };
        let tally = load.run(&Arc::new(AtomicBool::new(false)));
        assert!(tally.failures.len() >= 2, "{tally:?}");
        assert!(tally.answers.is_empty());
    }
}
