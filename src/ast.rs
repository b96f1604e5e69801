//! The syntax tree of a recipe, exactly as written, with a span on every node.
//!
//! Produced by [`crate::syntax`], consumed by [`crate::check`] and [`crate::fmt`].
//! Nothing here is resolved or validated: `dense(16.5)` is a perfectly good AST.

use std::fmt;

/// Which text a span points into: the recipe file or one `--set` override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SourceId(pub u16);

impl SourceId {
    /// The recipe file itself.
    pub const RECIPE: SourceId = SourceId(0);
}

/// A byte range in one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub source: SourceId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(source: SourceId, start: usize, end: usize) -> Span {
        Span { source, start, end }
    }
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The smallest span covering both (same source assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            source: self.source,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> miette::SourceSpan {
        (s.start, s.len()).into()
    }
}

/// A whole recipe file (or one parsed `--set` override).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recipe {
    pub items: Vec<Item>,
    /// Every `#` comment, in source order, so the formatter can keep them.
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// The text after `#`, without the line end.
    pub text: String,
    pub span: Span,
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `NAME = expr`
    Setting(Setting),
    /// `NAME { entries }`
    Section(Section),
}

impl Item {
    pub fn name(&self) -> &Ident {
        match self {
            Item::Setting(s) => &s.name,
            Item::Section(s) => &s.name,
        }
    }
    pub fn span(&self) -> Span {
        match self {
            Item::Setting(s) => s.span,
            Item::Section(s) => s.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: Ident,
    pub value: Expr,
    /// From the name to the end of the value.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: Ident,
    pub entries: Vec<Entry>,
    /// From the name to the closing `}`.
    pub span: Span,
}

/// One entry of a section body.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// `NAME = expr`
    Setting(Setting),
    /// An expression alone: a layer (only meaningful in `model`).
    Layer(Expr),
}

impl Entry {
    pub fn span(&self) -> Span {
        match self {
            Entry::Setting(s) => s.span,
            Entry::Layer(e) => e.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(Number),
    /// The string's value, escapes already resolved.
    String(String),
    Bool(bool),
    /// A bare name: `relu`, `standard`, `full`. Means the same as a call with no arguments.
    Name(Ident),
    Call(Call),
    List(Vec<Expr>),
}

/// A numeric literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    pub value: f64,
    /// No `.` and no exponent in the source text: usable where an integer is wanted.
    pub is_integer: bool,
    /// The literal as written (for the formatter and for messages).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// `Some` for `name = value`, `None` for a positional argument.
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

impl fmt::Display for Expr {
    /// Canonical one-line rendering, as `nnt fmt` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => f.write_str(&n.text),
            ExprKind::String(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Name(i) => f.write_str(&i.name),
            ExprKind::Call(c) => {
                write!(f, "{}(", c.name.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(n) = &a.name {
                        write!(f, "{} = ", n.name)?;
                    }
                    write!(f, "{}", a.value)?;
                }
                f.write_str(")")
            }
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
        }
    }
}
