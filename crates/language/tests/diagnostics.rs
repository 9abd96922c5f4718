//! Every fixture under `fixtures/invalid` is a stack with mistakes; its
//! rendered diagnostics are snapshots, so reviewing a snapshot diff is
//! reviewing what a user sees. Fixtures under `fixtures/valid` must validate.

use std::path::Path;

use stack_language::{Inputs, Target, load};

use stack_diagnostics::{RenderOptions, Sources, render};
use stack_language::{Options, schema, validate};

fn check(path: &Path) -> (String, bool) {
    let mut sources = Sources::new();
    let diagnostics = validate(path, &Options::default(), &schema::builtin(), &mut sources).diagnostics;
    (
        render(&diagnostics, &sources, RenderOptions::plain()),
        diagnostics.has_errors(),
    )
}

#[test]
fn invalid_stacks_report_every_mistake() {
    insta::glob!("fixtures/invalid/*", |path| {
        let (rendered, has_errors) = check(path);
        assert!(has_errors, "{} should not validate", path.display());
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn valid_stacks_validate() {
    insta::glob!("fixtures/valid/*", |path| {
        let (rendered, has_errors) = check(path);
        assert!(!has_errors, "{} should validate:\n{rendered}", path.display());
    });
}

/// Stacks that are valid but will hurt: each warning, and none that a comment allows.
#[test]
fn risky_stacks_validate_with_warnings() {
    insta::glob!("fixtures/warnings/*", |path| {
        let (rendered, has_errors) = check(path);
        assert!(!has_errors, "{} should validate:\n{rendered}", path.display());
        insta::assert_snapshot!(rendered);
    });
}

/// What plan and apply add: every variable needs a value, and `--env` must name an overlay.
#[test]
fn plan_requires_values_and_a_declared_environment() {
    let path = Path::new("tests/fixtures/plan/stack.kdl");
    let render_with = |options: &Options| {
        let mut sources = Sources::new();
        let loaded = load(path, options, &schema::builtin(), &mut sources);
        assert!(loaded.stack.is_none());
        render(&loaded.diagnostics, &sources, RenderOptions::plain())
    };
    let required = Options {
        require_values: true,
        inputs: Inputs::default(),
        ..Options::default()
    };
    insta::assert_snapshot!("variable_unset", render_with(&required));
    let unknown_environment = Options {
        environment: Some("prod".to_owned()),
        ..Options::default()
    };
    insta::assert_snapshot!("unknown_environment", render_with(&unknown_environment));
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("file_too_large");
    std::fs::create_dir_all(&dir).expect("a directory for the test");
    let service = "service \"s\" {\n    image \"x\"\n}\n";
    std::fs::write(
        dir.join("stack.kdl"),
        service.repeat(9 * 1024 * 1024 / service.len()),
    )
    .expect("a big file");
    let mut sources = Sources::new();
    let validated = validate(&dir, &Options::default(), &schema::builtin(), &mut sources);
    let only_errors: Vec<_> = validated.diagnostics.iter().collect();
    let rendered = render(only_errors, &sources, RenderOptions::plain());
    let rendered = rendered.replace(&dir.display().to_string(), "[dir]");
    insta::assert_snapshot!(rendered);
}

/// `target "swarm"` in an overlay is the target of the environments it names; the base and the
/// environments whose overlays say nothing have none (the command line's, else the engine).
#[test]
fn the_overlays_of_an_environment_choose_its_target() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("stack.kdl");
    std::fs::write(
        &path,
        "service \"api\" {\n    image \"shop/api:1\"\n}\n\n\
         overlay \"production\" \"staging\" {\n    target \"swarm\"\n}\n\n\
         overlay \"production\" {\n    target \"swarm\"\n    service \"api\" {\n        replicas 3\n    }\n}\n\n\
         overlay \"dev\" {\n    service \"api\" {\n        replicas 1\n    }\n}\n",
    )
    .expect("the stack file is written");
    let target = |environment: Option<&str>| {
        let options = Options {
            environment: environment.map(str::to_owned),
            ..Options::default()
        };
        let mut sources = Sources::new();
        let loaded = load(&path, &options, &schema::builtin(), &mut sources);
        let stack = loaded.stack.unwrap_or_else(|| {
            panic!(
                "{}",
                render(&loaded.diagnostics, &sources, RenderOptions::plain())
            )
        });
        stack.target
    };
    assert_eq!(target(Some("production")), Some(Target::Swarm));
    assert_eq!(target(Some("staging")), Some(Target::Swarm));
    assert_eq!(target(Some("dev")), None);
    assert_eq!(target(None), None);
    assert_eq!(Target::default(), Target::Engine);
}

/// On a swarm a volume is one per node: replicas that may run on several nodes are warned that
/// they do not share it, whether the command line or the environment's overlay chose the swarm;
/// on one engine they do share it.
#[test]
fn replicas_on_a_swarm_are_warned_that_they_do_not_share_a_volume() {
    let path = Path::new("tests/fixtures/swarm/stack.kdl");
    let warnings = |options: &Options| {
        let mut sources = Sources::new();
        let loaded = load(path, options, &schema::builtin(), &mut sources);
        assert!(!loaded.diagnostics.has_errors());
        render(&loaded.diagnostics, &sources, RenderOptions::plain())
    };
    let on_a_swarm = warnings(&Options {
        target: Some(Target::Swarm),
        ..Options::default()
    });
    insta::assert_snapshot!(on_a_swarm);
    let by_the_overlay = warnings(&Options {
        environment: Some("cluster".to_owned()),
        ..Options::default()
    });
    assert_eq!(by_the_overlay, on_a_swarm);
    assert_eq!(warnings(&Options::default()), "");
    let engine_wins = warnings(&Options {
        environment: Some("cluster".to_owned()),
        target: Some(Target::Engine),
        ..Options::default()
    });
    assert_eq!(engine_wins, "");
}
