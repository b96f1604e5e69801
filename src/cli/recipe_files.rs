//! The files a recipe names, found in its syntax tree without checking it: the
//! `csv` data and `init_from` weights it reads, the `save` file and checkpoint
//! folder it writes. `nnt sweep` rewrites these paths for each run's folder;
//! `nnt test --junit` refuses a report path that is a file a tested recipe
//! reads or writes; `nnt test` and `nnt sweep` refuse to write a snapshot, a
//! run's file or a summary over a file a recipe reads. They need them also for
//! a recipe that does not check (a bad `normalize` must not hide the data file
//! next to it), which the checker's
//! resolved paths (`CheckReport::data_files`, `Program::init_from`) cannot give.

use std::path::{Path, PathBuf};

use crate::ast::{Entry, Expr, ExprKind, Item, Recipe, SourceId};
use crate::io::guard::{read_regular, RECIPE_LIMIT};

/// What a path written in a recipe is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathUse {
    /// `csv("data.csv", …)` (or `csv(path = …)`) in the `data` section: read.
    Data,
    /// `init_from = "init.safetensors"`: read.
    InitFrom,
    /// `save = "model.safetensors"`: written.
    Save,
    /// `checkpoint { path = "ck" }`: a folder written into.
    Checkpoint,
}

impl PathUse {
    /// Whether a run reads the file (rather than writes it).
    pub fn is_read(self) -> bool {
        matches!(self, PathUse::Data | PathUse::InitFrom)
    }

    /// The file's name in messages (`the JUnit report x is the same file as the
    /// data file y`), as `nnt run` and `nnt export torch` name it.
    pub fn role(self) -> &'static str {
        match self {
            PathUse::Data => "data file",
            PathUse::InitFrom => "init_from weights",
            PathUse::Save => "save path",
            PathUse::Checkpoint => "checkpoint directory",
        }
    }
}

/// Calls `f` on every path the recipe names, as written (a string, relative to
/// the recipe's folder unless absolute), in item order. Mutable so that a caller
/// can rewrite them in place; a value that is not a string is skipped (the
/// checker reports it).
pub fn paths_mut(recipe: &mut Recipe, mut f: impl FnMut(PathUse, &mut String)) {
    for item in &mut recipe.items {
        match item {
            Item::Setting(st) if st.name.name == "init_from" => {
                string_mut(&mut st.value, |s| f(PathUse::InitFrom, s))
            }
            Item::Setting(st) if st.name.name == "save" => {
                string_mut(&mut st.value, |s| f(PathUse::Save, s))
            }
            Item::Section(sec) if sec.name.name == "data" => {
                for e in &mut sec.entries {
                    if let Entry::Setting(st) = e {
                        csv_path_mut(&mut st.value, |s| f(PathUse::Data, s));
                    }
                }
            }
            Item::Section(sec) if sec.name.name == "checkpoint" => {
                for e in &mut sec.entries {
                    match e {
                        Entry::Setting(st) if st.name.name == "path" => {
                            string_mut(&mut st.value, |s| f(PathUse::Checkpoint, s))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

fn string_mut(e: &mut Expr, f: impl FnOnce(&mut String)) {
    if let ExprKind::String(s) = &mut e.kind {
        f(s);
    }
}

/// The path of a `csv(…)` call: its first positional argument or `path = …`.
fn csv_path_mut(e: &mut Expr, f: impl FnOnce(&mut String)) {
    let ExprKind::Call(c) = &mut e.kind else {
        return;
    };
    if c.name.name != "csv" {
        return;
    }
    let slot = match c.args.first() {
        Some(a) if a.name.is_none() => Some(0),
        _ => c
            .args
            .iter()
            .position(|a| a.name.as_ref().is_some_and(|n| n.name == "path")),
    };
    if let Some(i) = slot {
        string_mut(&mut c.args[i].value, f);
    }
}

/// The paths the recipe at `path` names (its data files, `init_from` weights,
/// `save` file and checkpoint folder), as (use, path) in item order with each
/// path joined to the recipe's folder the way the checker resolves it. Empty
/// when the recipe cannot be read, is not UTF-8 or does not parse: such a
/// recipe never runs, and its failure is reported where it is run.
pub fn named_files(path: &Path) -> Vec<(PathUse, PathBuf)> {
    let Ok(bytes) = read_regular("recipe", path, RECIPE_LIMIT) else {
        return Vec::new();
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Vec::new();
    };
    // A byte-order mark is not part of the recipe (as in the checker).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Ok(recipe) = crate::syntax::parse(text, SourceId::RECIPE) else {
        return Vec::new();
    };
    // `r.nnt` reading `d.csv` names it `d.csv`, not `./d.csv`, in messages.
    files_of(&recipe, path.parent().unwrap_or(Path::new("")))
}

/// The paths `recipe` names (as [`named_files`]), each joined to `dir`, the
/// recipe's folder: for a recipe already parsed, with its `--set` overrides
/// applied (`nnt sweep`'s runs).
pub fn files_of(recipe: &Recipe, dir: &Path) -> Vec<(PathUse, PathBuf)> {
    let mut recipe = recipe.clone();
    let mut files = Vec::new();
    // `join` keeps an absolute path as it is, as the checker does.
    paths_mut(&mut recipe, |use_, s| files.push((use_, dir.join(&*s))));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_a_recipe_names_even_when_it_does_not_check() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("r.nnt");
        // `normalize = bogus` fails the check; the files are still found.
        std::fs::write(
            &r,
            "\u{feff}init_from = \"w.safetensors\"\nsave = \"m.safetensors\"\n\
             data {\n    train = csv(\"a.csv\", label = \"y\")\n    \
             test = csv(label = \"y\", path = \"/abs/t.csv\")\n    normalize = bogus\n}\n\
             checkpoint {\n    every = 1\n    path = \"ck\"\n}\n",
        )
        .unwrap();
        let d = dir.path();
        assert_eq!(
            named_files(&r),
            [
                (PathUse::InitFrom, d.join("w.safetensors")),
                (PathUse::Save, d.join("m.safetensors")),
                (PathUse::Data, d.join("a.csv")),
                (PathUse::Data, PathBuf::from("/abs/t.csv")),
                (PathUse::Checkpoint, d.join("ck")),
            ]
        );
        std::fs::write(&r, "data {\n    train = csv(\"a.csv\"\n").unwrap();
        assert!(named_files(&r).is_empty(), "a recipe that does not parse");
        assert!(named_files(&d.join("missing.nnt")).is_empty());
    }
}
