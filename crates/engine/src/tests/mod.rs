//! The engine against an in-memory provider: planning, the parallel walk,
//! failures, waits, deletions and destroy.

mod fake;

use std::time::Duration;

use fake::{World, load, scope};
use stack_plan::{Action, Reason};
use stack_provider::ProviderError;

use crate::{Outcome, Report, Silent, apply, apply_until, destroy, plan};

const SHOP: &str = r#"
network "backend"
service "db" {
    image "postgres"
    network "backend"
    probe {
        exec "pg_isready"
    }
}
service "api" {
    image "api"
    network "backend"
    depends-on "db" condition="healthy"
}
service "worker" {
    image "worker"
}
"#;

fn actions(prepared: &crate::Prepared) -> Vec<(String, Action)> {
    prepared
        .plan
        .resources
        .iter()
        .map(|resource| (resource.address.to_string(), resource.action))
        .collect()
}

fn outcomes(report: &Report) -> Vec<(String, Outcome)> {
    report
        .entries
        .iter()
        .map(|entry| (entry.address.to_string(), entry.outcome.clone()))
        .collect()
}

async fn apply_stack(world: &std::sync::Arc<World>, kdl: &str) -> Report {
    let (stack, graph) = load(kdl);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    apply(&providers, &scope(), &prepared, &graph, &Silent).await
}

#[tokio::test]
async fn plans_every_resource_in_graph_order_then_nothing_once_applied() {
    let world = World::new(Duration::ZERO);
    let providers = world.providers();
    let (stack, graph) = load(SHOP);
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert_eq!(
        actions(&prepared),
        [
            ("network.backend".to_owned(), Action::Create),
            ("service.worker".to_owned(), Action::Create),
            ("service.db".to_owned(), Action::Create),
            ("service.api".to_owned(), Action::Create),
        ]
    );
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.done().count(), 4);

    let again = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert!(!again.plan.has_changes(), "{:?}", again.plan);
    assert_eq!(again.live_fingerprint(), prepared_fingerprint_after(&world).await);
}

/// The live fingerprint of a fresh plan of SHOP against the world as it is.
async fn prepared_fingerprint_after(world: &std::sync::Arc<World>) -> String {
    let (stack, graph) = load(SHOP);
    plan(&world.providers(), &scope(), &stack, &graph, &[])
        .await
        .unwrap()
        .live_fingerprint()
}

#[tokio::test]
async fn independent_resources_overlap_and_dependents_wait_for_them() {
    let world = World::new(Duration::from_millis(60));
    let report = apply_stack(&world, SHOP).await;
    assert!(report.succeeded(), "{report:?}");
    let network = world.call("create", "network.backend");
    let worker = world.call("create", "service.worker");
    let db = world.call("create", "service.db");
    let healthy = world.call("wait-healthy", "service.db");
    let api = world.call("create", "service.api");
    assert!(
        worker.start < network.end,
        "worker and network overlap: {:?}",
        world.calls()
    );
    assert!(db.start >= network.end, "db needs the network");
    assert!(
        healthy.start >= db.end && api.start >= healthy.end,
        "api waits until db is healthy"
    );
    assert!(worker.end < api.start, "the worker did not wait for anything");
}

#[tokio::test]
async fn a_failure_skips_its_dependents_and_lets_unrelated_branches_finish() {
    let world = World::new(Duration::from_millis(5));
    world.failing.lock().unwrap().insert("service.db".to_owned());
    let report = apply_stack(&world, SHOP).await;
    assert_eq!(
        outcomes(&report),
        [
            ("network.backend".to_owned(), Outcome::Done),
            (
                "service.db".to_owned(),
                Outcome::Failed(ProviderError::new("service.db exploded").with_hint("try again"))
            ),
            (
                "service.api".to_owned(),
                Outcome::Skipped {
                    upstream: stack_language::Address::new(&[], "service", "db")
                }
            ),
            ("service.worker".to_owned(), Outcome::Done),
        ]
    );
    assert!(!report.succeeded());
    assert_eq!(world.addresses(), ["network.backend", "service.worker"]);
}

#[tokio::test]
async fn a_failed_wait_fails_the_dependent_with_the_reason() {
    let world = World::new(Duration::ZERO);
    world.unhealthy.lock().unwrap().insert("service.db".to_owned());
    let report = apply_stack(&world, SHOP).await;
    let api = report
        .entries
        .iter()
        .find(|entry| entry.address.to_string() == "service.api")
        .unwrap();
    assert_eq!(
        api.outcome,
        Outcome::Failed(
            ProviderError::new("service.db did not become healthy: its health check failed 3 times")
                .with_hint("see its logs")
        )
    );
    // db itself fails too, at the check of what was created.
    assert_eq!(report.failed().count(), 2);
}

#[tokio::test]
async fn what_was_created_must_be_healthy_even_when_nothing_waits_for_it() {
    let world = World::new(Duration::ZERO);
    world
        .unhealthy
        .lock()
        .unwrap()
        .insert("service.worker".to_owned());
    let report = apply_stack(&world, SHOP).await;
    let worker = report
        .entries
        .iter()
        .find(|entry| entry.address.to_string() == "service.worker")
        .unwrap();
    assert_eq!(
        worker.outcome,
        Outcome::Failed(ProviderError::new("its health check failed 3 times").with_hint("see its logs"))
    );
    assert_eq!(report.failed().count(), 1, "{report:?}");
    assert_eq!(report.done().count(), 3, "the other branches finish");
    // db was waited for by api already: it is not waited for again.
    let db_waits = world
        .calls()
        .iter()
        .filter(|call| call.what == "wait-healthy" && call.address == "service.db")
        .count();
    assert_eq!(db_waits, 1);
}

#[tokio::test]
async fn changes_update_in_place_or_replace_by_the_schema() {
    let world = World::new(Duration::ZERO);
    apply_stack(&world, SHOP).await;
    let changed = SHOP
        .replace("image \"worker\"", "image \"worker\"\n    replicas 3")
        .replace("image \"postgres\"", "image \"postgres:16\"");
    let (stack, graph) = load(&changed);
    let prepared = plan(&world.providers(), &scope(), &stack, &graph, &[])
        .await
        .unwrap();
    let action = |address: &str| {
        prepared
            .plan
            .resources
            .iter()
            .find(|resource| resource.address.to_string() == address)
            .map(|resource| (resource.action, resource.reasons.clone()))
            .unwrap()
    };
    assert_eq!(action("service.worker"), (Action::Update, vec![Reason::Changed]));
    assert_eq!(
        action("service.db"),
        (
            Action::Replace,
            vec![Reason::ForcesReplacement {
                field: "image".to_owned()
            }]
        )
    );
    assert_eq!(action("service.api").0, Action::NoChange);
}

#[tokio::test]
async fn replacing_what_dependents_hold_replaces_them_around_it() {
    let world = World::new(Duration::from_millis(5));
    apply_stack(&world, SHOP).await;
    let changed = SHOP.replacen(
        "network \"backend\"",
        "network \"backend\" {\n    internal #true\n}",
        1,
    );
    let (stack, graph) = load(&changed);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    let held = |address: &str| {
        let planned = prepared
            .plan
            .resources
            .iter()
            .find(|resource| resource.address.to_string() == address)
            .unwrap();
        (planned.action, planned.reasons.clone())
    };
    let backend = Reason::DependencyReplaced {
        dependency: stack_language::Address::new(&[], "network", "backend"),
    };
    assert_eq!(held("service.db"), (Action::Replace, vec![backend.clone()]));
    assert_eq!(held("service.api"), (Action::Replace, vec![backend]));
    assert_eq!(held("service.worker").0, Action::NoChange);

    world.calls.lock().unwrap().clear();
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    let network_deleted = world.call("delete", "network.backend");
    let network_created = world.call("create", "network.backend");
    for service in ["service.db", "service.api"] {
        assert!(
            world.call("delete", service).end <= network_deleted.start,
            "{:?}",
            world.log()
        );
        assert!(
            world.call("create", service).start >= network_created.end,
            "{:?}",
            world.log()
        );
    }
    let again = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert!(!again.plan.has_changes(), "{:?}", again.plan);
}

#[tokio::test]
async fn what_left_the_files_goes_before_a_replaced_network_it_holds() {
    let world = World::new(Duration::from_millis(5));
    apply_stack(&world, SHOP).await;
    // `api` leaves the files as its network is replaced.
    let changed = SHOP
        .replacen("network \"backend\"", "network \"backend\" {\n    internal #true\n}", 1)
        .replace(
            "service \"api\" {\n    image \"api\"\n    network \"backend\"\n    depends-on \"db\" condition=\"healthy\"\n}\n",
            "",
        );
    let (stack, graph) = load(&changed);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert!(actions(&prepared).contains(&("service.api".to_owned(), Action::Delete)));
    world.calls.lock().unwrap().clear();
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(
        world.call("delete", "service.api").end <= world.call("delete", "network.backend").start,
        "{:?}",
        world.log()
    );
    assert_eq!(
        world.addresses().len(),
        3,
        "network, db and worker: {:?}",
        world.addresses()
    );
}

#[tokio::test]
async fn objects_that_left_the_files_are_deleted_last_users_first() {
    let world = World::new(Duration::from_millis(5));
    apply_stack(&world, SHOP).await;
    let remaining = "service \"worker\" {\n    image \"worker\"\n    replicas 2\n}\n";
    let (stack, graph) = load(remaining);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert_eq!(
        actions(&prepared),
        [
            ("service.worker".to_owned(), Action::Update),
            // api names db in its recorded `depends-on`: it goes first.
            ("service.api".to_owned(), Action::Delete),
            ("service.db".to_owned(), Action::Delete),
            ("network.backend".to_owned(), Action::Delete),
        ]
    );
    world.calls.lock().unwrap().clear();
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    let network = world.call("delete", "network.backend");
    let update = world.call("update", "service.worker");
    let api = world.call("delete", "service.api");
    let db = world.call("delete", "service.db");
    assert!(api.end <= db.start, "api goes before what it depends on");
    assert!(db.end <= network.start, "db goes before its network");
    assert!(api.start >= update.end, "deletions come last");
    assert_eq!(world.addresses(), ["service.worker"]);
}

#[tokio::test]
async fn prevent_destroy_fails_a_plan_that_would_delete_or_replace() {
    let world = World::new(Duration::ZERO);
    let protected = "network \"backend\" {\n    prevent-destroy #true\n}\n";
    apply_stack(&world, protected).await;

    let (stack, graph) = load("service \"worker\" {\n    image \"worker\"\n}\n");
    let problems = plan(&world.providers(), &scope(), &stack, &graph, &[])
        .await
        .unwrap_err();
    let messages: Vec<String> = problems.iter().map(|problem| problem.message.clone()).collect();
    assert_eq!(
        messages,
        ["`network.backend` is no longer in the files, but it has `prevent-destroy #true`"]
    );

    let (stack, graph) = load("network \"backend\" {\n    internal #true\n    prevent-destroy #true\n}\n");
    let problems = plan(&world.providers(), &scope(), &stack, &graph, &[])
        .await
        .unwrap_err();
    let problem = problems.iter().next().unwrap();
    assert_eq!(problem.code, "stack::prevent_destroy");
    assert!(
        problem
            .message
            .contains("`network.backend` must be replaced (`internal`"),
        "{}",
        problem.message
    );
    assert!(
        world
            .calls()
            .iter()
            .all(|call| call.what == "create" || call.what.starts_with("wait-")),
        "nothing was touched"
    );
}

#[tokio::test]
async fn destroy_deletes_users_first_keeps_kept_kinds_and_honours_prevent_destroy() {
    let world = World::new(Duration::from_millis(5));
    let kdl = format!("{SHOP}\nvolume \"data\"\n");
    apply_stack(&world, &kdl).await;
    let (stack, graph) = load(&kdl);
    let providers = world.providers();
    let prepared = destroy(&providers, &scope(), &stack, &graph, &["volume"])
        .await
        .unwrap();
    assert_eq!(
        prepared
            .kept
            .iter()
            .map(|live| live.address.to_string())
            .collect::<Vec<_>>(),
        ["volume.data"]
    );
    assert!(
        prepared
            .plan
            .resources
            .iter()
            .all(|resource| resource.reasons == [Reason::Destroy])
    );
    let order: Vec<String> = actions(&prepared)
        .into_iter()
        .map(|(address, _)| address)
        .collect();
    let position = |address: &str| order.iter().position(|item| item == address).unwrap();
    assert!(position("service.api") < position("service.db"), "{order:?}");
    assert!(position("service.db") < position("network.backend"), "{order:?}");
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(world.addresses(), ["volume.data"]);

    let protected = "network \"backend\" {\n    prevent-destroy #true\n}\nservice \"worker\" {\n    image \"worker\"\n}\n";
    apply_stack(&world, protected).await;
    let (stack, graph) = load(protected);
    let problems = destroy(&providers, &scope(), &stack, &graph, &[])
        .await
        .unwrap_err();
    assert_eq!(problems.iter().next().unwrap().code, "stack::prevent_destroy");
    assert_eq!(
        world.addresses(),
        ["network.backend", "service.worker"],
        "nothing was removed"
    );
}

#[tokio::test]
async fn a_failed_deletion_keeps_what_its_users_need() {
    let world = World::new(Duration::ZERO);
    apply_stack(&world, SHOP).await;
    world.failing.lock().unwrap().insert("service.db".to_owned());
    let (stack, graph) = load(SHOP);
    let providers = world.providers();
    let prepared = destroy(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    let network = report
        .entries
        .iter()
        .find(|entry| entry.address.to_string() == "network.backend")
        .unwrap();
    assert!(
        matches!(&network.outcome, Outcome::Skipped { upstream } if upstream.to_string() == "service.db")
    );
    assert_eq!(world.addresses(), ["network.backend", "service.db"]);
}

#[tokio::test]
async fn an_interrupt_lets_running_work_finish_and_starts_nothing_new() {
    let world = World::new(Duration::from_millis(80));
    let (stack, graph) = load(SHOP);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    let stop = tokio::time::sleep(Duration::from_millis(20));
    let report = apply_until(&providers, &scope(), &prepared, &graph, &Silent, stop).await;
    assert!(report.interrupted);
    assert_eq!(
        outcomes(&report),
        [
            ("network.backend".to_owned(), Outcome::Done),
            ("service.db".to_owned(), Outcome::NotStarted),
            ("service.api".to_owned(), Outcome::NotStarted),
            ("service.worker".to_owned(), Outcome::Done),
        ]
    );
    // The next apply completes the rest.
    let rest = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert_eq!(rest.plan.summary.create, 2);
}

#[tokio::test]
async fn a_change_on_the_daemon_changes_the_live_fingerprint() {
    let world = World::new(Duration::ZERO);
    apply_stack(&world, SHOP).await;
    let before = prepared_fingerprint_after(&world).await;
    world
        .objects
        .lock()
        .unwrap()
        .shift_remove(&stack_language::Address::new(&[], "service", "worker"));
    assert_ne!(prepared_fingerprint_after(&world).await, before);
}

#[tokio::test]
async fn images_the_host_lacks_are_fetched_before_any_change() {
    let world = World::new(Duration::from_millis(5));
    world.missing_images.lock().unwrap().insert("postgres".to_owned());
    let (stack, graph) = load(SHOP);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    let fetches: Vec<(String, Vec<String>)> = prepared
        .plan
        .fetches
        .iter()
        .map(|planned| {
            let needed_by = planned.needed_by.iter().map(ToString::to_string).collect();
            (planned.fetch.item.clone(), needed_by)
        })
        .collect();
    assert_eq!(fetches, [("postgres".to_owned(), vec!["service.db".to_owned()])]);
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    let fetch = world.call("fetch", "fetch.postgres");
    assert!(
        world
            .calls()
            .iter()
            .filter(|call| call.what != "fetch")
            .all(|call| call.start >= fetch.end),
        "nothing changes before the fetch ends: {:?}",
        world.log()
    );
}

#[tokio::test]
async fn a_failed_fetch_fails_what_needs_it_and_changes_nothing() {
    let world = World::new(Duration::ZERO);
    world.missing_images.lock().unwrap().insert("postgres".to_owned());
    world.unfetchable.lock().unwrap().insert("postgres".to_owned());
    let report = apply_stack(&world, SHOP).await;
    assert_eq!(
        outcomes(&report),
        [
            ("network.backend".to_owned(), Outcome::NotStarted),
            ("service.worker".to_owned(), Outcome::NotStarted),
            (
                "service.db".to_owned(),
                Outcome::Failed(ProviderError::new("pulling postgres failed: unauthorized"))
            ),
            ("service.api".to_owned(), Outcome::NotStarted),
        ]
    );
    assert!(world.addresses().is_empty(), "{:?}", world.log());
    assert_eq!(world.log(), ["fetch fetch.postgres"]);
}

#[tokio::test]
async fn dependents_are_planned_again_with_the_outputs_applying_settled() {
    let world = World::new(Duration::ZERO);
    world.settling.lock().unwrap().insert("image.app".to_owned());
    let kdl = "image \"app\" {\n    context \".\"\n}\nservice \"web\" {\n    image \"${image.app}\"\n}\n";
    let (stack, graph) = load(kdl);
    let providers = world.providers();
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    let planned_image = |prepared: &crate::Prepared| {
        let web = prepared.desired(&stack_language::Address::new(&[], "service", "web"));
        web.and_then(|web| web.config.get("image").cloned())
    };
    assert_eq!(
        planned_image(&prepared),
        Some(stack_provider::Setting::Plain(serde_json::json!(
            "shop_app:planned"
        )))
    );
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    assert!(report.succeeded(), "{report:?}");
    let created = world.objects.lock().unwrap()[&stack_language::Address::new(&[], "service", "web")]
        .config
        .get("image")
        .cloned();
    assert_eq!(
        created,
        Some(stack_provider::Setting::Plain(serde_json::json!(
            "shop_app:settled"
        )))
    );
}

#[tokio::test]
async fn a_kind_that_cannot_be_read_fails_only_its_resources_and_the_next_apply_repairs() {
    let world = World::new(Duration::ZERO);
    world.unreadable.lock().unwrap().insert("network");
    let providers = world.providers();
    let (stack, graph) = load(SHOP);
    let prepared = plan(&providers, &scope(), &stack, &graph, &[]).await.unwrap();
    assert_eq!(
        actions(&prepared),
        [
            ("network.backend".to_owned(), Action::Unknown),
            ("service.worker".to_owned(), Action::Create),
            ("service.db".to_owned(), Action::Create),
            ("service.api".to_owned(), Action::Create),
        ]
    );
    let not_planned = "not planned: the provider exited (exit status: 4)";
    assert_eq!(
        prepared.plan.resources[0].reasons,
        [Reason::ProviderFailed {
            message: not_planned.to_owned()
        }]
    );
    let problems: Vec<&str> = prepared
        .problems
        .iter()
        .map(|problem| problem.message.as_str())
        .collect();
    assert_eq!(problems, [format!("network.backend: {not_planned}")]);

    // The apply fails it, skips what depends on it, and does the rest.
    let report = apply(&providers, &scope(), &prepared, &graph, &Silent).await;
    let network = stack_language::Address::new(&[], "network", "backend");
    assert_eq!(
        outcomes(&report),
        [
            (
                "network.backend".to_owned(),
                Outcome::Failed(ProviderError::unavailable(not_planned))
            ),
            (
                "service.db".to_owned(),
                Outcome::Skipped {
                    upstream: network.clone()
                }
            ),
            ("service.api".to_owned(), Outcome::Skipped { upstream: network }),
            ("service.worker".to_owned(), Outcome::Done),
        ]
    );
    assert_eq!(world.addresses(), ["service.worker"]);

    // Once it can be read again, the next apply does what was left.
    world.unreadable.lock().unwrap().clear();
    let report = apply_stack(&world, SHOP).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.done().count(), 3);
}

#[tokio::test]
async fn an_external_object_its_provider_cannot_check_is_not_planned_and_one_missing_stops_the_plan() {
    let kdl = "network \"shared\" {\n    external #true\n}\nservice \"worker\" {\n    image \"worker\"\n}\n";
    let world = World::new(Duration::ZERO);
    let (stack, graph) = load(kdl);
    world.unchecked.lock().unwrap().insert(
        "network.shared".to_owned(),
        ProviderError::unavailable("no answer to `read_external` within 1s"),
    );
    let prepared = plan(&world.providers(), &scope(), &stack, &graph, &[])
        .await
        .unwrap();
    assert_eq!(
        actions(&prepared),
        [
            ("network.shared".to_owned(), Action::Unknown),
            ("service.worker".to_owned(), Action::Create),
        ]
    );

    // A provider's answer that the object is not there is the user's to fix: no plan.
    world.unchecked.lock().unwrap().insert(
        "network.shared".to_owned(),
        ProviderError::new("network `shop_shared` does not exist"),
    );
    let problems = plan(&world.providers(), &scope(), &stack, &graph, &[])
        .await
        .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|problem| problem.message.contains("does not exist")),
        "{problems:?}"
    );
}

/// A dependency with a new object under a new name (a swarm secret's new version) stands for
/// the fields that only follow it; a field changed in the files keeps its own reason.
#[test]
fn fields_that_only_follow_a_renamed_dependency_say_so() {
    use indexmap::IndexMap;
    use stack_language::Address;
    use stack_plan::{FieldChange, ResourcePlan};
    use stack_provider::{Config, Desired, Live, Setting};

    let (_, graph) = load(
        "secret \"token\" {\n    from-env \"TOKEN\"\n}\nservice \"api\" {\n    image \"api\"\n    secret \"token\"\n}\n",
    );
    let token = Address::new(&[], "secret", "token");
    let api = Address::new(&[], "service", "api");
    let kind = stack_language::schema::builtin().kind("secret").unwrap();
    let desired = IndexMap::from([(
        token.clone(),
        Desired {
            address: token.clone(),
            kind,
            name: "shop_token_new".to_owned(),
            config: Config::default(),
            outputs: IndexMap::new(),
            external: false,
            source: None,
            payload: None,
        },
    )]);
    let live = IndexMap::from([(
        token.clone(),
        Live {
            address: token.clone(),
            kind: "secret",
            name: "shop_token_old".to_owned(),
            config: Config::default(),
            drift: Vec::new(),
            state: String::new(),
            healthy: None,
        },
    )]);
    let change = |field: &str, before: &str, after: &str| FieldChange {
        field: field.to_owned(),
        before: Some(Setting::Plain(serde_json::json!([{ "name": before }]))),
        after: Some(Setting::Plain(serde_json::json!([{ "name": after }]))),
        effect: stack_language::schema::Effect::Replace,
    };
    let planned = |changes: Vec<FieldChange>| ResourcePlan {
        address: api.clone(),
        kind: "service".to_owned(),
        action: Action::Replace,
        reasons: changes
            .iter()
            .map(|change| Reason::ForcesReplacement {
                field: change.field.clone(),
            })
            .collect(),
        changes,
        drift: Vec::new(),
    };

    let mut following = planned(vec![change("secret", "shop_token_old", "shop_token_new")]);
    crate::prepare::follows_new_objects(&mut following, &graph, &desired, &live);
    assert_eq!(
        following.reasons,
        [Reason::DependencyChanged {
            dependency: token.clone()
        }]
    );

    let mut also_changed = planned(vec![
        change("secret", "shop_token_old", "shop_token_new"),
        change("image", "api:1", "api:2"),
    ]);
    let before = also_changed.reasons.clone();
    crate::prepare::follows_new_objects(&mut also_changed, &graph, &desired, &live);
    assert_eq!(also_changed.reasons, before);
}
