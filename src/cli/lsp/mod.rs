//! `nnt lsp`: a Language Server Protocol server on stdio (spec §19).
//!
//! One thread, one loop: read a message, answer it. Documents are synchronised in
//! full; each open and change is checked with [`crate::check::check_recipe`]
//! (relative paths against the document's directory) and its diagnostics
//! published. A check reads the recipe's data through
//! [`crate::check::data_cache`] (kept by spec, seed and each file's path,
//! modification time and size), so a keystroke outside the `data` section does not
//! read the files again; when a check with the data still took long (a large CSV
//! read for the first time), changes are checked without the data
//! ([`crate::check::resolve_recipe`]) until the next open or save.
//!
//! Bad input never ends the server: a message that is not JSON is answered with a
//! parse error, a request whose `id` is neither an integer nor a string with
//! "invalid request" and a null id (JSON-RPC 2.0), an unknown request with
//! "method not found", bad parameters with "invalid params", and a panic in a
//! handler with an internal error. A `didChange` with a change it cannot apply
//! (a range that is not one) leaves the document as it was and says so in a
//! `window/logMessage`.

pub mod features;
pub mod text;
pub mod transport;

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lsp_types::{
    CodeActionKind, CodeActionProviderCapability, CompletionOptions, DiagnosticSeverity,
    HoverProviderCapability, InitializeResult, MarkupContent, MarkupKind, OneOf, Position, Range,
    SaveOptions, SemanticTokensFullOptions, SemanticTokensLegend, SemanticTokensOptions,
    SemanticTokensServerCapabilities, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, TextEdit,
};
use serde_json::{json, Value};

use crate::check::CheckOptions;
use crate::ir::Model;
use text::LineIndex;
use transport::Incoming;

/// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
const SERVER_NOT_INITIALIZED: i64 = -32002;

/// A full check (with the data) slower than this is run on open and save only.
const FULL_CHECK_BUDGET: Duration = Duration::from_millis(50);

/// An open document.
struct Doc {
    text: String,
    version: Option<i64>,
    /// The name diagnostics use (the path), and the directory of relative paths.
    name: String,
    dir: PathBuf,
    /// The model (with widths) of the last check that produced one (possibly of
    /// older text).
    model: Option<Model>,
    /// The last published diagnostics with their suggested replacements.
    fixes: Vec<(lsp_types::Diagnostic, String)>,
    /// How long the last check with the data took.
    full_cost: Duration,
}

/// The server's state.
pub struct Server {
    docs: HashMap<String, Doc>,
    initialized: bool,
    shutdown: bool,
    /// Messages to send, in order.
    out: Vec<Value>,
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

/// Runs the server on stdin/stdout until `exit` or the end of the input; returns
/// the process's exit status (0 after `shutdown`, 1 otherwise, as LSP says), or
/// the error that ended it when stdout could not be written (a full disk; a
/// closed pipe is the client gone, and ends it quietly with 1).
pub fn run_stdio() -> Result<u8, std::io::Error> {
    let stdin = std::io::stdin();
    let mut stdout = Recorded {
        inner: std::io::stdout().lock(),
        error: None,
    };
    let code = serve(&mut stdin.lock(), &mut stdout);
    match stdout.error {
        Some(e) if !crate::cli::output::is_closed_pipe(&e) => Err(e),
        _ => Ok(code),
    }
}

/// A writer that keeps the first error it met (to report it once the server
/// has stopped).
struct Recorded<W> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: Write> Write for Recorded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.keep(e))
    }
}

impl<W> Recorded<W> {
    fn keep(&mut self, e: std::io::Error) -> std::io::Error {
        let copy = std::io::Error::new(e.kind(), e.to_string());
        self.error.get_or_insert(e);
        copy
    }
}

/// Runs the server on any pair of streams.
pub fn serve(input: &mut impl BufRead, output: &mut impl Write) -> u8 {
    crate::check::data_cache::enable();
    let mut server = Server::new();
    loop {
        let msg = match transport::read(input) {
            Ok(Incoming::Message(v)) => v,
            Ok(Incoming::Malformed(why)) => {
                server.error(Value::Null, PARSE_ERROR, &why);
                if flush(&mut server, output).is_err() {
                    return 1;
                }
                continue;
            }
            Ok(Incoming::Eof) | Err(_) => return 1,
        };
        let exit = server.handle(msg);
        if flush(&mut server, output).is_err() {
            return 1;
        }
        if let Some(code) = exit {
            return code;
        }
    }
}

fn flush(server: &mut Server, output: &mut impl Write) -> std::io::Result<()> {
    for m in server.out.drain(..) {
        transport::write(output, &m)?;
    }
    Ok(())
}

impl Server {
    pub fn new() -> Server {
        Server {
            docs: HashMap::new(),
            initialized: false,
            shutdown: false,
            out: Vec::new(),
        }
    }

    /// The messages produced so far (and not yet taken).
    pub fn take_output(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.out)
    }

    fn error(&mut self, id: Value, code: i64, message: &str) {
        self.out.push(json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": code, "message": message},
        }));
    }

    fn reply(&mut self, id: Value, result: Value) {
        self.out
            .push(json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.out
            .push(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Handles one message; `Some(status)` when the server should exit.
    pub fn handle(&mut self, msg: Value) -> Option<u8> {
        let Some(obj) = msg.as_object() else {
            self.error(
                Value::Null,
                INVALID_REQUEST,
                "a message must be a JSON object",
            );
            return None;
        };
        let id = match obj.get("id") {
            // JSON-RPC allows a null id; LSP's ids are integers or strings.
            Some(id) if id.is_null() || id.is_string() || id.is_i64() || id.is_u64() => {
                Some(id.clone())
            }
            Some(_) if obj.contains_key("result") || obj.contains_key("error") => {
                // A response to a request of ours: there are none to match.
                return None;
            }
            Some(_) => {
                // Not echoed: the answer's id is null when the request's could
                // not be read (JSON-RPC 2.0, "Invalid Request").
                self.error(
                    Value::Null,
                    INVALID_REQUEST,
                    "a request's `id` must be an integer or a string",
                );
                return None;
            }
            None => None,
        };
        let Some(method) = obj
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            if obj.contains_key("result") || obj.contains_key("error") {
                // A response to a request of ours: there are none to match.
                return None;
            }
            self.error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "a message must have a `method`",
            );
            return None;
        };
        let params = obj.get("params").cloned().unwrap_or(Value::Null);
        match id {
            Some(id) => {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.request(&method, params)
                }));
                match outcome {
                    Ok(Ok(result)) => self.reply(id, result),
                    Ok(Err((code, message))) => self.error(id, code, &message),
                    Err(_) => self.error(id, INTERNAL_ERROR, "internal error"),
                }
                None
            }
            None => {
                if method == "exit" {
                    return Some(if self.shutdown { 0 } else { 1 });
                }
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.notification(&method, params)
                }));
                None
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, (i64, String)> {
        if method == "initialize" {
            self.initialized = true;
            return Ok(serde_json::to_value(initialize_result()).unwrap_or(Value::Null));
        }
        if !self.initialized {
            return Err((SERVER_NOT_INITIALIZED, "initialize first".into()));
        }
        if self.shutdown {
            return Err((INVALID_REQUEST, "the server is shutting down".into()));
        }
        match method {
            "shutdown" => {
                self.shutdown = true;
                Ok(Value::Null)
            }
            "textDocument/hover" => self.hover(&params),
            "textDocument/completion" => self.completion(&params),
            "textDocument/formatting" => self.formatting(&params),
            "textDocument/codeAction" => self.code_action(&params),
            "textDocument/semanticTokens/full" => {
                let (_, doc) = self.doc(&params)?;
                let data = features::semantic_tokens(&doc.text);
                Ok(json!({ "data": flatten(&data) }))
            }
            "textDocument/documentSymbol" => {
                let (_, doc) = self.doc(&params)?;
                Ok(features::symbols(&doc.text)
                    .and_then(|s| serde_json::to_value(s).ok())
                    .unwrap_or(Value::Null))
            }
            _ => Err((METHOD_NOT_FOUND, format!("unknown method `{method}`"))),
        }
    }

    fn notification(&mut self, method: &str, params: Value) {
        if !self.initialized {
            return;
        }
        match method {
            "textDocument/didOpen" => {
                let td = &params["textDocument"];
                let (Some(uri), Some(text)) = (td["uri"].as_str(), td["text"].as_str()) else {
                    return;
                };
                let (name, dir) = name_and_dir(uri);
                let doc = Doc {
                    text: text.to_string(),
                    version: td["version"].as_i64(),
                    name,
                    dir,
                    model: None,
                    fixes: Vec::new(),
                    full_cost: Duration::ZERO,
                };
                self.docs.insert(uri.to_string(), doc);
                self.check(uri, true);
            }
            "textDocument/didChange" => {
                let Some(uri) = params["textDocument"]["uri"].as_str() else {
                    return;
                };
                let Some(doc) = self.docs.get_mut(uri) else {
                    return;
                };
                let Some(changes) = params["contentChanges"].as_array() else {
                    return;
                };
                // All the changes or none: a change that cannot be applied
                // leaves the document as it was (later changes are relative to
                // a text that would include it), and is logged, never guessed.
                let mut text = doc.text.clone();
                let problem = changes.iter().enumerate().find_map(|(i, change)| {
                    apply_change(&mut text, change).err().map(|why| (i, why))
                });
                let uri = uri.to_string();
                if let Some((i, why)) = problem {
                    let message = format!(
                        "nnt: ignored a change of {uri}: change {} of {}: {why}; the document is left as it was",
                        i + 1,
                        changes.len()
                    );
                    self.notify(
                        "window/logMessage",
                        json!({"type": lsp_types::MessageType::WARNING, "message": message}),
                    );
                    return;
                }
                doc.text = text;
                doc.version = params["textDocument"]["version"].as_i64();
                let full = doc.full_cost <= FULL_CHECK_BUDGET;
                self.check(&uri, full);
            }
            "textDocument/didSave" => {
                let Some(uri) = params["textDocument"]["uri"].as_str() else {
                    return;
                };
                let uri = uri.to_string();
                if let (Some(doc), Some(t)) = (self.docs.get_mut(&uri), params["text"].as_str()) {
                    doc.text = t.to_string();
                }
                if self.docs.contains_key(&uri) {
                    self.check(&uri, true);
                }
            }
            "textDocument/didClose" => {
                if let Some(uri) = params["textDocument"]["uri"].as_str() {
                    self.docs.remove(uri);
                    self.notify(
                        "textDocument/publishDiagnostics",
                        json!({"uri": uri, "diagnostics": []}),
                    );
                }
            }
            _ => {}
        }
    }

    /// Checks a document and publishes its diagnostics; `with_data` reads the data.
    fn check(&mut self, uri: &str, with_data: bool) {
        let Some(doc) = self.docs.get_mut(uri) else {
            return;
        };
        let opts = CheckOptions::default();
        let bytes = doc.text.as_bytes();
        let (errors, warnings) = if with_data {
            let start = Instant::now();
            let mut report = crate::check::check_recipe(&doc.name, bytes, &doc.dir, &opts);
            // What `nnt check` finds about the recipe's files (init_from,
            // save, the checkpoint path), as it reports them.
            if let Some(program) = report.program.as_ref().filter(|_| report.errors.is_empty()) {
                let recipe = PathBuf::from(&doc.name);
                let opts = crate::train::RunOptions {
                    inputs: crate::cli::check::run_inputs(
                        &recipe,
                        report.data_files.iter().cloned(),
                    ),
                    ..Default::default()
                };
                report.errors.extend(crate::cli::check::file_problems(
                    program,
                    &opts,
                    (&[], false),
                ));
            }
            doc.full_cost = start.elapsed();
            if report.model.is_some() {
                doc.model = report.model;
            }
            (report.errors, report.warnings)
        } else {
            let report = crate::check::resolve_recipe(&doc.name, bytes, &doc.dir, &opts);
            (report.errors, report.warnings)
        };
        let idx = LineIndex::new(&doc.text);
        let place = features::Place {
            name: &doc.name,
            uri,
            dir: &doc.dir,
        };
        let mut all =
            features::convert(&errors, DiagnosticSeverity::ERROR, &place, &doc.text, &idx);
        all.extend(features::convert(
            &warnings,
            DiagnosticSeverity::WARNING,
            &place,
            &doc.text,
            &idx,
        ));
        doc.fixes = all
            .iter()
            .filter_map(|c| c.fix.clone().map(|f| (c.diagnostic.clone(), f)))
            .collect();
        let diagnostics: Vec<_> = all.into_iter().map(|c| c.diagnostic).collect();
        let mut params = json!({"uri": uri, "diagnostics": diagnostics});
        if let Some(v) = doc.version {
            params["version"] = json!(v);
        }
        self.notify("textDocument/publishDiagnostics", params);
    }

    /// The document a request names.
    fn doc(&self, params: &Value) -> Result<(String, &Doc), (i64, String)> {
        let uri = params["textDocument"]["uri"]
            .as_str()
            .ok_or((INVALID_PARAMS, "missing textDocument.uri".to_string()))?;
        let doc = self
            .docs
            .get(uri)
            .ok_or((INVALID_PARAMS, format!("`{uri}` is not open")))?;
        Ok((uri.to_string(), doc))
    }

    /// The document and byte offset a positional request names.
    fn doc_at(&self, params: &Value) -> Result<(String, &Doc, usize), (i64, String)> {
        let (uri, doc) = self.doc(params)?;
        let pos: Position = serde_json::from_value(params["position"].clone())
            .map_err(|e| (INVALID_PARAMS, format!("bad position: {e}")))?;
        let offset = LineIndex::new(&doc.text).offset(&doc.text, pos);
        Ok((uri, doc, offset))
    }

    fn hover(&self, params: &Value) -> Result<Value, (i64, String)> {
        let (_, doc, offset) = self.doc_at(params)?;
        let Some((value, span)) = features::hover(&doc.text, offset, doc.model.as_ref()) else {
            return Ok(Value::Null);
        };
        let idx = LineIndex::new(&doc.text);
        let hover = lsp_types::Hover {
            contents: lsp_types::HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            }),
            range: Some(Range::new(
                idx.position(&doc.text, span.start),
                idx.position(&doc.text, span.end),
            )),
        };
        Ok(serde_json::to_value(hover).unwrap_or(Value::Null))
    }

    fn completion(&self, params: &Value) -> Result<Value, (i64, String)> {
        let (_, doc, offset) = self.doc_at(params)?;
        let items = features::complete(&doc.text, offset);
        Ok(serde_json::to_value(items).unwrap_or(Value::Null))
    }

    fn formatting(&self, params: &Value) -> Result<Value, (i64, String)> {
        let (_, doc) = self.doc(params)?;
        match crate::cli::format::format_recipe(&doc.name, doc.text.as_bytes()) {
            Ok(formatted) if formatted == doc.text => Ok(json!([])),
            Ok(formatted) => {
                let idx = LineIndex::new(&doc.text);
                let edit = TextEdit {
                    range: Range::new(Position::new(0, 0), idx.end(&doc.text)),
                    new_text: formatted,
                };
                Ok(serde_json::to_value(vec![edit]).unwrap_or(Value::Null))
            }
            // A recipe that does not parse is not formatted; its diagnostics say why.
            Err(_) => Ok(Value::Null),
        }
    }

    fn code_action(&self, params: &Value) -> Result<Value, (i64, String)> {
        let (uri, doc) = self.doc(params)?;
        let range: Range = serde_json::from_value(params["range"].clone())
            .map_err(|e| (INVALID_PARAMS, format!("bad range: {e}")))?;
        let overlaps = |r: &Range| r.start <= range.end && range.start <= r.end;
        let actions: Vec<Value> = doc
            .fixes
            .iter()
            .filter(|(d, _)| overlaps(&d.range))
            .map(|(d, replacement)| {
                json!({
                    "title": format!("Replace with `{replacement}`"),
                    "kind": CodeActionKind::QUICKFIX,
                    "diagnostics": [d],
                    "isPreferred": true,
                    "edit": {"changes": {uri.clone(): [TextEdit {
                        range: d.range,
                        new_text: replacement.clone(),
                    }]}},
                })
            })
            .collect();
        Ok(Value::Array(actions))
    }
}

/// Applies one `contentChanges` entry: without a `range` (or with a null one),
/// the whole text (the synchronisation this server asks for); from a client
/// that sends them anyway, a range's new text, a position past the end of its
/// line or of the text standing for that end (as LSP says). A change without
/// its text, or whose range is not a range (a negative or fractional position,
/// a start after the end), is not applied: why, in words.
fn apply_change(text: &mut String, change: &Value) -> Result<(), String> {
    let Some(new) = change.get("text").and_then(Value::as_str) else {
        return Err("it has no `text`".into());
    };
    let range = match change.get("range") {
        None | Some(Value::Null) => {
            *text = new.to_string();
            return Ok(());
        }
        Some(range) => range,
    };
    let r = serde_json::from_value::<Range>(range.clone())
        .map_err(|e| format!("its range is not valid: {e}"))?;
    if r.start > r.end {
        return Err(format!(
            "its range starts ({}:{}) after it ends ({}:{})",
            r.start.line, r.start.character, r.end.line, r.end.character
        ));
    }
    let idx = LineIndex::new(text);
    let start = idx.offset(text, r.start);
    let end = idx.offset(text, r.end).max(start);
    text.replace_range(start..end, new);
    Ok(())
}

fn flatten(tokens: &[lsp_types::SemanticToken]) -> Vec<u32> {
    tokens
        .iter()
        .flat_map(|t| {
            [
                t.delta_line,
                t.delta_start,
                t.length,
                t.token_type,
                t.token_modifiers_bitset,
            ]
        })
        .collect()
}

/// The diagnostics name and the directory of relative paths of a document.
fn name_and_dir(uri: &str) -> (String, PathBuf) {
    match features::uri_path(uri) {
        Some(p) => {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            (p.display().to_string(), dir)
        }
        None => (uri.to_string(), PathBuf::from(".")),
    }
}

fn initialize_result() -> InitializeResult {
    InitializeResult {
        capabilities: ServerCapabilities {
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::FULL),
                    save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                        include_text: Some(false),
                    })),
                    ..Default::default()
                },
            )),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(vec!["(".into(), ",".into(), "=".into(), "[".into()]),
                ..Default::default()
            }),
            document_formatting_provider: Some(OneOf::Left(true)),
            code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
            document_symbol_provider: Some(OneOf::Left(true)),
            semantic_tokens_provider: Some(
                SemanticTokensServerCapabilities::SemanticTokensOptions(SemanticTokensOptions {
                    legend: SemanticTokensLegend {
                        token_types: features::TOKEN_TYPES.to_vec(),
                        token_modifiers: Vec::new(),
                    },
                    full: Some(SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    ..Default::default()
                }),
            ),
            ..Default::default()
        },
        server_info: Some(ServerInfo {
            name: "nnt".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_whole_or_by_range() {
        let mut t = "seed = 1\nloss = mse\n".to_string();
        let change = |t: &mut String, v: Value| apply_change(t, &v);
        change(
            &mut t,
            json!({"range": {"start": {"line": 1, "character": 7}, "end": {"line": 1, "character": 10}}, "text": "mae"}),
        )
        .unwrap();
        assert_eq!(t, "seed = 1\nloss = mae\n");
        change(
            &mut t,
            json!({"range": {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 7}}, "text": "2"}),
        )
        .unwrap();
        assert_eq!(t, "seed = 21\nloss = mae\n");
        change(&mut t, json!({"text": "seed = 3\n"})).unwrap();
        assert_eq!(t, "seed = 3\n");
        change(&mut t, json!({"range": null, "text": "seed = 4\n"})).unwrap();
        assert_eq!(t, "seed = 4\n");
        assert!(change(&mut t, json!({"range": 5})).is_err());
        assert_eq!(t, "seed = 4\n");
        // Past the end of a line, or of the text: that end (LSP's clamping).
        change(
            &mut t,
            json!({"range": {"start": {"line": 0, "character": 99}, "end": {"line": 7, "character": 0}}, "text": "# end\n"}),
        )
        .unwrap();
        assert_eq!(t, "seed = 4# end\n");
    }

    /// A range that is not one is not applied (it replaced the whole text).
    #[test]
    fn a_change_with_a_malformed_range_is_not_applied() {
        let text = "seed = 1\nloss = mse\n";
        let at = |line: Value, character: Value| json!({"line": line, "character": character});
        for range in [
            json!({"start": at(json!(0), json!(-1)), "end": at(json!(0), json!(2))}),
            json!({"start": at(json!(0), json!(1.5)), "end": at(json!(0), json!(2))}),
            json!({"start": at(json!(0), json!("1")), "end": at(json!(0), json!(2))}),
            json!({"start": at(json!(-1), json!(0)), "end": at(json!(0), json!(2))}),
            json!({"start": at(json!(0), json!(0))}),
            json!({"start": at(json!(1), json!(0)), "end": at(json!(0), json!(4))}),
            json!({"start": at(json!(0), json!(5)), "end": at(json!(0), json!(4))}),
            json!([0, 1]),
            json!("0:1-0:2"),
            json!(5),
        ] {
            let mut t = text.to_string();
            let change = json!({"range": range.clone(), "text": "x"});
            assert!(apply_change(&mut t, &change).is_err(), "{range}");
            assert_eq!(t, text, "{range}");
        }
        let mut t = text.to_string();
        assert!(apply_change(&mut t, &json!("seed = 2\n")).is_err());
        assert_eq!(t, text);
    }

    /// The server in-process: requests answered in order, `exit` ends it.
    #[test]
    fn serves_a_session() {
        let mut input = Vec::new();
        for m in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}),
            json!({"jsonrpc": "2.0", "method": "exit"}),
        ] {
            transport::write(&mut input, &m).unwrap_or_default();
        }
        let mut out = Vec::new();
        let status = serve(&mut std::io::Cursor::new(input), &mut out);
        assert_eq!(status, 0);
        let mut r = std::io::Cursor::new(out);
        let mut replies = Vec::new();
        while let Ok(Incoming::Message(v)) = transport::read(&mut r) {
            replies.push(v);
        }
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[0]["error"]["code"], SERVER_NOT_INITIALIZED);
        assert_eq!(replies[1]["id"], 2);
        assert!(replies[1]["result"]["capabilities"]["hoverProvider"] == true);
        assert_eq!(replies[2]["result"], Value::Null);
    }
}
