//! `stack lsp` started as an editor starts it: the real binary, framed
//! messages over its stdin and stdout. The features are tested in the
//! stack-lsp crate; this checks the command and its transport.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn send(stdin: &mut impl Write, message: &Value) {
    let body = message.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("the server reads");
    stdin.flush().expect("the server reads");
}

/// Reads framed messages from the server's stdout into a channel.
fn read_messages(stdout: impl Read + Send + 'static) -> mpsc::Receiver<Value> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line.strip_prefix("Content-Length: ") {
                    length = value.parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let Ok(message) = serde_json::from_slice(&body) else {
                return;
            };
            if sender.send(message).is_err() {
                return;
            }
        }
    });
    receiver
}

#[test]
fn lsp_serves_an_editor_over_stdio() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().canonicalize().expect("the directory's path");
    let file = root.join("stack.kdl");
    let text = "service \"api\" {\n    imag \"shop/api:1\"\n}\n";
    std::fs::write(&file, text).expect("stack.kdl");
    let uri = format!("file://{}", file.display());

    let mut server = Command::new(env!("CARGO_BIN_EXE_stack"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("stack lsp starts");
    let mut stdin = server.stdin.take().expect("stdin");
    let messages = read_messages(server.stdout.take().expect("stdout"));
    // Generous: a busy machine is slow, and a timeout only turns a hang into a failure.
    let next = || {
        messages
            .recv_timeout(Duration::from_secs(120))
            .expect("an answer")
    };

    send(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } }),
    );
    let initialized = next();
    assert_eq!(
        initialized["result"]["capabilities"]["renameProvider"], true,
        "{initialized}"
    );
    send(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }),
    );
    send(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": { "uri": uri, "languageId": "kdl", "version": 1, "text": text } } }),
    );
    let published = next();
    assert_eq!(
        published["method"], "textDocument/publishDiagnostics",
        "{published}"
    );
    let codes: Vec<&str> = published["params"]["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|diagnostic| diagnostic["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["stack::missing_field", "stack::unknown_field"],
        "{published}"
    );

    send(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown" }),
    );
    assert_eq!(next()["id"], 2);
    send(&mut stdin, &json!({ "jsonrpc": "2.0", "method": "exit" }));
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = server.try_wait().expect("the server's status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = server.kill();
            panic!("stack lsp did not exit after `exit`");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
