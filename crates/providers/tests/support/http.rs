//! A few lines of HTTP over std, to talk to containers from the host.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// `GET path` and the answer's status and body.
pub fn get(address: SocketAddr, path: &str) -> (u16, String) {
    request(address, "GET", path, "")
}

/// `PUT path` with `body`, and the answer's status and body.
#[allow(dead_code)]
pub fn put(address: SocketAddr, path: &str, body: &str) -> (u16, String) {
    request(address, "PUT", path, body)
}

/// `GET path`, and the answer's status and body, or what went wrong.
#[allow(dead_code)]
pub fn try_get(address: SocketAddr, path: &str) -> Result<(u16, String), String> {
    try_request(address, "GET", path, "")
}

fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    try_request(address, method, path, body).unwrap_or_else(|problem| panic!("{problem}"))
}

fn try_request(address: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let failed = |error: std::io::Error| format!("{method} http://{address}{path}: {error}");
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(failed)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(failed)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(failed)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} http://{address}{path}: no HTTP answer: {answer:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{method} http://{address}{path}: no status in {head:?}"))?;
    Ok((status, body.to_string()))
}
