//! `probe`: a health check a scratch image can run on itself as an exec probe.

use std::time::Duration;

use crate::client;

/// What to check: an HTTP URL answering 2xx, or a TCP port accepting connections.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Http(String),
    Tcp(String),
}

impl Target {
    /// `probe http://host:port/path` or `probe tcp host:port`.
    pub fn parse(positional: &[String]) -> Result<Target, String> {
        match positional {
            [url] if url.starts_with("http://") => Ok(Target::Http(url.clone())),
            [kind, address] if kind == "tcp" => Ok(Target::Tcp(address.clone())),
            _ => Err("probe takes `http://HOST:PORT/PATH` or `tcp HOST:PORT`".to_string()),
        }
    }
}

/// Ok when healthy, else why not.
pub fn check(target: &Target, timeout: Duration) -> Result<String, String> {
    match target {
        Target::Http(url) => {
            let reply = client::get(url, timeout)?;
            if (200..300).contains(&reply.status) {
                Ok(format!("{url}: {}", reply.status))
            } else {
                Err(format!(
                    "{url}: {} {}",
                    reply.status,
                    String::from_utf8_lossy(&reply.body).trim_end()
                ))
            }
        }
        Target::Tcp(address) => {
            let (host, port) = address
                .rsplit_once(':')
                .ok_or_else(|| format!("{address}: expected HOST:PORT"))?;
            let port = port.parse().map_err(|_| format!("{address}: invalid port"))?;
            client::connect(host, port, timeout).map(|_| format!("{address}: open"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            Target::parse(&strings(&["http://a:1/h"])),
            Ok(Target::Http("http://a:1/h".into()))
        );
        assert_eq!(
            Target::parse(&strings(&["tcp", "a:1"])),
            Ok(Target::Tcp("a:1".into()))
        );
        assert!(Target::parse(&strings(&["udp", "a:1"])).is_err());
        assert!(Target::parse(&[]).is_err());
    }

    #[test]
    fn tcp_probe_follows_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::Tcp(listener.local_addr().unwrap().to_string());
        assert!(check(&target, Duration::from_secs(1)).is_ok());
        drop(listener);
        assert!(check(&target, Duration::from_secs(1)).is_err());
        assert!(check(&Target::Tcp("nope".into()), Duration::from_secs(1)).is_err());
    }
}
