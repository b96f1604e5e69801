//! What installing nnt gives a user beyond the binary: shell completions (the
//! scripts register a callback into `nnt`, and a TAB completes what each argument
//! means: recipes, weights, setting keys, nothing), the manual page and the version.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_nnt");

/// A directory with one file of each kind a completion may or may not offer.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["a.nnt", "b.csv", "w.safetensors", "log.jsonl", "sub/c.nnt"] {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, "").expect("write");
    }
    dir
}

/// The candidates (first field of each line) for the last word of `words`, as
/// fish asks for them.
fn complete(dir: &Path, words: &[&str]) -> Vec<String> {
    let out = Command::new(BIN)
        .env("COMPLETE", "fish")
        .current_dir(dir)
        .arg("--")
        .args(words)
        .output()
        .expect("nnt runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

fn has(list: &[String], s: &str) -> bool {
    list.iter().any(|x| x == s)
}

#[test]
fn recipe_arguments_complete_nnt_files() {
    let dir = workdir();
    for words in [
        &["nnt", "run", ""][..],
        &["nnt", "check", ""],
        &["nnt", "fmt", ""],
        &["nnt", "sweep", ""],
        &["nnt", "sweep", "--grid", "seed=[1, 2]", ""],
    ] {
        let c = complete(dir.path(), words);
        assert!(has(&c, "a.nnt") && has(&c, "sub/"), "{words:?}: {c:?}");
        assert!(
            !has(&c, "b.csv") && !has(&c, "w.safetensors"),
            "{words:?}: {c:?}"
        );
    }
    let c = complete(dir.path(), &["nnt", "run", "sub/"]);
    assert_eq!(c, ["sub/c.nnt"]);
}

#[test]
fn weights_arguments_complete_safetensors_files() {
    let dir = workdir();
    for flag in ["--resume", "--save"] {
        let c = complete(dir.path(), &["nnt", "run", "a.nnt", flag, ""]);
        assert!(has(&c, "w.safetensors"), "{flag}: {c:?}");
        assert!(!has(&c, "a.nnt") && !has(&c, "b.csv"), "{flag}: {c:?}");
    }
}

/// The model of `predict`, `eval` and `export onnx` is a `.safetensors` file
/// (every file was offered).
#[test]
fn model_arguments_complete_safetensors_files() {
    let dir = workdir();
    for words in [
        &["nnt", "predict", ""][..],
        &["nnt", "eval", ""],
        &["nnt", "export", "onnx", ""],
        &["nnt", "export", "onnx", "-o", "m.onnx", ""],
    ] {
        let c = complete(dir.path(), words);
        assert!(
            has(&c, "w.safetensors") && has(&c, "sub/"),
            "{words:?}: {c:?}"
        );
        assert!(
            !has(&c, "a.nnt") && !has(&c, "b.csv") && !has(&c, "log.jsonl"),
            "{words:?}: {c:?}"
        );
    }
}

/// `nnt explain` reads a recipe or a saved model: it offers both (it offered
/// only recipes).
#[test]
fn explain_completes_recipes_and_models() {
    let dir = workdir();
    let c = complete(dir.path(), &["nnt", "explain", ""]);
    assert!(
        has(&c, "a.nnt") && has(&c, "w.safetensors") && has(&c, "sub/"),
        "{c:?}"
    );
    assert!(!has(&c, "b.csv") && !has(&c, "log.jsonl"), "{c:?}");
    assert_eq!(
        complete(dir.path(), &["nnt", "explain", "sub/"]),
        ["sub/c.nnt"]
    );
}

#[test]
fn seed_completes_nothing_and_set_completes_keys() {
    let dir = workdir();
    assert!(complete(dir.path(), &["nnt", "run", "a.nnt", "--seed", ""]).is_empty());
    let c = complete(dir.path(), &["nnt", "run", "a.nnt", "--set", ""]);
    let keys = nnt::check::catalog::setting_keys();
    assert_eq!(c.len(), keys.len(), "{c:?}");
    for k in &keys {
        assert!(has(&c, &format!("{k}=")), "{k}: {c:?}");
    }
    assert!(keys.len() > 20);
    // `nnt sweep --set` takes the same keys (it completed nothing).
    let c = complete(dir.path(), &["nnt", "sweep", "a.nnt", "--set", ""]);
    assert_eq!(c.len(), keys.len(), "{c:?}");
    for words in [
        &["nnt", "check", "a.nnt", "--set", "train.e"][..],
        &["nnt", "sweep", "a.nnt", "--set", "train.e"],
    ] {
        let c = complete(dir.path(), words);
        assert_eq!(c, ["train.epochs=", "train.early_stop="], "{words:?}");
    }
    // Once the key is written, the value is the user's.
    assert!(complete(dir.path(), &["nnt", "run", "a.nnt", "--set", "seed="]).is_empty());
}

#[test]
fn every_shell_gets_a_script_that_calls_back() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .expect("nnt runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("COMPLETE"), "{shell}: {script}");
        assert!(
            script.contains(shell) && script.contains("nnt"),
            "{shell}: {script}"
        );
    }
}

/// The bash script, sourced into a real bash, completes a recipe argument.
#[test]
fn bash_completes_through_the_script() {
    let bash_ok = Command::new("bash").arg("-c").arg("true").status();
    if !bash_ok.is_ok_and(|s| s.success()) {
        eprintln!("no bash: skipped");
        return;
    }
    let dir = workdir();
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = r#"source <(nnt completions bash)
COMP_WORDS=(nnt run ""); COMP_CWORD=2; COMP_TYPE=9
_clap_complete_nnt nnt "" run
printf '%s\n' "${COMPREPLY[@]}""#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let got = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = got.lines().collect();
    assert!(lines.contains(&"a.nnt") && lines.contains(&"sub/"), "{got}");
    assert!(!lines.contains(&"b.csv"), "{got}");
}

#[test]
fn version_names_the_simd_level() {
    let out = Command::new(BIN)
        .arg("--version")
        .output()
        .expect("nnt runs");
    assert!(out.status.success());
    let v = String::from_utf8_lossy(&out.stdout);
    let levels = ["avx512f", "avx2+fma", "sse2", "neon", "none"];
    let expected_start = format!("nnt {} (SIMD: ", env!("CARGO_PKG_VERSION"));
    assert!(v.starts_with(&expected_start), "{v}");
    let rest = v.trim_end().trim_start_matches(&expected_start);
    let (runtime, built) = rest
        .trim_end_matches(')')
        .split_once("; built for ")
        .expect("both levels");
    assert!(levels.contains(&runtime) && levels.contains(&built), "{v}");
    #[cfg(target_arch = "x86_64")]
    {
        let detected = if std::arch::is_x86_feature_detected!("avx512f") {
            "avx512f"
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            "avx2+fma"
        } else {
            "sse2"
        };
        assert_eq!(runtime, detected);
    }
}

/// README's installation section shows what `--version` prints for the
/// default build: portable, baseline x86-64 (`.cargo/config.toml`), SIMD
/// chosen at run time (it said the binary is built for the CPU it is compiled
/// on, and showed `built for avx512f`).
#[test]
fn the_readme_shows_what_version_prints() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("nnt --version"))
        .expect("README shows `nnt --version`");
    let shown = line
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no example output in {line:?}"));
    let built = shown
        .strip_prefix("nnt ")
        .and_then(|rest| rest.split_once(" (SIMD: "))
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .and_then(|rest| rest.split_once("; built for "))
        .map(|(_, built)| built)
        .unwrap_or_else(|| panic!("not the shape of --version: {shown:?}"));
    #[cfg(target_arch = "x86_64")]
    assert_eq!(built, "sse2", "{line}");
    let _ = built;
    assert!(!readme.contains("built for the CPU it is"), "README");
}

#[test]
fn the_man_page_documents_every_command() {
    let out = Command::new(BIN).arg("man").output().expect("nnt runs");
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH nnt 1"), "{page}");
    assert!(page.contains(&format!("nnt {}", env!("CARGO_PKG_VERSION"))));
    // Every visible command has its subsection, with its options.
    let help = Command::new(BIN).arg("--help").output().expect("nnt runs");
    let help = String::from_utf8_lossy(&help.stdout);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(
        commands.contains(&"run") && commands.contains(&"lsp"),
        "{commands:?}"
    );
    for c in &commands {
        assert!(page.contains(&format!(".SS \"nnt {c}\"")), "{c} missing");
    }
    assert!(
        page.contains("\\fB\\-\\-resume\\fR"),
        "run's options are in the page"
    );
    assert!(
        !page.contains(".SS \"nnt man\""),
        "the hidden command stays hidden"
    );
    // groff reads it without a warning, where it is installed.
    if let Ok(mut groff) = Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        groff
            .stdin
            .take()
            .expect("stdin")
            .write_all(&out.stdout)
            .expect("write");
        let r = groff.wait_with_output().expect("groff");
        assert!(r.status.success());
        assert_eq!(String::from_utf8_lossy(&r.stderr), "", "groff warnings");
    }
}
