//! The `stack-demo` binary, built static once per test run, in a `FROM scratch` image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use stack_docker::BuildSpec;

use super::Scope;

/// Builds (once per test binary) `cargo rustc --release -p stack-demo -- -C target-feature=+crt-static`
/// and returns the executable's path, read from cargo's JSON messages.
fn static_demo_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let output = Command::new(cargo)
            .current_dir(&workspace)
            .args([
                "rustc",
                "--release",
                "-p",
                "stack-demo",
                "--bin",
                "stack-demo",
                "--message-format=json",
            ])
            .args(["--", "-C", "target-feature=+crt-static"])
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the static stack-demo failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact" && message["target"]["name"] == "stack-demo"
            })
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the stack-demo executable")
    })
}

/// Builds the demo image for `scope` (tagged `<prefix>-demo:test`, labelled for cleanup) and
/// returns its tag. The context also checks `.dockerignore`: `kept.txt` lands in `/data/context`
/// and `ignored.txt` does not.
pub async fn demo_image(scope: &Scope) -> String {
    let binary = tokio::task::spawn_blocking(static_demo_binary).await.unwrap();
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
