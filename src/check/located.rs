//! A data error that names no place in a file of its own (a missing file, a split
//! that leaves train empty, …) is shown at the recipe's data source that caused it,
//! so that every diagnostic points at a line.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, Severity};

use crate::ast::Span;
use crate::ir::SourceSpec;

use super::data::RData;
use super::BoxedDiagnostic;

/// Another stage's diagnostic, labelled at a recipe span.
pub struct Located {
    inner: BoxedDiagnostic,
    span: Span,
}

impl Located {
    /// Wraps `inner` when it has no labels of its own; otherwise `None`.
    pub fn wrap(inner: BoxedDiagnostic, rdata: &RData) -> Result<Located, BoxedDiagnostic> {
        let has_labels = inner.labels().is_some_and(|mut l| l.next().is_some());
        if has_labels || inner.source_code().is_some() {
            return Err(inner);
        }
        let span = blame(&inner.to_string(), rdata);
        Ok(Located { inner, span })
    }

    pub fn span(&self) -> Span {
        self.span
    }
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

impl fmt::Debug for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.inner, f)
    }
}

impl std::error::Error for Located {}

impl Diagnostic for Located {
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
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label =
            LabeledSpan::new_primary_with_span(Some("while reading this data".into()), self.span);
        Some(Box::new(std::iter::once(label)))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.inner.related()
    }
}
