//! `--set KEY=VALUE`: the value is parsed as recipe syntax in its own source (so
//! diagnostics point into the override text) and replaces or adds the item in the
//! AST before checking. KEY is a top-level setting (`seed`) or `section.item`.

use std::sync::Arc;

use crate::ast::{Entry, Ident, Item, Recipe, Section, Setting, SourceId, Span};
use crate::syntax;

use super::error::CheckError;
use super::layout::{SECTIONS, SETTINGS};
use super::suggest;
use super::Cx;

/// Applies `list` to `recipe`; each override's text is appended to `sources`
/// (its `SourceId` is its index there).
pub fn apply(
    cx: &mut Cx,
    recipe: &mut Recipe,
    list: &[String],
    sources: &mut Vec<(String, Arc<String>)>,
) {
    for text in list {
        let Ok(id) = u16::try_from(sources.len()) else {
            break;
        };
        let source = SourceId(id);
        sources.push((format!("--set {text}"), Arc::new(text.clone())));
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
    let parts: Vec<&str> = key.split('.').collect();
    let valid_name = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if parts.len() > 2 || !parts.iter().all(|p| valid_name(p)) {
        bad(
            cx,
            text,
            key_span,
            "the key must be `name` or `section.item`",
            Some("for example `--set seed=3` or `--set train.epochs=3`".into()),
        );
        return;
    }
    let setting_span = key_span.to(value.span);
    if parts.len() == 1 {
        if SECTIONS.contains(&key) {
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
            Some(item) => *item = Item::Setting(setting),
            None => recipe.items.push(Item::Setting(setting)),
        }
        return;
    }
    let (sec_name, item_name) = (parts[0], parts[1]);
    let sec_span = Span::new(source, key_start, key_start + sec_name.len());
    let item_span = Span::new(
        source,
        key_start + sec_name.len() + 1,
        key_start + key.len(),
    );
    if sec_name == "model" {
        bad(
            cx,
            text,
            sec_span,
            "`model` holds layers, which cannot be overridden one by one",
            None,
        );
        return;
    }
    if !SECTIONS.contains(&sec_name) {
        let help = if SETTINGS.contains(&sec_name) {
            Some(format!(
                "`{sec_name}` is a setting: write `--set {sec_name}=…`"
            ))
        } else {
            suggest::help(sec_name, SECTIONS).map(|h| h.replace("one of", "one of the sections"))
        };
        bad(cx, text, sec_span, "unknown section", help);
        return;
    }
    let setting = Setting {
        name: Ident {
            name: item_name.to_string(),
            span: item_span,
        },
        value,
        span: setting_span,
    };
    let existing = recipe.items.iter_mut().find(|i| i.name().name == sec_name);
    match existing {
        Some(Item::Section(sec)) => {
            let slot = sec
                .entries
                .iter_mut()
                .find(|e| matches!(e, Entry::Setting(s) if s.name.name == item_name));
            match slot {
                Some(e) => *e = Entry::Setting(setting),
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

fn first_item(section: &str) -> &'static str {
    match section {
        "data" => "normalize",
        "train" => "epochs",
        "checkpoint" => "every",
        "diagnose" => "plateau_epochs",
        "expect" => "valid_accuracy",
        _ => "item",
    }
}
