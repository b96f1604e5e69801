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
