//! A few lines of HTTP over std, to talk to containers from the host.

use std::io::{self, Read, Write};
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

/// `POST path` with `body`, and the answer's status and body.
#[allow(dead_code)]
pub fn post(address: SocketAddr, path: &str, body: &str) -> (u16, String) {
    request(address, "POST", path, body)
}

fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    try_request(address, method, path, body)
        .unwrap_or_else(|error| panic!("{method} {address}{path}: {error}"))
}

/// A request whose failure (refused, reset, timed out, no HTTP answer) is the caller's to count.
#[allow(dead_code)]
pub fn try_request(address: SocketAddr, method: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, format!("no HTTP answer: {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").ok_or_else(invalid)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)?;
    Ok((status, body.to_string()))
}
