//! Compose's durations and sizes in the spelling of stack files.

/// A Go duration as Compose takes it (`1m30s`, `1.5s`, `500ms`, `10us`) as a
/// stack duration (`"1m30s"`, `"1500ms"`). Below a millisecond is rounded down.
pub fn duration(text: &str) -> Option<String> {
    let text = text.trim();
    if text == "0" {
        return Some("0s".to_owned());
    }
    let mut nanos: f64 = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3_600e9,
            "m" => 60e9,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += number * factor;
    }
    let mut millis = (nanos / 1e6).floor() as u64;
    if millis == 0 {
        return Some("0s".to_owned());
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    Some(out)
}

/// A Compose size (`2G`, `512m`, `1.5gb`, `1024`: units are binary and any
/// case) as a stack size (`"2GiB"`, `"512MiB"`, `"1.5GiB"`, `"1024"`).
pub fn size(text: &str) -> Option<String> {
    let text = text.trim();
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number = &text[..number_len];
    number.parse::<f64>().ok()?;
    let unit = match text[number_len..].to_ascii_lowercase().as_str() {
        "" | "b" => "",
        "k" | "kb" => "KiB",
        "m" | "mb" => "MiB",
        "g" | "gb" => "GiB",
        "t" | "tb" => "TiB",
        _ => return None,
    };
    Some(format!("{number}{unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("10s").as_deref(), Some("10s"));
        assert_eq!(duration("1m30s").as_deref(), Some("1m30s"));
        assert_eq!(duration("90s").as_deref(), Some("1m30s"));
        assert_eq!(duration("1.5s").as_deref(), Some("1s500ms"));
        assert_eq!(duration("500ms").as_deref(), Some("500ms"));
        assert_eq!(duration("1h").as_deref(), Some("1h"));
        assert_eq!(duration("0").as_deref(), Some("0s"));
        assert_eq!(duration("10").as_deref(), None);
        assert_eq!(duration("soon").as_deref(), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(size("2G").as_deref(), Some("2GiB"));
        assert_eq!(size("512M").as_deref(), Some("512MiB"));
        assert_eq!(size("1.5G").as_deref(), Some("1.5GiB"));
        assert_eq!(size("256mb").as_deref(), Some("256MiB"));
        assert_eq!(size("64k").as_deref(), Some("64KiB"));
        assert_eq!(size("1024").as_deref(), Some("1024"));
        assert_eq!(size("lots").as_deref(), None);
    }
}
