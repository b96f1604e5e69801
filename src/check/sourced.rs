//! Attaches the right source text to a diagnostic: the recipe file, or the text of
//! one `--set` override. Each diagnostic of a report carries its own source so
//! that miette renders the snippet it points into.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, Severity, SourceCode};

use crate::report::excerpt::{floor, Excerpt};

/// A diagnostic together with the text its labels point into.
pub struct Sourced {
    inner: Box<dyn Diagnostic + Send + Sync + 'static>,
    /// The whole text the inner diagnostic's labels point into.
    whole: Excerpt,
    /// What is shown of a very long line instead (see [`Sourced::new`]).
    window: Option<Window>,
}

/// A window of one very long line, and the labels moved into it.
struct Window {
    src: Excerpt,
    labels: Vec<LabeledSpan>,
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
        let labels: Vec<LabeledSpan> = inner.labels().map(|l| l.collect()).unwrap_or_default();
        let far = labels.iter().any(|l| {
            let start = l.offset().min(text.len());
            let line_start = text[..floor(&text, start)].rfind('\n').map_or(0, |i| i + 1);
            start - line_start > MAX_COLUMN || l.len() > MAX_COLUMN
        });
        if !far {
            return Sourced {
                inner,
                whole: Excerpt::file(name, text),
                window: None,
            };
        }
        // Show one window of the primary label's line; the excerpt reports the
        // real line and column of what it shows.
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
        let cut = text[line_start..ws].chars().count() as isize;
        let moved = labels
            .iter()
            .filter(|l| l.offset() < we && l.offset() + l.len() >= ws)
            .map(|l| {
                let s = l.offset().max(ws) - ws;
                let e = (l.offset() + l.len()).min(we) - ws;
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
        let src = Excerpt::lines(name, Arc::new(text[ws..we].to_string()), line, cut);
        Sourced {
            inner,
            whole: Excerpt::file(name, text),
            window: Some(Window { src, labels: moved }),
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
        self.whole.name()
    }

    /// The whole text the labels of [`Sourced::inner`] point into (what is
    /// rendered may be a window of it).
    pub fn whole(&self) -> &Excerpt {
        &self.whole
    }
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
        match &self.window {
            Some(w) => Some(&w.src),
            None => Some(&self.whole),
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match &self.window {
            Some(w) => Some(Box::new(w.labels.clone().into_iter())),
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
