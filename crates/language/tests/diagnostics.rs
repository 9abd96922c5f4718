//! Every fixture under `fixtures/invalid` is a stack with mistakes; its
//! rendered diagnostics are snapshots, so reviewing a snapshot diff is
//! reviewing what a user sees. Fixtures under `fixtures/valid` must validate.

use std::path::Path;

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
