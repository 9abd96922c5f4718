//! The stack file being written: nodes, values and comments, printed as KDL v2
//! and then laid out by `stack fmt`'s formatter.

/// A value as it is written in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A string; its text is a template already (`${...}` means interpolation).
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A file mode, written in octal: `0o440`.
    Mode(u32),
}

impl Val {
    pub fn str(text: impl Into<String>) -> Val {
        Val::Str(text.into())
    }

    /// Literal text, with `${` escaped so that it stays text.
    pub fn literal(text: &str) -> Val {
        Val::Str(escape_template(text))
    }
}

/// Literal text as a stack string: `${` is written `$${`.
pub fn escape_template(text: &str) -> String {
    text.replace("${", "$${")
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Node(Node),
    Comment(String),
    Blank,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub args: Vec<Val>,
    pub props: Vec<(String, Val)>,
    pub children: Vec<Item>,
    /// A block `{}` is written even when empty (a map with no entries never is).
    pub block: bool,
}

impl Node {
    pub fn new(name: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            args: Vec::new(),
            props: Vec::new(),
            children: Vec::new(),
            block: false,
        }
    }

    pub fn arg(mut self, value: Val) -> Node {
        self.args.push(value);
        self
    }

    pub fn args(mut self, values: impl IntoIterator<Item = Val>) -> Node {
        self.args.extend(values);
        self
    }

    pub fn prop(mut self, key: &str, value: Val) -> Node {
        self.props.push((key.to_owned(), value));
        self
    }

    pub fn push(&mut self, node: Node) {
        self.children.push(Item::Node(node));
    }

    pub fn comment(&mut self, text: impl Into<String>) {
        self.children.push(Item::Comment(text.into()));
    }

    pub fn has_nodes(&self) -> bool {
        self.children.iter().any(|item| matches!(item, Item::Node(_)))
    }
}

/// The text of a file of top-level items.
pub fn render(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        write_item(item, 0, &mut out);
    }
    out
}

fn write_item(item: &Item, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    match item {
        Item::Blank => out.push('\n'),
        Item::Comment(text) => {
            for line in text.lines() {
                out.push_str(&indent);
                out.push_str("//");
                if !line.is_empty() {
                    out.push(' ');
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Item::Node(node) => {
            out.push_str(&indent);
            out.push_str(&key(&node.name));
            for value in &node.args {
                out.push(' ');
                write_value(value, out);
            }
            for (name, value) in &node.props {
                out.push(' ');
                out.push_str(&key(name));
                out.push('=');
                write_value(value, out);
            }
            if node.children.is_empty() && !node.block {
                out.push('\n');
                return;
            }
            out.push_str(" {\n");
            for child in &node.children {
                write_item(child, depth + 1, out);
            }
            out.push_str(&indent);
            out.push_str("}\n");
        }
    }
}

fn write_value(value: &Val, out: &mut String) {
    match value {
        Val::Str(text) => out.push_str(&quote(text)),
        Val::Int(number) => out.push_str(&number.to_string()),
        Val::Float(number) => {
            let text = number.to_string();
            out.push_str(&text);
            if !text.contains(['.', 'e', 'E']) {
                out.push_str(".0");
            }
        }
        Val::Bool(flag) => out.push_str(if *flag { "#true" } else { "#false" }),
        Val::Mode(mode) => out.push_str(&format!("0o{mode:o}")),
    }
}

/// A node name or property key: bare when KDL allows, else quoted.
fn key(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(name, "true" | "false" | "null" | "inf" | "nan");
    if bare { name.to_owned() } else { quote(name) }
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys_are_quoted_when_kdl_needs_it() {
        let mut env = Node::new("env");
        env.push(Node::new("com.example/team").arg(Val::str("a \"b\"\\")));
        env.push(Node::new("PORT").arg(Val::str("8000")));
        let mut service = Node::new("service").arg(Val::str("api"));
        service.push(env);
        service.push(Node::new("port").arg(Val::Int(80)).prop("target", Val::Int(8080)));
        service.comment("kept");
        service.push(Node::new("init").arg(Val::Bool(true)));
        service.push(Node::new("cpus").arg(Val::Float(2.0)));
        let text = render(&[Item::Node(service)]);
        assert_eq!(
            text,
            "service \"api\" {\n    env {\n        \"com.example/team\" \"a \\\"b\\\"\\\\\"\n        PORT \"8000\"\n    }\n    port 80 target=8080\n    // kept\n    init #true\n    cpus 2.0\n}\n"
        );
    }

    #[test]
    fn literal_text_escapes_interpolation() {
        assert_eq!(Val::literal("echo ${HOME}"), Val::str("echo $${HOME}"));
    }
}
