//! The data preparation (§14) as a unit: one-hot encoding, imputation, class
//! names, target normalisation, and the streaming row API that `predict` uses
//! giving exactly what training's table holds.

use nnt::data::prep::{
    BindError, CellIssueKind, Classes, FeatureKind, FitOptions, Preparation, RawColumn, RawTable,
    MISSING_ID,
};
use nnt::ir::{Missing, Normalize};

fn text(cells: &[&str]) -> RawColumn {
    let mut names: Vec<String> = Vec::new();
    let mut ids = Vec::new();
    for c in cells {
        if c.is_empty() {
            ids.push(MISSING_ID);
            continue;
        }
        match names.iter().position(|n| n == c) {
            Some(i) => ids.push(i as u32),
            None => {
                names.push(c.to_string());
                ids.push((names.len() - 1) as u32);
            }
        }
    }
    RawColumn::Text { ids, names }
}

fn numeric(cells: &[f64]) -> RawColumn {
    RawColumn::Numeric(cells.to_vec())
}

/// Columns: island (categorical), mass (numeric, one missing), species (label).
/// The file order is species, mass, id, island.
fn penguins() -> RawTable {
    RawTable {
        rows: 5,
        lines: vec![2, 3, 4, 5, 6],
        features: vec![
            text(&["Dream", "Biscoe", "Dream", "Torgersen", ""]),
            numeric(&[3000.0, f64::NAN, 4000.0, 5000.0, 3500.0]),
        ],
        labels: vec![text(&["Gentoo", "Adelie", "Chinstrap", "Adelie", "Adelie"])],
        feature_columns: vec![3, 1],
        label_columns: vec![0],
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn opts(missing: Missing, normalize: Normalize) -> FitOptions {
    FitOptions {
        missing,
        normalize,
        normalize_targets: false,
        classification: Some(3),
        header: true,
        delimiter: b',',
    }
}

fn fit(missing: Missing, normalize: Normalize) -> Preparation {
    Preparation::fit(
        &penguins(),
        &names(&["island", "mass"]),
        &names(&["species"]),
        Vec::new(),
        &opts(missing, normalize),
    )
}

#[test]
fn one_hot_in_place_in_byte_order() {
    let p = fit(Missing::Mean, Normalize::None);
    assert_eq!(p.input_width(), 4);
    assert_eq!(
        p.feature_names(),
        names(&["island=Biscoe", "island=Dream", "island=Torgersen", "mass"])
    );
    let (t, unseen) = p.transform(penguins());
    assert_eq!(unseen, 0);
    assert_eq!(t.features, 4);
    let row = |r: usize| t.x[r * 4..r * 4 + 3].to_vec();
    assert_eq!(row(0), vec![0.0, 1.0, 0.0]); // Dream
    assert_eq!(row(1), vec![1.0, 0.0, 0.0]); // Biscoe
    assert_eq!(row(3), vec![0.0, 0.0, 1.0]); // Torgersen
    assert_eq!(row(4), vec![0.0, 0.0, 0.0]); // missing: no category
}

#[test]
fn unseen_categories_are_zeros_and_counted() {
    let p = fit(Missing::Mean, Normalize::None);
    let mut other = penguins();
    other.features[0] = text(&["Dream", "Atlantis", "Atlantis", "Biscoe", "Mars"]);
    let (t, unseen) = p.transform(other);
    assert_eq!(unseen, 3);
    assert_eq!(t.x[4..7].to_vec(), vec![0.0, 0.0, 0.0]);
}

#[test]
fn imputation_uses_train_statistics_before_normalisation() {
    // Non-missing masses: 3000, 4000, 5000, 3500.
    let fill = |m: Missing| match &fit(m, Normalize::None).features[1].kind {
        FeatureKind::Numeric { fill, .. } => *fill,
        other => panic!("{other:?}"),
    };
    assert_eq!(fill(Missing::Mean), Some(3875.0));
    assert_eq!(fill(Missing::Median), Some(3750.0));
    assert_eq!(fill(Missing::Zero), Some(0.0));
    assert_eq!(fill(Missing::Drop), None);
    assert_eq!(fill(Missing::Error), None);

    // Standardisation sees the filled column (as a scikit-learn pipeline does).
    let p = fit(Missing::Mean, Normalize::Standard);
    let filled = [3000.0, 3875.0, 4000.0, 5000.0, 3500.0];
    let mean = filled.iter().sum::<f64>() / 5.0;
    let std = (filled.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0).sqrt();
    let (t, _) = p.transform(penguins());
    for (r, v) in filled.iter().enumerate() {
        assert!((t.x[r * 4 + 3] - (v - mean) / std).abs() < 1e-12);
    }
    // One-hot columns are not normalised.
    assert_eq!(t.x[0..3].to_vec(), vec![0.0, 1.0, 0.0]);
}

#[test]
fn class_names_in_byte_order() {
    let p = fit(Missing::Mean, Normalize::None);
    assert_eq!(
        p.classes,
        Some(Classes::Names {
            names: names(&["Adelie", "Chinstrap", "Gentoo"])
        })
    );
    let (t, _) = p.transform(penguins());
    assert_eq!(t.y, vec![2.0, 0.0, 1.0, 0.0, 0.0]);
    // Numbers only: numeric classes, labels parsed.
    let mut raw = penguins();
    raw.labels = vec![text(&["1", "0", "2", "0", "0"])];
    let p = Preparation::fit(
        &raw,
        &names(&["island", "mass"]),
        &names(&["species"]),
        Vec::new(),
        &opts(Missing::Mean, Normalize::None),
    );
    assert_eq!(p.classes, Some(Classes::Numeric { count: 3 }));
    assert_eq!(p.transform(raw).0.y, vec![1.0, 0.0, 2.0, 0.0, 0.0]);
}

#[test]
fn the_row_api_gives_exactly_the_training_table() {
    let p = fit(Missing::Median, Normalize::Standard);
    let (t, _) = p.transform(penguins());
    // The same rows as a file with another column order and an extra column.
    let header = names(&["island", "extra", "species", "mass"]);
    let rows = [
        ["Dream", "x", "Gentoo", "3000"],
        ["Biscoe", "x", "Adelie", "NA"],
        ["Dream", "x", "Chinstrap", "4000"],
        ["Torgersen", "x", "Adelie", " 5000 "],
        ["", "x", "Adelie", "3500"],
    ];
    let b = p.bind(Some(&header), true).expect("bind");
    assert_eq!(b.features, vec![0, 3]);
    for (r, cells) in rows.iter().enumerate() {
        let mut x = vec![f64::NAN; p.input_width()];
        let mut unseen = 0;
        p.prepare_row(&b, cells, &mut x, &mut unseen).expect("row");
        assert_eq!(x, t.x[r * 4..(r + 1) * 4].to_vec(), "row {r}");
        let mut y = vec![f64::NAN];
        p.label_row(&b, cells, &mut y).expect("label");
        assert_eq!(y[0], t.y[r], "row {r}");
    }
    // Labels may be absent for predict; a missing feature column is named.
    let no_label = names(&["mass", "island"]);
    assert!(p.bind(Some(&no_label), false).is_ok());
    assert_eq!(
        p.bind(Some(&no_label), true),
        Err(BindError {
            column: "species".into(),
            label: true
        })
    );
    assert_eq!(
        p.bind(Some(&names(&["island", "species"])), false),
        Err(BindError {
            column: "mass".into(),
            label: false
        })
    );
    // Bad cells say what is wrong and where.
    let mut x = vec![0.0; 4];
    let mut unseen = 0;
    let bad = p.prepare_row(&b, &["Dream", "x", "Gentoo", "heavy"], &mut x, &mut unseen);
    assert_eq!(
        bad.map_err(|e| (e.column, e.kind)),
        Err((3, CellIssueKind::NotANumber("heavy".into())))
    );
    let mut y = vec![0.0];
    let unknown = p.label_row(&b, &["Dream", "x", "Emperor", "1"], &mut y);
    assert_eq!(
        unknown.map_err(|e| e.kind),
        Err(CellIssueKind::UnknownClass("Emperor".into()))
    );
}

#[test]
fn targets_are_standardised_and_restored() {
    let raw = RawTable {
        rows: 4,
        lines: vec![],
        features: vec![numeric(&[1.0, 2.0, 3.0, 4.0])],
        labels: vec![numeric(&[100.0, 200.0, 300.0, 400.0])],
        feature_columns: vec![0],
        label_columns: vec![1],
    };
    let mut o = opts(Missing::Error, Normalize::None);
    o.classification = None;
    o.normalize_targets = true;
    let p = Preparation::fit(&raw, &names(&["x"]), &names(&["y"]), Vec::new(), &o);
    let (t, _) = p.transform(raw);
    let std = 125f64.sqrt() * 10.0; // population std of 100..400
    assert!((t.y[0] - (100.0 - 250.0) / std).abs() < 1e-12);
    let mut y = [t.y[3]];
    p.targets_to_original(&mut y);
    assert!((y[0] - 400.0).abs() < 1e-9);
}

#[test]
fn the_preparation_round_trips_through_json() {
    let p = fit(Missing::Mean, Normalize::MinMax);
    let json = serde_json::to_string(&p).expect("serialise");
    assert!(json.contains("\"version\":1"), "{json}");
    let back: Preparation = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, p);
}

/// One numeric feature `x` holding `values`, and a numeric label.
fn one_column(values: &[f64]) -> RawTable {
    RawTable {
        rows: values.len(),
        lines: (2..2 + values.len()).collect(),
        features: vec![numeric(values)],
        labels: vec![numeric(&vec![0.0; values.len()])],
        feature_columns: vec![0],
        label_columns: vec![1],
    }
}

fn stats(values: &[f64], missing: Missing, normalize: Normalize) -> (Preparation, f64, f64) {
    let raw = one_column(values);
    let mut o = opts(missing, normalize);
    o.classification = None;
    let p = Preparation::fit(&raw, &names(&["x"]), &names(&["y"]), vec![], &o);
    let FeatureKind::Numeric { shift, divisor, .. } = p.features[0].kind else {
        panic!("numeric")
    };
    (p, shift, divisor)
}

/// Values near f64's limit: the sum of squares (1e160²), the sum (1e308 +
/// 1.5e308) or a difference (1.5e308 − (−1e308)) overflow in the plain
/// formulas; `standard` still gives a finite mean and deviation, so the
/// prepared values are the z-scores of the column, where every feature used
/// to become 0 (an infinite divisor) or the run diverged.
#[test]
fn standard_statistics_survive_values_near_the_f64_limit() {
    let (p, shift, divisor) = stats(&[1e160, 2e160, 3e160], Missing::Error, Normalize::Standard);
    assert_eq!(shift, 2e160);
    let std = (2.0f64 / 3.0).sqrt() * 1e160;
    assert!((divisor / std - 1.0).abs() < 1e-15, "{divisor} vs {std}");
    let (t, _) = p.transform(one_column(&[1e160, 2e160, 3e160]));
    let z = 1.5f64.sqrt();
    for (got, want) in t.x.iter().zip([-z, 0.0, z]) {
        assert!((got - want).abs() < 1e-12, "{:?}", t.x);
    }
    assert!(p.non_finite().is_none());

    let values = [1e308, 1.5e308, -1e308];
    let (p, shift, divisor) = stats(&values, Missing::Error, Normalize::Standard);
    let mean = 0.5e308;
    assert!((shift / mean - 1.0).abs() < 1e-15, "{shift}");
    let (t, _) = p.transform(one_column(&values));
    let sd = (values
        .iter()
        .map(|v| (v / 1e308 - 0.5).powi(2))
        .sum::<f64>()
        / 3.0)
        .sqrt();
    assert!((divisor / (sd * 1e308) - 1.0).abs() < 1e-15, "{divisor}");
    for (got, v) in t.x.iter().zip(values) {
        let want = (v / 1e308 - 0.5) / sd;
        assert!((got - want).abs() < 1e-12, "{:?}", t.x);
    }
    // The mean fill of a missing cell too.
    let (p, _, _) = stats(&[1e308, 1.5e308, f64::NAN], Missing::Mean, Normalize::None);
    let FeatureKind::Numeric { fill, .. } = p.features[0].kind else {
        panic!("numeric")
    };
    assert!((fill.unwrap() / 1.25e308 - 1.0).abs() < 1e-15, "{fill:?}");
    let (p, _, _) = stats(
        &[1e308, 1.5e308, f64::NAN],
        Missing::Median,
        Normalize::None,
    );
    let FeatureKind::Numeric { fill, .. } = p.features[0].kind else {
        panic!("numeric")
    };
    assert!((fill.unwrap() / 1.25e308 - 1.0).abs() < 1e-15, "{fill:?}");
}

/// Ordinary columns keep exactly the bits of §4's formulas (the scaled
/// computation runs only where those overflow).
#[test]
fn ordinary_statistics_keep_their_bits() {
    let values = [0.1, 2.7, -3.3, 1e10, 4.2e-3, 17.0, -1e-7];
    let (_, shift, divisor) = stats(&values, Missing::Error, Normalize::Standard);
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    assert_eq!(shift.to_bits(), mean.to_bits());
    assert_eq!(divisor.to_bits(), (ss / n).sqrt().to_bits());
    let (_, shift, divisor) = stats(&values, Missing::Error, Normalize::MinMax);
    assert_eq!((shift, divisor), (-3.3, 1e10 + 3.3));
}

/// A minmax range beyond f64 cannot be represented: the preparation says so
/// (the data stage then refuses it, `nnt::data::statistic_overflow`).
#[test]
fn a_range_beyond_f64_is_reported() {
    let (p, _, divisor) = stats(&[1e308, 1.5e308, -1e308], Missing::Error, Normalize::MinMax);
    assert!(divisor.is_infinite());
    assert_eq!(p.non_finite(), Some(("x".to_string(), "range (max − min)")));
}
