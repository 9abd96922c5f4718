//! `.env` and `env_file` files: `KEY=VALUE` lines, as Compose reads them.

/// The entries of an env file, in order; a later key wins when read into a map.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = match value.chars().next() {
            Some(quote @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(quote) => {
                value[1..value.len() - 1].to_owned()
            }
            // An unquoted value ends before a ` #` comment.
            _ => value.split(" #").next().unwrap_or_default().trim_end().to_owned(),
        };
        entries.push((key.trim().to_owned(), value));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn lines_comments_quotes_and_export() {
        let text = "# comment\nA=1\nexport B = two\nC=\"quoted # not a comment\"\nD='single'\nE=value # comment\n\nnot a line\nF=\n";
        let entries = parse(text);
        let pairs: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("A", "1"),
                ("B", "two"),
                ("C", "quoted # not a comment"),
                ("D", "single"),
                ("E", "value"),
                ("F", "")
            ]
        );
    }
}
