//! "Did you mean ...?" for misspelled names.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    // A shortened name (`prod` for `production`) is a likely meaning too.
    let abbreviated = candidates
        .iter()
        .copied()
        .find(|candidate| name.len() >= 3 && candidate.starts_with(name));
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(name.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
        .or(abbreviated)
}

/// A help line: the suggestion if there is one, else the list of valid names.
pub fn did_you_mean<'a>(
    name: &str,
    what: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    match closest(name, candidates.clone()) {
        Some(candidate) => format!("did you mean `{candidate}`?"),
        None => {
            let names: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
            if names.is_empty() {
                format!("there are no {what}s here")
            } else {
                format!("valid {what}s: {}", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names = ["image", "command", "entrypoint", "replicas"];
        assert_eq!(closest("imagee", names), Some("image"));
        assert_eq!(closest("replica", names), Some("replicas"));
        assert_eq!(closest("xyz", names), None);
        assert_eq!(closest("entry", names), Some("entrypoint"));
        assert_eq!(did_you_mean("xyz", "field", ["a", "b"]), "valid fields: `a`, `b`");
    }
}
