//! `http` and `tcp` probes of a service, checked from the host.
//!
//! A probe is written as seen from inside the container (`http://127.0.0.1:8080/health`), but
//! the image may have no program to run it: a `FROM scratch` image has no `wget` nor `curl`.
//! So stack checks these probes itself, from the machine it runs on, against the container's
//! address on its first network: the loopback names and the service's own host name stand for
//! that address; any other host is contacted as written. The container gets no Docker health
//! check for them (see `Probe::healthcheck`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::spec::Check;

/// Where one check goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Http {
        address: SocketAddr,
        host: String,
        path: String,
    },
    Tcp(SocketAddr),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Http { address, path, .. } => write!(f, "http://{address}{path}"),
            Target::Tcp(address) => write!(f, "{address}"),
        }
    }
}

/// The target of `check` for the container at `container`; `own_names` (the service's host
/// name and aliases) stand for the container like the loopback names do.
pub async fn target(check: &Check, container: Ipv4Addr, own_names: &[String]) -> Result<Target, String> {
    match check {
        Check::Http(url) => {
            let (authority, path) = split_url(url)?;
            let (host, port) = split_host_port(authority, 80)?;
            let address = resolve(host, port, container, own_names).await?;
            Ok(Target::Http {
                address,
                host: authority.to_owned(),
                path: path.to_owned(),
            })
        }
        Check::Tcp(target) => {
            let (host, port) = split_host_port(target, 0)?;
            if port == 0 {
                return Err(format!("`{target}` names no port: write it as HOST:PORT"));
            }
            Ok(Target::Tcp(resolve(host, port, container, own_names).await?))
        }
        Check::Exec(_) => Err("an exec probe runs inside the container".to_owned()),
    }
}

/// One check: `Ok` when it passes, else what went wrong, as a probe's output would say it.
pub async fn run(target: &Target, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, attempt(target)).await {
        Ok(result) => result,
        Err(_) => Err(format!("{target}: no answer within {}s", timeout.as_secs_f32())),
    }
}

async fn attempt(target: &Target) -> Result<(), String> {
    match target {
        Target::Tcp(address) => TcpStream::connect(address)
            .await
            .map(drop)
            .map_err(|error| format!("{address}: {error}")),
        Target::Http { address, host, path } => {
            let failed = |error: std::io::Error| format!("{target}: {error}");
            let mut stream = TcpStream::connect(address).await.map_err(failed)?;
            let request = format!(
                "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: stack\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.map_err(failed)?;
            let mut answer = Vec::new();
            // The status line is all a probe needs.
            let mut chunk = [0_u8; 512];
            while !answer.contains(&b'\n') && answer.len() < 4096 {
                let read = stream.read(&mut chunk).await.map_err(failed)?;
                if read == 0 {
                    break;
                }
                answer.extend_from_slice(&chunk[..read]);
            }
            let text = String::from_utf8_lossy(&answer);
            let status_line = text.lines().next().unwrap_or_default();
            match status_line
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse::<u16>().ok())
            {
                Some(status) if (200..300).contains(&status) => Ok(()),
                Some(_) => Err(format!("{target} answered {status_line}")),
                None => Err(format!("{target} gave no HTTP answer")),
            }
        }
    }
}

/// `http://HOST[:PORT][/PATH]` into the authority and the path (`/` when there is none).
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "`{url}` cannot be checked from the host: only http:// URLs can (use an exec probe for others)"
        ));
    };
    Ok(match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    })
}

/// `host:port`, `[::1]:port` or `host` (with `default_port`).
fn split_host_port(text: &str, default_port: u16) -> Result<(&str, u16), String> {
    let invalid = || format!("`{text}` is not HOST:PORT");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, rest) = rest.split_once(']').ok_or_else(invalid)?;
        (host, rest.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().map_err(|_| invalid())?,
        None => default_port,
    };
    Ok((host, port))
}

async fn resolve(
    host: &str,
    port: u16,
    container: Ipv4Addr,
    own_names: &[String],
) -> Result<SocketAddr, String> {
    let loopback = ["127.0.0.1", "localhost", "0.0.0.0", "::1", "::"].contains(&host);
    if loopback || own_names.iter().any(|name| name == host) {
        return Ok(SocketAddr::new(IpAddr::V4(container), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| {
            format!("`{host}` does not resolve from the host, where stack checks http and tcp probes")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINER: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 3);

    #[tokio::test]
    async fn loopback_and_own_names_mean_the_container() {
        let own = vec!["api".to_owned()];
        let http = target(
            &Check::Http("http://127.0.0.1:8080/health".into()),
            CONTAINER,
            &own,
        )
        .await;
        assert_eq!(
            http,
            Ok(Target::Http {
                address: "172.18.0.3:8080".parse().unwrap(),
                host: "127.0.0.1:8080".into(),
                path: "/health".into(),
            })
        );
        let plain = target(&Check::Http("http://api".into()), CONTAINER, &own).await;
        assert_eq!(
            plain.map(|target| target.to_string()),
            Ok("http://172.18.0.3:80/".to_owned())
        );
        let tcp = target(&Check::Tcp("localhost:6379".into()), CONTAINER, &own).await;
        assert_eq!(tcp, Ok(Target::Tcp("172.18.0.3:6379".parse().unwrap())));
        let other = target(&Check::Tcp("10.1.2.3:5432".into()), CONTAINER, &own).await;
        assert_eq!(other, Ok(Target::Tcp("10.1.2.3:5432".parse().unwrap())));
    }

    #[tokio::test]
    async fn what_cannot_be_checked_says_why() {
        let https = target(&Check::Http("https://127.0.0.1/".into()), CONTAINER, &[]).await;
        assert!(https.is_err_and(|error| error.contains("only http://")));
        let no_port = target(&Check::Tcp("127.0.0.1".into()), CONTAINER, &[]).await;
        assert!(no_port.is_err_and(|error| error.contains("names no port")));
    }

    #[tokio::test]
    async fn checks_pass_on_2xx_and_fail_with_what_was_seen() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for answer in [
                "HTTP/1.1 200 OK\r\n\r\n",
                "HTTP/1.1 503 Service Unavailable\r\n\r\n",
            ] {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0_u8; 1024];
                let _ = stream.read(&mut request).await.unwrap();
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let http = Target::Http {
            address,
            host: "127.0.0.1".into(),
            path: "/health".into(),
        };
        assert_eq!(run(&http, Duration::from_secs(2)).await, Ok(()));
        let failed = run(&http, Duration::from_secs(2)).await;
        assert!(failed.is_err_and(|output| output.ends_with("answered HTTP/1.1 503 Service Unavailable")));
        server.await.unwrap();
        assert!(run(&Target::Tcp(address), Duration::from_secs(2)).await.is_err());
    }
}
