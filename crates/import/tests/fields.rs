//! The short and long forms of each Compose field the importer maps, one
//! small Compose file each: what the stack says, and that it validates.

use std::path::{Path, PathBuf};

use stack_diagnostics::{Diagnostic, Severity, Sources};
use stack_import::{ImportOptions, import_compose};
use stack_language::{Options, schema};

/// A Compose project in a temporary directory: its files, then the import.
struct Project {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
}

fn project() -> Project {
    Project {
        dir: tempfile::tempdir().expect("a temporary directory"),
        files: Vec::new(),
    }
}

/// What an import wrote and warned about.
struct Imported {
    stack: String,
    warnings: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Project {
    /// A file of the project; the first `.yaml` files given are the Compose files imported.
    fn file(mut self, path: &str, text: &str) -> Project {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a directory")).expect("directories");
        std::fs::write(&full, text).expect("a file");
        if path.ends_with(".yaml") && !path.contains('/') && !path.starts_with("common") {
            self.files.push(full);
        }
        self
    }

    fn dir(self, path: &str) -> Project {
        std::fs::create_dir_all(self.dir.path().join(path)).expect("a directory");
        self
    }

    fn errors(self) -> Vec<Diagnostic> {
        let mut sources = Sources::new();
        let options = ImportOptions {
            project_name: Some("shop".to_owned()),
            ..ImportOptions::default()
        };
        match import_compose(&self.files, &options, &mut sources) {
            Ok(_) => panic!("the import succeeded"),
            Err(errors) => errors,
        }
    }

    /// Imports, writes and validates the stack (it must be valid).
    fn import(self) -> Imported {
        let mut sources = Sources::new();
        let options = ImportOptions {
            project_name: Some("shop".to_owned()),
            ..ImportOptions::default()
        };
        let imported = import_compose(&self.files, &options, &mut sources)
            .unwrap_or_else(|errors| panic!("the import failed: {errors:#?}"));
        imported.write().expect("written");
        let stack = std::fs::read_to_string(imported.dir.join("stack.kdl")).expect("stack.kdl");
        let problems = validation_errors(&imported.dir);
        assert!(problems.is_empty(), "{stack}\ndoes not validate:\n{problems}");
        let warnings = imported
            .warnings
            .iter()
            .map(|warning| {
                let line = warning.primary_span().map_or(0, |span| {
                    sources.get(span.file).text()[..span.start as usize]
                        .matches('\n')
                        .count()
                        + 1
                });
                format!("{line}: {}: {}", warning.code, warning.message)
            })
            .collect();
        Imported {
            stack,
            warnings,
            _dir: self.dir,
        }
    }
}

fn validation_errors(dir: &Path) -> String {
    let mut sources = Sources::new();
    let validated = stack_language::validate(dir, &Options::default(), &schema::builtin(), &mut sources);
    let errors: Vec<Diagnostic> = validated
        .diagnostics
        .into_vec()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        String::new()
    } else {
        stack_diagnostics::render(&errors, &sources, stack_diagnostics::RenderOptions::plain())
    }
}

impl Imported {
    fn has(&self, line: &str) -> &Imported {
        assert!(
            self.stack.lines().any(|l| l.trim() == line),
            "the stack lacks `{line}`:\n{}",
            self.stack
        );
        self
    }

    fn lacks(&self, text: &str) -> &Imported {
        assert!(
            !self.stack.contains(text),
            "the stack has `{text}`:\n{}",
            self.stack
        );
        self
    }

    fn warns(&self, text: &str) -> &Imported {
        assert!(
            self.warnings.iter().any(|w| w.contains(text)),
            "no warning with `{text}` in {:#?}",
            self.warnings
        );
        self
    }
}

fn compose(text: &str) -> Imported {
    project().file("compose.yaml", text).import()
}

#[test]
fn image_and_build_short_and_long() {
    let imported = project()
        .dir("api")
        .file(
            "compose.yaml",
            "services:
  web:
    image: nginx:1.27-alpine
  api:
    build: ./api
  worker:
    image: shop/worker:1.0
    build:
      context: api
      dockerfile: Dockerfile.worker
      target: runtime
      args:
        - VERSION=1.2
  tool:
    build:
      context: .
      args:
        MODE: fast
        NPM_TOKEN: s3cr3t
",
        )
        .import();
    imported
        .has("image \"nginx:1.27-alpine\"")
        .has("image \"${image.api}\"")
        .has("image \"${image.worker}\"")
        .has("context \"../api\"")
        .has("dockerfile \"Dockerfile.worker\"")
        .has("target \"runtime\"")
        .has("VERSION \"1.2\"")
        .has("tags \"shop/worker:1.0\"")
        .has("context \"..\"")
        .has("MODE \"fast\"")
        .has("NPM_TOKEN \"${var.npm-token}\"")
        .lacks("s3cr3t");
}

#[test]
fn command_and_entrypoint_as_strings_and_lists() {
    compose(
        "services:
  a:
    image: x
    command: redis-server --maxmemory '256 mb'
    entrypoint: /bin/sh -c
  b:
    image: x
    command: [\"serve\", \"--port\", \"80\"]
    entrypoint: [\"tini\", \"--\"]
",
    )
    .has("command \"redis-server\" \"--maxmemory\" \"256 mb\"")
    .has("entrypoint \"/bin/sh\" \"-c\"")
    .has("command \"serve\" \"--port\" \"80\"")
    .has("entrypoint \"tini\" \"--\"");
}

#[test]
fn environment_as_list_and_map_and_env_files() {
    project()
        .file(
            "compose.yaml",
            "services:
  a:
    image: x
    env_file: common.env
    environment:
      - LEVEL=debug
      - FROM_HOST
  b:
    image: x
    env_file:
      - path: ./missing.env
        required: false
      - common.env
    environment:
      PORT: 8000
      DEBUG: \"true\"
      SHARED: overridden
",
        )
        .file("common.env", "SHARED=from-file\nAPP_TOKEN=abc123\n")
        .import()
        .has("LEVEL \"debug\"")
        .has("FROM_HOST \"${var.from-host}\"")
        .has("SHARED \"from-file\"")
        .has("SHARED \"overridden\"")
        .has("PORT \"8000\"")
        .has("DEBUG \"true\"")
        .has("APP_TOKEN \"${var.app-token}\"")
        .lacks("abc123")
        .warns("`APP_TOKEN` was not copied");
}

#[test]
fn ports_short_and_long() {
    compose(
        "services:
  a:
    image: x
    ports:
      - 80
      - \"8080:80\"
      - \"127.0.0.1:9090:9090\"
      - \"5353:53/udp\"
      - \"7000-7001:8000-8001\"
      - target: 443
        published: 8443
        host_ip: 127.0.0.1
        protocol: tcp
        mode: host
",
    )
    .has("expose 80")
    .has("port 8080 target=80")
    .has("port 9090 host-ip=\"127.0.0.1\"")
    .has("port 5353 target=53 protocol=\"udp\"")
    .has("port 7000 target=8000")
    .has("port 7001 target=8001")
    .has("port 8443 target=443 host-ip=\"127.0.0.1\"")
    .warns("`ports: 80` is not imported");
}

#[test]
fn expose() {
    compose("services:\n  a:\n    image: x\n    expose:\n      - 3306\n      - \"33060\"\n")
        .has("expose 3306")
        .has("expose 33060");
}

#[test]
fn volumes_short_and_long() {
    project()
        .dir("src")
        .file(
            "compose.yaml",
            "services:
  a:
    image: x
    volumes:
      - data:/var/lib/data
      - ./src:/app/src:ro
      - /etc/hosts:/etc/hosts:ro
      - /cache
      - type: volume
        source: data
        target: /backup
        read_only: true
      - type: bind
        source: ./src
        target: /code
      - type: tmpfs
        target: /tmp
        tmpfs:
          size: 64m
    tmpfs:
      - /run/app:size=16m,mode=1777
volumes:
  data:
",
        )
        .import()
        .has("volume \"data\" target=\"/var/lib/data\"")
        .has("bind \"../src\" target=\"/app/src\" read-only=#true")
        .has("bind \"/etc/hosts\" target=\"/etc/hosts\" read-only=#true")
        .has("volume \"a-cache\"")
        .has("volume \"a-cache\" target=\"/cache\"")
        .has("volume \"data\" target=\"/backup\" read-only=#true")
        .has("bind \"../src\" target=\"/code\"")
        .has("tmpfs \"/tmp\" size=\"64MiB\"")
        .has("tmpfs \"/run/app\" size=\"16MiB\" mode=0o1777");
}

#[test]
fn networks_as_list_and_with_aliases_and_addresses() {
    compose(
        "services:
  a:
    image: x
    networks: [front]
  b:
    image: x
    networks:
      back:
        aliases: [db, database]
        ipv4_address: 172.30.0.10
      front: {}
networks:
  front:
  back:
    driver: bridge
    internal: true
    ipam:
      config:
        - subnet: 172.30.0.0/24
          gateway: 172.30.0.1
          ip_range: 172.30.0.128/25
",
    )
    .has("network \"front\"")
    .has("network \"back\" {")
    .has("aliases \"db\" \"database\"")
    .has("ipv4-address \"172.30.0.10\"")
    .has("driver \"bridge\"")
    .has("internal #true")
    .has("subnet \"172.30.0.0/24\"")
    .has("gateway \"172.30.0.1\"")
    .has("ip-range \"172.30.0.128/25\"")
    .lacks("network \"default\"");
}

#[test]
fn external_networks_and_volumes_and_names() {
    compose(
        "services:
  a:
    image: x
    networks: [shared, old]
    volumes: [cache:/cache, own:/own]
networks:
  shared:
    external: true
    name: infra_app
  old:
    external:
      name: legacy_net
volumes:
  cache:
    external: true
    name: infra_cache
  own:
    name: shop_data
",
    )
    .has("external \"infra_app\"")
    .has("external \"legacy_net\"")
    .has("external \"infra_cache\"")
    .has("volume \"data\"")
    .has("volume \"data\" target=\"/own\"");
}

#[test]
fn depends_on_as_list_and_with_conditions() {
    let imported = compose(
        "services:
  db:
    image: postgres
    healthcheck:
      test: pg_isready
  migrate:
    image: shop/migrate
    restart: always
    depends_on:
      db:
        condition: service_healthy
  cache:
    image: redis
  api:
    image: shop/api
    depends_on:
      cache:
        condition: service_started
      migrate:
        condition: service_completed_successfully
  web:
    image: nginx
    depends_on: [api]
",
    );
    imported
        .has("depends-on \"db\" condition=\"healthy\"")
        .has("depends-on \"cache\"")
        .has("depends-on \"job.migrate\"")
        .has("depends-on \"api\"")
        .has("job \"migrate\" {")
        .lacks("restart \"always\"")
        .warns("`restart` of a service run to completion is not imported");
}

#[test]
fn healthy_without_a_healthcheck_waits_for_started() {
    compose(
        "services:
  db:
    image: postgres
  api:
    image: shop/api
    depends_on:
      db:
        condition: service_healthy
",
    )
    .has("depends-on \"db\"")
    .warns("`condition: service_healthy` is not imported");
}

#[test]
fn healthcheck_forms_and_disable() {
    compose(
        "services:
  a:
    image: x
    healthcheck:
      test: [\"CMD\", \"curl\", \"-f\", \"http://127.0.0.1/\"]
      interval: 1m30s
      timeout: 1.5s
      retries: 5
      start_period: 10s
  b:
    image: x
    healthcheck:
      test: [\"CMD-SHELL\", \"pg_isready -U $$USER\"]
  c:
    image: x
    healthcheck:
      test: wget -q -O /dev/null http://127.0.0.1/
  d:
    image: x
    healthcheck:
      disable: true
  e:
    image: x
    healthcheck:
      test: [\"NONE\"]
",
    )
    .has("exec \"curl\" \"-f\" \"http://127.0.0.1/\"")
    .has("interval \"1m30s\"")
    .has("timeout \"1s500ms\"")
    .has("retries 5")
    .has("start-period \"10s\"")
    .has("exec \"sh\" \"-c\" \"pg_isready -U $USER\"")
    .has("exec \"sh\" \"-c\" \"wget -q -O /dev/null http://127.0.0.1/\"")
    .has("// compose.yaml:20: the healthcheck is disabled: the service has no probe")
    .has("// compose.yaml:24: the healthcheck is disabled: the service has no probe");
}

#[test]
fn restart_policies() {
    compose(
        "services:
  a:
    image: x
    restart: \"no\"
  b:
    image: x
    restart: always
  c:
    image: x
    restart: on-failure:3
  d:
    image: x
    restart: unless-stopped
  e:
    image: x
",
    )
    .has("restart \"always\"")
    .has("restart \"on-failure\" max-retries=3")
    .has("restart \"unless-stopped\"")
    .has("restart \"no\"");
}

#[test]
fn container_settings() {
    compose(
        "services:
  a:
    image: x
    user: \"1000:1000\"
    working_dir: /app
    hostname: box
    labels:
      - tier=web
    init: true
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop:
      - ALL
    stop_signal: SIGINT
    stop_grace_period: 1m
  b:
    image: x
    labels:
      com.example.team: core
",
    )
    .has("user \"1000:1000\"")
    .has("workdir \"/app\"")
    .has("hostname \"box\"")
    .has("tier \"web\"")
    .has("com.example.team \"core\"")
    .has("init #true")
    .has("read-only #true")
    .has("cap-add \"NET_ADMIN\"")
    .has("cap-drop \"ALL\"")
    .has("stop-signal \"SIGINT\"")
    .has("stop-grace-period \"1m\"");
}

#[test]
fn deploy() {
    compose(
        "services:
  a:
    image: x
    deploy:
      mode: replicated
      replicas: 3
      resources:
        limits:
          cpus: \"0.5\"
          memory: 2G
        reservations:
          memory: 512M
      update_config:
        parallelism: 2
        delay: 10s
        monitor: 5s
        failure_action: rollback
        max_failure_ratio: 0.1
        order: start-first
      restart_policy:
        condition: on-failure
        max_attempts: 4
  b:
    image: x
    cpus: 1.5
    mem_limit: 256m
    deploy:
      restart_policy:
        condition: any
",
    )
    .has("replicas 3")
    .has("cpus 0.5")
    .has("memory \"2GiB\"")
    .has("memory-reservation \"512MiB\"")
    .has("parallelism 2")
    .has("delay \"10s\"")
    .has("monitor \"5s\"")
    .has("failure-action \"rollback\"")
    .has("max-failure-ratio 0.1")
    .has("order \"start-first\"")
    .has("restart \"on-failure\" max-retries=4")
    .has("cpus 1.5")
    .has("memory \"256MiB\"")
    .has("restart \"always\"");
}

#[test]
fn replicas_with_a_published_port_are_left_out() {
    compose("services:\n  a:\n    image: x\n    ports: [\"80:80\"]\n    deploy:\n      replicas: 2\n")
        .lacks("replicas 2\n")
        .warns("2 replicas with a published port are not imported");
}

#[test]
fn replicas_with_a_published_port_behind_the_start_first_proxy() {
    compose(
        "services:\n  a:\n    image: x\n    ports: [\"80:80\"]\n    deploy:\n      replicas: 2\n      update_config:\n        order: start-first\n",
    )
    .has("replicas 2")
    .has("order \"start-first\"");
}

#[test]
fn secrets_and_configs() {
    project()
        .file(
            "compose.yaml",
            "services:
  a:
    image: x
    secrets:
      - db_password
      - source: api_token
        target: /run/secrets/token
        uid: \"103\"
        gid: \"103\"
        mode: 0440
    configs:
      - nginx
      - source: nginx
        target: /etc/nginx/nginx.conf
secrets:
  db_password:
    file: ./db/password.txt
  api_token:
    environment: API_TOKEN
configs:
  nginx:
    file: ./nginx.conf
",
        )
        .file("nginx.conf", "events {}\n")
        .import()
        .has("from-file \"../db/password.txt\"")
        .has("from-env \"API_TOKEN\"")
        .has("secret \"db_password\"")
        .has("secret \"api_token\" target=\"token\" uid=103 gid=103 mode=0o440")
        .has("bind \"../nginx.conf\" target=\"/nginx\" read-only=#true")
        .has("bind \"../nginx.conf\" target=\"/etc/nginx/nginx.conf\" read-only=#true");
}

#[test]
fn credentials_never_reach_the_stack() {
    compose(
        "services:
  db:
    image: mariadb
    environment:
      MYSQL_ROOT_PASSWORD: whalehello
      MYSQL_PASSWORD_FILE: /run/secrets/pw
  app:
    image: x
    environment:
      DATABASE_URL: mysql://root:whalehello@db:3306/app
      SECRET_KEY: ${SECRET_KEY:-insecure-default}
      API_URL: postgresql://app:${DB_PASSWORD}@db/app
",
    )
    .lacks("whalehello")
    .lacks("insecure-default")
    .has("MYSQL_PASSWORD_FILE \"/run/secrets/pw\"")
    // The same password written twice is one variable.
    .has("MYSQL_ROOT_PASSWORD \"${var.mysql-root-password}\"")
    .has("DATABASE_URL \"mysql://root:${var.mysql-root-password}@db:3306/app\"")
    .has("SECRET_KEY \"${var.secret-key}\"")
    .has("variable \"secret-key\" type=\"string\" sensitive=#true")
    .has("variable \"db-password\" type=\"string\" sensitive=#true")
    .warns("the default of `SECRET_KEY` is a credential");
}

#[test]
fn interpolation_becomes_variables() {
    project()
        .file(
            "compose.yaml",
            "services:
  a:
    image: \"postgres:${PG_VERSION:-16}-alpine\"
    command: [\"echo\", \"$$HOME\", \"$${NOT_A_VAR}\", \"${GREETING-hello}\"]
    environment:
      REGION: ${REGION:?set the region}
      LEVEL: $LEVEL
    ports:
      - \"${PORT:-8080}:80\"
",
        )
        .file(".env", "LEVEL=info\n")
        .import()
        .has("image \"postgres:${var.pg-version}-alpine\"")
        .has("command \"echo\" \"$HOME\" \"$${NOT_A_VAR}\" \"${var.greeting}\"")
        .has("variable \"pg-version\" type=\"string\" default=\"16\"")
        .has("variable \"greeting\" type=\"string\" default=\"hello\"")
        .has("variable \"region\" type=\"string\" description=\"set the region\"")
        .has("variable \"level\" type=\"string\" default=\"info\"")
        .has("port 8080 target=80")
        .warns("`${PORT}` was fixed at import");
}

#[test]
fn extensions_anchors_and_merge_keys() {
    compose(
        "x-defaults: &defaults
  restart: always
  labels:
    team: core
services:
  a:
    <<: *defaults
    image: x
  b:
    <<: *defaults
    image: y
    restart: on-failure
",
    )
    .has("restart \"always\"")
    .has("restart \"on-failure\"")
    .has("team \"core\"")
    .lacks("x-defaults");
}

#[test]
fn extends_in_the_same_file_and_from_another() {
    project()
        .file(
            "compose.yaml",
            "services:
  base:
    image: x
    environment:
      A: \"1\"
  child:
    extends: base
    environment:
      B: \"2\"
  remote:
    extends:
      file: common/base.yaml
      service: web
    ports: [\"81:80\"]
",
        )
        .file(
            "common/base.yaml",
            "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n",
        )
        .import()
        .has("A \"1\"")
        .has("B \"2\"")
        .has("image \"nginx\"")
        .has("port 80")
        .has("port 81 target=80");
}

#[test]
fn include_and_override_files() {
    project()
        .file(
            "compose.yaml",
            "include:\n  - other/compose.yaml\nservices:\n  web:\n    image: nginx:1\n",
        )
        .file("other/compose.yaml", "services:\n  cache:\n    image: redis\n")
        .file(
            "override.yaml",
            "services:\n  web:\n    image: nginx:2\n    ports: [\"80:80\"]\n",
        )
        .import()
        .has("image \"redis\"")
        .has("image \"nginx:2\"")
        .has("port 80");
}

#[test]
fn unmapped_fields_are_warnings_with_lines_and_comments_in_place() {
    let imported = compose(
        "services:
  web:
    image: nginx
    container_name: web
    profiles: [debug]
    network_mode: host
    privileged: true
",
    );
    imported
        .has("// compose.yaml:4: `container_name` is not imported: a stack names containers itself (STACK-SERVICE-N), so that replicas and updates work")
        .warns("4: stack::compose_unsupported: `container_name` is not imported")
        .warns("5: stack::compose_unsupported: `profiles` is not imported")
        .warns("6: stack::compose_unsupported: `network_mode` is not imported")
        .warns("7: stack::compose_unsupported: `privileged` is not imported")
        .lacks("network \"default\"");
    let web = imported
        .stack
        .split("service \"web\" {")
        .nth(1)
        .unwrap_or_default();
    assert!(web.find("image \"nginx\"") < web.find("container_name"), "{web}");
}

#[test]
fn invalid_compose_files_report_every_error() {
    let errors = project()
        .file(
            "compose.yaml",
            "services:
  web:
    image: nginx
    depends_on: [nope]
    volumes: [missing:/data]
    secrets: [unknown]
    networks: [absent]
    ports: [\"99999:80\"]
",
        )
        .errors();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(errors.len(), 5, "{messages:#?}");
    assert!(errors.iter().all(|e| e.code == "stack::compose_invalid"));
}

#[test]
fn bad_yaml_is_one_diagnostic_with_its_line() {
    let errors = project()
        .file(
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n  - broken\n",
        )
        .errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "stack::compose_syntax");
}
