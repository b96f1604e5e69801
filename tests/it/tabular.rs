//! Real tabular data (§14), data-driven: every recipe of `tests/fixtures/tabular/`
//! names what it expects on its first line (`# expect: ok`, or the codes that must
//! be reported); the diagnostics (and, for valid recipes, `explain`'s data plan)
//! are snapshot. Plus the independent reference (scikit-learn preparation and
//! PyTorch training, `scripts/tabular_reference.py`), the start event's
//! `dropped_rows` and the bounded reads.

use crate::common;
use crate::engine_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use nnt::check::{check_recipe, CheckOptions, CheckReport};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check(path: &Path) -> CheckReport {
    let bytes = std::fs::read(path).expect("recipe");
    let name = format!(
        "tabular/{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    check_recipe(
        &name,
        &bytes,
        path.parent().unwrap_or(Path::new(".")),
        &CheckOptions::default(),
    )
}

fn render_all(report: &CheckReport) -> String {
    let mut out = String::new();
    for d in report.errors.iter().chain(&report.warnings) {
        out.push_str(&common::render(d.as_ref()));
        out.push('\n');
    }
    out
}

fn codes(report: &CheckReport) -> Vec<String> {
    report
        .errors
        .iter()
        .chain(&report.warnings)
        .map(|d| d.code().map(|c| c.to_string()).unwrap_or_default())
        .collect()
}

#[test]
fn fixtures_report_what_they_expect() {
    let dir = root().join("tests/fixtures/tabular");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "nnt"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the §14 fixtures are there");
    let mut failures = Vec::new();
    for f in files {
        let stem = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&f).expect("recipe");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .unwrap_or_else(|| panic!("{stem}: no `# expect:` line"))
            .trim()
            .to_string();
        let report = check(&f);
        let rendered = render_all(&report);
        if expect == "ok" {
            match &report.program {
                Some(p) => {
                    let plan = nnt::report::explain::explain(p);
                    let data_plan: String = plan
                        .lines()
                        .skip_while(|l| !l.starts_with("data:"))
                        .take_while(|l| !l.starts_with("batch"))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    insta::assert_snapshot!(
                        format!("tabular_{stem}"),
                        format!("{data_plan}{rendered}")
                    );
                }
                None => failures.push(format!("{stem}: expected ok, got\n{rendered}")),
            }
            continue;
        }
        let got = codes(&report);
        for want in expect.split_whitespace() {
            if !got.iter().any(|c| c == want) {
                failures.push(format!("{stem}: expected {want}, got {got:?}"));
            }
        }
        // Every diagnostic has a code and a place (a file line or a recipe line).
        for d in report.errors.iter().chain(&report.warnings) {
            assert!(d.code().is_some(), "{stem}: a diagnostic without a code");
            assert!(
                d.labels().is_some_and(|mut l| l.next().is_some()),
                "{stem}: a diagnostic without a place:\n{}",
                common::render(d.as_ref())
            );
        }
        insta::assert_snapshot!(format!("tabular_{stem}"), rendered);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Line numbers with every kind of line end and with a quoted cell that holds a
/// line break (issue 11, item 15).
#[test]
fn locations_are_right_with_any_line_end() {
    let dir = root().join("tests/fixtures/tabular");
    for (recipe, at) in [
        (
            "crlf_line.nnt",
            "crlf.csv:3: column 2 (`y`) is not a number: `four`",
        ),
        (
            "cr_only_line.nnt",
            "cr_only.csv:3: column 2 (`y`) is not a number: `four`",
        ),
        (
            "quoted_newline_line.nnt",
            "quoted_newline.csv:5: column 1 (`x`) is not a number: `three`",
        ),
    ] {
        let rendered = render_all(&check(&dir.join(recipe)));
        assert!(rendered.contains(at), "{recipe}:\n{rendered}");
    }
}

/// The recipe of `tests/fixtures/conformance/penguins_mean_onehot` (class names,
/// categories, `missing = mean`, a valid file with its columns in another order)
/// agrees with scikit-learn's preparation and PyTorch's training.
#[test]
fn agrees_with_an_independent_reference() {
    let case = "penguins_mean_onehot";
    let report = check(&engine_support::fixture_dir(case).join("recipe.nnt"));
    assert!(report.errors.is_empty(), "{}", render_all(&report));
    let program = report.program.expect("program");
    assert_eq!(
        program.model.input_width, 9,
        "4 numeric + 3 islands + 2 sexes"
    );
    let prep = program.data.prep.as_ref().expect("prep");
    assert_eq!(
        prep.class_names(),
        Some(&["Adelie".to_string(), "Chinstrap".into(), "Gentoo".into()][..])
    );
    let problems = engine_support::run_and_compare(case, program);
    assert!(problems.is_empty(), "{case}:\n  {}", problems.join("\n  "));
}

fn nnt(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nnt"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("nnt runs")
}

#[test]
fn the_start_event_reports_dropped_rows() {
    let o = nnt(&[
        "run",
        "tests/fixtures/tabular/ok_drop.nnt",
        "--format",
        "jsonl",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let start = out.lines().next().unwrap_or_default();
    // small.csv: rows 3 (NA), 4 (empty sex) and 8 (?) have a missing cell.
    assert!(
        start.contains("\"train_rows\":9") && start.contains("\"seed\":1,\"dropped_rows\":3,"),
        "{start}"
    );
    // Without `drop`, the field is absent.
    let o = nnt(&[
        "run",
        "tests/fixtures/tabular/ok_class_names.nnt",
        "--format",
        "jsonl",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("dropped_rows"), "{out}");
}

#[test]
fn non_regular_files_and_huge_lines_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recipe = |data: &str| {
        format!(
            "data {{ train = csv(\"{data}\", label = 0, header = false) }}\nmodel {{ dense(1) }}\nloss = mse\noptimizer = adam(lr = 0.01)\ntrain {{ epochs = 1 }}\n"
        )
    };
    let run_check = |text: String| {
        let r = check_recipe(
            "r.nnt",
            text.as_bytes(),
            dir.path(),
            &CheckOptions::default(),
        );
        assert!(r.program.is_none());
        (codes(&r), render_all(&r))
    };
    // A device never ends.
    let (c, r) = run_check(recipe("/dev/zero"));
    assert_eq!(c, ["nnt::data::not_a_file"], "{r}");
    assert!(r.contains("is a device"), "{r}");
    // A FIFO without a writer would block forever.
    let fifo = dir.path().join("pipe.csv");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let (c, r) = run_check(recipe("pipe.csv"));
        assert_eq!(c, ["nnt::data::not_a_file"], "{r}");
        assert!(r.contains("named pipe"), "{r}");
    }
    // A small .gz holding one line of 9 MB.
    let gz = dir.path().join("long.csv.gz");
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).expect("create"),
            flate2::Compression::fast(),
        );
        e.write_all(b"1,2\n").expect("write");
        e.write_all(&vec![b'7'; 9 << 20]).expect("write");
        e.finish().expect("finish");
    }
    let (c, r) = run_check(recipe("long.csv.gz"));
    assert_eq!(c, ["nnt::data::line_too_long"], "{r}");
    assert!(r.contains("long.csv.gz:2"), "{r}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(150))]

    /// Random tables (text, numbers, missing tokens, quotes, every line end) with
    /// random §14 settings and a valid file or a stratified split: loading ends in
    /// data whose every value is finite and whose width is the preparation's, or
    /// in diagnostics that render; never a panic.
    #[test]
    fn random_tables_never_panic(
        train in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::prelude::Just("a"), proptest::prelude::Just("b"),
                proptest::prelude::Just("1"), proptest::prelude::Just("2.5"),
                proptest::prelude::Just("NA"), proptest::prelude::Just(""),
                proptest::prelude::Just("?"), proptest::prelude::Just(","),
                proptest::prelude::Just("\n"), proptest::prelude::Just("\r\n"),
                proptest::prelude::Just("\r"), proptest::prelude::Just("\""),
            ],
            0..80,
        ),
        valid in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::prelude::Just("a"), proptest::prelude::Just("x"),
                proptest::prelude::Just("3"), proptest::prelude::Just("NA"),
                proptest::prelude::Just(","), proptest::prelude::Just("\n"),
            ],
            0..40,
        ),
        label in 0usize..3,
        categorical in proptest::option::of(0usize..3),
        missing in 0usize..5,
        classes in proptest::option::of(1usize..4),
        split in 0usize..3,
    ) {
        use miette::Diagnostic;
        use nnt::ir::{ColumnRef, CsvSpec, DataSpec, Missing, SourceSpec};
        let dir = tempfile::tempdir().unwrap();
        let header = "c0,c1,c2\n";
        std::fs::write(dir.path().join("t.csv"), format!("{header}{}", train.concat())).unwrap();
        std::fs::write(dir.path().join("v.csv"), format!("c2,c1,c0\n{}", valid.concat())).unwrap();
        let csv = |f: &str| SourceSpec::Csv(CsvSpec {
            path: dir.path().join(f),
            display: f.into(),
            label: vec![ColumnRef::Index(label)],
            header: true,
            delimiter: b',',
        });
        let mut s = DataSpec::new(csv("t.csv"));
        s.categorical = categorical.filter(|&c| c != label).map(ColumnRef::Index).into_iter().collect();
        s.missing = [Missing::Error, Missing::Drop, Missing::Mean, Missing::Median, Missing::Zero][missing];
        s.classification = classes;
        s.valid = match split {
            0 => None,
            1 => Some(csv("v.csv")),
            _ => Some(SourceSpec::Split { fraction: 0.3, stratify: classes.is_some() }),
        };
        let loaded = nnt::data::load_all(&s, 0);
        for e in &loaded.errors {
            proptest::prop_assert!(e.code().is_some());
            let _ = common::render(e);
        }
        for w in &loaded.warnings {
            let _ = common::render(w);
        }
        if let Some(d) = loaded.data {
            proptest::prop_assert!(loaded.errors.is_empty());
            let prep = d.prep.as_ref().unwrap();
            for t in std::iter::once(&d.train).chain(d.valid.as_ref()) {
                proptest::prop_assert_eq!(t.features, prep.input_width());
                proptest::prop_assert_eq!(t.x.len(), t.rows * t.features);
                proptest::prop_assert!(t.x.iter().chain(&t.y).all(|v| v.is_finite()));
            }
        }
    }
}

/// `split(train, 0.2, stratify = true)` twice (examples/penguins.nnt): each class
/// gives round(0.2 × its rows) rows to valid and as many to test; every split
/// keeps file order.
#[test]
fn stratified_splits_keep_each_class_share() {
    let report = check(&root().join("examples/penguins.nnt"));
    assert!(report.errors.is_empty(), "{}", render_all(&report));
    let data = report.program.expect("program").data;
    assert_eq!(data.class_counts.len(), 3);
    for (class, counts) in &data.class_counts {
        let total: usize = counts.iter().sum();
        let share = (0.2 * total as f64).round() as usize;
        assert_eq!(&counts[1..], &[share, share], "class {class}: {counts:?}");
    }
    for t in [
        &data.train,
        data.valid.as_ref().unwrap(),
        data.test.as_ref().unwrap(),
    ] {
        assert!(t.lines.windows(2).all(|w| w[0] < w[1]), "file order");
    }
}
