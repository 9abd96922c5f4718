//! The `stack-demo` binary, built static once per test run, in a `FROM scratch` image.

use stack_docker::{BuildSpec, Labels};

use super::{TEST_LABEL, TestStack};

/// Builds the demo image for `stack` (tagged `<stack>-demo:test`, labelled for cleanup) and
/// returns its tag. It serves on 8080 by default.
pub async fn demo_image(stack: &TestStack) -> String {
    let binary = tokio::task::spawn_blocking(stack_tests::demo_binary)
        .await
        .unwrap();
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(binary, context.path().join("stack-demo")).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY stack-demo /stack-demo\nENTRYPOINT [\"/stack-demo\"]\nCMD [\"serve\"]\n",
    )
    .unwrap();
    let tag = format!("{}-demo:test", stack.scope.stack);
    let spec = BuildSpec {
        context: context.path().to_path_buf(),
        tags: vec![tag.clone()],
        labels: Labels::from([(TEST_LABEL.to_string(), stack.scope.stack.clone())]),
        ..Default::default()
    };
    stack.client.build_image(&spec, |_| {}).await.unwrap();
    tag
}
