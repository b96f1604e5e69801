//! The data stage (§4, §14): reads CSV files (plain or gzip), generates synthetic
//! sets, splits valid/test off train, fits the [`prep::Preparation`] on the final
//! train split and applies it to every split, all seeded.
//!
//! Order of the Data stream: the train source, then `valid`, then `test` (each a
//! split or a source of its own), so adding a test split never changes the valid
//! rows. Everything learnt (classes, categories, fill values, normalisation and
//! target statistics) comes from the final train split only.

// A data error carries the offending line's text for its snippet; errors are the
// rare path, so their size does not matter.
#![allow(clippy::result_large_err)]

mod csv;
mod error;
pub mod normalize;
pub mod prep;
pub mod split;
pub mod synthetic;
pub mod table;

pub use csv::{label_cell, RowStream};
pub use error::{DataError, DataWarning, InSplit, ListEntry, Split};

use crate::ir::{CsvSpec, Data, DataSpec, Missing, SourceSpec, Table};
use crate::rng::{generator, ChaCha8Rng, Stream};

use prep::{Classes, Column, FeatureKind, FitOptions, Preparation, RawColumn, RawTable};

/// At most this many data errors are reported (over all files).
pub const MAX_DATA_ERRORS: usize = 40;

/// What loading found: the data (when there is no error), every error of every
/// file (up to [`MAX_DATA_ERRORS`]), and the warnings.
#[derive(Debug, Default)]
pub struct Loaded {
    pub data: Option<Data>,
    /// When only the valid or test sources failed and the train split is what
    /// it would have been without them: the data prepared without the splits
    /// that failed, so that the checks that need only what loaded (input width,
    /// class count, batch_norm's last batch) are still made (§13). Never
    /// trained on: `errors` is not empty then.
    pub partial: Option<Data>,
    pub errors: Vec<InSplit<DataError>>,
    pub warnings: Vec<InSplit<DataWarning>>,
}

/// Loads, splits and prepares the data of a recipe; the first error only.
///
/// Class-label validity (integers in range, class count against the output
/// width) is the checker's business.
pub fn load(spec: &DataSpec, seed: u64) -> Result<Data, DataError> {
    let mut loaded = load_all(spec, seed);
    match loaded.data.take() {
        Some(d) if loaded.errors.is_empty() => Ok(d),
        _ => Err(loaded
            .errors
            .into_iter()
            .next()
            .map_or(DataError::SplitAsTrain, |e| e.error)),
    }
}

/// One split as read: its rows and the CSV file they came from (for messages).
struct Part {
    raw: RawTable,
    file: Option<CsvSpec>,
    split: Split,
    /// Rows taken from train by `split(train, f)` (not a file of their own).
    taken: bool,
}

/// Loads every split, collecting the errors of all files.
pub fn load_all(spec: &DataSpec, seed: u64) -> Loaded {
    let mut out = Loaded::default();
    let mut rng = generator(seed, Stream::Data);
    let (layout, mut train, train_file) = match &spec.train {
        SourceSpec::Split { .. } => {
            out.errors
                .push(InSplit::new(Split::Train, DataError::SplitAsTrain));
            return out;
        }
        SourceSpec::Csv(c) => match csv::read_train(c, spec) {
            Ok((layout, raw)) => (Some(layout), raw, Some(c.clone())),
            Err(e) => {
                out.errors
                    .extend(e.into_iter().map(|e| InSplit::new(Split::Train, e)));
                // The other files are still read for their own errors.
                (None, RawTable::default(), Some(c.clone()))
            }
        },
        source => match synthetic_source(source, seed, &mut rng) {
            Ok(t) => {
                for (item, given) in [
                    ("features", spec.features.is_some()),
                    ("ignore", !spec.ignore.is_empty()),
                    ("categorical", !spec.categorical.is_empty()),
                ] {
                    if given {
                        out.errors
                            .push(InSplit::new(Split::Train, DataError::ItemsNeedCsv { item }));
                    }
                }
                if !out.errors.is_empty() {
                    return out;
                }
                (None, RawTable::from_table(&t), None)
            }
            Err(e) => {
                out.errors.push(InSplit::new(Split::Train, e));
                return out;
            }
        },
    };
    let train_ok = out.errors.is_empty();
    // Whether the train split is final: a split taken off it that failed
    // leaves it with rows it would not have.
    let mut train_final = train_ok;
    let mut dropped = 0usize;
    if spec.missing == Missing::Drop {
        dropped += drop_missing(&mut train);
    }
    let original_rows = train.rows;
    let original_classes = class_index(&train, spec).map(|(_, counts)| counts);
    let mut sides: Vec<Part> = Vec::new();
    for (source, split) in [(&spec.valid, Split::Valid), (&spec.test, Split::Test)] {
        let Some(source) = source else { continue };
        let name = split.name();
        let blame = |e| InSplit::new(split, e);
        match source {
            SourceSpec::Split { fraction, stratify } => {
                if !train_ok {
                    continue;
                }
                let chosen = match (stratify, class_index(&train, spec), &original_classes) {
                    (true, Some((class, _)), Some(orig)) => {
                        Ok(split::choose_stratified(&class, orig, *fraction, &mut rng))
                    }
                    _ => split::choose(train.rows, original_rows, *fraction, name, &mut rng),
                };
                match chosen {
                    Ok(chosen) => sides.push(Part {
                        raw: train.take(&chosen),
                        file: train_file.clone(),
                        split,
                        taken: true,
                    }),
                    Err(e) => {
                        out.errors.push(blame(e));
                        train_final = false;
                    }
                }
            }
            SourceSpec::Csv(c) => {
                let read = match &layout {
                    Some(layout) => csv::read_other(c, layout, spec.missing, name),
                    // Synthetic train, or a train file that failed: the file is
                    // read with its own columns (for its own errors, or to be
                    // compared by width).
                    None => csv::read_train(c, spec).map(|(_, raw)| raw),
                };
                match read {
                    Ok(mut raw) => {
                        if spec.missing == Missing::Drop {
                            dropped += drop_missing(&mut raw);
                        }
                        if layout.is_none() && train_ok {
                            if let Some(e) = width_mismatch(&train, &raw, name) {
                                out.errors.push(blame(e));
                                continue;
                            }
                        }
                        sides.push(Part {
                            raw,
                            file: Some(c.clone()),
                            split,
                            taken: false,
                        })
                    }
                    Err(e) => out.errors.extend(e.into_iter().map(blame)),
                }
            }
            other => match synthetic_source(other, seed, &mut rng) {
                Ok(t) => {
                    let raw = RawTable::from_table(&t);
                    match width_mismatch(&train, &raw, name) {
                        Some(e) if train_ok => out.errors.push(blame(e)),
                        _ => sides.push(Part {
                            raw,
                            file: None,
                            split,
                            taken: false,
                        }),
                    }
                }
                Err(e) => out.errors.push(blame(e)),
            },
        }
    }
    // The errors of the valid and test sources, when train is final: the rest is
    // prepared without them, as `partial`.
    let mut side_errors = Vec::new();
    if !out.errors.is_empty() {
        out.errors.truncate(MAX_DATA_ERRORS);
        if !train_final {
            return out;
        }
        side_errors = std::mem::take(&mut out.errors);
    }

    // ---- fit on the final train split
    let names = |cols: &[usize]| -> Vec<String> {
        cols.iter()
            .map(|&i| match &layout {
                Some(l) => l.name(i),
                None => i.to_string(),
            })
            .collect()
    };
    let feature_names = names(&train.feature_columns);
    let label_names = names(&train.label_columns);
    let ignored = match &layout {
        Some(l) => l
            .ignored
            .iter()
            .map(|&i| Column {
                name: l.name(i),
                index: i,
            })
            .collect(),
        None => Vec::new(),
    };
    let (header, delimiter) = match &spec.train {
        SourceSpec::Csv(c) => (c.header, c.delimiter),
        _ => (false, b','),
    };
    let opts = FitOptions {
        missing: spec.missing,
        normalize: spec.normalize,
        normalize_targets: spec.normalize_targets,
        classification: spec.classification,
        header,
        delimiter,
    };
    let prep = Preparation::fit(&train, &feature_names, &label_names, ignored, &opts);
    if let Some((column, what)) = prep.non_finite() {
        let help = match spec.normalize {
            crate::ir::Normalize::MinMax => {
                "the column's values span more than f64 can hold: use `normalize = standard`, or scale the column down"
            }
            _ => "scale the column down",
        };
        out.errors.push(InSplit::new(
            Split::Train,
            DataError::StatisticOverflow {
                column,
                what,
                help: help.into(),
            },
        ));
        return with_side_errors(out, side_errors);
    }

    // ---- labels of the other splits must be train classes
    for part in &sides {
        if out.errors.len() >= MAX_DATA_ERRORS {
            break;
        }
        if let Some(e) = unknown_class(&prep, part) {
            out.errors.push(InSplit::new(part.split, e));
        }
    }
    if !out.errors.is_empty() {
        return with_side_errors(out, side_errors);
    }

    // ---- warnings about categories
    for f in &prep.features {
        if let FeatureKind::Categorical { categories } = &f.kind {
            if categories.len() == 1 {
                out.warnings.push(InSplit::new(
                    Split::Train,
                    DataWarning::SingleCategory {
                        column: f.column.name.clone(),
                        category: categories[0].clone(),
                    },
                ));
            } else if categories.len() >= 1000
                || (categories.len() >= 50 && categories.len() * 2 >= train.rows)
            {
                out.warnings.push(InSplit::new(
                    Split::Train,
                    DataWarning::ManyCategories {
                        column: f.column.name.clone(),
                        count: categories.len(),
                        per_row: categories.len() * 100 / train.rows.max(1),
                    },
                ));
            }
        }
    }

    let train_part = Part {
        raw: train,
        file: train_file,
        split: Split::Train,
        taken: false,
    };
    let mut tables: Vec<(Split, Table)> = Vec::new();
    let mut unseen_total = 0;
    for part in std::iter::once(train_part).chain(sides) {
        let examples = if part.split == Split::Train {
            String::new()
        } else {
            unseen_examples(&prep, &part.raw)
        };
        let columns = (
            part.raw.feature_columns.clone(),
            part.raw.label_columns.clone(),
        );
        if let Some(e) = too_many_inputs(&prep, part.raw.rows, part.file.as_ref()) {
            out.errors.push(InSplit::new(part.split, e));
            continue;
        }
        let (table, unseen) = prep.transform(part.raw);
        if let Some(e) = too_large(&prep, &table, part.file.as_ref(), &columns, spec) {
            out.errors.push(InSplit::new(part.split, e));
        }
        if unseen > 0 {
            unseen_total += unseen;
            let one = unseen == 1;
            out.warnings.push(InSplit::new(
                part.split,
                DataWarning::UnseenCategory {
                    count: unseen,
                    plural: if one { "" } else { "s" },
                    s: if one { "s" } else { "" },
                    they: if one { "it is" } else { "they are" },
                    split: part.split.name(),
                    examples,
                },
            ));
        }
        tables.push((part.split, table));
    }
    if !out.errors.is_empty() {
        return with_side_errors(out, side_errors);
    }
    let class_counts = class_counts(&prep, &tables);
    let mut iter = tables.into_iter();
    let Some((_, train)) = iter.next() else {
        return with_side_errors(out, side_errors);
    };
    let mut data = Data {
        train,
        valid: None,
        test: None,
        prep: Some(prep),
        dropped_rows: (spec.missing == Missing::Drop).then_some(dropped),
        class_counts,
        unseen_categories: unseen_total,
    };
    for (split, t) in iter {
        if split == Split::Valid {
            data.valid = Some(t);
        } else {
            data.test = Some(t);
        }
    }
    if side_errors.is_empty() {
        out.data = Some(data);
    } else {
        out.partial = Some(data);
    }
    with_side_errors(out, side_errors)
}

/// `out` with the errors of the valid and test sources first (they were found
/// first), at most [`MAX_DATA_ERRORS`] in all.
fn with_side_errors(mut out: Loaded, mut side_errors: Vec<InSplit<DataError>>) -> Loaded {
    if !side_errors.is_empty() {
        side_errors.append(&mut out.errors);
        side_errors.truncate(MAX_DATA_ERRORS);
        out.errors = side_errors;
    }
    out
}

/// A split whose columns cannot be prepared like train's (different widths, or a
/// categorical train column next to generated numbers).
fn width_mismatch(train: &RawTable, other: &RawTable, split: &'static str) -> Option<DataError> {
    let kinds = |t: &RawTable| -> Vec<bool> {
        t.features
            .iter()
            .map(|c| matches!(c, RawColumn::Text { .. }))
            .collect()
    };
    (other.features.len() != train.features.len()
        || other.labels.len() != train.labels.len()
        || kinds(other) != kinds(train))
    .then_some(DataError::WidthMismatch {
        split,
        found: other.features.len(),
        found_targets: other.labels.len(),
        expected: train.features.len(),
        expected_targets: train.labels.len(),
    })
}

/// Removes rows with a missing cell; returns how many.
fn drop_missing(raw: &mut RawTable) -> usize {
    let missing = raw.missing_rows();
    let n = missing.iter().filter(|&&m| m).count();
    if n > 0 {
        let keep: Vec<bool> = missing.iter().map(|m| !m).collect();
        raw.retain(&keep);
    }
    n
}

/// For classification: each row's class number (classes ordered as the
/// preparation will order them) and the rows per class. `None` for regression.
fn class_index(raw: &RawTable, spec: &DataSpec) -> Option<(Vec<usize>, Vec<usize>)> {
    spec.classification?;
    match raw.labels.first()? {
        RawColumn::Text { ids, names } => {
            let by_name = prep::label_names_needed(ids, names);
            let mut order: Vec<usize> = (0..names.len()).collect();
            if by_name {
                order.sort_by(|&a, &b| names[a].cmp(&names[b]));
            } else {
                let value = |i: usize| names[i].parse::<f64>().unwrap_or(f64::INFINITY);
                order.sort_by(|&a, &b| value(a).total_cmp(&value(b)));
            }
            // Equal values ("1" and "1.0") are one class.
            let mut rank = vec![0usize; names.len()];
            let mut classes = 0usize;
            for (k, &i) in order.iter().enumerate() {
                let same = k > 0 && {
                    let p = order[k - 1];
                    if by_name {
                        names[p] == names[i]
                    } else {
                        names[p].parse::<f64>().ok() == names[i].parse::<f64>().ok()
                    }
                };
                if k > 0 && !same {
                    classes += 1;
                }
                rank[i] = classes;
            }
            let count = if names.is_empty() { 0 } else { classes + 1 };
            let class: Vec<usize> = ids
                .iter()
                .map(|&id| rank.get(id as usize).copied().unwrap_or(0))
                .collect();
            let mut counts = vec![0usize; count];
            for &c in &class {
                if let Some(n) = counts.get_mut(c) {
                    *n += 1;
                }
            }
            Some((class, counts))
        }
        RawColumn::Numeric(v) => {
            let mut values: Vec<f64> = v.clone();
            values.sort_by(f64::total_cmp);
            values.dedup();
            let class: Vec<usize> = v
                .iter()
                .map(|x| values.partition_point(|&y| y < *x))
                .collect();
            let mut counts = vec![0usize; values.len()];
            for &c in &class {
                counts[c] += 1;
            }
            Some((class, counts))
        }
    }
}

/// The first label of a valid/test split that train does not have, as an error
/// naming file and line (the other such rows counted).
fn unknown_class(prep: &Preparation, part: &Part) -> Option<DataError> {
    prep.classes.as_ref()?;
    let RawColumn::Text { ids, names } = part.raw.labels.first()? else {
        return None;
    };
    let bad: Vec<bool> = names
        .iter()
        .map(|n| prep.label_value(0, n).is_err())
        .collect();
    let mut rows = ids
        .iter()
        .enumerate()
        .filter(|(_, &id)| bad.get(id as usize).copied().unwrap_or(false));
    let (row, &id) = rows.next()?;
    let more_rows = rows.count();
    let taken_from_train = part.taken;
    let name = names.get(id as usize)?.clone();
    let known = match &prep.classes {
        Some(Classes::Names { names }) => names
            .iter()
            .take(12)
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "numbers".into(),
    };
    let help = match &prep.classes {
        Some(Classes::Names { .. }) if taken_from_train => format!(
            "the classes are the label names of the train split: {known}; a split taken with `split(train, f)` can take every row of a rare class: use `stratify = true`"
        ),
        Some(Classes::Names { .. }) => format!(
            "the classes are the label names of the train split: {known}; give the train file rows of every class"
        ),
        _ => "the train split's labels are all numbers, so every label must be a class number".into(),
    };
    let more = if more_rows > 0 {
        format!(
            " ({more_rows} more row{} of this split)",
            if more_rows == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let line = part.raw.lines.get(row).copied().unwrap_or(0);
    let column_index = part.raw.label_columns.first().copied().unwrap_or(0);
    match &part.file {
        Some(file) => {
            let (src, span, line) = csv::cell_source(file, line, column_index);
            Some(DataError::UnknownClass {
                file: file.display.clone(),
                line,
                column: column_label(prep, column_index, prep.labels.first()),
                name,
                more,
                help,
                src,
                span,
            })
        }
        None => None,
    }
}

/// How messages name file column `index` (0-based) of a split's file: "3
/// (`name`)" with a header, else "3".
fn column_label(prep: &Preparation, index: usize, column: Option<&Column>) -> String {
    match column {
        Some(c) if prep.header => format!("{} (`{}`)", index + 1, c.name),
        _ => format!("{}", index + 1),
    }
}

/// `nnt::data::too_many_inputs` when a split's rows times the model's inputs
/// (one-hot columns included) are more values than [`csv::MAX_VALUES`]: the
/// table would not fit in memory (the file's own values were within it).
fn too_many_inputs(prep: &Preparation, rows: usize, file: Option<&CsvSpec>) -> Option<DataError> {
    let width = prep.input_width();
    if rows.saturating_mul(width) <= csv::MAX_VALUES {
        return None;
    }
    let mut wide: Vec<(usize, &str)> = prep
        .features
        .iter()
        .filter(|f| matches!(f.kind, FeatureKind::Categorical { .. }))
        .map(|f| (f.width(), f.column.name.as_str()))
        .collect();
    wide.sort_by_key(|w| std::cmp::Reverse(w.0));
    let columns = wide
        .iter()
        .take(3)
        .map(|(w, name)| format!("`{name}`: {w} categories"))
        .collect::<Vec<_>>()
        .join(", ");
    let file = file.map_or_else(|| "the data".to_string(), |f| f.display.clone());
    Some(DataError::TooManyInputs {
        file,
        rows,
        width,
        limit: csv::MAX_VALUES,
        columns: if columns.is_empty() {
            "no categorical column".into()
        } else {
            columns
        },
        widest: wide
            .first()
            .map_or_else(|| "a column".into(), |(_, n)| format!("\"{n}\"")),
    })
}

/// The first value of a prepared split (`t`, read from `file` with these file
/// columns of its features and labels) that the run's precision cannot hold,
/// as an error at its cell. Generated data (no file) is not checked: its
/// values are small.
fn too_large(
    prep: &Preparation,
    t: &Table,
    file: Option<&CsvSpec>,
    (features, labels): &(Vec<usize>, Vec<usize>),
    spec: &DataSpec,
) -> Option<DataError> {
    let file = file?;
    let holds = |v: f64| spec.precision.holds(v);
    // Blocks checked whole (a pass that vectorises), then the failing one's values.
    let first = |values: &[f64]| -> Option<usize> {
        let mut at = 0;
        for block in values.chunks(4096) {
            if !block.iter().fold(true, |ok, &v| ok & holds(v)) {
                return block.iter().position(|&v| !holds(v)).map(|i| at + i);
            }
            at += block.len();
        }
        None
    };
    let (row, j, label) = match first(&t.x) {
        Some(i) => {
            let k = i % t.features;
            let mut end = 0;
            let j = prep.features.iter().position(|f| {
                end += f.width();
                k < end
            })?;
            (i / t.features, j, false)
        }
        None => {
            let i = first(&t.y)?;
            (i / t.targets, i % t.targets, true)
        }
    };
    let (index, column) = if label {
        (*labels.get(j)?, prep.labels.get(j))
    } else {
        (*features.get(j)?, prep.features.get(j).map(|f| &f.column))
    };
    let line = t.lines.get(row).copied()?;
    let help = match spec.precision {
        crate::ir::Precision::F32 => {
            let normalize = if spec.normalize == crate::ir::Normalize::None && !label {
                "`normalize = standard` or "
            } else {
                ""
            };
            format!("the network gets this value as f32, whose largest number is about 3.4e38: use {normalize}`precision = f64`, or scale the column down")
        }
        crate::ir::Precision::F64 => {
            "normalised, this value is beyond f64's range: scale the column down".to_string()
        }
    };
    Some(csv::too_large(
        file,
        line,
        index,
        column_label(prep, index, column),
        spec.precision.name(),
        help,
    ))
}

/// Up to three categories of a split that train does not have.
fn unseen_examples(prep: &Preparation, raw: &RawTable) -> String {
    let mut found: Vec<String> = Vec::new();
    for (f, col) in prep.features.iter().zip(&raw.features) {
        if let (FeatureKind::Categorical { categories }, RawColumn::Text { ids, names }) =
            (&f.kind, col)
        {
            let mut used = vec![false; names.len()];
            for &id in ids {
                if let Some(u) = used.get_mut(id as usize) {
                    *u = true;
                }
            }
            for (n, _) in names.iter().zip(&used).filter(|(_, &u)| u) {
                if categories.binary_search(n).is_err() && found.len() < 3 {
                    found.push(format!("`{}` in `{}`", n, f.column.name));
                }
            }
        }
    }
    format!(
        "for example {}; the categories are those of the train split",
        found.join(", ")
    )
}

/// Rows per class in each split (train, then the others as read).
fn class_counts(prep: &Preparation, tables: &[(Split, Table)]) -> Vec<(String, Vec<usize>)> {
    let names: Vec<String> = match &prep.classes {
        Some(Classes::Names { names }) => names.clone(),
        Some(Classes::Numeric { count }) => (0..*count).map(|c| c.to_string()).collect(),
        None => return Vec::new(),
    };
    let mut out: Vec<(String, Vec<usize>)> = names
        .into_iter()
        .map(|n| (n, vec![0; tables.len()]))
        .collect();
    if tables.iter().any(|(_, t)| t.targets != 1) {
        return Vec::new();
    }
    for (s, (_, t)) in tables.iter().enumerate() {
        for &y in &t.y {
            if y >= 0.0 && y.fract() == 0.0 {
                if let Some((_, counts)) = out.get_mut(y as usize) {
                    counts[s] += 1;
                }
            }
        }
    }
    out
}

/// Generates one synthetic source.
fn synthetic_source(
    source: &SourceSpec,
    seed: u64,
    rng: &mut ChaCha8Rng,
) -> Result<Table, DataError> {
    match *source {
        SourceSpec::Csv(_) | SourceSpec::Split { .. } => Err(DataError::SplitAsTrain),
        SourceSpec::Blobs {
            n,
            features,
            classes,
            spread,
        } => synthetic::blobs(seed, rng, n, features, classes, spread),
        SourceSpec::Spirals { n, classes, noise } => synthetic::spirals(rng, n, classes, noise),
        SourceSpec::Moons { n, noise } => synthetic::moons(rng, n, noise),
        SourceSpec::Xor { n, noise } => synthetic::xor(rng, n, noise),
        SourceSpec::Linear {
            n,
            features,
            targets,
            noise,
        } => synthetic::linear(seed, rng, n, features, targets, noise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ColumnRef;

    /// A categorical id column (a category a row) makes rows × rows one-hot
    /// values: past [`csv::MAX_VALUES`] it is refused, naming the column, before
    /// the table is allocated (it aborted allocating 28.8 GB for 60 000 rows);
    /// one row fewer loads.
    #[test]
    fn one_hot_inputs_past_the_values_limit_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ids.csv");
        // rows × (rows one-hot inputs + 1 numeric) against the limit.
        let rows = (1..).find(|r| r * (r + 1) > csv::MAX_VALUES).unwrap_or(1);
        let write = |rows: usize| {
            let body: String = (0..rows)
                .map(|i| format!("id{i},{i},{}\n", i % 2))
                .collect();
            std::fs::write(&path, format!("id,x,y\n{body}")).expect("write");
        };
        let spec = CsvSpec {
            path: path.clone(),
            display: "ids.csv".into(),
            label: vec![ColumnRef::Name("y".into())],
            header: true,
            delimiter: b',',
        };
        let mut data = DataSpec::new(SourceSpec::Csv(spec));
        data.categorical = vec![ColumnRef::Name("id".into())];
        write(rows);
        let loaded = load_all(&data, 1);
        let found: Vec<&DataError> = loaded.errors.iter().map(|e| &e.error).collect();
        assert!(
            matches!(
                found.as_slice(),
                [DataError::TooManyInputs { width, columns, widest, .. }]
                    if *width == rows + 1 && columns.contains("`id`") && widest == "\"id\""
            ),
            "{found:?}"
        );
        write(rows - 1);
        let loaded = load_all(&data, 1);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.data.map(|d| d.train.features), Some(rows));
    }
}
