//! A real registry for a test: Debian's `docker-registry` (distribution 2.x) on 127.0.0.1 and
//! a free port, which the engine trusts over plain HTTP (or on another address of the host), with storage and config of its own,
//! optionally behind htpasswd logins. Killed, and its storage removed, on drop.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{DEMO_DOCKERFILE, TEST_LABEL, docker, free_port_of};

const BINARY: &str = "docker-registry";

pub struct Registry {
    /// `127.0.0.1:PORT`: the registry part of image references.
    pub host: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    /// A registry anyone may pull from and push to; `None` without `docker-registry` (a
    /// failure under `CI=true`, where `.ci/run` installs it).
    pub fn start() -> Option<Registry> {
        Registry::start_with(None, Ipv4Addr::LOCALHOST)
    }

    /// [`Registry::start`] on `address`, where other network namespaces reach it; their
    /// daemons need it among their `insecure-registries`.
    pub fn start_at(address: Ipv4Addr) -> Option<Registry> {
        Registry::start_with(None, address)
    }

    /// A registry that lets in only `username` with `password` (an htpasswd file, bcrypt, made
    /// with `htpasswd` of apache2-utils).
    pub fn with_login(username: &str, password: &str) -> Option<Registry> {
        Registry::start_with(Some((username, password)), Ipv4Addr::LOCALHOST)
    }

    fn start_with(login: Option<(&str, &str)>, address: Ipv4Addr) -> Option<Registry> {
        if Command::new(BINARY).arg("--version").output().is_err() {
            stack_tests::without_docker(&format!(
                "`{BINARY}` is not installed (apt-get install docker-registry)"
            ));
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("stack-registry-")
            .tempdir()
            .unwrap();
        let host = format!("{address}:{}", free_port_of(address));
        let auth = match login {
            Some((username, password)) => {
                let htpasswd = Command::new("htpasswd")
                    .args(["-Bbn", username, password])
                    .output()
                    .expect("htpasswd (apache2-utils) makes the registry's password file");
                assert!(htpasswd.status.success(), "htpasswd failed");
                std::fs::write(dir.path().join("htpasswd"), htpasswd.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: stack-test\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                )
            }
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n{auth}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry { host, child, dir };
        registry.wait_until_up();
        Some(registry)
    }

    /// Polls `GET /v2/` until the registry answers (200, or 401 behind logins).
    fn wait_until_up(&self) {
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut stream) = TcpStream::connect(&self.host) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < give_up,
                "the registry did not answer on {}: {}",
                self.host,
                std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `HOST/REPOSITORY:TAG` of this registry.
    pub fn image(&self, repository_and_tag: &str) -> String {
        format!("{}/{repository_and_tag}", self.host)
    }

    /// Builds the demo application's image (labelled for the test `owner`, so its clean-up
    /// removes what is left), pushes it as `reference` (logging in first when `login` is given,
    /// with a Docker config of its own) and removes it from the host again: a stack that runs
    /// it must pull it.
    pub fn seed(&self, reference: &str, login: Option<(&str, &str)>, owner: &str) {
        let context = self.dir.path().join("seed");
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(context.join("Dockerfile"), DEMO_DOCKERFILE).unwrap();
        std::fs::copy(stack_tests::demo_binary(), context.join("stack-demo")).unwrap();
        let label = format!("{TEST_LABEL}={owner}");
        run(Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "--label", &label, "-t", reference])
            .arg(&context));
        let config = self.dir.path().join("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        if let Some((username, password)) = login {
            let mut login = Command::new("docker")
                .arg("--config")
                .arg(&config)
                .args(["login", "-u", username, "--password-stdin", &self.host])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            login
                .stdin
                .take()
                .unwrap()
                .write_all(password.as_bytes())
                .unwrap();
            let output = login.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "docker login: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        run(Command::new("docker")
            .arg("--config")
            .arg(&config)
            .args(["push", reference]));
        forget(reference);
    }

    /// A folder to use as `DOCKER_CONFIG`, holding `config.json` with `contents`.
    pub fn docker_config(&self, name: &str, contents: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), contents).unwrap();
        dir
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes `reference` from the host (the image goes with its last reference).
pub fn forget(reference: &str) {
    docker(&["rmi", reference]);
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
