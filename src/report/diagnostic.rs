//! Diagnostics for people: the one place that decides colour and renders a
//! diagnostic with miette's graphical handler.
//!
//! Colour follows <https://no-color.org>: never when `NO_COLOR` is set to a
//! non-empty value, otherwise only when the stream written to is a terminal.
//! The width is the terminal's, or `COLUMNS` when it is set (`nnt test` renders
//! rejected recipes at a fixed width that way).

use std::ffi::OsStr;
use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

/// Whether output to a stream may be coloured: `NO_COLOR` (its value, if set)
/// and whether the stream is a terminal.
pub fn color_allowed(no_color: Option<&OsStr>, is_terminal: bool) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Whether output to stdout may be coloured in this process.
pub fn stdout_color() -> bool {
    color_allowed(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stdout().is_terminal(),
    )
}

/// Whether output to stderr may be coloured in this process.
pub fn stderr_color() -> bool {
    color_allowed(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stderr().is_terminal(),
    )
}

/// Renders diagnostics as text, in colour or not, at a width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renderer {
    pub color: bool,
    /// The width to wrap at; `None` is miette's default (the terminal's).
    pub width: Option<usize>,
}

impl Renderer {
    /// For stderr in this process: [`stderr_color`] and the width `COLUMNS` asks for.
    pub fn stderr() -> Self {
        Renderer {
            color: stderr_color(),
            width: std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<usize>().ok())
                .filter(|&w| w > 0),
        }
    }

    /// Plain text (no colour) at miette's default width.
    pub fn plain() -> Self {
        Renderer {
            color: false,
            width: None,
        }
    }

    fn handler(&self) -> GraphicalReportHandler {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
        match self.width {
            Some(width) => handler.with_width(width),
            None => handler,
        }
    }

    /// The diagnostic as text (its message alone if miette cannot render it),
    /// its message, help and labels [`printable`].
    pub fn render(&self, diag: &dyn Diagnostic) -> String {
        let shown = Printable::new(diag);
        let mut out = String::new();
        if self.handler().render_report(&mut out, &shown).is_err() {
            out = format!("{shown}\n");
        }
        out
    }
}

/// Whether a character of a diagnostic's text is shown escaped: a control
/// character other than a line break or a tab. Messages quote data cells,
/// column names and labels, which a file from elsewhere can fill with a
/// terminal's escape sequences (colours, a cleared screen, a changed title).
fn hidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// `text` with each `hidden` character written as Rust writes it in a
/// string (`\u{1b}`).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    replace_hidden(text, |c, out| out.extend(c.escape_unicode()))
}

/// `text` with each byte of a `hidden` character as `?`: the same length,
/// so the spans into a source excerpt still point where they did.
pub fn printable_in_place(text: &str) -> std::borrow::Cow<'_, str> {
    replace_hidden(text, |c, out| {
        out.extend(std::iter::repeat_n('?', c.len_utf8()));
    })
}

/// `text` with each [`hidden`] character replaced by what `put` writes for
/// it; borrowed as it is when it has none.
fn replace_hidden(text: &str, put: impl Fn(char, &mut String)) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            put(c, &mut out);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A diagnostic as [`Renderer::render`] shows it: its message, help, labels
/// and those of its related diagnostics [`printable`]; its code, severity and
/// source as they are.
struct Printable<'a> {
    inner: &'a dyn Diagnostic,
    related: Vec<Printable<'a>>,
}

impl<'a> Printable<'a> {
    fn new(inner: &'a dyn Diagnostic) -> Self {
        Printable {
            inner,
            related: inner
                .related()
                .map(|r| r.map(Printable::new).collect())
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&printable(&self.inner.to_string()))
    }
}

impl std::fmt::Debug for Printable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Printable<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl Diagnostic for Printable<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        let help = self.inner.help()?.to_string();
        Some(Box::new(printable(&help).into_owned()))
    }

    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.url()
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.inner.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.inner.labels()?.map(|l| {
            let text = l.label().map(|t| printable(t).into_owned());
            if l.primary() {
                miette::LabeledSpan::new_primary_with_span(text, *l.inner())
            } else {
                miette::LabeledSpan::new_with_span(text, *l.inner())
            }
        })))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)))
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miette::MietteDiagnostic;

    #[test]
    fn no_color_and_terminals_decide_colour() {
        assert!(color_allowed(None, true));
        assert!(!color_allowed(None, false));
        assert!(!color_allowed(Some(OsStr::new("1")), true));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(color_allowed(Some(OsStr::new("")), true));
        assert!(!color_allowed(Some(OsStr::new("")), false));
    }

    #[test]
    fn rendering_shows_code_message_and_help_without_escapes_when_plain() {
        let d = MietteDiagnostic::new("cannot read x.nnt")
            .with_code("nnt::cli::unreadable_recipe")
            .with_help("check the path");
        let text = Renderer::plain().render(&d);
        assert!(text.contains("nnt::cli::unreadable_recipe"), "{text}");
        assert!(text.contains("cannot read x.nnt"), "{text}");
        assert!(text.contains("check the path"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        let colored = Renderer {
            color: true,
            width: None,
        }
        .render(&d);
        assert!(colored.contains('\u{1b}'), "{colored}");
    }

    /// Control characters other than line breaks and tabs are escaped in
    /// messages, and replaced byte for byte by `?` in excerpts (their spans
    /// still fit); text without them is borrowed as it is.
    #[test]
    fn control_characters_are_shown_escaped() {
        let text = "a\u{1b}[31mb\tc\nd\u{9b}e\u{7f}";
        assert_eq!(printable(text), "a\\u{1b}[31mb\tc\nd\\u{9b}e\\u{7f}");
        let in_place = printable_in_place(text).into_owned();
        assert_eq!(in_place, "a?[31mb\tc\nd??e?");
        assert_eq!(in_place.len(), text.len());
        assert!(matches!(
            printable("plain\ttext\r\n"),
            std::borrow::Cow::Borrowed(_)
        ));
        let d = MietteDiagnostic::new("bad `\u{1b}[2J`")
            .with_help("see \u{7}")
            .with_label(miette::LabeledSpan::at(0..1, "here \u{1b}"));
        let shown = Renderer::plain().render(&d);
        assert!(!shown.contains(['\u{1b}', '\u{7}']), "{shown:?}");
        assert!(shown.contains("bad `\\u{1b}[2J`"), "{shown}");
        assert!(shown.contains("see \\u{7}"), "{shown}");
    }

    #[test]
    fn the_width_wraps_long_messages() {
        let d = MietteDiagnostic::new("word ".repeat(40));
        let narrow = Renderer {
            color: false,
            width: Some(40),
        }
        .render(&d);
        assert!(narrow.lines().all(|l| l.chars().count() <= 40), "{narrow}");
        assert!(narrow.lines().count() > 3, "{narrow}");
    }
}
