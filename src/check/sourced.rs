//! Attaches the right source text to a diagnostic: the recipe file, or the text of
//! one `--set` override. Each diagnostic of a report carries its own source so
//! that miette renders the snippet it points into.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceCode};

/// A diagnostic together with the text its labels point into.
pub struct Sourced {
    inner: Box<dyn Diagnostic + Send + Sync + 'static>,
    src: NamedSource<Arc<String>>,
    /// Labels moved into a window of a very long line (see [`Sourced::new`]).
    window_labels: Option<Vec<LabeledSpan>>,
}

/// Labels further right than this on their line are shown in a window of the line:
/// miette cannot render columns past 65535, and nobody wants to read them.
const MAX_COLUMN: usize = 2000;
const WINDOW_MARGIN: usize = 60;

impl Sourced {
    pub fn new(
        inner: Box<dyn Diagnostic + Send + Sync + 'static>,
        name: &str,
        text: Arc<String>,
    ) -> Sourced {
        // The excerpt shows control characters (a terminal's escape sequences
        // in a string) as `?`, byte for byte: the labels' offsets still fit.
        let text = match crate::report::diagnostic::printable_in_place(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(shown) => Arc::new(shown),
        };
        let labels: Vec<LabeledSpan> = inner.labels().map(|l| l.collect()).unwrap_or_default();
        let far = labels.iter().any(|l| {
            let start = l.offset().min(text.len());
            let line_start = text[..floor(&text, start)].rfind('\n').map_or(0, |i| i + 1);
            start - line_start > MAX_COLUMN || l.len() > MAX_COLUMN
        });
        if !far {
            return Sourced {
                inner,
                src: NamedSource::new(name, text),
                window_labels: None,
            };
        }
        // Show one window of the primary label's line, with the real position in the name.
        let main = labels.iter().find(|l| l.primary()).or(labels.first());
        let at = main.map_or(0, |l| l.offset()).min(text.len());
        let line_start = text[..floor(&text, at)].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let ws = floor(&text, at.saturating_sub(WINDOW_MARGIN).max(line_start));
        let main_end = main.map_or(at, |l| l.offset() + l.len());
        let we = floor(
            &text,
            (main_end.min(at + MAX_COLUMN) + WINDOW_MARGIN).min(line_end),
        )
        .max(ws);
        let line = text[..line_start].matches('\n').count() + 1;
        // Blank lines before the excerpt keep the line number right in the header.
        let pad = line - 1;
        let window = format!("{}{}", "\n".repeat(pad), &text[ws..we]);
        let moved = labels
            .iter()
            .filter(|l| l.offset() < we && l.offset() + l.len() >= ws)
            .map(|l| {
                let s = l.offset().max(ws) - ws + pad;
                let e = (l.offset() + l.len()).min(we) - ws + pad;
                let mut n = LabeledSpan::new(l.label().map(String::from), s, e.saturating_sub(s));
                if l.primary() {
                    n = LabeledSpan::new_primary_with_span(
                        l.label().map(String::from),
                        (s, e.saturating_sub(s)),
                    );
                }
                n
            })
            .collect();
        Sourced {
            inner,
            src: NamedSource::new(name, Arc::new(window)),
            window_labels: Some(moved),
        }
    }
}

impl Sourced {
    /// The diagnostic itself, with its labels as offsets into the full text (a
    /// rendering window, see [`Sourced::new`], moves the labels of this wrapper).
    pub fn inner(&self) -> &(dyn Diagnostic + Send + Sync + 'static) {
        &*self.inner
    }

    /// The name of the text the labels point into.
    pub fn source_name(&self) -> &str {
        self.src.name()
    }
}

/// The largest char boundary at or before `i`.
fn floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Debug for Sourced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl fmt::Display for Sourced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.inner, f)
    }
}

impl std::error::Error for Sourced {}

impl Diagnostic for Sourced {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match &self.window_labels {
            Some(l) => Some(Box::new(l.clone().into_iter())),
            None => self.inner.labels(),
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.inner.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}
