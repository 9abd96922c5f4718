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
                    assert!(response.error.is_none(), "{method}: {:?}", response.error);
                    return response.result.unwrap_or(Value::Null);
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
