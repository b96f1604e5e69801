//! What the language server answers: diagnostics converted from the checker's,
//! quick fixes, hover, completion, semantic tokens and document symbols. Every
//! function here is pure (text in, LSP values out); the server in `mod.rs` keeps
//! the documents and speaks the protocol.

use lsp_types::{
    CompletionItem, CompletionItemKind, DiagnosticSeverity, DocumentSymbol, NumberOrString,
    Position, Range, SemanticToken, SemanticTokenType, SymbolKind,
};
use miette::Diagnostic;
use serde_json::json;

use super::text::{self, LineIndex, Tok, TokKind};
use crate::ast::{Entry, ExprKind, Item, SourceId, Span};
use crate::check::catalog::{self, Builtin, Kind};
use crate::check::{BoxedDiagnostic, Sourced};
use crate::ir::Model;
use crate::report::diagnostic::printable;

/// A converted diagnostic and, when its help suggests a replacement, the fix.
pub struct Converted {
    pub diagnostic: lsp_types::Diagnostic,
    pub fix: Option<String>,
}

/// The replacement a help text suggests for the labelled span: the checker words
/// every closest-name suggestion as "did you mean `NAME`?", and a quoted name as
/// "names are written without quotes: `NAME`".
pub fn suggestion(help: &str) -> Option<String> {
    let name = help
        .strip_prefix("did you mean `")
        .and_then(|r| r.strip_suffix("`?"))
        .or_else(|| {
            help.strip_prefix("names are written without quotes: `")
                .and_then(|r| r.strip_suffix('`'))
        })?;
    let ident = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    ident.then(|| name.to_string())
}

/// Where a checked document is: its name in diagnostics, its URI, and the directory
/// its relative paths (and the data files' names in diagnostics) start from.
pub struct Place<'a> {
    pub name: &'a str,
    pub uri: &'a str,
    pub dir: &'a std::path::Path,
}

/// Converts the diagnostics of a check of `text`.
pub fn convert(
    list: &[BoxedDiagnostic],
    default: DiagnosticSeverity,
    place: &Place,
    text: &str,
    idx: &LineIndex,
) -> Vec<Converted> {
    list.iter()
        .map(|d| convert_one(d.as_ref(), default, place, text, idx))
        .collect()
}

fn convert_one(
    d: &(dyn Diagnostic + Send + Sync + 'static),
    default: DiagnosticSeverity,
    place: &Place,
    text: &str,
    idx: &LineIndex,
) -> Converted {
    let (name, uri) = (place.name, place.uri);
    let as_error: &(dyn std::error::Error + Send + Sync + 'static) = d;
    let sourced = as_error.downcast_ref::<Sourced>();
    // Labels into the recipe: a wrapped diagnostic's own (full-text) labels; a
    // diagnostic with a source of its own (a data file) points elsewhere.
    let (inner, in_recipe): (&dyn Diagnostic, bool) = match sourced {
        Some(s) => (s.inner(), s.source_name() == name),
        None => (d, d.source_code().is_none()),
    };
    let labels: Vec<miette::LabeledSpan> = inner.labels().map(|l| l.collect()).unwrap_or_default();
    let range_of = |l: &miette::LabeledSpan| {
        Range::new(
            idx.position(text, l.offset()),
            idx.position(text, l.offset() + l.len()),
        )
    };
    let mut message = d.to_string();
    let mut related = Vec::new();
    let mut range = Range::default();
    if in_recipe {
        let primary = labels.iter().find(|l| l.primary()).or(labels.first());
        if let Some(p) = primary {
            range = range_of(p);
            if let Some(t) = p.label().filter(|t| !t.is_empty() && !message.contains(*t)) {
                message.push_str(&format!(" ({t})"));
            }
        }
        for l in &labels {
            if primary.is_some_and(|p| std::ptr::eq(p, l)) {
                continue;
            }
            related.push(json!({
                "location": {"uri": uri, "range": range_of(l)},
                "message": printable(l.label().unwrap_or("here")),
            }));
        }
    } else if let Some(src) = d.source_code() {
        // A data file: point at the recipe's `data` section, and say where in the file.
        range = data_section_range(text, idx);
        for l in &labels {
            if let Some((file, at)) = in_file(src, l) {
                message.push_str(&format!(
                    "\n  at {file}:{}:{}",
                    at.start.line + 1,
                    at.start.character + 1
                ));
                if let Some(t) = l.label() {
                    message.push_str(&format!(": {t}"));
                }
                related.push(json!({
                    "location": {"uri": file_uri(&place.dir.join(&file).to_string_lossy()), "range": at},
                    "message": printable(l.label().unwrap_or("here")),
                }));
            }
        }
    }
    // Related diagnostics with a source of their own (the line of a data file
    // that holds a wrong label): where they point, with their message.
    for r in d.related().into_iter().flatten() {
        let Some(src) = r.source_code() else {
            continue;
        };
        for l in r.labels().into_iter().flatten() {
            if let Some((file, at)) = in_file(src, &l) {
                let text = match l.label() {
                    Some(t) => format!("{r}: {t}"),
                    None => r.to_string(),
                };
                related.push(json!({
                    "location": {"uri": file_uri(&place.dir.join(&file).to_string_lossy()), "range": at},
                    "message": printable(&text),
                }));
            }
        }
    }
    let help = d.help().map(|h| h.to_string());
    let fix = help.as_deref().and_then(suggestion).filter(|_| in_recipe);
    if let Some(h) = &help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let severity = match d.severity() {
        Some(miette::Severity::Error) => DiagnosticSeverity::ERROR,
        Some(miette::Severity::Warning) => DiagnosticSeverity::WARNING,
        Some(miette::Severity::Advice) => DiagnosticSeverity::HINT,
        None => default,
    };
    let diagnostic = lsp_types::Diagnostic {
        range,
        severity: Some(severity),
        code: d.code().map(|c| NumberOrString::String(c.to_string())),
        source: Some("nnt".into()),
        // Data cells, column names and labels quoted in the message are
        // escaped as the terminal's renderer escapes them: an editor need
        // not show control characters from a file as they are.
        message: printable(&message).into_owned(),
        related_information: if related.is_empty() {
            None
        } else {
            serde_json::from_value(serde_json::Value::Array(related)).ok()
        },
        data: fix.as_ref().map(|f| json!({ "replacement": f })),
        ..Default::default()
    };
    Converted { diagnostic, fix }
}

/// The file a label of a diagnostic's own source points into, and the
/// label's range there (lines and columns as the source reports them: the
/// real line, the column in characters).
fn in_file(src: &dyn miette::SourceCode, l: &miette::LabeledSpan) -> Option<(String, Range)> {
    let p = crate::report::excerpt::Place::of(src, *l.inner())?;
    let position = |(line, column): (usize, usize)| {
        Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    };
    let file = p.name.unwrap_or_else(|| "the data file".to_string());
    Some((file, Range::new(position(p.start), position(p.end))))
}

/// The range of the `data` section's name, or the start of the text.
fn data_section_range(text: &str, idx: &LineIndex) -> Range {
    if let Ok(r) = crate::syntax::parse(text, SourceId::RECIPE) {
        if let Some(item) = r.items.iter().find(|i| i.name().name == "data") {
            let s = item.name().span;
            return Range::new(idx.position(text, s.start), idx.position(text, s.end));
        }
    }
    Range::default()
}

/// A `file://` URI for a path (percent-encoding what a URI cannot hold).
pub fn file_uri(path: &str) -> String {
    let abs = std::path::Path::new(path);
    let abs = if abs.is_absolute() {
        abs.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(abs)
    };
    let mut out = String::from("file://");
    for b in abs.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path of a `file://` URI.
pub fn uri_path(uri: &str) -> Option<std::path::PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://localhost/x` and `file:///x`.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    let s = String::from_utf8(out).ok()?;
    // `file:///C:/x` on Windows.
    let s = match s.as_bytes() {
        [b'/', d, b':', ..] if d.is_ascii_alphabetic() && cfg!(windows) => s[1..].to_string(),
        _ => s,
    };
    Some(std::path::PathBuf::from(s))
}

// ------------------------------------------------------------------ hover

/// Hover text (markdown) for the identifier at `offset`, and its span.
pub fn hover(text: &str, offset: usize, model: Option<&Model>) -> Option<(String, Span)> {
    let toks = text::tokens(text);
    let tok = *toks
        .iter()
        .find(|t| t.kind == TokKind::Ident && t.start <= offset && offset <= t.end)?;
    let word = &text[tok.start..tok.end];
    let span = Span::new(SourceId::RECIPE, tok.start, tok.end);
    let cx = text::context(text, &toks, tok.start);
    let next = next_significant(&toks, tok.end);
    let next_is = |c: u8| next.is_some_and(|t| t.kind == TokKind::Punct(c));
    // A section name, a setting or an item.
    if cx.frames.is_empty() && cx.at_statement_start && (next_is(b'=') || next_is(b'{')) {
        let b = match &cx.section {
            None if next_is(b'{') => catalog::find(Kind::Section, word),
            None => catalog::find(Kind::Setting, word),
            Some(s) => catalog::BUILTINS
                .iter()
                .find(|b| matches!(b.kind, Kind::Item(x) if x == s) && b.name == word),
        }?;
        return Some((builtin_doc(b), span));
    }
    // An argument's name: its call's parameter.
    if next_is(b'=') {
        if let Some(call) = cx.enclosing_call() {
            let p = call.param(word)?;
            let default = match p.default {
                Some(d) => format!("default `{d}`"),
                None => "required".to_string(),
            };
            let text = format!(
                "**{}** — parameter of `{}` ({default})\n\n`{}`\n\n{}",
                p.name,
                call.name,
                call.signature(),
                call.doc
            );
            return Some((text, span));
        }
        return None;
    }
    // A value: a layer, or a built-in of the kind this place expects.
    let kind = cx.value_kind();
    if kind == Some(Kind::Layer) && cx.frames.is_empty() {
        if let Some(text) = layer_hover(text, tok.start, model) {
            return Some((text, span));
        }
    }
    let b = kind
        .and_then(|k| catalog::find(k, word))
        .or_else(|| catalog::any(word))?;
    Some((builtin_doc(b), span))
}

fn next_significant(toks: &[Tok], after: usize) -> Option<Tok> {
    toks.iter()
        .find(|t| t.start >= after && t.kind != TokKind::Comment)
        .copied()
}

fn builtin_doc(b: &Builtin) -> String {
    let mut s = format!("**{}** — {}\n\n", b.name, b.kind.describe());
    if !b.params.is_empty() {
        s.push_str(&format!("`{}`\n\n", b.signature()));
    }
    s.push_str(b.doc);
    if let Some(d) = b.default {
        s.push_str(&format!("\n\nDefault: `{d}`"));
    }
    s
}

/// The hover of the layer written at `offset` in the model section: its place,
/// output shape and parameter count (from the last check that read the data).
fn layer_hover(text: &str, offset: usize, checked: Option<&Model>) -> Option<String> {
    let recipe = crate::syntax::parse(text, SourceId::RECIPE).ok()?;
    let model = recipe.items.iter().find_map(|i| match i {
        Item::Section(s) if s.name.name == "model" => Some(s),
        _ => None,
    })?;
    let mut index = 0;
    for entry in &model.entries {
        let Entry::Layer(e) = entry else { continue };
        let name = match &e.kind {
            ExprKind::Name(id) => &id.name,
            ExprKind::Call(c) => &c.name.name,
            _ => continue,
        };
        if name == "input" {
            if e.span.start <= offset && offset <= e.span.end {
                let b = catalog::find(Kind::Layer, "input")?;
                return Some(builtin_doc(b));
            }
            continue;
        }
        if e.span.start <= offset && offset <= e.span.end {
            let doc = catalog::find(Kind::Layer, name).map(|b| {
                let sig = if b.params.is_empty() {
                    String::new()
                } else {
                    format!("`{}`\n\n", b.signature())
                };
                format!("{sig}{}", b.doc)
            });
            let canonical = if name == "linear" { "dense" } else { name };
            let layer = checked
                .and_then(|m| m.layers.get(index))
                .filter(|l| l.kind.name() == canonical);
            let mut s = format!("**{name}** — layer {index}\n\n");
            match layer {
                Some(l) => {
                    let params = crate::report::explain::trainable(l);
                    s.push_str(&format!(
                        "output shape `[batch, {}]` (input `[batch, {}]`), {params} trainable parameter{}",
                        l.out_width,
                        l.in_width,
                        if params == 1 { "" } else { "s" }
                    ));
                    if let crate::ir::LayerKind::Dense { units, bias, init } = &l.kind {
                        s.push_str(&format!(
                            ": `{index}.weight` [{units}, {}]{}, init {}",
                            l.in_width,
                            if *bias {
                                format!(" + `{index}.bias` [{units}]")
                            } else {
                                String::new()
                            },
                            init.name()
                        ));
                    }
                    s.push_str("\n\n");
                }
                None => {
                    // Without the data only a dense layer's own width is known.
                    match dense_units(e) {
                        Some(u) => s.push_str(&format!(
                            "output shape `[batch, {u}]`; the parameter count needs the data, read once its section checks\n\n"
                        )),
                        None => s.push_str("shapes appear once the data and the model check\n\n"),
                    }
                }
            }
            if let Some(d) = doc {
                s.push_str(&d);
            }
            return Some(s);
        }
        index += 1;
    }
    None
}

/// The `units` of a `dense`/`linear` call, as written.
fn dense_units(e: &crate::ast::Expr) -> Option<u64> {
    let ExprKind::Call(c) = &e.kind else {
        return None;
    };
    if c.name.name != "dense" && c.name.name != "linear" {
        return None;
    }
    let arg = c
        .args
        .iter()
        .find(|a| a.name.as_ref().is_some_and(|n| n.name == "units"))
        .or_else(|| c.args.first().filter(|a| a.name.is_none()))?;
    match &arg.value.kind {
        ExprKind::Number(n) if n.is_integer && n.value >= 1.0 => Some(n.value as u64),
        _ => None,
    }
}

// ------------------------------------------------------------------ completion

/// Completion items at `offset`.
pub fn complete(text: &str, offset: usize) -> Vec<CompletionItem> {
    let toks = text::tokens(text);
    let cx = text::context(text, &toks, offset);
    let mut items = Vec::new();
    if let Some(frame) = cx.frames.last() {
        if frame.open == b'(' && frame.at_start {
            // A call's parameter names, then (positionally) its first value.
            if let Some(call) = cx.enclosing_call() {
                for p in call.params {
                    let detail = match p.default {
                        Some(d) => format!("{} = {d}", p.name),
                        None => format!("{} (required)", p.name),
                    };
                    items.push(CompletionItem {
                        label: p.name.to_string(),
                        kind: Some(CompletionItemKind::FIELD),
                        detail: Some(detail),
                        documentation: Some(lsp_types::Documentation::String(format!(
                            "`{}`: {}",
                            call.signature(),
                            call.doc
                        ))),
                        insert_text: Some(format!("{} = ", p.name)),
                        ..Default::default()
                    });
                }
            }
            return items;
        }
        if !(frame.at_start || cx.after_eq) {
            return items;
        }
    } else if !cx.after_eq && !cx.at_statement_start {
        return items;
    }
    if cx.frames.is_empty() && cx.at_statement_start {
        // The start of an item or entry.
        match cx.section.as_deref() {
            None => {
                for b in catalog::of_kind(Kind::Setting).chain(catalog::of_kind(Kind::Section)) {
                    items.push(item_completion(b));
                }
            }
            Some("model") => {
                for b in catalog::of_kind(Kind::Layer) {
                    items.push(value_completion(b));
                }
            }
            Some(s) => {
                for b in catalog::BUILTINS
                    .iter()
                    .filter(|b| matches!(b.kind, Kind::Item(x) if x == s))
                {
                    items.push(item_completion(b));
                }
            }
        }
        return items;
    }
    match cx.value_kind() {
        Some(k) => {
            for b in catalog::of_kind(k) {
                items.push(value_completion(b));
            }
        }
        None => {
            // An argument or setting that takes a truth value.
            let key = cx
                .frames
                .last()
                .and_then(|f| f.arg.clone())
                .or(cx.key.clone());
            if matches!(
                key.as_deref(),
                Some("shuffle" | "bias" | "header" | "nesterov" | "amsgrad" | "centered")
            ) {
                for v in ["true", "false"] {
                    items.push(CompletionItem {
                        label: v.into(),
                        kind: Some(CompletionItemKind::KEYWORD),
                        ..Default::default()
                    });
                }
            }
        }
    }
    items
}

fn item_completion(b: &Builtin) -> CompletionItem {
    let section = b.kind == Kind::Section;
    CompletionItem {
        label: b.name.to_string(),
        kind: Some(if section {
            CompletionItemKind::MODULE
        } else {
            CompletionItemKind::PROPERTY
        }),
        detail: b.default.map(|d| format!("default {d}")),
        documentation: Some(lsp_types::Documentation::String(b.doc.to_string())),
        insert_text: Some(if section {
            format!("{} {{\n}}", b.name)
        } else {
            format!("{} = ", b.name)
        }),
        ..Default::default()
    }
}

fn value_completion(b: &Builtin) -> CompletionItem {
    let callable = !b.params.is_empty();
    CompletionItem {
        label: b.name.to_string(),
        kind: Some(match b.kind {
            Kind::Value(_) => CompletionItemKind::ENUM_MEMBER,
            _ => CompletionItemKind::FUNCTION,
        }),
        detail: Some(b.signature()),
        documentation: Some(lsp_types::Documentation::String(b.doc.to_string())),
        insert_text: Some(if b.params.iter().any(|p| p.default.is_none()) {
            format!("{}(", b.name)
        } else {
            b.name.to_string()
        }),
        command: callable.then(|| lsp_types::Command {
            title: "parameters".into(),
            command: "editor.action.triggerParameterHints".into(),
            arguments: None,
        }),
        ..Default::default()
    }
}

// ------------------------------------------------------------------ semantic tokens

/// The token types, in the legend's order.
pub const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::NUMBER,
    SemanticTokenType::STRING,
    SemanticTokenType::COMMENT,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
];

const KEYWORD: u32 = 0;
const FUNCTION: u32 = 1;
const PARAMETER: u32 = 2;
const NUMBER: u32 = 3;
const STRING: u32 = 4;
const COMMENT: u32 = 5;
const PROPERTY: u32 = 6;
const ENUM_MEMBER: u32 = 7;

/// The semantic token type of token `i`, given the context just before it.
fn classify(text: &str, toks: &[Tok], i: usize, cx: &text::Context) -> Option<u32> {
    let t = &toks[i];
    Some(match t.kind {
        TokKind::Number => NUMBER,
        TokKind::Str => STRING,
        TokKind::Comment => COMMENT,
        TokKind::Ident => {
            let word = &text[t.start..t.end];
            let next = toks[i + 1..]
                .iter()
                .find(|n| n.kind != TokKind::Comment)
                .map(|n| n.kind);
            if word == "true" || word == "false" || next == Some(TokKind::Punct(b'{')) {
                KEYWORD
            } else if next == Some(TokKind::Punct(b'(')) {
                FUNCTION
            } else if next == Some(TokKind::Punct(b'=')) {
                if cx.frames.is_empty() {
                    PROPERTY
                } else {
                    PARAMETER
                }
            } else {
                match cx.value_kind() {
                    Some(Kind::Value(_)) | None => ENUM_MEMBER,
                    Some(_) => FUNCTION,
                }
            }
        }
        _ => return None,
    })
}

/// Semantic tokens of the whole text, delta-encoded.
pub fn semantic_tokens(text: &str) -> Vec<SemanticToken> {
    let toks = text::tokens(text);
    let idx = LineIndex::new(text);
    let mut out = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    let mut cx_toks: Vec<(Tok, u32)> = Vec::new();
    // One pass: the walker holds the context just before each token.
    let mut walker = text::Walker::new(text);
    for (i, t) in toks.iter().enumerate() {
        let ty = classify(text, &toks, i, &walker.cx);
        walker.step(t);
        if let Some(ty) = ty {
            cx_toks.push((*t, ty));
        }
    }
    let mut at = idx.positions(text);
    for (t, ty) in cx_toks {
        let start = at.at(t.start);
        let end = at.at(t.end);
        if end.line != start.line {
            continue;
        }
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 {
            start.character - col
        } else {
            start.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type: ty,
            token_modifiers_bitset: 0,
        });
        line = start.line;
        col = start.character;
    }
    out
}

// ------------------------------------------------------------------ symbols

/// The sections (with their items and layers) and settings of the recipe.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be named to build one.
pub fn symbols(text: &str) -> Option<Vec<DocumentSymbol>> {
    let recipe = crate::syntax::parse(text, SourceId::RECIPE).ok()?;
    let idx = LineIndex::new(text);
    let at = std::cell::RefCell::new(idx.positions(text));
    let range = |s: Span| {
        let mut at = at.borrow_mut();
        Range::new(at.at(s.start), at.at(s.end))
    };
    // A setting, at the top level or in a section.
    let setting = |s: &crate::ast::Setting| DocumentSymbol {
        name: s.name.name.clone(),
        detail: Some(s.value.to_string()),
        kind: SymbolKind::PROPERTY,
        tags: None,
        deprecated: None,
        range: range(s.span),
        selection_range: range(s.name.span),
        children: None,
    };
    let mut out = Vec::new();
    for item in &recipe.items {
        match item {
            Item::Setting(s) => out.push(setting(s)),
            Item::Section(sec) => {
                let mut children = Vec::new();
                let mut index = 0;
                for e in &sec.entries {
                    match e {
                        Entry::Setting(s) => children.push(setting(s)),
                        Entry::Layer(l) => {
                            let is_input =
                                matches!(&l.kind, ExprKind::Call(c) if c.name.name == "input");
                            let detail = if is_input {
                                "input".to_string()
                            } else {
                                index += 1;
                                format!("layer {}", index - 1)
                            };
                            children.push(DocumentSymbol {
                                name: l.to_string(),
                                detail: Some(detail),
                                kind: SymbolKind::FUNCTION,
                                tags: None,
                                deprecated: None,
                                range: range(l.span),
                                selection_range: range(l.span),
                                children: None,
                            });
                        }
                    }
                }
                out.push(DocumentSymbol {
                    name: sec.name.name.clone(),
                    detail: None,
                    kind: SymbolKind::MODULE,
                    tags: None,
                    deprecated: None,
                    range: range(sec.span),
                    selection_range: range(sec.name.span),
                    children: Some(children),
                });
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_come_from_the_checkers_help() {
        let help =
            crate::check::suggest::help("adamm", &crate::check::catalog::names(Kind::Optimizer));
        assert_eq!(
            help.as_deref().and_then(suggestion).as_deref(),
            Some("adam")
        );
        assert_eq!(suggestion("expected one of: a, b"), None);
        assert_eq!(suggestion("did you mean `x y`?"), None);
    }

    /// Every help that suggests a replacement becomes a fix of exactly the labelled span.
    #[test]
    fn fixes_replace_the_labelled_span() {
        let cases = [
            ("optimizer = adamm(lr = 0.1)", "adamm", "adam"),
            ("optimizer = \"adam\"", "\"adam\"", "adam"),
            (
                "optimizer = sgd(learning_rate = 0.1)",
                "learning_rate",
                "lr",
            ),
            (
                "optimizer = sgd(lr = 0.1, momentun = 0.9)",
                "momentun",
                "momentum",
            ),
            ("loss = cross_entrop", "cross_entrop", "cross_entropy"),
            ("model {\n    dense(4)\n    rleu\n}", "rleu", "relu"),
            ("trian { epochs = 1 }", "trian", "train"),
        ];
        for (text, wrong, fixed) in cases {
            let r = crate::check::resolve_recipe(
                "t.nnt",
                text.as_bytes(),
                std::path::Path::new("."),
                &Default::default(),
            );
            let idx = LineIndex::new(text);
            let place = Place {
                name: "t.nnt",
                uri: "file:///t.nnt",
                dir: std::path::Path::new("/"),
            };
            let conv = convert(&r.errors, DiagnosticSeverity::ERROR, &place, text, &idx);
            let fix = conv
                .iter()
                .find(|c| c.fix.is_some())
                .unwrap_or_else(|| panic!("no fix for {text}"));
            assert_eq!(fix.fix.as_deref(), Some(fixed), "{text}");
            let start = idx.offset(text, fix.diagnostic.range.start);
            let end = idx.offset(text, fix.diagnostic.range.end);
            assert_eq!(&text[start..end], wrong, "{text}");
        }
    }

    #[test]
    fn uris() {
        assert_eq!(
            uri_path("file:///tmp/a%20b/r.nnt"),
            Some(std::path::PathBuf::from("/tmp/a b/r.nnt"))
        );
        assert_eq!(file_uri("/tmp/a b/r.nnt"), "file:///tmp/a%20b/r.nnt");
        assert_eq!(uri_path("untitled:1"), None);
    }

    #[test]
    fn completes_by_place() {
        let labels = |text: &str| -> Vec<String> {
            let at = text.find('|').unwrap_or(0);
            let t = text.replacen('|', "", 1);
            complete(&t, at).into_iter().map(|c| c.label).collect()
        };
        assert!(labels("optimizer = |").contains(&"adam".to_string()));
        assert!(labels("optimizer = sgd(|").contains(&"momentum".to_string()));
        assert!(labels("|").contains(&"model".to_string()));
        assert!(labels("train {\n  |\n}").contains(&"epochs".to_string()));
        assert!(labels("model {\n  |\n}").contains(&"dropout".to_string()));
        assert!(labels("model {\n  dense(4, init = |)\n}").contains(&"he_normal".to_string()));
        assert!(labels("data {\n  normalize = |\n}").contains(&"standard".to_string()));
        assert!(labels("optimizer = sgd(0.1|").is_empty());
    }

    #[test]
    fn semantic_token_types() {
        let text = "# c\nmodel {\n  dense(4, bias = false)\n  relu\n}\nseed = 3\n";
        let toks = semantic_tokens(text);
        let types: Vec<u32> = toks.iter().map(|t| t.token_type).collect();
        // comment, model, dense, 4, bias, false, relu, seed, 3
        assert_eq!(
            types,
            vec![
                COMMENT, KEYWORD, FUNCTION, NUMBER, PARAMETER, KEYWORD, FUNCTION, PROPERTY, NUMBER
            ]
        );
        assert_eq!(
            (toks[1].delta_line, toks[1].delta_start, toks[1].length),
            (1, 0, 5)
        );
    }
}
