//! End-to-end tests of the CI commands (spec §16): `nnt test` on temporary
//! folders, `expect` sections, and `nnt check --format json|github`.

use std::path::Path;
use std::process::{Command, Output};

fn nnt(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnt"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("COLUMNS");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    nnt(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_owned()
}

/// A small classifier that trains in a few milliseconds.
fn recipe(lr: &str, epochs: usize) -> String {
    format!(
        "seed = 3\n\
         data {{\n    train = xor(n = 64, noise = 0.1)\n    valid = split(train, 0.25)\n}}\n\
         model {{\n    dense(4)\n    tanh\n    dense(2)\n}}\n\
         loss = cross_entropy\n\
         optimizer = sgd(lr = {lr})\n\
         train {{\n    epochs = {epochs}\n    batch = full\n}}\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn test_new_update_pass_change_fail_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("r.nnt"), &recipe("0.5", 3));
    let snap = dir.join("snapshots/r.jsonl");
    let new = dir.join("snapshots/r.jsonl.new");

    // new: fails, the output is written beside the (missing) snapshot
    let o = run(dir, &["test"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("new     r.nnt"), "{}", stdout(&o));
    assert_eq!(last_line(&o), "0 passed, 1 failed");
    assert!(!snap.exists());
    let expected = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(expected.status.code(), Some(0));
    assert_eq!(std::fs::read(&new).unwrap(), expected.stdout);

    // update: writes the snapshot, removes the .new file, exit 0
    let o = run(dir, &["test", "--update"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(std::fs::read(&snap).unwrap(), expected.stdout);
    assert!(!new.exists());

    // pass: also from another directory (the snapshot does not depend on the cwd)
    let o = run(dir, &["test"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "ok      r.nnt\n1 passed, 0 failed\n");
    let o = run(dir.parent().unwrap(), &["test", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(last_line(&o), "1 passed, 0 failed");

    // change: fails with the right difference; the actual output goes to .new
    write(&dir.join("r.nnt"), &recipe("0.4", 3));
    let o = run(dir, &["test"]);
    assert_eq!(o.status.code(), Some(1));
    let report = stdout(&o);
    assert!(report.contains("FAILED  r.nnt"), "{report}");
    assert!(
        report.contains(
            "line 2, epoch 1, lr: snapshot 0.5, actual 0.4 (relative difference 2.000e-1)"
        ),
        "{report}"
    );
    assert_eq!(last_line(&o), "0 passed, 1 failed");
    let actual = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(std::fs::read(&new).unwrap(), actual.stdout);
    assert_eq!(
        std::fs::read(&snap).unwrap(),
        expected.stdout,
        "a failing test leaves the snapshot alone"
    );

    // tolerance: a snapshot whose train_loss differs by 1e-7 relative
    write(&dir.join("r.nnt"), &recipe("0.5", 3));
    let text = String::from_utf8(expected.stdout.clone()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut epoch: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&lines[1]).unwrap();
    let loss = epoch["train_loss"].as_f64().unwrap();
    let nudged = loss * (1.0 + 1e-7);
    epoch.insert("train_loss".into(), serde_json::json!(nudged));
    let patched = lines[1].replace(
        &format!("\"train_loss\":{}", serde_json::json!(loss)),
        &format!("\"train_loss\":{}", serde_json::json!(nudged)),
    );
    assert_ne!(patched, lines[1]);
    lines[1] = patched;
    write(&snap, &(lines.join("\n") + "\n"));
    let o = run(dir, &["test"]);
    assert_eq!(o.status.code(), Some(1));
    let report = stdout(&o);
    assert!(
        report.contains("line 2, epoch 1, train_loss: snapshot "),
        "{report}"
    );
    assert!(
        report.contains("(relative difference 1.000e-7)"),
        "{report}"
    );
    let o = run(dir, &["test", "--tolerance", "1e-6"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(last_line(&o), "1 passed, 0 failed");
    let o = run(dir, &["test", "--tolerance", "1e-8"]);
    assert_eq!(o.status.code(), Some(1));
    // a different string is never within tolerance
    let changed = text.replace("\"reason\":\"completed\"", "\"reason\":\"early_stop\"");
    assert_ne!(changed, text);
    write(&snap, &changed);
    let o = run(dir, &["test", "--tolerance", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(", end, reason: snapshot \"early_stop\", actual \"completed\""));
}

#[test]
fn test_snapshot_of_a_rejected_recipe_is_its_check_rendering() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        &dir.join("sub/bad.nnt"),
        &recipe("0.5", 2).replace("tanh", "tahn"),
    );
    let o = run(dir, &["test", "--update"]);
    assert_eq!(o.status.code(), Some(0));
    let check = nnt(&dir.join("sub"))
        .args(["check", "bad.nnt"])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let snapshot = std::fs::read_to_string(dir.join("sub/snapshots/bad.jsonl")).unwrap();
    assert_eq!(snapshot, stderr(&check));
    assert!(snapshot.contains("nnt::check::unknown_name"), "{snapshot}");
    assert!(snapshot.contains("bad.nnt: 1 error"), "{snapshot}");
    assert!(!snapshot.contains('\u{1b}'), "no colour");
    let o = run(dir, &["test"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn test_skips_hidden_and_snapshot_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("a.nnt"), &recipe("0.5", 1));
    write(&dir.join(".hidden/h.nnt"), &recipe("0.5", 1));
    write(&dir.join("snapshots/s.nnt"), &recipe("0.5", 1));
    write(&dir.join("deep/er/b.nnt"), &recipe("0.5", 1));
    write(&dir.join("deep/notes.txt"), "not a recipe");
    let o = run(dir, &["test"]);
    assert_eq!(
        stdout(&o)
            .lines()
            .filter_map(|l| l.strip_prefix("new     "))
            .map(|l| l.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        ["a.nnt", "deep/er/b.nnt"]
    );
    assert_eq!(last_line(&o), "0 passed, 2 failed");
    assert!(!dir.join(".hidden/snapshots").exists());
}

#[test]
fn test_report_does_not_depend_on_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (i, name) in ["c.nnt", "a.nnt", "b/z.nnt", "b/a.nnt", "d.nnt"]
        .iter()
        .enumerate()
    {
        write(&dir.join(name), &recipe(&format!("0.{}", i + 1), 2 + i));
    }
    write(&dir.join("e.nnt"), "model { dense(2) }\n");
    assert_eq!(run(dir, &["test", "--update"]).status.code(), Some(0));
    // two recipes change
    write(&dir.join("a.nnt"), &recipe("0.9", 3));
    write(&dir.join("b/z.nnt"), &recipe("0.9", 4));
    let one = run(dir, &["test", "--jobs", "1"]);
    let four = run(dir, &["test", "--jobs", "4"]);
    assert_eq!(one.status.code(), Some(1));
    assert_eq!(stdout(&one), stdout(&four));
    let report = stdout(&one);
    let order: Vec<&str> = report
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.ends_with(" failed"))
        .map(|l| l.split_whitespace().nth(1).unwrap().trim_end_matches(':'))
        .collect();
    assert_eq!(
        order,
        ["a.nnt", "b/a.nnt", "b/z.nnt", "c.nnt", "d.nnt", "e.nnt"]
    );
    assert_eq!(last_line(&one), "4 passed, 2 failed");
}

/// Issue 11, item 18: SIGTERM to `nnt test` ended it at once and left the
/// running recipes training. Now no recipe starts after it, the running ones
/// are stopped (SIGTERM passed on) and waited for, a recipe they did not
/// finish is `stopped` in the report and in the JUnit file (`<skipped>`):
/// neither passed nor failed, and nothing is written for it, not even under
/// `--update`; the recipes that finished are reported, and `nnt test` exits
/// with 130.
#[cfg(target_os = "linux")]
#[test]
fn sigterm_stops_nnt_test_and_writes_no_snapshot() {
    use crate::common;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("a.nnt"), &recipe("0.5", 3));
    assert_eq!(run(dir, &["test", "--update"]).status.code(), Some(0));
    // Three recipes that train far longer than the test waits; each holds the
    // lock of its checkpoint folder while it trains.
    let long = |name: &str| {
        recipe("0.5", 1_000_000).replace("batch = full", "batch = 1")
            + &format!("checkpoint {{\n    every = 1000000\n    path = \"ck_{name}\"\n}}\n")
    };
    for name in ["b", "c", "d"] {
        write(&dir.join(format!("{name}.nnt")), &long(name));
    }
    let mut test = nnt(dir)
        .args(["test", "--update", "--jobs", "2", "--junit", "report.xml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock = |name: &str| dir.join(format!("ck_{name}/.nnt.lock"));
    // c starts once a has finished.
    common::wait_for(&mut test, 120, "b and c training", || {
        lock("b").exists() && lock("c").exists()
    });
    let runs = common::children_of(test.id());
    assert_eq!(runs.len(), 2, "{runs:?}");
    common::send_signal("TERM", &test.id().to_string());
    let done = common::finish(test, 120, "nnt test after SIGTERM");
    let left = common::left_running(&runs);
    assert_eq!(
        done.code,
        Some(130),
        "stdout:\n{}\nstderr:\n{}",
        done.stdout,
        done.stderr
    );
    assert!(left.is_empty(), "recipes left training: {left:?}");
    let stopped = "interrupted before it ended; not compared, nothing written";
    assert_eq!(
        done.stdout,
        format!(
            "ok      a.nnt\nstopped b.nnt: {stopped}\nstopped c.nnt: {stopped}\n\
             stopped d.nnt: {stopped}\n1 passed, 0 failed, 3 interrupted\n"
        )
    );
    let snapshots: Vec<String> = std::fs::read_dir(dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(snapshots, ["a.jsonl"], "no snapshot of a partial output");
    assert!(!dir.join("ck_d").exists(), "d never started");
    for name in ["b", "c"] {
        assert!(!lock(name).exists(), "{name} gave its lock back");
    }
    let xml = std::fs::read_to_string(dir.join("report.xml")).unwrap();
    assert!(
        xml.contains("tests=\"4\" failures=\"0\" errors=\"0\" skipped=\"3\"")
            && xml
                .matches("<skipped message=\"interrupted before it ended\"/>")
                .count()
                == 3,
        "{xml}"
    );
}

#[test]
fn test_junit_report_is_well_formed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("ok.nnt"), &recipe("0.5", 2));
    write(&dir.join("we<ird&.nnt"), &recipe("0.5", 2));
    assert_eq!(run(dir, &["test", "--update"]).status.code(), Some(0));
    write(&dir.join("we<ird&.nnt"), &recipe("0.25", 2));
    write(&dir.join("fresh.nnt"), &recipe("0.5", 2));
    let o = run(dir, &["test", "--junit", "out/junit.xml"]);
    assert_eq!(o.status.code(), Some(1));
    let xml = std::fs::read_to_string(dir.join("out/junit.xml")).unwrap();
    let doc = parse_xml(&xml);
    let suite = &doc.children[0];
    assert_eq!(doc.name, "testsuites");
    assert_eq!(doc.attr("tests"), Some("3"));
    assert_eq!(doc.attr("failures"), Some("2"));
    assert_eq!(suite.name, "testsuite");
    let cases: Vec<&Element> = suite.children.iter().collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attr("name").unwrap()).collect();
    assert_eq!(names, ["fresh.nnt", "ok.nnt", "we<ird&.nnt"]);
    assert!(cases[0].children[0].name == "failure");
    assert!(cases[1].children.is_empty());
    let failure = &cases[2].children[0];
    assert_eq!(failure.name, "failure");
    assert!(
        failure
            .text
            .contains("lr: snapshot 0.5, actual 0.25 (relative difference 5.000e-1)"),
        "{}",
        failure.text
    );
}

/// A child that cannot be started, or that a signal ends, is an `ERROR` line
/// with its code (in the report and the JUnit failure), and nothing is written
/// beside the snapshot, even under `--update`. `nnt test` always starts its own
/// executable, so the children are swapped through the library's `Runner`.
#[cfg(unix)]
#[test]
fn test_reports_a_child_that_cannot_start_or_is_killed() {
    use nnt::cli::test::{junit_xml, report_entry, Runner, Verdict};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = dir.join("r.nnt");
    write(&r, &recipe("0.5", 1));
    let runner = |exe: std::path::PathBuf| Runner {
        exe,
        update: true,
        tolerance: None,
        jobs: 1,
        interrupt: nnt::cli::child::Interrupt::new(),
    };
    let error = |v: &Verdict| match v {
        Verdict::Error(e) => e.clone(),
        other => panic!("expected an error, got {other:?}"),
    };
    // An executable that does not exist.
    let missing = runner(dir.join("no-such-nnt")).test_one(&r);
    let e = error(&missing.verdict);
    assert!(
        e.starts_with("error[nnt::test::cannot_run]: cannot run ")
            && e.contains("no-such-nnt: No such file or directory"),
        "{e}"
    );
    // `/bin/sh run r.nnt …` runs the script `run` of the recipe's folder, which
    // kills its own shell: `nnt run` ended by SIGKILL.
    write(&dir.join("run"), "kill -9 $$\n");
    let killed = runner("/bin/sh".into()).test_one(&r);
    let e = error(&killed.verdict);
    assert!(
        e.starts_with("error[nnt::test::killed]: `nnt run r.nnt` was killed (signal: 9"),
        "{e}"
    );
    let line = report_entry(&killed);
    assert!(
        line.starts_with(&format!("ERROR   {}: {e}", r.display())),
        "{line}"
    );
    assert!(junit_xml(&[killed]).contains("error[nnt::test::killed]"));
    // A run that fails with nothing on stdout is rendered by `nnt check`: the
    // check killed is reported too, not taken as the recipe's diagnostics.
    write(&dir.join("run"), "exit 1\n");
    write(&dir.join("check"), "echo partial >&2\nkill -9 $$\n");
    let e = error(&runner("/bin/sh".into()).test_one(&r).verdict);
    assert!(
        e.starts_with("error[nnt::test::killed]: `nnt check r.nnt` was killed (signal: 9"),
        "{e}"
    );
    assert!(!dir.join("snapshots").exists());
}

/// A run that fails although its check passes (here: a checkpoint folder
/// locked by a live process, which only the run takes) is an `ERROR` line with
/// the run's diagnostics, never an empty snapshot that later passes.
#[test]
fn test_reports_a_recipe_that_checks_but_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = dir.join("r.nnt");
    write(
        &r,
        &format!(
            "{}checkpoint {{\n    every = 1\n    path = \"ck\"\n}}\n",
            recipe("0.5", 2)
        ),
    );
    // This test process holds the lock: alive, and not the run's.
    write(
        &dir.join("ck/.nnt.lock"),
        &format!("{}\n", std::process::id()),
    );
    assert_eq!(run(dir, &["check", "r.nnt"]).status.code(), Some(0));
    assert_eq!(
        run(dir, &["run", "r.nnt", "--format", "jsonl"])
            .status
            .code(),
        Some(1)
    );
    for args in [vec!["test", "--update"], vec!["test"]] {
        let o = run(dir, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
        let out = stdout(&o);
        assert!(
            out.starts_with(
                "ERROR   r.nnt: error[nnt::test::run_failed]: `nnt run r.nnt` failed with exit status 1:\n    nnt::io::locked\n"
            ),
            "{out}"
        );
        assert!(out.contains("is in use by another nnt run"), "{out}");
        assert_eq!(last_line(&o), "0 passed, 1 failed");
        assert!(!dir.join("snapshots").exists(), "{args:?}");
    }
    let o = run(dir, &["test", "--junit", "report.xml"]);
    assert_eq!(o.status.code(), Some(1));
    let xml = std::fs::read_to_string(dir.join("report.xml")).unwrap();
    assert!(xml.contains("error[nnt::test::run_failed]"), "{xml}");
}

/// Any exit status but a result's (0, 3, 4, 130) is an error once the check
/// passes: shown with the run's stderr, nothing written.
#[test]
fn test_reports_a_failed_run_whatever_its_status() {
    use nnt::cli::test::{Runner, Verdict};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = dir.join("r.nnt");
    write(&r, &recipe("0.5", 1));
    let runner = Runner {
        exe: "/bin/sh".into(),
        update: true,
        tolerance: None,
        jobs: 1,
        interrupt: nnt::cli::child::Interrupt::new(),
    };
    // `/bin/sh run r.nnt …` and `/bin/sh check r.nnt` run these scripts.
    write(&dir.join("check"), "exit 0\n");
    for (script, code) in [
        ("echo 'nnt::io::write_failed' >&2\nexit 1\n", 1),
        (
            "echo '{\"event\":\"start\"}'\necho 'nnt::io::write_failed' >&2\nexit 1\n",
            1,
        ),
        ("echo 'bad usage' >&2\nexit 2\n", 2),
        ("exit 5\n", 5),
    ] {
        write(&dir.join("run"), script);
        match runner.test_one(&r).verdict {
            Verdict::Error(e) => {
                assert!(
                    e.starts_with(&format!(
                        "error[nnt::test::run_failed]: `nnt run r.nnt` failed with exit status {code}"
                    )),
                    "{e}"
                );
                let shown = script
                    .lines()
                    .find_map(|l| l.strip_prefix("echo '")?.strip_suffix("' >&2"));
                if let Some(shown) = shown {
                    assert!(e.contains(&format!(":\n    {shown}")), "{e}");
                }
            }
            other => panic!("{script}: expected an error, got {other:?}"),
        }
        assert!(!dir.join("snapshots").exists(), "{script}");
    }
    // The statuses of a result are compared as before.
    write(&dir.join("run"), "echo '{\"event\":\"end\"}'\nexit 4\n");
    assert!(matches!(runner.test_one(&r).verdict, Verdict::New));
    assert_eq!(
        std::fs::read_to_string(dir.join("snapshots/r.jsonl")).unwrap(),
        "{\"event\":\"end\"}\n"
    );
}

#[test]
fn test_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("a.nnt"), &recipe("0.5", 1));
    for args in [
        vec!["test", "--tolerance", "-1"],
        vec!["test", "--tolerance", "x"],
        vec!["test", "--jobs", "0"],
        vec!["test", "missing"],
        vec!["test", "--frobnicate"],
    ] {
        assert_eq!(run(dir, &args).status.code(), Some(2), "{args:?}");
    }
}

// ------------------------------------------------------------------ a minimal XML reader

#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("entity ends with ;") + i;
        out.push_str(match &rest[i + 1..end] {
            "amp" => "&",
            "lt" => "<",
            "gt" => ">",
            "quot" => "\"",
            "apos" => "'",
            e => panic!("unknown entity &{e};"),
        });
        rest = &rest[end + 1..];
    }
    assert!(!rest.contains('<'));
    out.push_str(rest);
    out
}

/// Parses the XML this project writes (declaration, elements, attributes,
/// text); panics on anything that is not well formed.
fn parse_xml(xml: &str) -> Element {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .expect("XML declaration");
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = body;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = unescape(&rest[..lt]);
        stack.last_mut().unwrap().text.push_str(&text);
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').expect("tag ends");
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let done = stack.pop().unwrap();
            assert_eq!(done.name, name, "closing tag matches");
            stack.last_mut().unwrap().children.push(done);
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut el = Element {
            name: name.to_owned(),
            ..Default::default()
        };
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                break;
            }
            let (k, v) = attrs.split_once("=\"").expect("attribute is quoted");
            let end = v.find('"').expect("attribute ends");
            el.attrs.push((k.to_owned(), unescape(&v[..end])));
            attrs = &v[end + 1..];
        }
        if self_closing {
            stack.last_mut().unwrap().children.push(el);
        } else {
            stack.push(el);
        }
    }
    assert_eq!(stack.len(), 1, "every element is closed");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    assert!(root.text.trim().is_empty());
    root.children.pop().unwrap()
}

// ------------------------------------------------------------------ expect

fn with_expect(expect: &str, extra_train: &str) -> String {
    recipe("0.5", 6).replace(
        "    batch = full\n",
        &format!("    batch = full\n{extra_train}"),
    ) + "save = \"model.safetensors\"\n"
        + expect
}

fn events(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn expectations_met_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        &dir.join("r.nnt"),
        &with_expect(
            "expect {\n    train_loss = at_most(100)\n    valid_accuracy = at_least(0)\n}\n",
            "",
        ),
    );
    let o = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ev = events(&o);
    let end = ev.last().unwrap();
    assert_eq!(end["event"], "end");
    assert!(end.get("expectations").is_none());
    assert!(ev.iter().all(|e| e["event"] != "diagnostic"));
    // the log is the one without the section
    let plain = with_expect("", "");
    write(&dir.join("plain.nnt"), &plain);
    let p = run(dir, &["run", "plain.nnt", "--format", "jsonl"]);
    // Everything after the start event (whose `config` holds the recipe text).
    let after_start = |s: String| s.split_once('\n').map(|(_, rest)| rest.to_string());
    assert_eq!(
        after_start(stdout(&o)),
        after_start(stdout(&p)),
        "expectations that hold change nothing in the log"
    );
}

#[test]
fn unmet_expectation_exits_4_after_save_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = with_expect(
        "expect {\n    train_loss = at_most(100)\n    valid_accuracy = at_least(1.5)\n}\n",
        "",
    );
    write(&dir.join("r.nnt"), &text);
    let line = text
        .lines()
        .position(|l| l.contains("at_least(1.5)"))
        .unwrap()
        + 1;
    let o = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        dir.join("model.safetensors").exists(),
        "save is written first"
    );
    let ev = events(&o);
    let end = ev.last().unwrap();
    assert_eq!(end["event"], "end");
    assert_eq!(end["reason"], "completed");
    assert_eq!(end["expectations"], "failed");
    let last_epoch = ev.iter().rfind(|e| e["event"] == "epoch").unwrap();
    let diag = &ev[ev.len() - 2];
    assert_eq!(diag["event"], "diagnostic");
    assert_eq!(diag["code"], "nnt::run::expectation");
    assert_eq!(diag["severity"], "error");
    assert_eq!(diag["epoch"], last_epoch["epoch"]);
    let msg = diag["message"].as_str().unwrap();
    let acc = last_epoch["valid_accuracy"].as_f64().unwrap();
    assert!(
        msg.contains(&format!(
            "`valid_accuracy` is {acc} at epoch 6, expected at least 1.5"
        )),
        "{msg}"
    );
    // one diagnostic only: train_loss holds
    assert_eq!(ev.iter().filter(|e| e["event"] == "diagnostic").count(), 1);
    // stderr shows it at its line of the recipe
    let err = stderr(&o);
    assert!(err.contains("nnt::run::expectation"), "{err}");
    assert!(err.contains(&format!("[r.nnt:{line}:5]")), "{err}");
    // the text view exits 4 as well
    let o = run(dir, &["run", "r.nnt"]);
    assert_eq!(o.status.code(), Some(4));
}

/// Two unmet expectations on one line (§16's own layout) are each shown at
/// their own item: both were underlined at the line's first.
#[test]
fn unmet_expectations_on_one_line_point_at_their_items() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = with_expect(
        "expect { valid_accuracy = at_least(1.5); train_loss = at_most(0) }\n",
        "",
    );
    write(&dir.join("r.nnt"), &text);
    let line = text.lines().position(|l| l.starts_with("expect")).unwrap() + 1;
    let o = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    // `valid_accuracy` at column 10, `train_loss` at column 42.
    let second = "expect { valid_accuracy = at_least(1.5); ".len() + 1;
    assert!(err.contains(&format!("[r.nnt:{line}:10]")), "{err}");
    assert!(err.contains(&format!("[r.nnt:{line}:{second}]")), "{err}");
}

/// The numbers of an unmet expectation's message are spelt as the log spells
/// them: `9.790207371165547e19`, not 97902073711655470000; a bound of 1e-7 as
/// `1e-7`, not 0.0000001.
#[test]
fn unmet_expectation_numbers_read_as_in_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = recipe("1e20", 3) + "expect {\n    train_loss = at_most(1e-7)\n}\n";
    write(&dir.join("r.nnt"), &text);
    let o = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let out = stdout(&o);
    let end = out.lines().last().unwrap();
    // The kept epoch's train_loss as the log writes it.
    let logged = end
        .split("\"train_loss\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .unwrap();
    assert!(
        logged.contains('e'),
        "a huge loss is logged with an exponent: {end}"
    );
    let diag = out
        .lines()
        .find(|l| l.contains("nnt::run::expectation"))
        .unwrap();
    assert!(
        diag.contains(&format!(
            "`train_loss` is {logged} at epoch 3, expected at most 1e-7"
        )),
        "{diag}\n{end}"
    );
}

#[test]
fn expectations_read_the_kept_epoch_under_early_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // lr 5 makes the valid loss jump about; patience 1 stops early, keeping the best.
    let text = with_expect(
        "expect { valid_loss = at_most(0) }\n",
        "    early_stop = patience(1)\n",
    )
    .replace("sgd(lr = 0.5)", "sgd(lr = 5)")
    .replace("epochs = 6", "epochs = 30");
    write(&dir.join("r.nnt"), &text);
    let o = run(dir, &["run", "r.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let ev = events(&o);
    let end = ev.last().unwrap();
    let best = end["best_epoch"].as_u64().unwrap();
    let kept = ev
        .iter()
        .find(|e| e["event"] == "epoch" && e["epoch"].as_u64() == Some(best))
        .unwrap();
    let diag = ev
        .iter()
        .find(|e| e["event"] == "diagnostic" && e["code"] == "nnt::run::expectation")
        .unwrap();
    assert_eq!(diag["epoch"].as_u64(), Some(best));
    let want = format!(
        "`valid_loss` is {} at epoch {best}",
        kept["valid_loss"].as_f64().unwrap()
    );
    assert!(diag["message"].as_str().unwrap().contains(&want), "{diag}");
}

#[test]
fn test_expectations_check_and_nnt_test_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // a test_* field without a test split is a check error
    write(
        &dir.join("bad.nnt"),
        &with_expect("expect { test_accuracy = at_least(0.5) }\n", ""),
    );
    let o = run(dir, &["check", "bad.nnt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nnt::check::not_logged"),
        "{}",
        stderr(&o)
    );
    // with a test split, test_* comes from the end event
    let text = with_expect("expect { test_accuracy = at_least(2) }\n", "").replace(
        "    valid = split(train, 0.25)\n",
        "    valid = split(train, 0.25)\n    test = split(train, 0.25)\n",
    );
    write(&dir.join("bad.nnt"), &text);
    let o = run(dir, &["run", "bad.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let ev = events(&o);
    let end = ev.last().unwrap();
    let diag = &ev[ev.len() - 2];
    assert!(diag["message"].as_str().unwrap().contains(&format!(
        "`test_accuracy` is {} at the end",
        end["test_accuracy"]
    )));
    // nnt test snapshots the log with its failed expectation
    assert_eq!(run(dir, &["test", "--update"]).status.code(), Some(0));
    let snap = std::fs::read(dir.join("snapshots/bad.jsonl")).unwrap();
    assert_eq!(snap, o.stdout);
}

/// `expect` names the metric fields the run logs (`metrics = [f1]` logs
/// `valid_f1` each epoch and `test_f1` at the end, §15): the check accepts
/// them, the run compares them with the values it logs (exit 4 when unmet),
/// `nnt test` snapshots that log, and a metric the run does not compute is
/// `nnt::check::not_logged`, not an unknown name.
#[test]
fn expectations_on_metric_fields_read_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let with_test = |expect: &str, extra_train: &str| {
        with_expect(expect, extra_train).replace(
            "    valid = split(train, 0.25)\n",
            "    valid = split(train, 0.25)\n    test = split(train, 0.25)\n",
        )
    };
    let metrics = "    metrics = [f1]\n";
    write(
        &dir.join("met.nnt"),
        &with_test(
            "expect {\n    valid_f1 = at_least(0.0)\n    test_f1 = at_least(0.0)\n}\n",
            metrics,
        ),
    );
    let o = run(dir, &["check", "met.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(dir, &["run", "met.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ev = events(&o);
    assert!(ev.iter().all(|e| e["event"] != "diagnostic"), "{ev:?}");
    let end = ev.last().unwrap();
    assert!(end.get("expectations").is_none());
    let f1 = ev.iter().rfind(|e| e["event"] == "epoch").unwrap()["valid_f1"]
        .as_f64()
        .unwrap();
    let test_f1 = end["test_f1"].as_f64().unwrap();

    // Bounds the logged values miss: one diagnostic each, with the logged value.
    let text = with_test(
        "expect {\n    valid_f1 = at_least(1.5)\n    test_f1 = at_most(-1)\n}\n",
        metrics,
    );
    write(&dir.join("met.nnt"), &text);
    let o = run(dir, &["run", "met.nnt", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let ev = events(&o);
    let end = ev.last().unwrap();
    assert_eq!(end["expectations"], "failed");
    let messages: Vec<&str> = ev
        .iter()
        .filter(|e| e["event"] == "diagnostic" && e["code"] == "nnt::run::expectation")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            format!("expectation not met: `valid_f1` is {f1} at epoch 6, expected at least 1.5"),
            format!("expectation not met: `test_f1` is {test_f1} at the end, expected at most -1"),
        ],
    );
    // nnt test runs it and snapshots that log, failed expectations included.
    assert_eq!(run(dir, &["test", "--update"]).status.code(), Some(0));
    assert_eq!(
        std::fs::read(dir.join("snapshots/met.jsonl")).unwrap(),
        o.stdout
    );
    let t = run(dir, &["test"]);
    assert_eq!(t.status.code(), Some(0), "{}", stdout(&t));

    // Without `f1` in `metrics` the run logs neither field.
    write(
        &dir.join("met.nnt"),
        &with_test("expect {\n    valid_f1 = at_least(0.0)\n}\n", ""),
    );
    let o = run(dir, &["check", "met.nnt"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("nnt::check::not_logged"), "{err}");
    assert!(err.contains("add `metrics = [f1]` to `train`"), "{err}");
    assert!(!err.contains("unknown_name"), "{err}");
}

#[test]
fn fmt_keeps_the_expect_section() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = with_expect(
        "expect {\n    # a gate\n    valid_accuracy = at_least(0.5); train_loss = at_most(0.9)\n}\n",
        "",
    );
    write(&dir.join("r.nnt"), &text);
    let o = run(dir, &["fmt", "r.nnt"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let formatted = std::fs::read_to_string(dir.join("r.nnt")).unwrap();
    assert!(
        formatted.contains("expect {\n    # a gate\n    valid_accuracy = at_least(0.5)\n    train_loss = at_most(0.9)\n}"),
        "{formatted}"
    );
    assert_eq!(run(dir, &["check", "r.nnt"]).status.code(), Some(0));
}

// ------------------------------------------------------------------ check --format

#[test]
fn check_format_json_is_one_object_per_diagnostic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // one warning (softmax before cross_entropy) and two errors
    let text = recipe("0.5", 2)
        .replace("    dense(2)\n}", "    dense(2)\n    softmax\n}")
        .replace("sgd(", "sgdd(")
        .replace("epochs = 2", "epochs = 0");
    write(&dir.join("r.nnt"), &text);
    let o = run(dir, &["check", "r.nnt", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "", "json goes to stdout only");
    let diags: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "nnt::lint::softmax_before_cross_entropy",
            "nnt::check::unknown_name",
            "nnt::check::out_of_range"
        ]
    );
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let w = &diags[0];
    assert_eq!(w["severity"], "warning");
    assert_eq!(w["line"], line_of("softmax"));
    let e = &diags[1];
    assert_eq!(e["severity"], "error");
    assert_eq!(e["file"], "r.nnt");
    assert_eq!(e["message"], "unknown optimizer `sgdd`");
    assert!(e["help"].as_str().unwrap().contains("sgd"), "{e}");
    assert_eq!(e["line"], line_of("sgdd"));
    assert_eq!(e["column"], 13);
    assert_eq!(e["end_line"], e["line"]);
    assert_eq!(e["end_column"], 17);
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    for k in [
        "code",
        "severity",
        "message",
        "help",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
    ] {
        assert!(keys.iter().any(|x| *x == k), "{k}");
    }
    // a valid recipe prints nothing and exits 0
    write(&dir.join("ok.nnt"), &recipe("0.5", 2));
    let o = run(dir, &["check", "ok.nnt", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "");
}

#[test]
fn check_format_github_annotates_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = recipe("0.5", 2).replace("tanh", "tahn");
    write(&dir.join("r.nnt"), &text);
    let o = run(dir, &["check", "r.nnt", "--format", "github"]);
    assert_eq!(o.status.code(), Some(1));
    let line = text.lines().position(|l| l.contains("tahn")).unwrap() + 1;
    assert_eq!(
        stdout(&o),
        format!(
            "::error file=r.nnt,line={line},col=5,endLine={line},endColumn=9,\
             title=nnt%3A%3Acheck%3A%3Aunknown_name::unknown layer `tahn`%0Ahelp: did you mean `tanh`?\n"
        )
    );
}

/// What a run would refuse about the recipe's files (a checkpoint path that is
/// a file, an `init_from` that does not fit the model, a `save` path that is a
/// directory) is a check error in every format, at the recipe item's line:
/// json and github once printed nothing and exited 0 where the text view
/// failed, and none of them pointed at the line.
#[test]
fn check_reports_file_problems_in_every_format_at_the_item() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // weights for dense(5): init_from into dense(4) does not fit
    write(
        &dir.join("w.nnt"),
        &(recipe("0.5", 1).replace("dense(4)", "dense(5)") + "save = \"w5.safetensors\"\n"),
    );
    assert_eq!(run(dir, &["run", "w.nnt"]).status.code(), Some(0));
    write(&dir.join("cfile"), "x");
    std::fs::create_dir(dir.join("sub")).unwrap();
    for (item, code) in [
        (
            "checkpoint { every = 1; path = \"cfile\" }",
            "nnt::io::checkpoint_not_dir",
        ),
        ("init_from = \"w5.safetensors\"", "nnt::io::wrong_shape"),
        ("init_from = \"none.safetensors\"", "nnt::io::unreadable"),
        ("save = \"sub\"", "nnt::io::write_failed"),
        // a folder that does not exist; a link to a pipe (stdout is one here)
        ("save = \"nodir/m.safetensors\"", "nnt::io::write_failed"),
        ("save = \"/dev/stdout\"", "nnt::io::write_failed"),
    ] {
        let text = recipe("0.5", 1) + item + "\n";
        write(&dir.join("r.nnt"), &text);
        let line = text.lines().count();
        let value = item.find('"').unwrap() + 1;
        let o = run(dir, &["check", "r.nnt", "--format", "json"]);
        assert_eq!(o.status.code(), Some(1), "{item}: {}", stdout(&o));
        let d: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(d["code"], code, "{item}: {d}");
        assert_eq!(d["line"], line, "{item}: {d}");
        assert_eq!(d["column"], value, "{item}: {d}");
        let o = run(dir, &["check", "r.nnt", "--format", "github"]);
        assert_eq!(o.status.code(), Some(1), "{item}");
        assert!(
            stdout(&o).starts_with(&format!("::error file=r.nnt,line={line},col={value},")),
            "{item}: {}",
            stdout(&o)
        );
        let o = run(dir, &["check", "r.nnt"]);
        assert_eq!(o.status.code(), Some(1), "{item}");
        assert!(stderr(&o).contains(code), "{item}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("[r.nnt:{line}:{value}]")),
            "{item}: {}",
            stderr(&o)
        );
        // `nnt run` refuses the same, at the same place, before training
        let o = run(dir, &["run", "r.nnt"]);
        assert_eq!(o.status.code(), Some(1), "{item}");
        assert!(
            stderr(&o).contains(&format!("[r.nnt:{line}:{value}]")),
            "{item}: {}",
            stderr(&o)
        );
        assert!(!stdout(&o).contains("epoch"), "{item}: {}", stdout(&o));
    }
    // every problem at once, each at its item
    let text = recipe("0.5", 1)
        + "init_from = \"none.safetensors\"\nsave = \"nodir/m.safetensors\"\ncheckpoint { every = 1; path = \"cfile\" }\n";
    write(&dir.join("r.nnt"), &text);
    let o = run(dir, &["check", "r.nnt", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let codes: Vec<String> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["code"].to_string())
        .collect();
    assert_eq!(codes.len(), 3, "{}", stdout(&o));
    for code in ["unreadable", "write_failed", "checkpoint_not_dir"] {
        assert!(codes.iter().any(|c| c.contains(code)), "{code}: {codes:?}");
    }
    let o = run(dir, &["run", "r.nnt"]);
    assert!(stderr(&o).contains("r.nnt: 3 errors"), "{}", stderr(&o));
    // given on the command line, the item has no place in the recipe
    write(&dir.join("r.nnt"), &recipe("0.5", 1));
    let o = run(
        dir,
        &["check", "r.nnt", "--set", "init_from=\"w5.safetensors\""],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nnt::io::wrong_shape"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("[r.nnt:"), "{}", stderr(&o));
    // … but the override's value is the place, as for any error of an override.
    assert!(
        stderr(&o).contains("[--set init_from=\"w5.safetensors\":1:11]"),
        "{}",
        stderr(&o)
    );
    write(&dir.join("cfile2"), "x");
    write(
        &dir.join("r.nnt"),
        &(recipe("0.5", 1) + "checkpoint { every = 1; path = \"ck\" }\n"),
    );
    let o = run(
        dir,
        &[
            "check",
            "r.nnt",
            "--set",
            "checkpoint.path=\"cfile2\"",
            "--format",
            "json",
        ],
    );
    let d: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(d["code"], "nnt::io::checkpoint_not_dir", "{d}");
    assert_eq!(d["file"], "--set checkpoint.path=\"cfile2\"", "{d}");
    assert_eq!((&d["line"], &d["column"]), (&1.into(), &17.into()), "{d}");
}

/// Columns of the machine formats count characters, as editors and GitHub's
/// annotations do: `é` is one column (it counted its two bytes).
#[test]
fn machine_columns_count_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("u.nnt"), "seed = \"é\"\n");
    let o = run(dir, &["check", "u.nnt", "--format", "json"]);
    let first = stdout(&o).lines().next().unwrap_or_default().to_string();
    let d: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(d["code"], "nnt::check::wrong_type", "{d}");
    assert_eq!(
        (&d["column"], &d["end_column"]),
        (&8.into(), &11.into()),
        "{d}"
    );
    let o = run(dir, &["check", "u.nnt", "--format", "github"]);
    assert!(
        stdout(&o).contains("line=1,col=8,endLine=1,endColumn=11,"),
        "{}",
        stdout(&o)
    );
}

/// On lines too long to show whole (a data line past 100 bytes shown around
/// its cell, a recipe line past 2 000 columns shown in a window), every format
/// gives the place in the real line, in characters: the machine formats
/// counted bytes there, and a recipe's window reported columns from the
/// window's start.
#[test]
fn places_on_long_lines_are_real_columns_in_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Line 3: 150 `é` (300 bytes), then the cell `zz` at column 152.
    write(
        &dir.join("d.csv"),
        &format!("name,x,label\na,1,0\n{},zz,1\n", "é".repeat(150)),
    );
    write(
        &dir.join("r.nnt"),
        "data {\n    train = csv(\"d.csv\", label = \"label\")\n    features = [\"x\"]\n}\nmodel { dense(2) }\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain { epochs = 1\n batch = 2 }\n",
    );
    let o = run(dir, &["check", "r.nnt", "--format", "json"]);
    let d: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(d["code"], "nnt::data::not_a_number", "{d}");
    assert_eq!(
        (&d["line"], &d["column"], &d["end_column"]),
        (&3.into(), &152.into(), &154.into()),
        "{d}"
    );
    let o = run(dir, &["check", "r.nnt"]);
    assert!(stderr(&o).contains("[d.csv:3:152]"), "{}", stderr(&o));

    // A string of 2 100 `é` starting at column 44, then `bogus` at 2 158.
    let line = format!(
        "optimizer = sgd(momentum = 0.5, nesterov = \"{}\", lr = 0.1, bogus = 3)",
        "é".repeat(2100)
    );
    write(
        &dir.join("far.nnt"),
        &format!("data {{ train = xor(n = 40) }}\nmodel {{ dense(2) }}\nloss = cross_entropy\n{line}\ntrain {{ epochs = 1 }}\n"),
    );
    let o = run(dir, &["check", "far.nnt", "--format", "json"]);
    let found: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |code: &str| {
        let d = found.iter().find(|d| d["code"] == code);
        let d = d.unwrap_or_else(|| panic!("no {code} in {found:?}"));
        (
            d["line"].clone(),
            d["column"].clone(),
            d["end_column"].clone(),
        )
    };
    assert_eq!(
        at("nnt::check::wrong_type"),
        (4.into(), 44.into(), (44 + 2102).into())
    );
    assert_eq!(
        at("nnt::check::unknown_argument"),
        (4.into(), 2158.into(), 2163.into())
    );
    let o = run(dir, &["check", "far.nnt"]);
    assert!(stderr(&o).contains("[far.nnt:4:2158]"), "{}", stderr(&o));
    assert!(stderr(&o).contains("[far.nnt:4:44]"), "{}", stderr(&o));
}

/// A data file's diagnostics name it as opened from the current directory
/// (`proj/d.csv` for `nnt check proj/r.nnt`): CI annotations named `d.csv`,
/// a file that is not there from the repository's root.
#[test]
fn data_files_are_named_from_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("proj")).unwrap();
    write(&dir.join("proj/d.csv"), "a,label\n1,0\nx,1\n");
    write(
        &dir.join("proj/r.nnt"),
        "data {\n    train = csv(\"d.csv\", label = \"label\")\n}\nmodel { dense(2) }\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain { epochs = 1 }\n",
    );
    let o = run(dir, &["check", "proj/r.nnt", "--format", "github"]);
    assert!(
        stdout(&o).starts_with("::error file=proj/d.csv,line=3,col=1,"),
        "{}",
        stdout(&o)
    );
    let o = run(&dir.join("proj"), &["check", "r.nnt", "--format", "json"]);
    assert!(stdout(&o).contains("\"file\":\"d.csv\""), "{}", stdout(&o));
}

// ------------------------------------------------------------------ portable bits

#[test]
fn every_instruction_set_gives_the_same_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (recipe, set) in [
        ("examples/xor.nnt", "train.epochs=10"),
        ("examples/iris.nnt", "train.epochs=4"),
        ("examples/regression.nnt", "train.epochs=3"),
    ] {
        let log = |level: Option<&str>| {
            let mut c = nnt(root);
            c.args(["run", recipe, "--format", "jsonl", "--set", set]);
            match level {
                Some(l) => c.env("NNT_SIMD", l),
                None => c.env_remove("NNT_SIMD"),
            };
            let o = c.output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            o.stdout
        };
        let best = log(None);
        assert!(!best.is_empty());
        assert_eq!(best, log(Some("v3")), "{recipe}: AVX2 differs");
        assert_eq!(best, log(Some("baseline")), "{recipe}: baseline differs");
    }
}
