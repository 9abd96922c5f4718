//! The stack's name: given with `--name`, declared by the `stack` node, or
//! derived from the directory's name.

use std::path::Path;

use crate::decl::Unit;
use crate::load::stack_files;
use crate::lower::valid_name;
use crate::{Options, Target};

/// `--name`, else the `stack` node, else the directory's name made valid.
pub(crate) fn stack_name(unit: &Unit, path: &Path, options: &Options) -> String {
    if let Some(name) = &options.stack_name {
        return name.clone();
    }
    if let Some((name, _)) = &unit.stack_name {
        return name.clone();
    }
    directory_name(path)
}

/// The name the stack at `path` most likely has, from a look at its files
/// that parses nothing: `--name`, else the first line that reads
/// `stack NAME`, else the directory's name. Commands use it to start reading
/// the daemon while the files load; the loaded stack's name is what counts,
/// and a read made under another name is thrown away.
pub fn likely_name(path: &Path, options: &Options) -> String {
    if let Some(name) = &options.stack_name {
        return name.clone();
    }
    texts(path)
        .find_map(|text| text.lines().find_map(declared).map(str::to_owned))
        .unwrap_or_else(|| directory_name(path))
}

/// The target the stack at `path` most likely has in the environment of `options`, from the
/// same kind of look: `swarm` when an environment is chosen and a line reads `target "swarm"`
/// (only overlays set a target), else the default. As for the name, a read made for another
/// target than the loaded stack's is thrown away.
pub fn likely_target(path: &Path, options: &Options) -> Target {
    let sets_swarm = |text: &String| {
        text.lines()
            .any(|line| matches!(line.trim(), r#"target "swarm""# | "target swarm"))
    };
    if options.environment.is_some() && texts(path).any(|text| sets_swarm(&text)) {
        Target::Swarm
    } else {
        Target::default()
    }
}

/// The texts of the stack's files, read as they are.
fn texts(path: &Path) -> impl Iterator<Item = String> {
    let files = if path.is_dir() {
        stack_files(path).unwrap_or_default()
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .filter_map(|file| std::fs::read_to_string(file).ok())
}

/// The name a line declares when it is a `stack` node: `stack "shop"` or
/// `stack shop`, a comment after it allowed.
fn declared(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("stack")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let (name, after) = match rest.strip_prefix('"') {
        Some(quoted) => {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        }
        None => rest.split_at(rest.find([' ', '\t', ';']).unwrap_or(rest.len())),
    };
    let after = after.trim_start();
    let ends = after.is_empty() || after.starts_with(';') || after.starts_with("//");
    (ends && valid_name(name)).then_some(name)
}

/// The directory's name, lowercased, with each character other than a
/// letter, a digit, `-` and `_` replaced by `-` and leading `-` and `_`
/// removed; `stack` when that leaves no valid name.
fn directory_name(path: &Path) -> String {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    let raw = dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("stack")
        .to_ascii_lowercase();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['-', '_']).to_owned();
    if valid_name(&cleaned) {
        cleaned
    } else {
        "stack".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_line_declares_its_name() {
        assert_eq!(declared(r#"stack "shop""#), Some("shop"));
        assert_eq!(declared("stack shop"), Some("shop"));
        assert_eq!(declared("  stack\t\"shop-2\"  // the shop"), Some("shop-2"));
        assert_eq!(declared(r#"stack "shop"; network "net""#), Some("shop"));
    }

    #[test]
    fn other_lines_declare_nothing() {
        assert_eq!(declared(r#"/-stack "old""#), None);
        assert_eq!(declared(r#"stacks "shop""#), None);
        assert_eq!(declared(r#"stack "Shop""#), None);
        assert_eq!(declared(r#"stack "shop" extra"#), None);
        assert_eq!(declared(r#"stack "unterminated"#), None);
        assert_eq!(declared(r#"network "stack""#), None);
    }

    #[test]
    fn the_likely_name_falls_back_to_the_directory() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let stack = dir.path().join("My Shop");
        std::fs::create_dir(&stack).expect("the stack directory");
        std::fs::write(stack.join("stack.kdl"), "network \"net\"\n").expect("the stack file");
        assert_eq!(likely_name(&stack, &Options::default()), "my-shop");
        std::fs::write(stack.join("names.kdl"), "stack \"shop\"\n").expect("a second file");
        assert_eq!(likely_name(&stack, &Options::default()), "shop");
        let given = Options {
            stack_name: Some("given".to_owned()),
            ..Options::default()
        };
        assert_eq!(likely_name(&stack, &given), "given");
    }

    #[test]
    fn the_likely_target_is_a_swarm_only_in_an_environment_whose_overlay_may_say_so() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let text = "network \"net\"\noverlay \"swarm\" {\n    target \"swarm\"\n}\n";
        std::fs::write(dir.path().join("stack.kdl"), text).expect("the stack file");
        assert_eq!(likely_target(dir.path(), &Options::default()), Target::Engine);
        let in_swarm = Options {
            environment: Some("swarm".to_owned()),
            ..Options::default()
        };
        assert_eq!(likely_target(dir.path(), &in_swarm), Target::Swarm);
        std::fs::write(dir.path().join("stack.kdl"), "network \"net\"\n").expect("the stack file");
        assert_eq!(likely_target(dir.path(), &in_swarm), Target::Engine);
    }
}
