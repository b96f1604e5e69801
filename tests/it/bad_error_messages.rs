//! Diagnostics that are correct but not yet as helpful as they should be (after
//! PRQL's `bad_error_messages.rs`). Each case is an input, what nnt says today
//! (the snapshot `bad_error_messages__NAME.snap`) and, in its comment, what it
//! should say. Improving a message changes its snapshot: review it, and when the
//! message is good, move the case to the fixtures of `tests/it/check_fixtures.rs`
//! (`tests/fixtures/invalid/`) and delete it here.

use crate::common;

use std::path::Path;

use nnt::check::{check_recipe, CheckOptions};

/// Every error and warning of checking `bytes`, rendered as users see them.
fn messages(name: &str, bytes: &[u8], dir: &Path) -> String {
    let report = check_recipe(name, bytes, dir, &CheckOptions::default());
    assert!(
        !report.errors.is_empty(),
        "{name}: a known-weak message needs an error to show"
    );
    let mut out = String::new();
    for d in report.errors.iter().chain(&report.warnings) {
        out.push_str(&common::render(d.as_ref()));
        out.push('\n');
    }
    out
}

/// Invalid UTF-8 at the very start of a file (a UTF-16 byte order mark). The
/// position (`r.nnt:1:1`) is right, the message and label name the byte
/// (`0xFF`) and the help recognises UTF-16, but the excerpt is the lossy text
/// (`��seed = 1`). It should show a hex excerpt of the offending bytes.
#[test]
fn invalid_utf8_at_the_start() {
    let mut recipe = vec![0xff, 0xfe];
    recipe.extend_from_slice(b"seed = 1\n");
    insta::assert_snapshot!(
        "invalid_utf8_at_the_start",
        messages("r.nnt", &recipe, Path::new("."))
    );
}
