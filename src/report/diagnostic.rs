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

    /// The diagnostic as text (its message alone if miette cannot render it).
    pub fn render(&self, diag: &dyn Diagnostic) -> String {
        let mut out = String::new();
        if self.handler().render_report(&mut out, diag).is_err() {
            out = format!("{diag}\n");
        }
        out
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
