//! What a test saw of a stack: the output of its `stack` runs and `docker inspect` and
//! `docker logs` of its objects, searched for values that must appear nowhere (secrets).

use std::time::{SystemTime, UNIX_EPOCH};

use super::{LiveStack, docker};

/// A value no test writes by chance.
pub fn random_value(what: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}-{:x}-{nanos:x}", std::process::id())
}

/// Everything the test saw, by where it came from.
#[derive(Default)]
pub struct Seen(pub Vec<(String, String)>);

impl Seen {
    pub fn add(&mut self, place: impl Into<String>, text: impl Into<String>) {
        self.0.push((place.into(), text.into()));
    }

    pub fn run(&mut self, live: &LiveStack, command: &str, args: &[&str], status: i32) {
        let outcome = live.run(command, args).status(status);
        let place = format!("stack {command} {}", args.join(" "));
        self.add(format!("{place} (stdout)"), outcome.stdout);
        self.add(format!("{place} (stderr)"), outcome.stderr);
    }

    /// `docker inspect` and `docker logs` of every object of the stack now.
    pub fn daemon(&mut self, live: &LiveStack) {
        for kind in ["container", "network", "volume", "image"] {
            for name in live.objects(kind) {
                self.add(
                    format!("docker {kind} inspect {name}"),
                    docker(&[kind, "inspect", &name]),
                );
            }
        }
        for name in live.objects("container") {
            let output = std::process::Command::new("docker")
                .args(["logs", &name])
                .output()
                .unwrap();
            self.add(
                format!("docker logs {name}"),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            );
        }
    }

    pub fn assert_nowhere(&self, value: &str) {
        let places: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, text)| text.contains(value))
            .map(|(place, _)| place.as_str())
            .collect();
        assert_eq!(places, Vec::<&str>::new(), "the value {value:?} leaked");
    }
}
