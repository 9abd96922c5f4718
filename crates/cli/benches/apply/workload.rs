//! The workload every tool is given: N services of the demo image, each
//! `stack-demo serve` on one user network under its service name, restarted
//! unless stopped, without a health check. The same containers for all.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use stack_docker::{BuildSpec, ContainerSpec, DockerClient, Labels, NetworkAttachment, RestartPolicy};

/// The label on what the bench creates itself (baselines, the image).
pub const BENCH_LABEL: &str = "dev.stackbench.run";

pub const COMMAND: [&str; 3] = ["serve", "--port", "8080"];

pub fn service(index: usize) -> String {
    format!("s{index:03}")
}

/// The stack file of `services` services, as `stack` is given it.
pub fn stack_file(stack: &str, image: &str, services: usize) -> String {
    let mut text = format!("stack \"{stack}\"\n\nnetwork \"net\"\n");
    for index in 1..=services {
        let _ = write!(
            text,
            "\nservice \"{}\" {{\n    image \"{image}\"\n    command \"serve\" \"--port\" \"8080\"\n    network \"net\"\n}}\n",
            service(index)
        );
    }
    text
}

/// The same services as a Compose file (v1 reads format 2.4).
pub fn compose_file(image: &str, services: usize) -> String {
    let mut text = String::from("version: \"2.4\"\nservices:\n");
    for index in 1..=services {
        let _ = write!(
            text,
            "  {}:\n    image: \"{image}\"\n    command: [\"serve\", \"--port\", \"8080\"]\n    restart: unless-stopped\n    networks: [net]\n",
            service(index)
        );
    }
    text.push_str("networks:\n  net: {}\n");
    text
}

/// One line of `docker` arguments per container, for `xargs -L 1 docker`.
pub fn docker_run_lines(run: &str, network: &str, image: &str, services: usize) -> String {
    let mut text = String::new();
    for index in 1..=services {
        let name = service(index);
        let _ = writeln!(
            text,
            "run -d --name {run}_{name} --network {network} --network-alias {name} --restart unless-stopped --label {BENCH_LABEL}={run} {image} {}",
            COMMAND.join(" ")
        );
    }
    text
}

/// The container of service `index` as the direct API baseline creates it.
pub fn container(run: &str, network: &str, image: &str, index: usize) -> ContainerSpec {
    let name = service(index);
    ContainerSpec {
        name: format!("{run}_{name}"),
        image: image.to_owned(),
        command: Some(COMMAND.iter().map(|part| (*part).to_owned()).collect()),
        labels: Labels::from([(BENCH_LABEL.to_owned(), run.to_owned())]),
        networks: vec![NetworkAttachment {
            network: network.to_owned(),
            aliases: vec![name],
            ipv4_address: None,
        }],
        restart: RestartPolicy::UnlessStopped,
        ..ContainerSpec::default()
    }
}

/// Builds the static `stack-demo` and a `FROM scratch` image of it tagged
/// `<prefix>demo:bench`; returns the tag.
pub async fn demo_image(client: &DockerClient, prefix: &str, context: &Path) -> Result<String, String> {
    let binary = tokio::task::spawn_blocking(static_demo)
        .await
        .map_err(|error| error.to_string())??;
    std::fs::create_dir_all(context).map_err(|error| error.to_string())?;
    std::fs::copy(&binary, context.join("stack-demo"))
        .map_err(|error| format!("cannot copy {}: {error}", binary.display()))?;
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY stack-demo /stack-demo\nENTRYPOINT [\"/stack-demo\"]\n",
    )
    .map_err(|error| error.to_string())?;
    let tag = format!("{prefix}demo:bench");
    let spec = BuildSpec {
        context: context.to_path_buf(),
        tags: vec![tag.clone()],
        labels: Labels::from([(BENCH_LABEL.to_owned(), prefix.to_owned())]),
        ..BuildSpec::default()
    };
    client
        .build_image(&spec, |_| {})
        .await
        .map_err(|error| format!("building the demo image failed: {error}"))?;
    Ok(tag)
}

/// `cargo rustc --release -p stack-demo -- -C target-feature=+crt-static`: a
/// binary that runs without a C library. Its path comes from cargo's messages.
fn static_demo() -> Result<PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .args(["rustc", "--release", "-p", "stack-demo", "--bin", "stack-demo"])
        .args(["--message-format=json", "--", "-C", "target-feature=+crt-static"])
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the static stack-demo failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "stack-demo"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo did not name the stack-demo executable".to_owned())
}
