//! The control API `stack` drives: read and replace the backend set, and the proxy's own
//! health check.

use std::io::BufReader;
use std::net::TcpStream;
use std::time::Duration;

use crate::backends::{self, Backends};
use crate::http::{self, Request, Response};

/// How long a control client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// `followed`: the name the set follows in the resolve mode, where it cannot be put.
pub fn serve(stream: TcpStream, backends: &Backends, followed: Option<&str>) {
    if stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .is_err()
    {
        return;
    }
    let response = match http::read_request(&mut BufReader::new(&stream), &mut &stream) {
        Ok(request) => route(&request, backends, followed),
        Err(Some(response)) => response,
        Err(None) => return,
    };
    if let Err(error) = response.write_to(&mut &stream) {
        eprintln!("control: cannot answer: {error}");
    }
}

pub fn route(request: &Request, backends: &Backends, followed: Option<&str>) -> Response {
    match (request.path.as_str(), request.method.as_str()) {
        ("/health", "GET") => Response::text(200, "ok\n"),
        ("/health", _) => not_allowed("GET"),
        ("/backends", "GET") => Response::text(200, listing(backends)),
        ("/backends", "PUT") => match followed {
            Some(name) => Response::text(
                409,
                format!("the set follows what {name} resolves to (--resolve); it cannot be put\n"),
            ),
            None => replace(&request.body, backends),
        },
        ("/backends", _) => not_allowed("GET, PUT"),
        _ => Response::text(404, "not found: the API is GET /health, GET and PUT /backends\n"),
    }
}

fn not_allowed(allow: &str) -> Response {
    Response::text(405, format!("method not allowed; use {allow}\n")).with_header("Allow", allow)
}

/// `IP current ACTIVE` or `IP draining ACTIVE`, one line per backend.
fn listing(backends: &Backends) -> String {
    backends
        .listing()
        .iter()
        .map(|(ip, status, active)| format!("{ip} {} {active}\n", status.as_str()))
        .collect()
}

fn replace(body: &str, backends: &Backends) -> Response {
    let list = match backends::parse_list(body) {
        Ok(list) => list,
        Err(errors) => {
            return Response::text(
                400,
                format!("{errors}\nthe body is IPv4 addresses, one a line; the set is unchanged\n"),
            );
        }
    };
    if backends.replace(list.clone()) != list {
        println!("backends: {}", backends::describe(&list));
    }
    Response::text(200, list.iter().map(|ip| format!("{ip}\n")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_static(request: &Request, backends: &Backends) -> Response {
        route(request, backends, None)
    }

    fn request(method: &str, path: &str, body: &str) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            body: body.to_string(),
        }
    }

    #[test]
    fn replaces_and_lists_the_set() {
        let backends = Backends::new(Vec::new());
        let put = route_static(&request("PUT", "/backends", "10.0.0.2\n10.0.0.3\n"), &backends);
        assert_eq!((put.status, put.body.as_str()), (200, "10.0.0.2\n10.0.0.3\n"));
        let _open = backends.open("10.0.0.2".parse().expect("an IPv4 address"));
        route_static(&request("PUT", "/backends", "10.0.0.3"), &backends);
        let get = route_static(&request("GET", "/backends", ""), &backends);
        assert_eq!(get.body, "10.0.0.3 current 0\n10.0.0.2 draining 1\n");
        let empty = route_static(&request("PUT", "/backends", ""), &backends);
        assert_eq!((empty.status, empty.body.as_str()), (200, ""));
    }

    #[test]
    fn a_bad_set_changes_nothing() {
        let backends = Backends::new(vec!["10.0.0.2".parse().expect("an IPv4 address")]);
        let put = route_static(&request("PUT", "/backends", "10.0.0.3\nweb-1\n"), &backends);
        assert_eq!(put.status, 400);
        assert!(put.body.contains("line 2: \"web-1\""), "{}", put.body);
        assert_eq!(
            backends.current(),
            ["10.0.0.2".parse::<std::net::Ipv4Addr>().expect("an IPv4 address")]
        );
    }

    #[test]
    fn health_and_unknown_routes() {
        let backends = Backends::default();
        let status = |method, path| route_static(&request(method, path, ""), &backends).status;
        assert_eq!(
            route_static(&request("GET", "/health", ""), &backends).body,
            "ok\n"
        );
        assert_eq!(status("POST", "/health"), 405);
        assert_eq!(status("DELETE", "/backends"), 405);
        assert_eq!(status("GET", "/"), 404);
    }

    #[test]
    fn a_followed_set_is_listed_but_not_put() {
        let backends = Backends::new(vec!["10.0.0.2".parse().expect("an IPv4 address")]);
        let put = route(
            &request("PUT", "/backends", "10.0.0.3\n"),
            &backends,
            Some("tasks.shop_web"),
        );
        assert_eq!(put.status, 409);
        assert!(put.body.contains("tasks.shop_web"), "{}", put.body);
        let get = route(
            &request("GET", "/backends", ""),
            &backends,
            Some("tasks.shop_web"),
        );
        assert_eq!(get.body, "10.0.0.2 current 0\n");
    }
}
