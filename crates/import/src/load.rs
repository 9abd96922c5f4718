//! Reading a Compose project: the files given (later ones override earlier
//! ones), the files they `include`, and the services they `extends`, merged
//! into one tree as Compose merges them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stack_diagnostics::{Diagnostic, FileId, Sources, Span};

use crate::report::Report;
use crate::yaml::{self, Node, Yaml};

/// The merged Compose model, before it is mapped.
pub struct Project {
    pub root: Node,
    /// The directory relative paths written in each file start from.
    pub dirs: HashMap<FileId, PathBuf>,
    /// The directory of the first file: the project's name comes from it.
    pub dir: PathBuf,
}

/// Fields whose lists add up when files are merged; other lists are replaced.
const APPENDED: &[&str] = &[
    "ports",
    "expose",
    "volumes",
    "secrets",
    "configs",
    "cap_add",
    "cap_drop",
    "dns",
    "tmpfs",
    "env_file",
    "profiles",
    "devices",
    "links",
    "external_links",
];

/// Fields written either as a list of `KEY=VALUE` or as a mapping.
pub const KEY_VALUE: &[&str] = &["environment", "labels", "args", "extra_hosts", "sysctls"];

pub fn load(files: &[PathBuf], sources: &mut Sources, report: &mut Report) -> Option<Project> {
    let first = files.first()?;
    let dir = absolute(first.parent().unwrap_or(Path::new(".")));
    let mut loader = Loader {
        sources,
        report,
        dirs: HashMap::new(),
    };
    let mut root: Option<Node> = None;
    for file in files {
        let Some(tree) = loader.file(file, &dir, &mut Vec::new()) else {
            continue;
        };
        root = Some(match root {
            Some(base) => merge(base, tree, None),
            None => tree,
        });
    }
    let mut root = root?;
    loader.extends(&mut root);
    let dirs = loader.dirs;
    if !report.errors.is_empty() {
        return None;
    }
    Some(Project { root, dirs, dir })
}

struct Loader<'a> {
    sources: &'a mut Sources,
    report: &'a mut Report,
    dirs: HashMap<FileId, PathBuf>,
}

impl Loader<'_> {
    /// Reads and parses one file, with what it includes merged in.
    fn file(&mut self, path: &Path, base: &Path, including: &mut Vec<PathBuf>) -> Option<Node> {
        let (file, root) = self.parse(path, base)?;
        let Yaml::Map(entries) = root.value else {
            if root.is_null() {
                return Some(Node {
                    value: Yaml::Map(Vec::new()),
                    span: root.span,
                });
            }
            self.report.error(
                "stack::compose_invalid",
                root.span,
                "a Compose file is a mapping of `services`, `networks`, `volumes`, ...",
                "start the file with `services:`",
            );
            return None;
        };
        let mut own = Vec::new();
        let mut included = Vec::new();
        for (key, value) in entries {
            if key.as_str() == Some("include") {
                included.push(value);
            } else {
                own.push((key, value));
            }
        }
        let mut tree = Node {
            value: Yaml::Map(own),
            span: root.span,
        };
        let here = absolute(
            &path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        );
        including.push(absolute(path));
        for list in included {
            for entry in list.as_seq().unwrap_or(std::slice::from_ref(&list)) {
                let paths: Vec<&Node> = match entry.get("path") {
                    Some(node) => node
                        .as_seq()
                        .map_or_else(|| vec![node], |items| items.iter().collect()),
                    None => vec![entry],
                };
                if entry.as_map().is_some() {
                    for (key, _) in entry.as_map().unwrap_or_default() {
                        if key.as_str() != Some("path") {
                            self.report.warn(
                                "stack::compose_unsupported",
                                key.span,
                                format!("`include.{}` is not mapped", key.as_str().unwrap_or("?")),
                                "the included file is read with the project's settings",
                            );
                        }
                    }
                }
                for node in paths {
                    let Some(relative) = node.as_str() else {
                        self.report.error(
                            "stack::compose_invalid",
                            node.span,
                            "`include` takes paths of Compose files",
                            "write `include: [other/compose.yaml]`",
                        );
                        continue;
                    };
                    let target = here.join(relative);
                    if including.contains(&absolute(&target)) {
                        self.report.error(
                            "stack::compose_invalid",
                            node.span,
                            format!("`{relative}` includes itself"),
                            "remove the include that closes the circle",
                        );
                        continue;
                    }
                    let target_dir = absolute(target.parent().unwrap_or(&here));
                    if let Some(other) = self.file(&target, &target_dir, including) {
                        tree = self.include(tree, other);
                    }
                }
            }
        }
        including.pop();
        self.dirs.entry(file).or_insert_with(|| base.to_path_buf());
        Some(tree)
    }

    fn parse(&mut self, path: &Path, base: &Path) -> Option<(FileId, Node)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                self.report.push_error(
                    Diagnostic::error("stack::io", format!("cannot read {}: {error}", path.display()))
                        .help("give the path of a Compose file (compose.yaml)"),
                );
                return None;
            }
        };
        let file = self.sources.add(path.display().to_string(), path, text.as_str());
        self.dirs.insert(file, base.to_path_buf());
        match yaml::parse(file, &text) {
            Ok(root) => Some((file, root)),
            Err(problems) => {
                self.report.errors.extend(problems);
                None
            }
        }
    }

    /// An included file's resources join the project; a name both define is an error.
    fn include(&mut self, tree: Node, other: Node) -> Node {
        let Yaml::Map(mut entries) = tree.value else {
            return tree;
        };
        for (key, value) in other.as_map().unwrap_or_default() {
            let Some(section) = entries.iter_mut().find(|(name, _)| same(name, key)) else {
                entries.push((key.clone(), value.clone()));
                continue;
            };
            let (Yaml::Map(mine), Some(theirs)) = (&mut section.1.value, value.as_map()) else {
                continue;
            };
            for (name, definition) in theirs {
                if let Some((existing, _)) = mine.iter().find(|(seen, _)| same(seen, name)) {
                    self.report.push_error(
                        Diagnostic::error(
                            "stack::compose_invalid",
                            format!(
                                "`{}` is defined by an included file too",
                                name.as_str().unwrap_or("?")
                            ),
                        )
                        .primary(name.span, "in the included file")
                        .secondary(existing.span, "already here")
                        .help("rename one of them: Compose refuses the same name from an include"),
                    );
                } else {
                    mine.push((name.clone(), definition.clone()));
                }
            }
        }
        Node {
            value: Yaml::Map(entries),
            span: tree.span,
        }
    }

    /// Replaces each service that `extends` another by the merge of both.
    fn extends(&mut self, root: &mut Node) {
        let Yaml::Map(entries) = &mut root.value else {
            return;
        };
        let Some((_, services)) = entries
            .iter_mut()
            .find(|(key, _)| key.as_str() == Some("services"))
        else {
            return;
        };
        let original = services.clone();
        let Yaml::Map(list) = &mut services.value else {
            return;
        };
        for (name, service) in list.iter_mut() {
            let name = name.as_str().unwrap_or_default().to_owned();
            *service = self.extended(&original, &name, service.clone(), &mut vec![name.clone()]);
        }
    }

    fn extended(&mut self, services: &Node, name: &str, service: Node, chain: &mut Vec<String>) -> Node {
        let Some(extends) = service.get("extends").cloned() else {
            return service;
        };
        let own = without(service, "extends");
        let (base_name, file) = match (&extends.value, extends.get("service")) {
            (Yaml::Scalar { text, .. }, _) => (text.clone(), None),
            (_, Some(base)) => (base.as_str().unwrap_or_default().to_owned(), extends.get("file")),
            _ => {
                self.report.error(
                    "stack::compose_invalid",
                    extends.span,
                    format!("`extends` of `{name}` names no service"),
                    "write `extends: base` or `extends: { service: base, file: common.yaml }`",
                );
                return own;
            }
        };
        let base = match file.and_then(Node::as_str) {
            Some(relative) => {
                let dir = self
                    .dirs
                    .get(&extends.span.file)
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from("."));
                let path = dir.join(relative);
                let own_dir = absolute(path.parent().unwrap_or(&dir));
                let Some((_, other)) = self.parse(&path, &own_dir) else {
                    return own;
                };
                let others = other.get("services").cloned().unwrap_or(Node::null(other.span));
                let Some(base) = others.get(&base_name).cloned() else {
                    return self.no_base(&extends, &base_name, own);
                };
                let mut chain = vec![format!("{relative}:{base_name}")];
                self.extended(&others, &base_name, base, &mut chain)
            }
            None => {
                if chain.contains(&base_name) {
                    self.report.error(
                        "stack::compose_invalid",
                        extends.span,
                        format!("`{name}` extends itself through {}", chain.join(" → ")),
                        "remove one `extends` of the circle",
                    );
                    return own;
                }
                let Some(base) = services.get(&base_name).cloned() else {
                    return self.no_base(&extends, &base_name, own);
                };
                chain.push(base_name.clone());
                self.extended(services, &base_name, base, chain)
            }
        };
        merge(base, own, None)
    }

    fn no_base(&mut self, extends: &Node, base: &str, own: Node) -> Node {
        self.report.error(
            "stack::compose_invalid",
            extends.span,
            format!("`extends` names the service `{base}`, which does not exist"),
            "name a service of this file, or give the file that defines it",
        );
        own
    }
}

fn without(node: Node, key: &str) -> Node {
    match node.value {
        Yaml::Map(entries) => Node {
            value: Yaml::Map(
                entries
                    .into_iter()
                    .filter(|(name, _)| name.as_str() != Some(key))
                    .collect(),
            ),
            span: node.span,
        },
        value => Node {
            value,
            span: node.span,
        },
    }
}

/// Compose's merge: mappings key by key, the lists of [`APPENDED`] fields
/// added up, `KEY=VALUE` lists by key, anything else replaced by `over`.
pub fn merge(base: Node, over: Node, key: Option<&str>) -> Node {
    let key_value = key.is_some_and(|key| KEY_VALUE.contains(&key));
    let base = if key_value { key_value_map(base) } else { base };
    let over = if key_value { key_value_map(over) } else { over };
    let (base, over) = if key == Some("depends_on") {
        (dependency_map(base), dependency_map(over))
    } else {
        (base, over)
    };
    match (base.value, over.value) {
        (Yaml::Map(mut entries), Yaml::Map(others)) => {
            for (name, value) in others {
                match entries.iter().position(|(seen, _)| same(seen, &name)) {
                    Some(at) => {
                        let (seen, old) = entries.remove(at);
                        let merged = merge(old, value, name.as_str());
                        entries.insert(at, (seen, merged));
                    }
                    None => entries.push((name, value)),
                }
            }
            Node {
                value: Yaml::Map(entries),
                span: over.span,
            }
        }
        (Yaml::Seq(mut items), Yaml::Seq(others)) if key.is_some_and(|key| APPENDED.contains(&key)) => {
            for item in others {
                if !items.iter().any(|seen| same(seen, &item)) {
                    items.push(item);
                }
            }
            Node {
                value: Yaml::Seq(items),
                span: over.span,
            }
        }
        (_, value) => Node {
            value,
            span: over.span,
        },
    }
}

/// `["A=1", "B"]` as the mapping `{A: "1", B: null}`.
pub fn key_value_map(node: Node) -> Node {
    let Yaml::Seq(items) = node.value else {
        return node;
    };
    let entries = items
        .into_iter()
        .map(|item| {
            let text = item.as_str().unwrap_or_default();
            let (key, value) = match text.split_once('=') {
                Some((key, value)) => (
                    key.to_owned(),
                    Node {
                        value: Yaml::Scalar {
                            text: value.to_owned(),
                            quoted: true,
                        },
                        span: value_span(item.span, key.len() + 1),
                    },
                ),
                None => (text.to_owned(), Node::null(item.span)),
            };
            (
                Node {
                    value: Yaml::Scalar {
                        text: key,
                        quoted: true,
                    },
                    span: item.span,
                },
                value,
            )
        })
        .collect();
    Node {
        value: Yaml::Map(entries),
        span: node.span,
    }
}

/// The span of the value part of a `KEY=VALUE` item.
fn value_span(item: Span, offset: usize) -> Span {
    let start = (item.start as usize + offset).min(item.end as usize);
    Span::new(item.file, start..item.end as usize)
}

/// `depends_on: [a]` as `{a: {condition: service_started}}`.
fn dependency_map(node: Node) -> Node {
    let Yaml::Seq(items) = node.value else {
        return node;
    };
    let entries = items
        .into_iter()
        .map(|item| (item.clone(), Node::null(item.span)))
        .collect();
    Node {
        value: Yaml::Map(entries),
        span: node.span,
    }
}

/// Two nodes that mean the same (positions aside).
fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Yaml::Null, Yaml::Null) => true,
        (Yaml::Scalar { text: x, .. }, Yaml::Scalar { text: y, .. }) => x == y,
        (Yaml::Seq(x), Yaml::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Yaml::Map(x), Yaml::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => false,
    }
}

/// `path` made absolute against the working directory, `.` and `..` folded.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
