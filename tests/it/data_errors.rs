//! The corrupt-input corpus: every file of `tests/fixtures/data/` fails with its
//! own `nnt::data::*` code, and the rendered diagnostic (file, line, column, the
//! offending line) is snapshot.

use crate::common;

use std::path::PathBuf;

use miette::Diagnostic;
use nnt::data::{load, DataError};
use nnt::ir::{ColumnRef, CsvSpec, DataSpec, Normalize, SourceSpec};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

fn csv(name: &str, label: Vec<ColumnRef>, header: bool) -> SourceSpec {
    SourceSpec::Csv(CsvSpec {
        path: fixture(name),
        display: name.to_string(),
        label,
        header,
        delimiter: b',',
    })
}

fn spec(train: SourceSpec) -> DataSpec {
    DataSpec::new(train)
}

fn name(n: &str) -> ColumnRef {
    ColumnRef::Name(n.to_string())
}

/// Loads `spec`, asserts it fails with `code`, and returns the rendering.
fn fails(spec: &DataSpec, code: &str) -> String {
    let err: DataError = match load(spec, 0) {
        Ok(data) => panic!("expected {code}, loaded {data:?}"),
        Err(e) => e,
    };
    let got = err.code().map(|c| c.to_string()).unwrap_or_default();
    assert_eq!(got, code, "{}", common::render(&err));
    common::render(&err)
}

/// One corrupt file with a header and the label column `y`.
fn check(file: &str, code: &str) {
    let rendered = fails(&spec(csv(file, vec![name("y")], true)), code);
    insta::assert_snapshot!(file.replace('.', "_"), rendered);
}

#[test]
fn file_not_found() {
    // The fixture is the absence of a file; a relative path keeps the snapshot
    // independent of where the repository is (tests run in the package root).
    let mut s = spec(csv("file_not_found.csv", vec![name("y")], true));
    if let SourceSpec::Csv(c) = &mut s.train {
        c.path = PathBuf::from("tests/fixtures/data/file_not_found.csv");
    }
    insta::assert_snapshot!("file_not_found_csv", fails(&s, "nnt::data::file_not_found"));
}

#[test]
fn unreadable() {
    // A directory named like a CSV file.
    let rendered = fails(
        &spec(csv("unreadable.csv", vec![name("y")], true)),
        "nnt::data::unreadable",
    );
    insta::assert_snapshot!("unreadable_csv", rendered);
}

#[test]
fn invalid_utf8() {
    check("invalid_utf8.csv", "nnt::data::invalid_utf8");
}

#[test]
fn empty_file() {
    check("empty_file.csv", "nnt::data::empty_file");
}

#[test]
fn header_only() {
    check("header_only.csv", "nnt::data::header_only");
}

#[test]
fn ragged_row() {
    check("ragged_row.csv", "nnt::data::ragged_row");
    check("ragged_row_long.csv", "nnt::data::ragged_row");
}

#[test]
fn empty_cell() {
    check("empty_cell.csv", "nnt::data::empty_cell");
    check("empty_cell_middle.csv", "nnt::data::empty_cell");
}

#[test]
fn not_a_number() {
    check("not_a_number.csv", "nnt::data::not_a_number");
}

#[test]
fn not_a_number_in_a_wide_row_shows_the_cell() {
    let rendered = fails(
        &spec(csv("not_a_number_wide.csv", vec![name("label")], true)),
        "nnt::data::not_a_number",
    );
    // Line 4 (header counted), field 151 named p150, the line cut around it.
    assert!(
        rendered.contains("not_a_number_wide.csv:4: column 151 (`p150`)"),
        "{rendered}"
    );
    assert!(rendered.contains("..."), "{rendered}");
    insta::assert_snapshot!("not_a_number_wide_csv", rendered);
}

#[test]
fn not_finite() {
    check("not_finite.csv", "nnt::data::not_finite");
}

/// A finite cell the run's precision cannot hold: `1e39` reaches an f32
/// network as infinity (the run used to stop "diverged"); f64 holds it, and
/// so does f32 once the column is normalised.
#[test]
fn too_large() {
    let s = spec(csv("too_large.csv", vec![name("y")], true));
    assert_eq!(s.precision, nnt::ir::Precision::F32, "the recipe's default");
    let rendered = fails(&s, "nnt::data::too_large");
    assert!(
        rendered.contains(
            "too_large.csv:3: column 1 (`x`) is too large for the run's f32 precision: `1e39`"
        ),
        "{rendered}"
    );
    insta::assert_snapshot!("too_large_csv", rendered);
    let mut f64s = s.clone();
    f64s.precision = nnt::ir::Precision::F64;
    assert_eq!(load(&f64s, 0).unwrap().train.x, [1.0, 1e39]);
    let mut normalised = s.clone();
    normalised.normalize = Normalize::Standard;
    assert_eq!(load(&normalised, 0).unwrap().train.x, [-1.0, 1.0]);
}

/// A minmax range beyond f64's (from -1e308 to 1.5e308) cannot be
/// normalised (every value used to become 0, and the model file held `null`);
/// `standard` can.
#[test]
fn statistic_overflow() {
    let mut s = spec(csv("statistic_overflow.csv", vec![name("y")], true));
    s.precision = nnt::ir::Precision::F64;
    s.normalize = Normalize::MinMax;
    let rendered = fails(&s, "nnt::data::statistic_overflow");
    insta::assert_snapshot!("statistic_overflow_csv", rendered);
    s.normalize = Normalize::Standard;
    let x = load(&s, 0).unwrap().train.x;
    assert!(
        (x[0] + 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12,
        "{x:?}"
    );
}

#[test]
fn unknown_column() {
    let rendered = fails(
        &spec(csv("unknown_column.csv", vec![name("lable")], true)),
        "nnt::data::unknown_column",
    );
    assert!(rendered.contains("did you mean `label`?"), "{rendered}");
    insta::assert_snapshot!("unknown_column_csv", rendered);
}

#[test]
fn ambiguous_column() {
    let rendered = fails(
        &spec(csv("ambiguous_column.csv", vec![name("x")], true)),
        "nnt::data::ambiguous_column",
    );
    insta::assert_snapshot!("ambiguous_column_csv", rendered);
}

#[test]
fn name_without_header() {
    let rendered = fails(
        &spec(csv("name_without_header.csv", vec![name("y")], false)),
        "nnt::data::name_without_header",
    );
    insta::assert_snapshot!("name_without_header_csv", rendered);
}

#[test]
fn column_out_of_range() {
    let rendered = fails(
        &spec(csv(
            "column_out_of_range.csv",
            vec![ColumnRef::Index(5)],
            true,
        )),
        "nnt::data::column_out_of_range",
    );
    insta::assert_snapshot!("column_out_of_range_csv", rendered);
}

#[test]
fn duplicate_label_column() {
    let rendered = fails(
        &spec(csv(
            "duplicate_label_column.csv",
            vec![name("y"), ColumnRef::Index(1)],
            true,
        )),
        "nnt::data::duplicate_label_column",
    );
    insta::assert_snapshot!("duplicate_label_column_csv", rendered);
}

#[test]
fn no_label_column() {
    let rendered = fails(
        &spec(csv("no_label_column.csv", vec![], true)),
        "nnt::data::no_label_column",
    );
    insta::assert_snapshot!("no_label_column_csv", rendered);
}

#[test]
fn no_feature_columns() {
    let rendered = fails(
        &spec(csv(
            "no_feature_columns.csv",
            vec![name("x"), name("y")],
            true,
        )),
        "nnt::data::no_feature_columns",
    );
    insta::assert_snapshot!("no_feature_columns_csv", rendered);
}

#[test]
fn gzip_corrupt() {
    check("gzip_corrupt.csv.gz", "nnt::data::gzip_corrupt");
    check("not_gzip.csv.gz", "nnt::data::gzip_corrupt");
}

#[test]
fn split_too_large() {
    let mut s = spec(csv("split_too_large.csv", vec![name("y")], true));
    s.valid = Some(SourceSpec::Split {
        fraction: 0.5,
        stratify: false,
    });
    let rendered = fails(&s, "nnt::data::split_too_large");
    insta::assert_snapshot!("split_too_large_csv", rendered);
}

#[test]
fn missing_column() {
    // Columns are matched by header name (§14): valid has `a,b,y`, train `x,y`.
    let mut s = spec(csv("width_mismatch_train.csv", vec![name("y")], true));
    s.valid = Some(csv("width_mismatch.csv", vec![name("y")], true));
    let rendered = fails(&s, "nnt::data::missing_column");
    assert!(rendered.contains("has no column `x`"), "{rendered}");
    insta::assert_snapshot!("missing_column_csv", rendered);
}

#[test]
fn column_count_without_header() {
    // Without a header, columns are matched by position.
    let mut s = spec(csv(
        "column_count_train.csv",
        vec![ColumnRef::Index(1)],
        false,
    ));
    s.valid = Some(csv("column_count.csv", vec![ColumnRef::Index(1)], false));
    let rendered = fails(&s, "nnt::data::column_count");
    insta::assert_snapshot!("column_count", rendered);
}

#[test]
fn invalid_synthetic() {
    // tests/fixtures/data/invalid_synthetic.nnt
    let s = spec(SourceSpec::Blobs {
        n: 0,
        features: 2,
        classes: 3,
        spread: 1.0,
    });
    let rendered = fails(&s, "nnt::data::invalid_synthetic");
    insta::assert_snapshot!("invalid_synthetic", rendered);
    for bad in [
        SourceSpec::Spirals {
            n: 10,
            classes: 0,
            noise: 0.2,
        },
        SourceSpec::Moons { n: 10, noise: -1.0 },
        SourceSpec::Xor {
            n: 10,
            noise: f64::NAN,
        },
        SourceSpec::Linear {
            n: 10,
            features: 0,
            targets: 1,
            noise: 0.1,
        },
    ] {
        fails(&spec(bad), "nnt::data::invalid_synthetic");
    }
}

#[test]
fn split_as_train() {
    // tests/fixtures/data/split_as_train.nnt
    let rendered = fails(
        &spec(SourceSpec::Split {
            fraction: 0.2,
            stratify: false,
        }),
        "nnt::data::split_as_train",
    );
    insta::assert_snapshot!("split_as_train", rendered);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any bytes, read as CSV (plain or claimed gzip, with or without a header),
    /// load or fail with a diagnostic that renders: never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::prelude::Just(b','),
                proptest::prelude::Just(b'\n'),
                proptest::prelude::Just(b'"'),
                proptest::prelude::Just(b'1'),
                proptest::prelude::Just(b'.'),
                proptest::prelude::any::<u8>(),
            ],
            0..200,
        ),
        header in proptest::prelude::any::<bool>(),
        gz in proptest::prelude::any::<bool>(),
        label in 0usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if gz { "f.csv.gz" } else { "f.csv" });
        std::fs::write(&path, &bytes).unwrap();
        let s = spec(SourceSpec::Csv(CsvSpec {
            path,
            display: "f.csv".into(),
            label: vec![ColumnRef::Index(label)],
            header,
            delimiter: b',',
        }));
        match load(&s, 0) {
            Ok(d) => {
                proptest::prop_assert!(d.train.rows > 0);
                proptest::prop_assert!(d.train.x.iter().chain(&d.train.y).all(|v| v.is_finite()));
            }
            Err(e) => {
                proptest::prop_assert!(e.code().is_some());
                let _ = common::render(&e);
            }
        }
    }
}
