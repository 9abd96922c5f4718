//! `stack lsp`: a language server for stack files, over stdio.
//!
//! It checks the stack a file belongs to as `stack validate` does, on the
//! editor's open buffers instead of the files on disk, and answers from what
//! that check found: diagnostics, hover, completion, definitions,
//! references, symbols, formatting and rename.
//!
//! ```text
//! editor ──didOpen/didChange──▶ Workspace (buffers) ──analyze──▶ diagnostics, index
//!        ◀──publishDiagnostics──        requests ──▶ answers from the index and the schema
//! ```

mod completion;
mod context;
mod diagnostics;
mod fields;
mod hover;
mod navigation;
mod server;
mod text;
mod workspace;

pub use server::serve;

/// Serves an editor on stdin and stdout until it asks the server to exit.
pub fn run() -> Result<(), String> {
    let (connection, io_threads) = lsp_server::Connection::stdio();
    serve(&connection)?;
    // The writer thread ends once the connection's sender is gone.
    drop(connection);
    io_threads
        .join()
        .map_err(|error| format!("the editor's connection failed: {error}"))
}
