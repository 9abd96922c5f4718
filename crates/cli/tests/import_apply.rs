//! An imported Compose project, applied, runs the containers `docker-compose
//! up` runs for the same file: compared field by field on what both set
//! (command, environment, ports, mounts, labels, restart policy, networks and
//! aliases, user, capabilities, health check). `expose` is not compared: in a
//! stack it documents a port, and is not set on the container. The images are built here from
//! the static `stack-demo` binary. Both projects are removed at the end, pass
//! or fail. Without Docker or docker-compose the test is skipped, except
//! under `CI=true`, where it fails.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use stack_tests::Test;

const COMPOSE: &str = r#"services:
  web:
    build: ./app
    command: ["serve", "--port", "8080", "--name", "web"]
    environment:
      - GREETING=hello
      - LEVEL=${LEVEL:-info}
    ports:
      - "127.0.0.1:${WEB_PORT}:8080"
    expose: ["9000"]
    labels:
      tier: web
    restart: on-failure:2
    networks:
      back:
        aliases: [frontend]
    volumes:
      - data:/data
      - ./static:/static:ro
    user: "1000:1000"
    working_dir: /data
    init: true
    read_only: true
    cap_drop: [ALL]
    stop_signal: SIGINT
    healthcheck:
      test: ["CMD", "/stack-demo", "probe", "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
  cache:
    build:
      context: ./app
    command: ["cache", "--port", "6379"]
    networks: [back]
    depends_on:
      web:
        condition: service_healthy
networks:
  back:
volumes:
  data:
"#;

fn docker_and_compose_available() -> bool {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|output| output.status.success())
    };
    let available =
        works("docker", &["info", "--format", "{{.ServerVersion}}"]) && works("docker-compose", &["version"]);
    if !available {
        stack_tests::without_docker(&"`docker info` or `docker-compose version` fails");
    }
    available
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Both projects, removed on drop.
struct Projects {
    dir: tempfile::TempDir,
    stack: String,
    compose: String,
    compose_port: u16,
}

impl Projects {
    fn compose(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker-compose")
            .args(["-p", &self.compose, "-f", "compose.yaml"])
            .args(args)
            .current_dir(self.dir.path())
            .env("WEB_PORT", self.compose_port.to_string())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap()
    }

    fn stack(&self, args: &[&str]) -> stack_tests::Outcome {
        Test::new(env!("CARGO_BIN_EXE_stack"))
            .args(args.iter().copied())
            .args([self.dir.path().join("stack").display().to_string()])
            .run()
    }
}

impl Drop for Projects {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--rmi", "local"]);
        let _ = self.stack(&["destroy", "--auto-approve", "--volumes"]);
        let filter = format!("label=dev.stack.stack={}", self.stack);
        for id in docker(&["ps", "-aq", "--filter", &filter]).lines() {
            docker(&["rm", "-f", "-v", id]);
        }
        for kind in ["network", "volume"] {
            for id in docker(&[kind, "ls", "-q", "--filter", &filter]).lines() {
                docker(&[kind, "rm", id]);
            }
        }
        let images = format!("label=dev.stack.image.stack={}", self.stack);
        for id in docker(&["images", "-q", "--filter", &images]).lines() {
            docker(&["rmi", "-f", id]);
        }
        docker(&["rm", "-f", "-v", &format!("stack-lock.{}", self.stack)]);
    }
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The running container that has every one of `labels`.
fn inspect(labels: &[String]) -> Value {
    let mut args = vec!["ps".to_owned(), "-q".to_owned()];
    for label in labels {
        args.push("--filter".to_owned());
        args.push(format!("label={label}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ids = docker(&args);
    let id = ids
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no running container with {labels:?}"));
    let all: Value = serde_json::from_str(&docker(&["inspect", id])).unwrap();
    all[0].clone()
}

/// What both tools set, with each one's own prefixes and labels taken out.
fn comparable(container: &Value, project: &str, port: u16) -> Value {
    let config = &container["Config"];
    let host = &container["HostConfig"];
    let strings = |value: &Value| -> BTreeSet<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let labels: BTreeSet<String> = config["Labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter(|(key, _)| !key.starts_with("com.docker.compose.") && !key.starts_with("dev.stack."))
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let prefix = format!("{project}_");
    let mounts: BTreeSet<String> = container["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|mount| {
            let source = match mount["Type"].as_str() {
                Some("volume") => mount["Name"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches(&prefix)
                    .to_owned(),
                _ => mount["Source"].as_str().unwrap_or_default().to_owned(),
            };
            format!(
                "{} {source} -> {} rw={}",
                mount["Type"].as_str().unwrap_or_default(),
                mount["Destination"].as_str().unwrap_or_default(),
                mount["RW"]
            )
        })
        .collect();
    let mut networks = Vec::new();
    for (name, network) in container["NetworkSettings"]["Networks"].as_object().unwrap() {
        let aliases: BTreeSet<String> = strings(&network["Aliases"])
            .into_iter()
            .filter(|alias| {
                !container["Id"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(alias.as_str())
            })
            .filter(|alias| {
                !container["Name"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with(alias.as_str())
            })
            .collect();
        networks.push(serde_json::json!({ "name": name.trim_start_matches(&prefix), "aliases": aliases }));
    }
    let bindings = &host["PortBindings"];
    let ports: BTreeSet<String> = bindings
        .as_object()
        .map(|ports| {
            ports
                .iter()
                .flat_map(|(container_port, binds)| {
                    binds
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |bind| {
                            let host_port = bind["HostPort"].as_str().unwrap_or_default().to_owned();
                            let host_port = if host_port == port.to_string() {
                                "PORT".to_owned()
                            } else {
                                host_port
                            };
                            format!(
                                "{}:{host_port}->{container_port}",
                                bind["HostIp"].as_str().unwrap_or_default()
                            )
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "cmd": config["Cmd"],
        "entrypoint": config["Entrypoint"],
        "env": strings(&config["Env"]),
        "user": config["User"],
        "workdir": config["WorkingDir"],
        "stop-signal": config["StopSignal"],
        "labels": labels,
        "healthcheck": { "test": config["Healthcheck"]["Test"], "interval": config["Healthcheck"]["Interval"] },
        "ports": ports,
        // Docker's defaults, however each tool spells them: no restart, no init.
        "restart": {
            "name": match host["RestartPolicy"]["Name"].as_str() {
                Some("") | None => "no",
                Some(name) => name,
            },
            "max-retries": host["RestartPolicy"]["MaximumRetryCount"],
        },
        "init": host["Init"].as_bool().unwrap_or(false),
        "read-only": host["ReadonlyRootfs"],
        "cap-add": host["CapAdd"],
        "cap-drop": host["CapDrop"],
        "mounts": mounts,
        "networks": networks,
    })
}

#[test]
fn an_imported_stack_runs_the_containers_docker_compose_runs() {
    if !docker_and_compose_available() {
        return;
    }
    let id = std::process::id();
    let projects = Projects {
        dir: tempfile::Builder::new()
            .prefix("stack-import-")
            .tempdir()
            .unwrap(),
        stack: format!("stackimport-{id}"),
        compose: format!("composeimport{id}"),
        compose_port: free_port(),
    };
    let dir = projects.dir.path();
    let stack_port = free_port();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::create_dir_all(dir.join("static")).unwrap();
    std::fs::write(dir.join("static/index.html"), "hello\n").unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM scratch\nCOPY stack-demo /stack-demo\nENTRYPOINT [\"/stack-demo\"]\nCMD [\"serve\"]\n",
    )
    .unwrap();
    std::fs::copy(stack_tests::demo_binary(), dir.join("app/stack-demo")).unwrap();
    std::fs::write(dir.join("compose.yaml"), COMPOSE).unwrap();
    // The stack's port is fixed at import from `.env`; compose gets another from its environment.
    std::fs::write(dir.join(".env"), format!("WEB_PORT={stack_port}\n")).unwrap();

    let imported = Test::new(env!("CARGO_BIN_EXE_stack"))
        .args(["import", "compose"])
        .args([dir.join("compose.yaml").display().to_string()])
        .args(["--project-name", &projects.stack])
        .run();
    assert_eq!(imported.status, Some(0), "{}", imported.stderr);
    let applied = projects.stack(&["apply", "--auto-approve"]);
    assert_eq!(
        applied.status,
        Some(0),
        "stack apply:\n{}\n{}",
        applied.stdout,
        applied.stderr
    );
    let up = projects.compose(&["up", "-d"]);
    assert!(
        up.status.success(),
        "docker-compose up:\n{}",
        String::from_utf8_lossy(&up.stderr)
    );

    for service in ["web", "cache"] {
        let ours = inspect(&[
            format!("dev.stack.stack={}", projects.stack),
            format!("dev.stack.address=service.{service}"),
        ]);
        let theirs = inspect(&[
            format!("com.docker.compose.project={}", projects.compose),
            format!("com.docker.compose.service={service}"),
        ]);
        let ours = comparable(&ours, &projects.stack, stack_port);
        let theirs = comparable(&theirs, &projects.compose, projects.compose_port);
        assert_eq!(
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&theirs).unwrap(),
            "service {service}: stack (left) and docker-compose (right) differ"
        );
    }
    assert!(Path::new(&dir.join("stack/stack.kdl")).exists());
}
