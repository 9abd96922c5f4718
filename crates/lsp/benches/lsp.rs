//! How fast `stack lsp` answers on a stack of 1,000 services.
//!
//! Drives the server over in-memory channels as an editor does: opens the
//! stack's 10 files, then times, each as the median of several rounds, the
//! diagnostics after an edit (the stack checked again, the edited file parsed
//! anew), and hover, completion, definition, references, document symbols,
//! formatting and rename. Prints each against the goal of 50 ms.
//!
//! Run with `cargo bench -p stack-lsp --bench lsp`.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};

const SERVICES: usize = 1_000;
const FILES: usize = 10;
const ROUNDS: usize = 9;
const GOAL: Duration = Duration::from_millis(50);

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().canonicalize().expect("the directory's path");
    let files = generate(&root);
    let (server, client) = Connection::memory();
    let server = std::thread::spawn(move || stack_lsp::serve(&server));
    let mut editor = Editor { client, next_id: 0 };
    editor.request("initialize", json!({ "capabilities": {} }));
    editor.notify("initialized", json!({}));
    let (first, first_text) = &files[0];
    let (last, last_text) = &files[FILES - 1];
    for (path, text) in &files {
        editor.notify(
            "textDocument/didOpen",
            json!({ "textDocument": {
            "uri": uri(path), "languageId": "kdl", "version": 1, "text": text } }),
        );
        editor.wait_for_diagnostics(path);
    }
    println!("stack of {SERVICES} services in {FILES} files");

    let mut version = 1;
    let edit = median(|| {
        version += 1;
        let text = last_text.replace("LOG_LEVEL \"info\"", &format!("LOG_LEVEL \"info-{version}\""));
        editor.notify(
            "textDocument/didChange",
            json!({
            "textDocument": { "uri": uri(last), "version": version },
            "contentChanges": [{ "text": text }] }),
        );
        editor.wait_for_diagnostics(last);
    });
    report("diagnostics after an edit", edit);

    let reference = position(last_text, "${service.svc-", 11);
    let at = |position: &Value| json!({ "textDocument": { "uri": uri(last) }, "position": position });
    report(
        "hover",
        median(|| editor.request("textDocument/hover", at(&reference))),
    );
    report(
        "definition",
        median(|| editor.request("textDocument/definition", at(&reference))),
    );
    let mut references = at(&reference);
    references["context"] = json!({ "includeDeclaration": true });
    report(
        "references",
        median(|| editor.request("textDocument/references", references.clone())),
    );
    let field = position(first_text, "    image", 6);
    let completion = json!({ "textDocument": { "uri": uri(first) }, "position": field });
    report(
        "completion",
        median(|| editor.request("textDocument/completion", completion.clone())),
    );
    let document = json!({ "textDocument": { "uri": uri(first) } });
    report(
        "document symbols",
        median(|| editor.request("textDocument/documentSymbol", document.clone())),
    );
    let mut formatting = document.clone();
    formatting["options"] = json!({ "tabSize": 4, "insertSpaces": true });
    report(
        "formatting",
        median(|| editor.request("textDocument/formatting", formatting.clone())),
    );
    let mut rename = at(&reference);
    rename["newName"] = json!("renamed");
    report(
        "rename",
        median(|| editor.request("textDocument/rename", rename.clone())),
    );

    editor.request("shutdown", Value::Null);
    editor.notify("exit", Value::Null);
    let _ = server.join();
}

struct Editor {
    client: Connection,
    next_id: i32,
}

impl Editor {
    fn notify(&self, method: &str, params: Value) {
        let message = Message::Notification(Notification::new(method.to_owned(), params));
        self.client.sender.send(message).expect("the server listens");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let message = Message::Request(Request::new(id.clone(), method.to_owned(), params));
        self.client.sender.send(message).expect("the server listens");
        loop {
            if let Message::Response(response) = self.client.receiver.recv().expect("an answer")
                && response.id == id
            {
                return response.result.unwrap_or(Value::Null);
            }
        }
    }

    fn wait_for_diagnostics(&self, path: &Path) {
        let uri = uri(path);
        loop {
            if let Message::Notification(notification) = self.client.receiver.recv().expect("diagnostics")
                && notification.method == "textDocument/publishDiagnostics"
                && notification.params["uri"] == uri.as_str()
            {
                let diagnostics = &notification.params["diagnostics"];
                assert_eq!(diagnostics, &json!([]), "the generated stack is valid");
                return;
            }
        }
    }
}

fn report(name: &str, measured: Duration) {
    let verdict = if measured <= GOAL {
        "meets the goal"
    } else {
        "ABOVE THE GOAL"
    };
    println!(
        "{name:<26} {:>8.1} ms  (goal: at most {} ms) {verdict}",
        measured.as_secs_f64() * 1000.0,
        GOAL.as_millis()
    );
}

fn median<T>(mut run: impl FnMut() -> T) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn uri(path: &Path) -> String {
    lsp_types::Url::from_file_path(path)
        .expect("an absolute path")
        .to_string()
}

fn position(text: &str, needle: &str, skip: usize) -> Value {
    let offset = text.find(needle).expect("the needle") + skip;
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1);
    json!({ "line": line, "character": column })
}

/// Writes the stack into `dir`: services that each read and wait for the one before.
fn generate(dir: &Path) -> Vec<(PathBuf, String)> {
    let per_file = SERVICES / FILES;
    (0..FILES)
        .map(|file| {
            let mut text = String::new();
            if file == 0 {
                text.push_str("stack \"bench\"\n\nvariable \"version\" default=\"v1\"\n\nnetwork \"net\"\n\n");
            }
            for index in file * per_file..(file + 1) * per_file {
                // The first service has no one before it.
                let (peer, wait) = match index.checked_sub(1) {
                    Some(peer) => (format!("${{service.svc-{peer}}}"), format!("    depends-on \"svc-{peer}\"\n")),
                    None => ("localhost".to_owned(), String::new()),
                };
                let _ = write!(
                    text,
                    "service \"svc-{index}\" {{\n    image \"bench/app:${{var.version}}\"\n    env {{\n        PEER \"http://{peer}:8080\"\n        LOG_LEVEL \"info\"\n    }}\n    network \"net\"\n{wait}    probe {{\n        http \"http://127.0.0.1:8080/health\"\n    }}\n}}\n\n"
                );
            }
            let path = dir.join(if file == 0 { "stack.kdl".to_owned() } else { format!("part-{file}.kdl") });
            std::fs::write(&path, &text).expect("a stack file");
            (path, text)
        })
        .collect()
}
