//! Turns a pest failure into a readable [`SyntaxError`]: the offending token, and
//! what was expected in words. Pest rule names never reach users.

use pest::error::{Error, ErrorVariant, InputLocation};

use crate::ast::{SourceId, Span};

use super::error::{SyntaxError, SyntaxErrorKind, Unexpected};
use super::lexer::{Scan, TokenKind};
use super::Rule;

pub const VALUE_WORDS: &str = "a value: a number, string, name, call or list";

/// What was being parsed: a whole recipe or a lone `--set` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Recipe,
    Value,
}

/// The expectations pest can report, in the order they are listed to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    Eq,
    LBrace,
    LParen,
    Comma,
    RParen,
    RBrack,
    Value,
    Name,
    Sep,
    RBrace,
    End,
}

fn want_of(rule: Rule) -> Option<Want> {
    Some(match rule {
        Rule::eq => Want::Eq,
        Rule::lbrace => Want::LBrace,
        Rule::rbrace => Want::RBrace,
        Rule::lparen => Want::LParen,
        Rule::rparen => Want::RParen,
        Rule::lbrack => Want::Value,
        Rule::rbrack => Want::RBrack,
        Rule::comma => Want::Comma,
        Rule::sep => Want::Sep,
        Rule::EOI => Want::End,
        Rule::ident | Rule::item | Rule::arg_name | Rule::entry_setting => Want::Name,
        Rule::value
        | Rule::layer
        | Rule::entry
        | Rule::number
        | Rule::string
        | Rule::boolean
        | Rule::call
        | Rule::list
        | Rule::name
        | Rule::arg => Want::Value,
        _ => return None,
    })
}

fn word(w: Want) -> &'static str {
    match w {
        Want::Eq => "`=`",
        Want::LBrace => "`{`",
        Want::LParen => "`(`",
        Want::Comma => "`,`",
        Want::RParen => "`)`",
        Want::RBrack => "`]`",
        Want::Value => "a value",
        Want::Name => "a name",
        Want::Sep => "a new line",
        Want::RBrace => "`}`",
        Want::End => "the end of the file",
    }
}

fn join(words: &[&str]) -> String {
    match words {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The token found where the parse failed.
struct Found {
    span: Span,
    what: String,
    kind: Option<TokenKind>,
}

fn found_at(text: &str, source: SourceId, scan: &Scan, pos: usize) -> Found {
    let i = scan.tokens.partition_point(|t| t.start < pos);
    match scan.tokens.get(i) {
        Some(t) => {
            let s = text.get(t.start..t.end).unwrap_or("");
            let what = match t.kind {
                TokenKind::Ident => format!("`{s}`"),
                TokenKind::Number => format!("the number `{s}`"),
                TokenKind::String => "a string".to_string(),
                TokenKind::Punct => format!("`{s}`"),
                TokenKind::Newline => "the end of the line".to_string(),
            };
            let span = if t.kind == TokenKind::Newline {
                // Point just after the line's last character rather than into the next line.
                let mut at = t.start;
                if at > 0 && text.as_bytes().get(at - 1) == Some(&b'\r') {
                    at -= 1;
                }
                Span::new(source, at, at)
            } else {
                Span::new(source, t.start, t.end)
            };
            Found {
                span,
                what,
                kind: Some(t.kind),
            }
        }
        None => Found {
            span: Span::new(source, text.len(), text.len()),
            what: "the end of the file".to_string(),
            kind: None,
        },
    }
}

/// The text of the token before `pos`, if it is on the same line.
fn previous_token<'t>(text: &'t str, scan: &Scan, pos: usize) -> Option<(TokenKind, &'t str)> {
    let i = scan.tokens.partition_point(|t| t.start < pos);
    let t = scan.tokens.get(i.checked_sub(1)?)?;
    Some((t.kind, text.get(t.start..t.end)?))
}

pub fn describe(
    e: &Error<super::Rule>,
    text: &str,
    source: SourceId,
    scan: &Scan,
    ctx: Context,
) -> SyntaxError {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut wants: Vec<Want> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| want_of(*r)).collect()
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    wants.sort();
    wants.dedup();
    let mut found = found_at(text, source, scan, pos);
    if ctx == Context::Value && found.kind.is_none() {
        found.what = "nothing".to_string();
    }

    // Bracket trouble gets its own wording, pointing at the bracket left open.
    if let Some((open_at, close_at)) = scan.mismatch {
        if found.span.start == close_at && found.kind == Some(TokenKind::Punct) {
            let close = text.as_bytes().get(close_at).copied().unwrap_or(b')') as char;
            if open_at == usize::MAX {
                return SyntaxError::new(
                    SyntaxErrorKind::Mismatched { open: None, close },
                    found.span,
                );
            }
            let open = text.as_bytes().get(open_at).copied().unwrap_or(b'(') as char;
            let mut err = SyntaxError::new(
                SyntaxErrorKind::Mismatched {
                    open: Some(open),
                    close,
                },
                found.span,
            );
            err.related = Some(Box::new((
                Span::new(source, open_at, open_at + 1),
                format!("`{open}` opened here"),
            )));
            return err;
        }
    }
    if found.kind.is_none() {
        if let Some(&(open, at)) = scan.unclosed.last() {
            let mut err = SyntaxError::new(
                SyntaxErrorKind::Unclosed { open: open as char },
                Span::new(source, at, at + 1),
            );
            err.related = Some(Box::new((found.span, "the file ends here".to_string())));
            return err;
        }
    }

    let prev = previous_token(text, scan, pos);
    let mut help = None;
    let expected = if wants == [Want::Eq, Want::LBrace] {
        let name = match prev {
            Some((TokenKind::Ident, n)) => n,
            _ => "name",
        };
        help = Some(format!(
            "write `{name} = value` for a setting or `{name} {{ … }}` for a section; the `=` or `{{` goes on the same line as the name"
        ));
        format!("`=` or `{{` after the item name `{name}`")
    } else if wants.iter().all(|w| *w == Want::Value) && !wants.is_empty() {
        if found.kind == Some(TokenKind::Newline) && matches!(prev, Some((TokenKind::Punct, "="))) {
            help = Some("a setting's value starts on the same line as its name".to_string());
        }
        VALUE_WORDS.to_string()
    } else if wants.is_empty() && ctx == Context::Value {
        VALUE_WORDS.to_string()
    } else if ctx == Context::Recipe
        && (wants.is_empty() || wants.contains(&Want::Name))
        && !wants.contains(&Want::Value)
        && !wants.contains(&Want::RBrace)
    {
        help = Some(
            "a recipe is a list of settings (`seed = 1`) and sections (`model { … }`)".to_string(),
        );
        "a setting (`name = value`) or a section (`name { … }`)".to_string()
    } else if wants.contains(&Want::RBrace)
        && (wants.contains(&Want::Value) || wants.contains(&Want::Name))
        && !wants.contains(&Want::Sep)
    {
        "an entry (`name = value`, or a layer inside `model`) or `}`".to_string()
    } else {
        if ctx == Context::Value {
            wants.retain(|w| *w != Want::Sep);
        }
        let mut words: Vec<&str> = Vec::new();
        for w in &wants {
            match (ctx, w) {
                (Context::Value, Want::End) => words.push("the end of the value"),
                (_, Want::Sep) => {
                    words.push("a new line");
                    words.push("`;`");
                }
                (_, w) => words.push(word(*w)),
            }
        }
        if found.kind == Some(TokenKind::Punct)
            && found.what == "`{`"
            && wants.contains(&Want::RBrace)
        {
            help = Some("sections do not nest: a section holds `name = value` settings, and `model` holds layers".to_string());
        } else if wants.contains(&Want::Sep) && ctx == Context::Recipe {
            help = Some(
                "put each item and each entry on its own line, or separate them with `;`"
                    .to_string(),
            );
        }
        join(&words)
    };
    // Inside `( )` and `[ ]` new lines do not end anything, so a bracket left
    // open on an earlier line makes the next line part of the call or list:
    // the mistake is the bracket, not what is found.
    let open_before = innermost_open(text, scan, pos).filter(|&(open, at)| {
        matches!(open, b'(' | b'[')
            && (wants.contains(&Want::RParen) || wants.contains(&Want::RBrack))
            && text
                .get(at..found.span.start)
                .is_some_and(|t| t.contains('\n'))
    });
    let related = open_before.map(|(open, at)| {
        let close = if open == b'(' { ')' } else { ']' };
        let line = text.get(..at).map_or(0, |t| t.matches('\n').count()) + 1;
        help = Some(format!(
            "is a `{close}` missing? the `{}` on line {line} is still open, and new lines inside brackets do not end it",
            open as char
        ));
        Box::new((
            Span::new(source, at, at + 1),
            format!("this `{}` is still open", open as char),
        ))
    });
    let mut err = SyntaxError::new(
        SyntaxErrorKind::Unexpected(Box::new(Unexpected {
            expected,
            found: found.what,
            help,
        })),
        found.span,
    );
    err.related = related;
    err
}

/// The innermost bracket still open at byte `pos` (the bracket and where it
/// is), from the tokens before it.
fn innermost_open(text: &str, scan: &Scan, pos: usize) -> Option<(u8, usize)> {
    let mut open: Vec<(u8, usize)> = Vec::new();
    for t in scan.tokens.iter().take_while(|t| t.start < pos) {
        if t.kind != TokenKind::Punct {
            continue;
        }
        match text.as_bytes().get(t.start) {
            Some(&b) if matches!(b, b'(' | b'[' | b'{') => open.push((b, t.start)),
            Some(b')' | b']' | b'}') => {
                open.pop();
            }
            _ => {}
        }
    }
    open.last().copied()
}
