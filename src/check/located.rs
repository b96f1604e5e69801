//! A data error that names no place in a file of its own (a missing file, a split
//! that leaves train empty, …) is shown at the recipe's data source that caused it,
//! so that every diagnostic points at a line. The data stage says which split that
//! is ([`InSplit`]); nothing here reads an error's message.

use miette::{Diagnostic, LabeledSpan, MietteDiagnostic};

use crate::ast::Span;
use crate::data::{InSplit, ListEntry, Split};

use super::data::RData;
use super::BoxedDiagnostic;

/// Relabels `inner` at the recipe's source of its split when it has no labels or
/// source of its own (then returns the span it now points at); otherwise gives it
/// back. An error about a column's role is shown at the entry of `features`,
/// `ignore` or `categorical` that gives it (`entry`, when the data stage says
/// which).
///
/// The result is a plain [`MietteDiagnostic`] carrying the same message, code,
/// severity, help and url, so no forwarding wrapper type is needed.
pub fn locate<E: Diagnostic + Send + Sync + 'static>(
    inner: InSplit<E>,
    rdata: &RData,
    entry: Option<ListEntry>,
) -> Result<(Span, MietteDiagnostic), BoxedDiagnostic> {
    let has_labels = inner.labels().is_some_and(|mut l| l.next().is_some());
    if has_labels || inner.source_code().is_some() {
        return Err(Box::new(inner));
    }
    if let Some(span) = entry.and_then(|e| rdata.list_entry_span(e.list, e.index)) {
        return Ok((span, relabel(&inner, inner.to_string(), "this entry", span)));
    }
    let span = source_span(inner.split, rdata);
    let diag = relabel(&inner, inner.to_string(), "while reading this data", span);
    Ok((span, diag))
}

/// `inner` shown with `message` at `span` of the recipe, labelled `label`: a
/// plain [`MietteDiagnostic`] with the same code, severity, help and url (for
/// a diagnostic that names no place in the recipe of its own).
pub fn relabel(
    inner: &dyn Diagnostic,
    message: String,
    label: &str,
    span: impl Into<miette::SourceSpan>,
) -> MietteDiagnostic {
    let mut diag = MietteDiagnostic::new(message)
        .with_label(LabeledSpan::new_primary_with_span(Some(label.into()), span));
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
    diag
}

/// Where the recipe gives the source of `split` (train's, when the recipe has no
/// such item: a default split has none).
fn source_span(split: Split, rdata: &RData) -> Span {
    match split {
        Split::Train => None,
        Split::Valid => rdata.valid_span,
        Split::Test => rdata.test_span,
    }
    .unwrap_or(rdata.train_span)
}

#[cfg(test)]
mod tests {
    use crate::check::{check_recipe, CheckOptions};

    /// Each error's code and the recipe line its first label is on.
    fn blamed(data: &str) -> Vec<(String, usize)> {
        let recipe = format!(
            "data {{\n{data}}}\nmodel {{\n    dense(3)\n}}\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain {{ epochs = 1 }}\n"
        );
        let r = check_recipe(
            "r.nnt",
            recipe.as_bytes(),
            std::path::Path::new("."),
            &CheckOptions::default(),
        );
        r.errors
            .iter()
            .map(|e| {
                let at = e
                    .labels()
                    .and_then(|mut l| l.next())
                    .map_or(0, |l| l.offset());
                let code = e.code().map(|c| c.to_string()).unwrap_or_default();
                (code, recipe[..at].matches('\n').count() + 1)
            })
            .collect()
    }

    #[test]
    fn errors_without_a_place_are_shown_at_their_splits_source() {
        let missing = |line| ("nnt::data::file_not_found".to_string(), line);
        assert_eq!(
            blamed("    train = csv(\"no-such.csv\", label = 0)\n"),
            [missing(2)]
        );
        // The same missing file for train and valid: each error at its own split
        // (found by searching the message for the file's name, both were at train).
        assert_eq!(
            blamed(
                "    train = csv(\"no-such.csv\", label = 0)\n    valid = csv(\"no-such.csv\", label = 0)\n"
            ),
            [missing(2), missing(3)]
        );
        let split = blamed(
            "    train = blobs(n = 1, features = 2, classes = 3)\n    test = split(train, 0.9)\n",
        );
        assert_eq!(split, [("nnt::data::split_too_large".to_string(), 3)]);
    }
}
