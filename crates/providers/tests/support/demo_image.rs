//! The `stack-demo` binary, built static once per test run, in a `FROM scratch` image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use stack_docker::{BuildSpec, Labels};

use super::{TEST_LABEL, TestStack};

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

/// Builds the demo image for `stack` (tagged `<stack>-demo:test`, labelled for cleanup) and
/// returns its tag. It serves on 8080 by default.
pub async fn demo_image(stack: &TestStack) -> String {
    let binary = tokio::task::spawn_blocking(static_demo_binary).await.unwrap();
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
