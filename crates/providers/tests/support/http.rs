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

fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream =
        TcpStream::connect_timeout(&address, TIMEOUT).unwrap_or_else(|error| panic!("{address}: {error}"));
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap();
    (status, body.to_string())
}
