//! The structural check against kdl itself: it never rejects a text kdl
//! accepts, and junk of any size never reaches kdl.
//!
//! The property checked on every text below: when kdl accepts the text,
//! `parse` reports no `stack::syntax` problem (but the chained `/-`, which
//! the lexical checks reject on purpose, and what the KDL v2 specification
//! rejects although kdl accepts it). In other words, whatever the checks find,
//! kdl rejects too. kdl is only called on texts of a few kilobytes.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use stack_diagnostics::{Diagnostic, Sources};
use stack_syntax::lexer::{TokenKind, tokenize};
use support::kdl_v2::kdl_v2_forbids;

mod support {
    pub mod kdl_v2;
}

/// kdl is only given texts shorter than this: on junk it recurses once per error.
const KDL_INPUT_LIMIT: usize = 2048;

fn parse(text: &str) -> stack_syntax::Parsed {
    let file = Sources::new().add("stack.kdl", "stack.kdl", text);
    stack_syntax::parse(file, text)
}

/// The syntax problems found in a text, but the chained `/-` that kdl takes.
fn syntax_problems(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.code == "stack::syntax" && !d.message.contains("followed by another `/-`"))
        .collect()
}

/// The property: a text kdl accepts gets no syntax problem, unless the KDL v2 specification
/// rejects it (see [`kdl_v2_forbids`]).
fn never_rejects_what_kdl_accepts(text: &str) -> Result<(), TestCaseError> {
    if text.len() >= KDL_INPUT_LIMIT || kdl::KdlDocument::parse_v2(text).is_err() || kdl_v2_forbids(text) {
        return Ok(());
    }
    let parsed = parse(text);
    let problems = syntax_problems(&parsed.diagnostics);
    prop_assert!(problems.is_empty(), "kdl accepts {text:?}, but: {problems:#?}");
    Ok(())
}

/// Every text of up to `STRUCTURE_EXHAUSTIVE_LENGTH` (4 unless set) pieces
/// from a small alphabet of KDL's punctuation and words.
#[test]
fn every_short_sequence_of_tokens() {
    const ALPHABET: [&str; 14] = [
        "a", "1", "#true", " ", "\n", "=", "(", ")", "{", "}", ";", "/-", "\\", "\"s\"",
    ];
    let length: u32 = std::env::var("STRUCTURE_EXHAUSTIVE_LENGTH")
        .ok()
        .and_then(|length| length.parse().ok())
        .unwrap_or(4);
    let mut rejected = 0;
    let mut total = 0;
    for length in 1..=length {
        for mut index in 0..ALPHABET.len().pow(length) {
            let mut text = String::new();
            for _ in 0..length {
                text += ALPHABET[index % ALPHABET.len()];
                index /= ALPHABET.len();
            }
            let kdl_accepts = kdl::KdlDocument::parse_v2(&text).is_ok();
            let parsed = parse(&text);
            let problems = syntax_problems(&parsed.diagnostics);
            assert!(
                !kdl_accepts || problems.is_empty(),
                "kdl accepts {text:?}, but: {problems:#?}"
            );
            total += 1;
            if !kdl_accepts {
                rejected += 1;
            }
        }
    }
    assert!(rejected > total / 2, "the alphabet makes too few invalid texts");
}

/// Every multi-line string whose lines are up to `STRUCTURE_EXHAUSTIVE_LENGTH`
/// (5 unless set) characters from a small alphabet: kdl's rules for their
/// indentation, blank lines and escaped newlines are intricate.
#[test]
fn every_short_multi_line_string() {
    const ALPHABET: [&str; 6] = ["x", " ", "\n", "\\", "\"", "\t"];
    let length: u32 = std::env::var("STRUCTURE_EXHAUSTIVE_LENGTH")
        .ok()
        .and_then(|length| length.parse::<u32>().ok())
        .map_or(5, |length| length + 1);
    let mut accepted = 0;
    for length in 0..=length {
        for mut index in 0..ALPHABET.len().pow(length) {
            let mut body = String::new();
            for _ in 0..length {
                body += ALPHABET[index % ALPHABET.len()];
                index /= ALPHABET.len();
            }
            for text in [
                format!("a \"\"\"\n{body}\"\"\""),
                format!("a #\"\"\"\n{body}\"\"\"#"),
            ] {
                if kdl::KdlDocument::parse_v2(&text).is_ok() {
                    accepted += 1;
                    let parsed = parse(&text);
                    let problems = syntax_problems(&parsed.diagnostics);
                    assert!(problems.is_empty(), "kdl accepts {text:?}, but: {problems:#?}");
                }
            }
        }
    }
    assert!(accepted > 1000, "only {accepted} valid strings");
}

fn pick(choices: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(choices).prop_map(str::to_owned)
}

fn space() -> impl Strategy<Value = String> + Clone {
    pick(&[" ", " ", " ", "\t", "  ", "\u{3000}", "\u{A0}"])
}

fn newline() -> impl Strategy<Value = String> + Clone {
    pick(&[
        "\n", "\n", "\n", "\r\n", "\r", "\u{85}", "\u{2028}", "\u{2029}", "\u{B}", "\u{C}",
    ])
}

fn block_comment() -> impl Strategy<Value = String> + Clone {
    pick(&[
        "/* c */",
        "/**/",
        "/* a /* b */ */",
        "/* x\n y */",
        "/* \"q { = */",
    ])
}

fn line_comment() -> impl Strategy<Value = String> + Clone {
    pick(&["// c", "//", "// ${x} \"q { = ) /-"])
}

/// Node-space: spaces, block comments, line continuations.
fn node_space() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => space(),
        1 => (block_comment(), space()).prop_map(|(comment, space)| format!(" {comment}{space}")),
        1 => (option::of(line_comment()), newline(), space())
            .prop_map(|(comment, nl, space)| format!(" \\ {}{nl}{space}", comment.unwrap_or_default())),
    ]
}

fn identifier() -> impl Strategy<Value = String> + Clone {
    pick(&[
        "a", "node", "foo-bar", "x.y", "-", "--flag", "über", "a1", "+", "_", "..5", "+.x", "-inf", "true1",
        "$", "a$b", "é",
    ])
}

fn quoted_string() -> impl Strategy<Value = String> + Clone {
    let piece = prop_oneof![
        "[a-z ${}.#=()/;]{1,6}",
        pick(&[
            "\\\"",
            "\\\\",
            "\\n",
            "\\r",
            "\\t",
            "\\s",
            "\\b",
            "\\f",
            "\\u{1F600}",
            "\\u{0}",
            "\\u{10FFFF}",
            "\\   ",
            "${var.x}",
            "/* no */",
            "// no",
            "/-",
            "\\u{7F}",
            "'",
        ]),
        newline().prop_map(|nl| format!("\\{nl}   ")),
        (space(), newline()).prop_map(|(space, nl)| format!("\\{space}{nl}{space}")),
    ];
    vec(piece, 0..4).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
}

fn raw_string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        "[a-z \\\\{}$=()\"]{0,8}"
            .prop_filter("not just a quote", |body| {
                body != "\"" && !body.starts_with("\"\"") && !body.contains("\"#")
            })
            .prop_map(|body| format!("#\"{body}\"#")),
        "[a-z \\\\\"]{0,4}"
            .prop_filter("no closing", |body| !body.contains("\"##")
                && !body.ends_with('"'))
            .prop_map(|body| format!("##\"{body}\"#{body}\"##")),
    ]
}

fn multi_line_string() -> impl Strategy<Value = String> + Clone {
    (
        pick(&["", "  ", "\t", " \u{3000}"]),
        vec(
            prop_oneof![
                "[a-z =(){};/\\\\\"]{0,8}",
                Just(String::new()),
                Just("  ".to_owned())
            ],
            0..4,
        ),
        newline(),
        any::<bool>(),
    )
        .prop_map(|(indent, lines, nl, raw)| {
            let body: String = lines
                .iter()
                .map(|line| {
                    // A raw body is taken as written; a quoted one needs its `\` and `"` escaped.
                    let line = if raw {
                        line.replace("\"\"\"", "\"")
                    } else {
                        line.replace('\\', "\\\\").replace('"', "\\\"")
                    };
                    if line.trim().is_empty() {
                        format!("{line}{nl}")
                    } else {
                        format!("{indent}{line}{nl}")
                    }
                })
                .collect();
            let (open, close) = if raw {
                ("#\"\"\"", "\"\"\"#")
            } else {
                ("\"\"\"", "\"\"\"")
            };
            format!("{open}{nl}{body}{indent}{close}")
        })
}

fn number() -> impl Strategy<Value = String> + Clone {
    pick(&[
        "0",
        "-12",
        "+7",
        "1_000",
        "1_",
        "3.14",
        "-1.5e-3",
        "1E10",
        "1e+5",
        "0.0",
        "0x1F",
        "0xdead_beef",
        "-0x10",
        "0o17",
        "0b1010",
        "0b1_0",
        "170141183460469231731687303715884105727",
        "1.99999999999999999999999999999999999",
    ])
}

fn keyword() -> impl Strategy<Value = String> + Clone {
    pick(&["#true", "#false", "#null", "#inf", "#-inf", "#nan"])
}

fn string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => identifier(),
        2 => quoted_string(),
        1 => raw_string(),
        1 => multi_line_string(),
    ]
}

fn type_annotation() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        pick(&[
            "(t)",
            "( t )",
            "(u8) ",
            "(\"a b\")",
            "(#\"r\"#)",
            "(t)\\\n  ",
            "(\\\n t)",
            "(/* c */t)"
        ]),
        multi_line_string().prop_map(|name| format!("({name})")),
    ]
}

fn value() -> impl Strategy<Value = String> + Clone {
    let plain = prop_oneof![3 => string(), 1 => number(), 1 => keyword()];
    (option::of(type_annotation()), plain)
        .prop_map(|(ty, value)| format!("{}{value}", ty.unwrap_or_default()))
}

fn entry() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => value(),
        2 => (
            string(),
            pick(&["=", " = ", "= ", "\t=\t", " \\\n = ", "/* c */=", "=/**/", "= \\ // c\n "]),
            value()
        )
            .prop_map(|(key, equals, value)| format!("{key}{equals}{value}")),
    ]
}

/// A `/-` and what may follow it before what it comments out.
fn slashdash() -> impl Strategy<Value = String> + Clone {
    pick(&["/-", "/- ", "/-\n", "/- // c\n  ", "/-/* c */"])
}

fn terminator(commented_out: bool) -> impl Strategy<Value = String> + Clone {
    // kdl does not take a `;` after a commented-out node.
    let semicolon = if commented_out { "\n" } else { ";" };
    prop_oneof![
        6 => newline(),
        2 => Just(semicolon.to_owned()),
        1 => (space(), newline()).prop_map(|(space, nl)| format!("{space}{nl}")),
        1 => (line_comment(), newline()).prop_map(|(comment, nl)| format!(" {comment}{nl}")),
        1 => (block_comment(), newline()).prop_map(|(comment, nl)| format!(" {comment}{nl}")),
        1 => Just(format!("{semicolon} // c\n")),
    ]
}

/// Comments and blank lines between nodes.
fn between_nodes() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => Just(String::new()),
        1 => (line_comment(), newline()).prop_map(|(comment, nl)| format!("{comment}{nl}")),
        1 => (block_comment(), newline()).prop_map(|(comment, nl)| format!("{comment}{nl}")),
        1 => (block_comment(), space()).prop_map(|(comment, space)| format!("{comment}{space}")),
        1 => (newline(), space()).prop_map(|(nl, space)| format!("{nl}{space}")),
        1 => Just("\\\n".to_owned()),
    ]
}

/// A node, its terminator, and whether it ends in a children block.
fn node(
    children: impl Strategy<Value = Option<String>> + Clone,
) -> impl Strategy<Value = (String, String, bool)> + Clone {
    (
        option::of(slashdash()),
        option::of(type_annotation()),
        string(),
        vec((node_space(), option::of(slashdash()), entry()), 0..4),
        option::of((node_space(), slashdash())),
        children,
        option::of((pick(&["", " ", " /* c */ "]), slashdash())),
        any::<bool>(),
    )
        .prop_flat_map(|(slashdash, ty, name, entries, before, children, after, tight)| {
            let commented_out = slashdash.is_some();
            let mut text = format!(
                "{}{}{name}",
                slashdash.unwrap_or_default(),
                ty.unwrap_or_default()
            );
            for (separator, slashdash, entry) in entries {
                text += &format!("{separator}{}{entry}", slashdash.unwrap_or_default());
            }
            let has_children = children.is_some();
            if let Some(children) = children {
                if let Some((space, slashdash)) = before {
                    text += &format!("{space}{slashdash}{{ x 1 }}");
                }
                // A name or value may touch its children block.
                let space = if tight { "" } else { " " };
                text += &format!("{space}{{{children}}}");
                if let Some((space, slashdash)) = after {
                    text += &format!("{space}{slashdash}{{ y }}");
                }
            }
            terminator(commented_out).prop_map(move |terminator| (text.clone(), terminator, has_children))
        })
}

/// The nodes of a document or children block, with their terminators.
fn nodes(children: impl Strategy<Value = Option<String>> + Clone) -> impl Strategy<Value = String> + Clone {
    (
        vec((between_nodes(), node(children), any::<bool>()), 0..5),
        any::<bool>(),
        option::of(slashdash()),
        between_nodes(),
    )
        .prop_map(|(nodes, last_terminated, trailing_slashdash, trailing)| {
            let count = nodes.len();
            let mut text = String::new();
            for (index, (before, (node, terminator, has_children), quirk)) in nodes.into_iter().enumerate() {
                text += &before;
                let commented_out = node.starts_with("/-");
                text += &node;
                if index + 1 == count {
                    // The last node of a block may go without a terminator, and
                    // kdl then takes a `/-` node right after its children.
                    if last_terminated {
                        text += &terminator;
                    } else if let Some(slashdash) = trailing_slashdash.as_ref().filter(|_| has_children) {
                        text += &format!(" {slashdash}z 1 {{ w }} /-y");
                    } else {
                        text += " ";
                    }
                } else if commented_out && has_children && quirk {
                    // kdl takes a node right after a commented-out node's children.
                    text += " ";
                } else {
                    text += &terminator;
                }
            }
            text + &trailing
        })
}

fn document() -> impl Strategy<Value = String> + Clone {
    let leaf = nodes(Just(None));
    let nested = leaf.prop_recursive(3, 24, 4, |inner| nodes(option::of(inner)));
    (pick(&["", "", "", "\u{FEFF}"]), nested).prop_map(|(bom, text)| bom + &text)
}

/// Tokens inserted by the mutations.
const INSERTED: &[&str] = &[
    "{", "}", "(", ")", "=", ";", "/-", "\\", "\n", " ", "\"", "\"\"\"", "#", "#\"", "a", "1", "#true", "//",
    "/*", "*/", "[", ".5", "\u{200E}",
];

/// A text with some of its tokens deleted, doubled, replaced or preceded by another.
fn mutated(text: String) -> impl Strategy<Value = String> {
    vec((any::<usize>(), 0..4u8, proptest::sample::select(INSERTED)), 1..4).prop_map(move |edits| {
        let mut tokens: Vec<String> = tokenize(&text)
            .map(|token| token.text(&text).to_owned())
            .collect();
        for (at, edit, inserted) in edits {
            if tokens.is_empty() {
                tokens.push(inserted.to_owned());
                continue;
            }
            let at = at % tokens.len();
            match edit {
                0 => {
                    tokens.remove(at);
                }
                1 => tokens.insert(at, tokens[at].clone()),
                2 => tokens[at] = inserted.to_owned(),
                _ => tokens.insert(at, inserted.to_owned()),
            }
        }
        tokens.concat()
    })
}

/// A name or value token on its own, well-formed or not.
fn word() -> impl Strategy<Value = String> {
    let quoted_body = vec(
        pick(&[
            "a", " ", "\\", "\"", "u", "{", "}", "1", "f", "D800", "n", "\n", "\r\n", "\t", "#", "\u{1}",
            "\u{200E}",
        ]),
        0..8,
    )
    .prop_map(|pieces| pieces.concat());
    prop_oneof![
        quoted_body.clone().prop_map(|body| format!("\"{body}\"")),
        quoted_body.clone().prop_map(|body| format!("#\"{body}\"#")),
        quoted_body
            .clone()
            .prop_map(|body| format!("\"\"\"\n{body}\n\"\"\"")),
        (
            pick(&["", " ", "  ", "\t"]),
            quoted_body.clone(),
            pick(&["", " ", "  "])
        )
            .prop_map(|(indent, body, closing)| format!("\"\"\"\n{indent}{body}\n{closing}\"\"\"")),
        (pick(&["", " ", "  "]), quoted_body, pick(&["", " ", "  "]))
            .prop_map(|(indent, body, closing)| format!("#\"\"\"\n{indent}{body}\n{closing}\"\"\"#")),
        vec(
            pick(&[
                "a",
                "1",
                "0",
                "_",
                ".",
                "-",
                "+",
                "e",
                "x",
                "b",
                "o",
                "#",
                "true",
                "inf",
                "[",
                "/",
                "9999999999999999999999",
            ]),
            1..5
        )
        .prop_map(|pieces| pieces.concat()),
    ]
}

/// The places a name or value token may stand in a node.
fn word_in_place() -> impl Strategy<Value = String> {
    (
        word(),
        pick(&[
            "{w}",
            "n {w}",
            "n {w}=1",
            "n k={w}",
            "n ({w})v",
            "({w})n",
            "n (t){w}",
            "n {w}/-c",
            "n {w}{{}}",
        ]),
    )
        .prop_map(|(word, place)| place.replace("{w}", &word).replace("{{}}", "{}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_documents_are_accepted(text in document()) {
        never_rejects_what_kdl_accepts(&text)?;
    }

    #[test]
    fn mutated_documents_are_rejected_only_when_kdl_rejects_them(text in document().prop_flat_map(mutated)) {
        never_rejects_what_kdl_accepts(&text)?;
    }

    #[test]
    fn names_and_values_are_rejected_only_when_kdl_rejects_them(text in word_in_place()) {
        never_rejects_what_kdl_accepts(&text)?;
    }
}

/// Most generated documents are valid, or the property above checks little.
#[test]
fn the_generator_makes_valid_documents() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = document();
    let mut valid = 0;
    let mut invalid = Vec::new();
    for _ in 0..300 {
        let text = strategy
            .new_tree(&mut runner)
            .map(|tree| tree.current())
            .unwrap_or_default();
        if kdl::KdlDocument::parse_v2(&text).is_ok() {
            valid += 1;
        } else {
            invalid.push(text);
        }
    }
    assert!(
        valid >= 270,
        "only {valid} of 300 are valid, e.g. {:?}",
        invalid.first()
    );
}

/// Junk that makes kdl recurse once per token: every class found by hand.
fn junk(n: usize) -> Vec<String> {
    [
        ("a ", "= "),
        ("", "="),
        ("", ") "),
        ("", "( "),
        ("", "; "),
        ("", "{}"),
        ("", "(t)"),
        ("", "a {} a {} "),
        ("", "a \\ b "),
        ("", "a {} /-b {} c\n"),
        ("", "a (t)\n"),
        ("a ", "b(t)c "),
        ("a ", "1=2 "),
        ("a ", "#true=1 "),
        ("a ", "[x] "),
        ("a ", ".5 "),
        ("a ", "##x "),
        ("a ", "#truex "),
        ("a ", "99999999999999999999999999999999999999999 "),
        ("a ", "\"\\u{zz} "),
        ("a ", "#\"x\n"),
        ("a ", "#\"\"\"x\n"),
        ("", "a #true/-c\n"),
    ]
    .iter()
    .map(|(start, junk)| format!("{start}{}", junk.repeat(n)))
    .collect()
}

#[track_caller]
fn assert_stopped(text: &str) {
    let parsed = parse(text);
    assert!(parsed.document.is_none());
    let preview: String = text.chars().take(40).collect();
    assert!(
        !syntax_problems(&parsed.diagnostics).is_empty(),
        "{preview:?}...: {:#?}",
        parsed.diagnostics
    );
}

/// Each of these would take kdl minutes and gigabytes, or overflow the stack
/// of the test thread: `parse` must answer at once, without calling kdl.
#[test]
fn junk_never_reaches_kdl() {
    for text in junk(100_000) {
        assert_stopped(&text);
    }
}

#[test]
fn an_8_mib_file_of_junk_never_reaches_kdl() {
    const SIZE: usize = stack_syntax::MAX_FILE_SIZE;
    let junk = "= ".repeat(SIZE / 2);
    assert_stopped(&junk);
    // Valid nodes up to the last line, then junk: the check reads it all.
    let line = "service \"api\" replicas=2 { image \"nginx\"; port 80 }\n";
    let mut text = line.repeat(SIZE / line.len() - 1);
    while text.len() < SIZE - 2 {
        text += "=";
    }
    assert_stopped(&text);
    let tokens = tokenize(&text)
        .filter(|token| token.kind == TokenKind::Equals)
        .count();
    assert!(tokens > 1000);
}
