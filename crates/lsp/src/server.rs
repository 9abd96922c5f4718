//! The server loop: notifications update the buffers and publish
//! diagnostics; requests are answered from the latest check.

use std::collections::HashSet;
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, References, Rename,
    Request as _,
};
use lsp_types::{
    CompletionOptions, Hover, HoverContents, HoverProviderCapability, MarkupContent, MarkupKind, OneOf,
    ServerCapabilities, TextDocumentPositionParams, TextDocumentSyncCapability, TextDocumentSyncKind, Url,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::text::LineIndex;
use crate::workspace::Workspace;
use crate::{completion, context, diagnostics, hover, navigation};

/// What the server can do, as it tells the editor.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_owned(), "\"".to_owned(), "{".to_owned()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Serves an editor on `connection` until it asks the server to exit.
pub fn serve(connection: &Connection) -> Result<(), String> {
    let capabilities = serde_json::to_value(capabilities()).map_err(|error| error.to_string())?;
    connection
        .initialize(capabilities)
        .map_err(|error| format!("the editor did not start the session: {error}"))?;
    let mut workspace = Workspace::new();
    for message in &connection.receiver {
        let replies = match message {
            Message::Request(request) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|error| error.to_string())?
                {
                    return Ok(());
                }
                vec![Message::Response(answer(&mut workspace, request))]
            }
            Message::Notification(notification) => notify(&mut workspace, notification),
            Message::Response(_) => Vec::new(),
        };
        for reply in replies {
            connection
                .sender
                .send(reply)
                .map_err(|_| "the editor closed the connection".to_owned())?;
        }
    }
    Ok(())
}

/// Updates the buffers; gives the diagnostics to publish.
fn notify(workspace: &mut Workspace, notification: Notification) -> Vec<Message> {
    let path = match notification.method.as_str() {
        DidOpenTextDocument::METHOD => params::<lsp_types::DidOpenTextDocumentParams>(notification.params)
            .and_then(|params| {
                let path = file_path(&params.text_document.uri)?;
                workspace.open(&path, params.text_document.text);
                Some(path)
            }),
        DidChangeTextDocument::METHOD => {
            params::<lsp_types::DidChangeTextDocumentParams>(notification.params).and_then(|params| {
                let path = file_path(&params.text_document.uri)?;
                // Full sync: the last change holds the whole text.
                let text = params.content_changes.into_iter().next_back()?.text;
                workspace.open(&path, text);
                Some(path)
            })
        }
        DidSaveTextDocument::METHOD => params::<lsp_types::DidSaveTextDocumentParams>(notification.params)
            .and_then(|params| file_path(&params.text_document.uri)),
        DidCloseTextDocument::METHOD => params::<lsp_types::DidCloseTextDocumentParams>(notification.params)
            .and_then(|params| {
                let path = file_path(&params.text_document.uri)?;
                workspace.close(&path);
                Some(path)
            }),
        _ => None,
    };
    let Some(path) = path else { return Vec::new() };
    let root = workspace.check(&path);
    let Some(analysis) = workspace.analysis_of_root(&root) else {
        return Vec::new();
    };
    let published = diagnostics::publish(analysis, &path);
    let now: HashSet<Url> = published.iter().map(|params| params.uri.clone()).collect();
    let cleared = workspace.published(&root, now);
    let cleared = cleared
        .into_iter()
        .map(|uri| lsp_types::PublishDiagnosticsParams {
            uri,
            diagnostics: Vec::new(),
            version: None,
        });
    published
        .into_iter()
        .chain(cleared)
        .map(|params| Message::Notification(Notification::new(PublishDiagnostics::METHOD.to_owned(), params)))
        .collect()
}

fn answer(workspace: &mut Workspace, request: Request) -> Response {
    let id = request.id.clone();
    match respond(workspace, request) {
        Ok(result) => Response::new_ok(id, result),
        Err((code, message)) => Response::new_err(id, code as i32, message),
    }
}

type Answer = Result<Value, (ErrorCode, String)>;

fn respond(workspace: &mut Workspace, request: Request) -> Answer {
    let Request { method, params, .. } = request;
    match method.as_str() {
        HoverRequest::METHOD => at_position(
            workspace,
            parse::<lsp_types::HoverParams>(params)?.text_document_position_params,
            |workspace, at| {
                let markdown = hover::hover(&workspace.schema, at.index, at.file, at.text, at.offset);
                to_json(markdown.map(|value| Hover {
                    contents: HoverContents::Markup(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value,
                    }),
                    range: None,
                }))
            },
        ),
        Completion::METHOD => at_position(
            workspace,
            parse::<lsp_types::CompletionParams>(params)?.text_document_position,
            |workspace, at| {
                let context = context::at(at.text, at.offset);
                let scope = at.index.scope_of(at.file);
                to_json(completion::complete(&workspace.schema, at.index, scope, &context))
            },
        ),
        GotoDefinition::METHOD => at_position(
            workspace,
            parse::<lsp_types::GotoDefinitionParams>(params)?.text_document_position_params,
            |_, at| to_json(navigation::definition(at.index, at.sources, at.file, at.offset)),
        ),
        References::METHOD => {
            let params = parse::<lsp_types::ReferenceParams>(params)?;
            let with_declaration = params.context.include_declaration;
            at_position(workspace, params.text_document_position, |_, at| {
                to_json(navigation::references(
                    at.index,
                    at.sources,
                    at.file,
                    at.offset,
                    with_declaration,
                ))
            })
        }
        Rename::METHOD => {
            let params = parse::<lsp_types::RenameParams>(params)?;
            let new_name = params.new_name;
            at_position(workspace, params.text_document_position, |_, at| {
                navigation::rename(at.index, at.sources, at.file, at.offset, &new_name)
                    .map_err(|message| (ErrorCode::InvalidParams, message))
                    .and_then(to_json)
            })
        }
        DocumentSymbolRequest::METHOD => {
            let params = parse::<lsp_types::DocumentSymbolParams>(params)?;
            let path = file_path(&params.text_document.uri).ok_or_else(not_a_file)?;
            let analysis = workspace.analysis(&path);
            match analysis.file(&path) {
                Some((file, _)) => to_json(navigation::symbols(&analysis.index, &analysis.sources, file)),
                None => Ok(Value::Null),
            }
        }
        Formatting::METHOD => {
            let params = parse::<lsp_types::DocumentFormattingParams>(params)?;
            let path = file_path(&params.text_document.uri).ok_or_else(not_a_file)?;
            let analysis = workspace.analysis(&path);
            match analysis.file(&path) {
                Some((_, text)) => to_json(navigation::format(text, analysis.parsed(&path))),
                None => Ok(Value::Null),
            }
        }
        _ => Err((ErrorCode::MethodNotFound, format!("`{method}` is not supported"))),
    }
}

/// A position in a file of a checked stack.
struct At<'a> {
    index: &'a stack_language::Index,
    sources: &'a stack_diagnostics::Sources,
    file: stack_diagnostics::FileId,
    text: &'a str,
    offset: usize,
}

/// Answers with `answer` at the position, or `null` for a file the stack does not read.
fn at_position(
    workspace: &mut Workspace,
    position: TextDocumentPositionParams,
    answer: impl FnOnce(&Workspace, At) -> Answer,
) -> Answer {
    let path = file_path(&position.text_document.uri).ok_or_else(not_a_file)?;
    workspace.analysis(&path);
    let workspace: &Workspace = workspace;
    let Some(analysis) = workspace.analysis_of(&path) else {
        return Ok(Value::Null);
    };
    let Some((file, text)) = analysis.file(&path) else {
        return Ok(Value::Null);
    };
    let offset = LineIndex::new(text).offset(position.position);
    answer(
        workspace,
        At {
            index: &analysis.index,
            sources: &analysis.sources,
            file,
            text,
            offset,
        },
    )
}

fn file_path(uri: &Url) -> Option<PathBuf> {
    uri.to_file_path().ok()
}

fn not_a_file() -> (ErrorCode, String) {
    (
        ErrorCode::InvalidParams,
        "only file: URIs are supported".to_owned(),
    )
}

fn params<T: DeserializeOwned>(params: Value) -> Option<T> {
    serde_json::from_value(params).ok()
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, (ErrorCode, String)> {
    serde_json::from_value(params).map_err(|error| (ErrorCode::InvalidParams, error.to_string()))
}

fn to_json(value: impl serde::Serialize) -> Answer {
    serde_json::to_value(value).map_err(|error| (ErrorCode::InternalError, error.to_string()))
}
