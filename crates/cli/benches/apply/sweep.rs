//! Removing what the bench made, by name prefix: the containers and networks
//! of a run between runs, and everything under the bench's prefix (with its
//! image) when the bench ends, however it ends.

use std::process::Command;
use std::time::Duration;

/// Runs `docker` with `args`; its standard output, or why it failed.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run docker: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Removes every container and network whose name starts with `prefix`, and
/// stack's lock container of a stack so named. `prefix` names only what the
/// bench made (it ends in the bench's pid and a dash).
pub fn sweep(prefix: &str) -> Result<(), String> {
    let mut last_problem = String::new();
    for round in 0..10 {
        if round > 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
        let containers = lines(&docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("name=^/{prefix}"),
            "--filter",
            &format!("name=^/stack-lock\\.{prefix}"),
        ])?);
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(containers.iter().map(String::as_str));
            if let Err(problem) = docker(&args) {
                last_problem = problem;
            }
        }
        let networks: Vec<String> = lines(&docker(&[
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            &format!("name={prefix}"),
        ])?)
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .collect();
        if !networks.is_empty() {
            let mut args = vec!["network", "rm"];
            args.extend(networks.iter().map(String::as_str));
            if let Err(problem) = docker(&args) {
                last_problem = problem;
            }
        }
        if containers.is_empty() && networks.is_empty() {
            return Ok(());
        }
    }
    Err(format!(
        "could not remove everything named {prefix}*: {last_problem}"
    ))
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sweeps the bench's prefix and removes its image when dropped: at the end,
/// on an error and on a panic.
pub struct Guard {
    pub prefix: String,
    pub image: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(problem) = sweep(&self.prefix) {
            eprintln!("warning: {problem}");
        }
        if let Some(image) = &self.image
            && let Err(problem) = docker(&["image", "rm", "-f", image])
        {
            eprintln!("warning: {problem}");
        }
    }
}
