//! A token scan run before pest: it collects comments, and catches the lexical
//! mistakes (`.5`, `5.`, `+1`, `3abc`, bad escapes, unterminated strings, stray or
//! non-ASCII characters, runaway nesting) so that they get precise messages, and so
//! that pest's recursive descent never sees nesting deep enough to exhaust the stack.

use crate::ast::{Comment, SourceId, Span};

use super::error::{SyntaxError, SyntaxErrorKind};

/// Deepest nesting of `(` and `[` accepted. Real recipes use 2 or 3.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    Number,
    String,
    /// One of `= { } ( ) [ ] , ;`
    Punct,
    Newline,
}

#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// What the scan found.
#[derive(Debug, Default)]
pub struct Scan {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
    /// Brackets still open at the end of the text (outermost first), or the first
    /// closing bracket that does not match: used to word structural errors.
    pub unclosed: Vec<(u8, usize)>,
    pub mismatch: Option<(usize, usize)>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Scans `text`; the first lexical error stops the scan.
pub fn scan(text: &str, source: SourceId) -> Result<Scan, SyntaxError> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Scan::default();
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0usize;
    let sp = |s: usize, e: usize| Span::new(source, s, e);
    while i < n {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' => {
                out.tokens.push(Token {
                    kind: TokenKind::Newline,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b'#' => {
                let start = i;
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
                let mut end = i;
                if end > start && b[end - 1] == b'\r' {
                    end -= 1;
                }
                let text = text.get(start + 1..end).unwrap_or("").to_string();
                out.comments.push(Comment {
                    text,
                    span: sp(start, end),
                });
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    if i >= n || b[i] == b'\n' {
                        let mut end = i;
                        if end > start && b[end - 1] == b'\r' {
                            end -= 1;
                        }
                        return Err(SyntaxError::new(
                            SyntaxErrorKind::UnterminatedString,
                            sp(start, end.max(start + 1)),
                        ));
                    }
                    match b[i] {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' => match b.get(i + 1) {
                            Some(b'"' | b'\\' | b'n' | b't') => i += 2,
                            _ => {
                                let end = next_char_end(text, i + 1).min(n).max(i + 1);
                                return Err(SyntaxError::new(
                                    SyntaxErrorKind::BadEscape,
                                    sp(i, end),
                                ));
                            }
                        },
                        _ => i = next_char_end(text, i),
                    }
                }
                out.tokens.push(Token {
                    kind: TokenKind::String,
                    start,
                    end: i,
                });
            }
            b'0'..=b'9' | b'-' | b'+' | b'.' => {
                let start = i;
                let (end, ok) = scan_number(b, i);
                if !ok {
                    let kind = if c == b'-' && end == start + 1 {
                        SyntaxErrorKind::UnexpectedChar('-')
                    } else if c == b'+' && end == start + 1 {
                        SyntaxErrorKind::UnexpectedChar('+')
                    } else if c == b'.' && end == start + 1 {
                        SyntaxErrorKind::UnexpectedChar('.')
                    } else {
                        SyntaxErrorKind::BadNumber(text.get(start..end).unwrap_or("").to_string())
                    };
                    return Err(SyntaxError::new(kind, sp(start, end)));
                }
                let lit = text.get(start..end).unwrap_or("");
                match lit.parse::<f64>() {
                    Ok(v) if v.is_finite() => {}
                    _ => {
                        return Err(SyntaxError::new(
                            SyntaxErrorKind::NumberTooLarge(lit.to_string()),
                            sp(start, end),
                        ))
                    }
                }
                out.tokens.push(Token {
                    kind: TokenKind::Number,
                    start,
                    end,
                });
                i = end;
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < n && is_ident_char(b[i]) {
                    i += 1;
                }
                if i < n && !b[i].is_ascii() {
                    let end = next_char_end(text, i);
                    let ch = text
                        .get(i..end)
                        .and_then(|s| s.chars().next())
                        .unwrap_or('?');
                    return Err(SyntaxError::new(
                        SyntaxErrorKind::NonAsciiIdent(ch),
                        sp(i, end),
                    ));
                }
                out.tokens.push(Token {
                    kind: TokenKind::Ident,
                    start,
                    end: i,
                });
            }
            b'(' | b'[' | b'{' => {
                if c != b'{' {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(SyntaxError::new(SyntaxErrorKind::TooDeep, sp(i, i + 1)));
                    }
                }
                stack.push((c, i));
                out.tokens.push(Token {
                    kind: TokenKind::Punct,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b')' | b']' | b'}' => {
                let want = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                match stack.last() {
                    Some(&(open, _)) if open == want => {
                        stack.pop();
                        if c != b'}' {
                            depth = depth.saturating_sub(1);
                        }
                    }
                    Some(&(_, at)) => {
                        if out.mismatch.is_none() {
                            out.mismatch = Some((at, i));
                        }
                    }
                    None => {
                        if out.mismatch.is_none() {
                            out.mismatch = Some((usize::MAX, i));
                        }
                    }
                }
                out.tokens.push(Token {
                    kind: TokenKind::Punct,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b'=' | b',' | b';' => {
                out.tokens.push(Token {
                    kind: TokenKind::Punct,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            _ => {
                let end = next_char_end(text, i);
                let ch = text
                    .get(i..end)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                return Err(SyntaxError::new(
                    SyntaxErrorKind::UnexpectedChar(ch),
                    sp(i, end),
                ));
            }
        }
    }
    out.unclosed = stack;
    Ok(out)
}

/// Byte offset just after the character starting at `i` (texts are UTF-8).
fn next_char_end(text: &str, i: usize) -> usize {
    let mut j = i + 1;
    while j < text.len() && !text.is_char_boundary(j) {
        j += 1;
    }
    j.min(text.len())
}

/// Scans a number-like word from `i`. Returns its end and whether it is a valid
/// NUMBER: `-`? digits (`.` digits)? (`e` [+-]? digits)?, not followed by a name
/// character or a dot. An invalid word extends over every character that could
/// belong to it, so the label covers all of `3abc` or `1.5.2`.
fn scan_number(b: &[u8], i: usize) -> (usize, bool) {
    let n = b.len();
    let word_end = |mut j: usize| {
        while j < n && (is_ident_char(b[j]) || b[j] == b'.') {
            j += 1;
        }
        j
    };
    let mut j = i;
    if b[j] == b'+' || b[j] == b'.' {
        // `+1` and `.5`: never valid, but only a number-like word when a digit follows.
        if j + 1 < n && b[j + 1].is_ascii_digit() {
            return (word_end(j + 1), false);
        }
        return (j + 1, false);
    }
    if b[j] == b'-' {
        j += 1;
        if j >= n || !b[j].is_ascii_digit() {
            if j < n && b[j] == b'.' && j + 1 < n && b[j + 1].is_ascii_digit() {
                return (word_end(j + 1), false);
            }
            return (j, false);
        }
    }
    while j < n && b[j].is_ascii_digit() {
        j += 1;
    }
    if j < n && b[j] == b'.' {
        j += 1;
        if j >= n || !b[j].is_ascii_digit() {
            return (word_end(j), false);
        }
        while j < n && b[j].is_ascii_digit() {
            j += 1;
        }
    }
    if j < n && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < n && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k >= n || !b[k].is_ascii_digit() {
            return (word_end(k.min(n)), false);
        }
        while k < n && b[k].is_ascii_digit() {
            k += 1;
        }
        j = k;
    }
    if j < n && (is_ident_char(b[j]) || b[j] == b'.') {
        return (word_end(j), false);
    }
    (j, true)
}
