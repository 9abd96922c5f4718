//! A swarm of several nodes on this one machine: one `dockerd` per node, each in a network
//! namespace of its own, wired by veth pairs to a bridge on a private test subnet; the first
//! node is the manager, the others join as workers. A registry on the subnet holds the
//! images, which the nodes pull by digest (a worker otherwise tries a pull at every task
//! start and waits for it to fail). Everything goes on drop, also when the test panics:
//! daemons, their folders and cgroups, the namespaces, veths, bridge and registry.
//!
//! The bridge lives in a namespace of its own, the "switch", with a veth from the host into
//! it: the host's Docker sets iptables' FORWARD policy to DROP and has bridged traffic go
//! through it, whereas a fresh namespace forwards everything, so no host rule is touched.
//! The subnet is a /24 of 198.18.0.0/15 (set aside for network tests), one per cluster, the
//! switch namespace's name (`ip netns add` fails when it exists) claiming it, so that tests
//! run in parallel.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::DEMO_DOCKERFILE;
use super::dockerd::{Dockerd, mounts_under, processes_naming};
use super::registry::Registry;

/// The commands the cluster needs besides Docker's, and their Debian packages.
const TOOLS: [(&str, &str); 5] = [
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("fuse-overlayfs", "fuse-overlayfs"),
    ("docker-registry", "docker-registry"),
];
/// Host-side names start with this (and the subnet's third octet).
const PREFIX: &str = "stkswarm";
/// How long nodes get to show up as ready, and tasks to run.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(90);

pub struct SwarmCluster {
    /// `nodes[0]` is the manager. A stopped node stays in the list.
    pub nodes: Vec<Node>,
    registry: Option<Registry>,
    network: TestNetwork,
    dir: Option<tempfile::TempDir>,
}

pub struct Node {
    /// `node1`, `node2`, ...: also the node's hostname in `docker node ls`.
    pub hostname: String,
    pub address: Ipv4Addr,
    pub daemon: Dockerd,
}

/// What a cluster had on the machine, to check after drop that none of it is left.
pub struct Footprint {
    namespaces: Vec<String>,
    /// The daemons' cgroup parents.
    cgroups: Vec<String>,
    host_link: String,
    dir: PathBuf,
}

impl SwarmCluster {
    /// A swarm of `size` nodes, all ready. `None` when the tools are missing (a failure under
    /// `CI=true`, where `.ci/run` installs them).
    pub fn start(size: usize) -> Option<SwarmCluster> {
        if !super::docker_available() {
            return None;
        }
        if let Some((tool, package)) = TOOLS.iter().find(|(tool, _)| !installed(tool)) {
            stack_tests::without_docker(&format!("`{tool}` is not installed (apt-get install {package})"));
            return None;
        }
        let network = TestNetwork::claim();
        let registry = Registry::start_at(network.host_address());
        let mut cluster = SwarmCluster {
            nodes: Vec::new(),
            registry,
            network,
            dir: Some(tempfile::Builder::new().prefix("stack-swarm-").tempdir().unwrap()),
        };
        let config = serde_json::json!({
            // The registry is on the test subnet and speaks plain HTTP.
            "insecure-registries": [cluster.network.subnet()],
            "log-level": "warn",
        });
        let dir = cluster.dir().to_owned();
        // The daemons start in parallel: each takes some seconds.
        let starting: Vec<_> = (1..=size)
            .map(|number| {
                let hostname = format!("node{number}");
                let netns = cluster.network.add_node(number);
                let address = cluster.network.node_address(number);
                let name = format!("{netns}-dockerd");
                let node_dir = dir.join(&hostname);
                let config = config.clone();
                std::thread::spawn(move || Node {
                    daemon: Dockerd::start(&name, &netns, &hostname, &node_dir, &config),
                    hostname,
                    address,
                })
            })
            .collect();
        let mut failed = false;
        for thread in starting {
            match thread.join() {
                Ok(node) => cluster.nodes.push(node),
                Err(_) => failed = true,
            }
        }
        // The failed thread's panic message names the daemon and shows its log.
        assert!(!failed, "a node's dockerd did not start");
        cluster.form_swarm();
        Some(cluster)
    }

    fn form_swarm(&self) {
        let manager = &self.nodes[0];
        let address = manager.address.to_string();
        // A short heartbeat: a stopped node is seen down in seconds, not half a minute.
        manager.daemon.docker_ok(&[
            "swarm",
            "init",
            "--advertise-addr",
            &address,
            "--listen-addr",
            &format!("{address}:2377"),
            "--dispatcher-heartbeat",
            "1s",
        ]);
        let token = manager.daemon.docker_ok(&["swarm", "join-token", "-q", "worker"]);
        for worker in &self.nodes[1..] {
            let address = worker.address.to_string();
            worker.daemon.docker_ok(&[
                "swarm",
                "join",
                "--token",
                &token,
                "--advertise-addr",
                &address,
                "--listen-addr",
                &format!("{address}:2377"),
                &format!("{}:2377", manager.address),
            ]);
        }
        self.wait_for("every node to be ready", || {
            self.ready_nodes().len() == self.nodes.len()
        });
    }

    pub fn manager(&self) -> &Dockerd {
        &self.nodes[0].daemon
    }

    /// What `DOCKER_HOST` is set to, for `stack` to reach the manager.
    pub fn docker_host(&self) -> String {
        self.manager().docker_host()
    }

    /// The registry every node reaches: `ADDRESS:PORT`, the registry part of image names.
    pub fn registry_host(&self) -> &str {
        &self.registry.as_ref().expect("the registry runs until drop").host
    }

    /// Hostnames of the nodes that are ready and active, as `docker node ls` shows them.
    pub fn ready_nodes(&self) -> Vec<String> {
        let listed = self.manager().docker(&[
            "node",
            "ls",
            "--format",
            "{{.Hostname}} {{.Status}} {{.Availability}}",
        ]);
        let mut ready: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter_map(|line| line.strip_suffix(" Ready Active"))
            .map(str::to_owned)
            .collect();
        ready.sort();
        ready
    }

    /// Builds the demo application's image (`stack-demo`, static, `FROM scratch`) on the
    /// manager, pushes it to the registry as `REPOSITORY:TAG` and returns it pinned by digest
    /// (`HOST/REPOSITORY@sha256:...`), which every node pulls.
    pub fn push_demo(&self, repository_and_tag: &str) -> String {
        let context = self.dir().join("demo-context");
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(context.join("Dockerfile"), DEMO_DOCKERFILE).unwrap();
        std::fs::copy(stack_tests::demo_binary(), context.join("stack-demo")).unwrap();
        let reference = format!("{}/{repository_and_tag}", self.registry_host());
        let manager = self.manager();
        manager.docker_ok(&["build", "-q", "-t", &reference, &context.display().to_string()]);
        manager.docker_ok(&["push", "-q", &reference]);
        manager.docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{index .RepoDigests 0}}",
            &reference,
        ])
    }

    /// The folder of the cluster's files.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the folder stays until drop").path()
    }

    /// Hostnames of the nodes running a task of `service` that is running, one per task.
    pub fn running_tasks(&self, service: &str) -> Vec<String> {
        let listed = self.manager().docker(&[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        ]);
        let mut nodes: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter(|line| line.contains(" Running "))
            .filter_map(|line| line.split(' ').next())
            .map(str::to_owned)
            .collect();
        nodes.sort();
        nodes
    }

    /// Polls `done` every 200 ms until it holds; panics naming `what` after a while, with
    /// the manager's view of the nodes and services.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let give_up = Instant::now() + CONVERGE_TIMEOUT;
        while !done() {
            if Instant::now() > give_up {
                let show = |args: &[&str]| {
                    let output = self.manager().docker(args);
                    format!(
                        "$ docker {}\n{}{}",
                        args.join(" "),
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    )
                };
                panic!(
                    "timed out waiting for {what}\n{}\n{}\nmanager's log:\n{}",
                    show(&["node", "ls"]),
                    show(&["service", "ls"]),
                    self.manager().log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the cluster has on the machine now, to check after drop that it is gone.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            namespaces: self.network.namespaces.clone(),
            cgroups: self.nodes.iter().map(|node| node.daemon.name.clone()).collect(),
            host_link: self.network.host_link.clone(),
            dir: self.dir().to_owned(),
        }
    }
}

impl Drop for SwarmCluster {
    fn drop(&mut self) {
        // Daemons first (their containers and mounts with them), in parallel: each may take
        // seconds to stop its tasks. Then the registry, the network and the folder.
        let stopping: Vec<_> = self
            .nodes
            .drain(..)
            .map(|node| std::thread::spawn(move || drop(node)))
            .collect();
        for thread in stopping {
            let _ = thread.join();
        }
        drop(self.registry.take());
        self.network.remove();
        drop(self.dir.take());
    }
}

impl Footprint {
    /// Panics naming whatever of the cluster is still on the machine.
    pub fn assert_gone(&self) {
        let mut left = Vec::new();
        let namespaces = std::fs::read_dir("/var/run/netns")
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned());
        left.extend(
            namespaces
                .filter(|name| self.namespaces.contains(name))
                .map(|name| format!("network namespace {name}")),
        );
        if Path::new("/sys/class/net").join(&self.host_link).exists() {
            left.push(format!("veth {} (into the bridge's namespace)", self.host_link));
        }
        left.extend(
            processes_naming(&self.dir)
                .into_iter()
                .map(|pid| format!("process {pid}: {}", cmdline(pid))),
        );
        left.extend(
            mounts_under(&self.dir)
                .into_iter()
                .map(|mount| format!("mount {}", mount.display())),
        );
        let controllers = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten();
        for controller in controllers {
            left.extend(
                self.cgroups
                    .iter()
                    .map(|cgroup| controller.path().join(cgroup))
                    .filter(|cgroup| cgroup.exists())
                    .map(|cgroup| format!("cgroup {}", cgroup.display())),
            );
        }
        if self.dir.exists() {
            left.push(format!("folder {}", self.dir.display()));
        }
        assert!(left.is_empty(), "the cluster left behind:\n{}", left.join("\n"));
    }
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

/// The test subnet: a bridge in the switch namespace, a veth from the host into it, and one
/// namespace per node with a veth to the bridge. `198.18.N.1` is the host, `.1X` node X.
struct TestNetwork {
    third_octet: u8,
    /// The switch's first, then the nodes'.
    namespaces: Vec<String>,
    host_link: String,
}

impl TestNetwork {
    /// Claims a free /24 and sets up the switch and the host's link into it.
    fn claim() -> TestNetwork {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let start = std::process::id() * 7 + NEXT.fetch_add(1, Ordering::SeqCst) * 13;
        let third_octet = (0..254)
            .map(|offset| ((start + offset) % 254 + 1) as u8)
            .find(|octet| ip(&["netns", "add", &format!("{PREFIX}{octet}")]).is_ok())
            .expect("a free /24 in 198.18.0.0/16: `ip netns list` shows who holds them");
        let switch = format!("{PREFIX}{third_octet}");
        let network = TestNetwork {
            third_octet,
            namespaces: vec![switch.clone()],
            host_link: switch.clone(),
        };
        ip_ok(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        ip_ok(&["-n", &switch, "link", "set", "br0", "up"]);
        ip_ok(&[
            "link",
            "add",
            &network.host_link,
            "type",
            "veth",
            "peer",
            "name",
            "host",
            "netns",
            &switch,
        ]);
        ip_ok(&["-n", &switch, "link", "set", "host", "master", "br0", "up"]);
        let host_address = format!("{}/24", network.host_address());
        ip_ok(&["addr", "add", &host_address, "dev", &network.host_link]);
        ip_ok(&["link", "set", &network.host_link, "up"]);
        network
    }

    fn subnet(&self) -> String {
        format!("198.18.{}.0/24", self.third_octet)
    }

    fn host_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.third_octet, 1)
    }

    fn node_address(&self, number: usize) -> Ipv4Addr {
        Ipv4Addr::new(
            198,
            18,
            self.third_octet,
            10 + u8::try_from(number).expect("a few nodes"),
        )
    }

    /// Makes node `number`'s namespace, wired to the bridge, and returns its name.
    fn add_node(&mut self, number: usize) -> String {
        let switch = self.namespaces[0].clone();
        let netns = format!("{switch}-{number}");
        ip_ok(&["netns", "add", &netns]);
        self.namespaces.push(netns.clone());
        let port = format!("node{number}");
        ip_ok(&[
            "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &netns,
        ]);
        ip_ok(&["-n", &switch, "link", "set", &port, "master", "br0", "up"]);
        let address = format!("{}/24", self.node_address(number));
        ip_ok(&["-n", &netns, "addr", "add", &address, "dev", "eth0"]);
        ip_ok(&["-n", &netns, "link", "set", "eth0", "up"]);
        ip_ok(&["-n", &netns, "link", "set", "lo", "up"]);
        // The host as the default route: the daemon looks for one to pick its addresses.
        ip_ok(&[
            "-n",
            &netns,
            "route",
            "add",
            "default",
            "via",
            &self.host_address().to_string(),
        ]);
        netns
    }

    /// Deletes the links (a veth's peer goes with it), then the namespaces; idempotent.
    fn remove(&mut self) {
        let _ = ip(&["link", "del", &self.host_link]);
        for netns in self.namespaces.drain(..).rev() {
            let _ = ip(&["-n", &netns, "link", "del", "eth0"]);
            let _ = ip(&["-n", &netns, "link", "del", "br0"]);
            let _ = ip(&["netns", "del", &netns]);
        }
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        self.remove();
    }
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// `ip ARGS`; its error output when it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn ip_ok(args: &[&str]) {
    if let Err(error) = ip(args) {
        panic!("ip {}: {error}", args.join(" "));
    }
}
