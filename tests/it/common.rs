//! Helpers shared by the integration tests.
#![allow(dead_code)]

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

/// Renders a diagnostic as users see it, without colour, at a fixed width, so that
/// snapshots are stable.
pub fn render(diag: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(90)
        .with_links(false);
    if handler.render_report(&mut out, diag).is_err() {
        out.push_str("<render failed>");
    }
    out
}
