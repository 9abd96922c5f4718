//! Named volume data survives every change of the services that mount it: an in-place update,
//! a replacement, a start-first rollout, and `stack destroy` without `--volumes` followed by a
//! new apply.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use support::LiveStack;

fn shop(version: &str, memory: &str, order: &str) -> String {
    format!(
        r#"
image "demo" {{
    context "app"
}}
volume "data"
network "backend"
service "api" {{
    image "${{image.demo}}"
    replicas 2
    network "backend"
    volume "data" target="/data"
    init #true
    stop-grace-period "1s"
    env {{
        DEMO_VERSION "{version}"
    }}
    resources {{
        memory "{memory}"
    }}
    probe {{
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "200ms"
    }}
    update {{
        order "{order}"
    }}
}}
"#
    )
}

/// Applies `text`, checks the data, and that the change did what `expect` says.
fn apply_and_keep(live: &LiveStack, text: &str, expect: &str) {
    live.write("stack.kdl", text);
    live.run("apply", &["--auto-approve"])
        .success()
        .stdout_contains(expect);
    live.run("plan", &["--detailed-exitcode"]).success();
    for replica in ["api-1", "api-2"] {
        live.assert_data(replica, "orders", "42 orders");
    }
}

#[test]
fn volume_data_survives_updates_replacements_rollouts_and_destroy() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write("stack.kdl", shop("v1", "64MiB", "stop-first"));
    live.run("apply", &["--auto-approve"]).success();
    live.put_data("api-1", "orders", "42 orders");
    let first = live.container_ids("api");

    apply_and_keep(&live, &shop("v1", "96MiB", "stop-first"), "~ service.api updated");
    assert_eq!(
        live.container_ids("api"),
        first,
        "an in-place update keeps the containers"
    );

    apply_and_keep(
        &live,
        &shop("v2", "96MiB", "stop-first"),
        "-/+ service.api replaced",
    );
    let replaced = live.container_ids("api");
    assert!(
        replaced.iter().all(|id| !first.contains(id)),
        "the containers were replaced"
    );

    // A new version with `order "start-first"` rolls that way.
    apply_and_keep(
        &live,
        &shop("v3", "96MiB", "start-first"),
        "-/+ service.api replaced",
    );
    assert!(live.container_ids("api").iter().all(|id| !replaced.contains(id)));

    live.run("destroy", &["--auto-approve"])
        .success()
        .stdout_contains("Kept (pass --volumes");
    assert_eq!(live.objects("container"), Vec::<String>::new());
    assert_eq!(live.objects("volume"), [live.object("data")]);
    apply_and_keep(
        &live,
        &shop("v3", "96MiB", "start-first"),
        "+ service.api created",
    );
}
