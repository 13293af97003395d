//! `kexpr lsp` spoken to as an editor does: a process on stdio, Content-Length framed JSON-RPC,
//! `initialize`, `didOpen`, `didChange`, then requests; the replies are checked for content.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications seen while waiting for something else.
    notes: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kexpr"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("KALIX_FUNCTIONS")
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, incoming) = mpsc::channel();
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
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        let mut client = Client { child, stdin, incoming, next_id: 0, notes: Vec::new() };
        let init = client.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": {}}));
        assert!(init["capabilities"]["hoverProvider"].as_bool().unwrap(), "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn recv(&mut self) -> Value {
        self.incoming.recv_timeout(Duration::from_secs(20)).expect("the server answers within 20 s")
    }

    /// Sends a request and returns its result (panicking on an error reply).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let reply = self.request_raw(method, params);
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.recv();
            if msg["id"] == json!(id) {
                return msg;
            }
            self.notes.push(msg);
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        if let Some(i) = self.notes.iter().position(|n| n["params"]["uri"] == json!(uri)) {
            return self.notes.remove(i)["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let msg = self.recv();
            if msg["method"] == "textDocument/publishDiagnostics" && msg["params"]["uri"] == json!(uri) {
                return msg["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.notes.push(msg);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        let doc = json!({"uri": uri, "languageId": "ini", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        let params = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]});
        self.notify("textDocument/didChange", params);
    }

    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32) -> Value {
        self.request(method, json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}))
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
    }
}

const MODEL: &str = "\
[const]
const.cap = 40
[table.curve]
values = 0, 0, 10, 100
[fn]
half(x) = x / 2
[var.b]
flow = max(0, data.rain - 1)
pumped = fn.half(min(var.b.flow, const.cap)) + table.curve(sim.month)
";

/// The position of the `n`-th `needle` (0-based) in `text`: (line, UTF-16 column).
fn pos(text: &str, needle: &str, n: usize) -> (u32, u32) {
    let at = text.match_indices(needle).nth(n).unwrap().0;
    let line = text[..at].matches('\n').count() as u32;
    let col = text[..at].rsplit('\n').next().unwrap().encode_utf16().count() as u32;
    (line, col)
}

fn setup() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.ini");
    std::fs::write(&path, MODEL).unwrap();
    let uri = format!("file://{}", path.display());
    (dir, path.display().to_string(), uri)
}

#[test]
fn diagnostics_are_those_of_kexpr_check_with_codes_and_quick_fixes() {
    let (_dir, path, uri) = setup();
    let broken = MODEL.replace("min(var.b.flow, const.cap)", "min(var.b.flow, const.capp)");
    std::fs::write(&path, &broken).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_kexpr")).args(["check", &path, "--format", "json"]).output().unwrap();
    let want: Vec<Value> = serde_json::from_slice(&check.stdout).unwrap();
    let mut client = Client::start();
    client.open(&uri, &broken);
    let got = client.diagnostics(&uri);
    assert_eq!(got.len(), want.len(), "{got:#?}\nvs\n{want:#?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(g["message"].as_str().unwrap().starts_with(w["message"].as_str().unwrap()), "{g} vs {w}");
        assert_eq!(g["range"]["start"]["line"], json!(w["line"].as_u64().unwrap() - 1));
        assert_eq!(g["range"]["start"]["character"], json!(w["column"].as_u64().unwrap() - 1));
        assert_eq!(g["code"], w["code"]);
        let severity = if w["severity"] == "error" { 1 } else { 2 };
        assert_eq!(g["severity"], json!(severity));
    }
    let unknown = got.iter().find(|d| d["code"] == "variable_unknown").unwrap();
    assert!(unknown["message"].as_str().unwrap().contains("help: did you mean `const.cap`?"), "{unknown}");
    // The quick fix writes the proposed name over the misspelt one.
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": unknown["range"], "context": {"diagnostics": [unknown]}}),
    );
    let action = &actions[0];
    assert_eq!(action["kind"], "quickfix");
    let edit = &action["edit"]["changes"][&uri][0];
    assert_eq!(edit["newText"], "const.cap");
    assert_eq!(edit["range"], unknown["range"]);

    // Fixed in the editor: the error goes, the buffer (not the file on disk) is what counts.
    client.change(&uri, 2, MODEL);
    let after = client.diagnostics(&uri);
    assert!(after.iter().all(|d| d["severity"] != json!(1)), "{after:#?}");
    client.stop();
}

#[test]
fn hover_shows_builtins_functions_constants_tables_series_and_calendar() {
    let (_dir, _, uri) = setup();
    let mut client = Client::start();
    client.open(&uri, MODEL);
    let mut hover = |needle: &str, n: usize| {
        let (l, c) = pos(MODEL, needle, n);
        client.at("textDocument/hover", &uri, l, c + 1)["contents"]["value"].as_str().unwrap_or("").to_string()
    };
    let max = hover("max", 0);
    assert!(max.contains("max(a, b, …)") || max.contains("max("), "{max}");
    assert!(max.contains("largest argument") && max.contains("Example: `max(0.5, 2)` = 2"), "{max}");
    assert!(hover("fn.half", 0).contains("fn.half(x) = x / 2"));
    assert!(hover("const.cap", 1).contains("const.cap = 40"));
    let table = hover("table.curve", 0);
    assert!(table.contains("1D table of 2 rows, keys 0 to 10"), "{table}");
    assert!(hover("var.b.flow", 0).contains("var.b.flow = max(0, data.rain - 1)"));
    assert!(hover("sim.month", 0).contains("the month of the step's date"));
    assert!(hover("data.rain", 0).contains("input"));
    client.stop();
}

#[test]
fn completion_offers_the_names_of_the_namespace_being_typed() {
    let (_dir, _, uri) = setup();
    let text = format!("{MODEL}more = const.\nother = fn.\n");
    let mut client = Client::start();
    client.open(&uri, &text);
    let labels = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
    };
    let (l, c) = pos(&text, "const.\n", 0);
    let consts = labels(&client.at("textDocument/completion", &uri, l, c + 6));
    assert_eq!(consts, ["const.cap"]);
    let (l, c) = pos(&text, "fn.\n", 0);
    assert_eq!(labels(&client.at("textDocument/completion", &uri, l, c + 3)), ["fn.half"]);
    // At the start of a value: namespaces and built-ins, with signatures.
    let (l, c) = pos(&text, "max", 0);
    let all = client.at("textDocument/completion", &uri, l, c);
    let names = labels(&all);
    assert!(names.contains(&"fn.".to_string()) && names.contains(&"moving_median".to_string()), "{names:?}");
    let m = all.as_array().unwrap().iter().find(|i| i["label"] == "moving_percentile").unwrap();
    assert_eq!(m["detail"], "moving_percentile(x, n, p, default)");
    client.stop();
}

#[test]
fn signature_help_definition_references_symbols_and_rename() {
    let (_dir, _, uri) = setup();
    let mut client = Client::start();
    client.open(&uri, MODEL);
    // Inside `min(var.b.flow, |const.cap)`: the second parameter.
    let (l, c) = pos(MODEL, "const.cap)", 0);
    let help = client.at("textDocument/signatureHelp", &uri, l, c);
    assert_eq!(help["signatures"][0]["label"], "min(a, b, …)");
    assert_eq!(help["activeParameter"], 1);

    let (l, c) = pos(MODEL, "fn.half", 0);
    let def = client.at("textDocument/definition", &uri, l, c + 4);
    let (dl, dc) = pos(MODEL, "half(x)", 0);
    assert_eq!(def["range"]["start"], json!({"line": dl, "character": dc}));
    assert_eq!(def["range"]["end"], json!({"line": dl, "character": dc + 4}));

    let (l, c) = pos(MODEL, "flow =", 0);
    let refs = client.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": {"line": l, "character": c}, "context": {"includeDeclaration": true}}),
    );
    let lines: Vec<u64> =
        refs.as_array().unwrap().iter().map(|r| r["range"]["start"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [7, 8], "the key, then its use in `pumped`");

    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    let names: Vec<&str> = symbols.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["const.cap", "fn.half", "table.curve", "var.b.flow", "var.b.pumped"]);

    let (l, c) = pos(MODEL, "half(x)", 0);
    let edit = client.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": l, "character": c}, "newName": "halve"}),
    );
    let edits = edit["changes"][&uri].as_array().unwrap();
    let texts: Vec<&str> = edits.iter().map(|e| e["newText"].as_str().unwrap()).collect();
    assert_eq!(texts, ["halve", "fn.halve"]);
    let refused = client.request_raw(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": l, "character": c}, "newName": "9lives"}),
    );
    assert!(refused["error"]["message"].as_str().unwrap().contains("not a valid name"), "{refused}");
    client.stop();
}

#[test]
fn a_half_typed_file_never_stops_the_server() {
    let (_dir, _, uri) = setup();
    let mut client = Client::start();
    client.open(&uri, MODEL);
    client.diagnostics(&uri);
    let typing = ["[var.b]\nx = max(", "[var.b]\nx = max(1,, {", "[tab", "\u{0}\u{1}[[", "[var.b]\nx = 😀(", ""];
    for (i, text) in typing.iter().enumerate() {
        client.change(&uri, 2 + i as i64, text);
        // Requests anywhere in it are answered.
        client.at("textDocument/hover", &uri, 1, 6);
        client.at("textDocument/completion", &uri, 1, 9);
        client.at("textDocument/signatureHelp", &uri, 1, 9);
    }
    let last = client.diagnostics(&uri);
    assert!(last.iter().all(|d| d["severity"] == json!(1) || d["severity"] == json!(2)));
    client.change(&uri, 99, "[var.b]\nx = max(1, 2)\n");
    // Diagnostics for earlier texts may still arrive; the last is empty.
    let mut seen = client.diagnostics(&uri);
    while !seen.is_empty() {
        seen = client.diagnostics(&uri);
    }
    client.stop();
}
