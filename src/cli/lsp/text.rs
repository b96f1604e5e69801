//! Text for the language server: byte offsets <-> LSP positions (UTF-16 columns),
//! and a tolerant token scan with the syntactic context of a position, which works
//! on the half-written text an editor sends (the parser wants a whole recipe).

use lsp_types::Position;

use crate::check::catalog::{self, Kind};

/// Line starts of a text, for converting offsets and positions.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Lines end at `\n`, `\r\n` or a lone `\r`, as LSP counts them (3.17,
    /// "Text Documents"): the editor's lines, whatever the parser makes of a `\r`.
    pub fn new(text: &str) -> LineIndex {
        let b = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if b.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 1;
                }
                b'\r' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { starts }
    }

    /// Where line `line` (which exists) ends, before its line terminator.
    fn line_end(&self, text: &str, line: usize) -> usize {
        match self.starts.get(line + 1) {
            Some(&next) if text.as_bytes().get(next.wrapping_sub(2)..next) == Some(b"\r\n") => {
                next - 2
            }
            Some(&next) => next - 1,
            None => text.len(),
        }
    }

    /// The position of byte `offset` (clamped to the text, rounded down to a
    /// character boundary); the column counts UTF-16 code units.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        // An offset inside the line's terminator is the line's end.
        let offset = offset.min(self.line_end(text, line)).max(start);
        let col: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, col as u32)
    }

    /// The byte offset of `pos`; a column past the end of its line is the line's end,
    /// a line past the end of the text is the text's end.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return text.len();
        };
        let end = self.line_end(text, pos.line as usize);
        let mut units = 0usize;
        for (i, c) in text[start..end].char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// A cursor over increasing offsets of `text` (see [`Positions`]).
    pub fn positions<'a>(&'a self, text: &'a str) -> Positions<'a> {
        Positions {
            idx: self,
            text,
            known: std::collections::BTreeMap::new(),
        }
    }

    /// The position just past the end of the text.
    pub fn end(&self, text: &str) -> Position {
        self.position(text, text.len())
    }
}

/// Positions of many offsets of one text, each costing the text since the
/// nearest offset already asked on its line instead of the text since the
/// line's start: the semantic tokens of a 200 KB one-line list took 9 s with
/// [`LineIndex::position`] per token, the symbols of 20 000 layers on one line
/// 2.6 s. Gives what `position` gives, for offsets in any order.
pub struct Positions<'a> {
    idx: &'a LineIndex,
    text: &'a str,
    /// Offsets answered (clamped into their line) and their columns.
    known: std::collections::BTreeMap<usize, usize>,
}

impl Positions<'_> {
    pub fn at(&mut self, offset: usize) -> Position {
        let text = self.text;
        let mut offset = offset.min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = &self.idx.starts;
        let line = starts.partition_point(|&s| s <= offset) - 1;
        let start = starts[line];
        let offset = offset.min(self.idx.line_end(text, line)).max(start);
        let (from, col) = match self.known.range(start..=offset).next_back() {
            Some((&o, &c)) => (o, c),
            None => (start, 0),
        };
        let col = col
            + text[from..offset]
                .chars()
                .map(char::len_utf16)
                .sum::<usize>();
        self.known.insert(offset, col);
        Position::new(line as u32, col as u32)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    Ident,
    Number,
    Str,
    Comment,
    /// One of `= { } ( ) [ ] , ;`, or any other character.
    Punct(u8),
    Newline,
}

#[derive(Debug, Clone, Copy)]
pub struct Tok {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
}

/// Scans `text` into tokens; never fails (an unterminated string ends at its line's
/// end, a character outside the language is a one-character `Punct`).
pub fn tokens(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'\n' => {
                i += 1;
                TokKind::Newline
            }
            // A comment or an unterminated string ends before the line's
            // terminator (`\r\n` or a lone `\r` too): a token never spans lines.
            b'#' => {
                while i < n && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
                TokKind::Comment
            }
            b'"' => {
                i += 1;
                while i < n && b[i] != b'"' && b[i] != b'\n' && b[i] != b'\r' {
                    i += if b[i] == b'\\' && i + 1 < n && b[i + 1] != b'\n' && b[i + 1] != b'\r' {
                        2
                    } else {
                        1
                    };
                }
                if i < n && b[i] == b'"' {
                    i += 1;
                }
                TokKind::Str
            }
            c if c.is_ascii_digit() || (c == b'-' && i + 1 < n && b[i + 1].is_ascii_digit()) => {
                i += 1;
                while i < n {
                    let d = b[i];
                    let exp_sign = (d == b'+' || d == b'-') && matches!(b[i - 1], b'e' | b'E');
                    if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exp_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                TokKind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                TokKind::Ident
            }
            _ => {
                // One whole character, so that spans stay on character boundaries.
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                TokKind::Punct(c)
            }
        };
        out.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    out
}

/// An open `(` or `[`.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub open: u8,
    /// The name before `(`.
    pub callee: Option<String>,
    /// The name of the argument being written (after `name =`).
    pub arg: Option<String>,
    /// At the start of an argument or list element (just after `(`, `[` or `,`).
    pub at_start: bool,
}

/// Where a position is, syntactically.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The section whose braces enclose the position.
    pub section: Option<String>,
    /// The name of the setting or item being written (after `name =`).
    pub key: Option<String>,
    /// The brackets open at the position, outermost first.
    pub frames: Vec<Frame>,
    /// Nothing but blanks and comments since the last separator, `{` or `}`.
    pub at_statement_start: bool,
    /// The last token before the position was `=`.
    pub after_eq: bool,
    /// The identifier the position is in (or just after), being written.
    pub word: Option<Tok>,
}

/// Walks the tokens of a text in order, keeping the [`Context`] of the position
/// just after the last token it was given (one pass for a whole text).
pub struct Walker<'t> {
    text: &'t str,
    pub cx: Context,
    last_ident: Option<&'t str>,
    prev_ident: bool,
}

impl<'t> Walker<'t> {
    pub fn new(text: &'t str) -> Walker<'t> {
        Walker {
            text,
            cx: Context {
                at_statement_start: true,
                ..Context::default()
            },
            last_ident: None,
            prev_ident: false,
        }
    }

    /// Takes in the next token.
    pub fn step(&mut self, t: &Tok) {
        let cx = &mut self.cx;
        let was_ident = self.prev_ident;
        if t.kind == TokKind::Comment {
            return;
        }
        self.prev_ident = false;
        cx.after_eq = false;
        let last = self.last_ident.filter(|_| was_ident).map(str::to_string);
        match t.kind {
            TokKind::Comment => {}
            TokKind::Newline => {
                if cx.frames.is_empty() {
                    cx.key = None;
                    cx.at_statement_start = true;
                }
            }
            TokKind::Ident => {
                self.last_ident = self.text.get(t.start..t.end);
                self.prev_ident = true;
                cx.at_statement_start = false;
                if let Some(f) = cx.frames.last_mut() {
                    f.at_start = false;
                }
            }
            TokKind::Punct(b'=') => {
                cx.after_eq = true;
                match cx.frames.last_mut() {
                    Some(f) => f.arg = last,
                    None => cx.key = last,
                }
            }
            TokKind::Punct(b';') if cx.frames.is_empty() => {
                cx.key = None;
                cx.at_statement_start = true;
            }
            TokKind::Punct(b'{') => {
                cx.section = last;
                cx.key = None;
                cx.frames.clear();
                cx.at_statement_start = true;
            }
            TokKind::Punct(b'}') => {
                cx.section = None;
                cx.key = None;
                cx.frames.clear();
                cx.at_statement_start = true;
            }
            TokKind::Punct(c @ (b'(' | b'[')) => {
                if let Some(f) = cx.frames.last_mut() {
                    f.at_start = false;
                }
                cx.frames.push(Frame {
                    open: c,
                    callee: if c == b'(' { last } else { None },
                    arg: None,
                    at_start: true,
                });
                cx.at_statement_start = false;
            }
            TokKind::Punct(b')' | b']') => {
                cx.frames.pop();
            }
            TokKind::Punct(b',') => {
                if let Some(f) = cx.frames.last_mut() {
                    f.arg = None;
                    f.at_start = true;
                }
            }
            _ => {
                cx.at_statement_start = false;
                if let Some(f) = cx.frames.last_mut() {
                    f.at_start = false;
                }
            }
        }
    }
}

/// The context of byte `offset` in `text`.
pub fn context(text: &str, toks: &[Tok], offset: usize) -> Context {
    let mut w = Walker::new(text);
    for t in toks {
        if t.start >= offset {
            break;
        }
        if t.kind == TokKind::Ident && t.end >= offset {
            w.cx.word = Some(*t);
            break;
        }
        w.step(t);
    }
    w.cx
}

impl Context {
    /// The kind of built-in a value written here is: the value of the current key,
    /// of the current argument, or a layer.
    pub fn value_kind(&self) -> Option<Kind> {
        let section = self.section.as_deref();
        // The kind of each open call, from the outermost in.
        let mut kind = match &self.key {
            Some(k) => catalog::value_kind(section, None, k),
            None if section == Some("model") => Some(Kind::Layer),
            None => None,
        };
        for f in &self.frames {
            if f.open == b'[' {
                continue;
            }
            let call = kind.and_then(|k| call_kind(k, f.callee.as_deref()?));
            kind = match (&f.arg, call) {
                (Some(a), Some(c)) => catalog::value_kind(section, Some(c), a),
                _ => None,
            };
        }
        kind
    }

    /// The built-in whose parentheses enclose the position.
    pub fn enclosing_call(&self) -> Option<&'static catalog::Builtin> {
        let last = self.frames.last()?;
        if last.open != b'(' {
            return None;
        }
        let outer = Context {
            frames: self.frames[..self.frames.len() - 1].to_vec(),
            ..self.clone()
        };
        let name = last.callee.as_deref()?;
        match outer.value_kind() {
            Some(k) => catalog::find(k, name).or_else(|| catalog::any(name)),
            None => catalog::any(name),
        }
    }
}

/// The kind of the call `name` written where a value of `kind` is expected.
fn call_kind(kind: Kind, name: &str) -> Option<Kind> {
    catalog::find(kind, name)
        .or_else(|| catalog::any(name))
        .map(|b| b.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "a = \"é😀\" # x\nb = 1\n";
        let idx = LineIndex::new(text);
        let after = text.find(" #").unwrap_or(0);
        let p = idx.position(text, after);
        // `a = "` is 5, é is 1, 😀 is 2 units, `"` 1.
        assert_eq!(p, Position::new(0, 9));
        assert_eq!(idx.offset(text, p), after);
        let b = text.find('b').unwrap_or(0);
        assert_eq!(idx.position(text, b), Position::new(1, 0));
        assert_eq!(idx.offset(text, Position::new(1, 99)), text.len() - 1);
        assert_eq!(idx.offset(text, Position::new(9, 0)), text.len());
        assert_eq!(idx.end(text), Position::new(2, 0));
    }

    fn cx_at(text: &str, marker: &str) -> Context {
        let at = text.find(marker).unwrap_or(0);
        let clean = text.replacen(marker, "", 1);
        context(&clean, &tokens(&clean), at)
    }

    /// The cursor gives `position`'s answers, in order or not.
    #[test]
    fn positions_in_one_pass_are_positions() {
        let text = "a é😀 b\r\n# c\rdd ee\n\nf";
        let idx = LineIndex::new(text);
        let mut cur = idx.positions(text);
        let offsets: Vec<usize> = (0..=text.len() + 1).chain([5, 0, 12, 3]).collect();
        for o in offsets {
            assert_eq!(cur.at(o), idx.position(text, o), "offset {o}");
        }
    }

    /// Lines end at `\n`, `\r\n` and a lone `\r` (LSP 3.17); a position past a
    /// line's end, or an offset inside its terminator, is the line's end, before
    /// the terminator.
    #[test]
    fn every_line_terminator_ends_a_line() {
        let text = "ab\r\ncd\ref\ngh";
        let idx = LineIndex::new(text);
        let at = |o: usize| {
            let p = idx.position(text, o);
            (p.line, p.character)
        };
        assert_eq!(at(2), (0, 2)); // the \r of \r\n
        assert_eq!(at(3), (0, 2)); // inside \r\n: the line's end
        assert_eq!(at(4), (1, 0));
        assert_eq!(at(6), (1, 2)); // the lone \r
        assert_eq!(at(7), (2, 0));
        assert_eq!(at(10), (3, 0));
        assert_eq!(idx.end(text), Position::new(3, 2));
        assert_eq!(idx.offset(text, Position::new(0, 9)), 2);
        assert_eq!(idx.offset(text, Position::new(1, 9)), 6);
        assert_eq!(idx.offset(text, Position::new(2, 1)), 8);
        assert_eq!(idx.offset(text, Position::new(9, 0)), text.len());
        // A comment or an unterminated string stops before the terminator.
        let text = "# c\r\nx = \"s\r\n# d\r";
        let toks = tokens(text);
        for t in &toks {
            assert!(!text[t.start..t.end].contains('\r'), "{t:?}");
        }
    }

    #[test]
    fn contexts() {
        let c = cx_at("optimizer = |", "|");
        assert_eq!(c.value_kind(), Some(Kind::Optimizer));
        let c = cx_at("optimizer = adam(|", "|");
        assert_eq!(c.enclosing_call().map(|b| b.name), Some("adam"));
        assert!(c.frames.last().is_some_and(|f| f.at_start));
        let c = cx_at("model {\n  dense(4, init = |)\n}", "|");
        assert_eq!(c.value_kind(), Some(Kind::Init));
        let c = cx_at("model {\n  dense(4)\n  re|\n}", "|");
        assert!(c.at_statement_start);
        assert_eq!(c.section.as_deref(), Some("model"));
        assert_eq!(c.value_kind(), Some(Kind::Layer));
        let c = cx_at("data {\n  train = linear(|", "|");
        assert_eq!(c.enclosing_call().map(|b| b.kind), Some(Kind::Source));
        let c = cx_at("train {\n  lr_schedule = warmup(2, then = |", "|");
        assert_eq!(c.value_kind(), Some(Kind::Schedule));
        let c = cx_at("regularize = [l2(0.1), |]", "|");
        assert_eq!(c.value_kind(), Some(Kind::Regularizer));
    }
}
