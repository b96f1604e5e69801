//! A data error that names no place in a file of its own (a missing file, a split
//! that leaves train empty, …) is shown at the recipe's data source that caused it,
//! so that every diagnostic points at a line.

use miette::{LabeledSpan, MietteDiagnostic};

use crate::ast::Span;
use crate::ir::SourceSpec;

use super::data::RData;
use super::BoxedDiagnostic;

/// Relabels `inner` at the recipe's data source when it has no labels or source of
/// its own (then returns the span it now points at); otherwise gives it back.
///
/// The result is a plain [`MietteDiagnostic`] carrying the same message, code,
/// severity, help and url, so no forwarding wrapper type is needed.
pub fn locate(
    inner: BoxedDiagnostic,
    rdata: &RData,
) -> Result<(Span, MietteDiagnostic), BoxedDiagnostic> {
    let has_labels = inner.labels().is_some_and(|mut l| l.next().is_some());
    if has_labels || inner.source_code().is_some() {
        return Err(inner);
    }
    let span = blame(&inner.to_string(), rdata);
    let mut diag = MietteDiagnostic::new(inner.to_string()).with_label(
        LabeledSpan::new_primary_with_span(Some("while reading this data".into()), span),
    );
    if let Some(code) = inner.code() {
        diag = diag.with_code(code.to_string());
    }
    if let Some(severity) = inner.severity() {
        diag = diag.with_severity(severity);
    }
    if let Some(help) = inner.help() {
        diag = diag.with_help(help.to_string());
    }
    if let Some(url) = inner.url() {
        diag = diag.with_url(url.to_string());
    }
    Ok((span, diag))
}

/// The split a data message is about: the one whose file it names, else the one
/// it mentions by name, else train.
fn blame(message: &str, rdata: &RData) -> Span {
    let splits = [
        (Some(&rdata.spec.train), Some(rdata.train_span), "train"),
        (rdata.spec.valid.as_ref(), rdata.valid_span, "valid"),
        (rdata.spec.test.as_ref(), rdata.test_span, "test"),
    ];
    for (spec, span, _) in &splits {
        if let (Some(SourceSpec::Csv(c)), Some(span)) = (spec, span) {
            if message.contains(&format!("`{}`", c.display)) {
                return *span;
            }
        }
    }
    let words: Vec<&str> = message
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .collect();
    for (_, span, name) in &splits[1..] {
        if let Some(span) = span {
            if words.contains(name) {
                return *span;
            }
        }
    }
    rdata.train_span
}
