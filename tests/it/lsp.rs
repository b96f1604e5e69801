//! `nnt lsp` driven as an editor drives it: JSON-RPC over the binary's stdio.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_nnt");
const WAIT: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else.
    pending: Vec<Value>,
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(BIN)
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("nnt lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_message(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let mut c = Client {
            child,
            stdin,
            rx,
            next_id: 1,
            pending: Vec::new(),
        };
        let init = c.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "nnt");
        assert_eq!(
            init["result"]["capabilities"]["textDocumentSync"]["change"],
            1
        );
        c.notify("initialized", json!({}));
        c
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.send_raw(framed.as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn recv(&mut self) -> Value {
        self.rx.recv_timeout(WAIT).expect("the server answers")
    }

    /// Sends a request and returns its response (keeping notifications aside).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(json!(id))
    }

    fn response(&mut self, id: Value) -> Value {
        loop {
            let m = self.recv();
            if m.get("id") == Some(&id) && m.get("method").is_none() {
                return m;
            }
            self.pending.push(m);
        }
    }

    /// The next `publishDiagnostics` for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_it = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(is_it) {
            let m = self.pending.remove(i);
            return m["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        loop {
            let m = self.recv();
            if is_it(&m) {
                return m["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
            self.pending.push(m);
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "nnt", "version": 1, "text": text}}),
        );
        self.diagnostics(uri)
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
        self.diagnostics(uri)
    }

    fn shutdown(mut self) {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r["result"], Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert_eq!(status.code(), Some(0), "exit after shutdown is status 0");
                return;
            }
            assert!(Instant::now() < deadline, "the server exits");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Line and UTF-16 column of the first occurrence of `needle` (ASCII text).
fn pos_of(text: &str, needle: &str) -> (u64, u64) {
    let at = text.find(needle).expect("needle in text");
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line as u64, col as u64)
}

const RECIPE: &str = "seed = 1\n\ndata {\n    train = xor(n = 64, noise = 0.1)\n}\n\nmodel {\n    dense(16)\n    relu\n    dense(2)\n}\n\nloss = cross_entropy\noptimizer = adamm(lr = 0.01)\n\ntrain {\n    epochs = 2\n}\n";

#[test]
fn diagnostics_quick_fix_hover_and_completion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.nnt");
    let uri = uri_of(&path);
    let mut c = Client::start();

    // An unknown optimizer: the diagnostic has its code and the exact range.
    let diags = c.open(&uri, RECIPE);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "nnt::check::unknown_name");
    assert_eq!(d["severity"], 1);
    let (line, col) = pos_of(RECIPE, "adamm");
    assert_eq!(d["range"]["start"], json!({"line": line, "character": col}));
    assert_eq!(
        d["range"]["end"],
        json!({"line": line, "character": col + 5})
    );
    assert!(d["message"]
        .as_str()
        .is_some_and(|m| m.contains("did you mean `adam`?")));

    // Hover on a layer works while another part of the recipe is wrong: the data
    // and the model checked.
    let (line, col) = pos_of(RECIPE, "dense(2)");
    let r = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": col}}),
    );
    let h = r["result"]["contents"]["value"]
        .as_str()
        .expect("hover text");
    assert!(h.contains("layer 2") && h.contains("`[batch, 2]`"), "{h}");
    let params = 2 * 16 + 2;
    assert!(h.contains(&format!("{params} trainable parameters")), "{h}");

    // The quick fix replaces the name with the suggestion.
    let r = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
    );
    let actions = r["result"].as_array().expect("actions");
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["kind"], "quickfix");
    let edits = &actions[0]["edit"]["changes"][&uri];
    assert_eq!(edits[0]["newText"], "adam");
    assert_eq!(edits[0]["range"], d["range"]);

    // Applying it leaves no diagnostic.
    let fixed = RECIPE.replace("adamm", "adam");
    let diags = c.change(&uri, 2, &fixed);
    assert!(diags.is_empty(), "{diags:?}");

    // Hover on the first dense layer: its width and parameter count (xor has 2
    // features: a 16×2 weight and 16 biases).
    let (line, col) = pos_of(&fixed, "dense(16)");
    let r = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": col + 2}}),
    );
    let h = r["result"]["contents"]["value"]
        .as_str()
        .expect("hover text");
    assert!(h.contains("layer 0"), "{h}");
    assert!(h.contains("`[batch, 16]`"), "{h}");
    let params = 16 * 2 + 16;
    assert!(h.contains(&format!("{params} trainable parameters")), "{h}");

    // Hover on a built-in: its doc and defaults.
    let (line, col) = pos_of(&fixed, "adam(");
    let r = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": col + 1}}),
    );
    let h = r["result"]["contents"]["value"]
        .as_str()
        .expect("hover text");
    assert!(h.contains("beta1 = 0.9") && h.contains("optimizer"), "{h}");

    // Completion of optimizer names after `optimizer = `.
    let partial = fixed.replace("optimizer = adam(lr = 0.01)", "optimizer = ");
    c.change(&uri, 3, &partial);
    let (line, col) = pos_of(&partial, "optimizer = ");
    let r = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": col + 12}}),
    );
    let labels: Vec<&str> = r["result"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    for o in &["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"] {
        assert!(labels.contains(o), "{o} missing from {labels:?}");
    }
    assert!(!labels.contains(&"relu"), "{labels:?}");

    // Completion of a call's parameters, with their defaults.
    let partial = fixed.replace(
        "optimizer = adam(lr = 0.01)",
        "optimizer = adam(lr = 0.01, )",
    );
    c.change(&uri, 4, &partial);
    let (line, col) = pos_of(&partial, ", )");
    let r = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": col + 2}}),
    );
    let items = r["result"].as_array().expect("items");
    let beta1 = items
        .iter()
        .find(|i| i["label"] == "beta1")
        .expect("beta1 offered");
    assert_eq!(beta1["detail"], "beta1 = 0.9");
    assert!(items.iter().any(|i| i["label"] == "amsgrad"));

    // Document symbols: the sections, with the layers inside `model`.
    let r = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let syms = r["result"].as_array().expect("symbols");
    let model = syms
        .iter()
        .find(|s| s["name"] == "model")
        .expect("model symbol");
    let layers: Vec<&str> = model["children"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(layers, ["dense(16)", "relu", "dense(2)"]);

    // Semantic tokens: five integers per token, one token per number, string, name.
    let r = c.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let data = r["result"]["data"].as_array().expect("data");
    assert_eq!(data.len() % 5, 0);
    assert!(data.len() / 5 > 20);
    c.shutdown();
}

#[test]
fn formatting_equals_nnt_fmt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("messy.nnt");
    let messy = "seed=1 # the seed\ndata{train=xor(n=64,noise=0.1)}\nmodel{\n dense( 8 );relu\n     dense(2)}\nloss=cross_entropy\noptimizer=sgd(lr=0.1)\ntrain{epochs=1}\n";
    std::fs::write(&path, messy).expect("write");
    let status = Command::new(BIN)
        .arg("fmt")
        .arg(&path)
        .status()
        .expect("nnt fmt");
    assert!(status.success());
    let expected = std::fs::read_to_string(&path).expect("read");
    assert_ne!(expected, messy);

    let uri = uri_of(&path);
    let mut c = Client::start();
    c.open(&uri, messy);
    let r = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    let edits = r["result"].as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0]["range"]["start"],
        json!({"line": 0, "character": 0})
    );
    let lines = messy.matches('\n').count() as u64;
    assert_eq!(
        edits[0]["range"]["end"],
        json!({"line": lines, "character": 0})
    );
    assert_eq!(edits[0]["newText"].as_str(), Some(expected.as_str()));

    // Formatted text needs no edit.
    c.change(&uri, 2, &expected);
    let r = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(r["result"], json!([]));
    c.shutdown();
}

#[test]
fn bad_input_does_not_kill_the_server() {
    let mut c = Client::start();
    // A body that is not JSON: a parse error with a null id.
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    let m = c.recv();
    assert_eq!(m["error"]["code"], -32700);
    assert_eq!(m["id"], Value::Null);
    // A broken header.
    c.send_raw(b"Content-Length: many\r\n\r\n");
    assert_eq!(c.recv()["error"]["code"], -32700);
    // JSON that is not a request.
    c.send(&json!([1, 2, 3]));
    assert_eq!(c.recv()["error"]["code"], -32600);
    c.send(&json!({"jsonrpc": "2.0", "id": 77}));
    let m = c.recv();
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (json!(77), json!(-32600))
    );
    // An unknown request, and bad parameters.
    let r = c.request("workspace/frobnicate", json!({}));
    assert_eq!(r["error"]["code"], -32601);
    let r = c.request("textDocument/hover", json!({"textDocument": 5}));
    assert_eq!(r["error"]["code"], -32602);
    let r = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": "file:///nowhere.nnt"}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(r["error"]["code"], -32602);
    // Unknown notifications and notifications with junk are ignored.
    c.notify("$/cancelRequest", json!({"id": 1}));
    c.notify("textDocument/didChange", json!(null));
    // Still alive: a real document gets diagnostics, here a syntax error.
    let diags = c.open("file:///tmp/broken.nnt", "model {\n  dense(4\n");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0]["code"]
        .as_str()
        .is_some_and(|c| c.starts_with("nnt::syntax::")));
    c.shutdown();
}

/// A request whose id is neither an integer nor a string is an invalid request,
/// answered with a null id (the id was echoed) and not carried out.
#[test]
fn a_request_with_an_id_of_another_type_is_invalid() {
    let mut c = Client::start();
    for id in [json!({"a": 1}), json!([1]), json!(1.5), json!(true)] {
        c.send(&json!({"jsonrpc": "2.0", "id": id.clone(), "method": "shutdown"}));
        let m = c.recv();
        assert_eq!(m["id"], Value::Null, "{id}: {m}");
        assert_eq!(m["error"]["code"], -32600, "{id}: {m}");
        assert!(m.get("result").is_none(), "{id}: {m}");
    }
    // Integers and strings are ids; the server did not shut down above.
    c.send(&json!({"jsonrpc": "2.0", "id": "seven", "method": "workspace/frobnicate"}));
    let m = c.response(json!("seven"));
    assert_eq!(m["error"]["code"], -32601);
    let r = c.request("textDocument/hover", json!({"textDocument": 5}));
    assert_eq!(r["error"]["code"], -32602, "not shutting down: {r}");
    c.shutdown();
}

/// A `didChange` whose range is not a range leaves the document as it was and
/// says so (it replaced the whole document with the change's text).
#[test]
fn a_change_with_a_malformed_range_is_ignored_and_logged() {
    let uri = "file:///tmp/nnt-lsp-ranges/r.nnt";
    let mut c = Client::start();
    assert_eq!(c.open(uri, RECIPE).len(), 1);
    let (line, col) = pos_of(RECIPE, "adamm");
    for range in [
        json!({"start": {"line": line, "character": -1}, "end": {"line": line, "character": col}}),
        json!({"start": {"line": line, "character": col + 5}, "end": {"line": line, "character": col}}),
        json!({"start": {"line": line, "character": 0.5}, "end": {"line": line, "character": col}}),
    ] {
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": range, "text": "model {"}]}),
        );
        let m = c.recv();
        assert_eq!(m["method"], "window/logMessage", "{range}: {m}");
        let said = m["params"]["message"].as_str().unwrap_or("");
        assert!(said.contains(uri) && said.contains("range"), "{said}");
    }
    // The text is still the opened one: fixing the name by range clears the
    // diagnostics.
    let fix = json!({"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 5}});
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"range": fix, "text": "adam"}]}),
    );
    let diags = c.diagnostics(uri);
    assert!(diags.is_empty(), "{diags:?}");
    c.shutdown();
}

/// A 200-line recipe: how long a keystroke takes to come back as diagnostics.
#[test]
fn a_keystroke_on_a_200_line_recipe_answers_quickly() {
    let mut text = String::from("seed = 1\ndata {\n    train = blobs(n = 256, features = 8, classes = 3)\n    valid = split(train, 0.2)\n}\nmodel {\n");
    let mut lines = text.matches('\n').count();
    while lines < 191 {
        text.push_str("    # a hidden block\n    dense(32)\n    relu\n");
        lines += 3;
    }
    text.push_str("    dense(3)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.001)\ntrain {\n    epochs = 3\n    batch = 32\n    shuffle = true\n    early_stop = patience(3)\n}\n");
    assert!(text.matches('\n').count() >= 200);
    let uri = "file:///tmp/nnt-lsp-timing/big.nnt";
    let mut c = Client::start();
    assert!(c.open(uri, &text).is_empty());
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    let n = 20;
    for v in 0..n {
        // Type a digit into the last layer's width and back.
        let edited = if v % 2 == 0 {
            text.replace("dense(3)", "dense(34)")
        } else {
            text.clone()
        };
        let start = Instant::now();
        let diags = c.change(uri, v + 2, &edited);
        let took = start.elapsed();
        if v % 2 == 0 {
            // 34 outputs for 3 classes is fine for the checker (labels fit): no errors.
            assert!(diags.iter().all(|d| d["severity"] != 1), "{diags:?}");
        }
        worst = worst.max(took);
        total += took;
    }
    eprintln!(
        "diagnostics after a keystroke on a {}-line recipe: mean {:.2} ms, worst {:.2} ms",
        text.matches('\n').count(),
        total.as_secs_f64() * 1000.0 / n as f64,
        worst.as_secs_f64() * 1000.0
    );
    assert!(worst < Duration::from_secs(2), "worst {worst:?}");
    c.shutdown();
}

/// The VS Code grammar highlights every built-in name of the catalog.
#[test]
fn the_grammar_knows_every_builtin() {
    use nnt::check::catalog::{Kind, BUILTINS};
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode/syntaxes/nnt.tmLanguage.json");
    let grammar: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("grammar")).expect("JSON");
    assert_eq!(grammar["scopeName"], "source.nnt");
    let patterns = grammar["repository"]["builtin-name"]["patterns"]
        .as_array()
        .expect("builtin-name patterns");
    // Each pattern is `\b(?:a|b|c)\b`: the alternatives are the names it knows.
    let names_of = |scope: &str| -> Vec<String> {
        let p = patterns
            .iter()
            .find(|p| p["name"] == scope)
            .and_then(|p| p["match"].as_str())
            .expect("pattern");
        let inner = p.trim_start_matches("\\b(?:").trim_end_matches(")\\b");
        inner.split('|').map(str::to_string).collect()
    };
    let layers = names_of("support.function.layer.nnt");
    let builtins = names_of("support.function.builtin.nnt");
    let constants = names_of("support.constant.nnt");
    for b in BUILTINS {
        let lists = match b.kind {
            Kind::Layer => vec![&layers],
            Kind::Value(_) => vec![&constants],
            Kind::Setting | Kind::Section | Kind::Item(_) => continue,
            // `linear` is a layer and a source: either highlight will do.
            _ => vec![&builtins, &layers],
        };
        let known = lists.iter().any(|l| l.iter().any(|n| n == b.name));
        assert!(known, "{} ({:?}) is not highlighted", b.name, b.kind);
    }
}

/// The VS Code package points at files that exist, has the `nnt.path` setting and
/// the release's version.
#[test]
fn the_vscode_package_is_consistent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode");
    let read = |p: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{p}: {e}"))
    };
    let pkg = read("package.json");
    assert_eq!(pkg["version"], env!("CARGO_PKG_VERSION"));
    let main = pkg["main"].as_str().expect("main");
    assert!(dir.join(main).is_file(), "{main}");
    let lang = &pkg["contributes"]["languages"][0];
    assert_eq!(lang["extensions"][0], ".nnt");
    let config = read(lang["configuration"].as_str().expect("configuration"));
    assert_eq!(config["comments"]["lineComment"], "#");
    let grammar = &pkg["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.nnt");
    let g = read(grammar["path"].as_str().expect("grammar path"));
    assert_eq!(g["scopeName"], grammar["scopeName"]);
    let setting = &pkg["contributes"]["configuration"]["properties"]["nnt.path"];
    assert_eq!(setting["default"], "nnt");
    let js = std::fs::read_to_string(dir.join(main)).expect("extension.js");
    assert!(js.contains("\"nnt.path\"") || js.contains("get(\"path\")"));
    assert!(js.contains("args: [\"lsp\"]"));
}

/// Writes `csv` as `d.csv` and a recipe training on it as `r.nnt` in `dir`:
/// the recipe's path and text.
fn recipe_over_csv(dir: &Path, csv: &str) -> (std::path::PathBuf, &'static str) {
    std::fs::write(dir.join("d.csv"), csv).expect("write");
    let recipe = "data {\n    train = csv(\"d.csv\", label = \"label\")\n}\nmodel {\n    dense(2)\n}\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain { epochs = 1 }\n";
    let path = dir.join("r.nnt");
    std::fs::write(&path, recipe).expect("write");
    (path, recipe)
}

/// A wrong label (found after the file is read) points into the data file too:
/// its cell is the related information (the check error's related diagnostic).
#[test]
fn a_wrong_label_points_at_its_cell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = "a,b,label\n1,2,0\n3,4,2.5\n";
    let (path, recipe) = recipe_over_csv(dir.path(), csv);
    let uri = uri_of(&path);
    let mut c = Client::start();
    let diags = c.open(&uri, recipe);
    let d = diags
        .iter()
        .find(|d| d["code"] == "nnt::check::label_not_class")
        .unwrap_or_else(|| panic!("{diags:?}"));
    let cell = d["relatedInformation"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["location"]["uri"] == uri_of(&dir.path().join("d.csv")))
        })
        .unwrap_or_else(|| panic!("{d}"));
    let (line, col) = pos_of(csv, "2.5");
    assert_eq!(
        cell["location"]["range"],
        json!({"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 3}})
    );
    assert!(
        cell["message"]
            .as_str()
            .is_some_and(|m| m.contains("label 2.5")),
        "{cell}"
    );
    c.shutdown();
}

/// An error in a data file is shown at the recipe's `data` section with the file's
/// place as related information; fixing the file and saving clears it (the data
/// cache notices the file changed).
#[test]
fn data_errors_point_into_the_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = "a,b,label\n1,2,0\n3,x,1\n";
    let (path, recipe) = recipe_over_csv(dir.path(), csv);
    let uri = uri_of(&path);
    let mut c = Client::start();
    let diags = c.open(&uri, recipe);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "nnt::data::not_a_number");
    let (line, col) = pos_of(recipe, "data");
    assert_eq!(d["range"]["start"], json!({"line": line, "character": col}));
    let related = &d["relatedInformation"][0]["location"];
    assert_eq!(related["uri"], uri_of(&dir.path().join("d.csv")));
    let (line, col) = pos_of(csv, "x");
    assert_eq!(
        related["range"],
        json!({"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 1}})
    );

    std::fs::write(dir.path().join("d.csv"), csv.replace('x', "55")).expect("write");
    c.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    let diags = c.diagnostics(&uri);
    assert!(diags.is_empty(), "{diags:?}");
    c.shutdown();
}

/// A data file's control characters (here a terminal escape in a cell) reach
/// the editor escaped, as `nnt check` prints them, in the message and in the
/// related information.
#[test]
fn control_characters_of_a_data_file_reach_the_editor_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, recipe) = recipe_over_csv(dir.path(), "a,b,label\n1,2,0\n3,\u{1b}[2Jx,1\n");
    let mut c = Client::start();
    let diags = c.open(&uri_of(&path), recipe);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "nnt::data::not_a_number");
    // Every string the editor gets, as it decodes them.
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(d, &mut all);
    assert!(all.iter().all(|s| !s.contains('\u{1b}')), "{all:?}");
    let message = d["message"].as_str().expect("message");
    assert!(message.contains("\\u{1b}[2Jx"), "{message}");
    c.shutdown();
}

/// The editor shows what `nnt check` reports about the recipe's files (here a
/// checkpoint path that is a file) at the item's line, and clears it once the
/// file is out of the way.
#[test]
fn file_problems_show_at_the_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ck"), "x").expect("write");
    let recipe = "data {\n    train = xor(n = 16)\n}\nmodel {\n    dense(2)\n}\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain { epochs = 1 }\ncheckpoint { every = 1; path = \"ck\" }\n";
    let path = dir.path().join("r.nnt");
    std::fs::write(&path, recipe).expect("write");
    let uri = uri_of(&path);
    let mut c = Client::start();
    let diags = c.open(&uri, recipe);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "nnt::io::checkpoint_not_dir");
    let (line, col) = pos_of(recipe, "\"ck\"");
    assert_eq!(
        diags[0]["range"]["start"],
        json!({"line": line, "character": col})
    );
    std::fs::remove_file(dir.path().join("ck")).expect("remove");
    c.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    let diags = c.diagnostics(&uri);
    assert!(diags.is_empty(), "{diags:?}");
    c.shutdown();
}

/// Semantic tokens and symbols cost time in proportion to the text, also when
/// it is all on one line: a 40 000-element list took ~1.6 s (release; far more
/// in a debug build) and 20 000 layers on one line 2.6 s when every token's
/// column was counted from its line's start. Also checks the tokens stay on
/// their line with `\r\n` line ends (a comment's token took in the `\r`).
#[test]
fn long_lines_answer_in_linear_time() {
    let list = vec!["1"; 40_000].join(",");
    let text = format!("# a list\r\nx = [{list}]\r\n");
    let uri = "file:///tmp/nnt-lsp-timing/long.nnt";
    let mut c = Client::start();
    c.open(uri, &text);
    let start = Instant::now();
    let r = c.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let took = start.elapsed();
    let data = r["result"]["data"].as_array().expect("tokens");
    assert!(data.len() >= 5 * 40_000, "{}", data.len());
    // The comment's token: line 0, column 0, the 8 units of `# a list`.
    assert_eq!(data[..3], [json!(0), json!(0), json!(8)]);
    assert!(
        took < Duration::from_secs(5),
        "semantic tokens took {took:?}"
    );

    let layers = vec!["relu"; 20_000].join("; ");
    let text = format!("data {{ train = xor(n = 16) }}; model {{ {layers}; dense(2) }}; loss = cross_entropy; optimizer = sgd(lr = 0.1); train {{ epochs = 1 }}\n");
    let uri = "file:///tmp/nnt-lsp-timing/wide.nnt";
    c.open(uri, &text);
    let start = Instant::now();
    let r = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let took = start.elapsed();
    let model = &r["result"][1];
    assert_eq!(model["name"], "model");
    assert_eq!(model["children"].as_array().map(Vec::len), Some(20_001));
    assert!(took < Duration::from_secs(5), "symbols took {took:?}");
    c.shutdown();
}
