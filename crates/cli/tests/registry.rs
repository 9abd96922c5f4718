//! Pulling and pushing against a real registry (Debian's `docker-registry` on 127.0.0.1): an
//! image a service names and the host lacks is pulled before anything changes, with the
//! credentials of the stack's `registry` block or of the Docker config; a failed pull names the
//! image, the registry and why, and changes nothing.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use support::LiveStack;
use support::registry::{Registry, forget};

const USER: &str = "ci";
const PASSWORD: &str = "pw-4f9a1c7e";

/// A network and a service running `image`: a failed pull must leave both uncreated.
fn web(image: &str) -> String {
    format!("network \"backend\"\n\nservice \"web\" {{\n    image \"{image}\"\n    network \"backend\"\n}}\n")
}

/// [`web`], with the credentials of `registry` from the sensitive variable `registry-password`.
fn web_with_login(registry: &Registry, image: &str) -> String {
    format!(
        "variable \"registry-password\" type=\"string\" sensitive=#true\n\n\
         registry \"{}\" {{\n    username \"{USER}\"\n    password \"${{var.registry-password}}\"\n}}\n\n{}",
        registry.host,
        web(image)
    )
}

/// A stack whose runs read no Docker config but `dir`'s.
fn live_stack_with_config(dir: &std::path::Path) -> Option<LiveStack> {
    let mut live = LiveStack::new()?;
    live.set_env("DOCKER_CONFIG", &dir.display().to_string());
    Some(live)
}

#[test]
fn an_image_the_host_lacks_is_pulled_before_anything_changes() {
    let Some(registry) = Registry::start() else { return };
    let Some(live) = live_stack_with_config(registry.dir()) else {
        return;
    };
    let image = registry.image("demo:1");
    registry.seed(&image, None, &live.name);
    live.write("stack.kdl", web(&image));

    let plan = live.run("plan", &[]).success();
    assert!(
        plan.stdout.contains(&format!(
            "Pulled first, before anything changes:\n    <= {image} from {}, for service.web",
            registry.host
        )),
        "{}",
        plan.stdout
    );
    let json = live.run("plan", &["--format", "json"]).success();
    assert!(json.stdout.contains("\"fetches\""), "{}", json.stdout);

    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_in_order(&format!("<= {image} pulled"), "+ service.web created");
    assert_eq!(
        live.current_containers(),
        [(live.object("web-1"), "running".to_owned())]
    );
    let replan = live.run("plan", &["--detailed-exitcode"]).success();
    assert!(!replan.stdout.contains("Pulled first"), "{}", replan.stdout);
}

#[test]
fn a_failed_pull_names_the_image_the_registry_and_why_and_changes_nothing() {
    let Some(registry) = Registry::start() else { return };
    let Some(live) = live_stack_with_config(registry.dir()) else {
        return;
    };

    let missing = registry.image("demo:never-pushed");
    live.write("stack.kdl", web(&missing));
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    assert!(
        failed.stdout.contains(&format!(
            "pulling image `{missing}` from registry {} failed: not found",
            registry.host
        )),
        "{}",
        failed.stdout
    );
    assert!(live.containers().is_empty(), "{:?}", live.containers());
    assert!(live.objects("network").is_empty());

    let nowhere = format!("127.0.0.1:{}/demo:1", support::free_port());
    live.write("stack.kdl", web(&nowhere));
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    assert!(failed.stdout.contains("failed: unreachable"), "{}", failed.stdout);
    assert!(live.containers().is_empty());
    assert!(live.objects("network").is_empty());
}

#[test]
fn a_registry_behind_a_login_takes_the_stacks_credentials_or_the_docker_configs() {
    let Some(registry) = Registry::with_login(USER, PASSWORD) else {
        return;
    };
    let Some(mut live) = live_stack_with_config(registry.dir()) else {
        return;
    };
    let image = registry.image("private:1");
    registry.seed(&image, Some((USER, PASSWORD)), &live.name);

    // No credentials anywhere.
    live.write("stack.kdl", web(&image));
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    assert!(
        failed.stdout.contains(&format!(
            "pulling image `{image}` from registry {} failed: unauthorized: the registry asks for credentials, and none were found for it",
            registry.host
        )),
        "{}",
        failed.stdout
    );

    // A wrong password: a clear error, never shown, and the stack untouched.
    live.write("stack.kdl", web_with_login(&registry, &image));
    let failed = live
        .run(
            "apply",
            &["--auto-approve", "--var", "registry-password=wrong-7d1e"],
        )
        .status(1);
    assert!(
        failed
            .stdout
            .contains("failed: unauthorized: the registry refused the credentials"),
        "{}",
        failed.stdout
    );
    assert!(!failed.stdout.contains("wrong-7d1e") && !failed.stderr.contains("wrong-7d1e"));
    assert!(live.containers().is_empty(), "{:?}", live.containers());
    assert!(live.objects("network").is_empty());

    // The right one, from the environment.
    live.set_env("STACK_VAR_registry_password", PASSWORD);
    let json = live.run("plan", &["--format", "json"]).success();
    assert!(!json.stdout.contains(PASSWORD), "{}", json.stdout);
    let applied = live.run("apply", &["--auto-approve"]).success();
    assert!(!applied.stdout.contains(PASSWORD) && !applied.stderr.contains(PASSWORD));
    assert_eq!(
        live.current_containers(),
        [(live.object("web-1"), "running".to_owned())]
    );

    // Without the block, from a credential helper the Docker config names.
    live.run("destroy", &["--auto-approve"]).success();
    forget(&image);
    let helper_dir = registry.dir().join("helpers");
    std::fs::create_dir_all(&helper_dir).unwrap();
    let helper = helper_dir.join("docker-credential-stacktest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\nif [ \"$server\" = \"{}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n  exit 0\nfi\necho 'credentials not found in native keychain'\nexit 1\n",
            registry.host
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = registry.docker_config(
        "helper-config",
        &format!("{{\"credHelpers\": {{\"{}\": \"stacktest\"}}}}", registry.host),
    );
    live.set_env("DOCKER_CONFIG", &config.display().to_string());
    live.set_env(
        "PATH",
        &format!(
            "{}:{}",
            helper_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    live.write("stack.kdl", web(&image));
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains(&format!("<= {image} pulled"));
    assert_eq!(
        live.current_containers(),
        [(live.object("web-1"), "running".to_owned())]
    );
    live.run("destroy", &["--auto-approve"]).success();
    forget(&image);
}

#[test]
fn a_pushed_image_runs_by_digest_and_a_failed_push_is_completed_by_the_next_apply() {
    let Some(registry) = Registry::with_login(USER, PASSWORD) else {
        return;
    };
    let Some(mut live) = live_stack_with_config(registry.dir()) else {
        return;
    };
    let Some(elsewhere) = live_stack_with_config(registry.dir()) else {
        return;
    };
    let repository = registry.image("app");
    live.demo_context("app");
    let image_and_web = format!(
        "image \"app\" {{\n    context \"app\"\n    push \"{repository}\"\n}}\n\n{}",
        web("${image.app}")
    );

    // No credentials: the image is built, its push fails, nothing runs it.
    live.write("stack.kdl", &image_and_web);
    let failed = live.run("apply", &["--auto-approve"]).status(1);
    assert!(
        failed
            .stdout
            .contains(&format!("image.app: pushing image `{repository}:"))
            && failed.stdout.contains("failed: unauthorized"),
        "{}",
        failed.stdout
    );
    assert!(live.containers().is_empty());

    // With them, the next apply pushes it and runs it by its digest.
    live.write(
        "stack.kdl",
        format!(
            "variable \"registry-password\" type=\"string\" sensitive=#true\n\n\
             registry \"{}\" {{\n    username \"{USER}\"\n    password \"${{var.registry-password}}\"\n}}\n\n{image_and_web}",
            registry.host
        ),
    );
    live.set_env("STACK_VAR_registry_password", PASSWORD);
    live.run("plan", &[])
        .success()
        .stdout_contains("~ image.app  will be updated in place");
    live.run("apply", &["--auto-approve"]).success();
    let running = support::docker(&["inspect", "--format", "{{.Config.Image}}", &live.object("web-1")]);
    let digest = running.trim().to_owned();
    assert!(digest.starts_with(&format!("{repository}@sha256:")), "{digest}");
    live.run("plan", &["--detailed-exitcode"])
        .success()
        .stdout_contains("No changes");

    // Another stack runs it by digest on a host that no longer has it: pulled.
    live.run("destroy", &["--auto-approve"]).success();
    assert!(support::docker(&["images", "-q", &digest]).trim().is_empty());
    elsewhere.write(
        "stack.kdl",
        format!(
            "variable \"registry-password\" type=\"string\" sensitive=#true\n\n\
             registry \"{}\" {{\n    username \"{USER}\"\n    password \"${{var.registry-password}}\"\n}}\n\n{}",
            registry.host,
            web(&digest)
        ),
    );
    elsewhere
        .run(
            "apply",
            &[
                "--auto-approve",
                "--var",
                &format!("registry-password={PASSWORD}"),
            ],
        )
        .success()
        .stdout_contains(&format!("<= {digest} pulled"));
    assert_eq!(
        elsewhere.current_containers(),
        [(elsewhere.object("web-1"), "running".to_owned())]
    );
    elsewhere.run("destroy", &["--auto-approve"]).success();
    forget(&digest);
}
