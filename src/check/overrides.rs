//! `--set KEY=VALUE`: the value is parsed as recipe syntax in its own source (so
//! diagnostics point into the override text) and replaces or adds the item in the
//! AST before checking. KEY is a top-level setting (`seed`), `section.item`, or a
//! path that reaches inside a call (§18): `optimizer.lr`, `train.lr_schedule.every`,
//! `data.train.label`, `model.K.NAME` for the layer with index K (§5 numbering).
//! Only the named argument changes; the call's other arguments stay as written.

use std::sync::Arc;

use crate::ast::{
    Arg, Call, Entry, Expr, ExprKind, Ident, Item, Recipe, Section, Setting, SourceId, Span,
};
use crate::syntax;

use super::catalog::{self, Kind};
use super::error::CheckError;
use super::suggest;
use super::Cx;

/// Applies `list` to `recipe`, each override the option that gave it (`--set`,
/// or `--grid` for a sweep's run) and its `KEY=VALUE` text; each text is
/// appended to `sources`, named `OPTION TEXT` (its `SourceId` is its index
/// there).
pub fn apply(
    cx: &mut Cx,
    recipe: &mut Recipe,
    list: &[(&str, &str)],
    sources: &mut Vec<(String, Arc<String>)>,
) {
    for (i, &(option, text)) in list.iter().enumerate() {
        let Ok(id) = u16::try_from(sources.len()) else {
            break;
        };
        let source = SourceId(id);
        sources.push((format!("{option} {text}"), Arc::new(text.to_string())));
        let key = text.split_once('=').map_or(text, |(k, _)| k);
        let normal = key_of(text);
        // The same key twice. A whole value and one of its parts
        // (`keys_overlap`) apply in order here, the part refining the whole:
        // the command line refuses such a pair before the checker runs
        // (`cli::options::conflict`), where the order is not meant to matter.
        if list[..i].iter().any(|(_, t)| key_of(t) == normal) {
            let start = key.len() - key.trim_start().len();
            let span = Span::new(source, start, start + key.trim().len());
            bad(
                cx,
                text,
                span,
                "this key is given more than once",
                Some("give each key once".into()),
            );
            continue;
        }
        apply_one(cx, recipe, text, source);
    }
}

fn bad(cx: &mut Cx, text: &str, span: Span, reason: &str, help: Option<String>) {
    cx.err(CheckError::BadOverride {
        text: text.to_string(),
        reason: reason.to_string(),
        span,
        help,
    });
}

fn apply_one(cx: &mut Cx, recipe: &mut Recipe, text: &str, source: SourceId) {
    let whole = Span::new(source, 0, text.len());
    let Some(eq) = text.find('=') else {
        bad(
            cx,
            text,
            whole,
            "expected KEY=VALUE",
            Some("for example `--set train.epochs=3`".into()),
        );
        return;
    };
    let raw_key = &text[..eq];
    let key_start = raw_key.len() - raw_key.trim_start().len();
    let key = raw_key.trim();
    let key_span = Span::new(source, key_start, key_start + key.len());
    if key.is_empty() {
        bad(
            cx,
            text,
            Span::new(source, 0, eq + 1),
            "no key before `=`",
            Some("for example `--set train.epochs=3`".into()),
        );
        return;
    }
    // Parse the value in place: the key is blanked out so spans index the whole text.
    let padded = format!("{}{}", " ".repeat(eq + 1), &text[eq + 1..]);
    let value = match syntax::parse_expr(&padded, source) {
        Ok(v) => v,
        Err(e) => {
            cx.syntax(e);
            return;
        }
    };
    let parts = key_parts(key, key_start, source);
    let valid_name = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let is_index = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let well_formed = parts
        .iter()
        .enumerate()
        .all(|(i, (p, _))| valid_name(p) || (i == 1 && parts[0].0 == "model" && is_index(p)));
    if !well_formed {
        bad(
            cx,
            text,
            key_span,
            "the key must be `name`, `section.item` or a path to an argument",
            Some(
                "for example `--set seed=3`, `--set train.epochs=3`, `--set optimizer.lr=0.1` \
                 or `--set model.0.units=64`"
                    .into(),
            ),
        );
        return;
    }
    let setting_span = key_span.to(value.span);
    if parts.len() == 1 {
        if catalog::sections().contains(&key) {
            bad(
                cx,
                text,
                key_span,
                "a whole section cannot be replaced",
                Some(format!(
                    "override one of its items, such as `--set {key}.{}=…`",
                    first_item(key)
                )),
            );
            return;
        }
        let setting = Setting {
            name: Ident {
                name: key.to_string(),
                span: key_span,
            },
            value,
            span: setting_span,
        };
        match recipe.items.iter_mut().find(|i| i.name().name == key) {
            Some(item) => *item = Item::Setting(in_place_of(setting, item.span())),
            None => recipe.items.push(Item::Setting(setting)),
        }
        return;
    }
    let (sec_name, sec_span) = parts[0];
    let ov = Ov { text, value };
    if sec_name == "model" {
        model_key(cx, recipe, &ov, &parts);
        return;
    }
    if catalog::settings().contains(&sec_name) {
        // `optimizer.lr=…`: one argument of the setting's call.
        match recipe.items.iter_mut().find(|i| i.name().name == sec_name) {
            Some(Item::Setting(s)) => set_in(cx, &mut s.value, &parts[1..], ov, Context::Other),
            Some(Item::Section(_)) => bad(
                cx,
                text,
                sec_span,
                "the recipe has this as a section, not a setting",
                None,
            ),
            None => bad(
                cx,
                text,
                sec_span,
                "the recipe does not set this, so there is no call to change an argument of",
                Some(format!("set the whole value: `--set {sec_name}=…`")),
            ),
        }
        return;
    }
    let sections = catalog::sections();
    if !sections.contains(&sec_name) {
        let help =
            suggest::help(sec_name, &sections).map(|h| h.replace("one of", "one of the sections"));
        bad(cx, text, sec_span, "unknown section", help);
        return;
    }
    let (item_name, item_span) = parts[1];
    let existing = recipe.items.iter_mut().find(|i| i.name().name == sec_name);
    if parts.len() > 2 {
        // `train.lr_schedule.every=5`: one argument of an item's call.
        let ctx = if sec_name == "data" {
            Context::Data
        } else {
            Context::Other
        };
        let slot = match existing {
            Some(Item::Section(sec)) => sec.entries.iter_mut().find_map(|e| match e {
                Entry::Setting(s) if s.name.name == item_name => Some(&mut s.value),
                _ => None,
            }),
            _ => None,
        };
        match slot {
            Some(v) => set_in(cx, v, &parts[2..], ov, ctx),
            None => bad(
                cx,
                text,
                item_span,
                &format!("the recipe's `{sec_name}` has no `{item_name}` to change an argument of"),
                Some(format!(
                    "set the whole item: `--set {sec_name}.{item_name}=…`"
                )),
            ),
        }
        return;
    }
    let setting = Setting {
        name: Ident {
            name: item_name.to_string(),
            span: item_span,
        },
        value: ov.value,
        span: setting_span,
    };
    match existing {
        Some(Item::Section(sec)) => {
            let slot = sec
                .entries
                .iter_mut()
                .find(|e| matches!(e, Entry::Setting(s) if s.name.name == item_name));
            match slot {
                Some(e) => *e = Entry::Setting(in_place_of(setting, e.span())),
                None => sec.entries.push(Entry::Setting(setting)),
            }
        }
        Some(Item::Setting(_)) => {
            bad(
                cx,
                text,
                sec_span,
                "the recipe has this as a setting, not a section",
                None,
            );
        }
        None => recipe.items.push(Item::Section(Section {
            name: Ident {
                name: sec_name.to_string(),
                span: sec_span,
            },
            entries: vec![Entry::Setting(setting)],
            span: setting_span,
        })),
    }
}

/// `setting` standing where the recipe's setting it replaces stood (`at`, the
/// old one's whole span): `nnt fmt`'s layout of the recipe after overrides
/// (the `start` event's `config`, a sweep's `recipe.nnt`) keeps that entry's
/// blank lines and comments where they were. Its name and value keep their
/// places in the override's text, where diagnostics about them point.
fn in_place_of(setting: Setting, at: Span) -> Setting {
    Setting {
        span: at,
        ..setting
    }
}

/// The override being applied: its text (for messages) and its parsed value.
struct Ov<'a> {
    text: &'a str,
    value: Expr,
}

/// Which parameter lists apply to a call name (`linear` is a layer in `model`
/// and synthetic data in `data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Model,
    Data,
    Other,
}

/// The key's dot-separated parts, each with its span in the override's text.
fn key_parts(key: &str, key_start: usize, source: SourceId) -> Vec<(&str, Span)> {
    let mut out = Vec::new();
    let mut at = key_start;
    for p in key.split('.') {
        out.push((p, Span::new(source, at, at + p.len())));
        at += p.len() + 1;
    }
    out
}

/// `model.K=LAYER` replaces layer K; `model.K.NAME=VALUE` sets one of its arguments.
/// K counts every layer of the model block except `input` (§5 numbering).
fn model_key(cx: &mut Cx, recipe: &mut Recipe, ov: &Ov, parts: &[(&str, Span)]) {
    let (index_text, index_span) = parts[1];
    let Ok(k) = index_text.parse::<usize>() else {
        bad(
            cx,
            ov.text,
            index_span,
            "a layer is named by its index",
            Some("layers count from 0, `input` not counted: `--set model.0.units=64`".into()),
        );
        return;
    };
    let sec = recipe.items.iter_mut().find_map(|i| match i {
        Item::Section(s) if s.name.name == "model" => Some(s),
        _ => None,
    });
    let Some(sec) = sec else {
        bad(
            cx,
            ov.text,
            parts[0].1,
            "the recipe has no `model` section",
            None,
        );
        return;
    };
    let mut layers: Vec<&mut Expr> = sec
        .entries
        .iter_mut()
        .filter_map(|e| match e {
            Entry::Layer(x) if callee(x) != Some("input") => Some(x),
            _ => None,
        })
        .collect();
    let n = layers.len();
    if k >= n {
        let reason = match n {
            0 => "the model has no layers".to_string(),
            1 => "the model has 1 layer, index 0".to_string(),
            _ => format!("the model has {n} layers, indexed 0 to {}", n - 1),
        };
        bad(
            cx,
            ov.text,
            index_span,
            &reason,
            Some("layers count from 0 in the order written; `input` is not counted".into()),
        );
        return;
    }
    let layer = &mut *layers[k];
    if parts.len() == 2 {
        *layer = ov.value.clone();
        return;
    }
    set_in(
        cx,
        layer,
        &parts[2..],
        Ov {
            text: ov.text,
            value: ov.value.clone(),
        },
        Context::Model,
    );
}

/// The name of a call or bare name.
fn callee(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Call(c) => Some(&c.name.name),
        ExprKind::Name(i) => Some(&i.name),
        _ => None,
    }
}

/// Sets the argument named by `path` (one or more argument names, each reaching
/// into the call given for the one before) inside `e`, keeping every other
/// argument. An argument given positionally is replaced in place. A name the call
/// does not have is added as a named argument whose name points into the override,
/// so the checker reports the usual unknown-argument error there.
fn set_in(cx: &mut Cx, e: &mut Expr, path: &[(&str, Span)], ov: Ov, ctx: Context) {
    let Some(&(name, name_span)) = path.first() else {
        *e = ov.value;
        return;
    };
    // `regularize.l2.lambda`: a list's element is named by its call.
    if let ExprKind::List(items) = &mut e.kind {
        let mut hits = items.iter_mut().filter(|x| callee(x) == Some(name));
        match (hits.next(), hits.next()) {
            (Some(x), None) => set_in(cx, x, &path[1..], ov, ctx),
            (Some(_), Some(_)) => bad(
                cx,
                ov.text,
                name_span,
                &format!("the list holds `{name}` more than once"),
                None,
            ),
            (None, _) => bad(
                cx,
                ov.text,
                name_span,
                &format!("the list holds no `{name}`"),
                None,
            ),
        }
        return;
    }
    if let ExprKind::Name(id) = &e.kind {
        e.kind = ExprKind::Call(Call {
            name: id.clone(),
            args: Vec::new(),
        });
    }
    let ExprKind::Call(call) = &mut e.kind else {
        bad(
            cx,
            ov.text,
            name_span,
            &format!("`{e}` is not a call, so it has no argument `{name}`"),
            None,
        );
        return;
    };
    let ctx = if ctx == Context::Other && call.name.name == "csv" {
        Context::Data
    } else {
        ctx
    };
    let named = call
        .args
        .iter()
        .position(|a| a.name.as_ref().is_some_and(|n| n.name == name));
    let positional = || {
        let i = params_of(ctx, &call.name.name)?
            .iter()
            .position(|p| *p == name)?;
        call.args
            .iter()
            .take_while(|a| a.name.is_none())
            .nth(i)
            .map(|_| i)
    };
    let slot = named.or_else(positional);
    if path.len() > 1 {
        match slot {
            Some(i) => set_in(cx, &mut call.args[i].value, &path[1..], ov, ctx),
            None => {
                bad(
                    cx,
                    ov.text,
                    name_span,
                    &format!("`{}` does not give `{name}`", call.name.name),
                    Some(format!("set the whole argument `{name}` instead")),
                );
            }
        }
        return;
    }
    match slot {
        Some(i) => call.args[i].value = ov.value,
        None => {
            let span = name_span.to(ov.value.span);
            call.args.push(Arg {
                name: Some(Ident {
                    name: name.to_string(),
                    span: name_span,
                }),
                value: ov.value,
                span,
            });
        }
    }
}

/// The parameters of a call in `ctx`, in their declared order (what positional
/// arguments bind to), from its declaration in [`catalog`]. A call that is not
/// declared only takes named overrides.
pub fn params_of(ctx: Context, call: &str) -> Option<Vec<&'static str>> {
    let kinds: &[Kind] = match ctx {
        Context::Model => &[Kind::Layer, Kind::Init],
        Context::Data => &[Kind::Source],
        Context::Other => &[
            Kind::Loss,
            Kind::Optimizer,
            Kind::Regularizer,
            Kind::Schedule,
            Kind::Clip,
            Kind::EarlyStop,
        ],
    };
    kinds
        .iter()
        .find_map(|&k| catalog::find(k, call))
        .map(|b| b.param_names())
}

/// Whether two keys in [`normal_key`] form set the same thing (§18: "a key
/// given twice"): equal keys, or a whole value and one of its own parts, the
/// one key a prefix of the other at a `.` (`model.0` and `model.0.units`,
/// `optimizer` and `optimizer.lr`): which of the two wins would depend on
/// their order.
pub fn keys_overlap(a: &str, b: &str) -> bool {
    let within = |whole: &str, part: &str| {
        part.strip_prefix(whole)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    within(a, b) || within(b, a)
}

/// The item of `section` that help texts show, from the section's declaration.
fn first_item(section: &str) -> &'static str {
    catalog::find(Kind::Section, section)
        .and_then(|b| b.example_item)
        .unwrap_or("item")
}

/// The key of a `KEY=VALUE` text in its [`normal_key`] form.
fn key_of(text: &str) -> String {
    normal_key(text.split_once('=').map_or(text, |(k, _)| k))
}

/// A `--set` key as keys are compared for "a key given twice" (§18): without
/// whitespace (`train . epochs` is `train.epochs`) and with a layer index read
/// as the number it is (`model.00.units` and `model.0.units` name one layer).
pub fn normal_key(key: &str) -> String {
    let key: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    let mut parts: Vec<&str> = key.split('.').collect();
    let is_index = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() > 1 && parts[0] == "model" && is_index(parts[1]) {
        // Leading zeros dropped (not parsed: any length stays one index).
        let digits = parts[1].trim_start_matches('0');
        parts[1] = if digits.is_empty() { "0" } else { digits };
    }
    parts.join(".")
}

/// When every value of `key` is the same call with its arguments in the same
/// places, the arguments that differ, as `key.NAME = VALUE` per log (the legend of
/// `nnt plot` over several logs: the values are the logs' `config` items).
pub fn differing_args(key: &str, values: &[Option<String>]) -> Option<Vec<Vec<String>>> {
    use crate::ast::ExprKind;
    let calls: Vec<crate::ast::Call> = values
        .iter()
        .map(|v| {
            let e = crate::syntax::parse_expr(v.as_deref()?, crate::ast::SourceId(0)).ok()?;
            match e.kind {
                ExprKind::Call(c) => Some(c),
                _ => None,
            }
        })
        .collect::<Option<_>>()?;
    let first = calls.first()?;
    let shape = |c: &crate::ast::Call| {
        (
            c.name.name.clone(),
            c.args
                .iter()
                .map(|a| a.name.as_ref().map(|n| n.name.clone()))
                .collect::<Vec<_>>(),
        )
    };
    if calls.iter().any(|c| shape(c) != shape(first)) {
        return None;
    }
    let ctx = if key.starts_with("model.") {
        Context::Model
    } else if key.starts_with("data.") {
        Context::Data
    } else {
        Context::Other
    };
    let params = params_of(ctx, &first.name.name);
    let mut names = Vec::new();
    for (i, a) in first.args.iter().enumerate() {
        let differs = calls
            .iter()
            .any(|c| c.args[i].value.to_string() != first.args[i].value.to_string());
        if differs {
            let name = match &a.name {
                Some(n) => n.name.clone(),
                None => params.as_ref()?.get(i)?.to_string(),
            };
            names.push((i, name));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(
        calls
            .iter()
            .map(|c| {
                names
                    .iter()
                    .map(|(i, n)| format!("{key}.{n} = {}", c.args[*i].value))
                    .collect()
            })
            .collect(),
    )
}
