//! A credential moved out of `environment` into a sensitive variable must not stay anywhere
//! else in the stack: a health check, a command or another service's setting that writes the
//! same literal reads the variable instead. Where a variable cannot stand (a name, an image
//! reference), the value stays and a warning names the place.

use stack_diagnostics::Diagnostic;

use crate::kdl::{Item, Node, Val};
use crate::report::Report;

/// The settings whose strings are templates a program reads at run time.
const REWRITTEN: &[&str] = &["env", "command", "entrypoint", "probe", "labels", "args"];

/// Rewrites every other occurrence of each `moved` credential (value, variable name).
pub fn scrub(items: &mut [Item], moved: &[(String, String)], report: &mut Report) {
    for item in items {
        if let Item::Node(node) = item {
            let place = match node.args.first() {
                Some(Val::Str(name)) => format!("{} \"{name}\"", node.name),
                _ => node.name.clone(),
            };
            scrub_node(node, &place, false, moved, report);
        }
    }
}

fn scrub_node(
    node: &mut Node,
    place: &str,
    rewritten: bool,
    moved: &[(String, String)],
    report: &mut Report,
) {
    let rewritten = rewritten || REWRITTEN.contains(&node.name.as_str());
    let values = node
        .args
        .iter_mut()
        .chain(node.props.iter_mut().map(|(_, value)| value));
    for value in values {
        let Val::Str(text) = value else { continue };
        for (credential, variable) in moved {
            // A path names the file a secret is in (`/run/secrets/db-password`): it is no secret.
            if credential.starts_with('/') || !holds(text, credential) {
                continue;
            }
            if rewritten {
                if text == credential {
                    // The same word may be a name as well (a user called like its password).
                    report.push_warning(
                        Diagnostic::warning(
                            "stack::compose_secret",
                            format!("{place} held the credential moved into `{variable}`: it reads that variable now"),
                        )
                        .help("if this setting is not the credential but only has the same value, write its value back by hand"),
                    );
                }
                *text = replace_words(text, credential, &format!("${{var.{variable}}}"));
            } else {
                report.push_warning(
                    Diagnostic::warning(
                        "stack::compose_secret",
                        format!("the credential moved into `{variable}` is also written in {place}, where a variable cannot stand: it stays there"),
                    )
                    .help("use another value for the credential than for this setting"),
                );
            }
        }
    }
    for child in &mut node.children {
        if let Item::Node(child) = child {
            let place = format!("{place} › {}", child.name);
            scrub_node(child, &place, rewritten, moved, report);
        }
    }
}

/// Whether `text` holds `word` as a whole word: not inside a longer name.
fn holds(text: &str, word: &str) -> bool {
    word_starts(text, word).next().is_some()
}

fn word_starts<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word)
        .map(|(start, _)| start)
        .filter(move |&start| {
            let before = text[..start].chars().next_back();
            let after = text[start + word.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
}

fn replace_words(text: &str, word: &str, with: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for start in word_starts(text, word).collect::<Vec<_>>() {
        if start < last {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str(with);
        last = start + word.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert_eq!(
            replace_words("-P s3cret! -Q 'x'", "s3cret!", "${var.p}"),
            "-P ${var.p} -Q 'x'"
        );
        assert_eq!(replace_words("nextcloud:apache", "nextcloud", "V"), "V:apache");
        assert!(!holds("postgresql", "postgres"));
    }
}
