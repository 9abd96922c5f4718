//! Actions and their reasons, and how plans render.

use indexmap::IndexMap;
use serde_json::json;
use stack_language::Address;
use stack_language::schema::builtin;
use stack_plan::{Action, Kept, Plan, PlannedFetch, Reason, diff, human, markdown};
use stack_provider::{Config, Desired, Drift, Fetch, Live, Setting, Source, sensitive_hash};

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
        source: None,
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

/// A sensitive entry as a configuration records it inside a plain value.
fn sensitive(salt: &str, value: &str) -> serde_json::Value {
    json!({ "sensitive": sensitive_hash(salt, value.as_bytes()) })
}

/// A plan with every kind of nested change a review meets.
fn review() -> Plan {
    let env = |token: &str| json!({"LOG": "info", "TOKEN": sensitive("shop/service.api/env/TOKEN", token), "MODE": "fast"});
    let networks = |aliases: serde_json::Value| {
        json!([
            {"name": "shop_backend", "aliases": aliases},
            {"name": "shop_front"},
        ])
    };
    let secret = |version: &str| json!([{"name": "secret.token", "target": "/run/secrets/api-token", "version": version}]);
    let before = config(&[
        ("image", json!("shop/api:v1")),
        ("env", env("old-token")),
        ("network", networks(json!(["api"]))),
        ("restart", json!({"policy": "always"})),
        ("volume", json!([{"source": "shop_data", "target": "/data"}])),
        ("secret", secret("1f2e3d4c5b6a")),
    ]);
    let after = config(&[
        ("image", json!("shop/api:v1")),
        ("env", env("new-token")),
        ("network", networks(json!(["api", "api-v2"]))),
        ("restart", json!({"policy": "on-failure", "max-retries": 5})),
        (
            "volume",
            json!([
                {"source": "shop_data", "target": "/data"},
                {"source": "shop_cache", "target": "/cache", "read-only": true},
            ]),
        ),
        ("secret", secret("9a8b7c6d5e4f")),
    ]);
    let api = desired("service", "api", after);
    let api_live = live(&api, before);
    let admin = desired(
        "service",
        "admin",
        config(&[("image", json!("shop/admin:2.1")), ("env", env("a-token"))]),
    );
    let web = desired(
        "service",
        "web",
        config(&[(
            "probe",
            json!({"http": "http://127.0.0.1:80/health", "interval": "5s"}),
        )]),
    );
    let web_live = live(
        &web,
        config(&[("probe", json!({"http": "http://127.0.0.1:80/", "interval": "5s"}))]),
    );
    let worker = desired("service", "worker", config(&[("replicas", json!(2))]));
    let mut worker_live = live(&worker, worker.config.clone());
    worker_live.drift.push(Drift {
        field: "replica 2".to_owned(),
        expected: "running".to_owned(),
        actual: "exited (137)".to_owned(),
    });
    let mut token = desired("secret", "token", config(&[("from-env", json!("API_TOKEN"))]));
    token.external = true;
    token.source = Some(Source {
        field: "from-env".to_owned(),
        name: "API_TOKEN".to_owned(),
        version: "9a8b7c6d5e4f".to_owned(),
    });
    Plan::new(
        "shop".to_owned(),
        None,
        [
            diff(Some(&token), None),
            diff(Some(&admin), None),
            diff(Some(&api), Some(&api_live)),
            diff(Some(&web), Some(&web_live)),
            diff(Some(&worker), Some(&worker_live)),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )
}

#[test]
fn nested_changes_render_for_a_terminal() {
    insta::assert_snapshot!(human(&review()));
}

#[test]
fn nested_changes_render_for_a_pull_request() {
    insta::assert_snapshot!(markdown(&review()));
}

#[test]
fn nested_sensitive_entries_never_render() {
    let plan = review();
    for rendered in [human(&plan), markdown(&plan)] {
        for hidden in ["a-token", "old-token", "new-token", "pbkdf2"] {
            assert!(!rendered.contains(hidden), "{rendered}");
        }
        assert!(rendered.contains("TOKEN: (sensitive)"), "{rendered}");
    }
    assert!(!plan.to_json().contains("new-token"));
}

#[test]
fn json_plans_fit_their_schema() {
    let mut destroyed = Plan::new("shop".to_owned(), None, Vec::new());
    destroyed.resources.push(stack_plan::ResourcePlan {
        address: Address::new(&["db".to_owned()], "volume", "data"),
        kind: "volume".to_owned(),
        action: Action::Delete,
        reasons: vec![Reason::Destroy],
        changes: Vec::new(),
        drift: Vec::new(),
    });
    for plan in [sample(), review(), destroyed] {
        stack_tests::assert_plan_fits_schema(&plan.to_json());
    }
    // The schema refuses what a plan never holds.
    let mut plan: serde_json::Value = serde_json::from_str(&sample().to_json()).expect("JSON");
    plan["resources"][0]["action"] = json!("explode");
    let refused = std::panic::catch_unwind(|| stack_tests::assert_plan_fits_schema(&plan.to_string()));
    assert!(refused.is_err(), "an unknown action fits the schema");
}
