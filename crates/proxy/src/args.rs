//! The command line: `--flag value` or `--flag=value`, some flags repeatable. No dependency:
//! the proxy is built static for a `FROM scratch` image.

use std::net::Ipv4Addr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The address every port is bound on: `0.0.0.0` in a container; tests pick `127.0.0.1`
    /// so that backends can listen on the same port numbers at 127.0.0.2, 127.0.0.3...
    pub bind: Ipv4Addr,
    pub listen: Vec<u16>,
    pub control: u16,
    pub backends: Vec<Ipv4Addr>,
    /// With `--resolve NAME`, the set is what `NAME` resolves to, looked up every
    /// `resolve_interval`, and `PUT /backends` is refused.
    pub resolve: Option<String>,
    pub resolve_interval: Duration,
    pub connect_timeout: Duration,
    pub hold: Duration,
    pub drain: Duration,
}

pub const USAGE: &str = "\
usage: stack-proxy --listen PORT [--listen PORT ...] --control PORT
                   [--backend IP ... | --resolve NAME [--resolve-ms 200]]
                   [--connect-timeout-ms 1000] [--hold-ms 10000] [--drain-ms 30000]
                   [--bind 0.0.0.0]
";

impl Config {
    pub fn parse(arguments: &[String]) -> Result<Config, String> {
        let mut config = Config {
            bind: Ipv4Addr::UNSPECIFIED,
            listen: Vec::new(),
            control: 0,
            backends: Vec::new(),
            resolve: None,
            resolve_interval: Duration::from_millis(200),
            connect_timeout: Duration::from_millis(1000),
            hold: Duration::from_millis(10_000),
            drain: Duration::from_millis(30_000),
        };
        let mut control = None;
        let mut rest = arguments.iter();
        while let Some(argument) = rest.next() {
            let Some(flag) = argument.strip_prefix("--") else {
                return Err(format!("unexpected argument {argument:?}"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value),
                None => {
                    let value = rest.next().ok_or_else(|| format!("--{flag} needs a value"))?;
                    (flag, value.as_str())
                }
            };
            match name {
                "listen" => {
                    let port = parse_port(name, value)?;
                    if config.listen.contains(&port) {
                        return Err(format!("--listen {port} is given twice"));
                    }
                    config.listen.push(port);
                }
                "control" => control = Some(parse_port(name, value)?),
                "backend" => {
                    let ip = parse_ip(name, value)?;
                    if !config.backends.contains(&ip) {
                        config.backends.push(ip);
                    }
                }
                "resolve" if value.trim().is_empty() => return Err("--resolve needs a name".to_string()),
                "resolve" => config.resolve = Some(value.to_string()),
                "resolve-ms" => {
                    config.resolve_interval = parse_millis(name, value)?;
                    if config.resolve_interval.is_zero() {
                        return Err("--resolve-ms must be at least 1".to_string());
                    }
                }
                "bind" => config.bind = parse_ip(name, value)?,
                "connect-timeout-ms" => {
                    config.connect_timeout = parse_millis(name, value)?;
                    // `connect_timeout` rejects a zero duration.
                    if config.connect_timeout.is_zero() {
                        return Err("--connect-timeout-ms must be at least 1".to_string());
                    }
                }
                "hold-ms" => config.hold = parse_millis(name, value)?,
                "drain-ms" => config.drain = parse_millis(name, value)?,
                _ => return Err(format!("unknown flag --{name}")),
            }
        }
        if config.listen.is_empty() {
            return Err("at least one --listen PORT is needed".to_string());
        }
        config.control = control.ok_or("--control PORT is needed")?;
        if config.resolve.is_some() && !config.backends.is_empty() {
            return Err(
                "--backend and --resolve exclude each other: the set is either put or resolved".to_string(),
            );
        }
        if config.listen.contains(&config.control) {
            return Err(format!("--control {} is also a --listen port", config.control));
        }
        Ok(config)
    }
}

fn parse_port(flag: &str, value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("--{flag} {value:?} is not a port (1 to 65535)")),
    }
}

fn parse_ip(flag: &str, value: &str) -> Result<Ipv4Addr, String> {
    value
        .parse()
        .map_err(|_| format!("--{flag} {value:?} is not an IPv4 address"))
}

fn parse_millis(flag: &str, value: &str) -> Result<Duration, String> {
    value
        .parse()
        .map(Duration::from_millis)
        .map_err(|_| format!("--{flag} {value:?} is not a number of milliseconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &str) -> Result<Config, String> {
        let arguments: Vec<String> = arguments.split_whitespace().map(String::from).collect();
        Config::parse(&arguments)
    }

    #[test]
    fn reads_every_flag_in_both_forms() {
        let config = parse(
            "--listen 80 --listen=443 --control 9000 --backend 10.0.0.2 --backend=10.0.0.3 \
             --connect-timeout-ms 250 --hold-ms 500 --drain-ms=700 --bind 127.0.0.1",
        )
        .expect("every flag is valid");
        assert_eq!(
            config,
            Config {
                bind: Ipv4Addr::LOCALHOST,
                listen: vec![80, 443],
                control: 9000,
                backends: vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)],
                resolve: None,
                resolve_interval: Duration::from_millis(200),
                connect_timeout: Duration::from_millis(250),
                hold: Duration::from_millis(500),
                drain: Duration::from_millis(700),
            }
        );
    }

    #[test]
    fn defaults_match_the_usage() {
        let config = parse("--listen 80 --control 9000").expect("the two required flags are enough");
        assert_eq!(config.bind, Ipv4Addr::UNSPECIFIED);
        assert!(config.backends.is_empty());
        assert_eq!(config.resolve, None);
        assert_eq!(config.resolve_interval, Duration::from_millis(200));
        assert_eq!(config.connect_timeout, Duration::from_secs(1));
        assert_eq!(config.hold, Duration::from_secs(10));
        assert_eq!(config.drain, Duration::from_secs(30));
    }

    #[test]
    fn reads_the_resolve_mode() {
        let config = parse("--listen 80 --control 9000 --resolve tasks.shop_web --resolve-ms=100")
            .expect("the resolve mode is valid");
        assert_eq!(config.resolve.as_deref(), Some("tasks.shop_web"));
        assert_eq!(config.resolve_interval, Duration::from_millis(100));
        assert!(config.backends.is_empty());
    }

    #[test]
    fn rejects_what_cannot_work() {
        for (arguments, error) in [
            ("--control 9000", "at least one --listen"),
            ("--listen 80", "--control PORT is needed"),
            ("--listen 80 --control 80", "also a --listen port"),
            ("--listen 80 --listen 80 --control 9", "given twice"),
            ("--listen 0 --control 9", "not a port"),
            ("--listen http --control 9", "not a port"),
            ("--listen 80 --control 9 --backend ::1", "not an IPv4 address"),
            ("--listen 80 --control 9 --hold-ms soon", "milliseconds"),
            ("--listen 80 --control 9 --connect-timeout-ms 0", "at least 1"),
            ("--listen 80 --control 9 --udp 53", "unknown flag --udp"),
            ("--listen 80 --control", "--control needs a value"),
            ("80", "unexpected argument"),
            (
                "--listen 80 --control 9 --resolve web --backend 10.0.0.2",
                "exclude each other",
            ),
            ("--listen 80 --control 9 --resolve=", "--resolve needs a name"),
            (
                "--listen 80 --control 9 --resolve web --resolve-ms 0",
                "at least 1",
            ),
        ] {
            let message = parse(arguments).expect_err(arguments);
            assert!(message.contains(error), "{arguments}: {message}");
        }
    }
}
