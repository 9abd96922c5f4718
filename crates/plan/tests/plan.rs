//! Actions and their reasons, and how plans render.

use indexmap::IndexMap;
use serde_json::json;
use stack_language::Address;
use stack_language::schema::builtin;
use stack_plan::{Action, Kept, Plan, PlannedFetch, Reason, diff, human, markdown};
use stack_provider::{Config, Desired, Drift, Fetch, Live, Setting};

fn config(fields: &[(&str, serde_json::Value)]) -> Config {
    Config(
        fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Setting::Plain(value.clone())))
            .collect(),
    )
}

fn desired(kind: &str, name: &str, config: Config) -> Desired {
    let kind = builtin().kind(kind).expect("a built-in kind");
    Desired {
        address: Address::new(&[], kind.name, name),
        kind,
        name: format!("shop_{name}"),
        config,
        outputs: IndexMap::new(),
        external: false,
        payload: None,
    }
}

fn live(desired: &Desired, config: Config) -> Live {
    Live {
        address: desired.address.clone(),
        kind: desired.kind.name,
        name: desired.name.clone(),
        config,
        drift: Vec::new(),
        state: "running".to_owned(),
        healthy: Some(true),
    }
}

fn api(replicas: i64, image: &str) -> Config {
    config(&[
        ("image", json!(image)),
        ("replicas", json!(replicas)),
        ("env", json!({"LOG": "info", "REDIS_URL": "redis://cache:6379"})),
    ])
}

#[test]
fn unchanged_objects_need_nothing() {
    let want = desired("service", "api", api(2, "shop/api:v1"));
    let have = live(&want, api(2, "shop/api:v1"));
    let plan = diff(Some(&want), Some(&have)).expect("a plan");
    assert_eq!(plan.action, Action::NoChange);
    assert!(plan.changes.is_empty() && plan.reasons.is_empty());
}

#[test]
fn in_place_fields_update_and_others_replace() {
    let want = desired("service", "api", api(3, "shop/api:v1"));
    let plan = diff(Some(&want), Some(&live(&want, api(2, "shop/api:v1")))).expect("a plan");
    assert_eq!(plan.action, Action::Update);
    assert_eq!(plan.reasons, [Reason::Changed]);

    let want = desired("service", "api", api(3, "shop/api:v2"));
    let plan = diff(Some(&want), Some(&live(&want, api(2, "shop/api:v1")))).expect("a plan");
    assert_eq!(plan.action, Action::Replace);
    assert_eq!(
        plan.reasons,
        [Reason::ForcesReplacement {
            field: "image".to_owned()
        }]
    );
    assert_eq!(plan.changes.len(), 2);
}

#[test]
fn drift_is_repaired_and_removed_objects_deleted() {
    let want = desired("service", "api", api(2, "shop/api:v1"));
    let mut have = live(&want, api(2, "shop/api:v1"));
    have.drift.push(Drift {
        field: "replicas".to_owned(),
        expected: "2 running".to_owned(),
        actual: "1 running".to_owned(),
    });
    let plan = diff(Some(&want), Some(&have)).expect("a plan");
    assert_eq!(
        (plan.action, plan.reasons.clone()),
        (Action::Update, vec![Reason::Drift])
    );

    // What only drifted was not changed in the files.
    let mut have = live(&want, api(1, "shop/api:v1"));
    have.drift.push(Drift {
        field: "replicas".to_owned(),
        expected: "2".to_owned(),
        actual: "1".to_owned(),
    });
    let plan = diff(Some(&want), Some(&have)).expect("a plan");
    assert_eq!(
        (plan.action, plan.reasons.clone(), plan.changes.len()),
        (Action::Update, vec![Reason::Drift], 1)
    );

    let plan = diff(None, Some(&have)).expect("a plan");
    assert_eq!(
        (plan.action, plan.reasons),
        (Action::Delete, vec![Reason::RemovedFromFiles])
    );
    assert!(diff(None, None).is_none());
}

#[test]
fn sensitive_values_never_render() {
    let mut secret_env = api(2, "shop/api:v1");
    secret_env.0.insert(
        "env".to_owned(),
        Setting::sensitive("shop/service.api/env", b"{\"TOKEN\":\"hunter2\"}"),
    );
    let want = desired("service", "api", secret_env);
    let plan = Plan::new(
        "shop".to_owned(),
        None,
        vec![diff(Some(&want), Some(&live(&want, api(2, "shop/api:v1")))).expect("a plan")],
    );
    for rendered in [human(&plan), markdown(&plan), plan.to_json()] {
        assert!(!rendered.contains("hunter2"), "{rendered}");
        assert!(rendered.contains("sensitive"), "{rendered}");
    }
}

fn sample() -> Plan {
    let network = desired("network", "backend", config(&[("driver", json!("bridge"))]));
    let api_now = desired("service", "api", api(3, "shop/api:v2"));
    let cache = desired(
        "service",
        "cache",
        config(&[("image", json!("shop/cache")), ("replicas", json!(1))]),
    );
    let mut worker = desired(
        "service",
        "worker",
        config(&[("command", json!(["work", "--queue", "default"]))]),
    );
    worker
        .config
        .0
        .insert("replicas".to_owned(), Setting::Plain(json!(2)));
    let old_volume = desired("volume", "old", config(&[]));
    let front = desired("network", "front", config(&[("internal", json!(true))]));
    let web = desired("service", "web", config(&[("image", json!("shop/web"))]));
    let mut web_plan = diff(Some(&web), Some(&live(&web, web.config.clone())));
    if let Some(planned) = &mut web_plan {
        planned.action = Action::Replace;
        planned.reasons = vec![Reason::DependencyReplaced {
            dependency: front.address.clone(),
        }];
    }
    let mut plan = Plan::new(
        "shop".to_owned(),
        Some("production".to_owned()),
        [
            diff(Some(&network), None),
            diff(
                Some(&front),
                Some(&live(&front, config(&[("internal", json!(false))]))),
            ),
            web_plan,
            diff(Some(&api_now), Some(&live(&api_now, api(2, "shop/api:v1")))),
            diff(Some(&cache), Some(&live(&cache, cache.config.clone()))),
            diff(
                Some(&worker),
                Some(&live(
                    &worker,
                    config(&[
                        ("command", json!(["work", "--queue", "low"])),
                        ("replicas", json!(1)),
                    ]),
                )),
            ),
            diff(None, Some(&live(&old_volume, config(&[])))),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    plan.kept.push(Kept {
        address: Address::new(&[], "volume", "data"),
        kind: "volume".to_owned(),
    });
    plan.fetches.push(PlannedFetch {
        fetch: Fetch {
            item: "registry.example.com/shop/web:2".to_owned(),
            source: "registry.example.com".to_owned(),
        },
        needed_by: vec![web.address.clone()],
    });
    plan
}

#[test]
fn renders_for_a_terminal() {
    insta::assert_snapshot!(human(&sample()));
}

#[test]
fn renders_for_a_pull_request() {
    insta::assert_snapshot!(markdown(&sample()));
}

#[test]
fn renders_as_json() {
    insta::assert_snapshot!(sample().to_json());
}
