//! Syntax errors: one per parse, pointing at the offending token, saying in words
//! what was expected.

use miette::{Diagnostic, LabeledSpan};

use crate::ast::Span;

/// A recipe (or `--set` value) that does not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub kind: SyntaxErrorKind,
    /// The offending token.
    pub span: Span,
    /// A second place worth showing (the bracket left open, say).
    pub related: Option<Box<(Span, String)>>,
}

/// What was expected where the parse failed, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Unexpected {
    pub expected: String,
    pub found: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SyntaxErrorKind {
    /// Something other than what the grammar allows here.
    /// Minimal recipe: `seed 7` (tests/fixtures/invalid/syntax_unexpected.nnt).
    Unexpected(Box<Unexpected>),
    /// A bracket left open at the end of the text.
    /// Minimal recipe: `optimizer = adam(lr = 0.1` (syntax_unclosed.nnt).
    Unclosed { open: char },
    /// A closing bracket that does not match the open one.
    /// Minimal recipe: `regularize = [l2(0.1]` (syntax_mismatched_bracket.nnt).
    Mismatched { open: Option<char>, close: char },
    /// `.5`, `5.`, `+1`, `3abc`, `1e`.
    /// Minimal recipe: `seed = 3abc` (syntax_bad_number.nnt).
    BadNumber(String),
    /// A number whose value is not finite in f64: `1e999`.
    /// Minimal recipe: `seed = 1e999` (syntax_number_too_large.nnt).
    NumberTooLarge(String),
    /// A `"` without its closing `"` on the same line.
    /// Minimal recipe: `save = "out.safetensors` (syntax_unterminated_string.nnt).
    UnterminatedString,
    /// An escape other than `\"`, `\\`, `\n`, `\t`.
    /// Minimal recipe: `save = "a\qb"` (syntax_bad_escape.nnt).
    BadEscape,
    /// A character that cannot start any token: `@`, `-` not before a digit, ...
    /// Minimal recipe: `seed = @` (syntax_unexpected_character.nnt).
    UnexpectedChar(char),
    /// A non-ASCII letter in a name.
    /// Minimal recipe: `séed = 1` (syntax_non_ascii_name.nnt).
    NonAsciiIdent(char),
    /// Brackets nested deeper than [`super::lexer::MAX_DEPTH`].
    /// Minimal recipe: `regularize = [[[[…]]]]` 65 deep (syntax_too_deep.nnt).
    TooDeep,
    /// Bytes that are not UTF-8.
    /// Minimal input: a recipe containing the byte 0xFF (syntax_invalid_utf8.nnt).
    InvalidUtf8 {
        /// The offending bytes in hex (`0xFF`, `0xE9 0x20`).
        bytes: String,
        /// The file starts with a UTF-16 byte order mark (FF FE or FE FF).
        utf16: bool,
    },
}

impl SyntaxError {
    pub fn new(kind: SyntaxErrorKind, span: Span) -> SyntaxError {
        SyntaxError {
            kind,
            span,
            related: None,
        }
    }

    fn code_name(&self) -> &'static str {
        match self.kind {
            SyntaxErrorKind::Unexpected(_) => "unexpected",
            SyntaxErrorKind::Unclosed { .. } => "unclosed",
            SyntaxErrorKind::Mismatched { .. } => "mismatched_bracket",
            SyntaxErrorKind::BadNumber(_) => "bad_number",
            SyntaxErrorKind::NumberTooLarge(_) => "number_too_large",
            SyntaxErrorKind::UnterminatedString => "unterminated_string",
            SyntaxErrorKind::BadEscape => "bad_escape",
            SyntaxErrorKind::UnexpectedChar(_) => "unexpected_character",
            SyntaxErrorKind::NonAsciiIdent(_) => "non_ascii_name",
            SyntaxErrorKind::TooDeep => "too_deep",
            SyntaxErrorKind::InvalidUtf8 { .. } => "invalid_utf8",
        }
    }

    fn label_text(&self) -> String {
        match &self.kind {
            SyntaxErrorKind::Unexpected(u) => format!("found {}", u.found),
            SyntaxErrorKind::Unclosed { open } => format!("this `{open}` is never closed"),
            SyntaxErrorKind::Mismatched { open: Some(o), .. } => {
                format!("expected `{}` here", closing(*o))
            }
            SyntaxErrorKind::Mismatched { open: None, .. } => "nothing to close here".into(),
            SyntaxErrorKind::BadNumber(_) => "not a valid number".into(),
            SyntaxErrorKind::NumberTooLarge(_) => "too large for a 64-bit float".into(),
            SyntaxErrorKind::UnterminatedString => "string starts here".into(),
            SyntaxErrorKind::BadEscape => "unknown escape".into(),
            SyntaxErrorKind::UnexpectedChar(_) => "unexpected character".into(),
            SyntaxErrorKind::NonAsciiIdent(_) => "not an ASCII letter".into(),
            SyntaxErrorKind::TooDeep => "too deep".into(),
            SyntaxErrorKind::InvalidUtf8 { bytes, .. } => format!("{bytes}: not UTF-8"),
        }
    }
}

fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            SyntaxErrorKind::Unexpected(u) => {
                write!(f, "expected {}, found {}", u.expected, u.found)
            }
            SyntaxErrorKind::Unclosed { open } => {
                write!(
                    f,
                    "unclosed `{open}`: expected `{}` before the end of the file",
                    closing(*open)
                )
            }
            SyntaxErrorKind::Mismatched {
                open: Some(o),
                close,
            } => {
                write!(f, "mismatched bracket: `{close}` cannot close `{o}`")
            }
            SyntaxErrorKind::Mismatched { open: None, close } => {
                write!(f, "unexpected `{close}`: there is no open bracket to close")
            }
            SyntaxErrorKind::BadNumber(t) => write!(f, "malformed number `{t}`"),
            SyntaxErrorKind::NumberTooLarge(t) => write!(f, "number `{t}` is too large"),
            SyntaxErrorKind::UnterminatedString => {
                write!(
                    f,
                    "unterminated string: expected a closing `\"` on the same line"
                )
            }
            SyntaxErrorKind::BadEscape => {
                write!(
                    f,
                    "unknown escape in string: only \\\", \\\\, \\n and \\t are allowed"
                )
            }
            SyntaxErrorKind::UnexpectedChar(c) => {
                write!(f, "unexpected character `{}`", c.escape_debug())
            }
            SyntaxErrorKind::NonAsciiIdent(c) => {
                write!(
                    f,
                    "names are ASCII: `{}` cannot be part of a name",
                    c.escape_debug()
                )
            }
            SyntaxErrorKind::TooDeep => {
                write!(
                    f,
                    "brackets nested more than {} deep",
                    super::lexer::MAX_DEPTH
                )
            }
            SyntaxErrorKind::InvalidUtf8 { bytes, .. } => {
                write!(f, "the recipe is not valid UTF-8: {bytes}")
            }
        }
    }
}

impl std::error::Error for SyntaxError {}

impl Diagnostic for SyntaxError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(format!("nnt::syntax::{}", self.code_name())))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let h: Option<String> = match &self.kind {
            SyntaxErrorKind::Unexpected(u) => u.help.clone(),
            SyntaxErrorKind::Unclosed { open } => {
                Some(format!("add the missing `{}`", closing(*open)))
            }
            SyntaxErrorKind::Mismatched { open: Some(o), .. } => {
                Some(format!("close `{o}` with `{}` first", closing(*o)))
            }
            SyntaxErrorKind::Mismatched { open: None, .. } => {
                Some("remove it, or add the opening bracket".into())
            }
            SyntaxErrorKind::BadNumber(t) => Some(number_help(t)),
            SyntaxErrorKind::NumberTooLarge(_) => {
                Some("numbers must be finite 64-bit floats (at most about 1.8e308)".into())
            }
            SyntaxErrorKind::UnterminatedString => {
                Some("add the closing `\"`; a string cannot span lines (write \\n for a line break)".into())
            }
            SyntaxErrorKind::BadEscape => Some("write \\\\ for a backslash".into()),
            SyntaxErrorKind::UnexpectedChar('-') => {
                Some("a `-` must be directly followed by the digits of a number: `-1`".into())
            }
            SyntaxErrorKind::UnexpectedChar(_) => Some(
                "a recipe is made of names, numbers, strings, `=`, `;`, `,` and brackets; `#` starts a comment".into(),
            ),
            SyntaxErrorKind::NonAsciiIdent(_) => {
                Some("names use only A-Z, a-z, 0-9 and `_`".into())
            }
            SyntaxErrorKind::TooDeep => Some("a recipe never needs this much nesting".into()),
            SyntaxErrorKind::InvalidUtf8 { utf16: true, .. } => Some(
                "the file starts with a UTF-16 byte order mark: save the recipe as UTF-8 text".into(),
            ),
            SyntaxErrorKind::InvalidUtf8 { utf16: false, .. } => {
                Some("save the recipe as UTF-8 text; is this really a recipe file?".into())
            }
        };
        h.map(|s| Box::new(s) as Box<dyn std::fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let mut v = vec![LabeledSpan::new_primary_with_span(
            Some(self.label_text()),
            self.span,
        )];
        if let Some(r) = &self.related {
            v.push(LabeledSpan::new_with_span(Some(r.1.clone()), r.0));
        }
        Some(Box::new(v.into_iter()))
    }
}

fn number_help(t: &str) -> String {
    if let Some(rest) = t.strip_prefix('+') {
        return format!("numbers have no `+` sign: write `{rest}`");
    }
    if t.starts_with('.') {
        return format!("write a digit before the point: `0{t}`");
    }
    if let Some(rest) = t.strip_prefix("-.") {
        return format!("write a digit before the point: `-0.{rest}`");
    }
    if t.ends_with('.')
        && t[..t.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-')
    {
        return format!("write a digit after the point: `{t}0`, or drop the point");
    }
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    if !digits.is_empty()
        && t[digits.len()..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    {
        let e = t[digits.len()..].starts_with(['e', 'E']);
        if !e {
            return format!(
                "a number cannot run into a name: put a space or comma after `{digits}`, or start the name with a letter"
            );
        }
    }
    "numbers look like `3`, `-2`, `0.5`, `1e-4` or `2.5E3`".into()
}
