//! The backend set: the replicas' addresses new connections go to, picked round-robin, and a
//! count of open connections per address so that removed backends can be watched draining.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a backend that failed a connect is tried after the others: a replica that died
/// without being removed then costs one connect timeout per period, not every other client.
const FAILURE_PENALTY: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    current: Vec<Ipv4Addr>,
    /// Open connections per backend; an entry goes when its count reaches zero.
    active: BTreeMap<Ipv4Addr, usize>,
    /// Where the next attempt round starts, so consecutive connections take turns.
    next: usize,
    /// Backends whose last connect failed, and until when they go to the back of a round.
    failed: BTreeMap<Ipv4Addr, Instant>,
}

/// Shared by the accept loops, the forwarders and the control API; cheap to clone.
#[derive(Clone, Default)]
pub struct Backends {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Current,
    Draining,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Draining => "draining",
        }
    }
}

impl Backends {
    pub fn new(current: Vec<Ipv4Addr>) -> Backends {
        let backends = Backends::default();
        backends.lock().current = current;
        backends
    }

    /// A poisoned lock only means a thread panicked while holding it; the state is still
    /// whole (every update is a single assignment), so go on rather than take the proxy down.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the set for new connections (open ones stay where they are); returns the
    /// set it replaced.
    pub fn replace(&self, current: Vec<Ipv4Addr>) -> Vec<Ipv4Addr> {
        let mut state = self.lock();
        state.next = 0;
        std::mem::replace(&mut state.current, current)
    }

    pub fn current(&self) -> Vec<Ipv4Addr> {
        self.lock().current.clone()
    }

    /// The backends to try for one connection, in order: the whole set, starting one further
    /// along than the previous round did, those that failed lately last.
    pub fn attempt_order(&self) -> Vec<Ipv4Addr> {
        let mut state = self.lock();
        let count = state.current.len();
        if count == 0 {
            return Vec::new();
        }
        let start = state.next % count;
        state.next = (start + 1) % count;
        let now = Instant::now();
        state.failed.retain(|_, until| *until > now);
        let (before, after) = state.current.split_at(start);
        let (mut order, failed): (Vec<Ipv4Addr>, Vec<Ipv4Addr>) = after
            .iter()
            .chain(before)
            .partition(|ip| !state.failed.contains_key(ip));
        order.extend(failed);
        order
    }

    /// Records a failed connect to `ip`.
    pub fn failed(&self, ip: Ipv4Addr) {
        self.lock().failed.insert(ip, Instant::now() + FAILURE_PENALTY);
    }

    /// Counts a connection as open on `ip` until the returned guard is dropped.
    pub fn open(&self, ip: Ipv4Addr) -> Connection {
        let mut state = self.lock();
        state.failed.remove(&ip);
        *state.active.entry(ip).or_insert(0) += 1;
        Connection {
            backends: self.clone(),
            ip,
        }
    }

    /// Every backend known: the current set in its order, then removed ones that still have
    /// open connections.
    pub fn listing(&self) -> Vec<(Ipv4Addr, Status, usize)> {
        let state = self.lock();
        let active = |ip: &Ipv4Addr| state.active.get(ip).copied().unwrap_or(0);
        let current = state.current.iter().map(|ip| (*ip, Status::Current, active(ip)));
        let draining = state
            .active
            .iter()
            .filter(|(ip, _)| !state.current.contains(ip))
            .map(|(ip, count)| (*ip, Status::Draining, *count));
        current.chain(draining).collect()
    }
}

/// One connection open on a backend.
pub struct Connection {
    backends: Backends,
    ip: Ipv4Addr,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut state = self.backends.lock();
        if let Some(count) = state.active.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.active.remove(&self.ip);
            }
        }
    }
}

/// Reads a set from the control API: one IPv4 address a line, blank lines ignored, an address
/// listed twice kept once.
pub fn parse_list(text: &str) -> Result<Vec<Ipv4Addr>, String> {
    let mut list = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<Ipv4Addr>() {
            Ok(ip) if !list.contains(&ip) => list.push(ip),
            Ok(_) => {}
            Err(_) => errors.push(format!("line {}: {line:?} is not an IPv4 address", index + 1)),
        }
    }
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors.join("\n"))
    }
}

/// `172.20.0.3, 172.20.0.4`, or `none`.
pub fn describe(list: &[Ipv4Addr]) -> String {
    if list.is_empty() {
        return "none".to_string();
    }
    list.iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    #[test]
    fn attempt_rounds_take_turns_and_cover_the_set() {
        let backends = Backends::new(vec![ip(1), ip(2), ip(3)]);
        assert_eq!(backends.attempt_order(), [ip(1), ip(2), ip(3)]);
        assert_eq!(backends.attempt_order(), [ip(2), ip(3), ip(1)]);
        assert_eq!(backends.attempt_order(), [ip(3), ip(1), ip(2)]);
        assert_eq!(backends.attempt_order(), [ip(1), ip(2), ip(3)]);
        backends.replace(vec![ip(4)]);
        assert_eq!(backends.attempt_order(), [ip(4)]);
        backends.replace(Vec::new());
        assert!(backends.attempt_order().is_empty());
    }

    #[test]
    fn a_backend_that_failed_is_tried_last_until_it_answers() {
        let backends = Backends::new(vec![ip(1), ip(2), ip(3)]);
        backends.failed(ip(1));
        assert_eq!(backends.attempt_order(), [ip(2), ip(3), ip(1)]);
        assert_eq!(backends.attempt_order(), [ip(2), ip(3), ip(1)]);
        assert_eq!(backends.attempt_order(), [ip(3), ip(2), ip(1)]);
        drop(backends.open(ip(1)));
        assert_eq!(backends.attempt_order(), [ip(1), ip(2), ip(3)]);
    }

    #[test]
    fn removed_backends_drain_then_are_forgotten() {
        let backends = Backends::new(vec![ip(1)]);
        let old = backends.open(ip(1));
        let old_too = backends.open(ip(1));
        backends.replace(vec![ip(2)]);
        let new = backends.open(ip(2));
        assert_eq!(
            backends.listing(),
            [(ip(2), Status::Current, 1), (ip(1), Status::Draining, 2)]
        );
        drop(old);
        drop(new);
        assert_eq!(
            backends.listing(),
            [(ip(2), Status::Current, 0), (ip(1), Status::Draining, 1)]
        );
        drop(old_too);
        assert_eq!(backends.listing(), [(ip(2), Status::Current, 0)]);
    }

    #[test]
    fn parses_lists_and_names_every_bad_line() {
        assert_eq!(
            parse_list("10.0.0.1\n\n 10.0.0.2 \r\n10.0.0.1\n"),
            Ok(vec![ip(1), ip(2)])
        );
        assert_eq!(parse_list(""), Ok(Vec::new()));
        assert_eq!(
            parse_list("10.0.0.1\nweb\n::1\n"),
            Err("line 2: \"web\" is not an IPv4 address\nline 3: \"::1\" is not an IPv4 address".to_string())
        );
    }

    #[test]
    fn describes_a_set_for_the_log() {
        assert_eq!(describe(&[ip(3), ip(4)]), "10.0.0.3, 10.0.0.4");
        assert_eq!(describe(&[]), "none");
    }
}
