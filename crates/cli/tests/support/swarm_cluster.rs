//! A swarm of several nodes on this one machine, made of the test daemons of
//! [`super::swarm`]: the first node is the manager, the others join as workers, all on one
//! test network. A registry on the host's address there holds the images, which the nodes pull
//! by digest (a worker otherwise tries a pull at every task start and waits for it to fail).
//! Everything goes on drop, also when the test panics: the daemons (stopped in parallel),
//! their folders, cgroups, namespaces and veths, the bridge and the registry.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::DEMO_DOCKERFILE;
use super::registry::Registry;
use super::swarm::{TestNetwork, TestNode, TestSwarm};

/// How long nodes get to show up as ready, and services to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(90);

pub struct SwarmCluster {
    pub swarm: TestSwarm,
    registry: Registry,
    /// The node ids in the order of `swarm.nodes`.
    node_ids: Vec<String>,
}

/// What a cluster had on the machine, to check after drop that none of it is left.
pub struct Footprint {
    /// What the names of its namespaces, veths and bridge start with.
    prefix: String,
    /// The nodes' folders; also their processes' command lines name them.
    dirs: Vec<PathBuf>,
    /// The nodes' names: their namespaces and cgroup parents.
    nodes: Vec<String>,
}

impl SwarmCluster {
    /// A swarm of `size` nodes, all ready. `None` when this machine cannot start test daemons
    /// or a registry (a failure under `CI=true`, where `.ci/run` installs what they need).
    pub fn start(size: usize) -> Option<SwarmCluster> {
        // The requirements of the first daemon are every node's.
        let first = TestSwarm::daemon()?;
        let registry = Registry::start_at(first.network.address(1))?;
        let mut cluster = SwarmCluster {
            swarm: first,
            registry,
            node_ids: Vec::new(),
        };
        // The other daemons start in parallel: each takes some seconds.
        let network = &cluster.swarm.network;
        let started: Vec<Result<TestNode, String>> = std::thread::scope(|scope| {
            let starting: Vec<_> = (1..size)
                .map(|index| scope.spawn(move || start_node(network, index)))
                .collect();
            starting
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|_| Err("the thread panicked".to_owned()))
                })
                .collect()
        });
        let mut failures = Vec::new();
        for node in started {
            match node {
                Ok(node) => cluster.swarm.nodes.push(node),
                Err(error) => failures.push(error),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        cluster.form_swarm();
        Some(cluster)
    }

    fn form_swarm(&mut self) {
        self.swarm.init();
        let manager = self.swarm.manager();
        let token = manager.docker_ok(&["swarm", "join-token", "-q", "worker"]);
        let join_at = format!("{}:2377", manager.address);
        for worker in &self.swarm.nodes[1..] {
            worker.docker_ok(&[
                "swarm",
                "join",
                "--token",
                token.trim(),
                "--advertise-addr",
                &worker.address.to_string(),
                &join_at,
            ]);
        }
        self.node_ids = self
            .swarm
            .nodes
            .iter()
            .map(|node| {
                node.docker_ok(&["info", "--format", "{{.Swarm.NodeID}}"])
                    .trim()
                    .to_owned()
            })
            .collect();
        self.wait_for("every node to be ready", |cluster| {
            cluster.ready_nodes().len() == cluster.swarm.nodes.len()
        });
    }

    pub fn manager(&self) -> &TestNode {
        self.swarm.manager()
    }

    /// What `DOCKER_HOST` is set to, for `stack` to reach the manager.
    pub fn docker_host(&self) -> String {
        self.swarm.host()
    }

    /// The registry every node reaches: `ADDRESS:PORT`, the registry part of image names.
    pub fn registry_host(&self) -> &str {
        &self.registry.host
    }

    /// The swarm's id of node `index` (0 is the manager).
    pub fn node_id(&self, index: usize) -> &str {
        &self.node_ids[index]
    }

    /// The indexes of the nodes that are ready and active, as `docker node ls` shows them.
    pub fn ready_nodes(&self) -> Vec<usize> {
        let listed =
            self.manager()
                .docker(&["node", "ls", "--format", "{{.ID}} {{.Status}} {{.Availability}}"]);
        let ready: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter_map(|line| line.strip_suffix(" Ready Active"))
            .map(str::to_owned)
            .collect();
        self.indexes(&ready)
    }

    /// The indexes of the nodes with the ids `ids`, sorted, one per id.
    fn indexes(&self, ids: &[String]) -> Vec<usize> {
        let mut indexes: Vec<usize> = ids
            .iter()
            .filter_map(|id| self.node_ids.iter().position(|node| node == id))
            .collect();
        indexes.sort_unstable();
        indexes
    }

    /// Builds the demo application's image (`stack-demo`, static, `FROM scratch`) on the
    /// manager, pushes it to the registry as `REPOSITORY:TAG` and returns it pinned by digest
    /// (`HOST/REPOSITORY@sha256:...`), which every node pulls.
    pub fn push_demo(&self, repository_and_tag: &str) -> String {
        let context = self.registry.dir().join("demo-context");
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(context.join("Dockerfile"), DEMO_DOCKERFILE).unwrap();
        std::fs::copy(stack_tests::demo_binary(), context.join("stack-demo")).unwrap();
        let reference = format!("{}/{repository_and_tag}", self.registry.host);
        let manager = self.manager();
        let build = std::process::Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["--host", &manager.host(), "build", "-q", "-t", &reference])
            .arg(&context)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        manager.docker_ok(&["push", "-q", &reference]);
        let pinned = manager.docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{index .RepoDigests 0}}",
            &reference,
        ]);
        pinned.trim().to_owned()
    }

    /// The indexes of the nodes running a task of `service` that should run, one per task,
    /// sorted.
    pub fn running_tasks(&self, service: &str) -> Vec<usize> {
        let listed = self.manager().docker(&[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.ID}}",
        ]);
        let tasks: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        if tasks.is_empty() {
            return Vec::new();
        }
        let mut inspect = vec!["inspect", "--format", "{{.NodeID}} {{.Status.State}}"];
        inspect.extend(tasks.iter().map(String::as_str));
        let inspected = self.manager().docker(&inspect);
        let running: Vec<String> = String::from_utf8_lossy(&inspected.stdout)
            .lines()
            .filter_map(|line| line.strip_suffix(" running"))
            .map(str::to_owned)
            .collect();
        let indexes = self.indexes(&running);
        // A task on a node the manager does not know would be lost by `indexes`.
        assert_eq!(
            indexes.len(),
            running.len(),
            "tasks on unknown nodes: {running:?}"
        );
        indexes
    }

    /// Polls `done` every 200 ms until it holds; panics naming `what` after a while, with
    /// the manager's view of the nodes and services.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut(&SwarmCluster) -> bool) {
        let give_up = Instant::now() + CONVERGE_TIMEOUT;
        while !done(self) {
            if Instant::now() > give_up {
                panic!(
                    "timed out waiting for {what}\n{}",
                    self.show(&[&["node", "ls"], &["service", "ls"]])
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the manager answers to each `docker ARGS` of `commands`, each after its command
    /// line, for a failure's message.
    pub fn show(&self, commands: &[&[&str]]) -> String {
        let mut shown = String::new();
        for args in commands {
            let output = self.manager().docker(args);
            shown.push_str(&format!(
                "$ docker {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        shown
    }

    /// What the cluster has on the machine now, to check after drop that it is gone.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            prefix: self.swarm.network.id.clone(),
            dirs: self.swarm.nodes.iter().map(|node| node.dir.clone()).collect(),
            nodes: self.swarm.nodes.iter().map(|node| node.name.clone()).collect(),
        }
    }
}

impl Drop for SwarmCluster {
    fn drop(&mut self) {
        // Each daemon takes a second or more to stop its tasks: they stop in parallel. The
        // network and the registry go after them.
        let nodes = std::mem::take(&mut self.swarm.nodes);
        std::thread::scope(|scope| {
            for node in nodes {
                scope.spawn(move || drop(node));
            }
        });
    }
}

/// Starts node `index` of `network`, its failure said with the daemon's name.
fn start_node(network: &TestNetwork, index: usize) -> Result<TestNode, String> {
    let index = u8::try_from(index).map_err(|_| format!("{index} nodes are too many"))?;
    TestNode::start(network, index)
}

impl Footprint {
    /// Panics naming whatever of the cluster is still on the machine.
    pub fn assert_gone(&self) {
        let mut left = Vec::new();
        let names_in = |dir: &str| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        };
        left.extend(
            names_in("/var/run/netns")
                .into_iter()
                .filter(|name| name.starts_with(&self.prefix))
                .map(|name| format!("network namespace {name}")),
        );
        left.extend(
            names_in("/sys/class/net")
                .into_iter()
                .filter(|name| name.starts_with(&self.prefix))
                .map(|name| format!("network interface {name}")),
        );
        for pid in names_in("/proc")
            .iter()
            .filter(|name| name.parse::<u32>().is_ok())
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
                .unwrap_or_default();
            if self
                .dirs
                .iter()
                .any(|dir| cmdline.contains(&*dir.to_string_lossy()))
            {
                left.push(format!("process {pid}: {cmdline}"));
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        left.extend(
            mounts
                .lines()
                .filter(|mount| {
                    self.dirs
                        .iter()
                        .any(|dir| mount.contains(&*dir.to_string_lossy()))
                })
                .map(|mount| format!("mount {mount}")),
        );
        left.extend(
            self.dirs
                .iter()
                .filter(|dir| dir.exists())
                .map(|dir| format!("folder {}", dir.display())),
        );
        for hierarchy in names_in("/sys/fs/cgroup") {
            left.extend(
                self.nodes
                    .iter()
                    .map(|node| format!("/sys/fs/cgroup/{hierarchy}/{node}"))
                    .filter(|cgroup| std::path::Path::new(cgroup).exists())
                    .map(|cgroup| format!("cgroup {cgroup}")),
            );
        }
        let rules = std::process::Command::new("iptables")
            .args(["-S", "FORWARD"])
            .output();
        if let Ok(rules) = rules {
            left.extend(
                String::from_utf8_lossy(&rules.stdout)
                    .lines()
                    .filter(|rule| rule.contains(&self.prefix))
                    .map(|rule| format!("iptables rule {rule}")),
            );
        }
        assert!(left.is_empty(), "the cluster left behind:\n{}", left.join("\n"));
    }
}
