//! The `stack-demo` binary, built static once per test run, in a `FROM scratch` image.

use stack_docker::BuildSpec;

use super::Scope;

/// Builds the demo image for `scope` (tagged `<prefix>-demo:test`, labelled for cleanup) and
/// returns its tag. The context also checks `.dockerignore`: `kept.txt` lands in `/data/context`
/// and `ignored.txt` does not.
pub async fn demo_image(scope: &Scope) -> String {
    let binary = tokio::task::spawn_blocking(stack_tests::demo_binary)
        .await
        .unwrap();
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(binary, context.path().join("stack-demo")).unwrap();
    std::fs::write(context.path().join("kept.txt"), "kept\n").unwrap();
    std::fs::write(context.path().join("ignored.txt"), "ignored\n").unwrap();
    std::fs::write(context.path().join(".dockerignore"), "ignored.txt\n").unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\n\
         ARG VERSION=unset\n\
         ENV DEMO_VERSION=$VERSION\n\
         COPY stack-demo /stack-demo\n\
         COPY *.txt /data/context/\n\
         ENTRYPOINT [\"/stack-demo\"]\n\
         CMD [\"serve\"]\n",
    )
    .unwrap();
    let tag = format!("{}:test", scope.name("demo"));
    let spec = BuildSpec {
        context: context.path().to_path_buf(),
        tags: vec![tag.clone()],
        build_args: [("VERSION".to_string(), "1.2.3".to_string())].into(),
        labels: scope.labels(),
        ..Default::default()
    };
    scope.client.build_image(&spec, |_| {}).await.unwrap();
    tag
}
