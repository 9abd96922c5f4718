//! `--since`: a duration back from now, or a point in time, as seconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use stack_language::units::parse_duration;

/// `10m` (that long ago), `2026-12-07T16:00:00Z` or `2026-12-07T17:00:00+01:00` (UTC without
/// an offset), `2026-12-07` (its midnight, UTC), or seconds since the epoch.
pub fn parse_since(text: &str) -> Result<i64, String> {
    if let Ok(ago) = parse_duration(text) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|error| error.to_string())?;
        return Ok(i64::try_from(now.saturating_sub(ago).as_secs()).unwrap_or(i64::MAX));
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    unix_seconds(text).ok_or_else(|| {
        format!("`{text}` is neither a duration (`10m`, `1h30m`) nor a time (`2026-12-07T16:00:00Z`)")
    })
}

/// An RFC 3339 time, or a date alone, in seconds since the epoch.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let number = |part: &str| -> Option<i64> {
        part.bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (date, time) = text.split_once(['T', 't', ' ']).unwrap_or((text, "00:00:00Z"));
    let mut fields = date.splitn(3, '-');
    let (year, month, day) = (
        number(fields.next()?)?,
        number(fields.next()?)?,
        number(fields.next()?)?,
    );
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(at) => time.split_at(at),
        None => (time, ""),
    };
    let offset = match offset {
        "" | "Z" | "z" => 0,
        signed => {
            let (hours, minutes) = signed[1..].split_once(':')?;
            let seconds = number(hours)? * 3600 + number(minutes)? * 60;
            if signed.starts_with('-') {
                -seconds
            } else {
                seconds
            }
        }
    };
    let clock = clock.split_once('.').map_or(clock, |(whole, _)| whole);
    let mut parts = clock.splitn(3, ':');
    let (hour, minute, second) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next().unwrap_or("0"))?,
    );
    let valid =
        (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_seconds_since_the_epoch() {
        assert_eq!(parse_since("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_since("2026-12-07T16:00:00Z"), Ok(1_796_659_200));
        assert_eq!(parse_since("2026-12-07T17:00:00.5+01:00"), Ok(1_796_659_200));
        assert_eq!(parse_since("2026-12-07T15:30:00-00:30"), Ok(1_796_659_200));
        assert_eq!(parse_since("2026-12-07"), Ok(1_796_601_600));
        assert_eq!(parse_since("2000-03-01T00:00:00Z"), Ok(951_868_800));
        assert_eq!(parse_since("1796659200"), Ok(1_796_659_200));
    }

    #[test]
    fn durations_count_back_from_now() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let since = parse_since("10m").expect("a duration");
        assert!(
            (now - 600 - since).abs() <= 1,
            "{since} is not ten minutes before {now}"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "yesterday",
            "2026-13-01",
            "2026-12-07T25:00:00Z",
            "10 minutes",
            "",
        ] {
            assert!(parse_since(text).is_err(), "{text}");
        }
    }
}
