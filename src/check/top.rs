//! The small top-level items: `seed`, `precision`, `init_from`, `save`, `checkpoint`.

use std::path::{Path, PathBuf};

use crate::ast::{Expr, Section};
use crate::ir::{CheckpointPlan, Precision};

use super::layout;
use super::values;
use super::Cx;

pub fn seed(cx: &mut Cx, e: &Expr) -> Option<u64> {
    values::count(cx, e, "the seed", 0).map(|v| v as u64)
}

pub fn precision(cx: &mut Cx, e: &Expr) -> Option<Precision> {
    let names = Precision::ALL.map(|p| p.name());
    let i = values::choice(cx, e, "precision", &names)?;
    Precision::ALL.get(i).copied()
}

/// A path, resolved against the recipe's directory when relative.
pub fn path(cx: &mut Cx, e: &Expr, what: &str, dir: &Path) -> Option<PathBuf> {
    let s = values::string(cx, e, what)?;
    let p = Path::new(&s);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    })
}

pub fn checkpoint(cx: &mut Cx, sec: &Section, dir: &Path) -> Option<CheckpointPlan> {
    let before = cx.errors.len();
    let e = layout::entries(cx, sec);
    let every = match e.value("every") {
        Some(x) => values::count(cx, x, "every", 1),
        None => {
            layout::missing_entry(cx, sec, "every", "every = 5");
            None
        }
    };
    let path = match e.value("path") {
        Some(x) => self::path(cx, x, "the checkpoint directory", dir),
        None => {
            layout::missing_entry(cx, sec, "path", "path = \"checkpoints\"");
            None
        }
    };
    // Without `keep`, every checkpoint is kept.
    let keep = match e.value("keep") {
        Some(x) => values::count(cx, x, "keep", 1),
        None => Some(usize::MAX),
    };
    if cx.errors.len() > before {
        return None;
    }
    Some(CheckpointPlan {
        every: every?,
        path: path?,
        keep: keep?,
    })
}
