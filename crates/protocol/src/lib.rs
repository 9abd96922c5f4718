//! The provider protocol (spec/providers.md): what `stack` and a provider executable say to
//! each other over the provider's standard input and output.
//!
//! Framing: one JSON-RPC 2.0 message per line, UTF-8, `\n` ending each line (JSON escapes
//! every newline inside strings, so any content fits). `stack` sends requests; the provider
//! answers each with a response carrying the same `id`, in any order. Standard error is the
//! provider's log.
//!
//! This crate holds the messages only: the host (`stack-external`) and the Rust SDK
//! (`stack-provider-sdk`) share them, so the two cannot disagree.

mod message;
mod schema;

pub use message::{
    Configure, DesiredObject, DriftItem, ErrorCode, Handshake, Initialize, LiveObject, Read, ReadResult,
    Request, Response, RpcError, Update, Wait, WithLive, WithObject, method,
};
pub use schema::{Effect, FieldSpec, KindSpec, Shape, TypeSpec};

/// The version of the protocol this crate speaks. A provider answering `initialize` with
/// another version is refused: versions change only when a message changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// The prefix of every provider executable: `stack-provider-postgres` provides `postgres`.
pub const EXECUTABLE_PREFIX: &str = "stack-provider-";
