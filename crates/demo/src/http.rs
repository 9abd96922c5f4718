//! Just enough HTTP/1.1 for the demo: one request per connection, `Connection: close`.

use std::io::{self, BufRead, Read, Write};

/// Request heads beyond this are refused: the demo has no use for large headers.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Bodies beyond this are refused: `/data` holds small files only.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The percent-decoded path, without the query.
    pub path: String,
    /// The decoded `key=value` pairs of the query, in order.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Why a request could not be read; each maps to the status the client gets.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The peer closed the connection before sending anything (a TCP probe, the shutdown wake-up).
    Empty,
    Malformed(String),
    TooLarge,
    Unsupported(String),
}

impl RequestError {
    pub fn response(&self) -> Option<Response> {
        match self {
            RequestError::Empty => None,
            RequestError::Malformed(why) => Some(Response::text(400, format!("bad request: {why}\n"))),
            RequestError::TooLarge => Some(Response::text(413, "request too large\n")),
            RequestError::Unsupported(what) => Some(Response::text(501, format!("not supported: {what}\n"))),
        }
    }
}

impl From<io::Error> for RequestError {
    fn from(error: io::Error) -> Self {
        RequestError::Malformed(error.to_string())
    }
}

/// Reads one request: the request line, the headers and a `Content-Length` body.
pub fn read_request(reader: &mut impl BufRead) -> Result<Request, RequestError> {
    let mut head_bytes = 0;
    let request_line = read_head_line(reader, &mut head_bytes)?;
    if request_line.is_empty() {
        return Err(RequestError::Empty);
    }
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(format!("request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(RequestError::Unsupported(version.to_string()));
    }

    let mut content_length = 0;
    loop {
        let line = read_head_line(reader, &mut head_bytes)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| RequestError::Malformed(format!("header {line:?}")))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value
                .parse()
                .map_err(|_| RequestError::Malformed(format!("content-length {value:?}")))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(RequestError::Unsupported(format!("transfer-encoding {value}")));
        }
    }
    if content_length > MAX_BODY_BYTES {
        return Err(RequestError::TooLarge);
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;

    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: method.to_string(),
        path: percent_decode(path, false),
        query: parse_query(query),
        body,
    })
}

/// One line of the request head without its line ending; empty at the end of the head or the stream.
fn read_head_line(reader: &mut impl BufRead, head_bytes: &mut usize) -> Result<String, RequestError> {
    let mut line = Vec::new();
    let limit = (MAX_HEAD_BYTES - *head_bytes) as u64 + 1;
    reader.take(limit).read_until(b'\n', &mut line)?;
    *head_bytes += line.len();
    if *head_bytes > MAX_HEAD_BYTES {
        return Err(RequestError::TooLarge);
    }
    while line.last().is_some_and(|byte| *byte == b'\n' || *byte == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| RequestError::Malformed("head is not UTF-8".to_string()))
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` as a space in a query); invalid escapes stay as they are.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(value) => {
                decoded.push(value);
                index += 3;
            }
            None => {
                decoded.push(if plus_is_space && byte == b'+' { b' ' } else { byte });
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            body: body.into().into_bytes(),
        }
    }

    pub fn bytes(status: u16, body: Vec<u8>) -> Response {
        Response { status, body }
    }

    pub fn write_to(&self, writer: &mut impl Write) -> io::Result<()> {
        write!(
            writer,
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            reason(self.status),
            self.body.len()
        )?;
        writer.write_all(&self.body)?;
        writer.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, RequestError> {
        read_request(&mut raw.as_bytes())
    }

    #[test]
    fn reads_a_get_with_a_query() {
        let request =
            parse("GET /proxy?url=http%3A%2F%2Fapi%3A8080%2Fx&a=b+c HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/proxy");
        assert_eq!(request.query_value("url"), Some("http://api:8080/x"));
        assert_eq!(request.query_value("a"), Some("b c"));
        assert!(request.body.is_empty());
    }

    #[test]
    fn reads_a_put_body_by_content_length() {
        let request = parse("PUT /data/k HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello and more").unwrap();
        assert_eq!(request.body, b"hello");
    }

    #[test]
    fn accepts_bare_newlines() {
        assert_eq!(parse("GET /health HTTP/1.0\n\n").unwrap().path, "/health");
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        assert_eq!(parse(""), Err(RequestError::Empty));
        assert!(matches!(parse("GET /\r\n\r\n"), Err(RequestError::Malformed(_))));
        assert!(matches!(
            parse("GET / HTTP/2\r\n\r\n"),
            Err(RequestError::Unsupported(_))
        ));
        assert!(matches!(
            parse("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(RequestError::Unsupported(_))
        ));
        let huge_body = format!("PUT / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY_BYTES + 1);
        assert_eq!(parse(&huge_body), Err(RequestError::TooLarge));
        let huge_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(parse(&huge_head), Err(RequestError::TooLarge));
    }

    #[test]
    fn percent_decoding_leaves_invalid_escapes() {
        assert_eq!(percent_decode("a%20b%zz%4", false), "a b%zz%4");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }

    #[test]
    fn writes_a_closed_response() {
        let mut out = Vec::new();
        Response::text(503, "down\n").write_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(text.contains("Content-Length: 5\r\nConnection: close\r\n\r\ndown\n"));
    }
}
