//! The test builder for end-to-end tests of the `stack` binary, in the manner
//! of casey/just: write a stack into a temporary directory, run `stack` on
//! it, and check what it printed and how it exited.
//!
//! ```ignore
//! Test::new(env!("CARGO_BIN_EXE_stack"))
//!     .file("stack.kdl", "service \"api\" { image \"x\" }")
//!     .args(["validate"])
//!     .run()
//!     .success();
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub struct Test {
    binary: PathBuf,
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Test {
    pub fn new(binary: impl Into<PathBuf>) -> Test {
        Test {
            binary: binary.into(),
            dir: tempfile::Builder::new()
                .prefix("stack-test-")
                .tempdir()
                .expect("a temporary directory"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Writes `contents` to `path`, relative to the test's directory.
    pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Test {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("parent directories");
        }
        std::fs::write(full, contents).expect("a test file");
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `stack` in the test's directory.
    pub fn run(self) -> Outcome {
        let output = Command::new(&self.binary)
            .args(&self.args)
            .current_dir(self.dir.path())
            .env_remove("NO_COLOR")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .output()
            .expect("the stack binary runs");
        Outcome {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir,
        }
    }
}

/// What a run printed, and the directory it ran in (kept until dropped).
pub struct Outcome {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    dir: TempDir,
}

impl Outcome {
    pub fn status(self, expected: i32) -> Outcome {
        assert_eq!(
            self.status,
            Some(expected),
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn success(self) -> Outcome {
        self.status(0)
    }

    pub fn stdout_contains(self, text: &str) -> Outcome {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    pub fn stderr_contains(self, text: &str) -> Outcome {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts that stdout says `first`, then `second`.
    pub fn stdout_in_order(self, first: &str, second: &str) -> Outcome {
        let position = |line: &str| {
            self.stdout
                .find(line)
                .unwrap_or_else(|| panic!("no {line:?} in {}", self.stdout))
        };
        assert!(position(first) < position(second), "{}", self.stdout);
        self
    }

    /// The directory the run happened in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path)).expect("a file the test wrote")
    }
}

/// What a test that needs Docker does when no daemon answers: under `CI=true`
/// it fails (a suite that skips quietly there proves nothing); elsewhere it
/// says so, and the caller skips.
pub fn without_docker(reason: &dyn std::fmt::Display) {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("CI=true and Docker is required: {reason}");
    }
    eprintln!("skipping: Docker is not reachable here ({reason})");
}

/// The `stack-demo` program built static (it runs in a `FROM scratch` image),
/// once per test binary: `cargo rustc --release -p stack-demo -- -C target-feature=+crt-static`.
pub fn demo_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| static_binary("stack-demo"))
}

/// The `stack-proxy` program built static, for the proxy `stack` puts in front of a
/// start-first service; `stack` finds it through `STACK_PROXY_BINARY`.
pub fn proxy_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| static_binary("stack-proxy"))
}

/// Builds the binary of `package` (named like it) static, in release mode.
fn static_binary(package: &str) -> PathBuf {
    cargo_binary(
        package,
        package,
        &[
            "rustc",
            "--release",
            "-p",
            package,
            "--bin",
            package,
            "--message-format=json",
            "--",
            "-C",
            "target-feature=+crt-static",
        ],
    )
}

/// The binary of a provider outside `stack` (`stack-provider-file`), built as the tests are.
pub fn provider_binary(package: &str) -> PathBuf {
    cargo_binary(
        package,
        package,
        &["build", "-p", package, "--bin", package, "--message-format=json"],
    )
}

/// The `stack` binary, for tests outside its package, built as the tests are, once per test
/// binary.
pub fn stack_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        cargo_binary(
            "stack-cli",
            "stack",
            &[
                "build",
                "-p",
                "stack-cli",
                "--bin",
                "stack",
                "--message-format=json",
            ],
        )
    })
}

/// Runs cargo with `args`, which build the executable `binary` of `package`, and returns
/// where it is.
fn cargo_binary(package: &str, binary: &str, args: &[&str]) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == binary)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo names the {binary} executable of {package}"))
}

/// Checks a JSON plan (`stack plan --json`) against its schema, `spec/plan.schema.json`,
/// and panics naming every place that does not fit.
pub fn assert_plan_fits_schema(plan: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &Path| -> serde_json::Value {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
    };
    let schema = read(&root.join("spec/plan.schema.json"));
    let validator =
        jsonschema::draft202012::new(&schema).unwrap_or_else(|error| panic!("the plan schema: {error}"));
    let plan: serde_json::Value =
        serde_json::from_str(plan).unwrap_or_else(|error| panic!("the plan is not JSON: {error}\n{plan}"));
    let problems: Vec<String> = validator
        .iter_errors(&plan)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "the plan does not fit spec/plan.schema.json:\n{}\n{plan}",
        problems.join("\n")
    );
}
