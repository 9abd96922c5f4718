//! The protocol's loop: requests in on standard input, responses out on standard output.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stack_protocol::{
    Configure, ErrorCode, Handshake, Initialize, PROTOCOL_VERSION, Read, ReadResult, Request, Response,
    RpcError, Update, Wait, WithLive, WithObject, method,
};

use crate::{Error, Provider};

/// Serves `provider` until standard input closes; the exit code says whether it could.
pub fn serve<P: Provider>(provider: P) -> ExitCode {
    let provider = Arc::new(RwLock::new(provider));
    let output = Arc::new(Mutex::new(std::io::stdout()));
    let mut calls = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let request = match serde_json::from_str::<Request>(&line) {
            Ok(request) => request,
            Err(error) => {
                let error = RpcError::new(ErrorCode::ParseError, format!("not a request: {error}"));
                write(&output, &Response::failure(None, error));
                continue;
            }
        };
        // The handshake and the configuration come first, alone: everything after them runs at once.
        if request.method == method::INITIALIZE || request.method == method::CONFIGURE {
            write(&output, &answer(&provider, request));
            continue;
        }
        let provider = Arc::clone(&provider);
        let output = Arc::clone(&output);
        calls.push(std::thread::spawn(move || {
            write(&output, &answer(&provider, request));
        }));
        calls.retain(|call| !call.is_finished());
    }
    for call in calls {
        let _ = call.join();
    }
    ExitCode::SUCCESS
}

fn write(output: &Mutex<std::io::Stdout>, response: &Response) {
    let line = serde_json::to_string(response).unwrap_or_default();
    let mut output = output.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = writeln!(output, "{line}").and_then(|()| output.flush());
}

fn answer<P: Provider>(provider: &RwLock<P>, request: Request) -> Response {
    let id = request.id;
    match dispatch(provider, &request.method, request.params) {
        Ok(result) => Response::success(id, result),
        Err(error) => Response::failure(Some(id), error),
    }
}

fn dispatch<P: Provider>(provider: &RwLock<P>, name: &str, params: Value) -> Result<Value, RpcError> {
    if name == method::CONFIGURE {
        let Configure { config } = parse(params)?;
        let mut provider = provider.write().unwrap_or_else(PoisonError::into_inner);
        return provider.configure(&config).map_err(refused).map(|()| Value::Null);
    }
    let provider = provider.read().unwrap_or_else(PoisonError::into_inner);
    match name {
        method::INITIALIZE => {
            // Whatever version `stack` speaks, this one is said: `stack` refuses a mismatch.
            let _: Initialize = parse(params)?;
            result(Handshake {
                protocol_version: PROTOCOL_VERSION,
                name: provider.name().to_owned(),
                version: provider.version().to_owned(),
                kinds: provider.kinds(),
                config: provider.config(),
            })
        }
        method::READ => {
            let Read { stack, kind } = parse(params)?;
            let objects = provider.read(&stack, &kind).map_err(refused)?;
            result(ReadResult { objects })
        }
        method::READ_EXTERNAL => {
            let WithObject { stack, object } = parse(params)?;
            done(provider.read_external(&stack, &object))
        }
        method::CREATE => {
            let WithObject { stack, object } = parse(params)?;
            done(provider.create(&stack, &object))
        }
        method::UPDATE => {
            let Update { stack, object, live } = parse(params)?;
            done(provider.update(&stack, &object, &live))
        }
        method::REPLACE => {
            let Update { stack, object, live } = parse(params)?;
            done(provider.replace(&stack, &object, &live))
        }
        method::DELETE => {
            let WithLive { stack, object } = parse(params)?;
            done(provider.delete(&stack, &object))
        }
        method::WAIT => {
            let Wait {
                stack,
                object,
                condition,
                timeout_ms,
            } = parse(params)?;
            done(provider.wait(&stack, &object, &condition, Duration::from_millis(timeout_ms)))
        }
        method::MAKE_DRIFT => {
            let WithLive { stack, object } = parse(params)?;
            match provider.make_drift(&stack, &object) {
                Some(outcome) => done(outcome),
                None => Err(not_found(name)),
            }
        }
        other => Err(not_found(other)),
    }
}

fn not_found(method: &str) -> RpcError {
    RpcError::new(
        ErrorCode::MethodNotFound,
        format!("this provider has no method `{method}`"),
    )
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|error| RpcError::new(ErrorCode::InvalidParams, error.to_string()))
}

fn result<T: Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|error| RpcError::new(ErrorCode::Internal, error.to_string()))
}

fn done(outcome: crate::Result<()>) -> Result<Value, RpcError> {
    outcome.map(|()| Value::Null).map_err(refused)
}

fn refused(error: Error) -> RpcError {
    let refused = RpcError::new(ErrorCode::Provider, error.message);
    match error.hint {
        Some(hint) => refused.with_hint(hint),
        None => refused,
    }
}
