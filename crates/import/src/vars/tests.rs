use stack_diagnostics::{Sources, Span};

use super::*;

fn convert(text: &str, env: &[(&str, &str)]) -> (String, Vec<Item>, Report) {
    let mut sources = Sources::new();
    let file = sources.add("compose.yaml", "compose.yaml", text);
    let mut vars = Vars::new(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    let mut report = Report::default();
    let out = vars.template(text, Span::file_start(file), false, &mut report);
    (out, vars.items(), report)
}

fn declared(items: &[Item]) -> String {
    crate::kdl::render(items)
}

#[test]
fn every_form_of_interpolation() {
    let (out, items, report) = convert(
        "a ${A} $B ${C:-x} ${D-y} ${E:?E must be set} ${F?f} $$HOME $${G}",
        &[],
    );
    assert_eq!(
        out,
        "a ${var.a} ${var.b} ${var.c} ${var.d} ${var.e} ${var.f} $HOME $${G}"
    );
    assert_eq!(
        declared(&items),
        "variable \"a\" type=\"string\"\nvariable \"b\" type=\"string\"\nvariable \"c\" type=\"string\" default=\"x\"\nvariable \"d\" type=\"string\" default=\"y\"\nvariable \"e\" type=\"string\" description=\"E must be set\"\nvariable \"f\" type=\"string\" description=\"f\"\n"
    );
    assert!(report.errors.is_empty() && report.warnings.is_empty());
}

#[test]
fn env_file_values_become_defaults_but_never_for_credentials() {
    let (out, items, report) = convert(
        "${USER_NAME}:${DB_PASSWORD:-changeme}",
        &[("USER_NAME", "app"), ("DB_PASSWORD", "hunter2")],
    );
    assert_eq!(out, "${var.user-name}:${var.db-password}");
    let text = declared(&items);
    assert_eq!(
        text,
        "variable \"user-name\" type=\"string\" default=\"app\"\nvariable \"db-password\" type=\"string\" sensitive=#true\n"
    );
    assert!(!text.contains("hunter2") && !text.contains("changeme"));
    assert_eq!(report.warnings[0].code, "stack::compose_secret");
}

#[test]
fn an_unclosed_expression_is_an_error() {
    let (_, _, report) = convert("${A", &[]);
    assert_eq!(report.errors[0].code, "stack::compose_invalid");
}
