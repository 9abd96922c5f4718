//! The graph of stacks read from files, as the CLI builds it.

use stack_diagnostics::Sources;
use stack_graph::ResourceGraph;
use stack_language::{Options, Stack, load, schema};

fn stack(source: &str) -> Stack {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("stack.kdl"), source).expect("stack.kdl");
    let mut sources = Sources::new();
    let loaded = load(dir.path(), &Options::default(), &schema::builtin(), &mut sources);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    loaded.stack.expect("a valid stack")
}

fn names(layer: &[&stack_language::Address]) -> Vec<String> {
    layer.iter().map(ToString::to_string).collect()
}

#[test]
fn independent_resources_share_a_layer() {
    let graph = ResourceGraph::build(&stack(
        r#"
network "backend"
volume "data"
service "db" {
    image "postgres:16-alpine"
    network "backend"
    volume "data" target="/var/lib/postgresql/data"
}
service "api" {
    image "shop/api"
    network "backend"
    depends-on "db"
}
service "docs" {
    image "shop/docs"
}
"#,
    ))
    .expect("no cycle");
    let layers = graph.layers();
    assert_eq!(
        names(&layers[0]),
        ["network.backend", "volume.data", "service.docs"]
    );
    assert_eq!(names(&layers[1]), ["service.db"]);
    assert_eq!(names(&layers[2]), ["service.api"]);
}

#[test]
fn reading_a_module_output_depends_on_what_it_exposes() {
    let graph = ResourceGraph::build(&stack(
        r#"
network "backend"
secret "db-password" {
    from-env "DB_PASSWORD"
}
use "stdlib/postgres" as="db" {
    network "backend"
    password "db-password"
}
service "api" {
    image "shop/api"
    env {
        DATABASE_URL "${module.db.url}"
    }
}
"#,
    ))
    .expect("no cycle");
    let api = stack_language::Address::new(&[], "service", "api");
    let needs: Vec<String> = graph
        .dependencies(&api)
        .iter()
        .map(|(address, _)| address.to_string())
        .collect();
    assert_eq!(needs, ["module.db.service.postgres"]);
}
