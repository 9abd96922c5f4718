//! The resource graph: which resource needs which, and in what order they
//! can be created, as many at once as their dependencies allow.

mod render;

use std::collections::HashMap;

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use stack_diagnostics::{Diagnostic, Span};
use stack_language::{Address, Condition, Stack};

pub use render::Format;

/// An edge: the dependent needs the dependency, to this condition.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    pub condition: Condition,
    /// Where the dependent names the dependency.
    pub span: Span,
}

/// Resources and their dependencies; edges run from a dependency to its dependent.
#[derive(Debug)]
pub struct ResourceGraph {
    graph: DiGraph<Address, Need>,
    nodes: HashMap<Address, NodeIndex>,
}

impl ResourceGraph {
    /// Builds the graph of `stack`; a dependency cycle is an error that shows the whole cycle.
    pub fn build(stack: &Stack) -> Result<ResourceGraph, Vec<Diagnostic>> {
        let mut graph = DiGraph::new();
        let mut nodes = HashMap::new();
        for address in stack.resources.keys() {
            nodes.insert(address.clone(), graph.add_node(address.clone()));
        }
        for resource in stack.resources.values() {
            let dependent = nodes[&resource.address];
            for dependency in &resource.dependencies {
                if let Some(&target) = nodes.get(&dependency.target) {
                    graph.add_edge(
                        target,
                        dependent,
                        Need {
                            condition: dependency.condition,
                            span: dependency.span,
                        },
                    );
                }
            }
        }
        let resource_graph = ResourceGraph { graph, nodes };
        let cycles = resource_graph.cycles();
        if cycles.is_empty() {
            Ok(resource_graph)
        } else {
            Err(cycles)
        }
    }

    fn cycles(&self) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for component in tarjan_scc(&self.graph) {
            let looped = component.len() > 1 || self.graph.find_edge(component[0], component[0]).is_some();
            if looped {
                problems.push(self.cycle_diagnostic(&component));
            }
        }
        problems
    }

    /// Walks one cycle inside a strongly connected component and describes it.
    fn cycle_diagnostic(&self, component: &[NodeIndex]) -> Diagnostic {
        let start = *component
            .iter()
            .min_by_key(|node| node.index())
            .unwrap_or(&component[0]);
        let mut path = vec![start];
        let mut edges = Vec::new();
        let mut current = start;
        loop {
            // Follow "needs" backwards: from a dependent to one of its dependencies in the cycle.
            let next = self
                .graph
                .edges_directed(current, Direction::Incoming)
                .filter(|edge| component.contains(&edge.source()))
                .min_by_key(|edge| {
                    let seen = path.contains(&edge.source()) && edge.source() != start;
                    (seen, edge.source().index())
                });
            let Some(edge) = next else { break };
            edges.push(*edge.weight());
            current = edge.source();
            if current == start || path.contains(&current) {
                path.push(current);
                break;
            }
            path.push(current);
        }
        let names: Vec<String> = path.iter().map(|node| self.graph[*node].to_string()).collect();
        let mut diagnostic = Diagnostic::error(
            "stack::dependency_cycle",
            format!("dependency cycle: {}", names.join(" → ")),
        );
        for (index, need) in edges.iter().enumerate() {
            let label = format!("{} needs {}", names[index], names[index + 1]);
            diagnostic = if index == 0 {
                diagnostic.primary(need.span, label)
            } else {
                diagnostic.secondary(need.span, label)
            };
        }
        diagnostic.help("resources cannot wait for each other: remove one of these dependencies")
    }

    /// The resources in layers: each layer needs only earlier ones, so all of
    /// a layer can be created at once. Within a layer, file order.
    pub fn layers(&self) -> Vec<Vec<&Address>> {
        let mut depth: HashMap<NodeIndex, usize> = HashMap::new();
        let order = petgraph::algo::toposort(&self.graph, None).unwrap_or_default();
        for &node in &order {
            let level = self
                .graph
                .edges_directed(node, Direction::Incoming)
                .map(|edge| depth.get(&edge.source()).map_or(0, |d| d + 1))
                .max()
                .unwrap_or(0);
            depth.insert(node, level);
        }
        let count = depth.values().max().map_or(0, |max| max + 1);
        let mut layers: Vec<Vec<&Address>> = vec![Vec::new(); count];
        for node in self.graph.node_indices() {
            if let Some(&level) = depth.get(&node) {
                layers[level].push(&self.graph[node]);
            }
        }
        layers
    }

    /// What `address` needs, in file order of the declaration.
    pub fn dependencies(&self, address: &Address) -> Vec<(&Address, Need)> {
        self.neighbours(address, Direction::Incoming)
    }

    /// What needs `address`.
    pub fn dependents(&self, address: &Address) -> Vec<(&Address, Need)> {
        self.neighbours(address, Direction::Outgoing)
    }

    fn neighbours(&self, address: &Address, direction: Direction) -> Vec<(&Address, Need)> {
        let Some(&node) = self.nodes.get(address) else {
            return Vec::new();
        };
        let mut found: Vec<(NodeIndex, Need)> = self
            .graph
            .edges_directed(node, direction)
            .map(|edge| {
                let other = if direction == Direction::Incoming {
                    edge.source()
                } else {
                    edge.target()
                };
                (other, *edge.weight())
            })
            .collect();
        found.sort_by_key(|(other, _)| other.index());
        found
            .into_iter()
            .map(|(other, need)| (&self.graph[other], need))
            .collect()
    }

    /// Every resource, in file order.
    pub fn resources(&self) -> impl Iterator<Item = &Address> {
        self.graph.node_indices().map(|node| &self.graph[node])
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
}
