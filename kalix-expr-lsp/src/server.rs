//! The server's loop: documents kept as the editor sends them, each checked a moment after its
//! last change, and every request answered from the document's current text.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kalix_expr_model::FunctionLibrary;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, GotoDefinition, HoverRequest, References, Rename,
    Request as _, SignatureHelpRequest,
};
use lsp_types::{
    CodeActionOrCommand, CodeActionProviderCapability, CompletionOptions, CompletionResponse, DocumentSymbolResponse,
    GotoDefinitionResponse, HoverProviderCapability, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    SignatureHelpOptions, TextDocumentSyncCapability, TextDocumentSyncKind, Url,
};

use crate::doc::Doc;

/// How long after a change the document is checked: long enough to skip the keystrokes of a
/// word, short enough that the diagnostics follow the typing.
pub const DEBOUNCE: Duration = Duration::from_millis(15);

/// What the server says it can do.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..CompletionOptions::default()
        }),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            ..SignatureHelpOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    }
}

/// The open documents and what is waiting to be checked.
struct State<'a> {
    docs: HashMap<Url, Doc>,
    /// Documents changed since their last check, with when to check them.
    due: HashMap<Url, Instant>,
    /// Other files (a table's CSV) given diagnostics for each document, to clear them later.
    published: HashMap<Url, Vec<Url>>,
    library: Option<&'a FunctionLibrary>,
}

/// Serves `connection` after initialisation until the client shuts it down.
pub fn main_loop(connection: &Connection, library: Option<&FunctionLibrary>) -> Result<(), String> {
    let mut state = State { docs: HashMap::new(), due: HashMap::new(), published: HashMap::new(), library };
    loop {
        let next = state.due.values().min().copied();
        let msg = match next {
            Some(at) => match connection.receiver.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(msg) => Some(msg),
                Err(e) if e.is_timeout() => None,
                Err(_) => return Ok(()),
            },
            None => match connection.receiver.recv() {
                Ok(msg) => Some(msg),
                Err(_) => return Ok(()),
            },
        };
        match msg {
            None => state.check_due(connection)?,
            Some(Message::Request(req)) => {
                if connection.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                let response = state.request(req);
                send(connection, Message::Response(response))?;
            }
            Some(Message::Notification(note)) => state.notification(note),
            Some(Message::Response(_)) => {}
        }
    }
}

fn send(connection: &Connection, msg: Message) -> Result<(), String> {
    connection.sender.send(msg).map_err(|e| e.to_string())
}

impl State<'_> {
    fn notification(&mut self, note: Notification) {
        match note.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(note.params) {
                    self.update(p.text_document.uri, p.text_document.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(note.params) {
                    // Full sync: the last change holds the whole text.
                    if let Some(change) = p.content_changes.into_iter().last() {
                        self.update(p.text_document.uri, change.text);
                    }
                }
            }
            DidSaveTextDocument::METHOD => {
                // Files beside the model (data, tables) may have changed: check again.
                if let Ok(p) = serde_json::from_value::<lsp_types::DidSaveTextDocumentParams>(note.params) {
                    if let Some(doc) = self.docs.get(&p.text_document.uri) {
                        let text = doc.text.clone();
                        self.update(p.text_document.uri, text);
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(note.params) {
                    self.docs.remove(&p.text_document.uri);
                    self.due.remove(&p.text_document.uri);
                }
            }
            _ => {}
        }
    }

    /// A new text for a document: read now (requests see it at once), checked once it rests.
    fn update(&mut self, uri: Url, text: String) {
        let doc = guarded(|| Doc::new(uri.clone(), text));
        if let Some(doc) = doc {
            if let Some(old) = self.docs.insert(uri.clone(), doc) {
                // Freeing a large model takes milliseconds: not on the way to the diagnostics.
                std::thread::spawn(move || drop(old));
            }
            self.due.insert(uri, Instant::now() + DEBOUNCE);
        }
    }

    /// Checks the documents whose time has come and publishes their diagnostics.
    fn check_due(&mut self, connection: &Connection) -> Result<(), String> {
        let now = Instant::now();
        let ready: Vec<Url> = self.due.iter().filter(|(_, at)| **at <= now).map(|(u, _)| u.clone()).collect();
        for uri in ready {
            self.due.remove(&uri);
            let Some(doc) = self.docs.get(&uri) else { continue };
            let library = self.library;
            let Some(by_file) = guarded(|| doc.diagnostics(library)) else { continue };
            let mut others: Vec<Url> = by_file.iter().map(|(u, _)| u.clone()).filter(|u| *u != uri).collect();
            // Files that had diagnostics and have none now are cleared.
            let mut all = by_file;
            for old in self.published.remove(&uri).unwrap_or_default() {
                if !all.iter().any(|(u, _)| *u == old) {
                    all.push((old, Vec::new()));
                }
            }
            for (file, diagnostics) in all {
                let params = PublishDiagnosticsParams { uri: file, diagnostics, version: None };
                let note = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
                send(connection, Message::Notification(note))?;
            }
            others.dedup();
            self.published.insert(uri, others);
        }
        Ok(())
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        match guarded(|| self.answer(req)) {
            Some(Ok(value)) => Response { id, result: Some(value), error: None },
            Some(Err((code, message))) => Response::new_err(id, code as i32, message),
            None => Response::new_err(id, ErrorCode::InternalError as i32, "the request failed".into()),
        }
    }

    /// The answer to a request, as JSON.
    fn answer(&self, req: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        let invalid = |e: serde_json::Error| (ErrorCode::InvalidParams, e.to_string());
        let doc_of = |uri: &Url| self.docs.get(uri).ok_or((ErrorCode::InvalidParams, format!("`{uri}` is not open")));
        let json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| (ErrorCode::InternalError, e.to_string()));
        match req.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp_types::HoverParams = serde_json::from_value(req.params).map_err(invalid)?;
                let d = &p.text_document_position_params;
                json(serde_json::to_value(doc_of(&d.text_document.uri)?.hover(d.position)))
            }
            Completion::METHOD => {
                let p: lsp_types::CompletionParams = serde_json::from_value(req.params).map_err(invalid)?;
                let d = &p.text_document_position;
                let items = doc_of(&d.text_document.uri)?.completion(d.position);
                json(serde_json::to_value(CompletionResponse::Array(items)))
            }
            SignatureHelpRequest::METHOD => {
                let p: lsp_types::SignatureHelpParams = serde_json::from_value(req.params).map_err(invalid)?;
                let d = &p.text_document_position_params;
                json(serde_json::to_value(doc_of(&d.text_document.uri)?.signature_help(d.position)))
            }
            GotoDefinition::METHOD => {
                let p: lsp_types::GotoDefinitionParams = serde_json::from_value(req.params).map_err(invalid)?;
                let d = &p.text_document_position_params;
                let found = doc_of(&d.text_document.uri)?.definition(d.position).map(GotoDefinitionResponse::Scalar);
                json(serde_json::to_value(found))
            }
            References::METHOD => {
                let p: lsp_types::ReferenceParams = serde_json::from_value(req.params).map_err(invalid)?;
                let d = &p.text_document_position;
                let found = doc_of(&d.text_document.uri)?.references(d.position, p.context.include_declaration);
                json(serde_json::to_value(found))
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp_types::DocumentSymbolParams = serde_json::from_value(req.params).map_err(invalid)?;
                let symbols = doc_of(&p.text_document.uri)?.symbols();
                json(serde_json::to_value(DocumentSymbolResponse::Nested(symbols)))
            }
            Rename::METHOD => {
                let p: lsp_types::RenameParams = serde_json::from_value(req.params).map_err(invalid)?;
                let d = &p.text_document_position;
                let edit = doc_of(&d.text_document.uri)?
                    .rename(d.position, &p.new_name)
                    .map_err(|m| (ErrorCode::InvalidRequest, m))?;
                json(serde_json::to_value(edit))
            }
            CodeActionRequest::METHOD => {
                let p: lsp_types::CodeActionParams = serde_json::from_value(req.params).map_err(invalid)?;
                let actions = doc_of(&p.text_document.uri)?.code_actions(&p.context.diagnostics);
                let actions: Vec<CodeActionOrCommand> =
                    actions.into_iter().map(CodeActionOrCommand::CodeAction).collect();
                json(serde_json::to_value(actions))
            }
            other => Err((ErrorCode::MethodNotFound, format!("`{other}` is not supported"))),
        }
    }
}

/// Runs `f`, turning a panic (a bug) into `None`: one bad request or half-typed file never
/// takes the server down.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}
