//! The server driven as an editor drives it: initialize, open, change,
//! requests, over in-memory channels, with the answers checked.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};

/// Long enough for a loaded machine: a timeout only turns a hang into a failure.
const PATIENCE: Duration = Duration::from_secs(120);

struct Editor {
    connection: Connection,
    server: Option<JoinHandle<Result<(), String>>>,
    next_id: i32,
    /// Diagnostics published and not yet looked at, in order.
    published: Vec<Value>,
}

impl Editor {
    fn start() -> Editor {
        let (server, client) = Connection::memory();
        let server = std::thread::spawn(move || stack_lsp::serve(&server));
        let mut editor = Editor {
            connection: client,
            server: Some(server),
            next_id: 0,
            published: Vec::new(),
        };
        let answer = editor.request("initialize", json!({ "capabilities": {} }));
        assert_eq!(answer["capabilities"]["hoverProvider"], true, "{answer}");
        editor.notify("initialized", json!({}));
        editor
    }

    fn notify(&self, method: &str, params: Value) {
        let notification = Notification::new(method.to_owned(), params);
        self.connection
            .sender
            .send(Message::Notification(notification))
            .expect("the server listens");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.try_request(method, params)
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// A request's answer, or the message of the error the server answers with.
    fn try_request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let request = Request::new(id.clone(), method.to_owned(), params);
        self.connection
            .sender
            .send(Message::Request(request))
            .expect("the server listens");
        loop {
            match self.receive() {
                Message::Response(response) if response.id == id => {
                    return match response.error {
                        Some(error) => Err(error.message),
                        None => Ok(response.result.unwrap_or(Value::Null)),
                    };
                }
                _ => {}
            }
        }
    }

    /// Receives the next message, keeping published diagnostics aside.
    fn receive(&mut self) -> Message {
        let message = self
            .connection
            .receiver
            .recv_timeout(PATIENCE)
            .expect("the server answers");
        if let Message::Notification(notification) = &message
            && notification.method == "textDocument/publishDiagnostics"
        {
            self.published.push(notification.params.clone());
        }
        message
    }

    /// The diagnostics last published for `path` after what was sent so far.
    fn diagnostics(&mut self, path: &Path) -> Vec<Value> {
        // The server works in order: once it answers a request, it has published
        // for every change sent before it.
        self.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri(path) } }),
        );
        let uri = uri(path);
        let last = self
            .published
            .iter()
            .rev()
            .find(|params| params["uri"] == uri)
            .cloned();
        self.published.retain(|params| params["uri"] != uri);
        let last = last.unwrap_or_else(|| panic!("no diagnostics published for {uri}"));
        last["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    fn open(&mut self, path: &Path, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri(path), "languageId": "kdl", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, path: &Path, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri(path), "version": version },
                "contentChanges": [{ "text": text }],
            }),
        );
    }

    /// A request at the position of `needle` (plus `skip` characters) in `text`.
    fn at(
        &mut self,
        method: &str,
        path: &Path,
        text: &str,
        needle: &str,
        skip: usize,
        extra: Value,
    ) -> Value {
        let mut params = json!({
            "textDocument": { "uri": uri(path) },
            "position": position(text, needle, skip),
        });
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        self.request(method, params)
    }

    fn completions(&mut self, path: &Path, text: &str, needle: &str, skip: usize) -> Vec<String> {
        let answer = self.at("textDocument/completion", path, text, needle, skip, json!({}));
        answer
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["label"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn shut_down(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let server = self.server.take().expect("a server");
        assert_eq!(server.join().expect("the server ends"), Ok(()));
    }
}

fn uri(path: &Path) -> String {
    lsp_types::Url::from_file_path(path)
        .expect("an absolute path")
        .to_string()
}

/// The line and UTF-16 column of `needle` in `text`, `skip` characters in.
fn position(text: &str, needle: &str, skip: usize) -> Value {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` in the text"))
        + skip;
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let column = before[before.rfind('\n').map_or(0, |at| at + 1)..]
        .encode_utf16()
        .count();
    json!({ "line": line, "character": column })
}

fn codes(diagnostics: &[Value]) -> Vec<&str> {
    diagnostics.iter().filter_map(|d| d["code"].as_str()).collect()
}

const STACK: &str = r#"variable "release" default="1.0" description="Release of the images"

network "backend"

service "db" {
    image "postgres:16"
    network "backend"
    probe {
        exec "pg_isready"
    }
}

service "api" {
    image "shop/api:${var.release}"
    env {
        DB_HOST "${service.db}"
    }
    network "backend"
    depends-on "db" condition="healthy"
    update {
        order "start-first"
    }
}
"#;

const OVERLAY: &str = "overlay \"production\" {\n    service \"db\" {\n        replicas 1\n    }\n}\n";

struct Stack {
    _dir: tempfile::TempDir,
    stack: PathBuf,
    overlay: PathBuf,
}

/// A stack on disk, as the editor's workspace holds it.
fn stack() -> Stack {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().canonicalize().expect("the directory's path");
    let stack = root.join("stack.kdl");
    let overlay = root.join("production.kdl");
    std::fs::write(&stack, STACK).expect("stack.kdl");
    std::fs::write(&overlay, OVERLAY).expect("production.kdl");
    Stack {
        _dir: dir,
        stack,
        overlay,
    }
}

#[test]
fn diagnostics_follow_the_buffers_as_the_user_types() {
    let files = stack();
    let mut editor = Editor::start();
    editor.open(&files.stack, STACK);
    assert_eq!(editor.diagnostics(&files.stack), Vec::<Value>::new());

    // Unsaved edits count, not the file on disk: a typo in a field and in a variable.
    let typo = STACK
        .replace(
            "    network \"backend\"\n    depends-on",
            "    netwrk \"backend\"\n    depends-on",
        )
        .replace("${var.release}", "${var.relase}");
    editor.change(&files.stack, 2, &typo);
    let diagnostics = editor.diagnostics(&files.stack);
    assert_eq!(
        codes(&diagnostics),
        ["stack::unknown_variable", "stack::unknown_field"],
        "{diagnostics:#?}"
    );
    let field = &diagnostics[1];
    assert_eq!(field["range"]["start"], position(&typo, "netwrk", 0));
    assert_eq!(field["range"]["end"], position(&typo, "netwrk", 6));
    assert_eq!(field["severity"], 1);
    let message = field["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("unknown field `netwrk` in service"),
        "{message}"
    );
    assert!(message.contains("help: did you mean `network`?"), "{message}");

    // An overlay that names no resource is reported in its own file.
    let overlay = OVERLAY.replace("\"db\"", "\"dbb\"");
    editor.open(&files.overlay, &overlay);
    let in_overlay = editor.diagnostics(&files.overlay);
    assert_eq!(
        codes(&in_overlay),
        ["stack::unknown_overlay_target"],
        "{in_overlay:#?}"
    );

    // Fixed: every file is cleared.
    editor.change(&files.stack, 3, STACK);
    editor.change(&files.overlay, 2, OVERLAY);
    assert_eq!(editor.diagnostics(&files.stack), Vec::<Value>::new());
    assert_eq!(editor.diagnostics(&files.overlay), Vec::<Value>::new());
    editor.shut_down();
}

#[test]
fn names_lead_to_their_declarations_and_uses() {
    let files = stack();
    let mut editor = Editor::start();
    editor.open(&files.stack, STACK);
    editor.diagnostics(&files.stack);
    let stack_uri = uri(&files.stack);

    let symbols = editor.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": stack_uri } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|symbol| symbol["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["network.backend", "service.db", "service.api", "var.release"]
    );

    let definition = editor.at(
        "textDocument/definition",
        &files.stack,
        STACK,
        "depends-on \"db\"",
        12,
        json!({}),
    );
    assert_eq!(definition["uri"], stack_uri);
    assert_eq!(definition["range"]["start"], position(STACK, "service \"db\"", 9));

    let references = editor.at(
        "textDocument/references",
        &files.stack,
        STACK,
        "service \"db\"",
        9,
        json!({ "context": { "includeDeclaration": false } }),
    );
    let places: Vec<(&str, &Value)> = references
        .as_array()
        .into_iter()
        .flatten()
        .map(|location| {
            (
                location["uri"].as_str().unwrap_or(""),
                &location["range"]["start"],
            )
        })
        .collect();
    let overlay_uri = uri(&files.overlay);
    assert_eq!(
        places,
        [
            (stack_uri.as_str(), &position(STACK, "${service.db}", 10)),
            (stack_uri.as_str(), &position(STACK, "depends-on \"db\"", 12)),
            (overlay_uri.as_str(), &position(OVERLAY, "\"db\"", 1)),
        ]
    );

    let rename = editor.at(
        "textDocument/rename",
        &files.stack,
        STACK,
        "${service.db}",
        11,
        json!({ "newName": "postgres" }),
    );
    let edits = rename["changes"][&stack_uri]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(edits.len(), 3, "{rename:#}");
    assert!(edits.iter().all(|edit| edit["newText"] == "postgres"));
    assert_eq!(rename["changes"][&overlay_uri].as_array().map(Vec::len), Some(1));
    editor.shut_down();
}

#[test]
fn hover_tells_what_a_name_is() {
    let files = stack();
    let mut editor = Editor::start();
    editor.open(&files.stack, STACK);
    editor.diagnostics(&files.stack);
    let hover = |editor: &mut Editor, needle: &str, skip: usize| {
        let answer = editor.at("textDocument/hover", &files.stack, STACK, needle, skip, json!({}));
        answer["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let field = hover(&mut editor, "order", 2);
    assert!(
        field.starts_with("**order**: \"stop-first\" | \"start-first\""),
        "{field}"
    );
    assert!(field.contains("default: `stop-first`"), "{field}");
    assert!(field.contains("in place"), "{field}");
    let image = hover(&mut editor, "image \"postgres", 1);
    assert!(image.contains("cannot be made in place: replace"), "{image}");
    let variable = hover(&mut editor, "var.release", 5);
    assert!(variable.starts_with("**var.release**: string"), "{variable}");
    assert!(variable.contains("Release of the images"), "{variable}");
    let reference = hover(&mut editor, "depends-on \"db\"", 12);
    assert!(reference.starts_with("**service.db**: service"), "{reference}");
    let kind = hover(&mut editor, "network \"backend\"", 2);
    assert!(kind.starts_with("**network**: resource kind"), "{kind}");
    editor.shut_down();
}

#[test]
fn completion_offers_what_fits_the_place() {
    let files = stack();
    let mut editor = Editor::start();
    editor.open(&files.stack, STACK);
    editor.diagnostics(&files.stack);
    // Half-written text still completes, with the names of the last text that parsed:
    // the block of `web` is not closed.
    let text = format!(
        "{STACK}\nser\nservice \"web\" {{\n    imag\n    depends-on \"\"\n    update {{\n        order \"\"\n        failure-action \n    }}\n    depends-on \"api\" condition=\"\"\n    env {{\n        URL \"${{service.\"\n        RELEASE \"${{var.\"\n"
    );
    editor.change(&files.stack, 2, &text);
    editor.diagnostics(&files.stack);
    let top = editor.completions(&files.stack, &text, "\nser\n", 4);
    assert!(
        top.contains(&"service".to_owned()) && top.contains(&"variable".to_owned()),
        "{top:?}"
    );
    let fields = editor.completions(&files.stack, &text, "    imag\n", 8);
    assert!(
        fields.contains(&"image".to_owned()) && fields.contains(&"replicas".to_owned()),
        "{fields:?}"
    );
    let services = editor.completions(&files.stack, &text, "depends-on \"\"", 12);
    assert!(services.contains(&"db".to_owned()), "{services:?}");
    assert!(services.contains(&"network.backend".to_owned()), "{services:?}");
    let order = editor.completions(&files.stack, &text, "order \"\"", 7);
    assert_eq!(order, ["stop-first", "start-first"]);
    let actions = editor.completions(&files.stack, &text, "failure-action \n", 15);
    assert!(actions.contains(&"rollback".to_owned()), "{actions:?}");
    let condition = editor.completions(&files.stack, &text, "condition=\"\"", 11);
    assert_eq!(condition, ["started", "healthy", "completed"]);
    let names = editor.completions(&files.stack, &text, "${service.\"", 10);
    assert_eq!(names, ["db", "api"]);
    let variables = editor.completions(&files.stack, &text, "${var.\"", 6);
    assert_eq!(variables, ["release"]);
    editor.shut_down();
}

#[test]
fn formatting_lays_the_file_out_as_stack_fmt_does() {
    let files = stack();
    let mut editor = Editor::start();
    let messy =
        "network   \"backend\"\nservice \"db\" {\nimage \"postgres:16\"\n      network \"backend\"\n}\n";
    editor.open(&files.stack, messy);
    editor.diagnostics(&files.stack);
    let edits = editor.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri(&files.stack) }, "options": { "tabSize": 4, "insertSpaces": true } }),
    );
    let mut sources = stack_diagnostics::Sources::new();
    let file = sources.add("stack.kdl", "stack.kdl", messy);
    let expected = stack_fmt::format(file, messy).expect("the file formats");
    assert_eq!(edits[0]["newText"], expected.as_str());
    assert_eq!(edits[0]["range"]["start"], json!({ "line": 0, "character": 0 }));
    editor.shut_down();
}

const CALLER: &str = r#"variable "release" default="1.0"
variable "size" default="64MiB"

network "backend"

use "./cache" {
    network "backend"
    memory "${var.size}"
}

service "api" {
    image "shop/api:${var.release}"
    env {
        CACHE "${module.cache.host}"
        RELEASE "${var.release}"
    }
    network "backend"
    depends-on "module.cache"
}
"#;

const CALLER_OVERLAY: &str = "overlay \"production\" {\n    service \"api\" {\n        env {\n            RELEASE \"${var.release}-prod\"\n        }\n    }\n}\n";

const CACHE: &str = r#"variable "network" type="network"
variable "memory" type="size"

service "memcached" {
    image "memcached:1"
    network "${var.network}"
    env {
        MEMORY "${var.memory}"
    }
}

output "host" "${service.memcached}"
"#;

/// A stack that calls a module, with an overlay, on disk.
struct Caller {
    _dir: tempfile::TempDir,
    stack: PathBuf,
    overlay: PathBuf,
    module: PathBuf,
}

fn caller() -> Caller {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().canonicalize().expect("the directory's path");
    std::fs::create_dir_all(root.join("cache")).expect("the module's directory");
    let files = Caller {
        stack: root.join("stack.kdl"),
        overlay: root.join("production.kdl"),
        module: root.join("cache/module.kdl"),
        _dir: dir,
    };
    std::fs::write(&files.stack, CALLER).expect("stack.kdl");
    std::fs::write(&files.overlay, CALLER_OVERLAY).expect("production.kdl");
    std::fs::write(&files.module, CACHE).expect("module.kdl");
    files
}

/// The texts of the files after a rename's edits.
fn edited(rename: &Value, files: &[(&Path, &str)]) -> Vec<String> {
    files
        .iter()
        .map(|(path, text)| {
            let mut edits: Vec<(usize, usize, String)> = rename["changes"][uri(path).as_str()]
                .as_array()
                .into_iter()
                .flatten()
                .map(|edit| {
                    let offset = |position: &Value| {
                        let line = position["line"].as_u64().unwrap_or(0) as usize;
                        let column = position["character"].as_u64().unwrap_or(0) as usize;
                        text.split_inclusive('\n').take(line).map(str::len).sum::<usize>() + column
                    };
                    let range = &edit["range"];
                    (
                        offset(&range["start"]),
                        offset(&range["end"]),
                        edit["newText"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            edits.sort();
            let mut result = (*text).to_owned();
            for (start, end, new_text) in edits.into_iter().rev() {
                result.replace_range(start..end, &new_text);
            }
            result
        })
        .collect()
}

#[test]
fn rename_covers_variables_in_every_file() {
    let files = caller();
    let mut editor = Editor::start();
    editor.open(&files.stack, CALLER);
    assert_eq!(editor.diagnostics(&files.stack), Vec::<Value>::new());
    let all = [
        (files.stack.as_path(), CALLER),
        (files.overlay.as_path(), CALLER_OVERLAY),
        (files.module.as_path(), CACHE),
    ];

    // From a use, the stack's variable: its declaration, the stack's uses and the overlay's.
    let rename = editor.at(
        "textDocument/rename",
        &files.overlay,
        CALLER_OVERLAY,
        "var.release",
        5,
        json!({ "newName": "version" }),
    );
    let [stack, overlay, module] = <[String; 3]>::try_from(edited(&rename, &all)).expect("three files");
    assert_eq!(
        stack,
        CALLER
            .replace("\"release\"", "\"version\"")
            .replace("var.release", "var.version")
    );
    assert_eq!(overlay, CALLER_OVERLAY.replace("var.release", "var.version"));
    assert_eq!(module, CACHE);

    // A module's variable: its declaration, its uses in the module, and the parameter of each call.
    let rename = editor.at(
        "textDocument/rename",
        &files.stack,
        CALLER,
        "    memory",
        4,
        json!({ "newName": "memory-limit" }),
    );
    let [stack, overlay, module] = <[String; 3]>::try_from(edited(&rename, &all)).expect("three files");
    assert_eq!(stack, CALLER.replace("    memory \"", "    memory-limit \""));
    assert_eq!(overlay, CALLER_OVERLAY);
    assert_eq!(
        module,
        CACHE
            .replace("\"memory\"", "\"memory-limit\"")
            .replace("var.memory", "var.memory-limit")
    );
    editor.shut_down();
}

#[test]
fn rename_covers_module_calls() {
    let files = caller();
    let mut editor = Editor::start();
    editor.open(&files.stack, CALLER);
    assert_eq!(editor.diagnostics(&files.stack), Vec::<Value>::new());
    let all = [(files.stack.as_path(), CALLER)];

    // Named after its path: the call gets a name of its own, and the path stays.
    let rename = editor.at(
        "textDocument/rename",
        &files.stack,
        CALLER,
        "module.cache.host",
        8,
        json!({ "newName": "sessions" }),
    );
    let [renamed] = <[String; 1]>::try_from(edited(&rename, &all)).expect("one file");
    let expected = CALLER
        .replace("use \"./cache\" {", "use \"./cache\" as=\"sessions\" {")
        .replace("module.cache", "module.sessions");
    assert_eq!(renamed, expected);

    // Named with `as=`: the name is replaced.
    editor.change(&files.stack, 2, &renamed);
    assert_eq!(editor.diagnostics(&files.stack), Vec::<Value>::new());
    let rename = editor.at(
        "textDocument/rename",
        &files.stack,
        &renamed,
        "as=\"sessions",
        5,
        json!({ "newName": "memcache" }),
    );
    let [again] =
        <[String; 1]>::try_from(edited(&rename, &[(files.stack.as_path(), &renamed)])).expect("one file");
    assert_eq!(again, expected.replace("sessions", "memcache"));
    editor.shut_down();
}

#[test]
fn rename_refuses_an_invalid_or_taken_name() {
    let files = caller();
    let mut editor = Editor::start();
    editor.open(&files.stack, CALLER);
    editor.diagnostics(&files.stack);
    let mut refused = |needle: &str, skip: usize, new_name: &str| {
        let params = json!({
            "textDocument": { "uri": uri(&files.stack) },
            "position": position(CALLER, needle, skip),
            "newName": new_name,
        });
        editor
            .try_request("textDocument/rename", params)
            .expect_err("the rename is refused")
    };
    assert_eq!(
        refused("var.release", 5, "the release"),
        "`the release` is not a valid name: variable names use letters, digits, `-` and `_`"
    );
    assert_eq!(
        refused("var.release", 5, "size"),
        "cannot rename var.release to `size`: var.size is already declared (line 2)"
    );
    assert_eq!(
        refused("module.cache", 8, "Cache"),
        "`Cache` is not a valid name: names use lowercase letters, digits, `-` and `_`, and start with a letter or digit"
    );
    editor.shut_down();
}
