//! The proxy in front of a service that rolls out start-first (or blue-green).
//!
//! Moving a network alias from an old container to a new one is not enough for an update
//! without failures: measured on this engine, a client resolving the name per request stalls
//! for seconds once per switch, since Docker's DNS still answers with the old address after it
//! is gone; and two copies of a service cannot publish one host port. So such a service gets
//! one more container, `<service>-proxy`, running `stack-proxy` (crates/proxy): it holds the
//! service's host name, aliases, fixed address and published TCP ports, and forwards each
//! connection to a replica. The replicas join the same networks under their container names
//! only. A rollout puts the new replica's address in the proxy's backend set, waits until the
//! old one has no connection open, and only then stops it.
//!
//! The proxy runs from an image made here, since nothing can be pulled: a static `stack-proxy`
//! executable, found beside the `stack` executable or at `$STACK_PROXY_BINARY`, imported as
//! the only file of an image tagged by its content hash.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use stack_docker::{
    ContainerFile, ContainerInfo, ContainerSpec, DockerClient, Labels, Protocol, RestartPolicy,
};
use stack_provider::ProviderError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::live::REPLICA;
use super::spec::ServiceSpec;
use crate::common;

/// Where `stack` finds the static `stack-proxy` executable when it is not beside itself.
pub const BINARY_VARIABLE: &str = "STACK_PROXY_BINARY";
const IMAGE_REPOSITORY: &str = "stack-proxy";
const IMAGE_LABEL: &str = "dev.stack.proxy-image";
/// The first port the control API may take; the next free one is used when a service forwards it.
const CONTROL_PORT: u16 = 9901;
/// How long one control request may take: the proxy answers from memory.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(3);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The TCP ports a service's proxy forwards (its `port` targets and `expose`); empty when it
/// gets no proxy: it does not start replacements first, or serves on no known TCP port.
pub fn ports(spec: &ServiceSpec) -> Vec<u16> {
    if !spec.update.starts_first() {
        return Vec::new();
    }
    let mut ports: Vec<u16> = spec
        .ports
        .iter()
        .filter(|binding| binding.protocol == Protocol::Tcp)
        .map(|binding| binding.container_port)
        .chain(spec.exposed.iter().copied())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// How the configuration records a proxy: `{"proxy": {"ports": [8080]}}`, or nothing.
pub fn config_json(spec: &ServiceSpec) -> Option<Json> {
    let ports = ports(spec);
    (!ports.is_empty()).then(|| json!({"proxy": {"ports": ports}}))
}

fn control_port(ports: &[u16]) -> u16 {
    (CONTROL_PORT..)
        .find(|port| !ports.contains(port))
        .unwrap_or(CONTROL_PORT)
}

/// The proxy's container: the service's networks with its aliases and fixed addresses, its
/// published TCP ports, and the replicas at `backends` behind it.
pub fn container(
    spec: &ServiceSpec,
    name: String,
    image: String,
    mut labels: Labels,
    backends: &[Ipv4Addr],
) -> ContainerSpec {
    let ports = ports(spec);
    let mut command: Vec<String> = Vec::new();
    for port in &ports {
        command.extend(["--listen".to_owned(), port.to_string()]);
    }
    command.extend(["--control".to_owned(), control_port(&ports).to_string()]);
    for backend in backends {
        command.extend(["--backend".to_owned(), backend.to_string()]);
    }
    command.extend([
        "--drain-ms".to_owned(),
        spec.stop_grace_period.as_millis().to_string(),
    ]);
    // Replica number 0: the service's container that is not a replica.
    labels.insert(REPLICA.to_owned(), "0".to_owned());
    ContainerSpec {
        name,
        image,
        entrypoint: Some(vec!["/stack-proxy".to_owned()]),
        command: Some(command),
        labels,
        ports: spec
            .ports
            .iter()
            .filter(|binding| binding.protocol == Protocol::Tcp)
            .cloned()
            .collect(),
        networks: spec.networks.clone(),
        restart: RestartPolicy::UnlessStopped,
        stop_timeout: Some(spec.stop_grace_period),
        ..ContainerSpec::default()
    }
}

/// The proxy image, imported the first time from the static `stack-proxy` executable.
pub async fn image(docker: &DockerClient) -> Result<String, ProviderError> {
    let path = binary_path()?;
    let bytes =
        std::fs::read(&path).map_err(|error| missing_binary(&format!("{}: {error}", path.display())))?;
    if !is_static(&bytes) {
        return Err(ProviderError::new(format!(
            "{} is not a static executable: the proxy runs in an image with no C library",
            path.display()
        ))
        .with_hint(build_hint()));
    }
    let digest = hex::encode(Sha256::digest(&bytes));
    let reference = format!("{IMAGE_REPOSITORY}:{}", &digest[..12]);
    match docker.inspect_image(&reference).await {
        Ok(_) => return Ok(reference),
        Err(error) if error.is_not_found() => {}
        Err(error) => return Err(common::error(error)),
    }
    let file = ContainerFile {
        path: "/stack-proxy".to_owned(),
        contents: bytes,
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
    let rootfs = stack_docker::file_archive(&file).map_err(ProviderError::new)?;
    common::import_shared_image(docker, rootfs, &reference, IMAGE_LABEL).await?;
    Ok(reference)
}

fn binary_path() -> Result<PathBuf, ProviderError> {
    if let Some(path) = std::env::var_os(BINARY_VARIABLE) {
        return Ok(PathBuf::from(path));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("stack-proxy")))
        .filter(|path| path.is_file());
    beside.ok_or_else(|| missing_binary("no `stack-proxy` beside the `stack` executable"))
}

fn missing_binary(detail: &str) -> ProviderError {
    ProviderError::new(format!(
        "a start-first service needs the `stack-proxy` executable in front of it: {detail}"
    ))
    .with_hint(build_hint())
}

fn build_hint() -> String {
    format!(
        "build it static beside `stack` with `cargo rustc --release -p stack-proxy --bin stack-proxy -- -C target-feature=+crt-static`, \
         or point ${BINARY_VARIABLE} at one"
    )
}

/// Whether an ELF executable asks for no program interpreter (a dynamic loader).
fn is_static(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let read = |at: usize, width: usize| -> Option<u64> {
        let bytes = elf.get(at..at + width)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0, |value, byte| (value << 8) | u64::from(*byte)),
        )
    };
    // 64-bit little-endian ELF only: the architectures Docker runs `stack-proxy` on here.
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(offset), Some(size), Some(count)) = (read(0x20, 8), read(0x36, 2), read(0x38, 2)) else {
        return false;
    };
    (0..count).all(|index| {
        let header = offset + index * size;
        usize::try_from(header).ok().and_then(|at| read(at, 4)) != Some(u64::from(PT_INTERP))
    })
}

/// A running proxy, driven through its control API from the host at the container's address.
pub struct Front {
    control: SocketAddr,
    /// The backend set as last put, so that concurrent replacements each change their own part.
    backends: Mutex<Vec<Ipv4Addr>>,
}

impl Front {
    /// The control API of the proxy container `info`, when it runs with an address.
    pub fn of(info: &ContainerInfo) -> Option<Front> {
        // The first network by name, as for the replicas behind it.
        let address = info
            .networks
            .values()
            .find_map(|endpoint| endpoint.ipv4_address)?;
        let control = info
            .command
            .as_ref()?
            .windows(2)
            .find(|pair| pair[0] == "--control")
            .and_then(|pair| pair[1].parse().ok())?;
        Some(Front {
            control: SocketAddr::new(address.into(), control),
            backends: Mutex::new(Vec::new()),
        })
    }

    /// Waits until the control API answers, for at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let give_up_at = Instant::now() + timeout;
        loop {
            match self.request("GET", "/health", "").await {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() >= give_up_at => return Err(error),
                Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Sends new connections to `backends` from now on.
    pub async fn set(&self, backends: Vec<Ipv4Addr>) -> Result<(), String> {
        let mut current = self.backends.lock().await;
        self.put(&backends).await?;
        *current = backends;
        Ok(())
    }

    /// Takes `out` out of the set and puts `into` in (either may be absent).
    pub async fn swap(&self, out: Option<Ipv4Addr>, into: Option<Ipv4Addr>) -> Result<(), String> {
        let mut current = self.backends.lock().await;
        let mut next: Vec<Ipv4Addr> = current.iter().copied().filter(|ip| Some(*ip) != out).collect();
        if let Some(into) = into.filter(|ip| !next.contains(ip)) {
            next.push(into);
        }
        self.put(&next).await?;
        *current = next;
        Ok(())
    }

    /// The set as the proxy has it, and the addresses still draining.
    pub async fn backends(&self) -> Result<(Vec<Ipv4Addr>, Vec<(Ipv4Addr, usize)>), String> {
        let listing = self.request("GET", "/backends", "").await?;
        let mut current = Vec::new();
        let mut draining = Vec::new();
        for line in listing.lines() {
            let mut words = line.split_whitespace();
            let (Some(ip), Some(status), Some(active)) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let (Ok(ip), Ok(active)) = (ip.parse(), active.parse()) else {
                continue;
            };
            match status {
                "current" => current.push(ip),
                _ => draining.push((ip, active)),
            }
        }
        Ok((current, draining))
    }

    /// Waits until no connection to `backend` is open, for at most `timeout`; a connection
    /// still open then is cut when the backend stops, as it would be without a proxy.
    pub async fn drain(&self, backend: Ipv4Addr, timeout: Duration) {
        let give_up_at = Instant::now() + timeout;
        while Instant::now() < give_up_at {
            match self.backends().await {
                Ok((_, draining)) if draining.iter().any(|(ip, active)| *ip == backend && *active > 0) => {}
                _ => return,
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn put(&self, backends: &[Ipv4Addr]) -> Result<(), String> {
        let body: String = backends.iter().map(|ip| format!("{ip}\n")).collect();
        self.request("PUT", "/backends", &body).await.map(drop)
    }

    /// One request to the control API; the answer's body when it is a 2xx.
    async fn request(&self, method: &str, path: &str, body: &str) -> Result<String, String> {
        let exchange = async {
            let mut stream = TcpStream::connect(self.control).await?;
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.control,
                body.len()
            );
            stream.write_all(request.as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            Ok::<String, std::io::Error>(answer)
        };
        let failed = |what: String| format!("the proxy at {} {what}", self.control);
        let answer = tokio::time::timeout(CONTROL_TIMEOUT, exchange)
            .await
            .map_err(|_| failed("did not answer in time".to_owned()))?
            .map_err(|error| failed(format!("cannot be reached: {error}")))?;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer.as_str(), ""));
        let status = head.split_whitespace().nth(1).unwrap_or_default();
        if status.starts_with('2') {
            Ok(body.to_owned())
        } else {
            Err(failed(format!("answered {status}: {}", body.trim())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_port_avoids_the_forwarded_ones() {
        assert_eq!(control_port(&[8080]), 9901);
        assert_eq!(control_port(&[9901, 9902]), 9903);
    }

    #[test]
    fn tells_static_executables_from_dynamic_ones() {
        // The test binary itself links the C library dynamically.
        let own = std::env::current_exe()
            .and_then(std::fs::read)
            .expect("the test binary");
        assert!(!is_static(&own));
        assert!(!is_static(b"#!/bin/sh\n"));
        // A 64-bit ELF header with no program headers asks for no interpreter.
        let mut bare = vec![0u8; 64];
        bare[..6].copy_from_slice(b"\x7fELF\x02\x01");
        assert!(is_static(&bare));
        bare[0x20] = 64;
        bare[0x36] = 56;
        bare[0x38] = 1;
        bare.extend_from_slice(&[3, 0, 0, 0]);
        bare.resize(64 + 56, 0);
        assert!(!is_static(&bare));
    }
}
