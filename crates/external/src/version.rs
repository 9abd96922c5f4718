//! The versions a `provider` block accepts: `version ">=0.1"`, `version ">=0.2, <1"`, or a
//! version alone, `"0.2"`, which accepts `0.2` and every `0.2.x`.

/// Whether `version` (`0.2.1`) meets every comma-separated constraint of `wanted`; `Err` says
/// what in `wanted` cannot be read.
pub fn accepts(wanted: &str, version: &str) -> Result<bool, String> {
    let have = numbers(version)
        .ok_or_else(|| format!("the provider's version `{version}` is not numbers separated by dots"))?;
    let mut accepted = true;
    for constraint in wanted.split(',').map(str::trim) {
        let (operator, rest) = split_operator(constraint);
        let want = numbers(rest.trim()).ok_or_else(|| {
            format!("`{constraint}` is not a version constraint: write `>=0.1`, `<2`, `0.3` or several, separated by commas")
        })?;
        let order = compare(&have, &want);
        accepted &= match operator {
            ">=" => order.is_ge(),
            ">" => order.is_gt(),
            "<=" => order.is_le(),
            "<" => order.is_lt(),
            // `0.2` and `=0.2` accept `0.2.x`: the parts written must match.
            _ => have.len() >= want.len() && have[..want.len()] == want[..],
        };
    }
    Ok(accepted)
}

fn split_operator(constraint: &str) -> (&str, &str) {
    for operator in [">=", "<=", ">", "<", "="] {
        if let Some(rest) = constraint.strip_prefix(operator) {
            return (operator, rest);
        }
    }
    ("=", constraint)
}

/// `1.2.3` as numbers; a suffix after `-` or `+` (`0.1.0-dev`) is left out.
fn numbers(text: &str) -> Option<Vec<u64>> {
    let core = text.split(['-', '+']).next()?;
    core.split('.').map(|part| part.parse().ok()).collect()
}

/// Compares as if the shorter had zeros at the end.
fn compare(have: &[u64], want: &[u64]) -> std::cmp::Ordering {
    let length = have.len().max(want.len());
    let padded = |parts: &[u64]| {
        let mut parts = parts.to_vec();
        parts.resize(length, 0);
        parts
    };
    padded(have).cmp(&padded(want))
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn constraints_compare_numerically() {
        assert_eq!(accepts(">=0.1", "0.1.0"), Ok(true));
        assert_eq!(accepts(">=0.1", "0.10.0"), Ok(true));
        assert_eq!(accepts(">=0.2", "0.1.9"), Ok(false));
        assert_eq!(accepts(">=0.1, <1", "1.0.0"), Ok(false));
        assert_eq!(accepts("0.2", "0.2.7"), Ok(true));
        assert_eq!(accepts("0.2", "0.20.0"), Ok(false));
        assert_eq!(accepts("=1.0.0", "1.0.0-dev"), Ok(true));
    }

    #[test]
    fn unreadable_constraints_say_how_to_write_one() {
        assert!(accepts("~>1", "1.0.0").is_err_and(|error| error.contains("`~>1`")));
        assert!(accepts(">=1", "latest").is_err_and(|error| error.contains("`latest`")));
    }
}
