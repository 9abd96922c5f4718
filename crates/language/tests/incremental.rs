//! A stack checked again after each edit, reusing what the last check found (the files parsed
//! and the resources evaluated), gives what a check from scratch gives: the same diagnostics
//! and the same evaluated resources.

use std::path::{Path, PathBuf};

use stack_diagnostics::Sources;
use stack_language::{Analysis, Buffers, FileCache, Options, analyze, schema};

const STACK: &str = "variable \"tag\" default=\"1\"\nnetwork \"net\"\nservice \"db\" {\n    image \"postgres:${var.tag}\"\n    network \"net\"\n}\n";
const API: &str = "service \"api\" {\n    image \"api:${var.tag}\"\n    env {\n        DB \"${service.db}\"\n        DB_IMAGE \"${service.db.image}\"\n        NET \"${network.net}\"\n    }\n    depends-on \"db\"\n}\n";
const WEB: &str = "service \"web\" {\n    image \"web:1\"\n    env {\n        API \"http://${service.api}:8080\"\n        API_IMAGE \"${service.api.image}\"\n    }\n    network \"net\"\n}\n";
const MODULE: &str = "variable \"network\" type=\"network\"\nservice \"memcached\" {\n    image \"memcached:1\"\n    network \"${var.network}\"\n}\noutput \"host\" \"${service.memcached}\"\n";
const CALL: &str = "use \"./cache\" {\n    network \"net\"\n}\nservice \"worker\" {\n    image \"worker:${var.tag}\"\n    env {\n        CACHE \"${module.cache.host}\"\n    }\n}\n";
const OVERLAY: &str = "overlay \"production\" {\n    service \"web\" {\n        replicas 2\n    }\n}\n";

/// The diagnostics and the resources of every environment, as text to compare.
fn described(analysis: &Analysis, sources: &Sources) -> Vec<String> {
    let diagnostics = analysis.validated.diagnostics.iter().map(|diagnostic| {
        let labels: Vec<String> = diagnostic
            .labels
            .iter()
            .map(|label| {
                let file = sources.get(label.span.file).path().display();
                format!("{file}:{:?} {}", label.span.range(), label.message)
            })
            .collect();
        format!(
            "{} {} {:?} {labels:?}",
            diagnostic.code, diagnostic.message, diagnostic.help
        )
    });
    let resources = analysis.validated.stacks.iter().flat_map(|stack| {
        stack.resources.values().map(move |resource| {
            format!(
                "{:?} {} {:?} {:?} {:?} {:?}",
                stack.environment,
                resource.address,
                resource.span,
                resource.dir,
                resource.fields,
                resource.dependencies
            )
        })
    });
    diagnostics.chain(resources).collect()
}

fn check(root: &Path, buffers: &Buffers, cache: &mut FileCache) -> Vec<String> {
    let mut sources = Sources::new();
    let schema = schema::builtin();
    let analysis = analyze(root, &Options::default(), &schema, &mut sources, buffers, cache);
    described(&analysis, &sources)
}

#[test]
fn a_stack_checked_after_each_edit_is_checked_as_from_scratch() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().canonicalize().expect("the directory's path");
    let file = |name: &str| -> PathBuf { root.join(name) };
    let (call, module) = (file("worker.kdl"), file("cache/module.kdl"));
    // A module is found by its directory on disk; its file is read from the buffers.
    std::fs::create_dir_all(root.join("cache")).expect("the module's directory");
    let (stack, api, web, overlay) = (
        file("stack.kdl"),
        file("api.kdl"),
        file("web.kdl"),
        file("production.kdl"),
    );
    let edits: Vec<(&Path, String)> = vec![
        (&stack, STACK.to_owned()),
        (&api, API.to_owned()),
        (&web, WEB.to_owned()),
        (&overlay, OVERLAY.to_owned()),
        (&module, MODULE.to_owned()),
        (&call, CALL.to_owned()),
        // A variable that other files read changes.
        (&stack, STACK.replace("default=\"1\"", "default=\"2\"")),
        // The resource another file reads, by name, by field and in depends-on, goes; then comes back.
        (&stack, STACK.replace("service \"db\"", "service \"database\"")),
        (&stack, STACK.to_owned()),
        // The middle of a chain changes: what reads its field must follow.
        (&api, API.replace("api:${var.tag}", "api:9")),
        (&api, API.replace("service \"api\"", "service \"apx\"")),
        (&api, API.to_owned()),
        // A network becomes external: its name in text changes.
        (
            &stack,
            STACK.replace("network \"net\"", "network \"net\" {\n    external \"shared\"\n}"),
        ),
        // Two files that read each other's fields.
        (&api, API.replace("${service.db.image}", "${service.web.image}")),
        (
            &web,
            WEB.replace("image \"web:1\"", "image \"${service.api.image}\""),
        ),
        (&web, WEB.to_owned()),
        // A variable that is gone, then declared again.
        (&stack, STACK.replace("variable \"tag\" default=\"1\"\n", "")),
        (&stack, STACK.to_owned()),
        (&api, API.to_owned()),
        // The module's output goes, and comes back; the network passed to it goes.
        (&module, MODULE.replace("output \"host\"", "output \"hostname\"")),
        (&module, MODULE.to_owned()),
        (&stack, STACK.replace("network \"net\"\n", "")),
        (&stack, STACK.to_owned()),
        // The overlay changes the resource other files read.
        (&overlay, OVERLAY.replace("\"web\"", "\"api\"")),
    ];
    let mut buffers = Buffers::new();
    let mut cache = FileCache::default();
    let mut errors = 0;
    for (step, (path, text)) in edits.into_iter().enumerate() {
        buffers.insert(path, text);
        let incremental = check(&root, &buffers, &mut cache);
        let from_scratch = check(&root, &buffers, &mut FileCache::default());
        assert_eq!(incremental, from_scratch, "after edit {step}");
        errors += usize::from(incremental.iter().any(|line| line.starts_with("stack::")));
    }
    // The edits do break the stack, and it is whole again at the end.
    assert!(errors >= 4, "{errors} checks found problems");
    let last = check(&root, &buffers, &mut cache);
    assert!(!last.iter().any(|line| line.starts_with("stack::")), "{last:#?}");
}
