//! The merged Compose project mapped onto stack resources.
//!
//! Every key of the Compose file is either mapped or reported: a warning that
//! points at it, and a comment at its place in the stack file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use stack_diagnostics::{FileId, Sources, Span};

use crate::kdl::{Item, Node, Val};
use crate::load::Project;
use crate::report::Report;
use crate::vars::Vars;
use crate::yaml::{self, Yaml};
use crate::{resources, service};

/// What the mapping of one project needs to know and collects.
pub struct Cx<'a> {
    pub sources: &'a Sources,
    pub report: Report,
    pub vars: Vars,
    dirs: &'a HashMap<FileId, PathBuf>,
    out_dir: PathBuf,
    /// Compose name → stack name, per kind.
    pub services: IndexMap<String, String>,
    pub networks: IndexMap<String, String>,
    pub volumes: IndexMap<String, String>,
    pub secrets: IndexMap<String, String>,
    /// Config name → the file it holds, as a path in the stack.
    pub configs: HashMap<String, String>,
    /// Services others wait for until they complete: they run once.
    pub one_shots: HashSet<String>,
    /// Services that have a health check in the Compose file.
    pub healthy: HashSet<String>,
    /// Resources the services need beside their own: images, anonymous volumes.
    pub images: Vec<Item>,
    pub extra_volumes: Vec<Item>,
    /// Some service joins Compose's `default` network.
    pub default_network: bool,
    pub home_used: bool,
}

impl<'a> Cx<'a> {
    pub fn new(sources: &'a Sources, project: &'a Project, vars: Vars, out_dir: PathBuf) -> Cx<'a> {
        Cx {
            sources,
            report: Report::default(),
            vars,
            dirs: &project.dirs,
            out_dir,
            services: IndexMap::new(),
            networks: IndexMap::new(),
            volumes: IndexMap::new(),
            secrets: IndexMap::new(),
            configs: HashMap::new(),
            one_shots: HashSet::new(),
            healthy: HashSet::new(),
            images: Vec::new(),
            extra_volumes: Vec::new(),
            default_network: false,
            home_used: false,
        }
    }

    /// `file:line` of a span, for comments.
    pub fn place(&self, span: Span) -> String {
        let file = self.sources.get(span.file);
        let line = file
            .text()
            .get(..span.start as usize)
            .map_or(1, |before| before.matches('\n').count() + 1);
        let name = Path::new(file.name()).file_name().map_or_else(
            || file.name().to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        format!("{name}:{line}")
    }

    /// A field that has no equivalent: a warning at the Compose key, and a
    /// comment where it would have gone.
    pub fn unmapped(&mut self, into: &mut Node, key: &yaml::Node, field: &str, why: &str) {
        let place = self.place(key.span);
        into.comment(format!("{place}: `{field}` is not imported: {why}"));
        self.report.warn(
            "stack::compose_unsupported",
            key.span,
            format!("`{field}` is not imported"),
            why.to_owned(),
        );
    }

    /// A scalar as stack text, with variables; `None` for lists and mappings.
    pub fn text(&mut self, node: &yaml::Node, sensitive: bool) -> Option<String> {
        let text = node.as_str()?;
        Some(self.vars.template(text, node.span, sensitive, &mut self.report))
    }

    /// A scalar with its variables resolved, for fields that take none.
    pub fn fixed(&mut self, node: &yaml::Node) -> Option<String> {
        let text = node.as_str()?;
        Some(self.vars.resolve(text, node.span, &mut self.report))
    }

    /// Reports that `node` does not have the shape `field` takes.
    pub fn invalid(&mut self, node: &yaml::Node, field: &str, expected: &str) {
        self.report.error(
            "stack::compose_invalid",
            node.span,
            format!("`{field}` takes {expected}, not {}", node.describe()),
            format!("write {expected}, as the Compose specification says"),
        );
    }

    /// A path written in the Compose file (relative to its directory) as a
    /// path in the stack (relative to the stack's directory).
    pub fn path(&mut self, node: &yaml::Node, text: &str) -> String {
        if text.starts_with("${") || text.starts_with('/') {
            return text.to_owned();
        }
        if let Some(rest) = text
            .strip_prefix("~/")
            .or(if text == "~" { Some("") } else { None })
        {
            self.home_used = true;
            return format!("${{var.home}}/{rest}").trim_end_matches('/').to_owned();
        }
        let base = self
            .dirs
            .get(&node.span.file)
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        relative_to(&self.out_dir, &crate::load::absolute(&base.join(text)))
    }

    /// The directory a file was written in (env files are read from there).
    pub fn dir_of(&self, node: &yaml::Node) -> PathBuf {
        self.dirs
            .get(&node.span.file)
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// `target` as a path relative to `dir`, both absolute.
pub fn relative_to(dir: &Path, target: &Path) -> String {
    let from: Vec<_> = dir.components().collect();
    let to: Vec<_> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_owned(), from.len() - common).collect();
    parts.extend(
        to[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        return ".".to_owned();
    }
    let joined = parts.join("/");
    if joined.starts_with("..") {
        joined
    } else {
        format!("./{joined}")
    }
}

/// A Compose name as a stack name: lowercase, `.` and other characters as `-`.
pub fn stack_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            _ => '-',
        })
        .collect();
    name.trim_start_matches(['-', '_']).to_owned()
}

/// The top-level keys Compose has and this importer reads.
const SECTIONS: &[&str] = &[
    "services", "networks", "volumes", "secrets", "configs", "name", "version",
];

/// The stack's items, in the order a person would write them.
pub fn convert(cx: &mut Cx, project: &Project, name: &str, origin: &str) -> Vec<Item> {
    let root = &project.root;
    let mut top = Node::new("top");
    for (key, _) in root.as_map().unwrap_or_default() {
        let Some(field) = key.as_str() else { continue };
        if !SECTIONS.contains(&field) && !field.starts_with("x-") {
            cx.unmapped(
                &mut top,
                key,
                field,
                "not a Compose top-level key this importer knows",
            );
        }
    }
    let section = |key: &str| root.get(key).cloned().unwrap_or(yaml::Node::null(root.span));
    let services = section("services");
    for (key, definition) in services.as_map().unwrap_or_default() {
        let Some(service) = key.as_str() else { continue };
        cx.services.insert(service.to_owned(), stack_name(service));
        if definition
            .get("healthcheck")
            .is_some_and(|check| !service::disabled(check))
        {
            cx.healthy.insert(service.to_owned());
        }
        cx.one_shots.extend(service::completed_targets(definition));
    }
    if !services.is_null() && services.as_map().is_none() {
        cx.invalid(&services, "services", "a mapping of service names to services");
    }
    let networks = resources::networks(cx, &section("networks"), name);
    let volumes = resources::volumes(cx, &section("volumes"), name);
    let secrets = resources::secrets(cx, &section("secrets"));
    resources::configs(cx, &section("configs"));
    let mut service_items = Vec::new();
    for (key, definition) in services.as_map().unwrap_or_default() {
        if key.as_str().is_some() {
            service_items.push(Item::Blank);
            service_items.push(Item::Node(service::service(cx, key, definition)));
        }
    }

    let mut items = vec![
        Item::Comment(format!(
            "Imported from {origin} by `stack import compose`. Check the comments\nmarked \"not imported\": Compose settings a stack does not carry over."
        )),
        Item::Blank,
        Item::Node(Node::new("stack").arg(Val::str(name))),
    ];
    items.extend(
        top.children
            .into_iter()
            .filter(|item| matches!(item, Item::Comment(_))),
    );
    if cx.home_used {
        // Compose expands `~` when it runs; a stack takes the home directory as a variable.
        let home = Node::new("variable")
            .arg(Val::str("home"))
            .prop("type", Val::str("string"))
            .prop(
                "description",
                Val::str("the home directory that `~` meant in the Compose file"),
            );
        cx.vars_first(home);
    }
    let variables = cx.vars.items();
    if !variables.is_empty() {
        items.push(Item::Blank);
        items.extend(variables);
    }
    if cx.default_network {
        items.push(Item::Blank);
        items.push(Item::Comment(
            "Compose puts services that name no network on the project's `default` network.".to_owned(),
        ));
        items.push(Item::Node(Node::new("network").arg(Val::str("default"))));
    }
    for group in [
        networks,
        volumes,
        std::mem::take(&mut cx.extra_volumes),
        secrets,
        std::mem::take(&mut cx.images),
    ] {
        // A blank line before each resource, and before the comment that introduces one.
        let mut introduced = false;
        for item in group {
            if !introduced {
                items.push(Item::Blank);
            }
            introduced = matches!(item, Item::Comment(_));
            items.push(item);
        }
    }
    items.extend(service_items);
    items
}

impl Cx<'_> {
    /// Puts a declaration the importer adds itself before the Compose variables.
    fn vars_first(&mut self, node: Node) {
        self.vars.prepend(node);
    }
}

/// Compose's own rule for project names: lowercase letters, digits, `-` and `_`.
pub fn project_name(raw: &str) -> String {
    raw.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect::<String>()
        .trim_start_matches(['-', '_'])
        .to_owned()
}

/// A boolean field, or an error when it is something else.
pub fn flag(cx: &mut Cx, node: &yaml::Node, field: &str) -> Option<bool> {
    let value = node.as_bool();
    if value.is_none() {
        cx.invalid(node, field, "true or false");
    }
    value
}

/// A list of strings, or one string as a list of one.
pub fn strings(node: &yaml::Node) -> Vec<&yaml::Node> {
    match &node.value {
        Yaml::Seq(items) => items.iter().collect(),
        Yaml::Null => Vec::new(),
        _ => vec![node],
    }
}
