//! A tiny `--flag value` parser: the demo takes a handful of flags and no dependencies.

use std::str::FromStr;

/// The flags and positional arguments of one subcommand.
#[derive(Debug, Default)]
pub struct Args {
    flags: Vec<(String, String)>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `--name value` and `--name=value`; every flag takes a value and must be in `known`.
    pub fn parse(args: &[String], known: &[&str]) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                parsed.positional.push(arg.clone());
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value.to_string()),
                None => {
                    let value = rest.next().ok_or_else(|| format!("--{flag} needs a value"))?;
                    (flag, value.clone())
                }
            };
            if !known.contains(&name) {
                return Err(format!("unknown flag --{name}"));
            }
            parsed.flags.push((name.to_string(), value));
        }
        Ok(parsed)
    }

    /// The last value given for `name`, parsed, or `default` when the flag is absent.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.flags.iter().rev().find(|(flag, _)| flag == name) {
            Some((_, value)) => value
                .parse()
                .map_err(|_| format!("invalid value {value:?} for --{name}")),
            None => Ok(default),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn reads_both_flag_forms_and_positionals() {
        let args = Args::parse(
            &strings(&["tcp", "--port", "81", "--name=web"]),
            &["port", "name"],
        )
        .unwrap();
        assert_eq!(args.get("port", 0u16), Ok(81));
        assert_eq!(args.get("name", String::new()), Ok("web".to_string()));
        assert_eq!(args.positional, ["tcp"]);
    }

    #[test]
    fn defaults_and_errors() {
        let args = Args::parse(&[], &["port"]).unwrap();
        assert_eq!(args.get("port", 8080u16), Ok(8080));
        assert!(Args::parse(&strings(&["--nope", "1"]), &["port"]).is_err());
        assert!(Args::parse(&strings(&["--port"]), &["port"]).is_err());
        let bad = Args::parse(&strings(&["--port", "x"]), &["port"]).unwrap();
        assert!(bad.get("port", 0u16).is_err());
    }
}
