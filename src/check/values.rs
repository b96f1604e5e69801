//! Typed reading of expressions: integer, float, bool, string, name, with the
//! `wrong_type` and `out_of_range` errors.

use crate::ast::{Expr, ExprKind, Ident};

use super::catalog::{self, Builtin, Kind};
use super::error::CheckError;
use super::suggest;
use super::Cx;

/// How a value is described in messages: `16.0`, a string, a list, …
pub fn describe(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(n) => format!("`{}`", n.text),
        ExprKind::String(_) => "a string".into(),
        ExprKind::Bool(b) => format!("`{b}`"),
        ExprKind::Name(i) => format!("the name `{}`", i.name),
        ExprKind::Call(c) => format!("`{}(…)`", c.name.name),
        ExprKind::List(_) => "a list".into(),
    }
}

fn wrong(cx: &mut Cx, e: &Expr, expected: &str, help: Option<String>) {
    cx.err(CheckError::WrongType {
        expected: expected.to_string(),
        found: describe(e),
        span: e.span,
        help,
    });
}

/// An integer literal (no `.`, no exponent).
pub fn int(cx: &mut Cx, e: &Expr, what: &str) -> Option<i64> {
    match &e.kind {
        ExprKind::Number(n) if n.is_integer => match n.text.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                cx.err(CheckError::OutOfRange {
                    what: what.to_string(),
                    rule: if n.text.starts_with('-') {
                        format!("at least {}", i64::MIN)
                    } else {
                        format!("at most {}", i64::MAX)
                    },
                    value: n.text.clone(),
                    span: e.span,
                    help: None,
                });
                None
            }
        },
        ExprKind::Number(n) => {
            let help = if n.value.fract() == 0.0 && n.value.abs() < 1e15 {
                Some(format!("{what} is an integer: write `{}`", n.value as i64))
            } else {
                Some(format!(
                    "{what} is a whole number, written without `.` or exponent"
                ))
            };
            cx.err(CheckError::WrongType {
                expected: "an integer".into(),
                found: format!("`{}`", n.text),
                span: e.span,
                help,
            });
            None
        }
        _ => {
            wrong(
                cx,
                e,
                "an integer",
                Some(format!("{what} is a whole number, such as `3`")),
            );
            None
        }
    }
}

/// An integer of at least `min`, as a count.
pub fn count(cx: &mut Cx, e: &Expr, what: &str, min: i64) -> Option<usize> {
    let v = int(cx, e, what)?;
    if v < min {
        cx.err(CheckError::OutOfRange {
            what: what.to_string(),
            rule: format!("at least {min}"),
            value: v.to_string(),
            span: e.span,
            help: None,
        });
        return None;
    }
    usize::try_from(v).ok()
}

/// An integer in `min..=max`: sizes that decide memory (units, rows, features) are
/// capped so that a typo cannot make the trainer try to allocate terabytes.
pub fn count_in(cx: &mut Cx, e: &Expr, what: &str, min: i64, max: i64) -> Option<usize> {
    let v = count(cx, e, what, min)?;
    if v as u64 > max as u64 {
        cx.err(CheckError::OutOfRange {
            what: what.to_string(),
            rule: format!("at most {max}"),
            value: v.to_string(),
            span: e.span,
            help: None,
        });
        return None;
    }
    Some(v)
}

/// Upper bound of layer widths, rows, features and classes.
pub const MAX_SIZE: i64 = 1 << 24;

/// A number (an integer is fine where a float is wanted).
pub fn float(cx: &mut Cx, e: &Expr, what: &str) -> Option<f64> {
    match &e.kind {
        ExprKind::Number(n) => Some(n.value),
        _ => {
            wrong(
                cx,
                e,
                "a number",
                Some(format!("{what} is a number, such as `0.1`")),
            );
            None
        }
    }
}

/// Which interval a float must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// > 0
    Positive,
    /// ≥ 0
    NonNegative,
    /// [0, 1)
    UnitOpen,
    /// [0, 1]
    Unit,
    /// (0, 1)
    Fraction,
    /// > 0 and ≤ 1
    UnitPositive,
    /// anything finite
    Any,
}

impl Range {
    fn contains(self, v: f64) -> bool {
        match self {
            Range::Positive => v > 0.0,
            Range::NonNegative => v >= 0.0,
            Range::UnitOpen => (0.0..1.0).contains(&v),
            Range::Unit => (0.0..=1.0).contains(&v),
            Range::Fraction => v > 0.0 && v < 1.0,
            Range::UnitPositive => v > 0.0 && v <= 1.0,
            Range::Any => v.is_finite(),
        }
    }
    /// The range in words: `greater than 0`, `in [0, 1)`.
    pub fn words(self) -> &'static str {
        match self {
            Range::Positive => "greater than 0",
            Range::NonNegative => "at least 0",
            Range::UnitOpen => "in [0, 1)",
            Range::Unit => "in [0, 1]",
            Range::Fraction => "strictly between 0 and 1",
            Range::UnitPositive => "in (0, 1]",
            Range::Any => "finite",
        }
    }
}

/// A number within `range`.
pub fn float_in(cx: &mut Cx, e: &Expr, what: &str, range: Range) -> Option<f64> {
    let v = float(cx, e, what)?;
    if !range.contains(v) {
        let value = match &e.kind {
            ExprKind::Number(n) => n.text.clone(),
            _ => v.to_string(),
        };
        cx.err(CheckError::OutOfRange {
            what: what.to_string(),
            rule: range.words().to_string(),
            value,
            span: e.span,
            help: None,
        });
        return None;
    }
    Some(v)
}

pub fn boolean(cx: &mut Cx, e: &Expr, what: &str) -> Option<bool> {
    match &e.kind {
        ExprKind::Bool(b) => Some(*b),
        _ => {
            wrong(
                cx,
                e,
                "`true` or `false`",
                Some(format!("{what} is `true` or `false`")),
            );
            None
        }
    }
}

pub fn string(cx: &mut Cx, e: &Expr, what: &str) -> Option<String> {
    match &e.kind {
        ExprKind::String(s) => Some(s.clone()),
        _ => {
            wrong(
                cx,
                e,
                "a string",
                Some(format!("{what} is a string in double quotes")),
            );
            None
        }
    }
}

/// A bare name, or a call with no arguments (`relu` = `relu()`).
pub fn bare_name(e: &Expr) -> Option<&Ident> {
    match &e.kind {
        ExprKind::Name(i) => Some(i),
        ExprKind::Call(c) if c.args.is_empty() => Some(&c.name),
        _ => None,
    }
}

/// The callee of a name or call expression.
pub fn callee(e: &Expr) -> Option<&Ident> {
    match &e.kind {
        ExprKind::Name(i) => Some(i),
        ExprKind::Call(c) => Some(&c.name),
        _ => None,
    }
}

/// For a quoted name (`"mse"`), the advice to drop the quotes.
fn unquote_help(e: &Expr, known: &[&str]) -> Option<String> {
    match &e.kind {
        ExprKind::String(s) if known.contains(&s.as_str()) => {
            Some(format!("names are written without quotes: `{s}`"))
        }
        _ => None,
    }
}

/// One of `known`, written as a plain name. Returns its index in `known`.
pub fn choice(cx: &mut Cx, e: &Expr, what: &str, known: &[&str]) -> Option<usize> {
    let Some(id) = bare_name(e) else {
        let help = unquote_help(e, known)
            .unwrap_or_else(|| format!("expected one of: {}", known.join(", ")));
        wrong(cx, e, &format!("a {what}"), Some(help));
        return None;
    };
    lookup(cx, id, what, known)
}

/// Finds `id` among `known`, or reports it with the closest name suggested.
pub fn lookup(cx: &mut Cx, id: &Ident, what: &str, known: &[&str]) -> Option<usize> {
    if let Some(i) = known.iter().position(|k| *k == id.name) {
        return Some(i);
    }
    cx.err(CheckError::UnknownName {
        what: what.to_string(),
        name: id.name.clone(),
        span: id.span,
        help: suggest::help(&id.name, known),
    });
    None
}

/// A name or call whose name is one of `known`; else `wrong_type` / `unknown_name`.
pub fn callee_in<'a>(
    cx: &mut Cx,
    e: &'a Expr,
    what: &str,
    example: &str,
    known: &[&str],
) -> Option<(usize, &'a Ident)> {
    let Some(id) = callee(e) else {
        let help = unquote_help(e, known).unwrap_or_else(|| format!("for example `{example}`"));
        wrong(cx, e, &format!("a {what}"), Some(help));
        return None;
    };
    let i = lookup(cx, id, what, known)?;
    Some((i, id))
}

/// A name or call whose name is declared as a built-in of `kind` (the declaration
/// is the acceptance); else `wrong_type` / `unknown_name` with the closest declared
/// name suggested.
pub fn declared<'a>(
    cx: &mut Cx,
    e: &'a Expr,
    kind: Kind,
    what: &str,
    example: &str,
) -> Option<(&'static Builtin, &'a Ident)> {
    // The common case first, without listing the kind's names.
    if let Some(id) = callee(e) {
        if let Some(decl) = catalog::find(kind, &id.name) {
            return Some((decl, id));
        }
    }
    let known = catalog::names(kind);
    let (i, id) = callee_in(cx, e, what, example, &known)?;
    let decl = catalog::find(kind, known.get(i)?)?;
    Some((decl, id))
}

/// One of the declared values of `kind` (a `Kind::Value`), written as a plain
/// name, as its IR value: the one of `all` whose `name` is the name written.
pub fn declared_value<T: Copy>(
    cx: &mut Cx,
    e: &Expr,
    what: &str,
    kind: Kind,
    all: &[T],
    name: fn(&T) -> &'static str,
) -> Option<T> {
    let known = catalog::names(kind);
    let i = choice(cx, e, what, &known)?;
    let written = known.get(i)?;
    all.iter().copied().find(|v| name(v) == *written)
}
