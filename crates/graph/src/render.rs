//! Renderings of the graph a reviewer can paste into a pull request.

use std::fmt::Write;

use stack_language::{Address, Condition};

use crate::ResourceGraph;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Layers and dependencies as indented text.
    Text,
    /// Graphviz.
    Dot,
    /// A Mermaid flowchart (GitHub and GitLab render it in Markdown).
    Mermaid,
}

impl ResourceGraph {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Dot => self.dot(),
            Format::Mermaid => self.mermaid(),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for (index, layer) in self.layers().iter().enumerate() {
            let _ = writeln!(out, "layer {} ({} at once)", index + 1, layer.len());
            for address in layer {
                let _ = writeln!(out, "  {address}");
                for (dependency, need) in self.dependencies(address) {
                    let _ = writeln!(out, "    needs {dependency}{}", condition_suffix(need.condition));
                }
            }
        }
        out
    }

    fn dot(&self) -> String {
        let mut out = String::from("digraph stack {\n  rankdir=LR;\n  node [shape=box];\n");
        for address in self.resources() {
            let _ = writeln!(out, "  \"{address}\";");
        }
        for address in self.resources() {
            for (dependency, need) in self.dependencies(address) {
                let label = match need.condition {
                    Condition::Exists => String::new(),
                    condition => format!(" [label=\"{}\"]", condition.as_str()),
                };
                let _ = writeln!(out, "  \"{address}\" -> \"{dependency}\"{label};");
            }
        }
        out.push_str("}\n");
        out
    }

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for address in self.resources() {
            let _ = writeln!(out, "  {}[\"{address}\"]", mermaid_id(address));
        }
        for address in self.resources() {
            for (dependency, need) in self.dependencies(address) {
                let arrow = match need.condition {
                    Condition::Exists => "-->".to_owned(),
                    condition => format!("-->|{}|", condition.as_str()),
                };
                let _ = writeln!(
                    out,
                    "  {} {arrow} {}",
                    mermaid_id(address),
                    mermaid_id(dependency)
                );
            }
        }
        out
    }
}

fn condition_suffix(condition: Condition) -> String {
    match condition {
        Condition::Exists => String::new(),
        condition => format!(" ({})", condition.as_str()),
    }
}

/// Mermaid node ids allow letters, digits and `_` only.
fn mermaid_id(address: &Address) -> String {
    address
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
