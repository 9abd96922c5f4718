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

/// The volumes of the stack's containers named `volume`-type mounts, by name.
fn volume_mounts(container: &str) -> Vec<String> {
    let listed = support::docker(&[
        "inspect",
        "--format",
        "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}",
        container,
    ]);
    listed.split_whitespace().map(str::to_owned).collect()
}

/// An image's `VOLUME` gives each container an anonymous volume: the containers stack removes
/// (a replaced revision, destroy) take theirs with them, and named volumes stay. Compared by
/// the containers' own volumes: other tests make and remove volumes at the same time.
#[test]
fn removed_containers_take_their_anonymous_volumes_with_them() {
    let Some(live) = LiveStack::new() else { return };
    live.demo_context("app");
    live.write(
        "app/Dockerfile",
        "FROM scratch\nCOPY stack-demo /stack-demo\nVOLUME /scratch\nENTRYPOINT [\"/stack-demo\"]\nCMD [\"serve\"]\n",
    );
    let stack = |version: &str| {
        format!(
            "image \"demo\" {{\n    context \"app\"\n}}\nvolume \"data\"\nservice \"api\" {{\n    image \"${{image.demo}}\"\n    \
             volume \"data\" target=\"/data\"\n    init #true\n    env {{\n        DEMO_VERSION \"{version}\"\n    }}\n}}\n"
        )
    };
    live.write("stack.kdl", stack("1"));
    live.run("apply", &["--auto-approve"]).success();
    let named = live.object("data");
    let mut anonymous = Vec::new();
    for (container, _) in live.containers() {
        anonymous.extend(
            volume_mounts(&container)
                .into_iter()
                .filter(|name| *name != named),
        );
    }
    assert_eq!(anonymous.len(), 1, "{anonymous:?}");

    // A replacement: the old revision is kept stopped for a rollback, then removed by the next.
    for version in ["2", "3"] {
        live.write("stack.kdl", stack(version));
        live.run("apply", &["--auto-approve"]).success();
        for (container, _) in live.containers() {
            anonymous.extend(
                volume_mounts(&container)
                    .into_iter()
                    .filter(|name| *name != named),
            );
        }
    }
    anonymous.sort();
    anonymous.dedup();
    assert_eq!(anonymous.len(), 3, "{anonymous:?}");

    live.run("destroy", &["--auto-approve"]).success();
    let left: Vec<&String> = anonymous
        .iter()
        .filter(|name| {
            !support::docker(&["volume", "ls", "-q", "--filter", &format!("name={name}")]).is_empty()
        })
        .collect();
    assert_eq!(left, Vec::<&String>::new(), "anonymous volumes left behind");
    assert_eq!(live.objects("volume"), [named], "the named volume stays");
}
