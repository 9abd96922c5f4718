//! Arbitrary and mutated stack files, through the whole pipeline: loading,
//! evaluation and checks never panic, whatever the input.

use std::path::Path;

use proptest::prelude::*;
use stack_diagnostics::Sources;
use stack_language::{Options, schema, validate};

/// A realistic stack to mutate: every kind, overlays, variables, interpolation.
const SEED: &str = include_str!("fixtures/valid/full.kdl");

/// Pieces that matter to the grammar and the checks.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "\"",
    "${",
    "}\"",
    "=",
    ";",
    "\n",
    "/-",
    "/*",
    "*/",
    "//",
    "#true",
    "#null",
    "(t)",
    "\\",
    "0x1f",
    "\"${var.replicas}\"",
    "\"${service.api}\"",
    "\"${module.x.y}\"",
    "\"${secret.api-token}\"",
    "service \"api\"",
    "overlay \"production\" {",
    "use \"stdlib/redis\" as=\"r\" {",
    "depends-on \"api\"",
    "network \"backend\"",
    "port 8080",
    "replicas -1",
    "subnet \"0.0.0.0/0\"",
    "é",
    "\u{feff}",
    "#\"raw\"#",
    "\"\"\"\nx\n\"\"\"",
];

fn check(dir: &Path, text: &[u8]) {
    std::fs::write(dir.join("stack.kdl"), text).expect("a test file");
    let mut sources = Sources::new();
    let validated = validate(dir, &Options::default(), &schema::builtin(), &mut sources);
    // Rendering must not panic either: spans must fit their files.
    let _ = stack_diagnostics::render(
        &validated.diagnostics,
        &sources,
        stack_diagnostics::RenderOptions::plain(),
    );
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, fragment: usize },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
    Flip { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..40_usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(at, fragment)| Mutation::Insert { at, fragment }),
        (any::<usize>(), 1..200_usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
    ]
}

fn apply(text: &mut Vec<u8>, mutation: &Mutation) {
    let len = text.len().max(1);
    match *mutation {
        Mutation::Delete { at, len: count } => {
            let start = at % len;
            let end = (start + count).min(text.len());
            text.drain(start.min(end)..end);
        }
        Mutation::Insert { at, fragment } => {
            let at = (at % len).min(text.len());
            text.splice(at..at, FRAGMENTS[fragment].bytes());
        }
        Mutation::Duplicate { at, len: count } => {
            let start = (at % len).min(text.len());
            let end = (start + count).min(text.len());
            let copy = text[start..end].to_vec();
            text.splice(end..end, copy);
        }
        Mutation::Truncate { at } => text.truncate(at % len),
        Mutation::Flip { at, byte } => {
            let at = at % len;
            if let Some(slot) = text.get_mut(at) {
                *slot = byte;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_stacks_never_panic(mutations in proptest::collection::vec(mutation(), 1..8)) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut text = SEED.as_bytes().to_vec();
        for mutation in &mutations {
            apply(&mut text, mutation);
        }
        check(dir.path(), &text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(text in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        check(dir.path(), &text);
    }

    #[test]
    fn arbitrary_fragments_never_panic(pieces in proptest::collection::vec(0..FRAGMENTS.len(), 0..60)) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let text: String = pieces.iter().map(|&piece| FRAGMENTS[piece]).collect::<Vec<_>>().join(" ");
        check(dir.path(), text.as_bytes());
    }
}
