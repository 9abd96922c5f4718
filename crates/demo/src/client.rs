//! A minimal HTTP/1.1 GET client for `probe` and `/proxy`. Names resolve through std
//! (`ToSocketAddrs`), which is what Docker's embedded DNS needs inside a scratch image.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Upstream answers beyond this are cut: the demo only relays small bodies.
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    /// Parses `http://host[:port][/path]`; only plain HTTP is supported.
    pub fn parse(url: &str) -> Result<Url, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| format!("{url}: invalid port {port:?}"))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Url {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Connects to the first address of `host:port` that answers within `timeout`.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {host}: {error}"))?
        .collect();
    let mut last_error = format!("{host} resolved to no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = format!("cannot connect to {address}: {error}"),
        }
    }
    Err(last_error)
}

/// Sends `GET` and reads the whole answer; `timeout` bounds connecting and each read or write.
pub fn get(url: &str, timeout: Duration) -> Result<Reply, String> {
    let url = Url::parse(url)?;
    let mut stream = connect(&url.host, url.port, timeout)?;
    let io_error = |error: std::io::Error| format!("{}:{}: {error}", url.host, url.port);
    stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: stack-demo\r\nConnection: close\r\n\r\n",
        url.path, url.host, url.port
    )
    .map_err(io_error)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut raw)
        .map_err(io_error)?;
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let head_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("incomplete HTTP answer")?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("invalid status line {status_line:?}"))?;
    let content_length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok());
    let mut body = raw[head_end + 4..].to_vec();
    if let Some(length) = content_length {
        body.truncate(length);
    }
    Ok(Reply { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = Url::parse("http://api:8080/health?x=1").unwrap();
        assert_eq!(
            url,
            Url {
                host: "api".into(),
                port: 8080,
                path: "/health?x=1".into()
            }
        );
        assert_eq!(Url::parse("http://web").unwrap().port, 80);
        assert_eq!(Url::parse("http://web").unwrap().path, "/");
        assert!(Url::parse("https://web").is_err());
        assert!(Url::parse("http://web:x/").is_err());
        assert!(Url::parse("http://:80/").is_err());
    }

    #[test]
    fn parses_replies() {
        let reply =
            parse_reply(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndownXX").unwrap();
        assert_eq!(
            reply,
            Reply {
                status: 503,
                body: b"down".to_vec()
            }
        );
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_reply(b"nonsense\r\n\r\n").is_err());
    }
}
