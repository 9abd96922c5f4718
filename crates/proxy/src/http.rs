//! Just enough HTTP/1.1 for the control API: one request per connection, a body only with
//! `Content-Length`, every answer plain text and `Connection: close`.

use std::io::{self, BufRead, Read, Write};

/// Longer lines are refused instead of read into memory without bound.
const MAX_LINE: u64 = 8 * 1024;
const MAX_HEADERS: usize = 100;
/// A backend set is a few addresses; this allows thousands.
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Without the query string.
    pub path: String,
    pub body: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(self.body.as_bytes())?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        _ => "Error",
    }
}

/// Reads one request. A client that sends `Expect: 100-continue` (curl does for larger
/// bodies) is told to go on through `interim`. An error is the answer to give, if any.
pub fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<Request, Option<Response>> {
    let bad = |message: &str| Some(Response::text(400, format!("{message}\n")));
    let line = read_line(reader)?.ok_or(None)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("only HTTP/1.x is spoken here"));
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    let method = method.to_string();

    let mut length = 0;
    let mut expect_continue = false;
    for count in 0.. {
        let line = read_line(reader)?.ok_or_else(|| bad("headers end early"))?;
        if line.is_empty() {
            break;
        }
        if count == MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("malformed header"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = value.parse().map_err(|_| bad("Content-Length is not a number"))?;
            }
            "transfer-encoding" => {
                return Err(Some(Response::text(411, "send the body with Content-Length\n")));
            }
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    if length > MAX_BODY {
        return Err(Some(Response::text(
            413,
            format!("the body is larger than {MAX_BODY} bytes\n"),
        )));
    }
    if expect_continue && length > 0 {
        let _ = interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|_| bad("body ends early"))?;
    let body = String::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
    Ok(Request { method, path, body })
}

/// One line without its line end; `None` at the end of the stream.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, Option<Response>> {
    let mut line = Vec::new();
    let read = reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|_| None)?;
    if read == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(Some(Response::text(400, "line too long or cut off\n")));
    }
    let line =
        String::from_utf8(line).map_err(|_| Some(Response::text(400, "the request head is not UTF-8\n")))?;
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> (Result<Request, Option<Response>>, String) {
        let mut interim = Vec::new();
        let request = read_request(&mut raw.as_bytes(), &mut interim);
        (
            request,
            String::from_utf8(interim).expect("interim answers are text"),
        )
    }

    #[test]
    fn reads_a_request_with_a_body() {
        let (request, interim) =
            read("PUT /backends?x=1 HTTP/1.1\r\nHost: p\r\ncontent-length: 9\r\n\r\n10.0.0.1\nignored");
        assert_eq!(
            request.expect("a valid request"),
            Request {
                method: "PUT".to_string(),
                path: "/backends".to_string(),
                body: "10.0.0.1\n".to_string()
            }
        );
        assert_eq!(interim, "");
    }

    #[test]
    fn tells_a_client_that_expects_it_to_continue() {
        let (request, interim) =
            read("PUT /backends HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n\n");
        assert_eq!(request.expect("a valid request").body, "\n");
        assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn answers_bad_requests() {
        let status = |raw: &str| {
            read(raw)
                .0
                .expect_err("a bad request")
                .map(|response| response.status)
        };
        assert_eq!(status(""), None);
        assert_eq!(status("garbage\r\n\r\n"), Some(400));
        assert_eq!(status("GET / SPDY/3\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\n"), Some(400));
        assert_eq!(status("PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), Some(400));
        assert_eq!(status("PUT / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), Some(400));
        assert_eq!(
            status("PUT / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
            Some(413)
        );
        assert_eq!(
            status("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(411)
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
        assert_eq!(status(&long), Some(400));
    }

    #[test]
    fn writes_a_plain_text_answer() {
        let mut out = Vec::new();
        Response::text(405, "no\n")
            .with_header("Allow", "GET")
            .write_to(&mut out)
            .expect("write to memory");
        assert_eq!(
            String::from_utf8(out).expect("the answer is text"),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 3\r\nConnection: close\r\nAllow: GET\r\n\r\nno\n"
        );
    }
}
