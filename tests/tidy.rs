//! The architecture's invariants, checked mechanically over the source text (in
//! the manner of rust-analyzer's `tidy` test). ARCHITECTURE.md's "Invariants"
//! section names each rule; this file is where they are enforced.
//!
//! Every rule looks at library code only: comments, string and character literals
//! are blanked first (so prose may name anything), and a unit-test module
//! (`#[cfg(test)] mod … { … }`) is not library code. A needle matches as whole
//! identifiers: `fs::` does not match `WeightsFs::`, `File::` does not match
//! `WeightsFile::`.

use std::path::{Path, PathBuf};

/// One invariant: which files it covers and what may not appear in them.
struct Rule {
    name: &'static str,
    /// Whether a file (its path relative to the repository, with `/`) is covered.
    covers: fn(&str) -> bool,
    /// Code that breaks the rule.
    needles: &'static [&'static str],
}

const RULES: &[Rule] = &[
    // Only data, io and the command line (src/cli, src/main.rs) touch files.
    Rule {
        name: "files are touched only in src/data, src/io, src/cli and src/main.rs",
        covers: |p| {
            !(p.starts_with("src/data/")
                || p.starts_with("src/io/")
                || p.starts_with("src/cli/")
                || p == "src/main.rs")
        },
        needles: &[
            "std::fs",
            "fs::",
            "File::",
            "OpenOptions",
            ".read_dir(",
            ".exists()",
            ".try_exists()",
            ".is_file()",
            ".is_dir()",
            ".metadata()",
            ".canonicalize()",
        ],
    },
    // Only the syntax module knows pest.
    Rule {
        name: "pest appears only in src/syntax",
        covers: |p| !p.starts_with("src/syntax/"),
        needles: &["pest::", "pest_derive", "#[grammar"],
    },
    // All randomness comes from the one seeded generator: only rng.rs makes a
    // generator. Elsewhere code draws from a generator it was handed (the
    // `rand::Rng` trait, `rand::seq`, `rand_distr` are fine), and never from a
    // source of its own.
    Rule {
        name: "random generators are made only in src/rng.rs",
        covers: |p| p != "src/rng.rs",
        needles: &[
            "SeedableRng",
            "seed_from_u64",
            "from_seed",
            "from_entropy",
            "from_os_rng",
            "from_rng",
            "thread_rng",
            "ThreadRng",
            "rand::random",
            "rand::rngs",
            "OsRng",
            "StdRng",
            "SmallRng",
            "getrandom",
        ],
    },
    // Train and report work on the IR: they never see the AST.
    Rule {
        name: "src/train and src/report do not use the AST",
        covers: |p| p.starts_with("src/train/") || p.starts_with("src/report/"),
        needles: &["ast"],
    },
];

/// The lint attribute library code carries (outside `cfg(test)`).
const DENY_PANICS: &str =
    "#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The code with comments, string literals (plain, byte, raw) and character
/// literals replaced by spaces; newlines are kept, so offsets and lines stay.
fn blank(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = c.clone();
    let erase = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in out.iter_mut().take(to.min(c.len())).skip(from) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && is_ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            erase(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            // Block comments nest.
            let (mut depth, mut j) = (0usize, i);
            while j < c.len() {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            erase(&mut out, i, j);
            i = j;
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            let s = if c[i] == 'b' { i + 2 } else { i + 1 };
            let hashes = (s..c.len()).take_while(|&j| c[j] == '#').count();
            c.get(s + hashes) == Some(&'"')
        } {
            // Raw string: r"…", r#"…"#, br"…".
            let s = if c[i] == 'b' { i + 2 } else { i + 1 };
            let hashes = (s..c.len()).take_while(|&j| c[j] == '#').count();
            let mut j = s + hashes + 1;
            while j < c.len() {
                if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            erase(&mut out, i, j);
            i = j;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            erase(&mut out, i, j + 1);
            i = j + 1;
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\''), or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') {
                let j = (i + 3..c.len()).find(|&j| c[j] == '\'').unwrap_or(c.len());
                erase(&mut out, i, j + 1);
                i = j + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                erase(&mut out, i, i + 3);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// The blanked code without its unit-test modules (`#[cfg(test)]` followed by
/// `mod name { … }`), which are blanked too.
fn library_code(text: &str) -> String {
    let mut code: Vec<char> = blank(text).chars().collect();
    let attr: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + attr.len() <= code.len() {
        if code[i..i + attr.len()] != attr[..] {
            i += 1;
            continue;
        }
        let mut j = i + attr.len();
        while j < code.len() && code[j].is_whitespace() {
            j += 1;
        }
        let rest: String = code[j..code.len().min(j + 4)].iter().collect();
        let is_mod = rest == "mod "
            || (rest.starts_with("pub ") && {
                let r: String = code[j..code.len().min(j + 8)].iter().collect();
                r == "pub mod "
            });
        let open = (j..code.len()).find(|&k| code[k] == '{' || code[k] == ';');
        match open {
            Some(o) if is_mod && code[o] == '{' => {
                let mut depth = 0usize;
                let mut end = code.len();
                for (k, &ch) in code.iter().enumerate().skip(o) {
                    if ch == '{' {
                        depth += 1;
                    } else if ch == '}' {
                        depth -= 1;
                        if depth == 0 {
                            end = k + 1;
                            break;
                        }
                    }
                }
                for ch in code.iter_mut().take(end).skip(i) {
                    if *ch != '\n' {
                        *ch = ' ';
                    }
                }
                i = end;
            }
            _ => i += attr.len(),
        }
    }
    code.into_iter().collect()
}

/// Byte offsets where `needle` occurs as whole identifiers: the character before
/// an identifier-start needle, and after an identifier-end needle, is not part of
/// an identifier.
fn find(code: &str, needle: &str) -> Vec<usize> {
    let first_ident = needle.chars().next().is_some_and(is_ident);
    let last_ident = needle.chars().last().is_some_and(is_ident);
    code.match_indices(needle)
        .filter(|(at, _)| {
            let before = code[..*at].chars().next_back();
            let after = code[at + needle.len()..].chars().next();
            let joined_before = first_ident && before.is_some_and(is_ident);
            let joined_after = last_ident && after.is_some_and(is_ident);
            !joined_before && !joined_after
        })
        .map(|(at, _)| at)
        .collect()
}

/// `path:line: rule (found `needle`)` for every break of every rule in one file.
fn violations(path: &str, text: &str) -> Vec<String> {
    let code = library_code(text);
    let mut out = Vec::new();
    for rule in RULES.iter().filter(|r| (r.covers)(path)) {
        for needle in rule.needles {
            for at in find(&code, needle) {
                let line = code[..at].matches('\n').count() + 1;
                out.push(format!("{path}:{line}: {} (found `{needle}`)", rule.name));
            }
        }
    }
    out
}

#[test]
fn architecture_invariants_hold() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 40, "the sources are found");
    let mut all = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        all.extend(violations(&rel, &std::fs::read_to_string(&f).unwrap()));
    }
    assert!(
        all.is_empty(),
        "architecture invariants broken (see ARCHITECTURE.md, Invariants):\n{}",
        all.join("\n")
    );
}

#[test]
fn library_code_denies_panics() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    // Whatever rustfmt's line breaks.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert!(
        squeeze(&library_code(&lib)).contains(&squeeze(DENY_PANICS)),
        "src/lib.rs must carry `{DENY_PANICS}`"
    );
}

// The checker itself: each rule fires on code that breaks it and stays quiet on
// prose, tests and look-alike names.

#[test]
fn files_rule() {
    let bad = "use std::fs;\nfn f() { let _ = fs::read(\"x\"); }\n";
    assert_eq!(
        violations("src/check/mod.rs", bad),
        vec![
            "src/check/mod.rs:1: files are touched only in src/data, src/io, src/cli and src/main.rs (found `std::fs`)",
            "src/check/mod.rs:2: files are touched only in src/data, src/io, src/cli and src/main.rs (found `fs::`)",
        ]
    );
    assert_eq!(
        violations(
            "src/report/plot.rs",
            "fn f(p: &Path) -> bool { p.exists() }"
        )
        .len(),
        1
    );
    for allowed in [
        "src/data/csv.rs",
        "src/io/atomic.rs",
        "src/cli/x.rs",
        "src/main.rs",
    ] {
        assert!(violations(allowed, bad).is_empty(), "{allowed}");
    }
    let fine = "// std::fs is named in a comment\nlet m = \"File::open failed\";\nWeightsFile::read(p)?;\n#[cfg(test)]\nmod tests {\n    fn t() { std::fs::read(\"x\").unwrap(); }\n}\n";
    assert!(violations("src/train/trainer.rs", fine).is_empty());
}

#[test]
fn pest_rule() {
    let bad = "use pest::Parser;\n#[derive(pest_derive::Parser)]\n";
    assert_eq!(violations("src/check/mod.rs", bad).len(), 2);
    assert!(violations("src/syntax/mod.rs", bad).is_empty());
    // "deepest" is not pest.
    assert!(violations("src/check/lints.rs", "let deepest::x = 1;").is_empty());
}

#[test]
fn randomness_rule() {
    let bad = "let a = rand::thread_rng();\nlet b = ChaCha8Rng::seed_from_u64(3);\nlet c: f64 = rand::random();\n";
    assert_eq!(violations("src/train/init.rs", bad).len(), 3);
    assert!(violations("src/rng.rs", bad).is_empty());
    // Drawing from a generator handed over is fine.
    let fine = "use rand::Rng;\nfn f(rng: &mut ChaCha8Rng) -> f64 { rng.gen() }\n";
    assert!(violations("src/data/synthetic.rs", fine).is_empty());
}

#[test]
fn ast_rule() {
    for bad in [
        "use crate::ast::Span;",
        "use crate::{ast, ir};",
        "fn f(s: nnt::ast::Span) {}",
    ] {
        assert_eq!(violations("src/train/trainer.rs", bad).len(), 1, "{bad}");
        assert_eq!(violations("src/report/explain.rs", bad).len(), 1, "{bad}");
        assert!(violations("src/check/mod.rs", bad).is_empty(), "{bad}");
    }
    assert!(violations("src/train/x.rs", "let last = fast::y; // the ast").is_empty());
}

#[test]
fn blanking_keeps_lines_and_code() {
    let text = "let a = 'x'; let q = '\"'; let s = r#\"std::fs \"quoted\"\"#; /* a /* nested */ fs:: */ fn g<'a>(x: &'a str) {}\nfs::read(p)";
    let code = blank(text);
    assert_eq!(code.len(), text.len());
    assert!(code.contains("fn g<'a>(x: &'a str) {}"), "{code}");
    assert_eq!(find(&code, "fs::"), vec![text.rfind("fs::read").unwrap()]);
    assert_eq!(code.lines().count(), 2);
}
