//! The stand-ins of official images (`examples/images/build`) keep the interface of the
//! official images that the examples rely on: Postgres initialises its data folder from
//! `POSTGRES_*` and a password file, runs the init scripts and answers `pg_isready`; Redis
//! answers other containers and keeps its data in `/data`; nginx serves what
//! `/etc/nginx/conf.d/*.conf` says; Python imports the examples' libraries; Prometheus serves
//! its API from the official flags.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{LiveStack, TEST_LABEL, docker, get, stand_ins};

/// Runs `docker ARGS`, asserting that it succeeds; its standard output.
fn docker_ok(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether `docker ARGS` succeeds.
fn docker_succeeds(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Polls `ready` until it holds; a slow first start on a busy machine takes a while.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(
            Instant::now() < give_up,
            "{what} did not happen within two minutes"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A container of `image` made (not started) for the test, labelled for cleanup; its name.
fn create(live: &LiveStack, suffix: &str, args: &[&str]) -> String {
    let name = live.object(suffix);
    let label = format!("{TEST_LABEL}={}", live.name);
    let mut all = vec!["create", "--name", &name, "--label", &label];
    all.extend_from_slice(args);
    docker_ok(&all);
    name
}

/// The address of `container` on the default bridge.
fn address(container: &str) -> String {
    docker_ok(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", container])
        .trim()
        .to_owned()
}

/// Copies `contents` into the created container as the file `path`.
fn copy_into(live: &LiveStack, container: &str, path: &str, contents: &str) {
    let local = live.dir.path().join(path.replace('/', "_"));
    std::fs::write(&local, contents).unwrap();
    docker_ok(&["cp", &local.display().to_string(), &format!("{container}:{path}")]);
}

fn exec(container: &str, command: &[&str]) -> String {
    let mut args = vec!["exec", container];
    args.extend_from_slice(command);
    docker_ok(&args)
}

#[test]
fn postgres_initialises_its_data_from_a_password_file_and_runs_the_init_scripts() {
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["postgres:15"]);
    let db = create(
        &live,
        "db",
        &[
            "--env",
            "POSTGRES_USER=app",
            "--env",
            "POSTGRES_DB=shop",
            "--env",
            "POSTGRES_PASSWORD_FILE=/run/db_password",
            "postgres:15",
        ],
    );
    copy_into(&live, &db, "/run/db_password", "s3cret-from-a-file\n");
    copy_into(
        &live,
        &db,
        "/docker-entrypoint-initdb.d/seed.sql",
        "CREATE TABLE seeded (name text);\nINSERT INTO seeded VALUES ('from initdb.d');\n",
    );
    docker_ok(&["start", &db]);
    wait_until("pg_isready in the db container", || {
        docker_succeeds(&["exec", &db, "pg_isready", "-U", "app", "-d", "shop"])
    });
    // The temporary server of the first start answers pg_isready too, on its socket only:
    // wait for the real one, on the network.
    let host = address(&db);
    wait_until("Postgres listening on the network", || {
        docker_succeeds(&["exec", &db, "pg_isready", "-h", &host, "-U", "app", "-d", "shop"])
    });

    let query = |password: &str| {
        Command::new("docker")
            .args(["exec", "--env", &format!("PGPASSWORD={password}"), &db])
            .args([
                "psql",
                "-h",
                &host,
                "-U",
                "app",
                "-d",
                "shop",
                "-tAc",
                "SELECT name FROM seeded",
            ])
            .output()
            .unwrap()
    };
    let right = query("s3cret-from-a-file");
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&right.stdout).trim(), "from initdb.d");
    let wrong = query("not-the-password");
    assert!(
        !wrong.status.success(),
        "a wrong password is refused over the network"
    );

    let data_owner = exec(
        &db,
        &["stat", "-c", "%U %a", "/var/lib/postgresql/data/PG_VERSION"],
    );
    assert_eq!(data_owner.trim(), "postgres 600");
    let server_uid = exec(&db, &["sh", "-c", "grep '^Uid:' /proc/1/status | cut -f2"]);
    assert_eq!(server_uid.trim(), exec(&db, &["id", "-u", "postgres"]).trim());
}

#[test]
fn redis_answers_other_containers_and_keeps_its_data_in_data() {
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["redis:7"]);
    let server = create(&live, "redis", &["redis:7"]);
    let client = create(&live, "client", &["redis:7"]);
    docker_ok(&["start", &server, &client]);
    let host = address(&server);
    wait_until("redis-cli ping from another container", || {
        docker(&["exec", &client, "redis-cli", "-h", &host, "ping"]).trim() == "PONG"
    });
    assert_eq!(
        exec(&client, &["redis-cli", "-h", &host, "set", "greeting", "hello"]).trim(),
        "OK"
    );
    assert_eq!(exec(&server, &["redis-cli", "save"]).trim(), "OK");
    assert_eq!(
        exec(&server, &["stat", "-c", "%U", "/data/dump.rdb"]).trim(),
        "redis"
    );
}

#[test]
fn nginx_serves_what_conf_d_says_in_the_foreground() {
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["nginx:1.22"]);
    let web = create(&live, "web", &["nginx:1.22"]);
    copy_into(
        &live,
        &web,
        "/etc/nginx/conf.d/extra.conf",
        "server {\n    listen 8081;\n    location / { return 200 'from conf.d'; }\n}\n",
    );
    docker_ok(&["start", &web]);
    let host = address(&web);
    let extra: SocketAddr = format!("{host}:8081").parse().unwrap();
    wait_until("nginx answering on 8081", || {
        std::net::TcpStream::connect_timeout(&extra, Duration::from_secs(1)).is_ok()
    });
    assert_eq!(get(extra, "/"), (200, "from conf.d".to_owned()));
    let (status, page) = get(format!("{host}:80").parse().unwrap(), "/");
    assert_eq!(status, 200, "the default server: {page}");
    assert!(page.contains("Welcome to nginx!"), "{page}");
}

#[test]
fn python_imports_the_libraries_the_examples_use() {
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["python:3.11-slim"]);
    let label = format!("{TEST_LABEL}={}", live.name);
    let printed = docker_ok(&[
        "run",
        "--rm",
        "--label",
        &label,
        "python:3.11-slim",
        "python",
        "-c",
        "import sys, fastapi, uvicorn, psycopg2, redis; print(sys.version_info[:2])",
    ]);
    assert_eq!(printed.trim(), "(3, 11)");
}

#[test]
fn prometheus_serves_its_api_with_the_official_flags() {
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["prom/prometheus:v2.42.0"]);
    let prometheus = create(&live, "prometheus", &["prom/prometheus:v2.42.0"]);
    docker_ok(&["start", &prometheus]);
    let api: SocketAddr = format!("{}:9090", address(&prometheus)).parse().unwrap();
    wait_until("Prometheus ready", || {
        std::net::TcpStream::connect_timeout(&api, Duration::from_secs(1)).is_ok()
            && get(api, "/-/ready").0 == 200
    });
    let (status, body) = get(api, "/api/v1/status/buildinfo");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":\"2.42.0"), "{body}");
}

/// A copy of `examples/images/build` with one folder, `probe`; the images it made are
/// removed on drop.
struct ScratchStandIn {
    folder: tempfile::TempDir,
    tag: String,
    made: RefCell<Vec<String>>,
}

impl ScratchStandIn {
    /// A copy of the script and of the base's folder (so the base is up to date), and a folder
    /// `probe` whose image is tagged `tag`.
    fn new(live: &LiveStack) -> ScratchStandIn {
        let folder = tempfile::tempdir().unwrap();
        let images = std::path::Path::new(support::EXAMPLES).join("images");
        std::fs::copy(images.join("build"), folder.path().join("build")).unwrap();
        std::fs::create_dir(folder.path().join("debian")).unwrap();
        for file in std::fs::read_dir(images.join("debian")).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), folder.path().join("debian").join(file.file_name())).unwrap();
        }
        let tag = format!("{}/probe:1", live.name);
        std::fs::create_dir(folder.path().join("probe")).unwrap();
        std::fs::write(folder.path().join("probe/tag"), &tag).unwrap();
        ScratchStandIn {
            folder,
            tag,
            made: RefCell::new(Vec::new()),
        }
    }

    fn dockerfile(&self, text: &str) {
        std::fs::write(self.folder.path().join("probe/Dockerfile"), text).unwrap();
    }

    /// Runs the copied script for `probe`; what it said, and the id of the image after.
    fn build(&self) -> (String, String) {
        let output = Command::new(self.folder.path().join("build"))
            .arg(&self.tag)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{said}");
        let id = self.id();
        self.made.borrow_mut().push(id.clone());
        (said, id)
    }

    fn id(&self) -> String {
        docker_ok(&["image", "inspect", "--format", "{{.Id}}", &self.tag])
            .trim()
            .to_owned()
    }
}

impl Drop for ScratchStandIn {
    fn drop(&mut self) {
        docker(&["rmi", "-f", &self.tag]);
        for id in self.made.borrow().iter() {
            docker(&["rmi", "-f", id]);
        }
    }
}

#[test]
fn the_build_script_skips_up_to_date_images_rebuilds_changed_ones_and_never_replaces_others() {
    let Some(live) = LiveStack::new() else { return };
    stand_ins(&["stack-stand-in/debian:bookworm"]);
    let scratch = ScratchStandIn::new(&live);
    scratch.dockerfile("FROM stack-stand-in/debian:bookworm\nLABEL version=1\n");
    let (said, first) = scratch.build();
    assert!(said.contains(&format!("{} built", scratch.tag)), "{said}");
    assert!(
        said.contains("stack-stand-in/debian:bookworm is up to date"),
        "{said}"
    );

    let (said, again) = scratch.build();
    assert!(said.contains(&format!("{} is up to date", scratch.tag)), "{said}");
    assert_eq!(again, first, "an up to date stand-in is kept");

    scratch.dockerfile("FROM stack-stand-in/debian:bookworm\nLABEL version=2\n");
    let (said, changed) = scratch.build();
    assert!(said.contains("older recipe: rebuilding"), "{said}");
    assert_ne!(changed, first, "a changed folder rebuilds the stand-in");

    // An image under the same name that is not a stand-in, as one pulled from a registry.
    let tar = live.dir.path().join("empty.tar");
    std::fs::write(&tar, [0u8; 1024]).unwrap();
    let label = format!("{TEST_LABEL}={}", live.name);
    docker_ok(&[
        "import",
        "--change",
        &format!("LABEL {label}"),
        &tar.display().to_string(),
        &scratch.tag,
    ]);
    let pulled = scratch.id();
    scratch.dockerfile("FROM stack-stand-in/debian:bookworm\nLABEL version=3\n");
    let (said, kept) = scratch.build();
    assert!(said.contains("is not a stand-in"), "{said}");
    assert_eq!(kept, pulled, "an image that is not a stand-in is never replaced");
}
