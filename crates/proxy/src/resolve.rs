//! The resolve mode (`--resolve NAME`): the backend set follows what a name resolves to,
//! looked up again every interval, instead of what `PUT /backends` says.
//!
//! On a swarm, Docker's DNS answers `tasks.SERVICE` with the addresses of the service's tasks
//! that are in its load balancing: a task is added once its health check passes, and removed
//! before it is stopped (Swarm then waits about two seconds before it stops the container).
//! Following that name, the proxy sends new connections to healthy tasks only and stops
//! sending to an old one before it goes away.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::backends::{self, Backends};

/// The addresses `name` resolves to (IPv4 only, as the rest of the proxy), sorted, each once.
pub fn lookup(name: &str) -> Result<Vec<Ipv4Addr>, String> {
    let resolved = (name, 0)
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {name}: {error}"))?;
    let mut addresses: Vec<Ipv4Addr> = resolved
        .filter_map(|address| match address.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    Ok(addresses)
}

/// Keeps `backends` equal to what `name` resolves to, looking it up every `interval` until
/// `stopping` is set. A name that does not resolve (no task is healthy: Docker's DNS then has
/// no answer) is an empty set: held clients wait for the next answer rather than go to
/// addresses that may be gone. Each change is logged once.
pub fn follow(
    name: &str,
    interval: Duration,
    backends: &Backends,
    stopping: &AtomicBool,
    lookup: impl Fn(&str) -> Result<Vec<Ipv4Addr>, String>,
) {
    let mut last_error = None;
    while !stopping.load(Ordering::SeqCst) {
        let found = match lookup(name) {
            Ok(found) => {
                last_error = None;
                found
            }
            Err(error) => {
                if last_error.as_ref() != Some(&error) {
                    eprintln!("{error}");
                    last_error = Some(error);
                }
                Vec::new()
            }
        };
        if backends.current() != found {
            backends.replace(found.clone());
            println!("backends: {}", backends::describe(&found));
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    #[test]
    fn looks_names_up_as_sorted_ipv4_addresses() {
        let found = lookup("localhost").expect("localhost resolves");
        assert!(found.contains(&Ipv4Addr::LOCALHOST), "{found:?}");
        assert_eq!(lookup("10.0.0.7"), Ok(vec![ip(7)]));
        let error = lookup("no-such-name.invalid").expect_err("an .invalid name never resolves");
        assert!(
            error.starts_with("cannot resolve no-such-name.invalid: "),
            "{error}"
        );
    }

    /// Each lookup answers the next of `answers` (the last one for ever); `follow` stops once
    /// every answer was seen, and the sets it put are returned in order.
    fn followed(answers: Vec<Result<Vec<Ipv4Addr>, String>>) -> (Backends, Vec<Vec<Ipv4Addr>>) {
        let backends = Backends::new(Vec::new());
        let stopping = AtomicBool::new(false);
        let seen = RefCell::new(Vec::new());
        let remaining = RefCell::new(answers);
        let lookup = |name: &str| {
            assert_eq!(name, "tasks.shop_web");
            let mut remaining = remaining.borrow_mut();
            let answer = if remaining.len() > 1 {
                remaining.remove(0)
            } else {
                stopping.store(true, Ordering::SeqCst);
                remaining[0].clone()
            };
            seen.borrow_mut().push(backends.current());
            answer
        };
        follow(
            "tasks.shop_web",
            Duration::from_millis(1),
            &backends,
            &stopping,
            lookup,
        );
        let mut sets = seen.into_inner();
        sets.push(backends.current());
        sets.dedup();
        (backends, sets)
    }

    #[test]
    fn the_set_follows_the_answers() {
        let (backends, sets) = followed(vec![
            Ok(vec![ip(2)]),
            Ok(vec![ip(2), ip(3)]),
            Ok(vec![ip(2), ip(3)]),
            Ok(vec![ip(3)]),
        ]);
        assert_eq!(sets, [vec![], vec![ip(2)], vec![ip(2), ip(3)], vec![ip(3)]]);
        assert_eq!(backends.current(), [ip(3)]);
    }

    /// No answer (no task healthy) empties the set; the next answer fills it again.
    #[test]
    fn a_name_that_does_not_resolve_is_an_empty_set() {
        let (backends, sets) = followed(vec![
            Ok(vec![ip(2)]),
            Err("cannot resolve tasks.shop_web: no answer".to_owned()),
            Err("cannot resolve tasks.shop_web: no answer".to_owned()),
            Ok(vec![ip(4)]),
        ]);
        assert_eq!(sets, [vec![], vec![ip(2)], vec![], vec![ip(4)]]);
        assert_eq!(backends.current(), [ip(4)]);
    }
}
