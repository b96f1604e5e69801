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
    // The layers compute on nalgebra views; only the view module converts them
    // to faer's views, only linalg cuts products into pieces, and only float.rs
    // calls faer's kernel.
    Rule {
        name: "faer appears only in src/train/float.rs, linalg.rs and view.rs",
        covers: |p| {
            !matches!(
                p,
                "src/train/float.rs" | "src/train/linalg.rs" | "src/train/view.rs"
            )
        },
        needles: &["faer"],
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
fn faer_rule() {
    let bad = "use faer::MatRef;\nfn f(m: faer::MatMut<'_, f32>) {}\n";
    assert_eq!(violations("src/train/layers/dense.rs", bad).len(), 2);
    for home in [
        "src/train/float.rs",
        "src/train/linalg.rs",
        "src/train/view.rs",
    ] {
        assert!(violations(home, bad).is_empty(), "{home}");
    }
    // Prose may name it, and `faer_ref` is another name.
    let fine = "// products go to faer's kernels\nlet m = view::faer_ref(v, Read::AsIs);\n";
    assert!(violations("src/train/layers/dense.rs", fine).is_empty());
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

// ------------------------------------------------------------------ one home per concept

/// Where a built-in's own identifiers may appear (issue 12: a layer or an
/// optimizer is one declaration and one engine file): the IR's variant and its
/// derived facts (`src/ir.rs`), the declaration with its builder
/// (`src/check/catalog.rs`), the concept's engine file, and the one dispatch of
/// its kind (the engine's enum and the arms that build and describe it). The
/// exporters, `explain`, model files, the memory bound and the lints read the
/// concept through `layers::concept`, `optim::torch` and the IR's methods.
const CONCEPT_HOMES: &[(&str, &[&str])] = &[
    (
        "LayerNorm",
        &[
            "src/ir.rs",
            "src/check/catalog.rs",
            "src/train/layers/layer_norm.rs",
            "src/train/layers/mod.rs",
        ],
    ),
    (
        "NAdam",
        &[
            "src/ir.rs",
            "src/check/catalog.rs",
            "src/train/optim/nadam.rs",
            "src/train/optim/mod.rs",
        ],
    ),
];

/// `path:line: `needle`` for each place of `text` (code, its tests included;
/// comments and literals blanked) that names `needle`.
fn mentions(path: &str, text: &str, needle: &str) -> Vec<String> {
    let code = blank(text);
    find(&code, needle)
        .into_iter()
        .map(|at| {
            let line = code[..at].matches('\n').count() + 1;
            format!("{path}:{line}: `{needle}`")
        })
        .collect()
}

#[test]
fn a_layer_and_an_optimizer_live_in_their_own_files() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut outside = Vec::new();
    for (needle, homes) in CONCEPT_HOMES {
        let mut seen = std::collections::BTreeSet::new();
        for f in &files {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let found = mentions(&rel, &std::fs::read_to_string(f).unwrap(), needle);
            if found.is_empty() {
                continue;
            }
            seen.insert(rel.clone());
            if !homes.contains(&rel.as_str()) {
                outside.extend(found);
            }
        }
        // The list stays exact: each home does name the concept.
        for home in *homes {
            assert!(
                seen.contains(*home),
                "{home} no longer names `{needle}`: remove it from CONCEPT_HOMES"
            );
        }
    }
    assert!(
        outside.is_empty(),
        "a layer's or an optimizer's variant is named outside its declaration, its \
         engine file and its kind's dispatch (see ARCHITECTURE.md, \"Where to add a \
         built-in\"); read it through the concept's trait or an IR method instead:\n{}",
        outside.join("\n")
    );
}

#[test]
fn mentions_skip_comments_and_strings() {
    let text = "// LayerNorm\nlet s = \"LayerNorm\";\nLayerKind::LayerNorm { eps }\nLayerNormish";
    assert_eq!(
        mentions("src/x.rs", text, "LayerNorm"),
        ["src/x.rs:3: `LayerNorm`"]
    );
}

// ------------------------------------------------------------------ import cycles

/// Cycles between files of different top-level modules that are known and
/// allowed, each with its reason. The test fails on any other such cycle, and on
/// an exception that no longer exists (so that this list stays exact).
const ALLOWED_CYCLES: &[(&[&str], &str)] = &[
    // None. `ir.rs` and `data/prep.rs` share the plain types of
    // `data/table.rs` (a leaf); `fmt.rs` takes the canonical order as an
    // argument and knows nothing of `check` (`cli/format.rs` joins the two).
    // Inside `check`, the declarations name their builders and the builders
    // read the declarations: files of one module, which the rule allows.
];

/// The module path of a source file: `src/check/mod.rs` is `["check"]`,
/// `src/check/layout.rs` is `["check", "layout"]`, `src/lib.rs` is `[]`.
fn module_of(path: &str) -> Vec<String> {
    let inner = path
        .trim_start_matches("src/")
        .trim_end_matches(".rs")
        .to_string();
    let mut segs: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(
        segs.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segs.pop();
    }
    segs
}

/// The top-level module of a source file (`check` for `src/check/layout.rs`,
/// `ir` for `src/ir.rs`).
fn top_module(path: &str) -> String {
    module_of(path).first().cloned().unwrap_or_default()
}

/// The file that defines the deepest module on `segs` (`crate::check::layout::X`
/// is `src/check/layout.rs`; `crate::check::BoxedDiagnostic` is
/// `src/check/mod.rs`); `src/lib.rs` when none does.
fn file_of(segs: &[String], files: &std::collections::BTreeSet<String>) -> String {
    for k in (1..=segs.len()).rev() {
        let base = format!("src/{}", segs[..k].join("/"));
        for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if files.contains(&candidate) {
                return candidate;
            }
        }
    }
    "src/lib.rs".to_string()
}

/// The module paths a file's library code names through `crate::…` and
/// `super::…` (grouped imports `crate::{a, b::c}` expanded), as absolute paths.
fn referenced_paths(path: &str, code: &str) -> Vec<Vec<String>> {
    let me = module_of(path);
    let c: Vec<char> = code.chars().collect();
    let ident_at = |i: usize| -> (String, usize) {
        let mut j = i;
        while j < c.len() && is_ident(c[j]) {
            j += 1;
        }
        (c[i..j].iter().collect(), j)
    };
    let skip_ws = |mut i: usize| {
        while i < c.len() && c[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let sep_at = |i: usize| c.get(i) == Some(&':') && c.get(i + 1) == Some(&':');
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !is_ident(c[i]) || (i > 0 && (is_ident(c[i - 1]) || c[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(i);
        if (word != "crate" && word != "super") || !sep_at(skip_ws(end)) {
            i = end.max(i + 1);
            continue;
        }
        // The path's root, then its segments up to a group or the end.
        let mut segs: Vec<String> = if word == "crate" {
            Vec::new()
        } else {
            me[..me.len().saturating_sub(1)].to_vec()
        };
        let mut j = skip_ws(end);
        let mut group = None;
        while sep_at(j) {
            j = skip_ws(j + 2);
            if c.get(j) == Some(&'{') {
                group = Some(j);
                break;
            }
            let (seg, e) = ident_at(j);
            if seg.is_empty() {
                break;
            }
            match seg.as_str() {
                "super" => {
                    segs.pop();
                }
                "self" => {}
                _ => segs.push(seg),
            }
            j = skip_ws(e);
        }
        match group {
            None => out.push(segs),
            Some(open) => {
                // Each top-level entry of the group: its leading path.
                let mut depth = 0usize;
                let mut k = open;
                let mut entry_start = true;
                while k < c.len() {
                    match c[k] {
                        '{' => {
                            depth += 1;
                            if depth == 1 {
                                entry_start = true;
                            }
                        }
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => entry_start = true,
                        ch if depth == 1 && entry_start && is_ident(ch) => {
                            entry_start = false;
                            let mut entry = segs.clone();
                            let mut m = k;
                            loop {
                                let (seg, e) = ident_at(m);
                                if seg != "self" {
                                    entry.push(seg);
                                }
                                let after = skip_ws(e);
                                if sep_at(after)
                                    && c.get(skip_ws(after + 2)).is_some_and(|&x| is_ident(x))
                                {
                                    m = skip_ws(after + 2);
                                } else {
                                    k = e.saturating_sub(1);
                                    break;
                                }
                            }
                            out.push(entry);
                        }
                        _ => {}
                    }
                    k += 1;
                }
                j = k;
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// The groups of files (each sorted, the groups sorted) that import each other
/// in a cycle spanning more than one top-level module.
fn cross_module_cycles(sources: &[(String, String)]) -> Vec<Vec<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let files: BTreeSet<String> = sources.iter().map(|(p, _)| p.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources {
        let code = library_code(text);
        let targets = edges.entry(path.clone()).or_default();
        for segs in referenced_paths(path, &code) {
            let target = file_of(&segs, &files);
            if &target != path {
                targets.insert(target);
            }
        }
    }
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(v) = stack.pop() {
            for w in edges.get(&v).into_iter().flatten() {
                if seen.insert(w.clone()) {
                    stack.push(w.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        files.iter().map(|f| (f, reach(f))).collect();
    let mut groups = BTreeSet::new();
    for f in &files {
        let group: Vec<String> = files
            .iter()
            .filter(|g| g == &f || (reachable[f].contains(*g) && reachable[g].contains(f)))
            .cloned()
            .collect();
        let modules: BTreeSet<String> = group.iter().map(|g| top_module(g)).collect();
        if modules.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

#[test]
fn no_import_cycles_between_modules() {
    let root = root();
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    let sources: Vec<(String, String)> = paths
        .iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(f).unwrap())
        })
        // The binary is not part of the library's graph.
        .filter(|(rel, _)| rel != "src/main.rs")
        .collect();
    let found = cross_module_cycles(&sources);
    let allowed: Vec<Vec<String>> = ALLOWED_CYCLES
        .iter()
        .map(|(files, _)| files.iter().map(|f| f.to_string()).collect())
        .collect();
    let new: Vec<&Vec<String>> = found.iter().filter(|g| !allowed.contains(g)).collect();
    assert!(
        new.is_empty(),
        "files of different modules import each other in a cycle (see ARCHITECTURE.md, \
         Invariants): {new:?}; break the cycle, or add it to ALLOWED_CYCLES with the reason"
    );
    let gone: Vec<&Vec<String>> = allowed.iter().filter(|g| !found.contains(g)).collect();
    assert!(
        gone.is_empty(),
        "these allowed cycles no longer exist: remove them from ALLOWED_CYCLES: {gone:?}"
    );
}

#[test]
fn import_paths_are_read_and_cycles_found() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let code = "use crate::ir::{Data, Table};\nuse super::layout::{self, Cx};\nuse crate::{ast::Span, data};\nfn f() { crate::report::number::human(1.0, 4); }\nlet x = crate::data::load;";
    let paths = referenced_paths("src/check/model.rs", &library_code(code));
    assert_eq!(
        paths,
        vec![
            v(&["ir", "Data"]),
            v(&["ir", "Table"]),
            v(&["check", "layout"]),
            v(&["check", "layout", "Cx"]),
            v(&["ast", "Span"]),
            v(&["data"]),
            v(&["report", "number", "human"]),
            v(&["data", "load"]),
        ]
    );
    // A comment, a string and a test module are not imports.
    let quiet = "// use crate::ir;\nlet s = \"crate::ir\";\n#[cfg(test)]\nmod tests {\n    use crate::ir;\n}\n";
    assert!(referenced_paths("src/check/model.rs", &library_code(quiet)).is_empty());

    let sources = |a: &str, b: &str| {
        vec![
            ("src/lib.rs".to_string(), String::new()),
            ("src/ir.rs".to_string(), a.to_string()),
            ("src/data/mod.rs".to_string(), String::new()),
            ("src/data/prep.rs".to_string(), b.to_string()),
            ("src/check/mod.rs".to_string(), "use super::x;".to_string()),
            ("src/check/x.rs".to_string(), "use super::Cx;".to_string()),
        ]
    };
    // One module's files importing each other is fine; two modules' are not.
    assert!(cross_module_cycles(&sources("", "use crate::ir::Table;")).is_empty());
    assert_eq!(
        cross_module_cycles(&sources(
            "use crate::data::prep::Preparation;",
            "use crate::ir::Table;"
        )),
        vec![v(&["src/data/prep.rs", "src/ir.rs"])]
    );
    // Through a third file of another module.
    let mut three = sources("use crate::check::x::A;", "use crate::ir::Table;");
    three[5].1 = "use crate::data::prep::P;".to_string();
    assert_eq!(
        cross_module_cycles(&three),
        vec![v(&["src/check/x.rs", "src/data/prep.rs", "src/ir.rs"])]
    );
}
