//! Data-driven checks of every fixture folder:
//! - `tests/fixtures/conformance/*/recipe.nnt` and `tests/fixtures/valid/*.nnt`
//!   check clean: no error, no warning;
//! - `tests/fixtures/invalid/*.nnt` each yield the error named in their first line
//!   (`# expect: nnt::check::unknown_name @ 7`) on that line, and a snapshot of
//!   every rendered diagnostic;
//! - `tests/fixtures/warn/*.nnt` check without errors and yield the named warning.
//!
//! Fixture header lines `# set: KEY=VALUE` become `--set` overrides.

use crate::common;

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use nnt::check::{check_recipe, CheckOptions, CheckReport};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn nnt_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nnt"))
        .collect();
    v.sort();
    v
}

/// `# expect: CODE @ LINE` and `# set: KEY=VALUE` header lines.
struct Header {
    /// The code (or a prefix of it, such as `nnt::data` for the data module's
    /// errors) and the line, `*` for any.
    expect: Option<(String, Option<usize>)>,
    sets: Vec<String>,
}

fn header(bytes: &[u8]) -> Header {
    let text = String::from_utf8_lossy(bytes);
    let mut h = Header {
        expect: None,
        sets: Vec::new(),
    };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# expect:") {
            let (code, at) = rest.split_once('@').expect("`# expect: CODE @ LINE`");
            let at = at.trim();
            let line = if at == "*" {
                None
            } else {
                Some(at.parse().expect("line number"))
            };
            h.expect = Some((code.trim().to_string(), line));
        } else if let Some(rest) = line.strip_prefix("# set:") {
            h.sets.push(rest.trim().to_string());
        }
    }
    h
}

fn check(path: &Path, folder: &str) -> (CheckReport, Header) {
    let bytes = std::fs::read(path).unwrap();
    let h = header(&bytes);
    let name = format!("{folder}/{}", path.file_name().unwrap().to_string_lossy());
    let opts = CheckOptions {
        overrides: h.sets.clone(),
        ..CheckOptions::default()
    };
    (
        check_recipe(&name, &bytes, path.parent().unwrap(), &opts),
        h,
    )
}

fn code(d: &dyn Diagnostic) -> String {
    d.code().map(|c| c.to_string()).unwrap_or_default()
}

/// 1-based line of the diagnostic's primary (or first) label in its own source.
fn label_line(d: &dyn Diagnostic) -> Option<usize> {
    let labels: Vec<_> = d.labels()?.collect();
    let label = labels.iter().find(|l| l.primary()).or(labels.first())?;
    let src = d.source_code()?;
    let contents = src.read_span(label.inner(), 0, 0).ok()?;
    Some(contents.line() + 1)
}

fn render_all(report: &CheckReport) -> String {
    let mut out = String::new();
    for d in report.errors.iter().chain(&report.warnings) {
        out.push_str(&common::render(d.as_ref()));
        out.push('\n');
    }
    out
}

#[test]
fn conformance_recipes_check_clean() {
    let root = fixtures("conformance");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "the conformance cases are vendored");
    for d in dirs {
        let (report, _) = check(&d.join("recipe.nnt"), "conformance");
        assert!(
            report.errors.is_empty() && report.warnings.is_empty(),
            "{}:\n{}",
            d.display(),
            render_all(&report)
        );
        assert!(report.program.is_some());
    }
}

#[test]
fn valid_recipes_check_clean() {
    let files = nnt_files(&fixtures("valid"));
    assert!(!files.is_empty());
    for f in files {
        let (report, _) = check(&f, "valid");
        assert!(
            report.errors.is_empty() && report.warnings.is_empty(),
            "{}:\n{}",
            f.display(),
            render_all(&report)
        );
        assert!(report.program.is_some(), "{}", f.display());
    }
}

#[test]
fn invalid_recipes_report_the_expected_error() {
    let files = nnt_files(&fixtures("invalid"));
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in files {
        let (report, h) = check(&f, "invalid");
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let (want, line) = h
            .expect
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", f.display()));
        assert!(report.program.is_none(), "{stem}: a program despite errors");
        // `A | B`: either code will do (a check the data module may make first).
        let found = report.errors.iter().any(|e| {
            want.split('|')
                .any(|w| code(e.as_ref()).starts_with(w.trim()))
                && (line.is_none() || label_line(e.as_ref()) == line)
        });
        if !found {
            let got: Vec<String> = report
                .errors
                .iter()
                .map(|e| format!("{} @ {:?}", code(e.as_ref()), label_line(e.as_ref())))
                .collect();
            failures.push(format!("{stem}: expected {want} @ {line:?}, got {got:?}"));
        }
        for e in &report.errors {
            assert!(
                code(e.as_ref()).starts_with("nnt::"),
                "{stem}: error without an nnt:: code"
            );
            assert!(
                label_line(e.as_ref()).is_some() || code(e.as_ref()).starts_with("nnt::data"),
                "{stem}: an error without a labelled line"
            );
        }
        // The data module's messages are its own (and name absolute paths): only
        // the code is checked here.
        if !want.contains("nnt::data") {
            insta::assert_snapshot!(format!("invalid_{stem}"), render_all(&report));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn warn_recipes_report_the_expected_warning() {
    let files = nnt_files(&fixtures("warn"));
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in files {
        let (report, h) = check(&f, "warn");
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let (want, line) = h
            .expect
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", f.display()));
        assert!(report.errors.is_empty(), "{stem}:\n{}", render_all(&report));
        assert!(report.program.is_some());
        let found = report.warnings.iter().any(|w| {
            code(w.as_ref()) == want
                && label_line(w.as_ref()) == line
                && w.severity() == Some(miette::Severity::Warning)
        });
        if !found {
            let got: Vec<String> = report
                .warnings
                .iter()
                .map(|e| format!("{} @ {:?}", code(e.as_ref()), label_line(e.as_ref())))
                .collect();
            failures.push(format!("{stem}: expected {want} @ {line:?}, got {got:?}"));
        }
        insta::assert_snapshot!(format!("warn_{stem}"), render_all(&report));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every diagnostic code declared in the source has its fixture:
/// `invalid/<name>.nnt` for `nnt::check::<name>`, `invalid/syntax_<name>.nnt` for
/// `nnt::syntax::<name>`, `warn/<name>.nnt` for `nnt::lint::<name>`.
#[test]
fn every_code_has_a_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let mut missing = Vec::new();
    let mut seen = 0;
    for (file, prefix, folder, fixture_prefix) in [
        ("src/check/error.rs", "code(nnt::check::", "invalid", ""),
        ("src/check/lints.rs", "code(nnt::lint::", "warn", ""),
    ] {
        for part in read(file).split(prefix).skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            seen += 1;
            if !fixtures(folder)
                .join(format!("{fixture_prefix}{name}.nnt"))
                .exists()
            {
                missing.push(format!("{folder}/{name}.nnt"));
            }
        }
    }
    // Syntax codes are listed as `=> "name",` in `code_name`.
    let src = read("src/syntax/error.rs");
    let body = src
        .split("fn code_name")
        .nth(1)
        .unwrap()
        .split("fn label_text")
        .next()
        .unwrap();
    for part in body.split("=> \"").skip(1) {
        let name: String = part.chars().take_while(|c| *c != '"').collect();
        seen += 1;
        if !fixtures("invalid")
            .join(format!("syntax_{name}.nnt"))
            .exists()
        {
            missing.push(format!("invalid/syntax_{name}.nnt"));
        }
    }
    assert!(seen > 40, "found only {seen} codes");
    assert!(missing.is_empty(), "missing fixtures: {missing:?}");
}
