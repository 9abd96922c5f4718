use stack_diagnostics::Sources;

use super::*;

fn tree(text: &str) -> Node {
    let mut sources = Sources::new();
    let file = sources.add("compose.yaml", "compose.yaml", text);
    parse(file, text).expect("valid YAML")
}

#[test]
fn merge_keys_and_aliases() {
    let root = tree(
        "x-base: &base\n  image: a\n  restart: always\nservices:\n  web:\n    <<: *base\n    image: b\n",
    );
    let web = root.get("services").and_then(|s| s.get("web")).expect("web");
    assert_eq!(web.get("image").and_then(Node::as_str), Some("b"));
    assert_eq!(web.get("restart").and_then(Node::as_str), Some("always"));
}

#[test]
fn spans_point_at_the_value() {
    let text = "services:\n  web:\n    image: \"nginx\"\n";
    let root = tree(text);
    let image = root
        .get("services")
        .and_then(|s| s.get("web"))
        .and_then(|w| w.get("image"))
        .expect("image");
    assert_eq!(&text[image.span.range()], "\"nginx\"");
}

#[test]
fn bad_yaml_and_duplicate_keys_are_diagnostics() {
    let mut sources = Sources::new();
    let text = "services:\n  web: [\n";
    let file = sources.add("compose.yaml", "compose.yaml", text);
    let errors = parse(file, text).expect_err("invalid YAML");
    assert_eq!(errors[0].code, "stack::compose_syntax");
    let text = "services:\n  web: {}\n  web: {}\n";
    let file = sources.add("compose.yaml", "compose.yaml", text);
    let errors = parse(file, text).expect_err("duplicate keys");
    assert_eq!(errors[0].code, "stack::compose_invalid");
}
