//! What the end-to-end tests of the `stack` binary against the real daemon share: a stack
//! directory with a unique stack name, destroyed when the test ends, pass or fail; the demo
//! application's image context; and small helpers to look at the daemon and talk to
//! containers. Without a daemon these tests are skipped, except under `CI=true`, where they
//! fail.

// Each test file uses a part of this module.
#![allow(dead_code)]

#[path = "../../../providers/tests/support/http.rs"]
mod http;

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use stack_tests::{Outcome, Test};

// Each test file uses a part of these.
#[allow(unused_imports)]
pub use http::{get, post, put, try_request};

/// Objects a test makes by hand carry this label, with the test's stack name.
pub const TEST_LABEL: &str = "dev.stack.test";

/// The Dockerfile of the demo application: `stack-demo serve` on 8080, `FROM scratch`.
pub const DEMO_DOCKERFILE: &str =
    "FROM scratch\nCOPY stack-demo /stack-demo\nENTRYPOINT [\"/stack-demo\"]\nCMD [\"serve\"]\n";

pub fn stack() -> Test {
    Test::new(env!("CARGO_BIN_EXE_stack"))
}

/// Whether a daemon answers; under `CI=true` a missing one fails the test.
pub fn docker_available() -> bool {
    let answers = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !answers {
        stack_tests::without_docker(&"`docker info` fails");
    }
    answers
}

/// A stack directory with a unique stack name, destroyed on drop.
pub struct LiveStack {
    pub name: String,
    pub dir: tempfile::TempDir,
    /// Environment variables every `stack` run of this test gets.
    env: Vec<(String, String)>,
}

impl LiveStack {
    pub fn new() -> Option<LiveStack> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        if !docker_available() {
            return None;
        }
        let name = format!(
            "stacktest-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Some(LiveStack {
            name,
            dir: tempfile::Builder::new().prefix("stack-live-").tempdir().unwrap(),
            env: Vec::new(),
        })
    }

    /// A copy of the example `examples/NAME` as the stack's folder.
    pub fn example(name: &str) -> Option<LiveStack> {
        let live = LiveStack::new()?;
        copy_folder(&Path::new(EXAMPLES).join(name), live.dir.path());
        Some(live)
    }

    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &LiveStack {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
        self
    }

    /// The demo application's build context in folder `dir`: its Dockerfile and the static
    /// `stack-demo` binary.
    pub fn demo_context(&self, dir: &str) -> &LiveStack {
        self.write(&format!("{dir}/Dockerfile"), DEMO_DOCKERFILE);
        std::fs::copy(
            stack_tests::demo_binary(),
            self.dir.path().join(dir).join("stack-demo"),
        )
        .unwrap();
        self
    }

    /// Gives every following `stack` run the variable `key`.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(set, _)| set != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn path(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// `command` may be several words (`rollout continue web`): the folder comes after them.
    fn stack_args(&self, command: &str) -> Vec<String> {
        let mut args: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        args.extend([self.path(), "--name".to_owned(), self.name.clone()]);
        args
    }

    /// `stack COMMAND DIR --name NAME ARGS...`
    pub fn run(&self, command: &str, args: &[&str]) -> Outcome {
        let mut test = stack().args(self.stack_args(command)).args(args.iter().copied());
        for (key, value) in &self.env {
            test = test.env(key, value);
        }
        test.run()
    }

    /// [`LiveStack::run`] as a child process that is not waited for; its output goes to the
    /// files `<label>.stdout` and `<label>.stderr` of the stack's folder ([`LiveStack::output`]).
    pub fn spawn(&self, command: &str, args: &[&str], label: &str) -> Child {
        let out = File::create(self.dir.path().join(format!("{label}.stdout"))).unwrap();
        let err = File::create(self.dir.path().join(format!("{label}.stderr"))).unwrap();
        Command::new(env!("CARGO_BIN_EXE_stack"))
            .args(self.stack_args(command))
            .args(args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap()
    }

    /// What a spawned run printed: stdout, then stderr.
    pub fn output(&self, label: &str) -> String {
        let read = |stream: &str| {
            std::fs::read_to_string(self.dir.path().join(format!("{label}.{stream}"))).unwrap_or_default()
        };
        format!("{}{}", read("stdout"), read("stderr"))
    }

    /// The output with the stack's name (unique per run) as `[stack]`.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.name, "[stack]")
    }

    /// The name of a docker object of the stack: `<stack>_<name>`.
    pub fn object(&self, name: &str) -> String {
        format!("{}_{name}", self.name)
    }

    /// Names of the stack's objects of one docker object type (`container`, `network`, ...).
    pub fn objects(&self, kind: &str) -> Vec<String> {
        let filter = format!("label={}={}", owner_label(kind), self.name);
        let args: Vec<&str> = match kind {
            "container" => vec!["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
            "image" => vec![
                "images",
                "--filter",
                &filter,
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ],
            other => vec![other, "ls", "--filter", &filter, "--format", "{{.Name}}"],
        };
        let mut names: Vec<String> = docker(&args).lines().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// Every container whose name starts with the stack's, labelled or not, with its state
    /// (`running`, `created`, `exited`), sorted by name.
    pub fn containers(&self) -> Vec<(String, String)> {
        let filter = format!("name=^/{}", self.name);
        let mut found: Vec<(String, String)> = docker(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--format",
            "{{.Names}} {{.State}}",
        ])
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, state)| (name.to_owned(), state.to_owned()))
        .collect();
        found.sort();
        found
    }

    /// [`LiveStack::containers`] without the previous revision an update keeps (`.prev`).
    pub fn current_containers(&self) -> Vec<(String, String)> {
        let mut containers = self.containers();
        containers.retain(|(name, _)| !name.ends_with(".prev"));
        containers
    }

    /// The ids of the stack's containers of one service that serve (not the previous revision
    /// an update keeps, nor a proxy in front), sorted.
    pub fn container_ids(&self, service: &str) -> Vec<String> {
        let filter = format!("label=dev.stack.address=service.{service}");
        let stack = format!("label=dev.stack.stack={}", self.name);
        let listed = docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &filter,
            "--filter",
            &stack,
            "--format",
            "{{.ID}} {{.Names}}",
        ]);
        let mut ids: Vec<String> = listed
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(_, name)| !name.ends_with(".prev") && !name.ends_with("-proxy"))
            .map(|(id, _)| id.to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// The HTTP address of `stack-demo serve` in container `<stack>_<container>` (its first
    /// network address, port 8080), once it accepts connections: apply does not wait for a
    /// service nothing depends on to be healthy.
    pub fn demo_address(&self, container: &str) -> SocketAddr {
        let name = self.object(container);
        let addresses = docker(&[
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            &name,
        ]);
        let ip: Ipv4Addr = addresses
            .split_whitespace()
            .find_map(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("{name} has no IPv4 address: {addresses:?}"));
        let address = SocketAddr::from((ip, 8080));
        let give_up = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < give_up, "{name} does not listen on {address}");
            std::thread::sleep(Duration::from_millis(100));
        }
        address
    }

    /// Stores `value` under `key` in the demo's data folder (a volume) through `container`.
    pub fn put_data(&self, container: &str, key: &str, value: &str) {
        let (status, body) = put(self.demo_address(container), &format!("/data/{key}"), value);
        assert!((200..300).contains(&status), "PUT /data/{key}: {status} {body}");
    }

    /// Asserts that `container` reads `value` under `key` from its data folder.
    pub fn assert_data(&self, container: &str, key: &str, value: &str) {
        let (status, body) = get(self.demo_address(container), &format!("/data/{key}"));
        assert_eq!(
            (status, body.as_str()),
            (200, value),
            "the data written to the volume before, read through {container}"
        );
    }

    pub fn nothing_left(&self) {
        for kind in ["container", "network", "volume", "image"] {
            assert_eq!(
                self.objects(kind),
                Vec::<String>::new(),
                "{kind}s of {} left behind",
                self.name
            );
        }
    }
}

impl Drop for LiveStack {
    fn drop(&mut self) {
        let _ = self.run("destroy", &["--auto-approve", "--volumes"]);
        // Whatever destroy could not remove, and what the test made by hand.
        for filter in [
            format!("label=dev.stack.stack={}", self.name),
            format!("label={}={}", owner_label("image"), self.name),
            format!("label={TEST_LABEL}={}", self.name),
        ] {
            let ids = |args: &[&str]| -> Vec<String> { docker(args).lines().map(str::to_owned).collect() };
            for id in ids(&["ps", "-aq", "--filter", &filter]) {
                docker(&["rm", "-f", "-v", &id]);
            }
            for kind in ["network", "volume"] {
                for id in ids(&[kind, "ls", "-q", "--filter", &filter]) {
                    docker(&[kind, "rm", &id]);
                }
            }
            for id in ids(&["images", "-q", "--filter", &filter]) {
                docker(&["rmi", "-f", &id]);
            }
        }
        docker(&["rm", "-f", "-v", &format!("stack-lock.{}", self.name)]);
        docker(&["rm", "-f", "-v", &format!("stack-record.{}", self.name)]);
    }
}

/// Builds the stand-ins of official images (`examples/images/build`) among `images`
/// (`postgres:15`, `redis:7`, ...) that this test process has not asked for yet. The script
/// skips an image that is up to date or came from a registry, and waits for other processes
/// building at the same time.
pub fn stand_ins(images: &[&str]) {
    static ASKED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut asked = ASKED.lock().unwrap_or_else(PoisonError::into_inner);
    let new: Vec<&str> = images
        .iter()
        .copied()
        .filter(|image| !asked.contains(*image))
        .collect();
    if new.is_empty() {
        return;
    }
    let script = format!("{EXAMPLES}/images/build");
    let output = Command::new(&script).args(&new).output().unwrap();
    assert!(
        output.status.success(),
        "{script} {} failed:\n{}",
        new.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    asked.extend(new.into_iter().map(str::to_owned));
}

/// The repository's `examples/` folder.
pub const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

/// Copies the files under `from` into `to`, keeping their permissions.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The label naming the stack an object of a docker type belongs to: images have their own,
/// which the containers started from them do not take for theirs.
pub fn owner_label(kind: &str) -> &'static str {
    match kind {
        "image" => "dev.stack.image.stack",
        _ => "dev.stack.stack",
    }
}

/// A TCP port of 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    free_port_of(Ipv4Addr::LOCALHOST)
}

/// A TCP port of `address` (of this host) that nothing listens on now.
pub fn free_port_of(address: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((address, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap()
}

/// Runs `docker ARGS` and returns its standard output.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A /24 in 10.219.0.0/16 that no other test of this run uses.
pub fn subnet() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let octet = (std::process::id() * 7 + NEXT.fetch_add(1, Ordering::SeqCst) * 13) % 250 + 1;
    format!("10.219.{octet}.0/24")
}

pub mod examples;
pub mod registry;
pub mod seen;
pub mod slow_daemon;
pub mod swarm;
pub mod swarm_cluster;
