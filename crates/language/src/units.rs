//! Parsing of the value types with units: durations, sizes, networks, ports, counts.

use std::net::IpAddr;
use std::time::Duration;

use crate::{Data, Value};

/// Parses `"500ms"`, `"10s"`, `"1m30s"`, `"2h"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("`{text}` is not a duration; write it like \"500ms\", \"10s\", \"1m30s\" or \"2h\"");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let amount: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount.saturating_mul(60)),
            "h" => Duration::from_secs(amount.saturating_mul(3600)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parses a size in bytes: `"512MiB"`, `"2GiB"`, `"64MB"`, Docker's `"512m"`, or a plain number.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || format!("`{text}` is not a size; write it like \"512MiB\", \"2GiB\" or \"64MB\"");
    let digits = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let amount: f64 = text[..digits].parse().map_err(|_| invalid())?;
    let factor: u64 = match text[digits..].trim() {
        "" | "B" | "b" => 1,
        "KB" => 1000,
        "MB" => 1000_u64.pow(2),
        "GB" => 1000_u64.pow(3),
        "TB" => 1000_u64.pow(4),
        "KiB" | "k" | "K" => 1024,
        "MiB" | "m" | "M" => 1024_u64.pow(2),
        "GiB" | "g" | "G" => 1024_u64.pow(3),
        "TiB" | "t" | "T" => 1024_u64.pow(4),
        _ => return Err(invalid()),
    };
    let bytes = amount * factor as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as u64)
}

/// An IP network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let invalid = || format!("`{text}` is not a network in CIDR notation, like \"172.30.0.0/24\"");
        let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(invalid());
        }
        Ok(Cidr { address, prefix })
    }

    fn bits(address: IpAddr) -> (u128, u8) {
        match address {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    }

    fn masked(self, prefix: u8) -> Option<u128> {
        let (bits, width) = Cidr::bits(self.address);
        let host_bits = u32::from(width - prefix.min(width));
        Some(bits.checked_shr(host_bits).unwrap_or(0))
    }

    pub fn contains(self, address: IpAddr) -> bool {
        if address.is_ipv4() != self.address.is_ipv4() {
            return false;
        }
        let other = Cidr {
            address,
            prefix: self.prefix,
        };
        self.masked(self.prefix) == other.masked(self.prefix)
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        if self.address.is_ipv4() != other.address.is_ipv4() {
            return false;
        }
        let prefix = self.prefix.min(other.prefix);
        self.masked(prefix) == other.masked(prefix)
    }
}

/// A number of replicas, as a count or as a share of a service's replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exactly(u32),
    /// A percentage of the replicas, rounded up.
    Percent(u32),
}

impl Count {
    /// A value the checker accepted as [`Type::Count`](crate::schema::Type::Count).
    pub fn from_value(value: &Value) -> Option<Count> {
        match &value.data {
            Data::Int(count) => u32::try_from(*count).ok().map(Count::Exactly),
            Data::Str(text) => parse_percent(text).ok(),
            _ => None,
        }
    }

    /// How many of `replicas` this count is.
    pub fn of(self, replicas: u32) -> u32 {
        match self {
            Count::Exactly(count) => count,
            Count::Percent(percent) => (u64::from(replicas) * u64::from(percent))
                .div_ceil(100)
                .try_into()
                .unwrap_or(u32::MAX),
        }
    }

    pub fn is_zero(self) -> bool {
        matches!(self, Count::Exactly(0) | Count::Percent(0))
    }
}

/// Parses a percentage of replicas written as a string: `"25%"`.
pub fn parse_percent(text: &str) -> Result<Count, String> {
    text.strip_suffix('%')
        .filter(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .map(Count::Percent)
        .ok_or_else(|| {
            format!("`{text}` is not a percentage; write it like \"25%\", or a number of replicas like 2")
        })
}

pub fn parse_port(number: i64) -> Result<u16, String> {
    u16::try_from(number)
        .ok()
        .filter(|port| *port > 0)
        .ok_or_else(|| format!("{number} is not a port; ports are 1 to 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "10", "s", "10x", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("2g"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        for bad in ["", "MiB", "12 parsecs", "1e400GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() -> Result<(), String> {
        let a = Cidr::parse("172.22.1.0/24")?;
        let b = Cidr::parse("172.22.0.0/16")?;
        let c = Cidr::parse("172.23.0.0/24")?;
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c));
        assert!(a.contains("172.22.1.10".parse().map_err(|_| "ip")?));
        assert!(!a.contains("172.22.2.10".parse().map_err(|_| "ip")?));
        assert!(Cidr::parse("0.0.0.0/0")?.overlaps(c));
        for bad in ["172.22.1.0", "172.22.1.0/33", "x/24", "::1/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn counts_and_percentages_of_replicas() {
        assert_eq!(parse_percent("25%"), Ok(Count::Percent(25)));
        assert_eq!(parse_percent("0%"), Ok(Count::Percent(0)));
        for bad in ["", "%", "25", "-5%", "2.5%", "25 %"] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
        // Rounded up, as Kubernetes rounds `maxSurge`.
        assert_eq!(Count::Percent(25).of(5), 2);
        assert_eq!(Count::Percent(25).of(4), 1);
        assert_eq!(Count::Percent(25).of(1), 1);
        assert_eq!(Count::Percent(0).of(10), 0);
        assert_eq!(Count::Exactly(3).of(1), 3);
        assert!(Count::Percent(0).is_zero() && Count::Exactly(0).is_zero());
        assert!(!Count::Percent(1).is_zero());
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(8080), Ok(8080));
        assert!(parse_port(0).is_err());
        assert!(parse_port(70000).is_err());
    }
}
