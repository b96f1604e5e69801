//! End-to-end runs of the `nnt` binary: exit statuses, help, logs and their
//! byte-for-byte reproducibility.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nnt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn run(args: &[&str]) -> Output {
    nnt().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nnt"))
        .collect();
    v.sort();
    v
}

#[test]
fn help_is_complete() {
    for cmd in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["check", "--help"],
        vec!["fmt", "--help"],
        vec!["plot", "--help"],
        vec!["explain", "--help"],
    ] {
        let o = run(&cmd);
        assert_eq!(o.status.code(), Some(0));
        let name = format!("help_{}", cmd.join("_").replace("--", ""));
        insta::assert_snapshot!(name, stdout(&o));
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["run", "examples/iris.nnt", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["run", "examples/no-such-recipe.nnt"]).status.code(),
        Some(2)
    );
    // A path that names no file is a usage error for every command (`fmt` and
    // `plot` once said 1, "the recipe is invalid"), and `check --format json`
    // says so in JSON.
    for args in [
        &["fmt", "examples/no-such-recipe.nnt"][..],
        &["fmt", "--check", "examples/no-such-recipe.nnt"],
        &["plot", "no-such-log.jsonl", "-o", "never.svg"],
        &["explain", "examples/no-such-recipe.nnt"],
        &["check", "examples/no-such-recipe.nnt"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = run(&["check", "examples/no-such-recipe.nnt", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let d: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(d["code"], "nnt::cli::unreadable_recipe");
    assert_eq!(d["file"], "examples/no-such-recipe.nnt");
}

#[test]
fn every_example_checks() {
    let ex = examples();
    assert!(ex.len() >= 5);
    for p in ex {
        let o = nnt().arg("check").arg(&p).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), stderr(&o));
    }
}

#[test]
fn jsonl_log_is_reproducible_and_snapshotted() {
    let a = run(&["run", "examples/xor.nnt", "--format", "jsonl"]);
    let b = run(&["run", "examples/xor.nnt", "--format", "jsonl"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout, "two runs printed different bytes");
    for line in stdout(&a).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every stdout line is JSON");
        assert!(v.get("event").is_some());
    }
    insta::assert_snapshot!("xor_jsonl", stdout(&a));
}

#[test]
fn text_log_when_piped_is_plain() {
    let o = run(&["run", "examples/xor.nnt", "--set", "train.epochs=4"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}'), "escape codes in piped output");
    assert!(!out.contains('\r'), "carriage returns in piped output");
    insta::assert_snapshot!("xor_text", out);
}

#[test]
fn overrides_and_seed_change_the_run() {
    let o = run(&[
        "run",
        "examples/xor.nnt",
        "--format",
        "jsonl",
        "--set",
        "train.epochs=2",
        "--seed",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("\"event\":\"epoch\""))
            .count(),
        2
    );
    assert!(out.lines().next().unwrap().contains("\"seed\":5"));
}

#[test]
fn divergence_exits_3_with_a_diagnostic() {
    let o = run(&["run", "examples/pitfalls/diverge.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("\"code\":\"nnt::train::diverged\""), "{out}");
    assert!(out
        .lines()
        .last()
        .unwrap()
        .contains("\"reason\":\"diverged\""));
}

#[test]
fn explain_prints_the_plan() {
    let o = run(&["explain", "examples/iris.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("explain_iris", stdout(&o));
}

/// §14: `explain` lists a CSV's columns with their roles and the classes, also
/// for a plain numeric file; a wide one lists its first 16 features and
/// counts the rest on one line (the label is always shown).
#[test]
fn explain_lists_the_columns_of_a_wide_csv() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
    let row = |i: usize| -> String {
        let cells: Vec<String> = (0..30).map(|j| ((i * 7 + j) % 5).to_string()).collect();
        format!("{},{}\n", cells.join(","), i % 2)
    };
    let body: String = (0..8).map(row).collect();
    std::fs::write(
        dir.path().join("w.csv"),
        format!("{},label\n{body}", names.join(",")),
    )
    .unwrap();
    let recipe = dir.path().join("w.nnt");
    std::fs::write(
        &recipe,
        "data { train = csv(\"w.csv\", label = \"label\") }\nmodel { dense(2) }\n\
         loss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain { epochs = 1 }\n",
    )
    .unwrap();
    let o = run(&["explain", &recipe.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("columns (30 inputs"), "{out}");
    assert!(out.contains("  f15 "), "{out}");
    assert!(!out.contains("  f16 "), "{out}");
    assert!(out.contains("... 14 more  feature  numeric"), "{out}");
    assert!(out.contains("  label "), "{out}");
    assert!(out.contains("class "), "{out}");
}

#[test]
fn plot_writes_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("loss.svg");
    let o = nnt()
        .args([
            "run",
            "examples/xor.nnt",
            "--set",
            "train.epochs=5",
            "--plot",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") || text.starts_with("<?xml"));
    assert!(text.trim_end().ends_with("</svg>"));
}

#[test]
fn save_writes_loadable_weights() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.safetensors");
    let o = nnt()
        .args([
            "run",
            "examples/xor.nnt",
            "--format",
            "jsonl",
            "--set",
            "train.epochs=2",
            "--save",
        ])
        .arg(&w)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = std::fs::read(&w).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(names, vec!["0.bias", "0.weight", "2.bias", "2.weight"]);
    assert_eq!(st.tensor("0.weight").unwrap().shape(), &[8, 2]);
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("nnt"));
    }
}

#[test]
fn example_logs_are_snapshotted() {
    // mnist and digits are left out only to keep the debug-build test run short;
    // they are checked above and trained by the benchmarks.
    for name in ["iris", "breast_cancer", "regression", "spirals", "penguins"] {
        let path = format!("examples/{name}.nnt");
        let jsonl = run(&["run", &path, "--format", "jsonl"]);
        assert_eq!(jsonl.status.code(), Some(0), "{name}: {}", stderr(&jsonl));
        insta::assert_snapshot!(format!("example_{name}_jsonl"), stdout(&jsonl));
        let text = run(&["run", &path]);
        assert_eq!(text.status.code(), Some(0), "{name}: {}", stderr(&text));
        insta::assert_snapshot!(format!("example_{name}_text"), stdout(&text));
    }
}

#[test]
fn resume_continues_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("ck.nnt");
    std::fs::write(
        &recipe,
        r#"seed = 3
data {
    train = spirals(n = 300, classes = 3)
    valid = split(train, 0.2)
}
model {
    dense(32)
    relu
    dropout(0.2)
    dense(3)
}
loss = cross_entropy
optimizer = adam(lr = 0.01)
checkpoint { every = 2; path = "ckpt"; keep = 2 }
train {
    epochs = 8
    batch = 32
    lr_schedule = cosine
    early_stop = patience(5, monitor = valid_accuracy)
}
"#,
    )
    .unwrap();
    let full = nnt()
        .args(["run", "--format", "jsonl"])
        .arg(&recipe)
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let mut kept: Vec<_> = std::fs::read_dir(dir.path().join("ckpt"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        ["epoch-6.safetensors", "epoch-8.safetensors"],
        "keep = 2 keeps the newest two"
    );
    let resumed = nnt()
        .args(["run", "--format", "jsonl", "--resume"])
        .arg(dir.path().join("ckpt/epoch-6.safetensors"))
        .arg(&recipe)
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let tail = |o: &Output| {
        stdout(o)
            .lines()
            .filter(|l| !l.contains("\"start\""))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let full_tail = tail(&full);
    let resumed_tail = tail(&resumed);
    assert_eq!(resumed_tail.len(), 3, "epochs 7 and 8, then the end event");
    assert_eq!(full_tail[full_tail.len() - 3..], resumed_tail[..]);
}

/// With `NO_COLOR` a terminal gets what a pipe gets: plain lines, no progress
/// bar, no escape code, no carriage return.
#[cfg(target_os = "linux")]
#[test]
fn no_color_on_a_terminal_draws_no_bar() {
    let args = ["run", "examples/iris.nnt", "--set", "train.epochs=3"];
    let on_terminal = |no_color: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .args(args);
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let (code, out) = crate::common::on_terminal(c, 120, "nnt run")?;
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&out));
        Some(String::from_utf8(out).unwrap())
    };
    // The terminal is one: without NO_COLOR (or with an empty one, which does
    // not count) the bar is drawn and cleared.
    for no_color in [None, Some("")] {
        let Some(out) = on_terminal(no_color) else {
            eprintln!("no pseudo-terminal: skipped");
            return;
        };
        assert!(out.contains("\r\u{1b}[2K"), "{no_color:?}: {out:?}");
    }
    let piped = run(&args);
    assert_eq!(piped.status.code(), Some(0), "{}", stderr(&piped));
    for no_color in ["1", "true"] {
        let out = on_terminal(Some(no_color)).expect("a pseudo-terminal, as above");
        assert!(!out.contains('\u{1b}'), "{no_color}: {out:?}");
        assert!(!out.contains('\r'), "{no_color}: {out:?}");
        assert_eq!(out, stdout(&piped), "{no_color}");
    }
}
