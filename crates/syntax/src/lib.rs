//! Reading stack files: from bytes to a KDL v2 document with spans.
//!
//! kdl does the parsing; this crate turns its errors into `stack` diagnostics
//! and makes the checks it does not (encoding, size, nesting, bare `${`, and
//! a structural check of every token against KDL's grammar), before kdl sees
//! the text, so that no input can make it panic, hang or overflow its stack.
//! Its lexer is public: the formatter works on the same tokens.

mod checks;
pub mod lexer;
mod parse;
mod plain;
mod read;

pub use checks::MAX_NESTING;
pub use parse::{Parsed, parse};
pub use read::{MAX_FILE_SIZE, read};
