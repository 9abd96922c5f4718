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
///
/// Containers go one at a time: removing many at once from one network can
/// leave the daemon counting an endpoint that no longer exists, and then the
/// network cannot be removed until the daemon restarts (moby/moby#42119). A
/// network stuck that way is returned, not an error: it is empty, and named
/// so that it is plainly the bench's.
pub fn sweep(prefix: &str) -> Result<Vec<String>, String> {
    let mut stuck = Vec::new();
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
        for container in &containers {
            // Gone already is fine; anything else shows in the next round.
            let _ = docker(&["rm", "-f", "-v", container]);
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
        .filter(|name| name.starts_with(prefix) && !stuck.contains(name))
        .collect();
        for network in &networks {
            match docker(&["network", "rm", network]) {
                Err(problem) if problem.contains("has active endpoints") && round >= 2 => {
                    stuck.push(network.clone());
                }
                _ => {}
            }
        }
        if containers.is_empty() && networks.is_empty() {
            return Ok(stuck);
        }
    }
    Err(format!("could not remove everything named {prefix}*"))
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
        match sweep(&self.prefix) {
            Ok(stuck) => warn_stuck(&stuck),
            Err(problem) => eprintln!("warning: {problem}"),
        }
        if let Some(image) = &self.image
            && let Err(problem) = docker(&["image", "rm", "-f", image])
        {
            eprintln!("warning: {problem}");
        }
    }
}

/// Says which networks the daemon would not remove, and why.
pub fn warn_stuck(networks: &[String]) {
    for network in networks {
        eprintln!(
            "warning: the daemon keeps a stale endpoint on the empty network {network}: \
             it cannot be removed until the daemon restarts (moby/moby#42119); \
             then `docker network rm {network}`"
        );
    }
}
