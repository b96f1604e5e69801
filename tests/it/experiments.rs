//! §18 end to end with the `nnt` binary on synthetic data: `--log` beside the text
//! view, the `start`/`end` additions, repeated `--set` keys, `nnt sweep` (grid,
//! random, jobs, shards, resume, summary) and `nnt plot` of several logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nnt(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    nnt(dir).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// A small xor recipe (3 epochs, early stopping, a saved model) in a fresh folder.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("xor.nnt");
    std::fs::write(
        &recipe,
        "# a tiny experiment\nseed = 5\n\ndata {\n    train = xor(n = 64, noise = 0.1)\n    valid = split(train, 0.25)\n}\n\nmodel {\n    dense(4)\n    tanh\n    dense(2)\n}\n\nloss = cross_entropy\noptimizer = sgd(0.1, momentum = 0.9)\nsave = \"model.safetensors\"\n\ntrain {\n    epochs = 3\n    batch = 16\n    early_stop = patience(2, monitor = valid_loss)\n}\n",
    )
    .unwrap();
    (dir, recipe)
}

fn events(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn log_file_beside_the_text_view() {
    let (dir, _) = workspace();
    let o = run(dir.path(), &["run", "xor.nnt", "--log", "out/log.jsonl"]);
    // The folder does not exist: the write fails, and nothing is left behind.
    assert_ne!(o.status.code(), Some(0));
    assert!(!dir.path().join("out/log.jsonl").exists());
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = run(dir.path(), &["run", "xor.nnt", "--log", "out/log.jsonl"]);
    ok(&o);
    let shown = text(&o.stdout);
    assert!(
        !shown.contains("\"event\""),
        "the terminal shows the text view"
    );
    assert!(shown.contains("epoch"), "{shown}");
    let log = std::fs::read_to_string(dir.path().join("out/log.jsonl")).unwrap();
    let jsonl = run(dir.path(), &["run", "xor.nnt", "--format", "jsonl"]);
    ok(&jsonl);
    assert_eq!(log, text(&jsonl.stdout), "the file is the JSONL log");

    let ev = events(&log);
    let start = &ev[0];
    assert_eq!(start["nnt"], env!("CARGO_PKG_VERSION"));
    let config = start["config"].as_str().unwrap();
    // The recipe as `nnt fmt` writes it.
    std::fs::copy(dir.path().join("xor.nnt"), dir.path().join("copy.nnt")).unwrap();
    ok(&run(dir.path(), &["fmt", "copy.nnt"]));
    assert_eq!(config, read(dir.path().join("copy.nnt")));
    assert!(
        config.starts_with("# a tiny experiment\nseed = 5\n\ndata {\n"),
        "{config}"
    );
    let end = ev.last().unwrap();
    let best_epoch = end["best_epoch"].as_u64().unwrap();
    let best = &end["best"];
    assert_eq!(best["epoch"].as_u64(), Some(best_epoch));
    let epoch_event = ev
        .iter()
        .find(|e| e["event"] == "epoch" && e["epoch"].as_u64() == Some(best_epoch))
        .unwrap();
    for (k, v) in best.as_object().unwrap() {
        assert_eq!(&epoch_event[k], v, "best.{k}");
    }
    assert_eq!(
        best.as_object().unwrap().len() + 1,
        epoch_event.as_object().unwrap().len()
    );
    assert_eq!(end["save"], "./model.safetensors");
    assert!(dir.path().join("model.safetensors").exists());
}

#[test]
fn config_records_the_overrides() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &[
            "run",
            "xor.nnt",
            "--format",
            "jsonl",
            "--set",
            "optimizer.lr=0.05",
            "--set",
            "model.0.units=6",
        ],
    );
    ok(&o);
    let ev = events(&text(&o.stdout));
    let config = ev[0]["config"].as_str().unwrap();
    assert!(
        config.contains("optimizer = sgd(0.05, momentum = 0.9)"),
        "{config}"
    );
    assert!(config.contains("    dense(6)\n"), "{config}");
    // Without early_stop the kept epoch is the last.
    let plain = std::fs::read_to_string(dir.path().join("xor.nnt"))
        .unwrap()
        .replace("    early_stop = patience(2, monitor = valid_loss)\n", "");
    std::fs::write(dir.path().join("plain.nnt"), plain).unwrap();
    let o = run(dir.path(), &["run", "plain.nnt", "--format", "jsonl"]);
    ok(&o);
    let ev = events(&text(&o.stdout));
    let end = ev.last().unwrap();
    assert!(end.get("best_epoch").is_none());
    assert_eq!(end["best"]["epoch"].as_u64(), Some(3));
    assert_eq!(&end["best"]["train_loss"], &ev[ev.len() - 2]["train_loss"]);
}

#[test]
fn a_key_given_twice_is_a_usage_error() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &[
            "run",
            "xor.nnt",
            "--set",
            "optimizer.lr=0.1",
            "--set",
            "optimizer.lr = 0.2",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nnt::cli::conflicting_options"));
    let o = run(
        dir.path(),
        &["check", "xor.nnt", "--seed", "3", "--set", "seed=4"],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// One layer index spelled two ways (`model.0` and `model.00`) is one key
/// given twice: a usage error for `nnt run` (nothing trained), for `nnt sweep`
/// (between `--set` and `--grid`; no folder made) and for the checker's own
/// `--set` list (`nnt::check::bad_override`).
#[test]
fn a_layer_index_spelled_twice_is_one_key() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &[
            "run",
            "xor.nnt",
            "--set",
            "model.0.units=5",
            "--set",
            "model.00.units=6",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("nnt::cli::conflicting_options"),
        "{}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    assert!(!dir.path().join("model.safetensors").exists());
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--set",
            "model.000.units=5",
            "--grid",
            "model.0.units=[4, 8]",
            "-o",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(
            "--set model.000.units=5 and --grid model.0.units=[4, 8] both set `model.0.units`"
        ),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("out").exists());
    // Different layers stay different keys.
    let o = run(
        dir.path(),
        &[
            "check",
            "xor.nnt",
            "--set",
            "model.0.units=5",
            "--set",
            "model.2.units=2",
        ],
    );
    ok(&o);
    // The checker refuses the pair too when it is handed both.
    let report = nnt::check::check_recipe(
        "xor.nnt",
        &std::fs::read(dir.path().join("xor.nnt")).unwrap(),
        dir.path(),
        &nnt::check::CheckOptions {
            overrides: vec!["model.0.units=5".into(), "model.00.units=6".into()],
            ..nnt::check::CheckOptions::default()
        },
    );
    let codes: Vec<String> = report
        .errors
        .iter()
        .filter_map(|e| e.code().map(|c| c.to_string()))
        .collect();
    assert_eq!(codes, ["nnt::check::bad_override"], "{codes:?}");
}

/// A whole value and one of its own parts (`model.0` and `model.0.units`,
/// `optimizer` and `optimizer.lr`) set one thing twice: which one won depended
/// on their order. A usage error naming both, in every command that takes
/// `--set` and in `nnt sweep` between `--set` and `--grid` keys; nothing runs.
#[test]
fn a_whole_value_and_its_part_are_one_key_given_twice() {
    let (dir, _) = workspace();
    let pairs = [
        ["model.0.units=3", "model.0=dense(5)"],
        ["optimizer.lr=0.1", "optimizer=adam"],
        [
            "train.early_stop=patience(3)",
            "train.early_stop.monitor=valid_loss",
        ],
    ];
    let commands: [&[&str]; 6] = [
        &["run", "xor.nnt"],
        &["check", "xor.nnt"],
        &["check", "xor.nnt", "--format", "json"],
        &["explain", "xor.nnt"],
        &["export", "torch", "xor.nnt", "-o", "exported"],
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "train.epochs=[1]",
            "-o",
            "out",
        ],
    ];
    for [a, b] in pairs {
        for (first, second) in [(a, b), (b, a)] {
            for command in commands {
                let mut args = command.to_vec();
                args.extend(["--set", first, "--set", second]);
                let o = run(dir.path(), &args);
                let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
                assert_eq!(o.status.code(), Some(2), "{args:?}\n{all}");
                assert!(
                    all.contains("nnt::cli::conflicting_options"),
                    "{args:?}\n{all}"
                );
                assert!(
                    all.contains(&format!("--set {first} and --set {second} both set")),
                    "{args:?}\n{all}"
                );
                assert!(!dir.path().join("model.safetensors").exists());
                assert!(!dir.path().join("exported").exists());
                assert!(!dir.path().join("out").exists());
            }
        }
    }
    // Between --grid keys, and between --set and --grid.
    for (flags, want) in [
        (
            [
                "--grid",
                "model.0=[dense(3)]",
                "--grid",
                "model.0.units=[2]",
            ],
            "--grid model.0=[dense(3)] and --grid model.0.units=[2] both set `model.0.units`",
        ),
        (
            [
                "--grid",
                "optimizer.lr=[0.1]",
                "--grid",
                "optimizer=[adam(0.1)]",
            ],
            "--grid optimizer.lr=[0.1] and --grid optimizer=[adam(0.1)] both set `optimizer.lr`",
        ),
        (
            [
                "--set",
                "model.0=dense(3)",
                "--grid",
                "model.0.units=[2, 4]",
            ],
            "--set model.0=dense(3) and --grid model.0.units=[2, 4] both set `model.0.units`",
        ),
        (
            [
                "--set",
                "optimizer.lr=0.1",
                "--grid",
                "optimizer=[adam(0.1)]",
            ],
            "--set optimizer.lr=0.1 and --grid optimizer=[adam(0.1)] both set `optimizer.lr`",
        ),
    ] {
        let mut args = vec!["sweep", "xor.nnt", "-o", "out"];
        args.extend(flags);
        let o = run(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(want),
            "{args:?}\n{}",
            text(&o.stderr)
        );
        assert!(!dir.path().join("out").exists());
    }
    // Keys that only start alike are different keys.
    let o = run(
        dir.path(),
        &[
            "check",
            "xor.nnt",
            "--set",
            "model.1=relu",
            "--set",
            "model.2.units=3",
        ],
    );
    ok(&o);
    // The checker's own list (a library caller's) applies such a pair in
    // order: the part refines the whole.
    let report = nnt::check::check_recipe(
        "xor.nnt",
        &std::fs::read(dir.path().join("xor.nnt")).unwrap(),
        dir.path(),
        &nnt::check::CheckOptions {
            overrides: vec!["model.0=dense(5)".into(), "model.0.units=3".into()],
            ..nnt::check::CheckOptions::default()
        },
    );
    assert!(report.errors.is_empty());
    let program = report.program.unwrap();
    assert_eq!(program.model.layers[0].out_width, 3);
}

// ------------------------------------------------------------------ sweeps

const GRID_LR: &str = "optimizer.lr=[0.1, 0.01]";
const GRID_UNITS: &str = "model.0.units=[4, 8]";

fn sweep(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep", "xor.nnt", "--grid", GRID_LR, "--grid", GRID_UNITS, "-o", "out",
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// The rows of `DIR/summary.csv` as maps from column to cell.
fn summary(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// The `column` of each run in the order of sweep's ranked table (its run
/// number is the second word of each row after the two header lines).
fn ranked_column(
    table: &str,
    rows: &[std::collections::BTreeMap<String, String>],
    column: &str,
) -> Vec<f64> {
    table
        .lines()
        .skip(2)
        .map(|l| {
            let k: usize = l.split_whitespace().nth(1).unwrap().parse().unwrap();
            rows[k][column].parse().unwrap()
        })
        .collect()
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn run_dirs(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run-"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_two_by_two_grid_with_two_jobs() {
    let (dir, _) = workspace();
    let o = sweep(dir.path(), &["--jobs", "2"]);
    ok(&o);
    let out = dir.path().join("out");
    assert_eq!(run_dirs(&out), ["run-0", "run-1", "run-2", "run-3"]);
    // The last grid varies fastest.
    let want = [("0.1", "4"), ("0.1", "8"), ("0.01", "4"), ("0.01", "8")];
    for (k, (lr, units)) in want.iter().enumerate() {
        let run = out.join(format!("run-{k}"));
        let recipe = read(run.join("recipe.nnt"));
        assert!(
            recipe.contains(&format!("sgd({lr}, momentum = 0.9)")),
            "{recipe}"
        );
        assert!(
            recipe.contains(&format!("    dense({units})\n")),
            "{recipe}"
        );
        assert!(recipe.contains("save = \"model.safetensors\""), "{recipe}");
        assert!(run.join("model.safetensors").is_file());
        assert!(run.join("done").is_file());
        let log = read(run.join("log.jsonl"));
        let ev = events(&log);
        assert_eq!(
            ev[0]["config"],
            recipe.as_str(),
            "the log records its recipe"
        );
        assert_eq!(ev.last().unwrap()["event"], "end");
    }
    let rows = summary(&out);
    assert_eq!(rows.len(), 4);
    for (k, row) in rows.iter().enumerate() {
        let ev = events(&read(out.join(format!("run-{k}/log.jsonl"))));
        let end = ev.last().unwrap();
        assert_eq!(row["k"], k.to_string());
        assert_eq!(row["optimizer.lr"], want[k].0);
        assert_eq!(row["model.0.units"], want[k].1);
        assert_eq!(row["reason"], end["reason"].as_str().unwrap());
        assert_eq!(row["epochs"], end["epochs"].to_string());
        assert_eq!(row["kept_epoch"], end["best"]["epoch"].to_string());
        for m in [
            "train_loss",
            "train_accuracy",
            "valid_loss",
            "valid_accuracy",
        ] {
            assert_eq!(row[m], end["best"][m].to_string(), "run-{k} {m}");
        }
    }
    // The table is ranked by the recipe's monitor, valid_loss, lowest first.
    let table = text(&o.stdout);
    assert!(table.contains("ranked by valid_loss"), "{table}");
    let ranked = ranked_column(&table, &rows, "valid_loss");
    assert_eq!(ranked.len(), 4);
    assert!(
        ranked.windows(2).all(|w| w[0] <= w[1]),
        "{ranked:?}\n{table}"
    );
    // No progress display without a terminal.
    assert!(!text(&o.stderr).contains("runs"), "{}", text(&o.stderr));
}

#[test]
fn each_runs_log_equals_nnt_run_of_its_recipe() {
    let (dir, _) = workspace();
    ok(&sweep(dir.path(), &["--jobs", "3"]));
    for k in 0..4 {
        let recipe = format!("out/run-{k}/recipe.nnt");
        let o = run(dir.path(), &["run", &recipe, "--format", "jsonl"]);
        ok(&o);
        assert_eq!(
            text(&o.stdout),
            read(dir.path().join(format!("out/run-{k}/log.jsonl"))),
            "run-{k}"
        );
    }
}

#[test]
fn a_rerun_trains_nothing_and_a_killed_run_is_rerun() {
    let (dir, _) = workspace();
    ok(&sweep(dir.path(), &[]));
    let out = dir.path().join("out");
    let logs: Vec<String> = (0..4)
        .map(|k| read(out.join(format!("run-{k}/log.jsonl"))))
        .collect();
    let stamp = |k: usize| {
        std::fs::metadata(out.join(format!("run-{k}/log.jsonl")))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = (0..4).map(stamp).collect();
    let o = sweep(dir.path(), &["--jobs", "2"]);
    ok(&o);
    assert!(
        text(&o.stdout).contains("(0 run now, 4 skipped)"),
        "{}",
        text(&o.stdout)
    );
    // Said on stderr without a terminal too (it went to a hidden bar).
    assert!(
        text(&o.stderr).contains("4 run(s) already complete, skipped"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        (0..4).map(stamp).collect::<Vec<_>>(),
        before,
        "nothing rewritten"
    );

    // A run killed before its marker, and one whose log was cut short.
    std::fs::remove_file(out.join("run-1/done")).unwrap();
    let cut: String = logs[2].lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(out.join("run-2/log.jsonl"), cut).unwrap();
    // A summary built now counts only what is complete.
    let o = run(dir.path(), &["sweep", "--summarize", "out"]);
    ok(&o);
    let ks: Vec<String> = summary(&out).iter().map(|r| r["k"].clone()).collect();
    assert_eq!(ks, ["0", "3"], "an incomplete run is never counted");

    let o = sweep(dir.path(), &[]);
    ok(&o);
    assert!(
        text(&o.stdout).contains("(2 run now, 2 skipped)"),
        "{}",
        text(&o.stdout)
    );
    for (k, log) in logs.iter().enumerate() {
        assert_eq!(
            &read(out.join(format!("run-{k}/log.jsonl"))),
            log,
            "run-{k}"
        );
    }
    assert_eq!(stamp(0), before[0]);
    assert_eq!(stamp(3), before[3]);
    assert_eq!(summary(&out).len(), 4);

    // A different grid in the same folder reruns the runs whose recipe changed.
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            GRID_LR,
            "--grid",
            "model.0.units=[4, 6]",
            "-o",
            "out",
        ],
    );
    ok(&o);
    assert!(
        text(&o.stdout).contains("(2 run now, 2 skipped)"),
        "{}",
        text(&o.stdout)
    );
    assert!(read(out.join("run-3/recipe.nnt")).contains("dense(6)"));
}

#[test]
fn two_shards_in_separate_processes_cover_every_run_once() {
    let (dir, _) = workspace();
    let spawn = |shard: &str| {
        nnt(dir.path())
            .args([
                "sweep",
                "xor.nnt",
                "--grid",
                GRID_LR,
                "--grid",
                GRID_UNITS,
                "--grid",
                "train.batch=[8, 16, full]",
                "--shard",
                shard,
                "-o",
                "out",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("0/2"), spawn("1/2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    ok(&a);
    ok(&b);
    for o in [&a, &b] {
        assert!(
            text(&o.stdout).contains("(6 run now, 0 skipped)"),
            "{}",
            text(&o.stdout)
        );
    }
    let out = dir.path().join("out");
    let all: Vec<String> = (0..12).map(|k| format!("run-{k}")).collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(run_dirs(&out), sorted);
    for k in 0..12 {
        assert!(out.join(format!("run-{k}/done")).is_file(), "run-{k}");
    }
    // Each shard ran exactly its own runs: rerunning either trains nothing.
    for shard in ["0/2", "1/2"] {
        let o = run(
            dir.path(),
            &[
                "sweep",
                "xor.nnt",
                "--grid",
                GRID_LR,
                "--grid",
                GRID_UNITS,
                "--grid",
                "train.batch=[8, 16, full]",
                "--shard",
                shard,
                "-o",
                "out",
            ],
        );
        ok(&o);
        assert!(
            text(&o.stdout).contains("(0 run now, 6 skipped)"),
            "{}",
            text(&o.stdout)
        );
    }
    let o = run(dir.path(), &["sweep", "--summarize", "out"]);
    ok(&o);
    let rows = summary(&out);
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[5]["train.batch"], "full");
    assert_eq!(rows[5]["model.0.units"], "8");
    assert_eq!(rows[5]["optimizer.lr"], "0.1");
}

#[test]
fn random_draws_distinct_combinations_with_the_seed() {
    let (dir, _) = workspace();
    let args = |o: &str| {
        vec![
            "sweep".to_string(),
            "xor.nnt".into(),
            "--grid".into(),
            GRID_LR.into(),
            "--grid".into(),
            "model.0.units=[2, 4, 8]".into(),
            "--random".into(),
            "3".into(),
            "--jobs".into(),
            "2".into(),
            "-o".into(),
            o.into(),
        ]
    };
    let pairs = |o: &str| {
        let a: Vec<String> = args(o);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(&run(dir.path(), &a));
        summary(&dir.path().join(o))
            .iter()
            .map(|r| (r["optimizer.lr"].clone(), r["model.0.units"].clone()))
            .collect::<Vec<_>>()
    };
    let a = pairs("a");
    assert_eq!(a.len(), 3);
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), 3, "{a:?}");
    assert_eq!(a, pairs("b"), "the recipe's seed decides the draw");
    // More draws than combinations: all of them, and a warning says so.
    let o = run(
        dir.path(),
        &[
            "sweep", "xor.nnt", "--grid", GRID_LR, "--random", "5", "-o", "c",
        ],
    );
    ok(&o);
    assert_eq!(summary(&dir.path().join("c")).len(), 2);
    assert!(
        text(&o.stderr).contains(
            "--random 5 asks for more runs than the grids have combinations (2): all 2 are run"
        ),
        "{}",
        text(&o.stderr)
    );
    // As many as there are: no warning.
    let o = run(
        dir.path(),
        &[
            "sweep", "xor.nnt", "--grid", GRID_LR, "--random", "2", "-o", "c",
        ],
    );
    ok(&o);
    assert!(!text(&o.stderr).contains("random"), "{}", text(&o.stderr));
}

/// `--random N` needs no count of the combinations: seven grids of 1000
/// values (10^21 combinations, more than a u64 holds) still draw N runs, the
/// same ones for every shard. Without `--random` they are refused.
#[test]
fn random_draws_from_grids_too_large_to_count() {
    let (dir, _) = workspace();
    let list = |f: &dyn Fn(usize) -> String| {
        let v: Vec<String> = (1..=1000).map(f).collect();
        format!("[{}]", v.join(", "))
    };
    let grids = [
        format!(
            "optimizer.lr={}",
            list(&|i| format!("{}", i as f64 / 1000.0))
        ),
        format!(
            "optimizer.momentum={}",
            list(&|i| format!("{}", (i - 1) as f64 / 1000.0))
        ),
        format!("model.0.units={}", list(&|i| i.to_string())),
        format!(
            "data.train.noise={}",
            list(&|i| format!("{}", i as f64 / 10000.0))
        ),
        format!("seed={}", list(&|i| i.to_string())),
        format!(
            "data.valid.fraction={}",
            list(&|i| format!("{}", 0.1 + i as f64 / 5000.0))
        ),
        format!("data.train.n={}", list(&|i| (63 + i).to_string())),
    ];
    let args = |extra: &[&str], out: &str| {
        let mut a: Vec<String> = vec!["sweep".into(), "xor.nnt".into()];
        for g in &grids {
            a.push("--grid".into());
            a.push(g.clone());
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["-o".to_string(), out.to_string()]);
        a
    };
    let go = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(dir.path(), &a)
    };
    let o = go(args(&[], "all"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("too many combinations to run them all"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("all").exists());
    let o = go(args(&["--random", "2"], "a"));
    ok(&o);
    assert_eq!(run_dirs(&dir.path().join("a")), ["run-0", "run-1"]);
    let rows = summary(&dir.path().join("a"));
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0]["model.0.units"], rows[1]["model.0.units"]);
    // The same runs, also split over two shards.
    for shard in ["0/2", "1/2"] {
        ok(&go(args(&["--random", "2", "--shard", shard], "b")));
    }
    for k in 0..2 {
        assert_eq!(
            read(dir.path().join(format!("a/run-{k}/recipe.nnt"))),
            read(dir.path().join(format!("b/run-{k}/recipe.nnt")))
        );
    }
    // More runs than one sweep plans: refused, whatever the grids.
    let o = go(args(&["--random", "1000001"], "c"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(!dir.path().join("c").exists());
}

#[test]
fn data_files_resolve_from_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp");
    std::fs::create_dir_all(exp.join("data")).unwrap();
    let three = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/data/three.csv");
    std::fs::copy(three, exp.join("data/three.csv")).unwrap();
    std::fs::write(
        exp.join("r.nnt"),
        "data {\n    train = csv(\"data/three.csv\", label = \"label\")\n}\nmodel {\n    dense(4)\n    relu\n    dense(3)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain {\n    epochs = 2\n    batch = 4\n}\n",
    )
    .unwrap();
    let o = run(
        dir.path(),
        &[
            "sweep",
            "exp/r.nnt",
            "--grid",
            "train.batch=[2, 4]",
            "-o",
            "sweeps/one",
        ],
    );
    ok(&o);
    let recipe = read(dir.path().join("sweeps/one/run-0/recipe.nnt"));
    assert!(
        recipe.contains("csv(\"../../../exp/data/three.csv\", label = \"label\")"),
        "{recipe}"
    );
    // No valid split and no monitor: ranked by train_loss.
    let rows = summary(&dir.path().join("sweeps/one"));
    assert_eq!(rows.len(), 2);
    assert!(
        text(&o.stdout).contains("ranked by train_loss"),
        "{}",
        text(&o.stdout)
    );
    let o = run(
        dir.path(),
        &["run", "sweeps/one/run-1/recipe.nnt", "--format", "jsonl"],
    );
    ok(&o);
    assert_eq!(
        text(&o.stdout),
        read(dir.path().join("sweeps/one/run-1/log.jsonl"))
    );
}

#[test]
fn sweep_usage_and_recipe_errors() {
    let (dir, _) = workspace();
    // A key in --grid and --set, a bad list, a bad shard: usage errors, nothing run.
    for args in [
        vec![
            "sweep",
            "xor.nnt",
            "--grid",
            GRID_LR,
            "--set",
            "optimizer.lr=0.3",
            "-o",
            "out",
        ],
        vec![
            "sweep",
            "xor.nnt",
            "--grid",
            "optimizer.lr=0.1",
            "-o",
            "out",
        ],
        vec![
            "sweep", "xor.nnt", "--grid", GRID_LR, "--shard", "2/2", "-o", "out",
        ],
        vec![
            "sweep", "xor.nnt", "--grid", GRID_LR, "--jobs", "0", "-o", "out",
        ],
        vec!["sweep", "xor.nnt", "-o", "out"],
    ] {
        let o = run(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o.stderr));
        assert!(!dir.path().join("out").exists(), "{args:?}");
    }
    // A key the recipe does not have: the check error, shown on the override.
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "optimizer.lrr=[0.1, 0.2]",
            "-o",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("nnt::check::unknown_argument"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("--grid optimizer.lrr=0.1"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("out").exists());
    // A value out of range: the check error, nothing run.
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "model.0.units=[4, 0]",
            "-o",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!dir.path().join("out").exists());
    // A run whose data fails at run time is reported, not counted, and rerun next time.
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "data.valid.fraction=[0.25, 0.999]",
            "-o",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("run-1 failed"),
        "{}",
        text(&o.stderr)
    );
    assert!(read(dir.path().join("out/run-1/stderr.txt")).contains("nnt::"));
    assert!(!dir.path().join("out/run-1/done").exists());
    assert_eq!(summary(&dir.path().join("out")).len(), 1);
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "data.valid.fraction=[0.25, 0.999]",
            "-o",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("(0 run now, 1 skipped)"),
        "{}",
        text(&o.stdout)
    );
}

/// A run that misses an `expect` item (exit 4) finished: it is complete
/// (marker, summary row, skipped on a rerun); the sweep names it and exits 4.
#[test]
fn a_run_that_misses_its_expectations_is_complete() {
    let (dir, recipe) = workspace();
    let mut text_of = read(&recipe);
    text_of.push_str("\nexpect {\n    lr = at_most(0.05)\n}\n");
    std::fs::write(&recipe, text_of).unwrap();
    let args = ["sweep", "xor.nnt", "--grid", GRID_LR, "-o", "out"];
    let o = run(dir.path(), &args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(!err.contains("failed:"), "{err}");
    assert!(err.contains("nnt::cli::expectations_missed"), "{err}");
    assert!(
        err.contains("1 of 2 run(s) missed their expectations: run-0"),
        "{err}"
    );
    let out = dir.path().join("out");
    assert!(out.join("run-0/done").is_file());
    assert!(out.join("run-1/done").is_file());
    let rows = summary(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["optimizer.lr"], "0.1");
    assert_eq!(rows[0]["expectations"], "failed");
    assert_eq!(rows[1]["expectations"], "met");
    assert!(!rows[0]["train_loss"].is_empty());
    // Nothing is trained again, and the status says the same.
    let o = run(dir.path(), &args);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("(0 run now, 2 skipped)"),
        "{}",
        text(&o.stdout)
    );
    assert!(text(&o.stderr).contains("run-0"), "{}", text(&o.stderr));
}

/// Every run whose recipe does not check is reported before anything runs:
/// each distinct error once (a bad value is in several runs), shown on the
/// `--grid` value that caused it, then how many runs do not check.
#[test]
fn every_run_that_does_not_check_is_reported() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "optimizer.lr=[1, -1, 0]",
            "--grid",
            "model.0.units=[0, 2]",
            "-o",
            "out",
        ],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!dir.path().join("out").exists());
    for (value, message) in [
        ("model.0.units=0", "units must be at least 1, found 0"),
        (
            "optimizer.lr=-1",
            "the learning rate must be greater than 0, found -1",
        ),
        (
            "optimizer.lr=0",
            "the learning rate must be greater than 0, found 0",
        ),
    ] {
        assert_eq!(err.matches(message).count(), 1, "{message}\n{err}");
        assert!(
            err.contains(&format!("[--grid {value}:1:")),
            "{value}\n{err}"
        );
    }
    assert!(!err.contains("--set"), "{err}");
    assert!(
        err.contains(
            "5 of 6 run(s) do not check (run-0, run-2, run-3, run-4, run-5); nothing was run"
        ),
        "{err}"
    );
    // A --set value keeps its own label; a shard reports its own runs.
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--set",
            "train.epochs=0",
            "--grid",
            "optimizer.lr=[1, -1]",
            "--shard",
            "1/2",
            "-o",
            "out",
        ],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("[--set train.epochs=0:1:"), "{err}");
    assert!(!err.contains("--grid"), "{err}");
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "optimizer.lr=[1, -1, -2]",
            "--shard",
            "1/2",
            "-o",
            "out",
        ],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("1 of 1 run(s) do not check (run-1)"), "{err}");
    assert!(!err.contains("found -2"), "{err}");
    assert!(!dir.path().join("out").exists());
    // Many distinct errors: the first 20, and a word about the rest.
    let many: Vec<String> = (1..=30).map(|i| format!("-{i}")).collect();
    let grid = format!("optimizer.lr=[{}]", many.join(", "));
    let o = run(
        dir.path(),
        &["sweep", "xor.nnt", "--grid", &grid, "-o", "out"],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("nnt::check::out_of_range").count(), 20, "{err}");
    assert!(err.contains("30 of 30 run(s) do not check"), "{err}");
    assert!(err.contains("… and 20 more"), "{err}");
    assert!(
        err.contains("the first 20 distinct errors are shown"),
        "{err}"
    );
}

/// `--shard I/0` names the count that is wrong, never a range `0/0 to 0/0`.
#[test]
fn a_shard_count_of_zero_is_named() {
    let (dir, _) = workspace();
    for (shard, want) in [
        ("0/0", "the shard count must be at least 1, found `0/0`"),
        ("3/0", "the shard count must be at least 1, found `3/0`"),
        ("2/2", "the shard index must be below the count: 0/2 to 1/2"),
    ] {
        let o = run(
            dir.path(),
            &[
                "sweep", "xor.nnt", "--grid", GRID_LR, "--shard", shard, "-o", "out",
            ],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{shard}: {err}");
        assert!(!err.contains("0/0 to"), "{err}");
        assert!(!dir.path().join("out").exists());
    }
}

#[test]
fn several_logs_plot_into_one_picture() {
    let (dir, _) = workspace();
    ok(&sweep(dir.path(), &["--jobs", "2"]));
    let logs: Vec<String> = (0..4).map(|k| format!("out/run-{k}/log.jsonl")).collect();
    let mut args: Vec<&str> = vec!["plot"];
    args.extend(logs.iter().map(String::as_str));
    args.extend(["-o", "compare.svg"]);
    ok(&run(dir.path(), &args));
    let svg = read(dir.path().join("compare.svg"));
    for label in [
        "model.0.units = 4, optimizer.lr = 0.1",
        "model.0.units = 8, optimizer.lr = 0.1",
        "model.0.units = 4, optimizer.lr = 0.01",
        "model.0.units = 8, optimizer.lr = 0.01",
    ] {
        // The legend: what differs between the logs' configs, in config order.
        assert!(svg.contains(label), "{label}");
    }
    args.pop();
    args.extend(["compare.png", "--log-y"]);
    ok(&run(dir.path(), &args));
    let png = std::fs::read(dir.path().join("compare.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // The same logs written one after the other into one file are the same
    // runs: the same picture (it was one line jumping back to epoch 1).
    let joined: String = logs.iter().map(|l| read(dir.path().join(l))).collect();
    std::fs::write(dir.path().join("all.jsonl"), joined).unwrap();
    ok(&run(dir.path(), &["plot", "all.jsonl", "-o", "joined.svg"]));
    assert_eq!(read(dir.path().join("joined.svg")), svg);
}

/// A sweep monitored by a §15 score ranks it highest first (the direction is
/// the monitor's, not guessed from its name), and the summary has the metric's
/// `valid_` and `test_` columns.
#[test]
fn a_sweep_monitored_by_a_score_ranks_high_first() {
    let (dir, recipe) = workspace();
    let text_of = read(&recipe)
        .replace(
            "    valid = split(train, 0.25)\n",
            "    valid = split(train, 0.25)\n    test = xor(n = 32, noise = 0.1)\n",
        )
        .replace(
            "    early_stop = patience(2, monitor = valid_loss)\n",
            "    metrics = [f1]\n    early_stop = patience(2, monitor = valid_f1)\n",
        );
    std::fs::write(&recipe, text_of).unwrap();
    let o = run(
        dir.path(),
        &[
            "sweep",
            "xor.nnt",
            "--grid",
            "optimizer.lr=[0.3, 0.1, 0.01, 0.001]",
            "-o",
            "out",
        ],
    );
    ok(&o);
    let out = dir.path().join("out");
    let rows = summary(&out);
    assert_eq!(rows.len(), 4);
    for (k, row) in rows.iter().enumerate() {
        let end = events(&read(out.join(format!("run-{k}/log.jsonl"))))
            .pop()
            .unwrap();
        assert_eq!(row["valid_f1"], end["best"]["valid_f1"].to_string());
        assert_eq!(row["test_f1"], end["test_f1"].to_string());
    }
    let table = text(&o.stdout);
    assert!(table.contains("ranked by valid_f1"), "{table}");
    let ranked = ranked_column(&table, &rows, "valid_f1");
    assert_eq!(ranked.len(), 4);
    assert!(
        ranked.windows(2).all(|w| w[0] >= w[1]),
        "{ranked:?}\n{table}"
    );
    assert!(ranked[0] > ranked[3], "the runs differ: {ranked:?}");
}

/// What lies at a run's file names and is not a regular file is the user's: a
/// sweep replaced a FIFO and a device with files and deleted a link. The run is
/// refused; the things are left as they were.
#[cfg(unix)]
#[test]
fn a_sweep_never_removes_what_is_not_its_file() {
    use std::os::unix::fs::FileTypeExt;
    let (dir, _) = workspace();
    let run0 = dir.path().join("out/run-0");
    std::fs::create_dir_all(&run0).unwrap();
    let st = Command::new("mkfifo")
        .arg(run0.join("done"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(dir.path().join("mine.txt"), "mine").unwrap();
    std::os::unix::fs::symlink("../../mine.txt", run0.join("stderr.txt")).unwrap();
    let o = sweep(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("run-0 failed"),
        "{}",
        text(&o.stderr)
    );
    let kind = std::fs::symlink_metadata(run0.join("done"))
        .unwrap()
        .file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced");
    let link = std::fs::symlink_metadata(run0.join("stderr.txt")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was removed");
    assert_eq!(read(dir.path().join("mine.txt")), "mine");
    // The other runs ran.
    assert!(dir.path().join("out/run-1/done").is_file());
}

/// A layer given by `--set model.K=…` is on no line of the recipe: explain's
/// table said `line 0`; it says `--set`.
#[test]
fn a_layer_from_an_override_is_shown_as_such() {
    let (dir, _) = workspace();
    let o = run(
        dir.path(),
        &["explain", "xor.nnt", "--set", "model.0=dense(5)"],
    );
    ok(&o);
    let row = text(&o.stdout)
        .lines()
        .find(|l| l.contains("dense(5)"))
        .unwrap_or_default()
        .to_string();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.get(2), Some(&"--set"), "{row}");
}

// ------------------------------------------------------------------ signals

/// A recipe whose every run trains for a second or two (a debug build) and
/// checkpoints only when interrupted, holding the lock `ck/.nnt.lock` while it
/// trains (taken once its own signal handler is in place).
#[cfg(target_os = "linux")]
fn long_recipe(epochs: usize) -> String {
    format!(
        "seed = 3\ndata {{\n    train = xor(n = 64, noise = 0.1)\n    valid = split(train, 0.25)\n}}\n\
         model {{\n    dense(4)\n    tanh\n    dense(2)\n}}\n\
         loss = cross_entropy\noptimizer = sgd(lr = 0.1)\n\
         train {{\n    epochs = {epochs}\n    batch = 1\n}}\n\
         checkpoint {{\n    every = 1000000\n    path = \"ck\"\n}}\n"
    )
}

/// `nnt ARGS --jobs 2` in `d` over `long.nnt` (`recipe`, written here; in a
/// process group of its own with `own_group`, as a terminal's foreground
/// job), once its first two runs train (each holds its checkpoint lock in
/// `out/run-K/ck`): the sweep and the processes it runs.
#[cfg(target_os = "linux")]
fn sweep_with_two_runs_training(
    d: &Path,
    recipe: &str,
    args: &[&str],
    own_group: bool,
) -> (std::process::Child, Vec<crate::common::Process>) {
    use crate::common;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    std::fs::write(d.join("long.nnt"), recipe).unwrap();
    let mut cmd = nnt(d);
    cmd.args(args).args(["--jobs", "2"]);
    if own_group {
        cmd.process_group(0);
    }
    let mut sweep = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock = |k: usize| d.join(format!("out/run-{k}/ck/.nnt.lock"));
    common::wait_for(&mut sweep, 120, "both runs training", || {
        lock(0).exists() && lock(1).exists()
    });
    let runs = common::children_of(sweep.id());
    (sweep, runs)
}

/// Issue 11, item 18: SIGTERM (what `timeout`, Docker and Slurm send) to `nnt
/// sweep --jobs 2` ended the sweep at once and left both runs training. Now no
/// run starts after it, it is passed on to the two running ones, which stop as
/// an interrupted `nnt run` does (a checkpoint, the lock given back), the sweep
/// waits for them, writes the summary of what is complete and exits with 130;
/// the runs it stopped have no marker, and the same command runs them again.
#[cfg(target_os = "linux")]
#[test]
fn sigterm_stops_the_sweep_and_its_runs_and_a_rerun_completes_them() {
    use crate::common;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "sweep",
        "long.nnt",
        "--grid",
        "optimizer.lr=[0.1, 0.2, 0.3]",
        "-o",
        "out",
    ];
    let (sweep, runs) = sweep_with_two_runs_training(d, &long_recipe(800), &args, false);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let out = d.join("out");
    let lock = |k: usize| out.join(format!("run-{k}/ck/.nnt.lock"));
    common::send_signal("TERM", &sweep.id().to_string());
    let done = common::finish(sweep, 120, "nnt sweep after SIGTERM");
    let left = common::left_running(&runs);
    assert_eq!(done.code, Some(130), "stderr:\n{}", done.stderr);
    assert!(left.is_empty(), "runs left training: {left:?}");
    assert!(
        done.stderr
            .contains("the sweep was interrupted: 2 run(s) stopped (run-0, run-1), 1 not started"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("failed"), "{}", done.stderr);
    assert!(
        done.stdout
            .starts_with("0 complete run(s) (0 run now, 0 skipped)"),
        "{}",
        done.stdout
    );
    assert!(out.join("summary.csv").is_file());
    for k in 0..2 {
        let run = out.join(format!("run-{k}"));
        assert!(!run.join("done").exists(), "run-{k} is not complete");
        // Stopped as an interrupted run stops: its log ends there (the
        // checkpoint holds the last finished epoch, when one had finished)
        // and the lock is given back; a run ended at once leaves it.
        assert!(!lock(k).exists(), "run-{k} kept its lock");
        let log = read(run.join("log.jsonl"));
        let end = events(&log).pop().unwrap();
        assert_eq!(end["reason"], "interrupted", "run-{k}");
    }
    assert!(
        !out.join("run-2").exists(),
        "no run starts after the signal"
    );

    // The same command runs the three (more at once: `--jobs` is no part of a run).
    let o = run(d, &[&args[..], &["--jobs", "3"]].concat());
    ok(&o);
    assert!(
        text(&o.stdout).starts_with("3 complete run(s) (3 run now, 0 skipped)"),
        "{}",
        text(&o.stdout)
    );
    for k in 0..3 {
        assert!(out.join(format!("run-{k}/done")).is_file(), "run-{k}");
    }
}

/// SIGKILL (the OOM killer, `kill -9`) to `nnt sweep` leaves no run training
/// without it: each run asked the kernel for SIGTERM when its parent dies, and
/// stops as an interrupted run does (its log ends "interrupted", its lock is
/// given back), where before it trained on, orphaned, to its last epoch.
#[cfg(target_os = "linux")]
#[test]
fn sigkill_to_the_sweep_stops_its_runs() {
    use crate::common;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "sweep",
        "long.nnt",
        "--grid",
        "optimizer.lr=[0.1, 0.2]",
        "-o",
        "out",
    ];
    let (sweep, runs) = sweep_with_two_runs_training(d, &long_recipe(800), &args, false);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let out = d.join("out");
    let lock = |k: usize| out.join(format!("run-{k}/ck/.nnt.lock"));
    common::send_signal("KILL", &sweep.id().to_string());
    let _ = common::finish(sweep, 60, "nnt sweep after SIGKILL");
    let start = std::time::Instant::now();
    while runs.iter().any(common::still_runs) && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left = common::left_running(&runs);
    assert!(left.is_empty(), "runs left training: {left:?}");
    for k in 0..2 {
        assert!(!lock(k).exists(), "run-{k} kept its lock");
        let log = read(out.join(format!("run-{k}/log.jsonl")));
        let end = events(&log).pop().unwrap();
        assert_eq!(end["reason"], "interrupted", "run-{k}");
    }
}

/// A run told that its parent is a process that is not (the parent died before
/// the run could ask for the signal) stops at once, as an interrupted run.
#[cfg(target_os = "linux")]
#[test]
fn a_run_whose_parent_is_gone_stops_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("long.nnt"), long_recipe(800)).unwrap();
    let o = nnt(d)
        .args(["run", "long.nnt", "--format", "jsonl"])
        .env("NNT_PARENT_PID", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let end = events(&text(&o.stdout)).pop().unwrap();
    assert_eq!(end["reason"], "interrupted");
    assert_eq!(end["epochs"], 0);
}

/// Ctrl-C on a terminal reaches the sweep and its runs at once, and the sweep
/// passes it on: each run takes the two as one request and stops as an
/// interrupted run does (its log and its lock given back), not at once.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_to_the_process_group_stops_each_run_once() {
    use crate::common;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Wide layers: a step takes longer than the sweep takes to pass the
    // signal on, so the second one comes while the run is stopping.
    let wide = long_recipe(1_000_000)
        .replace("n = 64", "n = 16")
        .replace("dense(4)", "dense(1000)\n    tanh\n    dense(1000)");
    let args = [
        "sweep",
        "long.nnt",
        "--grid",
        "optimizer.lr=[0.1, 0.2]",
        "-o",
        "out",
    ];
    // A group of its own, as a terminal's foreground job.
    let (sweep, runs) = sweep_with_two_runs_training(d, &wide, &args, true);
    let lock = |k: usize| d.join(format!("out/run-{k}/ck/.nnt.lock"));
    common::send_signal("INT", &format!("-{}", sweep.id()));
    let done = common::finish(sweep, 120, "nnt sweep after Ctrl-C");
    let left = common::left_running(&runs);
    assert_eq!(done.code, Some(130), "stderr:\n{}", done.stderr);
    assert!(left.is_empty(), "runs left training: {left:?}");
    for k in 0..2 {
        assert!(!lock(k).exists(), "run-{k} ended at once: it kept its lock");
        let log = read(d.join(format!("out/run-{k}/log.jsonl")));
        assert_eq!(events(&log).pop().unwrap()["reason"], "interrupted");
    }
}
