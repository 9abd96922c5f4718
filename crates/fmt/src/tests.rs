//! One test per layout rule; each also checks that formatting is idempotent
//! and keeps the document kdl reads.

use stack_diagnostics::Sources;

fn normal_form(text: &str) -> String {
    let mut document = kdl::KdlDocument::parse_v2(text).expect("valid KDL");
    document.clear_format_recursive();
    document.to_string()
}

/// Formats `input`, checking that the result is stable and means the same.
fn fmt(input: &str) -> String {
    let file = Sources::new().add("test.kdl", "test.kdl", input);
    let output = crate::format(file, input).expect("formats");
    assert_eq!(
        crate::format(file, &output).as_deref(),
        Ok(output.as_str()),
        "not idempotent"
    );
    assert_eq!(
        normal_form(input),
        normal_form(&output),
        "changed the document:\n{output}"
    );
    output
}

#[test]
fn one_node_per_line_and_semicolons_become_line_breaks() {
    assert_eq!(fmt("a 1; b 2;c"), "a 1\nb 2\nc\n");
}

#[test]
fn children_are_indented_four_spaces_per_level() {
    assert_eq!(
        fmt("a{b{c 1}\n  d}"),
        "a {\n    b {\n        c 1\n    }\n    d\n}\n"
    );
}

#[test]
fn single_spaces_between_entries_and_none_around_equals() {
    assert_eq!(
        fmt("node\t  \"x\"   key = 1  k2=  #true"),
        "node \"x\" key=1 k2=#true\n"
    );
}

#[test]
fn type_annotations_are_tight() {
    assert_eq!(fmt("( t )node ( u8 ) 1 k=(i32)2"), "(t)node (u8)1 k=(i32)2\n");
}

#[test]
fn empty_children_blocks_print_as_braces() {
    assert_eq!(fmt("a {}\nb {\n\n}\nc {   }"), "a {}\nb {}\nc {}\n");
}

#[test]
fn a_block_with_only_a_comment_is_not_empty() {
    assert_eq!(fmt("a { /* c */ }\nb { // c\n}"), "a { /* c */\n}\nb { // c\n}\n");
}

#[test]
fn trailing_line_comments_stay_on_their_line() {
    assert_eq!(
        fmt("a 1    // one   \nb {   // block\n    c // c\n}  // end"),
        "a 1 // one\nb { // block\n    c // c\n} // end\n"
    );
}

#[test]
fn a_comment_after_a_semicolon_stays_on_the_line() {
    assert_eq!(fmt("a; // c\nb"), "a // c\nb\n");
}

#[test]
fn inline_block_comments_stay_inline() {
    assert_eq!(
        fmt("/* lead */ a /* x */ 1 /*y*/ k=2\nb"),
        "/* lead */ a /* x */ 1 /*y*/ k=2\nb\n"
    );
}

#[test]
fn multi_line_block_comments_are_kept() {
    assert_eq!(
        fmt("a {\n  /* one\n     two   \n  */\n  b\n}"),
        "a {\n    /* one\n     two\n  */\n    b\n}\n"
    );
}

#[test]
fn own_line_comments_keep_their_place() {
    assert_eq!(
        fmt("// head\n\n\n\na\n  // before b\nb\n// tail"),
        "// head\n\na\n// before b\nb\n// tail\n"
    );
}

#[test]
fn slashdashes_are_kept_and_attached() {
    assert_eq!(
        fmt("/- a 1\nb /-  2 3 /- k=4 /- { c } { d }\n/-\ne"),
        "/-a 1\nb /-2 3 /-k=4 /-{\n    c\n} {\n    d\n}\n/-e\n"
    );
}

#[test]
fn a_comment_after_a_slashdash_is_kept() {
    assert_eq!(
        fmt("/- // why\na\nb /- /* c */ 1"),
        "/- // why\na\nb /- /* c */ 1\n"
    );
}

#[test]
fn blank_lines_collapse_and_never_open_or_close_a_block() {
    assert_eq!(
        fmt("\n\na\n\n\n\nb {\n\n    c\n\n\n    d\n\n}\n\n\n"),
        "a\n\nb {\n    c\n\n    d\n}\n"
    );
}

#[test]
fn crlf_and_trailing_whitespace() {
    assert_eq!(fmt("a 1  \r\nb {\r\n  c  \r\n}\r\n"), "a 1\nb {\n    c\n}\n");
}

#[test]
fn values_are_copied_as_written() {
    let input = "n 0x10 0o17 0b1_01 1_000 1.5e-3 -0.0 #inf #-inf #nan #null #false \"a\\tb\\u{1F600}\" #\"raw \"q\"\"# ##\"x\"#y\"## bare\n";
    assert_eq!(fmt(input), input);
}

#[test]
fn multi_line_strings_are_copied_verbatim() {
    let input = "a {\n  b \"\"\"\n      one  \n    two\n    \"\"\" #\"\"\"\n  raw \"\"\"\n  \"\"\"#\n}\n";
    assert_eq!(
        fmt(input),
        "a {\n    b \"\"\"\n      one  \n    two\n    \"\"\" #\"\"\"\n  raw \"\"\"\n  \"\"\"#\n}\n"
    );
}

#[test]
fn line_continuations_indent_one_level_deeper() {
    assert_eq!(
        fmt("a {\n  b 1 \\\n 2 \\   // why\n      3\n  c\n}"),
        "a {\n    b 1 \\\n        2 \\ // why\n        3\n    c\n}\n"
    );
}

#[test]
fn a_node_ending_on_an_empty_continuation_line_keeps_it_empty() {
    assert_eq!(fmt("a \\\n\nb"), "a \\\n\nb\n");
    assert_eq!(fmt("a \\\n;b"), "a \\\n\nb\n");
    assert_eq!(fmt("x {\n  a \\\n}"), "x {\n    a \\\n}\n");
}

#[test]
fn a_continuation_between_nodes_is_dropped() {
    assert_eq!(fmt("a; \\\nb"), "a\nb\n");
}

#[test]
fn the_file_ends_with_one_newline() {
    assert_eq!(fmt("a"), "a\n");
    assert_eq!(fmt("a\n\n\n"), "a\n");
    assert_eq!(fmt(""), "");
    assert_eq!(fmt(" \n\n "), "");
}

#[test]
fn a_byte_order_mark_is_dropped() {
    assert_eq!(fmt("\u{FEFF}a 1\n"), "a 1\n");
}

#[test]
fn invalid_documents_are_left_alone() {
    let file = Sources::new().add("test.kdl", "test.kdl", "");
    let errors = crate::format(file, "a {\n").expect_err("unclosed block");
    assert!(errors.iter().all(|error| error.code == "stack::syntax"));
    let errors = crate::format(file, "image ${var.x}\n").expect_err("bare interpolation");
    assert_eq!(errors[0].code, "stack::bare_interpolation");
}
