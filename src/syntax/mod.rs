//! Source text -> [`crate::ast::Recipe`]. The only module that knows pest.
//!
//! Two passes: [`lexer::scan`] checks the tokens (and collects comments), then the
//! pest grammar (`grammar/nnt.pest`) decides structure. A pest failure is turned
//! into words by `expect`; pest rule names never reach users.

mod error;
mod expect;
pub mod lexer;

pub use error::{SyntaxError, SyntaxErrorKind, Unexpected};

use pest::iterators::Pair;
use pest::Parser;

use crate::ast::{
    Arg, Call, Entry, Expr, ExprKind, Ident, Item, Number, Recipe, Section, Setting, SourceId, Span,
};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/nnt.pest"]
struct NntParser;

/// Parses a whole recipe.
pub fn parse(text: &str, source: SourceId) -> Result<Recipe, SyntaxError> {
    let squeezed = squeeze_blank_lines(text);
    let scan = lexer::scan(&squeezed, source)?;
    let mut pairs = NntParser::parse(Rule::recipe, &squeezed)
        .map_err(|e| expect::describe(&e, text, source, &scan, expect::Context::Recipe))?;
    let b = Builder { source };
    let mut items = Vec::new();
    if let Some(recipe) = pairs.next() {
        for p in recipe.into_inner() {
            if p.as_rule() == Rule::item {
                items.push(b.item(p));
            }
        }
    }
    Ok(Recipe {
        items,
        comments: scan.comments,
    })
}

/// The text with every line end strictly inside a run of blank lines turned into
/// a space: the run still separates what is around it (its first and last line
/// ends stay), offsets do not move, and the lexer and pest keep two tokens per run
/// instead of one per line (20 MB of blank lines took 2.25 GB; issue 11, item 14).
/// Positions inside a run are never where a parse fails: the first line end
/// either ends an item or is where one was missing, and the run's end is where
/// the next thing is tried.
fn squeeze_blank_lines(text: &str) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    // The line ends of the current run: its first, and the latest seen (which
    // becomes interior when another one follows it).
    let mut out: Option<Vec<u8>> = None;
    let (mut first, mut latest): (Option<usize>, Option<usize>) = (None, None);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\n' => {
                match (first, latest) {
                    (Some(f), Some(l)) if l != f => {
                        out.get_or_insert_with(|| b.to_vec())[l] = b' ';
                    }
                    (Some(_), _) => {}
                    (None, _) => first = Some(i),
                }
                latest = Some(i);
            }
            b' ' | b'\t' | b'\r' => {}
            _ => (first, latest) = (None, None),
        }
    }
    // Only ASCII line ends became ASCII spaces: still UTF-8.
    match out.map(String::from_utf8) {
        Some(Ok(s)) => std::borrow::Cow::Owned(s),
        _ => std::borrow::Cow::Borrowed(text),
    }
}

/// Parses one value, as given to `--set KEY=VALUE`.
pub fn parse_expr(text: &str, source: SourceId) -> Result<Expr, SyntaxError> {
    let scan = lexer::scan(text, source)?;
    let pairs = NntParser::parse(Rule::lone_value, text)
        .map_err(|e| expect::describe(&e, text, source, &scan, expect::Context::Value))?;
    let b = Builder { source };
    for p in pairs.flatten() {
        if p.as_rule() == Rule::value {
            return Ok(b.value(p));
        }
    }
    // Unreachable by the grammar (lone_value always holds a value); report rather than panic.
    Err(SyntaxError::new(
        SyntaxErrorKind::Unexpected(Box::new(error::Unexpected {
            expected: expect::VALUE_WORDS.into(),
            found: "nothing".into(),
            help: None,
        })),
        Span::new(source, 0, text.len()),
    ))
}

struct Builder {
    source: SourceId,
}

impl Builder {
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        Span::new(self.source, s.start(), s.end())
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn item(&self, p: Pair<'_, Rule>) -> Item {
        let span = self.span(&p);
        let mut name = None;
        let mut value = None;
        let mut entries = Vec::new();
        let mut section = false;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::ident => name = Some(self.ident(c)),
                Rule::lbrace => section = true,
                Rule::value => value = Some(self.value(c)),
                Rule::entry => entries.push(self.entry(c)),
                _ => {}
            }
        }
        let name = name.unwrap_or_else(|| Ident {
            name: String::new(),
            span,
        });
        match (section, value) {
            (false, Some(value)) => Item::Setting(Setting { name, value, span }),
            _ => Item::Section(Section {
                name,
                entries,
                span,
            }),
        }
    }

    fn entry(&self, p: Pair<'_, Rule>) -> Entry {
        let span = self.span(&p);
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::entry_setting => {
                    let span = self.span(&c);
                    let mut name = None;
                    let mut value = None;
                    for d in c.into_inner() {
                        match d.as_rule() {
                            Rule::ident => name = Some(self.ident(d)),
                            Rule::value => value = Some(self.value(d)),
                            _ => {}
                        }
                    }
                    let name = name.unwrap_or_else(|| Ident {
                        name: String::new(),
                        span,
                    });
                    let value = value.unwrap_or_else(|| self.placeholder(span));
                    return Entry::Setting(Setting { name, value, span });
                }
                Rule::layer => {
                    if let Some(v) = c.into_inner().find(|d| d.as_rule() == Rule::value) {
                        return Entry::Layer(self.value(v));
                    }
                }
                _ => {}
            }
        }
        Entry::Layer(self.placeholder(span))
    }

    /// Only built when the grammar and this builder disagree, which they do not.
    fn placeholder(&self, span: Span) -> Expr {
        Expr {
            kind: ExprKind::List(Vec::new()),
            span,
        }
    }

    fn value(&self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        let Some(c) = p.into_inner().next() else {
            return self.placeholder(span);
        };
        let kind = match c.as_rule() {
            Rule::number => {
                let text = c.as_str().to_string();
                let is_integer = !text.contains(['.', 'e', 'E']);
                // The lexer already rejected non-finite literals.
                let value = text.parse::<f64>().unwrap_or(f64::NAN);
                ExprKind::Number(Number {
                    value,
                    is_integer,
                    text,
                })
            }
            Rule::string => {
                let raw = c.into_inner().next().map(|s| s.as_str()).unwrap_or("");
                ExprKind::String(unescape(raw))
            }
            Rule::boolean => ExprKind::Bool(c.as_str() == "true"),
            Rule::name => match c.into_inner().next() {
                Some(i) => ExprKind::Name(self.ident(i)),
                None => return self.placeholder(span),
            },
            Rule::call => {
                let mut name = None;
                let mut args = Vec::new();
                for d in c.into_inner() {
                    match d.as_rule() {
                        Rule::ident => name = Some(self.ident(d)),
                        Rule::arg => args.push(self.arg(d)),
                        _ => {}
                    }
                }
                let name = name.unwrap_or_else(|| Ident {
                    name: String::new(),
                    span,
                });
                ExprKind::Call(Call { name, args })
            }
            Rule::list => ExprKind::List(
                c.into_inner()
                    .filter(|d| d.as_rule() == Rule::value)
                    .map(|d| self.value(d))
                    .collect(),
            ),
            _ => return self.placeholder(span),
        };
        Expr { kind, span }
    }

    fn arg(&self, p: Pair<'_, Rule>) -> Arg {
        let span = self.span(&p);
        let mut name = None;
        let mut value = None;
        for d in p.into_inner() {
            match d.as_rule() {
                Rule::arg_name => {
                    if let Some(i) = d.into_inner().next() {
                        name = Some(self.ident(i));
                    }
                }
                Rule::value => value = Some(self.value(d)),
                _ => {}
            }
        }
        let value = value.unwrap_or_else(|| self.placeholder(span));
        Arg { name, value, span }
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}
