//! The formatted fixtures, reviewed as snapshots: `tests/fixtures/*.kdl`.

use stack_diagnostics::Sources;

#[test]
fn fixtures() {
    insta::glob!("fixtures/*.kdl", |path| {
        let input = std::fs::read_to_string(path).expect("readable fixture");
        let file = Sources::new().add("fixture.kdl", path, input.as_str());
        let output = stack_fmt::format(file, &input).expect("a valid fixture");
        assert_eq!(
            stack_fmt::format(file, &output).as_deref(),
            Ok(output.as_str()),
            "not idempotent"
        );
        insta::assert_snapshot!(output);
    });
}
