//! Issue 11 (hardening), end to end against the binary: closed pipes, huge plans,
//! extreme logs, exit statuses with `--plot`, conflicting options. Every command
//! runs under a time limit, so a hang fails the test instead of the suite.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{finish, Done};

fn nnt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `nnt ARGS` with piped streams, at most `secs` seconds.
fn run_within(args: &[&str], secs: u64) -> Done {
    let child = nnt()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, secs, &args.join(" "))
}

// ---------------------------------------------------------------- item 11

/// `explain` with 2^63 − 1 epochs, or a cosine over 10^8 epochs, ends at once with
/// a bounded table.
#[test]
fn explain_of_huge_epoch_counts_is_bounded() {
    for set in [
        vec!["--set", "train.epochs=9223372036854775807"],
        vec![
            "--set",
            "train.epochs=100000000",
            "--set",
            "train.lr_schedule=cosine(min_lr = 0.0001)",
        ],
        vec![
            "--set",
            "train.epochs=9223372036854775807",
            "--set",
            "train.lr_schedule=exponential(0.999999)",
        ],
    ] {
        let mut args = vec!["explain", "examples/iris.nnt"];
        args.extend(set.iter().copied());
        let o = run_within(&args, 20);
        assert_eq!(o.code, Some(0), "{}", o.stderr);
        let table: Vec<&str> = o
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("learning rate per epoch"))
            .skip(1)
            .collect();
        assert!(!table.is_empty() && table.len() <= 41, "{}", o.stdout);
        assert!(table[0].trim_start().starts_with("epoch"), "{}", o.stdout);
    }
}

// ---------------------------------------------------------------- item 9

/// Runs `nnt ARGS` with `stdout` as its standard output, at most `secs` seconds.
fn run_with_stdout(args: &[&str], stdout: Stdio, secs: u64) -> Done {
    let child = nnt()
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, secs, &args.join(" "))
}

/// A pipe whose reading end is already closed: every write to it fails with
/// `BrokenPipe`, deterministically.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

/// A closed stdout pipe ends the output quietly: no panic (exit 101), no message,
/// the command's own status, and the command's work done.
#[test]
fn a_closed_stdout_pipe_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("w.safetensors");
    let save = save.to_str().unwrap();
    for args in [
        vec!["explain", "examples/iris.nnt"],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["--help"],
        vec!["--version"],
        vec!["check", "examples/iris.nnt"],
        vec![
            "check",
            "tests/fixtures/warn/dropout_on_output.nnt",
            "--format",
            "github",
        ],
        vec!["run", "examples/xor.nnt", "--set", "train.epochs=3"],
        vec![
            "run",
            "examples/xor.nnt",
            "--set",
            "train.epochs=3",
            "--format",
            "jsonl",
            "--save",
            save,
        ],
    ] {
        let o = run_with_stdout(&args, closed_pipe(), 60);
        assert_eq!(o.code, Some(0), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
        assert!(
            !o.stderr.contains("stdout_failed"),
            "{args:?}: {}",
            o.stderr
        );
    }
    // The run went on to the end and saved its weights.
    assert!(std::fs::metadata(save).unwrap().len() > 0);
}

/// `nnt fmt a b c | head -1`: the listing stops, the formatting does not.
#[test]
fn fmt_formats_every_file_after_the_pipe_closes() {
    let dir = tempfile::tempdir().unwrap();
    let messy = std::fs::read(manifest().join("tests/fixtures/fmt/messy.nnt")).unwrap();
    let paths: Vec<String> = (0..20)
        .map(|i| {
            let p = dir.path().join(format!("r{i:02}.nnt"));
            std::fs::write(&p, &messy).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec!["fmt"];
    args.extend(paths.iter().map(String::as_str));
    let o = run_with_stdout(&args, closed_pipe(), 60);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    let canonical = std::fs::read(manifest().join("tests/fixtures/fmt/messy.nnt"))
        .map(|b| nnt::cli::format::format_recipe("messy.nnt", &b).unwrap())
        .unwrap();
    for p in &paths {
        assert_eq!(std::fs::read_to_string(p).unwrap(), canonical, "{p}");
    }
}

/// A full stdout (not a closed pipe) is the diagnostic `nnt::io::stdout_failed`
/// and exit status 1, never a panic or a silent 0.
#[test]
fn a_full_stdout_is_a_diagnostic() {
    for args in [
        vec!["explain", "examples/iris.nnt"],
        vec!["completions", "zsh"],
        vec!["man"],
        vec!["--help"],
        vec!["--version"],
        vec!["run", "--help"],
        vec![
            "check",
            "tests/fixtures/warn/dropout_on_output.nnt",
            "--format",
            "json",
        ],
        vec!["run", "examples/xor.nnt", "--set", "train.epochs=2"],
        vec![
            "run",
            "examples/xor.nnt",
            "--set",
            "train.epochs=2",
            "--format",
            "jsonl",
        ],
    ] {
        let o = run_with_stdout(&args, dev_full(), 60);
        assert_eq!(o.code, Some(1), "{args:?}: {}", o.stderr);
        // A run's log has its own code (the weights are saved all the same).
        let code = if args[0] == "run" && !args.contains(&"--help") {
            "nnt::io::log_write_failed"
        } else {
            "nnt::io::stdout_failed"
        };
        assert!(o.stderr.contains(code), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
    }
}

/// The editor server's answers into a full stdout: it stopped with exit 1 and
/// said nothing; it now reports `nnt::io::stdout_failed` as every command does.
#[test]
fn the_editor_server_reports_a_full_stdout() {
    use std::io::Write;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let mut child = nnt()
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(dev_full())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    drop(stdin);
    let o = finish(child, 30, "lsp");
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains("nnt::io::stdout_failed"), "{}", o.stderr);
}

// ---------------------------------------------------------------- item 17

/// A diverged run exits 3 with `--plot`, whether its plot can be drawn or not.
#[test]
fn plot_keeps_the_diverged_status() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("loss.svg");
    let unwritable = dir.path().join("no-such-dir/loss.svg");
    let run = |out: &std::path::Path| {
        run_within(
            &[
                "run",
                "examples/pitfalls/diverge.nnt",
                "--plot",
                out.to_str().unwrap(),
            ],
            60,
        )
    };
    let o = run(&good);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    // An unwritable picture is found before training (issue 11, item 7).
    let o = run(&unwritable);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
}

/// An interrupted run exits 130 with `--plot` (an unwritable picture is found
/// before training, issue 11 item 7, so the plot of an interrupted run is written).
#[test]
fn plot_keeps_the_interrupted_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("loss.png");
    let mut child = nnt()
        .args([
            "run",
            "examples/xor.nnt",
            "--set",
            "train.epochs=100000000",
            "--format",
            "jsonl",
            "--plot",
            out.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first epoch line, then press Ctrl-C.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("\"event\":\"epoch\"") {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "the run ended early");
        seen.push(byte[0]);
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let reader = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let o = finish(child, 60, "interrupted run");
    let _ = reader.join();
    assert_eq!(o.code, Some(130), "{}", o.stderr);
    assert!(out.exists(), "the interrupted run is plotted");
}

/// `--plot x.jpg` and `plot -o x` are usage errors found before any work.
#[test]
fn plot_refuses_other_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(
        &log,
        "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":0.5}\n",
    )
    .unwrap();
    for name in ["loss.jpg", "loss", "loss.svg.txt"] {
        let out = dir.path().join(name);
        let out = out.to_str().unwrap();
        for args in [
            vec!["run", "examples/xor.nnt", "--plot", out],
            vec!["plot", log.to_str().unwrap(), "-o", out],
        ] {
            let o = run_within(&args, 60);
            assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
            assert!(
                o.stderr.contains("nnt::cli::unsupported_plot_format"),
                "{args:?}: {}",
                o.stderr
            );
            assert!(o.stdout.is_empty(), "{args:?}: trained anyway");
            assert!(!Path::new(out).exists(), "{args:?}: wrote {out}");
        }
    }
    // Upper-case extensions are the same formats.
    let out = dir.path().join("loss.PNG");
    let o = run_within(
        &["plot", log.to_str().unwrap(), "-o", out.to_str().unwrap()],
        60,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));
}

// ---------------------------------------------------------------- item 19

/// File errors of `fmt` and `plot` are diagnostics with `nnt::` codes.
#[test]
fn fmt_and_plot_file_errors_have_codes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.nnt");
    // A path that names no file is a usage error (§12), as for `run` and `check`.
    let o = run_within(&["fmt", missing.to_str().unwrap()], 30);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("nnt::cli::unreadable_recipe"),
        "{}",
        o.stderr
    );

    let o = run_within(
        &[
            "plot",
            "no-such-log.jsonl",
            "-o",
            dir.path().join("x.svg").to_str().unwrap(),
        ],
        30,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("nnt::plot::unreadable_log"),
        "{}",
        o.stderr
    );

    let log = dir.path().join("log.jsonl");
    std::fs::write(
        &log,
        "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":0.5}\n",
    )
    .unwrap();
    let out = dir.path().join("no-such-dir/x.svg");
    let o = run_within(
        &["plot", log.to_str().unwrap(), "-o", out.to_str().unwrap()],
        30,
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains("nnt::io::write_failed"), "{}", o.stderr);
}

/// `fmt` accepts a UTF-8 byte-order mark as `check` does, and drops it: the
/// canonical text is that of the recipe without it.
#[test]
fn fmt_accepts_and_drops_a_byte_order_mark() {
    let mut inputs = vec![
        manifest().join("tests/fixtures/fmt/messy.nnt"),
        manifest().join("tests/fixtures/fmt/comments.nnt"),
        manifest().join("examples/iris.nnt"),
    ];
    inputs.sort();
    for path in &inputs {
        let plain = std::fs::read(path).unwrap();
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(&plain);
        let expected = nnt::cli::format::format_recipe("r.nnt", &plain).unwrap();
        let got = nnt::cli::format::format_recipe("r.nnt", &bom)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got, expected, "{}", path.display());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bom.nnt");
    let canonical = std::fs::read(manifest().join("tests/fixtures/fmt/canonical.nnt")).unwrap();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&canonical);
    std::fs::write(&file, &bom).unwrap();
    let file = file.to_str().unwrap();
    let o = run_within(&["check", file], 30);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let o = run_within(&["fmt", "--check", file], 30);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stdout.contains("would reformat"), "{}", o.stdout);
    let o = run_within(&["fmt", file], 30);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(std::fs::read(file).unwrap(), canonical);
}

// ---------------------------------------------------------------- item 22

/// Arguments clap rejects (an unknown flag, a bad number, a missing value, an
/// empty path) are usage errors with the code `nnt::cli::usage`, exit 2.
#[test]
fn argument_errors_carry_the_usage_code() {
    for args in [
        vec!["--bogus"],
        vec!["run", "examples/xor.nnt", "--seed", "-1"],
        vec!["run", "examples/xor.nnt", "--save", ""],
        vec!["sweep", "examples/xor.nnt", "--shard", "x"],
        vec!["frobnicate"],
        vec![],
    ] {
        let o = run_within(&args, 30);
        assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
        assert!(
            o.stderr.starts_with("nnt::cli::usage\n"),
            "{args:?}: {}",
            o.stderr
        );
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}

/// `--seed` with `--set seed=`, or one key set to two values, is a usage error
/// (exit 2) for every command that reads a recipe; nothing runs.
#[test]
fn conflicting_options_are_a_usage_error() {
    for cmd in ["run", "check", "explain"] {
        for extra in [
            vec!["--seed", "3", "--set", "seed=4"],
            vec!["--seed", "3", "--set", "seed=3"],
            vec!["--set", "train.epochs=2", "--set", "train.epochs=3"],
        ] {
            let mut args = vec![cmd, "examples/xor.nnt"];
            args.extend(extra.iter().copied());
            let o = run_within(&args, 30);
            assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
            assert!(
                o.stderr.contains("nnt::cli::conflicting_options"),
                "{args:?}: {}",
                o.stderr
            );
            assert!(o.stdout.is_empty(), "{args:?}");
        }
    }
    // The same value twice is a usage error too (spec §18: a key given twice).
    let o = run_within(
        &[
            "check",
            "examples/xor.nnt",
            "--set",
            "train.epochs=2",
            "--set",
            "train.epochs = 2",
        ],
        30,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
}

/// `sgd(lr = -0.1, nesterov = true)` reports both errors (also a fixture:
/// tests/fixtures/invalid/nesterov_and_negative_lr.nnt).
#[test]
fn a_wrong_learning_rate_does_not_hide_other_errors() {
    let path = manifest().join("tests/fixtures/invalid/nesterov_and_negative_lr.nnt");
    let o = run_within(&["check", path.to_str().unwrap()], 30);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr.contains("nnt::check::out_of_range"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("nnt::check::nesterov"), "{}", o.stderr);
    assert!(o.stderr.contains("2 errors"), "{}", o.stderr);
}

// ---------------------------------------------------------------- item 20

/// The exploding-gradient help of a run whose inputs are normalised does not say
/// "normalise the inputs"; without `normalize` it does.
#[test]
fn exploding_gradient_help_depends_on_normalize() {
    let help = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "examples/pitfalls/exploding_gradients.nnt",
            "--format",
            "jsonl",
        ];
        args.extend_from_slice(extra);
        let o = run_within(&args, 120);
        o.stdout
            .lines()
            .find(|l| l.contains("\"code\":\"nnt::train::exploding_gradient\""))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no exploding gradient: {}", o.stdout))
    };
    assert!(help(&[]).contains("normalise the inputs"));
    let normalized = help(&["--set", "data.normalize=standard"]);
    assert!(!normalized.contains("normalise"), "{normalized}");
    let clipped = help(&["--set", "train.clip=norm(5.0)"]);
    assert!(!clipped.contains("clip"), "{clipped}");
}

// ---------------------------------------------------------------- item 14

/// A recipe with `layers` layers (dense and relu in turn) and `blank` blank lines
/// after the seed.
fn big_recipe(layers: usize, blank: usize) -> String {
    let mut s = String::from("seed = 1\n");
    s.push_str(&"\n".repeat(blank));
    s.push_str("data {\n    train = blobs(n = 20, features = 2, classes = 2)\n}\nmodel {\n");
    for i in 0..layers {
        s.push_str(if i % 2 == 0 {
            "    dense(2)\n"
        } else {
            "    relu\n"
        });
    }
    s.push_str(
        "    dense(2)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain {\n    epochs = 1\n}\n",
    );
    s
}

/// Peak resident memory (kB) of a child, sampled from /proc while it runs.
#[cfg(target_os = "linux")]
fn check_with_peak_memory(path: &Path, secs: u64) -> (Done, u64) {
    let child = nnt()
        .arg("check")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = std::sync::Arc::clone(&peak);
        std::thread::spawn(move || {
            while let Ok(text) = std::fs::read_to_string(&status) {
                if let Some(kb) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let done = finish(child, secs, "nnt check");
    let _ = sampler.join();
    (done, peak.load(std::sync::atomic::Ordering::Relaxed))
}

/// `check` is linear: 100 000 layers took about 40 minutes (each layer's line
/// was counted from the start of the file), 5 M blank lines took 120 bytes a line.
#[test]
#[cfg(target_os = "linux")]
fn check_is_linear_in_layers_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let layers = dir.path().join("layers.nnt");
    std::fs::write(&layers, big_recipe(100_000, 0)).unwrap();
    let start = Instant::now();
    let (o, _) = check_with_peak_memory(&layers, 120);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(start.elapsed() < Duration::from_secs(120));

    let blank = dir.path().join("blank.nnt");
    std::fs::write(&blank, big_recipe(1, 5_000_000)).unwrap();
    let (o, peak_kb) = check_with_peak_memory(&blank, 120);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    // Was ~600 MB; now ~73 MB: the text, a copy of it and the line index. (A
    // global allocator that copies growing blocks instead of moving their
    // pages took 98 MB.)
    assert!(peak_kb < 85_000, "5 M blank lines took {peak_kb} kB");
}

// ---------------------------------------------------------------- item 12

/// 100 × `dense(16384)` (the issue's case: the run aborted allocating hundreds of
/// GB) is refused by `check`, `explain` and `run` at once, with the size.
#[test]
fn a_model_too_large_to_allocate_is_refused_at_check_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = String::from(
        "seed = 1\ndata {\n    train = blobs(n = 64, features = 4, classes = 3)\n}\nmodel {\n",
    );
    for _ in 0..100 {
        recipe.push_str("    dense(16384)\n    relu\n");
    }
    recipe.push_str(
        "    dense(3)\n}\nloss = cross_entropy\noptimizer = sgd(lr = 0.01)\ntrain {\n    epochs = 1\n}\n",
    );
    let path = dir.path().join("huge.nnt");
    std::fs::write(&path, recipe).unwrap();
    for cmd in ["check", "explain", "run"] {
        let o = run_within(&[cmd, path.to_str().unwrap()], 60);
        assert_eq!(o.code, Some(1), "{cmd}: {}", o.stderr);
        assert!(
            o.stderr.contains("nnt::check::model_too_large"),
            "{cmd}: {}",
            o.stderr
        );
        assert!(o.stderr.contains("213 GB"), "{cmd}: {}", o.stderr);
    }
}

// ---------------------------------------------------------------- item 21

/// The text table keeps its columns for losses from 1e5 up (and tiny ones).
#[test]
fn text_table_stays_aligned_for_huge_losses() {
    use nnt::events::{EpochEvent, Event, Observer, StartEvent};
    use nnt::report::{TextObserver, TextOptions};
    let mut obs = TextObserver::new(Vec::new(), TextOptions::default());
    obs.event(&Event::Start(StartEvent {
        recipe: "r.nnt".into(),
        parameters: 10,
        train_rows: 80,
        valid_rows: Some(20),
        test_rows: None,
        seed: 0,
        nnt: "0.2.0".into(),
        config: String::new(),
        dropped_rows: None,
        class_names: None,
        classes: None,
        epochs: 6,
        steps_per_epoch: 3,
    }));
    for (i, loss) in [0.5, 99999.0, 123456.789, 1.7e308, 2.5e-7, 12345678901.0]
        .into_iter()
        .enumerate()
    {
        obs.event(&Event::Epoch(EpochEvent {
            epoch: i + 1,
            lr: 0.01,
            train_loss: loss,
            train_accuracy: None,
            valid_loss: Some(loss * 2.0),
            valid_accuracy: None,
            valid_metrics: Vec::new(),
            penalty: None,
            grad_norm: 1.0,
            seconds: None,
        }));
    }
    let out = String::from_utf8(obs.into_inner()).unwrap();
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    let header = lines[1];
    for row in &lines[2..] {
        assert_eq!(row.len(), header.len(), "{out}");
        // The columns end where the header's do.
        for col in header.match_indices("loss") {
            let end = col.0 + 4;
            assert!(row.as_bytes()[end - 1] != b' ', "{row}\n{header}");
        }
    }
}

/// `explain` with `init_from` shows `init_from` in the init column, not the
/// initialiser it replaces; `--resume`'s help says where a relative path starts.
#[test]
fn explain_shows_init_from_and_resume_help_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("w.safetensors");
    let o = run_within(
        &[
            "run",
            "examples/xor.nnt",
            "--set",
            "train.epochs=1",
            "--format",
            "jsonl",
            "--save",
            weights.to_str().unwrap(),
        ],
        60,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let set = format!("init_from=\"{}\"", weights.display());
    let o = run_within(&["explain", "examples/xor.nnt", "--set", &set], 30);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let dense: Vec<&str> = o.stdout.lines().filter(|l| l.contains("dense(")).collect();
    assert!(!dense.is_empty(), "{}", o.stdout);
    for l in dense {
        assert!(l.trim_end().ends_with("init_from"), "{}", o.stdout);
    }
    let o = run_within(&["run", "--help"], 30);
    assert!(
        o.stdout.contains("relative to the current directory"),
        "{}",
        o.stdout
    );
}

/// The excerpt of a CSV error is the file's line as it is: an empty cell is not
/// shown as a blank the file does not have (the column still names the cell).
#[test]
fn csv_excerpts_insert_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), "x,y,label\n1,,0\n2,3,1\n").unwrap();
    let recipe = dir.path().join("r.nnt");
    std::fs::write(
        &recipe,
        "seed = 1\ndata {\n    train = csv(\"d.csv\", label = \"label\")\n}\nmodel {\n    dense(2)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain {\n    epochs = 1\n}\n",
    )
    .unwrap();
    let o = run_within(&["check", recipe.to_str().unwrap()], 30);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(o.stderr.contains("nnt::data::empty_cell"), "{}", o.stderr);
    assert!(o.stderr.contains("│ 1,,0\n"), "{}", o.stderr);
    assert!(o.stderr.contains("d.csv:2:3]"), "{}", o.stderr);
}

// ---------------------------------------------------------------- control characters

/// A data file from elsewhere can hold a terminal's escape sequences (ESC, the
/// C1 CSI) in a cell or a column name. The diagnostics that quote them, and
/// their excerpt of the line, show them escaped (`\u{1b}`) or as `?`, never
/// raw: a cell could otherwise recolour, clear or retitle the terminal.
#[test]
fn control_characters_of_a_data_file_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("d.csv"),
        "x,y\u{1b}]0;title\u{7},label\n1,2,0\n3,\u{1b}[2J\u{9b}31m,1\n",
    )
    .unwrap();
    // `nnt COMMAND r.nnt` with `data` holding `data_items`: its stderr, after
    // checking that it failed and echoed no control character raw.
    let stderr_of = |command: &str, data_items: &str| {
        std::fs::write(
            d.join("r.nnt"),
            format!(
                "data {{\n{data_items}}}\nmodel {{\n    dense(2)\n}}\nloss = cross_entropy\n\
                 optimizer = sgd(lr = 0.1)\ntrain {{\n    epochs = 1\n    batch = 2\n}}\n"
            ),
        )
        .unwrap();
        let out = nnt()
            .current_dir(d)
            .args([command, "r.nnt"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            !err.contains(['\u{1b}', '\u{7}', '\u{9b}']),
            "a control character echoed raw:\n{err:?}"
        );
        err
    };
    for command in ["check", "run"] {
        let err = stderr_of(
            command,
            "    train = csv(\"d.csv\", label = \"label\")\n    features = [\"x\", \"nope\"]\n",
        );
        assert!(
            err.contains(r"the columns are: x, y\u{1b}]0;title\u{7}, label"),
            "{err}"
        );
        assert!(err.contains("x,y?]0;title?,label"), "{err}");
    }
    // The bad cell alone: its message escapes it, its excerpt shows `?`s.
    let err = stderr_of("check", "    train = csv(\"d.csv\", label = \"label\")\n");
    assert!(
        err.contains(r"is not a number: `\u{1b}[2J\u{9b}31m`"),
        "{err}"
    );
    assert!(err.contains("3,?[2J??31m,1"), "{err}");
    // A recipe's own string: its excerpt shows `?`s, its message escapes.
    let err = stderr_of(
        "check",
        "    train = csv(\"no\u{1b}[2J.csv\", label = \"label\")\n",
    );
    assert!(err.contains(r#"csv("no?[2J.csv""#), "{err}");
}

/// Class and column names from a data file reach the reports of `nnt eval`
/// and `nnt explain` (of the recipe and of the model file): their control
/// characters are shown escaped there too (they were printed raw, so a class
/// named with a terminal's escape sequence recoloured or retitled it).
#[test]
fn reports_escape_the_control_characters_of_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let class = "\u{1b}[31mred\u{1b}]0;T\u{7}";
    std::fs::write(
        d.join("d.csv"),
        format!("x\u{1b}[2J,label\n1,{class}\n2,b\n3,{class}\n4,b\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("r.nnt"),
        "data { train = csv(\"d.csv\", label = \"label\") }\nmodel { dense(2) }\n\
         loss = cross_entropy\noptimizer = adam(lr = 0.01)\nsave = \"m.safetensors\"\n\
         train { epochs = 1 }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = nnt().current_dir(d).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        text
    };
    run(&["run", "r.nnt"]);
    for args in [
        &["eval", "m.safetensors", "d.csv"][..],
        &["explain", "m.safetensors"],
        &["explain", "r.nnt"],
    ] {
        let out = run(args);
        assert!(
            !out.contains(['\u{1b}', '\u{7}']),
            "{args:?} printed a control character raw:\n{out:?}"
        );
        assert!(out.contains(r"\u{1b}[31mred"), "{args:?}:\n{out}");
    }
}
