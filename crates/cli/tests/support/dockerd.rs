//! A `dockerd` of a test, beside the machine's daemon: in a network namespace of its own, with
//! its own config file, data and exec roots, pidfile, socket and cgroup parent, on
//! fuse-overlayfs and off the host's iptables. Stopped on drop, also when the test panics:
//! the daemon, whatever it left running (containerd and its shims, fuse-overlayfs mounts),
//! its folder and its cgroups.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a daemon gets to start (about 5 s here) and to stop before it is killed.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Dockerd {
    /// Names the daemon's cgroup parent; unique on the machine.
    pub name: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Dockerd {
    /// Starts `dockerd` in the network namespace `netns` (`ip netns add`) and a UTS namespace
    /// of its own named `hostname` (a swarm node's name), with its files under `dir`
    /// (created; removed on drop) and `config` as its `--config-file`, and waits until it
    /// answers.
    pub fn start(name: &str, netns: &str, hostname: &str, dir: &Path, config: &serde_json::Value) -> Dockerd {
        std::fs::create_dir_all(dir).unwrap();
        let config_file = dir.join("daemon.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        // `nsenter`, not `ip netns exec`: the latter's fresh /sys hides the cgroup mounts.
        // Each command execs the next: the child is dockerd itself.
        let child = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{netns}"))
            .args(["unshare", "--uts", "sh", "-c"])
            .arg("echo \"$0\" >/proc/sys/kernel/hostname && exec dockerd \"$@\"")
            .arg(hostname)
            .arg("--config-file")
            .arg(&config_file)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .args(["--cgroup-parent", name])
            .args(["--storage-driver", "fuse-overlayfs"])
            .args(["--iptables=false", "--bridge", "none"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut dockerd = Dockerd {
            name: name.to_owned(),
            dir: dir.to_owned(),
            child: Some(child),
        };
        dockerd.wait_until_up();
        dockerd
    }

    /// The folder of its files, unique to this daemon: its processes name it on their
    /// command lines.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `DOCKER_HOST` is set to, to talk to this daemon.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    /// `docker ARGS` against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.docker_host())
            .env("DOCKER_BUILDKIT", "0")
            .args(args)
            .output()
            .unwrap()
    }

    /// `docker ARGS` that must succeed; its standard output, trimmed.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        assert!(
            output.status.success(),
            "docker {} on {}: {}{}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn wait_until_up(&mut self) {
        let give_up = Instant::now() + START_TIMEOUT;
        while !self
            .docker(&["version", "--format", "{{.Server.Version}}"])
            .status
            .success()
        {
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < give_up,
                "dockerd {} did not come up ({}):\n{}",
                self.name,
                exited.map_or("timed out".to_owned(), |status| status.to_string()),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines the daemon logged, for failure messages.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Whether the daemon process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().is_ok_and(|status| status.is_none()))
    }

    /// Stops the daemon as `systemctl stop docker` would (SIGTERM: it stops its containers
    /// and leaves the swarm's state on disk), killing it if it does not stop in time; its
    /// folder stays until drop.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let give_up = Instant::now() + STOP_TIMEOUT;
        while child.try_wait().is_ok_and(|status| status.is_none()) && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        // What a killed daemon leaves behind: containerd, its shims and fuse-overlayfs
        // processes name the daemon's folder, and mounts lie under it.
        for pid in processes_naming(&self.dir) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        for mount in mounts_under(&self.dir).iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(mount).status();
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        // The daemon made its cgroup parent in each cgroup v1 controller (or once in v2).
        for controller in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(controller.path().join(&self.name));
        }
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&self.name));
    }
}

/// Ids of the processes whose command line mentions `dir`.
pub fn processes_naming(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                String::from_utf8_lossy(&cmdline)
                    .replace('\0', " ")
                    .contains(&needle)
            })
        })
        .collect()
}

/// The mount points at or under `dir`, in the order they were mounted.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|mount| mount.starts_with(dir))
        .collect()
}
