//! Properties of the formatter on generated KDL documents: it never panics,
//! it is idempotent, it keeps the document kdl reads and every comment.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use stack_diagnostics::{FileId, Sources};
use stack_syntax::lexer::{TokenKind, tokenize};

#[path = "../../syntax/tests/support/kdl_v2.rs"]
mod kdl_v2;

fn file() -> FileId {
    Sources::new().add("test.kdl", "test.kdl", "")
}

fn normal_form(text: &str) -> Option<String> {
    let mut document = kdl::KdlDocument::parse_v2(text).ok()?;
    document.clear_format_recursive();
    Some(document.to_string())
}

/// The comments of a text, as the formatter writes them (line ends trimmed, `\n` newlines).
fn comments(text: &str) -> Vec<String> {
    tokenize(text)
        .filter(|token| token.kind.is_comment())
        .map(|token| {
            let comment = token
                .text(text)
                .replace("\r\n", "\n")
                .replace(['\r', '\u{85}', '\u{2028}'], "\n");
            comment.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
        })
        .collect()
}

/// The text with every `/-` removed (with the blanks after it), so that what
/// it commented out counts in the document.
fn without_slashdashes(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut after_slashdash = false;
    for token in tokenize(text) {
        match token.kind {
            TokenKind::Slashdash => {
                result.push(' ');
                after_slashdash = true;
            }
            TokenKind::Whitespace | TokenKind::Newline if after_slashdash => {}
            _ => {
                result.push_str(token.text(text));
                after_slashdash = false;
            }
        }
    }
    result
}

/// Checks every property on a document kdl accepts.
fn check_formatting(input: &str) -> Result<(), TestCaseError> {
    let expected = normal_form(input);
    let formatted = stack_fmt::format(file(), input);
    let Some(expected) = expected else {
        prop_assert!(formatted.is_err(), "formatted a document kdl rejects");
        return Ok(());
    };
    let output = match formatted {
        Ok(output) => output,
        // The lexical checks reject a few documents kdl takes (chained `/-`, and what the
        // KDL v2 specification forbids).
        Err(diagnostics) => {
            prop_assert!(
                kdl_v2::kdl_v2_forbids(input)
                    || diagnostics
                        .iter()
                        .all(|d| d.code != "stack::syntax" || d.message.contains("/-")),
                "rejected a valid document: {diagnostics:?}"
            );
            return Ok(());
        }
    };
    prop_assert_eq!(
        normal_form(&output),
        Some(expected),
        "changed the document:\n{}",
        output
    );
    let again = stack_fmt::format(file(), &output);
    prop_assert_eq!(again.as_deref(), Ok(output.as_str()), "not idempotent");
    // What `/-` comments out is kept too.
    if let Some(uncommented) = normal_form(&without_slashdashes(input)) {
        prop_assert_eq!(normal_form(&without_slashdashes(&output)), Some(uncommented));
    }
    let kept = comments(&output);
    for comment in comments(input) {
        prop_assert!(
            kept.contains(&comment),
            "lost the comment {:?}:\n{}",
            comment,
            output
        );
    }
    prop_assert!(!output.contains('\r'));
    let tokens: Vec<_> = tokenize(&output).collect();
    for pair in tokens.windows(2) {
        let trailing_whitespace = pair[0].kind == TokenKind::Whitespace && pair[1].kind == TokenKind::Newline;
        prop_assert!(
            !trailing_whitespace,
            "trailing whitespace at {}:\n{}",
            pair[0].start,
            output
        );
    }
    Ok(())
}

fn pick(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(choices).prop_map(str::to_owned)
}

fn space() -> impl Strategy<Value = String> {
    pick(&[" ", " ", " ", "\t", "   ", "\u{3000}", "\u{A0} "])
}

fn newline() -> impl Strategy<Value = String> {
    pick(&["\n", "\n", "\n", "\r\n", "\r", "\u{85}", "\u{2028}"])
}

fn comment_text() -> impl Strategy<Value = String> {
    "[a-z0-9 ,.!{}\"$-]{0,12}"
}

fn block_comment() -> impl Strategy<Value = String> {
    prop_oneof![
        comment_text().prop_map(|text| format!("/*{text}*/")),
        (comment_text(), comment_text()).prop_map(|(a, b)| format!("/* {a} /* {b} */ */")),
        (comment_text(), newline(), comment_text()).prop_map(|(a, nl, b)| format!("/* {a}  {nl}   {b} */")),
    ]
}

fn line_comment() -> impl Strategy<Value = String> {
    (comment_text(), "[ \t]{0,2}").prop_map(|(text, trailing)| format!("//{text}{trailing}"))
}

fn identifier() -> impl Strategy<Value = String> {
    pick(&[
        "a", "node", "foo-bar", "x.y", "-", "--flag", "über", "a1", "+", "_",
    ])
}

fn quoted_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z ${}.#]{1,6}".prop_map(|s| s),
        pick(&[
            "\\\"",
            "\\\\",
            "\\n",
            "\\t",
            "\\s",
            "\\u{1F600}",
            "\\   ",
            "${var.x}",
            "/* no */",
            "// no"
        ]),
        newline().prop_map(|nl| format!("\\{nl}   ")),
    ];
    vec(piece, 0..4).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
}

fn raw_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z \\\\{}$]{0,8}".prop_map(|body| format!("#\"{body}\"#")),
        "[a-z \\\\]{0,4}".prop_map(|body| format!("##\"{body}\"#{body}\"##")),
    ]
}

fn multi_line_string() -> impl Strategy<Value = String> {
    (
        0..3usize,
        vec(prop_oneof!["[a-z \\\\\"]{0,8}", Just(String::new())], 1..4),
        newline(),
        any::<bool>(),
    )
        .prop_map(|(indent, lines, nl, raw)| {
            let indent = "  ".repeat(indent);
            let body: String = lines
                .iter()
                .map(|line| {
                    // A raw body is taken as written; a quoted one needs its `\` escaped.
                    let line = if raw {
                        line.clone()
                    } else {
                        line.replace('\\', "\\\\").replace('"', "\\\"")
                    };
                    if line.is_empty() {
                        nl.clone()
                    } else {
                        format!("{indent}{line}   {nl}")
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

fn number() -> impl Strategy<Value = String> {
    pick(&[
        "0",
        "-12",
        "+7",
        "1_000",
        "3.14",
        "-1.5e-3",
        "1E10",
        "0.0",
        "0x1F",
        "0xdead_beef",
        "-0x10",
        "0o17",
        "0b1010",
        "0b1_0",
    ])
}

fn keyword() -> impl Strategy<Value = String> {
    pick(&["#true", "#false", "#null", "#inf", "#-inf", "#nan"])
}

fn value() -> impl Strategy<Value = String> {
    let plain = prop_oneof![
        identifier(),
        quoted_string(),
        raw_string(),
        multi_line_string(),
        number(),
        keyword(),
    ];
    (option::of(pick(&["(u8)", "( t )", "(\"a b\")", "(t) "])), plain)
        .prop_map(|(ty, value)| format!("{}{value}", ty.unwrap_or_default()))
}

fn entry() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => value(),
        2 => (
            prop_oneof![identifier(), quoted_string()],
            pick(&["=", " = ", "= ", "\t=\t"]),
            value()
        )
            .prop_map(|(key, equals, value)| format!("{key}{equals}{value}")),
    ]
}

/// What separates a node's name and entries: whitespace, an inline comment or a continuation.
fn entry_separator() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => space(),
        1 => (block_comment(), space()).prop_map(|(comment, space)| format!(" {comment}{space}")),
        1 => (option::of(line_comment()), newline(), space())
            .prop_map(|(comment, nl, space)| format!(" \\ {}{nl}{space}", comment.unwrap_or_default())),
    ]
}

fn terminator() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => newline(),
        2 => Just(";".to_owned()),
        1 => (space(), newline()).prop_map(|(space, nl)| format!("{space}{nl}")),
        1 => (line_comment(), newline()).prop_map(|(comment, nl)| format!(" {comment}{nl}")),
        1 => (block_comment(), newline()).prop_map(|(comment, nl)| format!(" {comment}{nl}")),
        1 => (newline(), newline(), newline()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
    ]
}

/// Comments and blank lines between nodes.
fn between_nodes() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => (line_comment(), newline()).prop_map(|(comment, nl)| format!("{comment}{nl}")),
        1 => (block_comment(), newline()).prop_map(|(comment, nl)| format!("{comment}{nl}")),
        1 => (block_comment(), space()).prop_map(|(comment, space)| format!("{comment}{space}")),
        1 => (newline(), space()).prop_map(|(nl, space)| format!("{nl}{space}")),
    ]
}

fn node(children: impl Strategy<Value = Option<String>>) -> impl Strategy<Value = (String, String)> {
    (
        option::of(pick(&["/-", "/- ", "/-\n"])),
        option::of(pick(&["(t)", "( t ) "])),
        prop_oneof![3 => identifier(), 1 => quoted_string(), 1 => raw_string()],
        vec(
            (entry_separator(), option::of(pick(&["/-", "/- "])), entry()),
            0..4,
        ),
        option::of((pick(&[" /-", " /- "]), space())),
        children,
        terminator(),
    )
        .prop_map(
            |(slashdash, ty, name, entries, slashdashed_block, children, terminator)| {
                let mut text = format!(
                    "{}{}{name}",
                    slashdash.unwrap_or_default(),
                    ty.unwrap_or_default()
                );
                for (separator, slashdash, entry) in entries {
                    text += &format!("{separator}{}{entry}", slashdash.unwrap_or_default());
                }
                if let Some(children) = &children {
                    if let Some((slashdash, space)) = slashdashed_block {
                        text += &format!("{slashdash}{{{space}x 1{space}}}");
                    }
                    text += &format!(" {{{children}}}");
                }
                (text, terminator)
            },
        )
}

/// The nodes of a document or children block, with their terminators.
fn nodes(children: impl Strategy<Value = Option<String>>) -> impl Strategy<Value = String> {
    (
        vec((between_nodes(), node(children)), 0..5),
        any::<bool>(),
        between_nodes(),
    )
        .prop_map(|(nodes, last_terminated, trailing)| {
            let count = nodes.len();
            let mut text = String::new();
            for (index, (before, (node, terminator))) in nodes.into_iter().enumerate() {
                text += &before;
                text += &node;
                // The last node of a block may go without a terminator.
                if index + 1 < count || last_terminated {
                    text += &terminator;
                } else {
                    text += " ";
                }
            }
            text + &trailing
        })
}

fn document() -> impl Strategy<Value = String> {
    let leaf = nodes(Just(None));
    leaf.prop_recursive(3, 24, 4, |inner| nodes(option::of(inner)))
}

/// A random edit of a text: delete a range, or insert a piece of KDL punctuation.
fn mutated(text: String) -> impl Strategy<Value = String> {
    let len = text.chars().count();
    (
        0..=len,
        0..4usize,
        pick(&[
            "{", "}", "\"", "/*", "*/", "//", "/-", "\\", "#", ";", "=", "(", ")", "\n", "${", "\r",
            "\u{FEFF}",
        ]),
    )
        .prop_map(move |(at, delete, insert)| {
            let chars: Vec<char> = text.chars().collect();
            let end = (at + delete).min(chars.len());
            let mut result: String = chars[..at].iter().collect();
            result += &insert;
            result.extend(&chars[end..]);
            result
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_documents_format_well(input in document()) {
        check_formatting(&input)?;
    }

    #[test]
    fn mutated_documents_never_panic(input in document().prop_flat_map(mutated)) {
        check_formatting(&input)?;
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,40}|[a-z{}()=;/*\\\\\"#\\n -]{0,40}") {
        check_formatting(&input)?;
    }
}
