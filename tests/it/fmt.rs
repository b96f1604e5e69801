//! `nnt fmt`: snapshots of the canonical layout, idempotence, and that formatting
//! never changes what a recipe means (both versions train to the same log).

use std::path::Path;

fn fixtures() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "nnt"))
            .collect();
    v.sort();
    v
}

#[test]
fn formatted_fixtures_match_snapshots() {
    for path in fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        let out = nnt::cli::format::format_recipe("recipe.nnt", &bytes).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!("fmt_{name}"), out);
    }
}

#[test]
fn formatting_is_idempotent() {
    let mut inputs: Vec<_> = fixtures();
    for dir in ["examples", "tests/fixtures/valid"] {
        if let Ok(rd) = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)) {
            inputs.extend(
                rd.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "nnt")),
            );
        }
    }
    assert!(inputs.len() >= 3);
    for path in inputs {
        let once =
            nnt::cli::format::format_recipe("r.nnt", &std::fs::read(&path).unwrap()).unwrap();
        let twice = nnt::cli::format::format_recipe("r.nnt", once.as_bytes()).unwrap();
        assert_eq!(once, twice, "fmt is not idempotent on {}", path.display());
    }
}

#[test]
fn canonical_recipe_is_unchanged() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt/canonical.nnt");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        nnt::cli::format::format_recipe("r.nnt", &bytes)
            .unwrap()
            .as_bytes(),
        bytes.as_slice()
    );
}

#[test]
fn every_comment_is_kept() {
    for path in fixtures() {
        let text = std::fs::read_to_string(&path).unwrap();
        let out = nnt::cli::format::format_recipe("r.nnt", text.as_bytes()).unwrap();
        let count = |s: &str| s.matches('#').count();
        assert_eq!(
            count(&text),
            count(&out),
            "a comment was lost in {}",
            path.display()
        );
    }
}

#[test]
fn formatted_recipe_trains_identically() {
    let nnt = env!("CARGO_BIN_EXE_nnt");
    let dir = tempfile::tempdir().unwrap();
    for name in ["comments", "messy"] {
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/fmt/{name}.nnt"));
        let formatted = dir.path().join(format!("{name}.nnt"));
        std::fs::copy(&src, &formatted).unwrap();
        let st = std::process::Command::new(nnt)
            .arg("fmt")
            .arg(&formatted)
            .status()
            .unwrap();
        assert!(st.success());
        let log = |p: &Path| {
            let out = std::process::Command::new(nnt)
                .args(["run", "--format", "jsonl"])
                .arg(p)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The start event names the recipe path, which differs; compare the rest.
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            log(&src),
            log(&formatted),
            "{name}: formatting changed the training log"
        );
        let check = std::process::Command::new(nnt)
            .args(["fmt", "--check"])
            .arg(&formatted)
            .status()
            .unwrap();
        assert_eq!(check.code(), Some(0));
        let check = std::process::Command::new(nnt)
            .args(["fmt", "--check"])
            .arg(&src)
            .status()
            .unwrap();
        assert_eq!(
            check.code(),
            Some(1),
            "--check must report a file that would change"
        );
    }
}

/// Formatting looks only at the comments near each item: a recipe of 20 000
/// top-level settings, each with a comment before it and one behind it, and a
/// section of 20 000 entries with their comments, formats in well under the
/// bound (it took ~2 s for the settings alone in a release build when every
/// item scanned every other item, and far longer in this debug build), keeps
/// every comment, and keeps them in order.
#[test]
fn many_items_and_comments_format_in_linear_time() {
    let n = 20_000;
    let mut src = String::from("seed = 1\nmodel {\n");
    for i in 0..n {
        src.push_str(&format!(
            "    # layer {i}\n    dense({})  # after {i}\n",
            i % 7 + 1
        ));
    }
    src.push_str("}\n");
    for i in 0..n {
        src.push_str(&format!("# before x{i}\nx{i} = {i}  # behind x{i}\n"));
    }
    let start = std::time::Instant::now();
    let out = nnt::cli::format::format_recipe("recipe.nnt", src.as_bytes()).unwrap();
    let took = start.elapsed();
    assert!(
        took < std::time::Duration::from_secs(20),
        "formatting took {took:?}"
    );
    let mut at = 0;
    for i in 0..n {
        for needle in [
            format!("# layer {i}\n"),
            format!("dense({})  # after {i}\n", i % 7 + 1),
        ] {
            let found = out[at..].find(&needle);
            assert!(found.is_some(), "{needle:?} missing or out of order");
            at += found.unwrap_or(0) + needle.len();
        }
    }
    for i in 0..n {
        for needle in [
            format!("# before x{i}\n"),
            format!("x{i} = {i}  # behind x{i}\n"),
        ] {
            let found = out[at..].find(&needle);
            assert!(found.is_some(), "{needle:?} missing or out of order");
            at += found.unwrap_or(0) + needle.len();
        }
    }
}
