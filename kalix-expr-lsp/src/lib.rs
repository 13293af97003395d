//! A language server for Kalix model files (`.ini`), built on the same checker as `kexpr
//! check`: an editor gets exactly the errors and warnings the command line reports, with no
//! second grammar to drift.
//!
//! It speaks the Language Server Protocol over stdio (`kexpr lsp`), through `lsp-server`, the
//! synchronous JSON-RPC layer of rust-analyzer, and the protocol's types from `lsp-types`:
//!
//! - diagnostics on open, on save and a moment after each change, with ranges, severities,
//!   help, a stable code, and quick fixes for every name the checker proposes;
//! - hover over built-ins (signature, description, an example the engine evaluates), user
//!   functions, constants, tables, series, `sim.*` fields and inputs;
//! - completion of namespaces, the model's names, data columns and built-ins;
//! - signature help, go to definition, find references, document symbols, and renaming a user
//!   function or a series.
//!
//! ```no_run
//! // What `kexpr lsp` does: serve stdin/stdout until the editor shuts the server down.
//! kalix_expr_lsp::run_stdio(None).unwrap();
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod doc;
mod index;
mod server;
mod text;

use kalix_expr_model::FunctionLibrary;
use lsp_server::Connection;
use lsp_types::{PublishDiagnosticsParams, Url};

pub use server::{capabilities, DEBOUNCE};

/// Serves the protocol on stdin and stdout until the client sends `shutdown` and `exit` (or
/// closes the stream); `library` gives the functions `fn.*` calls may reach beyond the model's
/// own, as for `kexpr check`.
pub fn run_stdio(library: Option<&FunctionLibrary>) -> Result<(), String> {
    let (connection, threads) = Connection::stdio();
    serve(&connection, library)?;
    // The writer thread ends once the connection is dropped.
    drop(connection);
    threads.join().map_err(|e| e.to_string())
}

/// Serves the protocol on `connection`: the `initialize` handshake, then requests and
/// notifications until shutdown.
pub fn serve(connection: &Connection, library: Option<&FunctionLibrary>) -> Result<(), String> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    connection.initialize(caps).map_err(|e| e.to_string())?;
    server::main_loop(connection, library)
}

/// What the server publishes for a model whose buffer holds `text`: the diagnostics of `kexpr
/// check`, one set per file (the model's, and a table's CSV file with problems of its own).
/// This is the work a change costs, once the typing rests.
///
/// ```
/// use lsp_types::Url;
/// let uri = Url::parse("file:///models/m.ini").unwrap();
/// let published = kalix_expr_lsp::diagnostics(&uri, "[var.b]\nx = nosuch + 1\n", None);
/// assert_eq!(published[0].diagnostics[0].message, "unknown variable `nosuch`");
/// ```
pub fn diagnostics(uri: &Url, text: &str, library: Option<&FunctionLibrary>) -> Vec<PublishDiagnosticsParams> {
    doc::Doc::new(uri.clone(), text.to_string())
        .diagnostics(library)
        .into_iter()
        .map(|(uri, diagnostics)| PublishDiagnosticsParams { uri, diagnostics, version: None })
        .collect()
}
