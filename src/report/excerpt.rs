//! [`Excerpt`]: the text a diagnostic points into, as miette source code, with
//! positions as the file has them.
//!
//! Why our own source code and not miette's `NamedSource`: a diagnostic often
//! shows only part of a file (one line of a data file of tens of MB, or a
//! window of a recipe line too long to draw), and every consumer of its
//! position (the excerpt's `[file:line:column]` header, `nnt check --format
//! json|github`) must get the place in the real file; and columns count
//! characters, as editors, GitHub annotations and compilers count them
//! (miette's own sources count bytes, so `é` moved a place one column right).

use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Text of a file, or some of its lines, as miette source code reporting the
/// real line and the column in characters of every span read from it.
///
/// Spans are byte offsets into [`Excerpt::text`]. The excerpt is shown with
/// control characters (a terminal's escape sequences from a file) as `?`,
/// byte for byte, so spans still fit ([`super::diagnostic::printable_in_place`]);
/// columns count the characters of the real text.
#[derive(Debug, Clone)]
pub struct Excerpt {
    name: String,
    /// The real text (lines of the file, the first one possibly cut on the left).
    text: Arc<String>,
    /// `text` as shown (control characters as `?`).
    shown: Arc<String>,
    /// 0-based line in the file of the text's first line.
    first_line: usize,
    /// Added to the characters before a place on the text's first line to give
    /// its 0-based column in the file: the characters cut off on the left, less
    /// those of a marker (`...`) shown in their place.
    first_line_shift: isize,
}

impl Excerpt {
    /// The whole text of a file.
    pub fn file(name: &str, text: Arc<String>) -> Excerpt {
        Excerpt::lines(name, text, 1, 0)
    }

    /// Lines of a file from 1-based `line` on, the first one cut on the left:
    /// `first_line_shift` characters are added to the column of a place on it
    /// (those cut off less those of a marker shown in their place; 0 when whole).
    pub fn lines(name: &str, text: Arc<String>, line: usize, first_line_shift: isize) -> Excerpt {
        let shown = match super::diagnostic::printable_in_place(&text) {
            std::borrow::Cow::Borrowed(_) => Arc::clone(&text),
            std::borrow::Cow::Owned(shown) => Arc::new(shown),
        };
        Excerpt {
            name: name.to_string(),
            text,
            shown,
            first_line: line.saturating_sub(1),
            first_line_shift,
        }
    }

    /// The name of the file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The real text (spans are byte offsets into it).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 0-based column in characters of byte `offset` of the text, in the file.
    fn column(&self, offset: usize) -> usize {
        let offset = floor(&self.text, offset);
        let before = &self.text[..offset];
        let (line_start, on_first_line) = match before.rfind('\n') {
            Some(i) => (i + 1, false),
            None => (0, true),
        };
        let chars = before[line_start..].chars().count();
        if on_first_line {
            (chars as isize + self.first_line_shift).max(0) as usize
        } else {
            chars
        }
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.shown
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        // miette gives the column only without lines before (else 0, the
        // start of the first line read): the same here, in characters.
        let column = if context_lines_before == 0 {
            self.column(span.offset())
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

/// Where a span of a source is: the source's name, and the 0-based line and
/// column of the span's start and of its end, as the source reports them (an
/// [`Excerpt`]: the real line, the column in characters). `None` when the
/// source cannot read the span.
pub struct Place {
    pub name: Option<String>,
    pub start: (usize, usize),
    pub end: (usize, usize),
}

impl Place {
    pub fn of(src: &dyn SourceCode, span: SourceSpan) -> Option<Place> {
        let start = src.read_span(&span, 0, 0).ok()?;
        let end_at: SourceSpan = (span.offset() + span.len(), 0).into();
        let end = src.read_span(&end_at, 0, 0).ok()?;
        Some(Place {
            name: start.name().map(str::to_owned),
            start: (start.line(), start.column()),
            end: (end.line(), end.column()),
        })
    }
}

/// The largest char boundary at or before `i`.
pub(crate) fn floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(e: &Excerpt, offset: usize) -> (usize, usize) {
        let s = e
            .read_span(&(offset, 1).into(), 0, 0)
            .map_err(|e| e.to_string());
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        (s.line() + 1, s.column() + 1)
    }

    #[test]
    fn columns_count_characters() {
        let e = Excerpt::file("r.nnt", Arc::new("a = 1\nééé = 2\n日本 x\n".into()));
        assert_eq!(place(&e, 0), (1, 1));
        // `=` after three two-byte characters and a space: column 5.
        assert_eq!(place(&e, 6 + 7), (2, 5));
        // `x` after two three-byte characters and a space: column 4.
        let x = e.text().find('x').unwrap_or(0);
        assert_eq!(place(&e, x), (3, 4));
    }

    #[test]
    fn a_cut_line_counts_what_was_cut() {
        // `...` stands for 40 characters cut off the left of line 7.
        let e = Excerpt::lines("d.csv", Arc::new("...éé,zz,1".into()), 7, 40 - 3);
        let zz = e.text().find("zz").unwrap_or(0);
        assert_eq!(place(&e, zz), (7, 40 + 3 + 1));
    }

    #[test]
    fn control_characters_are_shown_as_marks_and_counted_as_characters() {
        let e = Excerpt::file("r.nnt", Arc::new("\u{1b}[31mé x".into()));
        let x = e.text().find('x').unwrap_or(0);
        let s = e.read_span(&(x, 1).into(), 0, 0).map_err(|e| e.to_string());
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.column() + 1, 8);
        let shown = e
            .read_span(&(0, x + 1).into(), 0, 0)
            .map(|s| s.data().to_vec());
        assert_eq!(shown.ok().as_deref(), Some("?[31mé x".as_bytes()));
    }
}
