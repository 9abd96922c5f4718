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

#[test]
fn dependents_of_a_job_wait_for_its_completion() {
    let stack = stack(
        r#"
job "migrate" {
    image "shop/migrations:1.0"
}
service "api" {
    image "shop/api"
    depends-on "job.migrate"
}
service "worker" {
    image "shop/worker"
    env {
        AFTER "${job.migrate}"
    }
}
service "db" {
    image "postgres:16-alpine"
}
service "web" {
    image "shop/web"
    depends-on "db"
}
"#,
    );
    let graph = ResourceGraph::build(&stack).expect("no cycle");
    let condition = |dependent: &str| {
        let address = stack_language::Address::new(&[], "service", dependent);
        graph
            .dependencies(&address)
            .iter()
            .map(|(_, need)| need.condition)
            .collect::<Vec<_>>()
    };
    assert_eq!(condition("api"), [stack_language::Condition::Completed]);
    assert_eq!(condition("worker"), [stack_language::Condition::Completed]);
    // A service is still ready once started.
    assert_eq!(condition("web"), [stack_language::Condition::Started]);
}
