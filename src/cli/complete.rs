//! Shell completion (`nnt completions SHELL`): clap_complete's dynamic completion.
//! The script a shell sources calls back into `nnt` (with `COMPLETE=SHELL` set) on
//! every TAB, so completions know what the command line means: recipe arguments
//! complete `.nnt` files, model and weights arguments `.safetensors` files,
//! `nnt explain` either, `--set` the setting keys of the catalog, and `--seed`
//! nothing.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate, PathCompleter};

use crate::check::catalog::Kind;

fn has_extension(p: &Path, ext: &str) -> bool {
    p.is_file()
        && p.extension()
            .and_then(OsStr::to_str)
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Recipe files (`.nnt`), and directories to reach them.
pub fn recipes() -> ArgValueCompleter {
    ArgValueCompleter::new(PathCompleter::any().filter(|p| has_extension(p, "nnt")))
}

/// Weights and checkpoint files (`.safetensors`), and directories to reach them.
pub fn weights() -> ArgValueCompleter {
    ArgValueCompleter::new(PathCompleter::any().filter(|p| has_extension(p, "safetensors")))
}

/// Recipe files (`.nnt`) and model files (`.safetensors`), and directories to
/// reach them: what `nnt explain` reads.
pub fn recipes_and_models() -> ArgValueCompleter {
    ArgValueCompleter::new(
        PathCompleter::any().filter(|p| has_extension(p, "nnt") || has_extension(p, "safetensors")),
    )
}

/// `KEY=` for every key `--set` accepts (`seed=`, `train.epochs=`, …) that starts
/// with what is typed; nothing once the `=` is written.
pub fn setting_keys() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy();
        if typed.contains('=') {
            return Vec::new();
        }
        crate::check::catalog::BUILTINS
            .iter()
            .filter_map(|b| match b.kind {
                Kind::Setting => Some((b.name.to_string(), b.doc)),
                Kind::Item(s) => Some((format!("{s}.{}", b.name), b.doc)),
                _ => None,
            })
            .filter(|(k, _)| k.starts_with(typed.as_ref()))
            .map(|(k, doc)| CompletionCandidate::new(format!("{k}=")).help(Some(doc.into())))
            .collect()
    })
}

/// Writes the script that registers `nnt`'s completion with `shell`.
pub fn write_registration(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        return Err(std::io::Error::other(format!(
            "no completion support for {name}"
        )));
    };
    completer.write_registration("COMPLETE", "nnt", "nnt", "nnt", out)
}
