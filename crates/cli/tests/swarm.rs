//! The Swarm target end to end: chosen by `--target` or by an overlay, refused on a daemon that
//! is no swarm manager, and the kinds it realizes itself (overlay networks, versioned secrets)
//! applied, planned again, rotated, repaired and destroyed on a single-node swarm of the
//! test's own (`support::swarm`), never on the daemon the other tests share.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::seen::random_value;
use support::swarm::TestSwarm;
use support::{LiveStack, docker_available};

const STACK: &str = r#"
network "backend" {
    subnet "10.251.7.0/24"
    labels {
        team "core"
    }
}
secret "token" {
    from-env "SWARM_TEST_TOKEN"
}

overlay "cluster" {
    target "swarm"
}
"#;

/// The stack's objects of one kind (`network`, `secret`) on the test swarm, as
/// `NAME DRIVER` (networks) or `NAME` (secrets), sorted.
fn objects(swarm: &TestSwarm, live: &LiveStack, kind: &str) -> Vec<String> {
    let filter = format!("label=dev.stack.stack={}", live.name);
    let format = match kind {
        "network" => "{{.Name}} {{.Driver}}",
        _ => "{{.Name}}",
    };
    let listed = swarm
        .manager()
        .docker_ok(&[kind, "ls", "--filter", &filter, "--format", format]);
    let mut names: Vec<String> = listed.lines().map(|line| live.redact(line)).collect();
    names.sort();
    names
}

/// The versioned name of the stack's one secret: `[stack]_token_<12 hex digits>`.
fn secret_version(swarm: &TestSwarm, live: &LiveStack) -> String {
    let secrets = objects(swarm, live, "secret");
    let [secret] = secrets.as_slice() else {
        panic!("not one secret: {secrets:?}");
    };
    let version = secret.strip_prefix("[stack]_token_").unwrap_or_default();
    assert!(
        version.len() == 12 && version.chars().all(|c| c.is_ascii_hexdigit()),
        "{secret}"
    );
    version.to_owned()
}

#[test]
fn the_swarm_target_needs_a_manager_and_says_how_to_make_one() {
    let Some(live) = LiveStack::new() else { return };
    live.write("stack.kdl", STACK);
    // The shared daemon is no swarm manager (reading `docker info` changes nothing on it).
    let refused = live
        .run("plan", &["--target", "swarm"])
        .status(1)
        .stderr_contains("docker swarm init --advertise-addr");
    assert!(
        refused
            .stderr
            .contains("the target is `swarm` (--target swarm), but the Docker daemon at ")
            && refused.stderr.contains(" is not part of a swarm"),
        "{}",
        refused.stderr
    );
    // From the overlay of the environment, said so.
    live.run("plan", &["--env", "cluster"]).status(1).stderr_contains(
        "the target is `swarm` (the overlays of environment `cluster` say `target \"swarm\"`)",
    );
    // The command line wins over the overlay; the default is the engine.
    let mut live = live;
    live.set_env("SWARM_TEST_TOKEN", "unused");
    live.run("plan", &["--env", "cluster", "--target", "engine"])
        .success()
        .stdout_contains("network.backend");
    live.run("plan", &[]).success();
    // An unknown target is refused by the command line.
    live.run("plan", &["--target", "kubernetes"])
        .status(2)
        .stderr_contains("[possible values: engine, swarm]");
}

#[test]
fn networks_and_secrets_on_a_single_node_swarm() {
    if !docker_available() {
        return;
    }
    let Some(swarm) = TestSwarm::single_node() else {
        return;
    };
    let (dir, netns) = (swarm.manager().dir.clone(), swarm.manager().name.clone());
    let mut live = LiveStack::new().unwrap();
    live.write("stack.kdl", STACK);
    live.set_env("DOCKER_HOST", &swarm.host());
    let first = random_value("first-token");
    live.set_env("SWARM_TEST_TOKEN", &first);

    // The overlay chooses the swarm; its objects are an overlay network and a secret.
    let applied = live
        .run("apply", &["--env", "cluster", "--auto-approve"])
        .success();
    assert!(!applied.stdout.contains(&first) && !applied.stderr.contains(&first));
    assert_eq!(objects(&swarm, &live, "network"), ["[stack]_backend overlay"]);
    let network = swarm.manager().docker_ok(&[
        "network",
        "inspect",
        &live.object("backend"),
        "--format",
        "{{.Attachable}} {{.Scope}} {{index .Labels \"team\"}}",
    ]);
    assert_eq!(network.trim(), "true swarm core");
    let version = secret_version(&swarm, &live);

    // Planned again, with the target from the command line: nothing to do.
    live.run("plan", &["--target", "swarm", "--detailed-exitcode"])
        .success()
        .stdout_contains("No changes");

    // A new content is a new secret; the old one goes, nothing uses it.
    let second = random_value("second-token");
    live.set_env("SWARM_TEST_TOKEN", &second);
    let plan = live
        .run("plan", &["--target", "swarm", "--detailed-exitcode"])
        .status(2)
        .stdout_contains("secret.token");
    for shown in [&plan.stdout, &plan.stderr] {
        assert!(!shown.contains(&first) && !shown.contains(&second), "{shown}");
    }
    live.run("apply", &["--target", "swarm", "--auto-approve"])
        .success();
    let rotated = secret_version(&swarm, &live);
    assert_ne!(rotated, version);
    live.run("plan", &["--target", "swarm", "--detailed-exitcode"])
        .success();

    // Removed by hand, both are seen missing and made again.
    swarm
        .manager()
        .docker_ok(&["network", "rm", &live.object("backend")]);
    swarm
        .manager()
        .docker_ok(&["secret", "rm", &format!("{}_token_{rotated}", live.name)]);
    live.run("plan", &["--target", "swarm", "--detailed-exitcode"])
        .status(2)
        .stdout_contains("network.backend")
        .stdout_contains("secret.token");
    live.run("apply", &["--target", "swarm", "--auto-approve"])
        .success();
    assert_eq!(objects(&swarm, &live, "network"), ["[stack]_backend overlay"]);
    assert_eq!(secret_version(&swarm, &live), rotated);
    live.run("plan", &["--target", "swarm", "--detailed-exitcode"])
        .success();

    // Destroy leaves nothing of the stack on the swarm.
    live.run("destroy", &["--target", "swarm", "--auto-approve"])
        .success();
    assert_eq!(objects(&swarm, &live, "network"), Vec::<String>::new());
    assert_eq!(objects(&swarm, &live, "secret"), Vec::<String>::new());

    // And the test daemon is gone with its swarm.
    drop(live);
    drop(swarm);
    assert!(!dir.exists(), "{} is left", dir.display());
    assert!(
        !Path::new("/var/run/netns").join(&netns).exists(),
        "{netns} is left"
    );
    let sockets = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&sockets.stdout);
    let prefix = netns.trim_end_matches("-0");
    assert!(!links.contains(&format!(" {prefix}")), "{links}");
}
