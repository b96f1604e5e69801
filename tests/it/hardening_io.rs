//! End-to-end regressions of issue 11's file-safety items: what the binary writes,
//! refuses and reads, run against temporary directories (never against a real
//! device or a file outside the test's own directory).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nnt(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    c
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    nnt(dir).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small, fast recipe on generated data, with extra lines appended.
fn recipe(extra: &str) -> String {
    format!(
        "seed = 3\n\
         data {{\n    train = xor(n = 64, noise = 0.1)\n    valid = split(train, 0.25)\n}}\n\
         model {{\n    dense(4)\n    tanh\n    dense(2)\n}}\n\
         loss = cross_entropy\n\
         optimizer = sgd(lr = 0.1)\n\
         train {{\n    epochs = 3\n    batch = 16\n}}\n{extra}"
    )
}

fn write_recipe(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

#[cfg(unix)]
fn is_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(p)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

fn is_symlink(p: &Path) -> bool {
    fs::symlink_metadata(p)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

// ------------------------------------------------------------ item 1

#[cfg(unix)]
#[test]
fn save_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe(""));
    fs::create_dir(d.join("real")).unwrap();
    fs::write(d.join("real/w.safetensors"), b"old").unwrap();
    std::os::unix::fs::symlink("real/w.safetensors", d.join("w.safetensors")).unwrap();
    let o = run_in(d, &["run", "r.nnt", "--save", "w.safetensors"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(is_symlink(&d.join("w.safetensors")), "the link is kept");
    let bytes = fs::read(d.join("real/w.safetensors")).unwrap();
    assert!(bytes.len() > 100, "the link's target holds the weights");
}

#[cfg(unix)]
#[test]
fn outputs_never_replace_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe(""));
    mkfifo(&d.join("p.svg"));
    let o = run_in(d, &["run", "r.nnt", "--plot", "p.svg"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nnt::io::"), "{}", stderr(&o));
    assert!(stderr(&o).contains("p.svg"), "{}", stderr(&o));
    assert!(is_fifo(&d.join("p.svg")), "the FIFO is still a FIFO");
    mkfifo(&d.join("w.safetensors"));
    let o = run_in(d, &["run", "r.nnt", "--save", "w.safetensors"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nnt::io::"), "{}", stderr(&o));
    assert!(is_fifo(&d.join("w.safetensors")));
}

/// A read-only file is not replaced, though a rename could (it needs only the
/// directory's permission): the save file before training starts, the plot
/// and the formatted recipe, each with a diagnostic that names it.
#[cfg(unix)]
#[test]
fn outputs_never_replace_a_read_only_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe(""));
    let protect = |name: &str| {
        fs::write(d.join(name), b"kept").unwrap();
        fs::set_permissions(d.join(name), fs::Permissions::from_mode(0o444)).unwrap();
    };
    protect("w.safetensors");
    protect("p.svg");
    for args in [
        &["run", "r.nnt", "--save", "w.safetensors"][..],
        &["run", "r.nnt", "--plot", "p.svg"][..],
    ] {
        let o = run_in(d, args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("nnt::io::"), "{err}");
        assert!(err.contains("read-only"), "{err}");
    }
    // Both are refused before any epoch runs, with their own code.
    for flag in ["--save", "--plot"] {
        let file = if flag == "--save" {
            "w.safetensors"
        } else {
            "p.svg"
        };
        let o = run_in(d, &["run", "r.nnt", flag, file, "--format", "jsonl"]);
        assert!(!String::from_utf8_lossy(&o.stdout).contains("\"event\":\"epoch\""));
        assert!(stderr(&o).contains("nnt::io::read_only"), "{}", stderr(&o));
    }
    // A read-only recipe that `nnt fmt` would reformat.
    let messy = write_recipe(
        d,
        "messy.nnt",
        &recipe("").replace("    dense(4)", "dense(4)"),
    );
    fs::set_permissions(&messy, fs::Permissions::from_mode(0o444)).unwrap();
    let before = fs::read(&messy).unwrap();
    let o = run_in(d, &["fmt", "messy.nnt"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    assert_eq!(fs::read(&messy).unwrap(), before);
    for name in ["w.safetensors", "p.svg"] {
        assert_eq!(fs::read(d.join(name)).unwrap(), b"kept", "{name}");
    }
}

#[cfg(unix)]
#[test]
fn fmt_keeps_mode_and_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let real = write_recipe(
        d,
        "real.nnt",
        &recipe("").replace("    dense(4)", "dense(4)"),
    );
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("real.nnt", d.join("link.nnt")).unwrap();
    let o = run_in(d, &["fmt", "link.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(is_symlink(&d.join("link.nnt")));
    assert!(fs::read_to_string(&real).unwrap().contains("    dense(4)"));
    let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
}

// ------------------------------------------------------------ item 2

/// A recipe reading `data.csv` (written next to it).
fn csv_recipe(dir: &Path, extra: &str) -> PathBuf {
    let mut csv = String::from("a,b,label\n");
    for i in 0..40 {
        let (a, b) = ((i % 2) as f64, ((i / 2) % 2) as f64);
        let label = (a as i32) ^ (b as i32);
        csv.push_str(&format!("{a},{b},{label}\n"));
    }
    fs::write(dir.join("data.csv"), csv).unwrap();
    let text = recipe(extra).replace(
        "train = xor(n = 64, noise = 0.1)",
        "train = csv(\"data.csv\", label = \"label\")",
    );
    write_recipe(dir, "r.nnt", &text)
}

#[test]
fn outputs_never_replace_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    csv_recipe(d, "");
    let recipe_before = fs::read(d.join("r.nnt")).unwrap();
    let data_before = fs::read(d.join("data.csv")).unwrap();
    for args in [
        vec!["run", "r.nnt", "--save", "r.nnt"],
        vec!["run", "r.nnt", "--save", "./r.nnt"],
        vec!["run", "r.nnt", "--save", "data.csv"],
        vec!["run", "r.nnt", "--save", "sub/../data.csv"],
    ] {
        fs::create_dir_all(d.join("sub")).unwrap();
        let o = run_in(d, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("nnt::io::output_is_input"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "nothing was trained");
    }
    assert_eq!(fs::read(d.join("r.nnt")).unwrap(), recipe_before);
    assert_eq!(fs::read(d.join("data.csv")).unwrap(), data_before);
}

#[test]
fn save_never_replaces_init_from_or_the_checkpoint_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe(""));
    let o = run_in(d, &["run", "r.nnt", "--save", "w.safetensors"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let w = fs::read(d.join("w.safetensors")).unwrap();
    write_recipe(d, "init.nnt", &recipe("init_from = \"w.safetensors\"\n"));
    let o = run_in(d, &["run", "init.nnt", "--save", "w.safetensors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nnt::io::output_is_input"));
    assert!(stderr(&o).contains("init_from"), "{}", stderr(&o));
    assert_eq!(fs::read(d.join("w.safetensors")).unwrap(), w);

    write_recipe(
        d,
        "ck.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\n"),
    );
    let o = run_in(d, &["run", "ck.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ck1 = fs::read(d.join("ck/epoch-1.safetensors")).unwrap();
    let o = run_in(
        d,
        &[
            "run",
            "ck.nnt",
            "--resume",
            "ck/epoch-1.safetensors",
            "--save",
            "ck/epoch-1.safetensors",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nnt::io::output_is_input"));
    // A checkpoint renamed to a later epoch's name would be rewritten by the run.
    fs::copy(
        d.join("ck/epoch-1.safetensors"),
        d.join("ck/epoch-3.safetensors"),
    )
    .unwrap();
    let o = run_in(d, &["run", "ck.nnt", "--resume", "ck/epoch-3.safetensors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nnt::io::output_is_input"));
    assert_eq!(fs::read(d.join("ck/epoch-3.safetensors")).unwrap(), ck1);
}

// ------------------------------------------------------------ item 7

#[test]
fn unwritable_outputs_are_found_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe(""));
    for args in [
        vec![
            "run",
            "r.nnt",
            "--format",
            "jsonl",
            "--save",
            "no/such/w.safetensors",
        ],
        vec![
            "run",
            "r.nnt",
            "--format",
            "jsonl",
            "--plot",
            "no/such/p.svg",
        ],
    ] {
        let o = run_in(d, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("nnt::io::write_failed"),
            "{}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "{args:?}: no epoch was trained");
    }
    fs::write(d.join("ckfile"), b"x").unwrap();
    write_recipe(
        d,
        "ck.nnt",
        &recipe("checkpoint { every = 1; path = \"ckfile\" }\n"),
    );
    let o = run_in(d, &["check", "ck.nnt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nnt::io::checkpoint_not_dir"),
        "{}",
        stderr(&o)
    );
    let o = run_in(d, &["run", "ck.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(fs::read(d.join("ckfile")).unwrap(), b"x");
}

#[test]
fn check_reports_a_missing_init_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe("init_from = \"nowhere.safetensors\"\n"));
    let o = run_in(d, &["check", "r.nnt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nnt::io::unreadable"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nowhere.safetensors"));
}

// ------------------------------------------------------------ item 3

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn rotation_deletes_only_this_runs_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let five = recipe("checkpoint { every = 1; path = \"ck\"; keep = 2 }\n")
        .replace("epochs = 3", "epochs = 5");
    write_recipe(d, "r.nnt", &five);
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        names_in(&d.join("ck")),
        ["epoch-4.safetensors", "epoch-5.safetensors"]
    );
    fs::write(d.join("ck/epoch-0.safetensors"), b"mine").unwrap();
    fs::write(d.join("ck/epoch-00002.safetensors"), b"mine too").unwrap();
    // A changed recipe run into the same directory keeps its own newest two and
    // touches nothing else.
    let three = recipe("checkpoint { every = 1; path = \"ck\"; keep = 2 }\n")
        .replace("lr = 0.1", "lr = 0.2");
    write_recipe(d, "r.nnt", &three);
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        names_in(&d.join("ck")),
        [
            "epoch-0.safetensors",
            "epoch-00002.safetensors",
            "epoch-2.safetensors",
            "epoch-3.safetensors",
            "epoch-4.safetensors",
            "epoch-5.safetensors"
        ]
    );
    assert_eq!(fs::read(d.join("ck/epoch-0.safetensors")).unwrap(), b"mine");
}

// ------------------------------------------------------------ item 4

#[test]
fn resume_refuses_another_runs_checkpoint_and_says_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    csv_recipe(
        d,
        "checkpoint { every = 1; path = \"ck\" }\nregularize = [l2(1e-4)]\n",
    );
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let resume = ["run", "r.nnt", "--resume", "ck/epoch-2.safetensors"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--seed", "4"],
            "seed (3 in the checkpoint, 4 in the recipe)",
        ),
        (vec!["--set", "optimizer=sgd(lr = 0.5)"], "optimizer"),
        (vec!["--set", "regularize=[l2(1e-3)]"], "regularizer"),
        (vec!["--set", "train.batch=8"], "training plan"),
        (vec!["--set", "precision=f64"], "precision"),
    ];
    for (extra, what) in cases {
        let args: Vec<&str> = resume.iter().copied().chain(extra.clone()).collect();
        let o = run_in(d, &args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("nnt::io::foreign_checkpoint"),
            "{extra:?}: {err}"
        );
        assert!(err.contains(what), "{extra:?}: {err}");
    }
    // Other data: one value changed.
    let csv = fs::read_to_string(d.join("data.csv")).unwrap();
    fs::write(d.join("data.csv"), csv.replacen("0,0,0", "0,0.5,0", 1)).unwrap();
    let o = run_in(d, &resume);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("what differs from this recipe: data"),
        "{}",
        stderr(&o)
    );
    fs::write(d.join("data.csv"), csv).unwrap();
    // The same run resumes, and may train longer.
    let o = run_in(d, &resume);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run_in(
        d,
        &[
            "run",
            "r.nnt",
            "--resume",
            "ck/epoch-3.safetensors",
            "--set",
            "train.epochs=4",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_checkpoint_directory_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(
        d,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\n"),
    );
    fs::create_dir(d.join("ck")).unwrap();
    // Process 1 always runs: its lock holds.
    fs::write(d.join("ck/.nnt.lock"), b"1\n").unwrap();
    let o = run_in(d, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nnt::io::locked"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(names_in(&d.join("ck")), [".nnt.lock"]);
    // A dead process's lock is taken over, and released at the end.
    fs::write(d.join("ck/.nnt.lock"), b"9999999\n").unwrap();
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!d.join("ck/.nnt.lock").exists());
}

// ------------------------------------------------------------ item 5

#[test]
fn divergence_in_the_last_step_is_caught_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = recipe("checkpoint { every = 1; path = \"ck\" }\n")
        .replace("lr = 0.1", "lr = 1e300")
        .replace("epochs = 3", "epochs = 1")
        .replace("batch = 16", "batch = full");
    write_recipe(d, "r.nnt", &text);
    let o = run_in(
        d,
        &[
            "run",
            "r.nnt",
            "--format",
            "jsonl",
            "--save",
            "w.safetensors",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let log = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        log.contains("diverged at epoch 1, step 1"),
        "the step where the first non-finite value appeared: {log}"
    );
    assert!(log.contains("\"reason\":\"diverged\""), "{log}");
    assert!(!d.join("w.safetensors").exists(), "no inf weights saved");
    assert_eq!(names_in(&d.join("ck")), Vec::<String>::new());
}

// ------------------------------------------------------------ item 6

/// A safetensors file: (name, dtype, shape, little-endian bytes) and metadata.
fn safetensors_bytes(
    tensors: &[(&str, &str, Vec<usize>, Vec<u8>)],
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if let Some(m) = metadata {
        header.insert("__metadata__".into(), serde_json::Value::Object(m.clone()));
    }
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let h = serde_json::to_vec(&serde_json::Value::Object(header)).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn non_finite_start_weights_are_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe("init_from = \"w.safetensors\"\n"));
    let good = |name: &str| -> (Vec<usize>, usize) {
        match name {
            "0.weight" => (vec![4, 2], 8),
            "0.bias" => (vec![4], 4),
            "2.weight" => (vec![2, 4], 8),
            _ => (vec![2], 2),
        }
    };
    let names = ["0.weight", "0.bias", "2.weight", "2.bias"];
    // A NaN in 2.weight (behind a tanh), and an F64 1e300 in 0.bias.
    let cases: [(&str, &str, f64); 3] = [
        ("2.weight", "F32", f64::NAN),
        ("0.bias", "F64", 1e300),
        ("2.bias", "F32", f64::INFINITY),
    ];
    for (bad, dtype, value) in cases {
        let tensors: Vec<_> = names
            .iter()
            .map(|&n| {
                let (shape, len) = good(n);
                let mut v = vec![0.1f64; len];
                if n == bad {
                    v[len - 1] = value;
                }
                let bytes = if dtype == "F64" {
                    f64s(&v)
                } else {
                    f32s(&v.iter().map(|&x| x as f32).collect::<Vec<_>>())
                };
                (n, dtype, shape, bytes)
            })
            .collect();
        fs::write(d.join("w.safetensors"), safetensors_bytes(&tensors, None)).unwrap();
        let o = run_in(d, &["run", "r.nnt", "--format", "jsonl"]);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("nnt::io::non_finite"), "{bad}: {err}");
        assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        assert!(o.stdout.is_empty());
    }
}

/// Rewrites a checkpoint's run state (the JSON in its `nnt.run_state` metadata)
/// with `edit`.
fn tamper(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let bytes = fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let text = header["__metadata__"]["nnt.run_state"].as_str().unwrap();
    let mut state: serde_json::Value = serde_json::from_str(text).unwrap();
    edit(&mut state);
    header["__metadata__"]["nnt.run_state"] = serde_json::Value::String(state.to_string());
    let h = serde_json::to_vec(&header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

#[test]
fn tampered_checkpoint_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = recipe(
        "checkpoint { every = 1; path = \"ck\" }\n",
    )
    .replace(
        "batch = 16",
        "batch = 16\n    lr_schedule = reduce_on_plateau(0.5, patience = 1)\n    early_stop = patience(5)",
    );
    write_recipe(d, "r.nnt", &text);
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ck = d.join("ck/epoch-2.safetensors");
    for (key, value) in [
        ("plateau.rate", "-0.1"),
        ("plateau.rate", "NaN"),
        ("plateau.rate", "1e300"),
        ("plateau.best", "NaN"),
        ("early_stop.best", "NaN"),
    ] {
        let (section, field) = key.split_once('.').unwrap();
        let edited = tamper(&ck, |s| {
            s[section][field] = serde_json::Value::String(value.to_string())
        });
        fs::write(d.join("t.safetensors"), edited).unwrap();
        let o = run_in(d, &["run", "r.nnt", "--resume", "t.safetensors"]);
        assert_eq!(o.status.code(), Some(1), "{key}={value}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("nnt::io::bad_checkpoint"),
            "{key}={value}: {err}"
        );
        assert!(err.contains(key), "{key}={value}: {err}");
    }
    // A run state that is not one (a field of the wrong type, an unknown field).
    for edit in [
        (|s: &mut serde_json::Value| s["epoch"] = serde_json::json!("two"))
            as fn(&mut serde_json::Value),
        |s| s["surprise"] = serde_json::json!(1),
    ] {
        fs::write(d.join("t.safetensors"), tamper(&ck, edit)).unwrap();
        let o = run_in(d, &["run", "r.nnt", "--resume", "t.safetensors"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("nnt::io::bad_checkpoint"), "{err}");
        assert!(err.contains("run state is not valid"), "{err}");
    }
    // Epoch 0 (no checkpoint is written before an epoch) and more optimizer
    // steps than the epochs have batches.
    for (field, value) in [
        ("epoch", serde_json::json!(0)),
        ("optimizer.steps", serde_json::json!(u64::MAX)),
    ] {
        let edited = tamper(&ck, |s| match field.split_once('.') {
            Some((a, b)) => s[a][b] = value.clone(),
            None => s[field] = value.clone(),
        });
        fs::write(d.join("t.safetensors"), edited).unwrap();
        let o = run_in(d, &["run", "r.nnt", "--resume", "t.safetensors"]);
        assert_eq!(o.status.code(), Some(1), "{field}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("nnt::io::bad_checkpoint"), "{field}: {err}");
        assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
    }
    // A checkpoint without a fingerprint (as an older nnt wrote them).
    let edited = tamper(&ck, |s| s["fingerprint"] = serde_json::json!({}));
    fs::write(d.join("t.safetensors"), edited).unwrap();
    let o = run_in(d, &["run", "r.nnt", "--resume", "t.safetensors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no fingerprint"), "{}", stderr(&o));
    // The untouched checkpoint resumes.
    let o = run_in(d, &["run", "r.nnt", "--resume", "ck/epoch-2.safetensors"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Adam's running average of squared gradients edited to a negative value:
/// it was resumed, and the square root of it reported as a divergence at the
/// next step ("lower the learning rate").
#[test]
fn a_negative_running_square_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = recipe("checkpoint { every = 1; path = \"ck\" }\n")
        .replace("sgd(lr = 0.1)", "adam(lr = 0.01)");
    write_recipe(d, "r.nnt", &text);
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = fs::read(d.join("ck/epoch-2.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let at = 8 + n + header["optim.v"]["data_offsets"][0].as_u64().unwrap() as usize;
    let mut edited = bytes.clone();
    edited[at..at + 4].copy_from_slice(&(-1.0f32).to_le_bytes());
    fs::write(d.join("t.safetensors"), edited).unwrap();
    let o = run_in(d, &["run", "r.nnt", "--resume", "t.safetensors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nnt::io::bad_checkpoint"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("`optim.v`"), "{}", stderr(&o));
    let o = run_in(d, &["run", "r.nnt", "--resume", "ck/epoch-2.safetensors"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn another_models_checkpoint_is_named_as_such_before_its_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(
        d,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\n"),
    );
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let other = recipe("")
        .replace("dense(4)", "dense(5)")
        .replace("epochs = 3", "epochs = 1");
    write_recipe(d, "other.nnt", &other);
    let o = run_in(
        d,
        &["run", "other.nnt", "--resume", "ck/epoch-3.safetensors"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("model"), "{err}");
    assert!(!err.contains("from epoch 3"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_log_that_cannot_be_written_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(d, "r.nnt", &recipe(""));
    for format in ["text", "jsonl"] {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = nnt(d)
            .args([
                "run",
                "r.nnt",
                "--format",
                format,
                "--save",
                "w.safetensors",
            ])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("nnt::io::log_write_failed"),
            "{format}: {}",
            stderr(&o)
        );
        // The trained weights are still saved.
        assert!(d.join("w.safetensors").exists());
        fs::remove_file(d.join("w.safetensors")).unwrap();
    }
}

// ------------------------------------------------------------ item 8

#[test]
fn a_confusion_matrix_only_for_fifty_classes_or_fewer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (units, expected) in [(50, true), (51, false)] {
        let text = recipe("").replace("    dense(2)", &format!("    dense({units})"));
        write_recipe(d, "r.nnt", &text);
        let o = run_in(
            d,
            &[
                "run",
                "r.nnt",
                "--format",
                "jsonl",
                "--save",
                "w.safetensors",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{units}: {}", stderr(&o));
        let log = String::from_utf8_lossy(&o.stdout).into_owned();
        let end = log.lines().last().unwrap();
        assert!(end.contains("\"end\""), "{end}");
        assert_eq!(end.contains("\"confusion\""), expected, "{units}: {end}");
        assert!(d.join("w.safetensors").exists());
    }
}

// ------------------------------------------------------------ item 18

#[cfg(target_os = "linux")]
#[test]
fn sigterm_checkpoints_like_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Long enough to be running when the signal comes.
    let text = recipe("checkpoint { every = 100000; path = \"ck\" }\n")
        .replace("epochs = 3", "epochs = 100000")
        .replace("batch = 16", "batch = 1");
    write_recipe(d, "r.nnt", &text);
    let mut child = nnt(d)
        .args(["run", "r.nnt", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for the second epoch's event.
    let mut epochs = 0;
    while epochs < 2 {
        let line = lines.next().unwrap().unwrap();
        if line.contains("\"epoch\"") {
            epochs += 1;
        }
    }
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "SIGTERM ends like Ctrl-C");
    assert!(
        rest.last().is_some_and(|l| l.contains("\"interrupted\"")),
        "{rest:?}"
    );
    let written = names_in(&d.join("ck"));
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(written[0].starts_with("epoch-"), "{written:?}");
}

/// One request often arrives twice: Ctrl-C reaches a run and the `nnt sweep`
/// or `nnt test` that passes it on, Slurm and systemd signal every process of
/// a job. A second signal right after the first is the same request: the run
/// still stops with its checkpoint and its `end` event, not at once.
#[cfg(target_os = "linux")]
#[test]
fn sigterm_twice_at_once_is_one_request() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Wide layers: stopping (the step under way, the checkpoint) takes longer
    // than the time between the two signals.
    let text = recipe("checkpoint { every = 100000; path = \"ck\" }\n")
        .replace("n = 64", "n = 16")
        .replace("epochs = 3", "epochs = 100000")
        .replace("batch = 16", "batch = 1")
        .replace("dense(4)", "dense(1000)\n    tanh\n    dense(1000)");
    write_recipe(d, "r.nnt", &text);
    let mut child = nnt(d)
        .args(["run", "r.nnt", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // One epoch finished: the checkpoint has an epoch to keep.
    while !lines.next().unwrap().unwrap().contains("\"epoch\"") {}
    // The child is not waited for until both are sent: its id stays its own.
    let pid = child.id().to_string();
    for _ in 0..2 {
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        rest.last().is_some_and(|l| l.contains("\"interrupted\"")),
        "{rest:?}"
    );
    let written = names_in(&d.join("ck"));
    assert_eq!(written.len(), 1, "{written:?}");
}

/// `keep` counts the checkpoints of the run a resumed run continues: resuming
/// epoch 4 of a `keep = 2` run to 8 epochs left epochs 3, 4, 7 and 8 (and a
/// restart loop piled them up). A checkpoint of another run in the directory
/// (another seed) is never counted, so never deleted.
#[test]
fn keep_counts_the_checkpoints_of_the_run_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ck = "checkpoint { every = 1; path = \"ck\"; keep = 2 }\n";
    write_recipe(d, "r.nnt", &recipe(ck).replace("epochs = 3", "epochs = 4"));
    write_recipe(
        d,
        "other.nnt",
        &recipe(&ck.replace("\"ck\"", "\"ck_other\"")).replace("seed = 3", "seed = 4"),
    );
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run_in(d, &["run", "other.nnt", "--set", "train.epochs=1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::copy(
        d.join("ck_other/epoch-1.safetensors"),
        d.join("ck/epoch-1.safetensors"),
    )
    .unwrap();
    let o = run_in(
        d,
        &[
            "run",
            "r.nnt",
            "--set",
            "train.epochs=8",
            "--resume",
            "ck/epoch-4.safetensors",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut left: Vec<String> = fs::read_dir(d.join("ck"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "epoch-1.safetensors",
            "epoch-7.safetensors",
            "epoch-8.safetensors"
        ]
    );
}

#[test]
fn stale_temporary_files_of_dead_runs_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(
        d,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\n"),
    );
    fs::create_dir(d.join("ck")).unwrap();
    fs::create_dir(d.join("out")).unwrap();
    // Pids above Linux's maximum never run; pid 1 always does.
    let dead = [
        d.join("ck/.epoch-3.safetensors.tmp-9999999"),
        d.join("out/.w.safetensors.tmp-9999999"),
        d.join("out/.p.svg.tmp-9999998"),
    ];
    // Another program's temporaries of the same shape, beside nnt's outputs
    // and in the checkpoint directory, are not nnt's to remove (they were).
    let kept = [
        d.join("out/.w.safetensors.tmp-1"),
        d.join("out/notes.tmp-9999999"),
        d.join("out/.thesis.tex.tmp-9999999"),
        d.join("ck/.notes.txt.tmp-9999999"),
        d.join(".thesis.tex.tmp-9999999"),
    ];
    for p in dead.iter().chain(&kept) {
        fs::write(p, b"partial").unwrap();
    }
    let o = run_in(
        d,
        &[
            "run",
            "r.nnt",
            "--save",
            "out/w.safetensors",
            "--plot",
            "out/p.svg",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for p in &dead {
        assert!(!p.exists(), "{} removed", p.display());
    }
    for p in &kept {
        assert!(p.exists(), "{} kept", p.display());
    }
}

// ------------------------------------------------------------ item 13 (readers other than CSV)

/// Runs with a time limit: a reader that blocks on a FIFO fails the test
/// instead of hanging it.
fn run_bounded(dir: &Path, args: &[&str]) -> Output {
    use std::process::Stdio;
    let mut child = nnt(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nnt {args:?} did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn readers_refuse_fifos_and_devices() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mkfifo(&d.join("fifo"));
    std::os::unix::fs::symlink("/dev/zero", d.join("zero")).unwrap();
    write_recipe(d, "init.nnt", &recipe("init_from = \"fifo\"\n"));
    write_recipe(d, "initz.nnt", &recipe("init_from = \"zero\"\n"));
    write_recipe(d, "r.nnt", &recipe(""));
    let cases: Vec<Vec<&str>> = vec![
        vec!["check", "fifo"],
        // The machine formats and sweep read the recipe like every command (they
        // used to open it directly: a FIFO blocked them).
        vec!["check", "fifo", "--format", "json"],
        vec!["check", "zero", "--format", "github"],
        vec!["sweep", "fifo", "--grid", "optimizer.lr=[0.1]", "-o", "sw"],
        vec!["run", "zero"],
        vec!["fmt", "fifo"],
        vec!["plot", "fifo", "-o", "p.svg"],
        vec!["plot", "zero", "-o", "p.svg"],
        vec!["check", "init.nnt"],
        vec!["run", "init.nnt"],
        vec!["run", "initz.nnt"],
        vec!["run", "r.nnt", "--resume", "fifo"],
        vec!["run", "r.nnt", "--resume", "zero"],
    ];
    for args in cases {
        let o = run_bounded(d, &args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        // `check --format json|github` report on stdout, in their format.
        let err = (stderr(&o) + &String::from_utf8_lossy(&o.stdout)).replace("%3A", ":");
        assert!(err.contains("nnt::io::not_a_file"), "{args:?}: {err}");
    }
    assert!(!d.join("p.svg").exists());
    assert!(!d.join("sw").exists());
}

// ------------------------------------------------------------ the same class, elsewhere

#[test]
fn outputs_never_replace_each_other_and_plot_never_replaces_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(
        d,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\n"),
    );
    for args in [
        vec!["run", "r.nnt", "--save", "out.png", "--plot", "out.png"],
        vec!["run", "r.nnt", "--save", "ck/epoch-2.safetensors"],
        vec!["run", "r.nnt", "--save", "ck"],
        vec!["run", "r.nnt", "--save", "./ck"],
    ] {
        let o = run_in(d, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("nnt::io::outputs_collide"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
    let o = run_in(d, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(0));
    // A log saved under a picture's name, so that only the same-file rule refuses it.
    fs::write(d.join("log.svg"), &o.stdout).unwrap();
    let o = run_in(d, &["plot", "log.svg", "-o", "./log.svg"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nnt::io::output_is_input"),
        "{}",
        stderr(&o)
    );
    assert!(fs::read_to_string(d.join("log.svg"))
        .unwrap()
        .contains("\"end\""));
    // A checkpoint name of an epoch this 3-epoch run never reaches is a file
    // like any other (it was refused as colliding with a checkpoint).
    let o = run_in(d, &["run", "r.nnt", "--save", "ck/epoch-100.safetensors"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(d.join("ck/epoch-100.safetensors").is_file());
}

#[cfg(unix)]
#[test]
fn fmt_as_root_keeps_the_owner() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let real = write_recipe(d, "r.nnt", &recipe("").replace("    dense(4)", "dense(4)"));
    if fs::metadata(&real).unwrap().uid() != 0 {
        // Only root can give a file to another user; nothing to check otherwise.
        return;
    }
    std::os::unix::fs::chown(&real, Some(1234), Some(2345)).unwrap();
    let o = run_in(d, &["fmt", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = fs::metadata(&real).unwrap();
    assert!(fs::read_to_string(&real).unwrap().contains("    dense(4)"));
    assert_eq!((m.uid(), m.gid()), (1234, 2345));
}

/// What a run would find only later is found before it trains: a FIFO with
/// the name of a checkpoint the run writes (found after three epochs, the log
/// cut without an `end` event), and a checkpoint to resume that is not there
/// (the checkpoint folder was created all the same).
#[cfg(unix)]
#[test]
fn checkpoint_problems_are_found_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(
        d,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\n"),
    );
    let o = run_in(d, &["run", "r.nnt", "--resume", "nope.safetensors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nnt::io::unreadable"), "{}", stderr(&o));
    assert!(!d.join("ck").exists(), "the checkpoint folder was created");
    fs::create_dir(d.join("ck")).unwrap();
    mkfifo(&d.join("ck/epoch-3.safetensors"));
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nnt::io::write_failed"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("is a FIFO"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("never replaces a device, FIFO or directory"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("this folder"), "{}", stderr(&o));
    assert!(
        o.stdout.is_empty(),
        "it trained: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    // `nnt check` says so too.
    let o = run_in(d, &["check", "r.nnt"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// A `save` in the checkpoint folder the run creates is written there (it was
/// refused: the folder did not exist yet); one that is a checkpoint's name is
/// one error, not also "the directory does not exist".
#[test]
fn a_save_in_the_checkpoint_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_recipe(
        d,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\nsave = \"ck/final.safetensors\"\n"),
    );
    let o = run_in(d, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(d.join("ck/final.safetensors").is_file());
    let d2 = d.join("two");
    fs::create_dir(&d2).unwrap();
    write_recipe(
        &d2,
        "r.nnt",
        &recipe("checkpoint { every = 1; path = \"ck\" }\nsave = \"ck/epoch-1.safetensors\"\n"),
    );
    let o = run_in(&d2, &["check", "r.nnt"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nnt::io::outputs_collide"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(stderr(&o).contains("r.nnt: 1 error"), "{}", stderr(&o));
}
