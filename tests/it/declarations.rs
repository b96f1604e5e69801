//! The built-ins are declared once (`src/check/catalog.rs`): these tests keep the
//! rest of the code and the docs reading the declarations.
//!
//! - No `match` in `src/check` or `src/report` has a catch-all arm (`_ =>`, or a
//!   plain binding such as `other =>`) beside arms that are string literals naming
//!   declared built-ins: such a match would turn a forgotten built-in into wrong
//!   behaviour (the "an unmatched optimizer becomes adagrad"). Built-ins
//!   are looked up in the declarations and dispatched through their builders or
//!   exhaustive matches on IR enums instead.
//! - `docs/REFERENCE.md` is the text the declarations generate.

use std::path::Path;

use nnt::check::catalog;

/// The library code of a file: up to its unit-test module.
fn library_code(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The string literals of a match arm's pattern (`"a" | "b" =>`, `(x, "a") =>`).
fn pattern_strings(line: &str) -> Vec<String> {
    let Some((pattern, _)) = line.split_once("=>") else {
        return Vec::new();
    };
    // A guard (`Item::Section(s) if s.name == "model"`) is not the pattern.
    let pattern = pattern.split(" if ").next().unwrap_or(pattern);
    pattern
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// Whether an arm is a catch-all: `_` or a lower-case binding, with no guard.
fn is_catch_all(line: &str) -> bool {
    let t = line.trim_start();
    let Some((pattern, _)) = t.split_once("=>") else {
        return false;
    };
    let p = pattern.trim();
    p == "_"
        || (!p.is_empty()
            && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && p.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
}

/// `path:line` of every catch-all arm of a match over declared built-in names.
fn catch_alls_over_names(path: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = library_code(text).lines().collect();
    let mut found = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if !is_catch_all(line) {
            continue;
        }
        let depth = indent(line);
        // The other arms of the same match: lines at the same indentation back to
        // the `match` that opens it (a line indented less).
        let mut names = Vec::new();
        for prev in lines[..n].iter().rev() {
            if prev.trim().is_empty() {
                continue;
            }
            if indent(prev) < depth {
                break;
            }
            if indent(prev) == depth {
                names.extend(pattern_strings(prev));
            }
        }
        if names.iter().any(|s| catalog::any(s).is_some()) {
            found.push(format!("{path}:{}: {}", n + 1, line.trim()));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_catch_all_arm_over_built_in_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/check"), &mut files);
    rust_files(&root.join("src/report"), &mut files);
    files.sort();
    assert!(files.len() > 20, "{files:?}");
    let mut breaks = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        breaks.extend(catch_alls_over_names(&rel, &text));
    }
    assert!(
        breaks.is_empty(),
        "catch-all arms beside built-in names (look the name up in check::catalog \
         and use its builder, or match the IR enum exhaustively):\n{}",
        breaks.join("\n")
    );
}

/// The matcher finds what the issue describes, and not exhaustive matches.
#[test]
fn the_matcher_finds_catch_alls() {
    let bad = "fn f(n: &str) {\n    match n {\n        \"sgd\" => 1,\n        \"adam\" | \"adamw\" => 2,\n        _ => 3,\n    }\n}\n";
    assert_eq!(catch_alls_over_names("x.rs", bad), ["x.rs:5: _ => 3,"]);
    let binding = bad.replace("_ => 3", "other => 3");
    assert_eq!(catch_alls_over_names("x.rs", &binding).len(), 1);
    // Strings that are not built-in names, and matches on enums, are fine.
    let fine = "match n {\n    \"hello\" => 1,\n    _ => 2,\n}\nmatch k {\n    Kind::A => 1,\n    _ => 2,\n}\n";
    assert!(catch_alls_over_names("x.rs", fine).is_empty());
    // Unit-test modules are not library code.
    let test = format!("#[cfg(test)]\nmod tests {{\n{bad}}}\n");
    assert!(catch_alls_over_names("x.rs", &test).is_empty());
}

#[test]
fn reference_is_generated_from_the_declarations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/REFERENCE.md");
    let want = catalog::reference();
    if std::env::var_os("NNT_UPDATE_REFERENCE").is_some() {
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/REFERENCE.md is out of date: run `NNT_UPDATE_REFERENCE=1 cargo test --test declarations`"
    );
    // Every declared built-in appears in it, with its parameters.
    for b in catalog::BUILTINS {
        assert!(have.contains(&format!("| `{}` |", b.name)), "{}", b.name);
        for p in b.params {
            assert!(
                have.contains(&format!("`{}`: ", p.name)),
                "{}.{}",
                b.name,
                p.name
            );
        }
    }
}
