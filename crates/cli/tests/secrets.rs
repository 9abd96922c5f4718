//! Secrets end to end: a secret's value reaches the container only as its mounted file, and
//! appears nowhere else: not in plans (human, JSON, markdown, saved), apply and destroy output
//! or progress lines, error messages, `stack status`, labels, `docker inspect` of the stack's
//! objects, nor logs. Rotating it replaces the services that mount it.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use support::seen::{Seen, random_value};
use support::{LiveStack, docker, get};

fn shop(more: &str) -> String {
    format!(
        r#"
variable "api-key" type="string" sensitive=#true
secret "token" {{
    from-env "SHOP_TOKEN"
}}
image "demo" {{
    context "app"
}}
network "backend"
service "api" {{
    image "${{image.demo}}"
    network "backend"
    init #true
    stop-grace-period "1s"
    secret "token"
    env {{
        API_KEY "${{var.api-key}}"
    }}
    probe {{
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "200ms"
    }}
}}
{more}"#
    )
}

/// A service that mounts the secret too, and exits at once: its apply fails.
const CRASHING: &str = r#"
service "crasher" {
    image "${image.demo}"
    network "backend"
    secret "token"
    env {
        API_KEY "${var.api-key}"
    }
    command "job" "--exit" "4" "--message" "crasher: giving up"
}
"#;

/// The container's inspect output without `Config.Env`, where a sensitive variable set as an
/// environment variable is by design (spec/variables.md, "Sensitive variables").
fn inspect_without_env(name: &str) -> (String, Vec<String>) {
    let mut inspect: serde_json::Value =
        serde_json::from_str(&docker(&["container", "inspect", name])).unwrap();
    let env = inspect[0]["Config"]["Env"].take();
    let env = env
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry.as_str().map(str::to_owned))
        .collect();
    (inspect.to_string(), env)
}

fn secret_file(live: &LiveStack) -> String {
    let (status, body) = get(live.demo_address("api-1"), "/file?path=/run/secrets/token");
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_secret_is_only_in_its_mounted_file_and_rotating_it_replaces_its_users() {
    let Some(mut live) = LiveStack::new() else { return };
    let first = random_value("first-token");
    let second = random_value("second-token");
    let key = random_value("api-key");
    live.demo_context("app");
    live.set_env("SHOP_TOKEN", &first);
    live.set_env("STACK_VAR_api_key", &key);
    live.write("stack.kdl", shop(""));
    let mut seen = Seen::default();

    seen.run(&live, "plan", &[], 0);
    seen.run(&live, "plan", &["--format", "json"], 0);
    seen.run(&live, "plan", &["--format", "markdown"], 0);
    let saved = live.dir.path().join("saved.plan");
    let saved = saved.to_str().unwrap();
    seen.run(&live, "plan", &["--out", saved], 0);
    seen.add("the saved plan", std::fs::read_to_string(saved).unwrap());
    seen.run(&live, "apply", &["--auto-approve"], 0);
    seen.run(&live, "status", &[], 0);
    assert_eq!(secret_file(&live), first, "the mounted file holds the secret");
    let before = live.container_ids("api");

    // A failing apply: its error messages and the crashed container's logs.
    live.write("stack.kdl", shop(CRASHING));
    seen.run(&live, "apply", &["--auto-approve"], 1);
    seen.daemon(&live);
    live.write("stack.kdl", shop(""));

    // Rotation: a new value replaces the service that mounts it.
    live.set_env("SHOP_TOKEN", &second);
    let plan = live.run("plan", &["--detailed-exitcode"]).status(2);
    assert!(plan.stdout.contains("service.api"), "{}", plan.stdout);
    seen.add("the plan of the rotation", plan.stdout);
    seen.run(&live, "apply", &["--auto-approve"], 0);
    seen.run(&live, "plan", &["--detailed-exitcode"], 0);
    let after = live.container_ids("api");
    assert_ne!(after, before, "rotating the secret replaced the container");
    assert_eq!(secret_file(&live), second);
    seen.daemon(&live);

    // The sensitive variable is in the container's environment, and nowhere else.
    let (inspect, env) = inspect_without_env(&live.object("api-1"));
    assert!(env.contains(&format!("API_KEY={key}")), "{env:?}");
    for (place, text) in &mut seen.0 {
        if place.starts_with("docker container inspect") {
            *text = text.replace(&format!("API_KEY={key}"), "API_KEY=(set)");
        }
    }
    seen.add("api-1 inspected without its environment", inspect);

    seen.run(&live, "destroy", &["--auto-approve"], 0);
    seen.assert_nowhere(&first);
    seen.assert_nowhere(&second);
    seen.assert_nowhere(&key);
    assert!(
        seen.0.iter().any(|(_, text)| text.contains("(sensitive)")),
        "the plans show the secret as (sensitive)"
    );
}
