//! The shape of a recipe: which top-level items and section entries are present,
//! with unknown, duplicate and misplaced items reported.

use std::collections::HashMap;

use crate::ast::{Entry, Expr, Item, Recipe, Section, Setting, Span};

use super::catalog::{self, Kind};
use super::error::CheckError;
use super::suggest;
use super::Cx;

/// The example of a top-level item, from its declaration, for help messages.
fn example(name: &str) -> &'static str {
    catalog::find(Kind::Setting, name)
        .or_else(|| catalog::find(Kind::Section, name))
        .map_or("", |b| b.example)
}

/// The top-level items, by name.
#[derive(Debug, Default)]
pub struct Layout<'a> {
    pub settings: HashMap<&'static str, &'a Setting>,
    pub sections: HashMap<&'static str, &'a Section>,
    /// Every known item name present, in whichever form (so that `model = …` is
    /// reported as the wrong form, not also as missing).
    pub present: Vec<&'static str>,
}

impl<'a> Layout<'a> {
    pub fn setting(&self, name: &str) -> Option<&'a Expr> {
        self.settings.get(name).map(|s| &s.value)
    }
}

pub fn layout<'a>(cx: &mut Cx, recipe: &'a Recipe) -> Layout<'a> {
    let mut out = Layout::default();
    let settings = catalog::settings();
    let sections = catalog::sections();
    let mut first: HashMap<&str, Span> = HashMap::new();
    for item in &recipe.items {
        let name = item.name();
        if let Some(prev) = first.get(name.name.as_str()) {
            cx.err(CheckError::DuplicateItem {
                name: name.name.clone(),
                span: name.span,
                first: Some(*prev).filter(|p| p.source == name.span.source),
            });
            continue;
        }
        first.insert(name.name.as_str(), name.span);
        if let Some(&k) = settings.iter().chain(&sections).find(|k| **k == name.name) {
            out.present.push(k);
        }
        if let Some(&k) = settings.iter().find(|k| **k == name.name) {
            match item {
                Item::Setting(s) => {
                    out.settings.insert(k, s);
                }
                Item::Section(_) => cx.err(CheckError::ExpectedSetting {
                    name: name.name.clone(),
                    span: name.span,
                    help: Some(format!("write `{}`", example(k))),
                }),
            }
        } else if let Some(&k) = sections.iter().find(|k| **k == name.name) {
            match item {
                Item::Section(s) => {
                    out.sections.insert(k, s);
                }
                Item::Setting(_) => cx.err(CheckError::ExpectedSection {
                    name: name.name.clone(),
                    span: name.span,
                    help: Some(format!("write `{}`", example(k))),
                }),
            }
        } else if cx.full() {
            cx.dropped += 1;
        } else {
            let all: Vec<&str> = settings.iter().chain(&sections).copied().collect();
            let help = suggest::closest(&name.name, &all)
                .map(|k| format!("did you mean `{k}`?"))
                .or_else(|| {
                    (name.name == "lr" || name.name == "learning_rate").then(|| {
                        "the learning rate is an argument of the optimizer: `optimizer = adam(lr = 0.001)`".to_string()
                    })
                })
                .or_else(|| {
                    // A section item at the top level, such as `epochs = 3`?
                    section_of(&name.name)
                        .map(|s| format!("`{}` belongs inside the `{s}` section", name.name))
                })
                .or_else(|| Some(format!("the top-level items are: {}", all.join(", "))));
            cx.err(CheckError::UnknownItem {
                place: "at the top level".into(),
                name: name.name.clone(),
                span: name.span,
                help,
            });
        }
    }
    out
}

/// Which section an item name belongs to, for "did you mean to put it in …" help.
fn section_of(name: &str) -> Option<&'static str> {
    ["data", "train", "diagnose"]
        .into_iter()
        .find(|s| catalog::items(s).contains(&name))
}

/// Reports a missing required top-level item.
pub fn missing(cx: &mut Cx, recipe_end: Span, name: &str, section: bool) {
    let what = if section {
        format!("`{name}` section")
    } else {
        format!("`{name}` setting")
    };
    cx.err(CheckError::MissingItem {
        what: what.clone(),
        span: recipe_end,
        label: format!("the recipe ends without a {what}"),
        help: Some(format!("add `{}`", example(name))),
    });
}

/// The settings of a section (not `model`), by item name.
#[derive(Debug)]
pub struct Entries<'a> {
    known: Vec<&'static str>,
    found: Vec<Option<&'a Setting>>,
}

impl<'a> Entries<'a> {
    /// The item `name`, when written.
    pub fn get(&self, name: &str) -> Option<&'a Setting> {
        let i = self.known.iter().position(|k| *k == name)?;
        self.found.get(i).copied().flatten()
    }

    /// The value of item `name`, when written.
    pub fn value(&self, name: &str) -> Option<&'a Expr> {
        self.get(name).map(|s| &s.value)
    }
}

/// The settings of a section (not `model`): its items are those declared for it
/// ([`catalog::items`]); unknown and repeated items are reported.
pub fn entries<'a>(cx: &mut Cx, sec: &'a Section) -> Entries<'a> {
    let known = catalog::items(&sec.name.name);
    let mut out: Vec<Option<&'a Setting>> = vec![None; known.len()];
    for e in &sec.entries {
        match e {
            Entry::Layer(expr) => cx.err(CheckError::LayerOutsideModel {
                section: sec.name.name.clone(),
                span: expr.span,
            }),
            Entry::Setting(s) => {
                let Some(i) = known.iter().position(|k| *k == s.name.name) else {
                    let help = suggest::closest(&s.name.name, &known)
                        .map(|k| format!("did you mean `{k}`?"))
                        .or_else(|| {
                            Some(format!(
                                "the items of `{}` are: {}",
                                sec.name.name,
                                known.join(", ")
                            ))
                        });
                    cx.err(CheckError::UnknownItem {
                        place: format!("in `{}`", sec.name.name),
                        name: s.name.name.clone(),
                        span: s.name.span,
                        help,
                    });
                    continue;
                };
                if let Some(prev) = out[i] {
                    cx.err(CheckError::DuplicateItem {
                        name: s.name.name.clone(),
                        span: s.name.span,
                        first: Some(prev.name.span).filter(|p| p.source == s.name.span.source),
                    });
                    continue;
                }
                out[i] = Some(s);
            }
        }
    }
    Entries { known, found: out }
}

/// Reports a required entry missing from a section.
pub fn missing_entry(cx: &mut Cx, sec: &Section, name: &str, example: &str) {
    cx.err(CheckError::MissingItem {
        what: format!("`{name}` in `{}`", sec.name.name),
        span: sec.name.span,
        label: format!("this section has no `{name}`"),
        help: Some(format!("add `{example}`")),
    });
}
