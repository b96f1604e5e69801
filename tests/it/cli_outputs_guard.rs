//! End-to-end tests: `nnt predict -o`, `nnt export onnx -o`, `nnt export torch -o`,
//! `nnt test --junit`, `nnt test`'s snapshots and `nnt sweep`'s files never
//! replace their own inputs (nor, for `--junit`, what a tested recipe writes),
//! and `nnt test` neither loops through linked directories nor opens what is
//! not a regular file, and codes every file error it reports.
//!
//! `NNT_TEST_EXE=/path/to/nnt` runs these against another build (to see them
//! fail on one without the fixes); by default they run this crate's binary.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn exe() -> PathBuf {
    std::env::var_os("NNT_TEST_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nnt")))
}

/// What a run printed and how it ended (`code` is `None` when it was killed
/// for running past its time).
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs `nnt ARGS` in `dir`, killed after `limit` (a hang is a failure, not a
/// stuck test run). Output goes to files, so a killed run's output is kept.
fn run_for(dir: &Path, args: &[&str], limit: Duration) -> Run {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(exe())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stdout: fs::read_to_string(out.path()).unwrap(),
        stderr: fs::read_to_string(err.path()).unwrap(),
    }
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_for(dir, args, Duration::from_secs(120))
}

/// A one-epoch classifier on generated data.
const RECIPE: &str = "seed = 1\n\
data {\n    train = xor(n = 40, noise = 0.1)\n}\n\
model {\n    dense(4)\n    tanh\n    dense(2)\n}\n\
loss = cross_entropy\n\
optimizer = sgd(lr = 0.1)\n\
train {\n    epochs = 1\n}\n";

const CSV: &str = "a,b,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n";

/// `RECIPE` reading `file` (a CSV) instead of generated data.
fn csv_recipe(file: &str) -> String {
    RECIPE.replace(
        "xor(n = 40, noise = 0.1)",
        &format!("csv(\"{file}\", label = \"label\")"),
    )
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

#[cfg(unix)]
fn is_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_refused(r: &Run, code: &str, args: &[&str]) {
    assert_eq!(r.code, Some(1), "{args:?}: {}", r.all());
    assert!(r.stderr.contains(code), "{args:?}: {}", r.all());
}

// ------------------------------------------------------------ predict, export onnx

#[cfg(unix)]
#[test]
fn predict_and_export_onnx_never_replace_their_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("d.csv"), CSV).unwrap();
    fs::write(d.join("c.nnt"), csv_recipe("d.csv")).unwrap();
    let r = run_in(d, &["run", "c.nnt", "--save", "m.safetensors"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    symlink("d.csv", &d.join("link.csv"));
    symlink("m.safetensors", &d.join("link.safetensors"));
    fs::create_dir(d.join("x")).unwrap();
    let model = fs::read(d.join("m.safetensors")).unwrap();
    let before = listing(d);
    for args in [
        ["predict", "m.safetensors", "d.csv", "-o", "d.csv"].as_slice(),
        &["predict", "m.safetensors", "d.csv", "-o", "m.safetensors"],
        &["predict", "m.safetensors", "d.csv", "-o", "link.csv"],
        &["predict", "m.safetensors", "d.csv", "-o", "./x/../d.csv"],
        &[
            "predict",
            "m.safetensors",
            "d.csv",
            "-o",
            "link.safetensors",
        ],
        &["export", "onnx", "m.safetensors", "-o", "m.safetensors"],
        &["export", "onnx", "m.safetensors", "-o", "link.safetensors"],
        &[
            "export",
            "onnx",
            "m.safetensors",
            "-o",
            "x/../m.safetensors",
        ],
    ] {
        let r = run_in(d, args);
        assert_refused(&r, "nnt::io::output_is_input", args);
        assert_eq!(
            fs::read_to_string(d.join("d.csv")).unwrap(),
            CSV,
            "{args:?}"
        );
        assert_eq!(
            fs::read(d.join("m.safetensors")).unwrap(),
            model,
            "{args:?}"
        );
        assert_eq!(listing(d), before, "{args:?}: nothing written");
    }
    // Other paths are written as before.
    let r = run_in(d, &["predict", "m.safetensors", "d.csv", "-o", "p.csv"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(fs::read_to_string(d.join("p.csv"))
        .unwrap()
        .starts_with("prediction,"));
    let r = run_in(d, &["export", "onnx", "m.safetensors", "-o", "m.onnx"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(fs::metadata(d.join("m.onnx")).unwrap().len() > 0);
}

// ------------------------------------------------------------ export torch

#[cfg(unix)]
#[test]
fn export_torch_never_replaces_the_recipe_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("r.nnt"), RECIPE).unwrap();
    let r = run_in(d, &["run", "r.nnt", "--save", "init.safetensors"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let init = fs::read(d.join("init.safetensors")).unwrap();
    fs::write(
        d.join("ft.nnt"),
        RECIPE.replace("train {", "init_from = \"init.safetensors\"\ntrain {"),
    )
    .unwrap();
    // A recipe named as the program, and one whose data file is named as the data export.
    fs::write(d.join("train.py"), RECIPE).unwrap();
    fs::write(d.join("data.safetensors"), CSV).unwrap();
    fs::write(d.join("c.nnt"), csv_recipe("data.safetensors")).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    fs::create_dir(d.join("links")).unwrap();
    symlink("../init.safetensors", &d.join("links/init.safetensors"));
    let before = listing(d);
    for args in [
        ["export", "torch", "ft.nnt", "-o", "."].as_slice(),
        &["export", "torch", "ft.nnt", "-o", "sub/.."],
        &["export", "torch", "ft.nnt", "-o", "links"],
        &["export", "torch", "train.py", "-o", "."],
        &["export", "torch", "c.nnt", "-o", "."],
    ] {
        let r = run_in(d, args);
        assert_refused(&r, "nnt::io::output_is_input", args);
        assert_eq!(
            fs::read(d.join("init.safetensors")).unwrap(),
            init,
            "{args:?}"
        );
        assert_eq!(fs::read_to_string(d.join("train.py")).unwrap(), RECIPE);
        assert_eq!(fs::read_to_string(d.join("data.safetensors")).unwrap(), CSV);
        assert_eq!(listing(d), before, "{args:?}: nothing written");
        assert_eq!(listing(&d.join("links")), ["init.safetensors"]);
    }
    // Another folder gets the four files.
    let r = run_in(d, &["export", "torch", "ft.nnt", "-o", "out"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(
        listing(&d.join("out")),
        [
            "data.safetensors",
            "init.safetensors",
            "model_meta.json",
            "train.py"
        ]
    );
}

/// `-o` naming something that is not a folder (the recipe itself, a device)
/// is refused in words, the file untouched: `export torch` and `sweep` said
/// "File exists (os error 17)" with a help about the folder's parent.
#[test]
fn an_output_folder_that_is_a_file_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("r.nnt"), RECIPE).unwrap();
    for (args, code) in [
        (
            &["export", "torch", "r.nnt", "-o", "r.nnt"][..],
            "nnt::export::write",
        ),
        (
            &[
                "sweep",
                "r.nnt",
                "--grid",
                "optimizer.lr=[0.1]",
                "-o",
                "r.nnt",
            ],
            "nnt::cli::sweep_usage",
        ),
    ] {
        let r = run_in(d, args);
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.all());
        assert!(r.stderr.contains(code), "{args:?}: {}", r.all());
        assert!(
            r.stderr
                .contains("r.nnt exists and is a file, not a folder"),
            "{args:?}: {}",
            r.all()
        );
        assert_eq!(fs::read_to_string(d.join("r.nnt")).unwrap(), RECIPE);
    }
    #[cfg(unix)]
    {
        let r = run_in(d, &["export", "torch", "r.nnt", "-o", "/dev/null"]);
        assert!(
            r.stderr
                .contains("/dev/null exists and is a device, not a folder"),
            "{}",
            r.all()
        );
    }
}

// ------------------------------------------------------------ nnt test --junit

#[cfg(unix)]
#[test]
fn test_junit_never_replaces_a_recipe_or_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("t.nnt"), RECIPE).unwrap();
    let r = run_in(d, &["test", "t.nnt", "--update"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let snapshot = fs::read(d.join("snapshots/t.jsonl")).unwrap();
    symlink("t.nnt", &d.join("link.xml"));
    fs::create_dir(d.join("x")).unwrap();
    let before = listing(d);
    for args in [
        ["test", "t.nnt", "--junit", "t.nnt"].as_slice(),
        &["test", "t.nnt", "--junit", "./x/../t.nnt"],
        &["test", "t.nnt", "--junit", "link.xml"],
        &["test", "t.nnt", "--junit", "snapshots/t.jsonl"],
        &["test", "t.nnt", "--junit", "snapshots/t.jsonl.new"],
        &["test", "--junit", "snapshots/../snapshots/t.jsonl"],
        &["test", "t.nnt", "--update", "--junit", "snapshots/t.jsonl"],
    ] {
        let r = run_in(d, args);
        assert_refused(&r, "nnt::io::output_is_input", args);
        assert!(r.stdout.is_empty(), "{args:?}: nothing run: {}", r.all());
        assert_eq!(fs::read_to_string(d.join("t.nnt")).unwrap(), RECIPE);
        assert_eq!(fs::read(d.join("snapshots/t.jsonl")).unwrap(), snapshot);
        assert_eq!(listing(d), before, "{args:?}");
        assert_eq!(listing(&d.join("snapshots")), ["t.jsonl"], "{args:?}");
    }
    // Before its `snapshots/` folder exists, a snapshot path is still refused.
    fs::create_dir(d.join("fresh")).unwrap();
    fs::write(d.join("fresh/r.nnt"), RECIPE).unwrap();
    let args = [
        "test",
        "fresh/r.nnt",
        "--update",
        "--junit",
        "fresh/snapshots/r.jsonl",
    ];
    let r = run_in(d, &args);
    assert_refused(&r, "nnt::io::output_is_input", &args);
    assert_eq!(listing(&d.join("fresh")), ["r.nnt"]);
    // Any other path gets the report.
    let r = run_in(d, &["test", "t.nnt", "--junit", "x/report.xml"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(fs::read_to_string(d.join("x/report.xml"))
        .unwrap()
        .contains("<testsuites"));
    insta::assert_snapshot!(
        "junit_over_a_snapshot",
        run_in(d, &["test", "t.nnt", "--junit", "snapshots/t.jsonl"]).stderr
    );
}

/// Nor a file a tested recipe reads: its `csv` data or its `init_from` weights,
/// named directly, through a link or `..`, from a recipe in another folder, or
/// by a recipe that does not check. A recipe that does not parse names no files
/// and does not stop the check of the others.
#[cfg(unix)]
#[test]
fn test_junit_never_replaces_a_file_a_recipe_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const WEIGHTS: &str = "not really weights";
    fs::write(d.join("d.csv"), CSV).unwrap();
    fs::write(d.join("e.csv"), CSV).unwrap();
    fs::write(d.join("w.safetensors"), WEIGHTS).unwrap();
    fs::write(d.join("c.nnt"), csv_recipe("d.csv")).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    fs::write(
        d.join("sub/i.nnt"),
        format!("init_from = \"../w.safetensors\"\n{RECIPE}"),
    )
    .unwrap();
    // Fails its check (an unknown normalisation), and still names `../e.csv`.
    fs::create_dir(d.join("bad")).unwrap();
    fs::write(
        d.join("bad/b.nnt"),
        csv_recipe("../e.csv").replace("label\")\n", "label\")\n    normalize = bogus\n"),
    )
    .unwrap();
    assert!(fs::read_to_string(d.join("bad/b.nnt"))
        .unwrap()
        .contains("normalize = bogus"));
    fs::write(d.join("broken.nnt"), "data {\n    train = csv(\"d.csv\"\n").unwrap();
    symlink("d.csv", &d.join("link.csv"));
    fs::create_dir(d.join("x")).unwrap();
    let before = listing(d);
    for args in [
        ["test", "c.nnt", "--junit", "d.csv"].as_slice(),
        &["test", "c.nnt", "--junit", "link.csv"],
        &["test", "c.nnt", "--junit", "./x/../d.csv"],
        &["test", "broken.nnt", "c.nnt", "--junit", "d.csv"],
        &["test", "sub/i.nnt", "--junit", "w.safetensors"],
        &["test", "sub", "--junit", "x/../w.safetensors"],
        &["test", "bad", "--junit", "e.csv"],
        &["test", "--update", "--junit", "link.csv"],
    ] {
        let r = run_in(d, args);
        assert_refused(&r, "nnt::io::output_is_input", args);
        assert!(r.stdout.is_empty(), "{args:?}: nothing run: {}", r.all());
        assert_eq!(fs::read_to_string(d.join("d.csv")).unwrap(), CSV);
        assert_eq!(fs::read_to_string(d.join("e.csv")).unwrap(), CSV);
        assert_eq!(
            fs::read_to_string(d.join("w.safetensors")).unwrap(),
            WEIGHTS
        );
        assert_eq!(listing(d), before, "{args:?}");
    }
    let r = run_in(d, &["test", "c.nnt", "--junit", "d.csv"]);
    assert!(
        r.stderr
            .contains("the JUnit report d.csv is the same file as the data file d.csv"),
        "{}",
        r.all()
    );
    // Any other path gets the report, the broken recipe one failure of it.
    let r = run_in(d, &["test", "--junit", "x/report.xml"]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    let xml = fs::read_to_string(d.join("x/report.xml")).unwrap();
    assert!(
        xml.contains("<testsuites") && xml.contains("broken.nnt"),
        "{xml}"
    );
    assert_eq!(fs::read_to_string(d.join("d.csv")).unwrap(), CSV);
}

/// Nor a file a tested recipe writes: its `save` file (existing or not yet,
/// named directly, through a link or `..`, from a recipe in another folder), its
/// checkpoint directory or a path inside it (existing or not yet). Nothing runs,
/// and a recipe that does not parse still names no files.
#[cfg(unix)]
#[test]
fn test_junit_never_replaces_a_file_a_recipe_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const SAVED: &str = "the model a run saved";
    let writes = format!(
        "save = \"model.safetensors\"\ncheckpoint {{\n    every = 1\n    path = \"ck\"\n}}\n{RECIPE}"
    );
    fs::write(d.join("x.nnt"), &writes).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    fs::write(
        d.join("sub/s.nnt"),
        format!("save = \"out/m.safetensors\"\n{RECIPE}"),
    )
    .unwrap();
    fs::write(
        d.join("broken.nnt"),
        "save = \"other.safetensors\"\ndata {\n",
    )
    .unwrap();
    fs::create_dir(d.join("x")).unwrap();
    symlink("model.safetensors", &d.join("link.xml"));
    let refused = |args: &[&str], code: &str| {
        let before = listing(d);
        let saved = fs::read_to_string(d.join("model.safetensors")).ok();
        let r = run_in(d, args);
        assert_refused(&r, code, args);
        assert!(r.stdout.is_empty(), "{args:?}: nothing run: {}", r.all());
        assert!(!d.join("snapshots").exists(), "{args:?}");
        assert!(!d.join("sub/snapshots").exists(), "{args:?}");
        assert_eq!(
            fs::read_to_string(d.join("model.safetensors")).ok(),
            saved,
            "{args:?}"
        );
        assert_eq!(listing(d), before, "{args:?}");
        r
    };
    const COLLIDE: &str = "nnt::io::outputs_collide";
    const INSIDE: &str = "nnt::io::output_in_checkpoint_dir";
    // Neither the save file nor the checkpoint directory exists yet.
    for (args, code) in [
        (
            ["test", "x.nnt", "--junit", "model.safetensors"].as_slice(),
            COLLIDE,
        ),
        (
            &["test", "x.nnt", "--junit", "./x/../model.safetensors"],
            COLLIDE,
        ),
        (&["test", "x.nnt", "--junit", "link.xml"], COLLIDE),
        (
            &["test", "sub", "--junit", "sub/out/m.safetensors"],
            COLLIDE,
        ),
        (
            &[
                "test",
                "broken.nnt",
                "x.nnt",
                "--junit",
                "model.safetensors",
            ],
            COLLIDE,
        ),
        (&["test", "x.nnt", "--junit", "ck"], COLLIDE),
        (&["test", "x.nnt", "--junit", "ck/report.xml"], INSIDE),
        (
            &["test", "--update", "--junit", "x/../ck/sub/report.xml"],
            INSIDE,
        ),
    ] {
        refused(args, code);
    }
    assert!(!d.join("ck").exists() && !d.join("model.safetensors").exists());
    // Both exist: the save file is left as it was.
    fs::write(d.join("model.safetensors"), SAVED).unwrap();
    fs::create_dir(d.join("ck")).unwrap();
    for (args, code) in [
        (
            ["test", "x.nnt", "--junit", "model.safetensors"].as_slice(),
            COLLIDE,
        ),
        (
            &["test", "x.nnt", "--junit", "./x/../model.safetensors"],
            COLLIDE,
        ),
        (&["test", "x.nnt", "--junit", "link.xml"], COLLIDE),
        (&["test", "x.nnt", "--junit", "ck"], COLLIDE),
        (&["test", "x.nnt", "--junit", "./ck/"], COLLIDE),
        (&["test", "x.nnt", "--junit", "ck/report.xml"], INSIDE),
    ] {
        refused(args, code);
        assert_eq!(
            fs::read_to_string(d.join("model.safetensors")).unwrap(),
            SAVED
        );
        assert_eq!(listing(&d.join("ck")), Vec::<String>::new(), "{args:?}");
    }
    let r = refused(&["test", "x.nnt", "--junit", "model.safetensors"], COLLIDE);
    assert!(
        r.stderr.contains(
            "the JUnit report model.safetensors is the same file as the save path model.safetensors"
        ),
        "{}",
        r.all()
    );
    let r = refused(&["test", "x.nnt", "--junit", "ck/report.xml"], INSIDE);
    assert!(
        r.stderr
            .contains("the JUnit report ck/report.xml is inside the checkpoint directory ck"),
        "{}",
        r.all()
    );
    // A recipe that does not parse never runs, so what it would save is not
    // written: the report may take that path.
    fs::write(d.join("other.safetensors"), SAVED).unwrap();
    let r = run_in(d, &["test", "broken.nnt", "--junit", "other.safetensors"]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(fs::read_to_string(d.join("other.safetensors"))
        .unwrap()
        .contains("<testsuites"));
    // Any other path gets the report; the run saves its model and checkpoint.
    let r = run_in(d, &["test", "x.nnt", "--update", "--junit", "x/report.xml"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(fs::read_to_string(d.join("x/report.xml"))
        .unwrap()
        .contains("<testsuites"));
    assert_ne!(
        fs::read(d.join("model.safetensors")).unwrap(),
        SAVED.as_bytes()
    );
    assert!(d.join("ck/epoch-1.safetensors").is_file());
}

// ------------------------------------------------------------ nnt test: walking

/// The recipes a report names (`new     PATH: …` lines and the like).
fn reported(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match words.next() {
                Some("ok" | "new" | "FAILED" | "ERROR") => words.next(),
                _ => None,
            }
        })
        .map(|p| p.trim_end_matches(':').to_string())
        .collect()
}

#[cfg(unix)]
#[test]
fn test_does_not_follow_directory_links_and_finds_each_recipe_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two links to `.`: following them never ends.
    fs::create_dir(d.join("loop")).unwrap();
    fs::write(d.join("loop/a.nnt"), RECIPE).unwrap();
    symlink(".", &d.join("loop/l1"));
    symlink(".", &d.join("loop/l2"));
    let r = run_for(d, &["test", "loop"], Duration::from_secs(60));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert_eq!(reported(&r.stdout), ["loop/a.nnt"], "{}", r.all());
    // A link to the parent: the recipe once, not once per level.
    fs::create_dir_all(d.join("s/sub")).unwrap();
    fs::write(d.join("s/a.nnt"), RECIPE).unwrap();
    symlink("..", &d.join("s/sub/up"));
    let r = run_for(d, &["test", "s"], Duration::from_secs(60));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert_eq!(reported(&r.stdout), ["s/a.nnt"], "{}", r.all());
    assert_eq!(r.stdout.lines().last(), Some("0 passed, 1 failed"));
    // One recipe named by several paths runs once, under its shortest name.
    let r = run_for(
        d,
        &["test", "s", "s/../s/a.nnt", "./s/a.nnt"],
        Duration::from_secs(60),
    );
    assert_eq!(reported(&r.stdout), ["s/a.nnt"], "{}", r.all());
    // A link to a recipe file is a recipe.
    symlink("a.nnt", &d.join("s/b.nnt"));
    let r = run_for(d, &["test", "s", "--update"], Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(reported(&r.stdout), ["s/a.nnt", "s/b.nnt"], "{}", r.all());
}

// ------------------------------------------------------------ nnt test: files

#[cfg(unix)]
#[test]
fn test_never_opens_a_snapshot_that_is_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("snapshots")).unwrap();
    fs::write(d.join("a.nnt"), RECIPE).unwrap();
    mkfifo(&d.join("snapshots/a.jsonl"));
    for args in [
        ["test", "a.nnt"].as_slice(),
        &["test", "a.nnt", "--update"],
        &["test"],
    ] {
        let r = run_for(d, args, Duration::from_secs(60));
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.all());
        assert!(
            r.stdout.contains("error[nnt::io::not_a_file]")
                && r.stdout
                    .contains("snapshots/a.jsonl is not a regular file (a FIFO)"),
            "{args:?}: {}",
            r.all()
        );
        assert!(is_fifo(&d.join("snapshots/a.jsonl")));
        assert_eq!(listing(&d.join("snapshots")), ["a.jsonl"], "{args:?}");
    }
}

#[cfg(unix)]
#[test]
fn test_refuses_a_recipe_that_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mkfifo(&d.join("q.nnt"));
    // Named: refused before anything runs or is written (exit 2, as a recipe
    // `nnt run` cannot read).
    let r = run_for(d, &["test", "q.nnt"], Duration::from_secs(60));
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stderr.contains("nnt::io::not_a_file"), "{}", r.all());
    assert!(r.stderr.contains("q.nnt is not a regular file (a FIFO)"));
    assert_eq!(listing(d), ["q.nnt"]);
    // Found in a folder: reported, the other recipes still run.
    fs::write(d.join("a.nnt"), RECIPE).unwrap();
    let r = run_for(d, &["test", "."], Duration::from_secs(60));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.stdout
            .contains("ERROR   q.nnt: error[nnt::io::not_a_file]: q.nnt is not a regular file"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("new     a.nnt"), "{}", r.all());
    assert_eq!(listing(&d.join("snapshots")), ["a.jsonl.new"]);
    assert!(is_fifo(&d.join("q.nnt")));
}

#[cfg(unix)]
#[test]
fn test_file_errors_have_codes_and_success_follows_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("t.nnt"), RECIPE).unwrap();
    // A snapshot that is a folder.
    fs::create_dir_all(d.join("snapshots/t.jsonl")).unwrap();
    let r = run_in(d, &["test", "t.nnt"]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.stdout.contains(
            "ERROR   t.nnt: error[nnt::io::not_a_file]: snapshots/t.jsonl is not a regular file (a directory)"
        ),
        "{}",
        r.all()
    );
    assert!(d.join("snapshots/t.jsonl").is_dir());
    // A `snapshots/` folder that cannot be created (a link to a missing
    // folder; permissions would not stop root).
    fs::remove_dir_all(d.join("snapshots")).unwrap();
    symlink("missing/deeper", &d.join("snapshots"));
    let r = run_in(d, &["test", "t.nnt", "--update"]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(!r.stdout.contains("snapshot written"), "{}", r.all());
    assert!(
        r.stdout.contains(
            "    error[nnt::io::write_failed]: cannot write the snapshot snapshots/t.jsonl"
        ),
        "{}",
        r.all()
    );
    let r = run_in(d, &["test", "t.nnt"]);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(!r.stdout.contains("the output is in"), "{}", r.all());
    assert!(
        r.stdout.contains(
            "    error[nnt::io::write_failed]: cannot write the actual-output file snapshots/t.jsonl.new"
        ),
        "{}",
        r.all()
    );
    assert!(!d.join("missing").exists());
}

// ------------------------------------------------------------ nnt test, nnt sweep

/// A folder with `a.nnt` (generated data) and `r.nnt` reading `d.csv`.
#[cfg(unix)]
fn two_recipes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.nnt"), RECIPE).unwrap();
    fs::write(d.join("r.nnt"), csv_recipe("d.csv")).unwrap();
    fs::write(d.join("d.csv"), CSV).unwrap();
    dir
}

/// `nnt test` never writes a `.new` file (or, with `--update`, a snapshot)
/// over one of its inputs through a link: a recipe, a recipe's data, another
/// recipe's snapshot. Nothing runs, and the input is untouched. A link to any
/// other file is written through.
#[cfg(unix)]
#[test]
fn test_never_writes_a_snapshot_over_an_input() {
    for (link, target, args) in [
        ("a.jsonl.new", "../a.nnt", ["test"].as_slice()),
        ("r.jsonl.new", "../d.csv", &["test"]),
        ("a.jsonl.new", "../r.nnt", &["test", "."]),
        ("a.jsonl.new", "r.jsonl", &["test"]),
        ("a.jsonl", "../a.nnt", &["test", "--update"]),
        ("r.jsonl", "../d.csv", &["test", "--update", "r.nnt"]),
    ] {
        let dir = two_recipes();
        let d = dir.path();
        fs::create_dir(d.join("snapshots")).unwrap();
        fs::write(d.join("snapshots/r.jsonl"), "a snapshot\n").unwrap();
        if link == "r.jsonl" {
            fs::remove_file(d.join("snapshots/r.jsonl")).unwrap();
        }
        symlink(target, &d.join("snapshots").join(link));
        let snaps = listing(&d.join("snapshots"));
        let r = run_in(d, args);
        let what = format!("{link} -> {target}, {args:?}");
        assert_eq!(r.code, Some(1), "{what}: {}", r.all());
        assert!(
            r.stderr.contains("nnt::io::output_is_input"),
            "{what}: {}",
            r.all()
        );
        assert!(r.stdout.is_empty(), "{what}: nothing run: {}", r.all());
        assert_eq!(fs::read_to_string(d.join("a.nnt")).unwrap(), RECIPE);
        assert_eq!(
            fs::read_to_string(d.join("r.nnt")).unwrap(),
            csv_recipe("d.csv")
        );
        assert_eq!(fs::read_to_string(d.join("d.csv")).unwrap(), CSV);
        if link != "r.jsonl" {
            assert_eq!(
                fs::read_to_string(d.join("snapshots/r.jsonl")).unwrap(),
                "a snapshot\n"
            );
        }
        assert_eq!(listing(&d.join("snapshots")), snaps, "{what}");
        assert!(fs::symlink_metadata(d.join("snapshots").join(link))
            .unwrap()
            .file_type()
            .is_symlink());
    }
    let dir = two_recipes();
    let d = dir.path();
    fs::create_dir(d.join("snapshots")).unwrap();
    symlink("../a.nnt", &d.join("snapshots/a.jsonl.new"));
    let r = run_in(d, &["test", "a.nnt"]);
    assert!(
        r.stderr.contains(
            "the actual-output file snapshots/a.jsonl.new is the same file as the recipe a.nnt"
        ),
        "{}",
        r.all()
    );
    // Links to files that are not inputs are written through.
    let dir = two_recipes();
    let d = dir.path();
    fs::create_dir(d.join("snapshots")).unwrap();
    fs::create_dir(d.join("store")).unwrap();
    symlink("../store/a.new", &d.join("snapshots/a.jsonl.new"));
    let r = run_in(d, &["test", "a.nnt"]);
    assert_eq!(r.code, Some(1), "new: {}", r.all());
    let log = fs::read_to_string(d.join("store/a.new")).unwrap();
    assert!(log.starts_with("{\"event\":\"start\""), "{log}");
    symlink("../store/a.jsonl", &d.join("snapshots/a.jsonl"));
    let r = run_in(d, &["test", "a.nnt", "--update"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(fs::read_to_string(d.join("store/a.jsonl")).unwrap(), log);
    assert_eq!(fs::read_to_string(d.join("a.nnt")).unwrap(), RECIPE);
}

/// `nnt sweep` never writes its summary or a run's file (recipe, log, marker,
/// `save` file) over the recipe or a file it reads, through a linked file or a
/// linked run folder: refused before anything is written, the input untouched.
/// A link to any other file is written through.
#[cfg(unix)]
#[test]
fn sweep_never_writes_over_an_input() {
    const GRID: &str = "optimizer.lr=[0.1]";
    let saving = format!("save = \"m.safetensors\"\n{}", csv_recipe("d.csv"));
    for (recipe, text, link, target) in [
        ("a.nnt", RECIPE.to_string(), "S/summary.csv", "../a.nnt"),
        (
            "a.nnt",
            RECIPE.to_string(),
            "S/run-0/recipe.nnt",
            "../../a.nnt",
        ),
        (
            "r.nnt",
            csv_recipe("d.csv"),
            "S/run-0/log.jsonl",
            "../../d.csv",
        ),
        ("r.nnt", csv_recipe("d.csv"), "S/run-0/done", "../../d.csv"),
        (
            "s.nnt",
            saving.clone(),
            "S/run-0/m.safetensors",
            "../../d.csv",
        ),
        ("recipe.nnt", RECIPE.to_string(), "S/run-0", ".."),
    ] {
        let dir = two_recipes();
        let d = dir.path();
        fs::write(d.join(recipe), &text).unwrap();
        let link = d.join(link);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(target, &link);
        let before = listing(d);
        let s_before = listing(&d.join("S"));
        let args = ["sweep", recipe, "--grid", GRID, "-o", "S"];
        let r = run_in(d, &args);
        assert_refused(&r, "nnt::io::output_is_input", &args);
        assert!(r.stdout.is_empty(), "{args:?}: nothing run: {}", r.all());
        assert_eq!(fs::read_to_string(d.join(recipe)).unwrap(), text);
        assert_eq!(fs::read_to_string(d.join("d.csv")).unwrap(), CSV);
        assert_eq!(listing(d), before, "{args:?}");
        assert_eq!(listing(&d.join("S")), s_before, "{args:?}");
    }
    let dir = two_recipes();
    let d = dir.path();
    fs::create_dir(d.join("S")).unwrap();
    symlink("../a.nnt", &d.join("S/summary.csv"));
    let r = run_in(d, &["sweep", "a.nnt", "--grid", GRID, "-o", "S"]);
    assert!(
        r.stderr
            .contains("the sweep summary S/summary.csv is the same file as the recipe a.nnt"),
        "{}",
        r.all()
    );
    // Links to files that are not inputs are written through.
    fs::remove_file(d.join("S/summary.csv")).unwrap();
    symlink("../elsewhere.csv", &d.join("S/summary.csv"));
    let r = run_in(d, &["sweep", "a.nnt", "--grid", GRID, "-o", "S"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(fs::read_to_string(d.join("elsewhere.csv"))
        .unwrap()
        .starts_with("k,optimizer.lr,"));
    assert_eq!(fs::read_to_string(d.join("a.nnt")).unwrap(), RECIPE);
    // `--summarize` never writes the summary over a run's log it reads.
    let log = fs::read_to_string(d.join("S/run-0/log.jsonl")).unwrap();
    fs::remove_file(d.join("S/summary.csv")).unwrap();
    symlink("run-0/log.jsonl", &d.join("S/summary.csv"));
    let args = ["sweep", "--summarize", "S"];
    let r = run_in(d, &args);
    assert_refused(&r, "nnt::io::output_is_input", &args);
    assert_eq!(
        fs::read_to_string(d.join("S/run-0/log.jsonl")).unwrap(),
        log
    );
}
