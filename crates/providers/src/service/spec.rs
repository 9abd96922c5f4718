//! What a service's containers should be: the resource read into a [`ServiceSpec`] (references
//! resolved, secret contents fetched, bind sources made absolute) and turned into one
//! [`ContainerSpec`] per replica.
//!
//! The spec is built from the resource, not from the recorded configuration: sensitive values
//! (an environment variable from a sensitive variable, a secret's content) appear there only as
//! hashes, and the containers need the values themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use stack_diagnostics::{Diagnostic, Span};
use stack_docker::{
    ContainerFile, ContainerSpec, HealthTest, Healthcheck, Labels, Mount, NetworkAttachment, PortBinding,
    Protocol, Resources, RestartPolicy,
};
use stack_language::units::{parse_duration, parse_size};
use stack_language::{Address, Data, Resource, Value};
use stack_provider::Resolve;

use super::rollout::Update;

/// Where secrets are delivered in a container, as Swarm and Compose do.
const SECRETS_DIR: &str = "/run/secrets";

/// Everything a service's containers are created from.
#[derive(Clone, PartialEq)]
pub struct ServiceSpec {
    /// The service's host name on its networks: `api`, or `db-postgres` in a module.
    pub host_name: String,
    pub image: String,
    /// The image is an `image` resource's, which the stack builds: never pulled.
    pub image_built: bool,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    /// The user's labels; the stack's own are added per replica.
    pub labels: Labels,
    pub ports: Vec<PortBinding>,
    /// Container ports named by `expose`.
    pub exposed: Vec<u16>,
    pub mounts: Vec<Mount>,
    /// In the order written; each has the host name as its first alias.
    pub networks: Vec<NetworkAttachment>,
    pub secrets: Vec<ContainerFile>,
    pub restart: RestartPolicy,
    pub resources: Resources,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    pub replicas: u32,
    pub init: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Duration,
    pub probe: Option<Probe>,
    /// How a replacement rolls out; not part of any container.
    pub update: Update,
}

/// Secret contents never reach a log or a message: they are shown by path only.
impl fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets: Vec<&str> = self.secrets.iter().map(|file| file.path.as_str()).collect();
        f.debug_struct("ServiceSpec")
            .field("host_name", &self.host_name)
            .field("image", &self.image)
            .field("replicas", &self.replicas)
            .field("networks", &self.networks)
            .field("secrets", &secrets)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

/// A service's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub check: Check,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A URL as seen from inside the container.
    Http(String),
    /// `HOST:PORT` as seen from inside the container.
    Tcp(String),
    /// A program run inside the container: Docker's own health check.
    Exec(Vec<String>),
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Http(url) => write!(f, "http {url}"),
            Check::Tcp(target) => write!(f, "tcp {target}"),
            Check::Exec(argv) => write!(f, "exec {}", argv.join(" ")),
        }
    }
}

impl ServiceSpec {
    /// Reads `resource`; references read through `resolve` (an image as its tag, a network or
    /// a volume as its Docker name, a secret as its content).
    pub fn from_resource(resource: &Resource, resolve: &dyn Resolve) -> Result<ServiceSpec, Diagnostic> {
        let reader = Reader { resource, resolve };
        let host_name = resource.address.path_name();
        let field = |name: &str| resource.field(name);
        let strings = |name: &str| field(name).map(strings);
        let probe = field("probe")
            .map(probe)
            .transpose()
            .map_err(|problem| reader.invalid("probe", problem))?;
        let mounts = reader.mounts()?;
        let writes_volume = mounts
            .iter()
            .any(|mount| matches!(mount, Mount::Volume { read_only: false, .. }));
        Ok(ServiceSpec {
            image: reader.image()?,
            image_built: field("image").is_some_and(|image| image.as_ref().is_some()),
            command: strings("command"),
            entrypoint: strings("entrypoint"),
            env: reader.env(),
            labels: field("labels").map(text_map).unwrap_or_default(),
            ports: resource.items("port").iter().filter_map(port).collect(),
            exposed: resource
                .items("expose")
                .iter()
                .filter_map(|port| port.as_int().and_then(|port| u16::try_from(port).ok()))
                .collect(),
            mounts,
            networks: reader.networks(&host_name)?,
            secrets: reader.secrets()?,
            restart: field("restart")
                .map(restart)
                .unwrap_or(RestartPolicy::UnlessStopped),
            resources: field("resources").map(resources).unwrap_or_default(),
            user: field("user").and_then(text),
            workdir: field("workdir").and_then(text),
            hostname: field("hostname").and_then(text),
            replicas: field("replicas")
                .and_then(Value::as_int)
                .and_then(|replicas| u32::try_from(replicas).ok())
                .unwrap_or(1),
            init: field("init").and_then(Value::as_bool).unwrap_or(false),
            read_only: field("read-only").and_then(Value::as_bool).unwrap_or(false),
            cap_add: strings("cap-add").unwrap_or_default(),
            cap_drop: strings("cap-drop").unwrap_or_default(),
            stop_signal: field("stop-signal").and_then(text),
            stop_grace_period: field("stop-grace-period")
                .and_then(duration)
                .unwrap_or(Duration::from_secs(10)),
            probe,
            update: Update::from_value(field("update"), duration, writes_volume),
            host_name,
        })
    }

    /// Whether a proxy stands in front of the replicas ([`super::front`]).
    pub fn fronted(&self) -> bool {
        !super::front::ports(self).is_empty()
    }

    /// A replica's container behind the service's proxy: the proxy holds the host name,
    /// aliases, fixed addresses and published TCP ports; the replica joins the same networks
    /// under its container name only.
    pub fn container_behind_proxy(&self, name: String, labels: Labels) -> ContainerSpec {
        let mut container = self.container(name, labels);
        for attachment in &mut container.networks {
            attachment.aliases.clear();
            attachment.ipv4_address = None;
        }
        container
            .ports
            .retain(|binding| binding.protocol != Protocol::Tcp);
        container
    }

    /// The container of replica `number`, named `name` and labelled `labels` (the stack's own).
    pub fn container(&self, name: String, labels: Labels) -> ContainerSpec {
        let mut all_labels = self.labels.clone();
        all_labels.extend(labels);
        ContainerSpec {
            name,
            image: self.image.clone(),
            command: self.command.clone(),
            entrypoint: self.entrypoint.clone(),
            env: self.env.clone(),
            labels: all_labels,
            ports: self.ports.clone(),
            mounts: self.mounts.clone(),
            networks: self.networks.clone(),
            restart: self.restart,
            resources: self.resources,
            user: self.user.clone(),
            workdir: self.workdir.clone(),
            hostname: self.hostname.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            init: self.init,
            read_only: self.read_only,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: Some(self.stop_grace_period),
            healthcheck: self.probe.as_ref().map(Probe::healthcheck),
        }
    }
}

impl Probe {
    /// An `exec` probe is Docker's health check. `http` and `tcp` probes are checked from the
    /// host instead (the image may have no client to run them, as a `FROM scratch` image has
    /// none), so the container gets no health check, not even one its image defines.
    fn healthcheck(&self) -> Healthcheck {
        match &self.check {
            Check::Exec(argv) => Healthcheck {
                test: HealthTest::Exec(argv.clone()),
                interval: Some(self.interval),
                timeout: Some(self.timeout),
                retries: Some(self.retries),
                start_period: Some(self.start_period),
            },
            Check::Http(_) | Check::Tcp(_) => Healthcheck {
                test: HealthTest::Disabled,
                interval: None,
                timeout: None,
                retries: None,
                start_period: None,
            },
        }
    }
}

/// Reads the fields that refer to other resources or to files.
struct Reader<'a> {
    resource: &'a Resource,
    resolve: &'a dyn Resolve,
}

impl Reader<'_> {
    fn image(&self) -> Result<String, Diagnostic> {
        let Some(value) = self.resource.field("image") else {
            return Err(self.invalid("image", "is missing".to_owned()));
        };
        match &value.data {
            Data::Str(image) => Ok(image.clone()),
            Data::Ref(image) => self.output(value.span, image, "ref"),
            _ => Err(self.invalid("image", format!("{value} is not an image reference"))),
        }
    }

    /// The environment with its real values: sensitive ones too, which only the container sees.
    fn env(&self) -> BTreeMap<String, String> {
        let Some(env) = self.resource.field("env").and_then(Value::as_map) else {
            return BTreeMap::new();
        };
        env.iter()
            .filter_map(|(name, value)| Some((name.clone(), scalar_text(value)?)))
            .collect()
    }

    fn mounts(&self) -> Result<Vec<Mount>, Diagnostic> {
        let mut mounts = Vec::new();
        for volume in self.resource.items("volume") {
            let (Some(source), Some(target)) = (volume.get("source"), volume.get("target").and_then(text))
            else {
                continue;
            };
            mounts.push(Mount::Volume {
                source: self.name_of(source)?,
                target,
                read_only: read_only(volume),
            });
        }
        for bind in self.resource.items("bind") {
            let (Some(source), Some(target)) = (bind.get("source"), bind.get("target").and_then(text)) else {
                continue;
            };
            mounts.push(Mount::Bind {
                source: self.bind_source(source)?.display().to_string(),
                target,
                read_only: read_only(bind),
            });
        }
        for tmpfs in self.resource.items("tmpfs") {
            let Some(target) = tmpfs.get("target").and_then(text) else {
                continue;
            };
            mounts.push(Mount::Tmpfs {
                target,
                size_bytes: tmpfs.get("size").and_then(size),
                mode: tmpfs
                    .get("mode")
                    .and_then(Value::as_int)
                    .and_then(|mode| u32::try_from(mode).ok()),
            });
        }
        Ok(mounts)
    }

    /// A bind source is relative to the directory of its file; it must exist, or Docker would
    /// fail at create time, after the plan was accepted.
    fn bind_source(&self, source: &Value) -> Result<PathBuf, Diagnostic> {
        let Some(written) = source.as_str() else {
            return Err(self.invalid("bind", format!("{source} is not a path")));
        };
        let path = self.resource.dir.join(written);
        path.canonicalize().map_err(|error| {
            Diagnostic::error(
                "stack::io",
                format!("the bind source of {} cannot be read: {}: {error}", self.resource.address, path.display()),
            )
            .primary(source.span, "this path")
            .help("bind paths are relative to the directory of the file that declares them; create it or fix the path")
        })
    }

    fn networks(&self, host_name: &str) -> Result<Vec<NetworkAttachment>, Diagnostic> {
        let mut networks = Vec::new();
        for network in self.resource.items("network") {
            let Some(reference) = network.get("name") else {
                continue;
            };
            let mut aliases = vec![host_name.to_owned()];
            for alias in network.get("aliases").map(strings).unwrap_or_default() {
                if !aliases.contains(&alias) {
                    aliases.push(alias);
                }
            }
            let ipv4_address =
                match network.get("ipv4-address") {
                    Some(address) => Some(ipv4(address).ok_or_else(|| {
                        self.invalid("network", format!("{address} is not an IPv4 address"))
                    })?),
                    None => None,
                };
            networks.push(NetworkAttachment {
                network: self.name_of(reference)?,
                aliases,
                ipv4_address,
            });
        }
        Ok(networks)
    }

    fn secrets(&self) -> Result<Vec<ContainerFile>, Diagnostic> {
        let mut files = Vec::new();
        for secret in self.resource.items("secret") {
            let Some(reference) = secret.get("name") else {
                continue;
            };
            let Some(address) = reference.as_ref() else {
                return Err(self.invalid("secret", format!("{reference} names no secret")));
            };
            let target = secret
                .get("target")
                .and_then(text)
                .unwrap_or_else(|| address.name.clone());
            let number =
                |name: &str, default: i64| secret.get(name).and_then(Value::as_int).unwrap_or(default);
            files.push(ContainerFile {
                path: format!("{SECRETS_DIR}/{target}"),
                contents: self.secret_value(reference.span, address)?,
                mode: u32::try_from(number("mode", 0o444)).unwrap_or(0o444),
                uid: u64::try_from(number("uid", 0)).unwrap_or(0),
                gid: u64::try_from(number("gid", 0)).unwrap_or(0),
            });
        }
        Ok(files)
    }

    /// The secret provider hands its content over as its payload, a `Vec<u8>`.
    fn secret_value(&self, span: Span, secret: &Address) -> Result<Vec<u8>, Diagnostic> {
        self.resolve
            .desired(secret)
            .and_then(|desired| desired.payload::<Vec<u8>>())
            .cloned()
            .ok_or_else(|| {
                Diagnostic::error(
                    "stack::secret_source",
                    format!(
                        "the value of {secret}, which {} mounts, is not available",
                        self.resource.address
                    ),
                )
                .primary(span, "mounted here")
                .help("the secret's source must be readable when the stack is planned")
            })
    }

    /// A network's or a volume's Docker name.
    fn name_of(&self, reference: &Value) -> Result<String, Diagnostic> {
        match &reference.data {
            Data::Ref(address) => self
                .resolve
                .desired(address)
                .map(|desired| desired.name.clone())
                .ok_or_else(|| self.unresolved(reference.span, address)),
            Data::Str(name) => Ok(name.clone()),
            _ => Err(self.invalid(reference.to_string().as_str(), "names no resource".to_owned())),
        }
    }

    fn output(&self, span: Span, address: &Address, output: &str) -> Result<String, Diagnostic> {
        self.resolve
            .desired(address)
            .and_then(|desired| desired.outputs.get(output).cloned())
            .ok_or_else(|| self.unresolved(span, address))
    }

    fn unresolved(&self, span: Span, address: &Address) -> Diagnostic {
        Diagnostic::error(
            "stack::unknown_reference",
            format!(
                "{} refers to {address}, which is not known at plan time",
                self.resource.address
            ),
        )
        .primary(span, "referred to here")
        .help(format!(
            "declare {address} in the stack, or refer to a resource that exists"
        ))
    }

    fn invalid(&self, field: &str, problem: String) -> Diagnostic {
        Diagnostic::error(
            "stack::invalid_value",
            format!("`{field}` of {} {problem}", self.resource.address),
        )
        .primary(self.resource.span, "in this service")
    }
}

fn probe(value: &Value) -> Result<Probe, String> {
    let check = if let Some(url) = value.get("http").and_then(text) {
        Check::Http(url)
    } else if let Some(target) = value.get("tcp").and_then(text) {
        Check::Tcp(target)
    } else if let Some(argv) = value.get("exec").map(strings) {
        Check::Exec(argv)
    } else {
        return Err("needs one of `http`, `tcp` and `exec`".to_owned());
    };
    let duration_or = |name: &str, default: u64| {
        value
            .get(name)
            .and_then(duration)
            .unwrap_or(Duration::from_secs(default))
    };
    Ok(Probe {
        check,
        interval: duration_or("interval", 5),
        timeout: duration_or("timeout", 3),
        retries: value
            .get("retries")
            .and_then(Value::as_int)
            .and_then(|retries| u32::try_from(retries).ok())
            .unwrap_or(3),
        start_period: duration_or("start-period", 0),
    })
}

fn port(value: &Value) -> Option<PortBinding> {
    let published = value.get("published").and_then(Value::as_int)?;
    let target = value.get("target").and_then(Value::as_int).unwrap_or(published);
    Some(PortBinding {
        container_port: u16::try_from(target).ok()?,
        protocol: match value.get("protocol").and_then(Value::as_str) {
            Some("udp") => Protocol::Udp,
            _ => Protocol::Tcp,
        },
        host_ip: value
            .get("host-ip")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse().ok()),
        host_port: Some(u16::try_from(published).ok()?),
    })
}

/// `restart "on-failure" max-retries=5`; Docker reads 0 retries as no limit, as the default is.
fn restart(value: &Value) -> RestartPolicy {
    let policy = value.get("policy").unwrap_or(value).as_str();
    match policy {
        Some("no") => RestartPolicy::No,
        Some("always") => RestartPolicy::Always,
        Some("on-failure") => RestartPolicy::OnFailure {
            max_retries: value
                .get("max-retries")
                .and_then(Value::as_int)
                .and_then(|retries| u32::try_from(retries).ok())
                .unwrap_or(0),
        },
        _ => RestartPolicy::UnlessStopped,
    }
}

fn resources(value: &Value) -> Resources {
    Resources {
        memory_limit: value.get("memory").and_then(size),
        memory_reservation: value.get("memory-reservation").and_then(size),
        cpus: value.get("cpus").and_then(Value::as_float),
        cpu_shares: None,
    }
}

fn read_only(mount: &Value) -> bool {
    mount.get("read-only").and_then(Value::as_bool).unwrap_or(false)
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A scalar as the text a container sees (`PORT 8080` is `"8080"`).
fn scalar_text(value: &Value) -> Option<String> {
    match &value.data {
        Data::Str(text) => Some(text.clone()),
        Data::Int(number) => Some(number.to_string()),
        Data::Float(number) => Some(number.to_string()),
        Data::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_list().iter().filter_map(scalar_text).collect()
}

fn text_map(value: &Value) -> Labels {
    value
        .as_map()
        .map(|map| {
            map.iter()
                .filter_map(|(key, value)| Some((key.clone(), scalar_text(value)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn duration(value: &Value) -> Option<Duration> {
    value.as_str().and_then(|text| parse_duration(text).ok())
}

/// A size in bytes, written `"512MiB"` or as a number.
fn size(value: &Value) -> Option<i64> {
    match &value.data {
        Data::Str(text) => parse_size(text).ok().and_then(|bytes| i64::try_from(bytes).ok()),
        Data::Int(bytes) => Some(*bytes),
        _ => None,
    }
}

fn ipv4(value: &Value) -> Option<Ipv4Addr> {
    value.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use serde_json::json;
    use stack_docker::HealthTest;
    use stack_provider::Setting;

    use super::*;
    use crate::service::fixtures::{self, Resolved, SECRET_VALUE};

    const FULL: &str = r#"
stack "shop"
network "backend" { subnet "10.9.0.0/24" }
volume "data"
image "api" { context "." }
secret "token" { from-env "TOKEN" }
service "api" {
    image "${image.api}"
    command "serve" "--port" "80"
    entrypoint "/stack-demo"
    env { MODE "fast"; PORT 80 }
    port 8080 target=80 host-ip="127.0.0.1"
    volume "data" target="/data"
    bind "conf.txt" target="/etc/conf.txt" read-only=#true
    tmpfs "/tmp" size="64MiB" mode=0o1777
    network "backend" {
        aliases "api-v1" "api"
        ipv4-address "10.9.0.5"
    }
    secret "token" target="api-token" mode=0o400 uid=1000
    restart "on-failure" max-retries=5
    resources {
        cpus 0.5
        memory "512MiB"
    }
    user "1000:1000"
    workdir "/app"
    hostname "api-box"
    labels { tier "backend" }
    init #true
    read-only #true
    cap-drop "ALL"
    cap-add "NET_BIND_SERVICE"
    stop-signal "SIGINT"
    stop-grace-period "3s"
    probe {
        exec "/stack-demo" "probe" "http://127.0.0.1:80/health"
        interval "1s"
        retries 5
    }
    update { order "stop-first" }
    depends-on "volume.data"
}
"#;

    #[test]
    fn a_service_becomes_one_container_spec_per_replica() {
        let (stack, dir) = fixtures::load(FULL, &["conf.txt"]);
        let spec =
            ServiceSpec::from_resource(fixtures::service(&stack, "api"), &Resolved::of(&stack)).unwrap();
        let labels = Labels::from([("dev.stack.replica".to_owned(), "2".to_owned())]);
        let container = spec.container("shop_api-2".to_owned(), labels);

        assert_eq!(container.name, "shop_api-2");
        assert_eq!(container.image, "shop_api:abc123");
        assert_eq!(
            container.command,
            Some(vec!["serve".into(), "--port".into(), "80".into()])
        );
        assert_eq!(container.entrypoint, Some(vec!["/stack-demo".into()]));
        assert_eq!(container.env["PORT"], "80");
        assert_eq!(container.labels["tier"], "backend");
        assert_eq!(container.labels["dev.stack.replica"], "2");
        assert_eq!(
            container.ports,
            [PortBinding {
                container_port: 80,
                protocol: Protocol::Tcp,
                host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                host_port: Some(8080),
            }]
        );
        let conf = dir.path().canonicalize().unwrap().join("conf.txt");
        assert_eq!(
            container.mounts,
            [
                Mount::Volume {
                    source: "shop_data".into(),
                    target: "/data".into(),
                    read_only: false,
                },
                Mount::Bind {
                    source: conf.display().to_string(),
                    target: "/etc/conf.txt".into(),
                    read_only: true,
                },
                Mount::Tmpfs {
                    target: "/tmp".into(),
                    size_bytes: Some(64 << 20),
                    mode: Some(0o1777),
                },
            ]
        );
        assert_eq!(
            container.networks,
            [NetworkAttachment {
                network: "shop_backend".into(),
                aliases: vec!["api".into(), "api-v1".into()],
                ipv4_address: Some(Ipv4Addr::new(10, 9, 0, 5)),
            }]
        );
        assert_eq!(container.restart, RestartPolicy::OnFailure { max_retries: 5 });
        assert_eq!(container.resources.memory_limit, Some(512 << 20));
        assert_eq!(container.resources.cpus, Some(0.5));
        assert_eq!(container.user.as_deref(), Some("1000:1000"));
        assert_eq!(container.workdir.as_deref(), Some("/app"));
        assert_eq!(container.hostname.as_deref(), Some("api-box"));
        assert!(container.init && container.read_only);
        assert_eq!(container.cap_add, ["NET_BIND_SERVICE"]);
        assert_eq!(container.cap_drop, ["ALL"]);
        assert_eq!(container.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(container.stop_timeout, Some(Duration::from_secs(3)));
        let health = container.healthcheck.unwrap();
        assert_eq!(
            health.test,
            HealthTest::Exec(vec![
                "/stack-demo".into(),
                "probe".into(),
                "http://127.0.0.1:80/health".into()
            ])
        );
        assert_eq!(health.interval, Some(Duration::from_secs(1)));
        assert_eq!(health.timeout, Some(Duration::from_secs(3)));
        assert_eq!(health.retries, Some(5));

        let [secret] = spec.secrets.as_slice() else {
            panic!("one secret")
        };
        assert_eq!(secret.path, "/run/secrets/api-token");
        assert_eq!(secret.contents, SECRET_VALUE);
        assert_eq!((secret.mode, secret.uid, secret.gid), (0o400, 1000, 0));
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let (stack, _dir) = fixtures::load(
            "stack \"shop\"\nsecret \"token\" { from-env \"TOKEN\" }\nservice \"web\" {\n    image \"demo:1\"\n    secret \"token\"\n}\n",
            &[],
        );
        let spec =
            ServiceSpec::from_resource(fixtures::service(&stack, "web"), &Resolved::of(&stack)).unwrap();
        let container = spec.container("shop_web-1".to_owned(), Labels::new());
        assert_eq!(container.restart, RestartPolicy::UnlessStopped);
        assert_eq!(container.stop_timeout, Some(Duration::from_secs(10)));
        assert!(container.networks.is_empty() && container.healthcheck.is_none());
        assert_eq!(spec.replicas, 1);
        let [secret] = spec.secrets.as_slice() else {
            panic!("one secret")
        };
        assert_eq!((secret.path.as_str(), secret.mode), ("/run/secrets/token", 0o444));
    }

    #[test]
    fn http_and_tcp_probes_turn_off_the_images_health_check() {
        let (stack, _dir) = fixtures::load(
            "stack \"shop\"\nservice \"web\" {\n    image \"demo:1\"\n    probe { http \"http://127.0.0.1:8080/health\"; start-period \"2s\" }\n}\n",
            &[],
        );
        let spec =
            ServiceSpec::from_resource(fixtures::service(&stack, "web"), &Resolved::of(&stack)).unwrap();
        let probe = spec.probe.clone().unwrap();
        assert_eq!(probe.check, Check::Http("http://127.0.0.1:8080/health".into()));
        assert_eq!(
            (probe.interval, probe.start_period),
            (Duration::from_secs(5), Duration::from_secs(2))
        );
        let container = spec.container("shop_web-1".to_owned(), Labels::new());
        assert_eq!(
            container.healthcheck.map(|health| health.test),
            Some(HealthTest::Disabled)
        );
    }

    #[test]
    fn the_configuration_reads_references_and_hides_the_secret() {
        let (stack, dir) = fixtures::load(FULL, &["conf.txt"]);
        let (spec, config) = fixtures::desired(&stack, "api");
        let text = config.to_json();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{spec:?}").contains("hunter2"));
        let field = |name: &str| config.get(name).and_then(Setting::as_json).cloned();
        assert_eq!(field("image"), Some(json!("shop_api:abc123")));
        let version = Resolved::of(&stack)
            .desired(&Address::new(&[], "secret", "token"))
            .unwrap()
            .outputs["version"]
            .clone();
        assert_eq!(
            field("secret").unwrap()[0],
            json!({"name": "secret.token", "target": "/run/secrets/api-token", "mode": 0o400, "uid": 1000, "version": version})
        );
        assert_eq!(field("volume").unwrap()[0]["source"], json!("shop_data"));
        let conf = dir.path().canonicalize().unwrap().join("conf.txt");
        assert_eq!(
            field("bind").unwrap()[0]["source"],
            json!(conf.display().to_string())
        );
        assert_eq!(
            field("network"),
            Some(json!([{"name": "shop_backend", "aliases": ["api-v1"], "ipv4-address": "10.9.0.5"}]))
        );
        assert_eq!(
            field("restart"),
            Some(json!({"policy": "on-failure", "max-retries": 5}))
        );
        for left_out in ["update", "depends-on", "prevent-destroy"] {
            assert!(config.get(left_out).is_none(), "{left_out}");
        }
    }

    /// Placement, endpoint mode and a port's mode are a swarm's: the engine target plans nothing
    /// for them.
    #[test]
    fn the_fields_of_a_swarm_are_left_out_on_one_engine() {
        let (stack, _dir) = fixtures::load(
            "stack \"shop\"\nservice \"web\" {\n    image \"demo:1\"\n    port 8080 mode=\"host\"\n    endpoint-mode \"dnsrr\"\n    placement { constraints \"node.role==worker\"; }\n}\n",
            &[],
        );
        let (_, config) = fixtures::desired(&stack, "web");
        assert!(config.get("placement").is_none() && config.get("endpoint-mode").is_none());
        assert_eq!(
            config.get("port").and_then(Setting::as_json),
            Some(&json!([{"published": 8080}]))
        );
    }

    #[test]
    fn a_missing_bind_source_fails_the_plan_at_its_line() {
        let (stack, _dir) = fixtures::load(
            "stack \"shop\"\nservice \"web\" {\n    image \"demo:1\"\n    bind \"nowhere\" target=\"/x\"\n}\n",
            &[],
        );
        let problem =
            ServiceSpec::from_resource(fixtures::service(&stack, "web"), &Resolved::of(&stack)).unwrap_err();
        assert_eq!(problem.code, "stack::io");
        assert!(
            problem.message.contains("bind source of service.web"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn replicas_are_named_after_the_service_path() {
        let address = Address::new(&["db".to_owned()], "service", "postgres");
        assert_eq!(address.path_name(), "db-postgres");
        let name = fixtures::object_name("shop", &address);
        assert_eq!(
            crate::service::rollout::Slot::Current.name(&name, 2),
            "shop_db-postgres-2"
        );
    }
}
