//! What `serve` answers: each route exists so a test can check one thing Docker delivers
//! (environment, secrets, volumes, networking and aliases, health).

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::client;
use crate::http::{Request, Response};

const PROXY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Config {
    /// The service name `GET /` reports.
    pub name: String,
    /// `DEMO_VERSION`, reported by `GET /`.
    pub version: String,
    /// `DEMO_FAIL_HEALTH=true`: `/health` answers 503, to test unhealthy services.
    pub fail_health: bool,
    /// `DEMO_READY_AFTER_MS`: `/health` answers 503 until this long after the start, as a
    /// service that warms up does.
    pub ready_at: std::time::Instant,
    /// Where `PUT /data/KEY` stores its files (a volume in the tests).
    pub data_dir: PathBuf,
    /// The only folders `/file?path=` reads from (secrets and data).
    pub readable_roots: Vec<PathBuf>,
}

impl Config {
    /// The container's configuration: `DEMO_*` variables and the fixed paths.
    pub fn from_env(name: String) -> Config {
        let data_dir = PathBuf::from("/data");
        Config {
            name,
            version: std::env::var("DEMO_VERSION").unwrap_or_else(|_| "unset".to_string()),
            fail_health: std::env::var("DEMO_FAIL_HEALTH").is_ok_and(|value| value == "true"),
            ready_at: std::time::Instant::now()
                + Duration::from_millis(
                    std::env::var("DEMO_READY_AFTER_MS")
                        .ok()
                        .and_then(|value| value.parse().ok())
                        .unwrap_or(0),
                ),
            readable_roots: vec![PathBuf::from("/run/secrets"), data_dir.clone()],
            data_dir,
        }
    }
}

pub fn route(request: &Request, config: &Config) -> Response {
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("GET", "/") => Response::text(
            200,
            format!("service={} version={}\n", config.name, config.version),
        ),
        ("GET", "/health") if config.fail_health => {
            Response::text(503, "unhealthy (DEMO_FAIL_HEALTH=true)\n")
        }
        ("GET", "/health") if std::time::Instant::now() < config.ready_at => {
            Response::text(503, "warming up (DEMO_READY_AFTER_MS)\n")
        }
        ("GET", "/health") => Response::text(200, "ok\n"),
        ("GET", "/file") => read_file(request.query_value("path"), config),
        ("GET", "/proxy") => proxy(request.query_value("url")),
        ("GET", _) if path.starts_with("/env/") => env_var(&path["/env/".len()..]),
        ("GET", _) if path.starts_with("/data/") => read_data(&path["/data/".len()..], config),
        ("PUT", _) if path.starts_with("/data/") => {
            write_data(&path["/data/".len()..], &request.body, config)
        }
        (_, "/" | "/health" | "/file" | "/proxy") => Response::text(405, "method not allowed\n"),
        (_, _) if path.starts_with("/env/") || path.starts_with("/data/") => {
            Response::text(405, "method not allowed\n")
        }
        _ => Response::text(404, format!("no route for {path}\n")),
    }
}

fn env_var(name: &str) -> Response {
    match std::env::var(name) {
        Ok(value) => Response::text(200, value),
        Err(_) => Response::text(404, format!("{name} is not set\n")),
    }
}

fn read_file(path: Option<&str>, config: &Config) -> Response {
    let Some(path) = path else {
        return Response::text(400, "missing ?path=\n");
    };
    // Resolve symlinks first so a link cannot lead out of the allowed folders.
    let Ok(resolved) = fs::canonicalize(path) else {
        return Response::text(404, format!("{path}: not found\n"));
    };
    let allowed = config
        .readable_roots
        .iter()
        .filter_map(|root| fs::canonicalize(root).ok())
        .any(|root| resolved.starts_with(root));
    if !allowed {
        return Response::text(
            403,
            format!("{path}: only files under {} are served\n", roots(config)),
        );
    }
    match fs::read(&resolved) {
        Ok(content) => Response::bytes(200, content),
        Err(error) => Response::text(404, format!("{path}: {error}\n")),
    }
}

fn roots(config: &Config) -> String {
    config
        .readable_roots
        .iter()
        .map(|root| root.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// A key is one plain file name, so it can never point outside the data folder.
fn data_path(key: &str, config: &Config) -> Option<PathBuf> {
    let valid = !key.starts_with('.')
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte))
        && matches!(
            Path::new(key).components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        );
    valid.then(|| config.data_dir.join(key))
}

fn read_data(key: &str, config: &Config) -> Response {
    let Some(path) = data_path(key, config) else {
        return Response::text(400, format!("invalid key {key:?}\n"));
    };
    match fs::read(&path) {
        Ok(content) => Response::bytes(200, content),
        Err(_) => Response::text(404, format!("no data for {key}\n")),
    }
}

fn write_data(key: &str, content: &[u8], config: &Config) -> Response {
    let Some(path) = data_path(key, config) else {
        return Response::text(400, format!("invalid key {key:?}\n"));
    };
    match fs::create_dir_all(&config.data_dir).and_then(|()| fs::write(&path, content)) {
        Ok(()) => Response::text(201, format!("stored {key}\n")),
        Err(error) => Response::text(500, format!("cannot store {}: {error}\n", path.display())),
    }
}

fn proxy(url: Option<&str>) -> Response {
    let Some(url) = url else {
        return Response::text(400, "missing ?url=\n");
    };
    match client::get(url, PROXY_TIMEOUT) {
        Ok(reply) => Response::bytes(reply.status, reply.body),
        Err(error) => Response::text(502, format!("proxy to {url} failed: {error}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(data_dir: PathBuf) -> Config {
        Config {
            name: "web".to_string(),
            version: "1.2.3".to_string(),
            fail_health: false,
            ready_at: std::time::Instant::now(),
            readable_roots: vec![data_dir.clone()],
            data_dir,
        }
    }

    fn request(method: &str, path: &str, query: &[(&str, &str)]) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    fn get(path: &str, config: &Config) -> Response {
        route(&request("GET", path, &[]), config)
    }

    #[test]
    fn index_and_health() {
        let mut config = config(PathBuf::from("/nonexistent"));
        assert_eq!(
            get("/", &config),
            Response::text(200, "service=web version=1.2.3\n")
        );
        assert_eq!(get("/health", &config).status, 200);
        config.fail_health = true;
        assert_eq!(get("/health", &config).status, 503);
    }

    #[test]
    fn unknown_routes_and_methods() {
        let config = config(PathBuf::from("/nonexistent"));
        assert_eq!(get("/nope", &config).status, 404);
        assert_eq!(route(&request("POST", "/health", &[]), &config).status, 405);
        assert_eq!(route(&request("DELETE", "/data/k", &[]), &config).status, 405);
    }

    #[test]
    fn env_reads_the_process_environment() {
        let config = config(PathBuf::from("/nonexistent"));
        // Cargo sets this for every test run.
        assert_eq!(
            get("/env/CARGO_PKG_NAME", &config),
            Response::text(200, "stack-demo")
        );
        assert_eq!(get("/env/STACK_DEMO_SURELY_UNSET", &config).status, 404);
    }

    #[test]
    fn data_keys_must_be_plain_file_names() {
        let config = config(PathBuf::from("/data"));
        assert_eq!(
            data_path("a-b_c.txt", &config),
            Some(PathBuf::from("/data/a-b_c.txt"))
        );
        for key in ["", ".", "..", ".hidden", "a/b", "../etc", "a b"] {
            assert_eq!(data_path(key, &config), None, "{key:?}");
        }
    }

    #[test]
    fn files_outside_the_roots_are_refused() {
        let config = config(std::env::temp_dir().join("stack-demo-no-such-root"));
        let outside = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let response = route(&request("GET", "/file", &[("path", outside)]), &config);
        assert_eq!(response.status, 403);
        let response = route(&request("GET", "/file", &[]), &config);
        assert_eq!(response.status, 400);
    }
}
