//! `.dockerignore`, simply: `*`, `?` and `**` globs, `!` exceptions, the last matching line
//! wins, and a pattern that matches a folder excludes everything in it.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The pattern's `/`-separated parts.
    parts: Vec<String>,
    /// `!pattern`: matching paths are included again.
    exception: bool,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> DockerIgnore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let (exception, pattern) = match line.strip_prefix('!') {
                    Some(pattern) => (true, pattern.trim()),
                    None => (false, line),
                };
                let parts: Vec<String> = pattern
                    .split('/')
                    .filter(|part| !part.is_empty() && *part != ".")
                    .map(str::to_string)
                    .collect();
                (!parts.is_empty()).then_some(Rule { parts, exception })
            })
            .collect();
        DockerIgnore { rules }
    }

    /// Whether `path` (relative to the context, `/`-separated) stays out of the context.
    pub fn excludes(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        let mut excluded = false;
        for rule in &self.rules {
            // A rule matching the path or any folder above it applies to the path.
            if (1..=parts.len()).any(|length| matches_parts(&rule.parts, &parts[..length])) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an excluded folder may still hold included paths, so it must be walked.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|rule| rule.exception)
    }
}

fn matches_parts(pattern: &[String], path: &[&str]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((first, rest)), _) if first == "**" => {
            (0..=path.len()).any(|skipped| matches_parts(rest, &path[skipped..]))
        }
        (Some((first, rest)), Some((name, names))) => {
            matches_name(first.as_bytes(), name.as_bytes()) && matches_parts(rest, names)
        }
        _ => false,
    }
}

/// `*` and `?` within one path part; `\` escapes the next character.
fn matches_name(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skipped| matches_name(rest, &name[skipped..])),
        Some((b'?', rest)) => !name.is_empty() && matches_name(rest, &name[1..]),
        Some((b'\\', [escaped, rest @ ..])) => {
            name.first() == Some(escaped) && matches_name(rest, &name[1..])
        }
        Some((literal, rest)) => name.first() == Some(literal) && matches_name(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_within_a_part() {
        let ignore = DockerIgnore::parse("*.log\n# comment\n\ntmp?\n");
        assert!(ignore.excludes("debug.log"));
        assert!(
            !ignore.excludes("logs/debug.log"),
            "`*` stays within the top folder"
        );
        assert!(ignore.excludes("tmp1"));
        assert!(!ignore.excludes("tmp12"));
        assert!(!ignore.excludes("main.rs"));
    }

    #[test]
    fn folders_exclude_their_contents() {
        let ignore = DockerIgnore::parse("target/\n/node_modules\n./docs/build");
        assert!(ignore.excludes("target"));
        assert!(ignore.excludes("target/release/app"));
        assert!(ignore.excludes("node_modules/x/index.js"));
        assert!(ignore.excludes("docs/build/index.html"));
        assert!(!ignore.excludes("docs/index.md"));
    }

    #[test]
    fn double_star_spans_folders() {
        let ignore = DockerIgnore::parse("**/*.tmp\nsrc/**/generated");
        assert!(ignore.excludes("a.tmp"));
        assert!(ignore.excludes("a/b/c.tmp"));
        assert!(ignore.excludes("src/generated/x.rs"));
        assert!(ignore.excludes("src/a/b/generated"));
        assert!(!ignore.excludes("src/a/b/handwritten"));
    }

    #[test]
    fn the_last_matching_line_wins() {
        let ignore = DockerIgnore::parse("*.md\n!README.md\n");
        assert!(ignore.excludes("CHANGES.md"));
        assert!(!ignore.excludes("README.md"));
        assert!(ignore.has_exceptions());
        let again = DockerIgnore::parse("!README.md\n*.md\n");
        assert!(again.excludes("README.md"));
    }
}
