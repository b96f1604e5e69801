//! No input may panic or hang the parser or the checker: random bytes, invalid
//! UTF-8, mutated valid recipes, runaway nesting and very large files.

use std::path::Path;
use std::time::{Duration, Instant};

use nnt::check::{check_recipe, resolve_recipe, CheckOptions};
use proptest::prelude::*;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid")
}

fn corpus() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nnt"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    v.sort();
    v
}

/// Checks `bytes` fully (data included) and returns whether it was clean; every
/// diagnostic must carry an `nnt::` code.
fn check(bytes: &[u8]) -> bool {
    let opts = CheckOptions::default();
    let report = check_recipe("fuzz.nnt", bytes, &fixtures(), &opts);
    for d in report.errors.iter().chain(&report.warnings) {
        let code = d.code().map(|c| c.to_string()).unwrap_or_default();
        assert!(code.starts_with("nnt::"), "diagnostic without code: {d}");
        // Rendering must not panic either (spans inside the text, on char boundaries).
        let mut out = String::new();
        let _ =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .render_report(&mut out, d.as_ref());
    }
    assert_eq!(report.program.is_some(), report.errors.is_empty());
    report.errors.is_empty()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes);
    }

    #[test]
    fn random_recipe_like_text(s in "[a-z_=(){}\\[\\],;\"#0-9.\\-+ \n\t\\\\]{0,300}") {
        check(s.as_bytes());
    }

    #[test]
    fn mutated_valid_recipes(which in 0usize..16, edits in proptest::collection::vec((any::<u16>(), 0u8..3, any::<u8>()), 1..6)) {
        let corpus = corpus();
        let mut bytes = corpus[which % corpus.len()].clone();
        let alphabet = b"abcdefgxyz_019.-+=(){}[],;\"#\\ \n\xc3\xa9\xff";
        for (pos, op, c) in edits {
            let at = if bytes.is_empty() { 0 } else { pos as usize % bytes.len() };
            let ch = alphabet[c as usize % alphabet.len()];
            match op {
                0 => bytes.insert(at, ch),
                1 if !bytes.is_empty() => { bytes.remove(at); }
                _ if !bytes.is_empty() => bytes[at] = ch,
                _ => bytes.push(ch),
            }
        }
        check(&bytes);
    }
}

#[test]
fn every_valid_fixture_is_clean() {
    for bytes in corpus() {
        assert!(check(&bytes));
    }
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    for (open, close) in [("[", "]"), ("f(", ")")] {
        let n = 100_000;
        let text = format!("regularize = {}{}\n", open.repeat(n), close.repeat(n));
        let start = Instant::now();
        let report = resolve_recipe(
            "deep.nnt",
            text.as_bytes(),
            &fixtures(),
            &CheckOptions::default(),
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        let codes: Vec<String> = report
            .errors
            .iter()
            .map(|e| e.code().unwrap().to_string())
            .collect();
        assert_eq!(codes, ["nnt::syntax::too_deep"]);
    }
    // Unclosed deep nesting too.
    let text = format!("regularize = {}", "[".repeat(100_000));
    let report = resolve_recipe(
        "deep.nnt",
        text.as_bytes(),
        &fixtures(),
        &CheckOptions::default(),
    );
    assert_eq!(report.errors.len(), 1);
    // Nesting up to the limit is fine for the parser (the checker then rejects the values).
    let text = format!("regularize = {}{}\n", "[".repeat(64), "]".repeat(64));
    assert!(nnt::syntax::parse(&text, nnt::ast::SourceId::RECIPE).is_ok());
}

#[test]
fn large_files_are_fast() {
    let cases: Vec<Vec<u8>> = vec![
        // 10 MB of one long valid list.
        {
            let mut s = String::from("regularize = [");
            while s.len() < 10_000_000 {
                s.push_str("l2(1e-4), ");
            }
            s.push_str("]\n");
            s.into_bytes()
        },
        // 10 MB of comments and blank lines around a valid recipe.
        {
            let mut s = String::new();
            while s.len() < 10_000_000 {
                s.push_str("# just a comment line, nothing to see here\n\n");
            }
            s.push_str(&String::from_utf8(corpus()[0].clone()).unwrap());
            s.into_bytes()
        },
        // 10 MB of garbage bytes.
        (0..10_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
        // 10 MB of settings.
        {
            let mut s = String::new();
            let mut i = 0;
            while s.len() < 10_000_000 {
                s.push_str(&format!("item{i} = {i}\n"));
                i += 1;
            }
            s.into_bytes()
        },
    ];
    for (i, bytes) in cases.into_iter().enumerate() {
        let start = Instant::now();
        check(&bytes);
        // The pest parser is generated into this crate, so an unoptimised test build
        // is several times slower than the release binary (about 2 s for 10 MB).
        let limit = Duration::from_secs(if cfg!(debug_assertions) { 60 } else { 5 });
        assert!(
            start.elapsed() < limit,
            "case {i} took {:?}",
            start.elapsed()
        );
    }
}
