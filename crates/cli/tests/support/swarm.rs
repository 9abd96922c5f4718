//! Swarms of the tests' own: Docker daemons started by the test, each in a network namespace
//! of its own joined to a bridge on a private test subnet, never the daemon the other tests
//! share (a `swarm init` there would add an ingress network every other test sees).
//!
//! A [`TestSwarm`] holds a [`TestNetwork`] (the bridge, `10.241.N.0/24`, the host at `.1`) and
//! its [`TestNode`]s (a namespace, a veth pair into it, a `dockerd` with its own config file,
//! data and exec roots, pidfile, socket and cgroup parent). Everything is named after the test
//! process and a counter, so tests run in parallel, and removed on drop, also when the test
//! panics: the swarm left, the daemon stopped, its mounts and folders, the namespace, the veth
//! and the bridge. The `stack` binary reaches the manager through `DOCKER_HOST`
//! ([`TestSwarm::host`]). More nodes are [`TestNode::start`]ed on the same network and joined.
//!
//! Starting one needs root, `ip` (iproute2), `nsenter` (util-linux), `dockerd` and, for the
//! shared daemon's storage driver `fuse-overlayfs`, the `fuse-overlayfs` program (`.ci/run`
//! installs what a fresh machine lacks). Without them the test is skipped, except under
//! `CI=true`, where it fails.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// The test subnets are /24s of this /16; the host holds `.1` of each.
const SUBNETS: [u8; 2] = [10, 241];
/// How long a daemon may take to answer after it was started.
const DAEMON_START: Duration = Duration::from_secs(60);
/// How long a daemon may take to stop after SIGTERM before it is killed.
const DAEMON_STOP: Duration = Duration::from_secs(30);

/// A swarm (or, before [`TestSwarm::init`], a lone daemon) of the test's own.
pub struct TestSwarm {
    // Dropped in this order: the nodes, then the network they are attached to.
    pub nodes: Vec<TestNode>,
    pub network: TestNetwork,
}

impl TestSwarm {
    /// A single-node swarm: one daemon, made a manager with `swarm init`. `None` (the test is
    /// skipped) when this machine cannot start one, except under `CI=true`.
    pub fn single_node() -> Option<TestSwarm> {
        let swarm = TestSwarm::daemon()?;
        swarm.init();
        Some(swarm)
    }

    /// A single-node swarm shared by the tests of this test binary that run at the same time:
    /// started by the first (a daemon takes seconds to start), removed once no test holds it,
    /// as the last one ends (pass or fail). Each test still applies a stack of its own name.
    pub fn shared() -> Option<Arc<TestSwarm>> {
        static SHARED: Mutex<Weak<TestSwarm>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(swarm) = shared.upgrade() {
            return Some(swarm);
        }
        let swarm = Arc::new(TestSwarm::single_node()?);
        *shared = Arc::downgrade(&swarm);
        Some(swarm)
    }

    /// One daemon of the test's own that is no part of a swarm.
    pub fn daemon() -> Option<TestSwarm> {
        if let Err(missing) = requirements() {
            stack_tests::without_docker(&missing);
            return None;
        }
        let network = TestNetwork::create().unwrap_or_else(|error| panic!("{error}"));
        let node = TestNode::start(&network, 0).unwrap_or_else(|error| panic!("{error}"));
        Some(TestSwarm {
            nodes: vec![node],
            network,
        })
    }

    /// Makes the first node the manager of a new swarm, advertised on the test network. Its
    /// heartbeat is short: a node that stops is seen down in seconds, not half a minute.
    pub fn init(&self) {
        let manager = self.manager();
        let address = manager.address.to_string();
        manager.docker_ok(&[
            "swarm",
            "init",
            "--advertise-addr",
            &address,
            "--dispatcher-heartbeat",
            "1s",
        ]);
    }

    pub fn manager(&self) -> &TestNode {
        &self.nodes[0]
    }

    /// The example `name`, with the demo image's build context, its `stack` pointed at this
    /// swarm's manager.
    pub fn example(&self, name: &str) -> super::LiveStack {
        let mut live = super::LiveStack::example(name).unwrap();
        live.demo_context("app");
        live.set_env("DOCKER_HOST", &self.host());
        live
    }

    /// The services of `live`'s stack on the swarm, each as `format` prints it (`docker service
    /// ls --format`), the stack's name redacted, sorted.
    pub fn stack_services(&self, live: &super::LiveStack, format: &str) -> Vec<String> {
        let filter = format!("label=dev.stack.stack={}", live.name);
        let listed = self
            .manager()
            .docker_ok(&["service", "ls", "--filter", &filter, "--format", format]);
        let mut services: Vec<String> = listed
            .lines()
            .map(|line| live.redact(line).trim().to_owned())
            .collect();
        services.sort();
        services
    }

    /// `DOCKER_HOST` for the `stack` binary: the manager's socket.
    pub fn host(&self) -> String {
        self.manager().host()
    }

    /// Copies images of the shared daemon (`docker save | docker -H ... load`) to every node.
    pub fn load_images(&self, images: &[&str]) {
        for node in &self.nodes {
            node.load_images(images);
        }
    }
}

/// A bridge on the host with a private /24 of its own, which the nodes' namespaces join.
pub struct TestNetwork {
    /// What every name of this swarm starts with: `sw` and a number unique on the machine.
    pub id: String,
    pub bridge: String,
    /// The third byte of the subnet: `10.241.<octet>.0/24`.
    pub octet: u8,
}

impl TestNetwork {
    pub fn create() -> Result<TestNetwork, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "sw{:05}{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let octet = free_octet()?;
        let network = TestNetwork {
            bridge: format!("{id}b"),
            id,
            octet,
        };
        let gateway = format!("{}/24", network.address(1));
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &gateway, "dev", &network.bridge])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        network.forward(true);
        Ok(network)
    }

    /// `10.241.<octet>.0/24`.
    pub fn subnet(&self) -> String {
        format!("{}/24", self.address(0))
    }

    /// Lets the nodes talk to each other (`open`), or takes that back. The host's Docker sets
    /// iptables' FORWARD policy to DROP, and frames crossing a bridge go through that chain
    /// (br_netfilter): without this rule, as for Docker's own bridges, node to node traffic
    /// is dropped (the host reaches every node all the same).
    fn forward(&self, open: bool) {
        let rule = ["FORWARD", "-i", &self.bridge, "-o", &self.bridge, "-j", "ACCEPT"];
        let _ = Command::new("iptables")
            .arg(if open { "-I" } else { "-D" })
            .args(rule)
            .output();
    }

    /// The address `host` of the subnet; the host is `.1`, node `i` is `.(10 + i)`.
    pub fn address(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(SUBNETS[0], SUBNETS[1], self.octet, host)
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        self.forward(false);
        let _ = ip(&["link", "delete", &self.bridge]);
    }
}

/// One `dockerd` of the test's own in a network namespace of its own.
pub struct TestNode {
    /// The namespace's name, and the cgroup parent of the daemon's containers.
    pub name: String,
    /// The daemon's config file, data and exec roots, socket, pidfile and log.
    pub dir: PathBuf,
    /// Its address on the test network.
    pub address: Ipv4Addr,
    /// The host's end of the veth pair into the namespace.
    veth: String,
    daemon: Option<Child>,
}

impl TestNode {
    /// Starts node `index` on `network` and waits until its daemon answers.
    pub fn start(network: &TestNetwork, index: u8) -> Result<TestNode, String> {
        let name = format!("{}-{index}", network.id);
        let dir = std::env::temp_dir().join(format!("stack-{name}"));
        // Whatever fails from here on, dropping the node removes what was made.
        let mut node = TestNode {
            address: network.address(10 + index),
            veth: format!("{}h{index}", network.id),
            name,
            dir,
            daemon: None,
        };
        node.attach(network, &format!("{}n{index}", network.id))?;
        node.start_daemon(&network.subnet())?;
        Ok(node)
    }

    /// The namespace, and a veth pair from the bridge into it (`inside` its end there).
    fn attach(&self, network: &TestNetwork, inside: &str) -> Result<(), String> {
        let address = format!("{}/24", self.address);
        let gateway = network.address(1).to_string();
        ip(&["netns", "add", &self.name])?;
        ip(&["link", "add", &self.veth, "type", "veth", "peer", "name", inside])?;
        ip(&["link", "set", &self.veth, "master", &network.bridge, "up"])?;
        ip(&["link", "set", inside, "netns", &self.name])?;
        ip(&["-n", &self.name, "addr", "add", &address, "dev", inside])?;
        ip(&["-n", &self.name, "link", "set", inside, "up"])?;
        ip(&["-n", &self.name, "link", "set", "lo", "up"])?;
        ip(&["-n", &self.name, "route", "add", "default", "via", &gateway])
    }

    /// `dockerd` entered into the namespace with `nsenter` (`ip netns exec` mounts a /sys in
    /// which the daemon finds no cgroups), kept off the host's firewall and bridges. It pulls
    /// over plain HTTP from a registry on the test `subnet` (on the host's address there).
    fn start_daemon(&mut self, subnet: &str) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|error| format!("{}: {error}", self.dir.display()))?;
        // Its own config file: the machine's sets a data-root and a storage driver.
        let config = self.dir.join("daemon.json");
        let settings = format!("{{\"insecure-registries\": [\"{subnet}\"]}}\n");
        std::fs::write(&config, settings).map_err(|error| format!("{}: {error}", config.display()))?;
        let log = std::fs::File::create(self.dir.join("dockerd.log")).map_err(|error| error.to_string())?;
        let netns = format!("--net=/var/run/netns/{}", self.name);
        let path = |name: &str| self.dir.join(name).display().to_string();
        let daemon = Command::new("nsenter")
            .arg(netns)
            .arg("dockerd")
            .args(["--config-file", &path("daemon.json")])
            .args(["--data-root", &path("data")])
            .args(["--exec-root", &path("exec")])
            .args(["--pidfile", &path("docker.pid")])
            .args(["--host", &self.host()])
            .args(["--cgroup-parent", &self.name])
            .args(["--storage-driver", &storage_driver()])
            .args(["--iptables=false", "--bridge", "none"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|error| error.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start dockerd: {error}"))?;
        self.daemon = Some(daemon);
        let give_up = Instant::now() + DAEMON_START;
        loop {
            if self
                .docker(&["info", "--format", "{{.ServerVersion}}"])
                .status
                .success()
            {
                return Ok(());
            }
            let exited = self
                .daemon
                .as_mut()
                .and_then(|daemon| daemon.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > give_up {
                return Err(format!(
                    "the test daemon {} did not start; the end of its log:\n{}",
                    self.name,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `unix:///.../docker.sock`, for `DOCKER_HOST` or `docker -H`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    /// Runs `docker -H <this node> ARGS`.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(["--host", &self.host()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run docker: {error}"))
    }

    /// [`TestNode::docker`] that must succeed; its standard output.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        assert!(
            output.status.success(),
            "docker {} on {} failed: {}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Copies images from the shared daemon: `docker save | docker -H ... load`.
    pub fn load_images(&self, images: &[&str]) {
        if images.is_empty() {
            return;
        }
        let mut save = Command::new("docker")
            .arg("save")
            .args(images)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run docker save: {error}"));
        let saved = save.stdout.take().map_or_else(Stdio::null, Stdio::from);
        let load = Command::new("docker")
            .args(["--host", &self.host(), "load", "--quiet"])
            .stdin(saved)
            .output()
            .unwrap_or_else(|error| panic!("cannot run docker load: {error}"));
        let saved = save.wait().is_ok_and(|status| status.success());
        assert!(
            saved && load.status.success(),
            "copying {images:?} to {} failed: {}",
            self.name,
            String::from_utf8_lossy(&load.stderr)
        );
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the daemon: SIGTERM, so that it stops its containers and unmounts their file
    /// systems, then SIGKILL when it takes too long.
    pub fn stop_daemon(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &daemon.id().to_string()])
            .status();
        let give_up = Instant::now() + DAEMON_STOP;
        while daemon.try_wait().ok().flatten().is_none() {
            if Instant::now() > give_up {
                let _ = daemon.kill();
                let _ = daemon.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The containerd it started goes with it; one left by a killed daemon is ended here.
        let containerd = self.dir.join("exec/containerd/containerd.pid");
        if let Ok(pid) = std::fs::read_to_string(&containerd) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            let _ = self.docker(&["swarm", "leave", "--force"]);
        }
        self.stop_daemon();
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = ip(&["netns", "delete", &self.name]);
        // Gone with the namespace, unless the pair never moved into it.
        let _ = ip(&["link", "delete", &self.veth]);
        // The cgroups made for the daemon's containers, in each hierarchy (v1) or the one (v2).
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for hierarchy in hierarchies.flatten() {
                let _ = std::fs::remove_dir(hierarchy.path().join(&self.name));
            }
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.name));
    }
}

/// What starting a node needs; the first thing missing, said.
fn requirements() -> Result<(), String> {
    let mut missing = String::new();
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0\n"))
    {
        missing.push_str("root (to make network namespaces); ");
    }
    let mut programs = vec!["ip", "nsenter", "dockerd", "docker"];
    if storage_driver() == "fuse-overlayfs" {
        programs.push("fuse-overlayfs");
    }
    for program in programs {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|output| output.status.success());
        if !found {
            let _ = write!(missing, "`{program}`; ");
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("a test swarm needs {}", missing.trim_end_matches("; ")))
    }
}

/// The storage driver of the test daemons: the shared daemon's when it is one that runs on
/// any file system here (overlay2, fuse-overlayfs), else fuse-overlayfs.
fn storage_driver() -> String {
    let shared = Command::new("docker")
        .args(["info", "--format", "{{.Driver}}"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    match shared.as_str() {
        "overlay2" | "fuse-overlayfs" => shared,
        _ => "fuse-overlayfs".to_owned(),
    }
}

/// A /24 of the test range that no interface of the host has yet.
fn free_octet() -> Result<u8, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let taken = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-4", "-o", "addr", "show"])
            .output()
            .map_err(|error| format!("cannot run ip: {error}"))?
            .stdout,
    )
    .into_owned();
    let start = std::process::id() * 7 + NEXT.fetch_add(1, Ordering::SeqCst) * 13;
    (0..250)
        .map(|step| ((start + step) % 250 + 1) as u8)
        .find(|octet| !taken.contains(&format!(" {}.{}.{octet}.", SUBNETS[0], SUBNETS[1])))
        .ok_or_else(|| "every test subnet 10.241.x.0/24 is taken".to_owned())
}

/// Runs `ip ARGS`; its error output when it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run ip: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Unmounts (lazily) whatever is still mounted under `dir`, deepest first: the file systems
/// of containers a killed daemon left.
fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in points {
        let _ = Command::new("umount").args(["-l", point]).status();
    }
}
