//! What `data::load` produces for valid inputs: CSV variants, gzip, splits,
//! normalisation and the synthetic sets.

use std::io::Write;
use std::path::PathBuf;

use nnt::data::load;
use nnt::ir::{ColumnRef, CsvSpec, Data, DataSpec, Normalize, SourceSpec, Table};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn csv_at(path: PathBuf, label: Vec<ColumnRef>, header: bool, delimiter: u8) -> SourceSpec {
    SourceSpec::Csv(CsvSpec {
        display: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path,
        label,
        header,
        delimiter,
    })
}

fn iris() -> SourceSpec {
    csv_at(
        root().join("examples/data/iris.csv"),
        vec![ColumnRef::Name("label".into())],
        true,
        b',',
    )
}

fn spec(train: SourceSpec) -> DataSpec {
    DataSpec::new(train)
}

fn ok(spec: &DataSpec, seed: u64) -> Data {
    match load(spec, seed) {
        Ok(d) => d,
        Err(e) => panic!("{}", e),
    }
}

fn row(t: &Table, r: usize) -> (Vec<f64>, Vec<f64>) {
    (
        t.x[r * t.features..(r + 1) * t.features].to_vec(),
        t.y[r * t.targets..(r + 1) * t.targets].to_vec(),
    )
}

fn ok_fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/data/ok").join(name)
}

#[test]
fn iris_loads_with_label_last() {
    let d = ok(&spec(iris()), 0);
    assert_eq!(
        (d.train.rows, d.train.features, d.train.targets),
        (150, 4, 1)
    );
    assert_eq!(row(&d.train, 0), (vec![5.1, 3.5, 1.4, 0.2], vec![0.0]));
    assert_eq!(d.train.x.len(), 600);
    assert!(d.train.y.iter().all(|&y| y == 0.0 || y == 1.0 || y == 2.0));
}

#[test]
fn crlf_and_missing_final_newline_are_accepted() {
    for name in ["crlf.csv", "no_final_newline.csv"] {
        let d = ok(
            &spec(csv_at(
                ok_fixture(name),
                vec![ColumnRef::Name("y".into())],
                true,
                b',',
            )),
            0,
        );
        assert_eq!(d.train.rows, 2, "{name}");
        assert_eq!(d.train.x, vec![1.0, 2.0, 3.0, 4.0], "{name}");
        assert_eq!(d.train.y, vec![0.0, 1.0], "{name}");
    }
}

#[test]
fn header_false_with_index_label_and_delimiter() {
    let d = ok(
        &spec(csv_at(
            ok_fixture("semicolon_noheader.csv"),
            vec![ColumnRef::Index(2)],
            false,
            b';',
        )),
        0,
    );
    assert_eq!(d.train.rows, 2);
    assert_eq!(d.train.x, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.train.y, vec![0.0, 1.0]);
    // A middle column as the label: the others stay in file order.
    let d = ok(
        &spec(csv_at(
            ok_fixture("semicolon_noheader.csv"),
            vec![ColumnRef::Index(0)],
            false,
            b';',
        )),
        0,
    );
    assert_eq!(d.train.x, vec![2.0, 0.0, 4.0, 1.0]);
    assert_eq!(d.train.y, vec![1.0, 3.0]);
}

#[test]
fn several_label_columns_in_listed_order() {
    // Header y1,a,y2,b; labels listed as [y2, y1] (a name and an index).
    let labels = vec![ColumnRef::Name("y2".into()), ColumnRef::Index(0)];
    let d = ok(
        &spec(csv_at(ok_fixture("two_targets.csv"), labels, true, b',')),
        0,
    );
    assert_eq!((d.train.features, d.train.targets), (2, 2));
    assert_eq!(d.train.x, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.train.y, vec![20.0, 10.0, 40.0, 30.0]);
}

#[test]
fn gzip_equals_plain() {
    let plain = std::fs::read(root().join("examples/data/iris.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("iris.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&plain).unwrap();
    enc.finish().unwrap();
    let a = ok(&spec(iris()), 0);
    let b = ok(
        &spec(csv_at(
            gz,
            vec![ColumnRef::Name("label".into())],
            true,
            b',',
        )),
        0,
    );
    assert_eq!(a, b);
}

#[test]
fn mnist_sample_loads_from_gzip() {
    let d = ok(
        &spec(csv_at(
            root().join("examples/data/mnist-10k.csv.gz"),
            vec![ColumnRef::Name("label".into())],
            true,
            b',',
        )),
        0,
    );
    assert_eq!(
        (d.train.rows, d.train.features, d.train.targets),
        (10_000, 784, 1)
    );
    assert_eq!(d.train.y[0], 8.0);
    assert!(d.train.x.iter().all(|&v| (0.0..=255.0).contains(&v)));
    assert!(d
        .train
        .y
        .iter()
        .all(|&v| v.fract() == 0.0 && (0.0..10.0).contains(&v)));
}

#[test]
fn splits_have_the_right_counts_are_disjoint_and_keep_file_order() {
    let mut s = spec(iris());
    s.valid = Some(SourceSpec::Split {
        fraction: 0.2,
        stratify: false,
    });
    s.test = Some(SourceSpec::Split {
        fraction: 0.1,
        stratify: false,
    });
    let full = ok(&spec(iris()), 0).train;
    let d = ok(&s, 3);
    let valid = d.valid.as_ref().unwrap();
    let test = d.test.as_ref().unwrap();
    // round(0.2 × 150) = 30 and round(0.1 × 150) = 15, both of the original rows.
    assert_eq!((d.train.rows, valid.rows, test.rows), (105, 30, 15));
    // Every original row is in exactly one split, and each split is a subsequence
    // of the file (file order kept). Rows are located by index in the full table.
    let mut owner = vec![None; full.rows];
    for (name, t) in [("train", &d.train), ("valid", valid), ("test", test)] {
        let mut last = None;
        let mut from = 0;
        for r in 0..t.rows {
            let wanted = row(t, r);
            let i = (from..full.rows)
                .find(|&i| owner[i].is_none() && row(&full, i) == wanted)
                .unwrap_or_else(|| panic!("{name} row {r} not found in file order"));
            owner[i] = Some(name);
            assert!(last.is_none_or(|l| i > l));
            last = Some(i);
            from = i + 1;
        }
    }
    assert!(owner.iter().all(Option::is_some));
    // Seeded: same seed, same split; another seed, another split.
    assert_eq!(ok(&s, 3), d);
    assert_ne!(ok(&s, 4).valid, d.valid);
}

#[test]
fn a_tiny_fraction_takes_at_least_one_row() {
    let mut s = spec(iris());
    s.valid = Some(SourceSpec::Split {
        fraction: 0.001,
        stratify: false,
    });
    let d = ok(&s, 0);
    assert_eq!((d.train.rows, d.valid.unwrap().rows), (149, 1));
}

fn column(t: &Table, j: usize) -> Vec<f64> {
    t.x.chunks_exact(t.features).map(|r| r[j]).collect()
}

#[test]
fn standard_normalisation_uses_train_statistics_only() {
    let mut s = spec(iris());
    s.valid = Some(SourceSpec::Split {
        fraction: 0.3,
        stratify: false,
    });
    let raw = ok(&s, 1);
    s.normalize = Normalize::Standard;
    let d = ok(&s, 1);
    for j in 0..4 {
        let c = column(&d.train, j);
        let n = c.len() as f64;
        let mean = c.iter().sum::<f64>() / n;
        let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-12, "feature {j} mean {mean}");
        assert!(
            (var - 1.0).abs() < 1e-12,
            "feature {j} population variance {var}"
        );
        // Valid is mapped with train's mean and std.
        let rc = column(&raw.train, j);
        let rmean = rc.iter().sum::<f64>() / n;
        let rstd = (rc.iter().map(|v| (v - rmean).powi(2)).sum::<f64>() / n).sqrt();
        let rv = column(raw.valid.as_ref().unwrap(), j);
        let v = column(d.valid.as_ref().unwrap(), j);
        for (a, b) in rv.iter().zip(&v) {
            assert_eq!((a - rmean) / rstd, *b);
        }
    }
}

#[test]
fn minmax_normalisation_and_constant_features() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.csv");
    std::fs::write(&path, "a,k,y\n1,5,0\n3,5,1\n2,5,0\n").unwrap();
    let mut s = spec(csv_at(path, vec![ColumnRef::Name("y".into())], true, b','));
    s.normalize = Normalize::MinMax;
    let d = ok(&s, 0);
    assert_eq!(column(&d.train, 0), vec![0.0, 1.0, 0.5]);
    assert_eq!(column(&d.train, 1), vec![0.0, 0.0, 0.0]);
    s.normalize = Normalize::Standard;
    let d = ok(&s, 0);
    // A constant feature is only centred.
    assert_eq!(column(&d.train, 1), vec![0.0, 0.0, 0.0]);
    let a = column(&d.train, 0);
    let std = (2.0f64 / 3.0).sqrt();
    assert_eq!(a, vec![-1.0 / std, 1.0 / std, 0.0]);
}

fn synthetic_sets() -> Vec<SourceSpec> {
    vec![
        SourceSpec::Blobs {
            n: 90,
            features: 3,
            classes: 3,
            spread: 1.0,
        },
        SourceSpec::Spirals {
            n: 91,
            classes: 3,
            noise: 0.2,
        },
        SourceSpec::Moons { n: 51, noise: 0.1 },
        SourceSpec::Xor { n: 40, noise: 0.1 },
        SourceSpec::Linear {
            n: 30,
            features: 4,
            targets: 2,
            noise: 0.1,
        },
    ]
}

#[test]
fn synthetic_sets_are_deterministic_per_seed() {
    for set in synthetic_sets() {
        let a = ok(&spec(set.clone()), 11);
        let b = ok(&spec(set.clone()), 11);
        let c = ok(&spec(set.clone()), 12);
        assert_eq!(a, b, "{set:?}");
        assert_ne!(a.train.x, c.train.x, "{set:?}");
    }
}

#[test]
fn synthetic_sets_have_the_specified_shapes_and_labels() {
    let expect = [
        (90, 3, 1, Some(3)),
        (91, 2, 1, Some(3)),
        (51, 2, 1, Some(2)),
        (40, 2, 1, Some(2)),
        (30, 4, 2, None),
    ];
    for (set, (rows, features, targets, classes)) in synthetic_sets().into_iter().zip(expect) {
        let t = ok(&spec(set.clone()), 5).train;
        assert_eq!(
            (t.rows, t.features, t.targets),
            (rows, features, targets),
            "{set:?}"
        );
        assert_eq!((t.x.len(), t.y.len()), (rows * features, rows * targets));
        assert!(t.x.iter().chain(&t.y).all(|v| v.is_finite()));
        if let Some(c) = classes {
            // Every class present, labels are 0..C-1, balanced to within one row.
            let mut counts = vec![0usize; c];
            for &y in &t.y {
                assert_eq!(y.fract(), 0.0);
                counts[y as usize] += 1;
            }
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            if !matches!(set, SourceSpec::Xor { .. }) {
                assert!(hi - lo <= 1, "{set:?}: {counts:?}");
            }
            assert!(*lo > 0, "{set:?}: {counts:?}");
        }
    }
}

#[test]
fn xor_labels_follow_the_quadrant_without_noise() {
    let t = ok(&spec(SourceSpec::Xor { n: 200, noise: 0.0 }), 2).train;
    for r in 0..t.rows {
        let (x, y) = row(&t, r);
        assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_eq!(y[0] == 1.0, (x[0] > 0.0) != (x[1] > 0.0));
    }
}

#[test]
fn linear_targets_are_linear_without_noise() {
    // With noise 0 the targets are an exact linear function: solving for w from
    // `features` rows predicts the rest (checked with a least-squares residual).
    let t = ok(
        &spec(SourceSpec::Linear {
            n: 50,
            features: 2,
            targets: 1,
            noise: 0.0,
        }),
        9,
    )
    .train;
    let (a, b) = (row(&t, 0), row(&t, 1));
    let det = a.0[0] * b.0[1] - a.0[1] * b.0[0];
    let w0 = (a.1[0] * b.0[1] - a.0[1] * b.1[0]) / det;
    let w1 = (a.0[0] * b.1[0] - a.1[0] * b.0[0]) / det;
    for r in 2..t.rows {
        let (x, y) = row(&t, r);
        assert!((x[0] * w0 + x[1] * w1 - y[0]).abs() < 1e-9);
    }
}

#[test]
fn blobs_valid_source_shares_the_train_centres() {
    // valid = blobs(...) of the same shape draws fresh points around the same centres.
    let set = SourceSpec::Blobs {
        n: 300,
        features: 2,
        classes: 2,
        spread: 0.5,
    };
    let mut s = spec(set.clone());
    s.valid = Some(set);
    let d = ok(&s, 4);
    let v = d.valid.unwrap();
    assert_ne!(d.train.x, v.x);
    let mean_of = |t: &Table, class: f64| -> Vec<f64> {
        let rows: Vec<usize> = (0..t.rows).filter(|&r| t.y[r] == class).collect();
        (0..2)
            .map(|j| rows.iter().map(|&r| t.x[r * 2 + j]).sum::<f64>() / rows.len() as f64)
            .collect()
    };
    for class in [0.0, 1.0] {
        let (a, b) = (mean_of(&d.train, class), mean_of(&v, class));
        assert!(
            (a[0] - b[0]).abs() < 0.2 && (a[1] - b[1]).abs() < 0.2,
            "{a:?} {b:?}"
        );
    }
}

#[test]
fn blank_lines_and_a_byte_order_mark_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.csv");
    std::fs::write(&path, "\u{feff}a,y\n1,0\n\n2,1\n\n").unwrap();
    let d = ok(
        &spec(csv_at(
            path.clone(),
            vec![ColumnRef::Name("y".into())],
            true,
            b',',
        )),
        0,
    );
    assert_eq!(
        (d.train.x.clone(), d.train.y.clone()),
        (vec![1.0, 2.0], vec![0.0, 1.0])
    );
    // Line numbers still count the blank lines: the bad cell is on line 4.
    std::fs::write(&path, "a,y\n1,0\n\nz,1\n").unwrap();
    let err = load(
        &spec(csv_at(path, vec![ColumnRef::Name("y".into())], true, b',')),
        0,
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("b.csv:4: column 1 (`a`)"),
        "{err}"
    );
}
