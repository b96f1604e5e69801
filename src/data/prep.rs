//! The data preparation (§14): everything learnt from the train split, fitted once
//! and applied identically to every split, to `predict` and to `eval`.
//!
//! # API (stable; later changes are additive only)
//!
//! - [`Preparation`] is plain data (serde `Serialize` + `Deserialize`; the
//!   `version` field is [`PREP_VERSION`]). It holds the feature columns in model
//!   order with each one's [`FeatureKind`] (numeric with its missing-value fill and
//!   normalisation `shift`/`divisor`, or categorical with its categories), the
//!   ignored columns, the label columns, the [`Classes`] (names or a numeric
//!   count), the target statistics of `normalize_targets`, the `missing` policy
//!   and the header/delimiter settings of the train file.
//! - [`Preparation::fit`] builds it from the (already split, already `drop`ped)
//!   raw train table; [`Preparation::transform`] turns a raw table into the
//!   numeric [`Table`] the trainer uses. The data stage (`data::load`) does both,
//!   and the result is `ir::Data::prep`: training uses exactly this object.
//! - Streaming use (`predict`, `eval`): [`Preparation::bind`] matches a file's
//!   header to the columns by name (by position without a header; a missing
//!   column is a [`BindError`] naming it), then for each row of raw cells
//!   [`Preparation::prepare_row`] writes the feature vector
//!   ([`Preparation::input_width`] values) and [`Preparation::label_row`] the
//!   targets (class index, or the target in training units). A bad cell is a
//!   [`CellIssue`] giving the file column (0-based) and what is wrong.
//! - [`Preparation::feature_names`] gives the names of the input columns after
//!   one-hot encoding (`island=Biscoe`); [`Preparation::class_names`] the class
//!   names; [`Preparation::targets_to_original`] undoes `normalize_targets`.
//!
//! Cells are trimmed of spaces; a cell is missing when it is empty or one of
//! [`MISSING_TOKENS`] (§14).

use serde::{Deserialize, Serialize};

use super::table::{Missing, Normalize, Table};

/// Version of the serialised layout of [`Preparation`].
pub const PREP_VERSION: u32 = 1;

/// The texts (after trimming) that mean "no value" (§14); the empty cell too.
pub const MISSING_TOKENS: &[&str] = &["NA", "N/A", "NaN", "nan", "null", "?"];

/// True when a (trimmed) cell is a missing value.
pub fn is_missing(cell: &str) -> bool {
    cell.is_empty() || MISSING_TOKENS.contains(&cell)
}

/// Everything learnt from the train split. See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preparation {
    /// [`PREP_VERSION`] when written.
    pub version: u32,
    /// Whether the train file had a header row (columns are then matched by name;
    /// otherwise by position).
    pub header: bool,
    /// The train file's delimiter, as a character (`","`).
    pub delimiter: String,
    /// The feature columns in model order.
    pub features: Vec<Feature>,
    /// Columns of the train file that are neither features nor labels.
    pub ignored: Vec<Column>,
    /// The label (target) columns, in output-unit order.
    pub labels: Vec<Column>,
    /// Classification: the classes; `None` for regression.
    pub classes: Option<Classes>,
    /// `normalize_targets = standard`: per-target mean and std of the train split.
    pub targets: Option<TargetScaling>,
    /// What a missing cell means.
    pub missing: Missing,
    /// How numeric features were normalised (the statistics are in each feature).
    pub normalize: Normalize,
}

/// A column of a file: its header name (or, without a header, its 0-based index
/// written in decimal) and its 0-based position in the train file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub column: Column,
    pub kind: FeatureKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// One input: `(x − shift) / divisor` (a divisor of 0 gives 0), where a
    /// missing x is `fill` (`None`: a missing cell is an error, or dropped).
    Numeric {
        fill: Option<f64>,
        shift: f64,
        divisor: f64,
        /// Train rows whose cell was missing (filled), for `explain`.
        #[serde(default)]
        missing_in_train: usize,
    },
    /// One 0/1 input per category (byte order); a missing or unseen category is
    /// all zeros.
    Categorical { categories: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classes {
    /// Class names in byte order: name i is class i.
    Names { names: Vec<String> },
    /// Numeric labels 0..count−1 (`count` is the model's output width for
    /// cross_entropy, 2 for binary_cross_entropy).
    Numeric { count: usize },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetScaling {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// How the columns of one file map to the preparation's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// File column of each feature.
    pub features: Vec<usize>,
    /// File column of each label; `None` when the file lacks it (allowed only when
    /// `bind` was asked not to need labels).
    pub labels: Vec<Option<usize>>,
}

/// A column the preparation needs that a file does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    /// Header name (or decimal index without a header).
    pub column: String,
    /// True for a label column.
    pub label: bool,
}

/// What is wrong with one cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct CellIssue {
    /// 0-based column in the file.
    pub column: usize,
    pub kind: CellIssueKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CellIssueKind {
    /// A missing cell where the policy does not fill it (`error`, `drop`, labels).
    Missing,
    /// A non-number in a numeric column.
    NotANumber(String),
    /// `inf` or a number too large for f64.
    NotFinite(String),
    /// A class name the train split does not have.
    UnknownClass(String),
    /// A numeric class label that is not a whole number in range.
    BadClass(String),
    /// The row has fewer cells than the column needs.
    NoCell,
    /// A finite number whose prepared value (normalised, or in training units)
    /// the model's precision cannot hold: `1e39` for an f32 model.
    TooLarge(String),
}

/// Whether a numeric label is a class label: a whole number from 0. Both
/// `nnt check` (any other label of a cross-entropy model's data is
/// `nnt::check::label_not_class`) and `nnt eval` (through
/// [`Preparation::label_row`]) apply this rule.
pub fn is_class_label(y: f64) -> bool {
    y.is_finite() && y >= 0.0 && y.fract() == 0.0
}

/// Parses a trimmed numeric cell: `Ok(None)` when missing.
pub fn parse_number(cell: &str) -> Result<Option<f64>, CellIssueKind> {
    if cell == "0" {
        return Ok(Some(0.0));
    }
    if is_missing(cell) {
        return Ok(None);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(CellIssueKind::NotFinite(cell.to_string())),
        Err(_) => Err(CellIssueKind::NotANumber(cell.to_string())),
    }
}

/// The settings of the recipe that [`Preparation::fit`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    pub missing: Missing,
    pub normalize: Normalize,
    pub normalize_targets: bool,
    /// `Some(C)` for classification: C is the class count of numeric labels
    /// (cross_entropy: the output width when known, else the largest label + 1).
    pub classification: Option<usize>,
    pub header: bool,
    pub delimiter: u8,
}

// ---------------------------------------------------------------- raw tables

/// One file (or split) as read: the used columns in preparation order (features,
/// then labels), each either numeric (f64, NaN for a missing cell) or text
/// (interned names, [`MISSING_ID`] for a missing cell).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawTable {
    pub rows: usize,
    /// 1-based file line of each row; empty for generated data.
    pub lines: Vec<usize>,
    pub features: Vec<RawColumn>,
    pub labels: Vec<RawColumn>,
    /// File column (0-based) of each feature and each label, for messages.
    pub feature_columns: Vec<usize>,
    pub label_columns: Vec<usize>,
}

/// Marks a missing cell of a text column.
pub const MISSING_ID: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq)]
pub enum RawColumn {
    Numeric(Vec<f64>),
    Text { ids: Vec<u32>, names: Vec<String> },
}

impl RawColumn {
    pub fn is_missing(&self, row: usize) -> bool {
        match self {
            RawColumn::Numeric(v) => v[row].is_nan(),
            RawColumn::Text { ids, .. } => ids[row] == MISSING_ID,
        }
    }

    /// The text of a cell of a text column (`None` when missing or numeric).
    pub fn text(&self, row: usize) -> Option<&str> {
        match self {
            RawColumn::Text { ids, names } => names.get(ids[row] as usize).map(String::as_str),
            RawColumn::Numeric(_) => None,
        }
    }

    /// Keeps the rows where `keep` is true.
    fn retain(&mut self, keep: &[bool]) {
        match self {
            RawColumn::Numeric(v) => retain(v, keep),
            RawColumn::Text { ids, .. } => retain(ids, keep),
        }
    }
}

fn retain<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(true);
        i += 1;
        k
    });
}

impl RawTable {
    /// Keeps the rows where `keep[r]` is true (in order).
    pub fn retain(&mut self, keep: &[bool]) {
        for c in self.features.iter_mut().chain(self.labels.iter_mut()) {
            c.retain(keep);
        }
        if !self.lines.is_empty() {
            retain(&mut self.lines, keep);
        }
        self.rows = keep.iter().take(self.rows).filter(|&&k| k).count()
            + self.rows.saturating_sub(keep.len());
    }

    /// Moves the rows where `chosen[r]` is true into a new table; both keep file
    /// order.
    pub fn take(&mut self, chosen: &[bool]) -> RawTable {
        let mut out = self.clone();
        out.retain(chosen);
        let keep: Vec<bool> = chosen.iter().map(|c| !c).collect();
        self.retain(&keep);
        out
    }

    /// Rows with a missing cell in any column (features or labels).
    pub fn missing_rows(&self) -> Vec<bool> {
        (0..self.rows)
            .map(|r| {
                self.features
                    .iter()
                    .chain(self.labels.iter())
                    .any(|c| c.is_missing(r))
            })
            .collect()
    }

    /// A numeric table as a raw one (generated data).
    pub fn from_table(t: &Table) -> RawTable {
        let (f, k) = (t.features, t.targets);
        RawTable {
            rows: t.rows,
            lines: t.lines.clone(),
            features: (0..f)
                .map(|j| RawColumn::Numeric((0..t.rows).map(|r| t.x[r * f + j]).collect()))
                .collect(),
            labels: (0..k)
                .map(|j| RawColumn::Numeric((0..t.rows).map(|r| t.y[r * k + j]).collect()))
                .collect(),
            feature_columns: (0..f).collect(),
            label_columns: (f..f + k).collect(),
        }
    }
}

// ---------------------------------------------------------------- fit

/// Population statistics of a numeric column's non-missing values.
fn mean_of(values: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for v in values.clone() {
        sum += v;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    if mean.is_finite() {
        return Some(mean);
    }
    // The sum overflowed (values near f64's limit): the mean of the values
    // scaled into [-1, 1], scaled back. Only then, so other data keep their bits.
    let s = values.clone().fold(0.0f64, |m, v| m.max(v.abs()));
    Some(values.map(|v| v / s).sum::<f64>() / n as f64 * s)
}

/// The median (the mean of the two middle values for an even count).
pub fn median_of(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        let (a, b) = (values[n / 2 - 1], values[n / 2]);
        let m = (a + b) / 2.0;
        // Halves first when the sum overflows.
        if m.is_finite() {
            m
        } else {
            a / 2.0 + b / 2.0
        }
    })
}

/// Normalisation statistics of one (filled) numeric column, exactly as §4 says:
/// returns (shift, divisor).
///
/// Where the plain formulas overflow (values near f64's limit: a sum, a
/// difference or a square beyond it), the mean and the standard deviation are
/// computed again on the values scaled into [-1, 1], then scaled back; other
/// columns keep exactly the bits of the plain formulas. A minmax range beyond
/// f64 (from -1e308 to 1.5e308) stays infinite: [`Preparation::non_finite`]
/// reports it.
fn norm_stats(col: &[f64], how: Normalize) -> (f64, f64) {
    if col.is_empty() {
        return (0.0, 1.0);
    }
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    let mut sum = 0.0f64;
    for &v in col {
        min = min.min(v);
        max = max.max(v);
        sum += v;
    }
    match how {
        Normalize::None => (0.0, 1.0),
        Normalize::MinMax => (min, if max > min { max - min } else { 0.0 }),
        Normalize::Standard => {
            let n = col.len() as f64;
            let mut mean = sum / n;
            let mut ss = 0.0f64;
            for &v in col {
                let d = v - mean;
                ss += d * d;
            }
            let mut std = (ss / n).sqrt();
            if !mean.is_finite() || !std.is_finite() {
                (mean, std) = scaled_stats(col, mean, min, max);
            }
            (mean, if max > min && std > 0.0 { std } else { 1.0 })
        }
    }
}

/// Mean and population standard deviation of `col` (finite values from `min`
/// to `max`) computed on the values scaled into [-1, 1], for columns where the
/// plain formulas overflow; `mean` is kept when it is finite.
fn scaled_stats(col: &[f64], mean: f64, min: f64, max: f64) -> (f64, f64) {
    let s = min.abs().max(max.abs());
    if !(s > 0.0 && s.is_finite()) {
        return (mean, f64::NAN);
    }
    let n = col.len() as f64;
    // `mean_of` falls back to the scaled mean where the plain one overflows.
    let mean = if mean.is_finite() {
        mean
    } else {
        mean_of(col.iter().copied()).unwrap_or(mean)
    };
    let m = mean / s;
    let ss: f64 = col
        .iter()
        .map(|v| {
            let d = v / s - m;
            d * d
        })
        .sum();
    (mean, (ss / n).sqrt() * s)
}

/// The normalised value of x (a divisor of 0 gives 0). Where x − shift
/// overflows (both near f64's limit, of opposite signs), each is divided first.
#[inline]
fn scale(x: f64, shift: f64, divisor: f64) -> f64 {
    if divisor == 0.0 {
        0.0
    } else {
        let v = (x - shift) / divisor;
        if v.is_finite() {
            v
        } else {
            x / divisor - shift / divisor
        }
    }
}

impl Preparation {
    /// Fits the preparation on the final train split. `names` are the names of
    /// the feature columns then the label columns (as in `raw`), `ignored` the
    /// train file's other columns. Class names are used when some label cell of
    /// the train split is not a number (classification only).
    pub fn fit(
        raw: &RawTable,
        feature_names: &[String],
        label_names: &[String],
        ignored: Vec<Column>,
        opts: &FitOptions,
    ) -> Preparation {
        let mut features = Vec::with_capacity(raw.features.len());
        for (j, col) in raw.features.iter().enumerate() {
            let column = Column {
                name: feature_names
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| j.to_string()),
                index: raw.feature_columns.get(j).copied().unwrap_or(j),
            };
            let kind = match col {
                RawColumn::Numeric(v) => {
                    let present = || v.iter().copied().filter(|x| !x.is_nan());
                    let missing_in_train = v.iter().filter(|x| x.is_nan()).count();
                    let fill = match opts.missing {
                        Missing::Mean => Some(mean_of(present()).unwrap_or(0.0)),
                        Missing::Median => Some(median_of(present().collect()).unwrap_or(0.0)),
                        Missing::Zero => Some(0.0),
                        Missing::Error | Missing::Drop => None,
                    };
                    let (shift, divisor) = if opts.normalize == Normalize::None {
                        (0.0, 1.0)
                    } else if missing_in_train == 0 {
                        norm_stats(v, opts.normalize)
                    } else {
                        let filled: Vec<f64> = v
                            .iter()
                            .map(|&x| if x.is_nan() { fill.unwrap_or(0.0) } else { x })
                            .collect();
                        norm_stats(&filled, opts.normalize)
                    };
                    FeatureKind::Numeric {
                        fill,
                        shift,
                        divisor,
                        missing_in_train,
                    }
                }
                RawColumn::Text { ids, names } => {
                    let mut used = vec![false; names.len()];
                    for &id in ids {
                        if let Some(u) = used.get_mut(id as usize) {
                            *u = true;
                        }
                    }
                    let mut categories: Vec<String> = names
                        .iter()
                        .zip(&used)
                        .filter(|(_, &u)| u)
                        .map(|(n, _)| n.clone())
                        .collect();
                    categories.sort_unstable();
                    FeatureKind::Categorical { categories }
                }
            };
            features.push(Feature { column, kind });
        }
        let labels: Vec<Column> = raw
            .labels
            .iter()
            .enumerate()
            .map(|(j, _)| Column {
                name: label_names.get(j).cloned().unwrap_or_else(|| j.to_string()),
                index: raw.label_columns.get(j).copied().unwrap_or(j),
            })
            .collect();
        let classes = opts.classification.map(|count| match raw.labels.first() {
            Some(RawColumn::Text { ids, names }) if label_names_needed(ids, names) => {
                let mut seen: Vec<String> = distinct(ids, names);
                seen.sort_unstable();
                Classes::Names { names: seen }
            }
            _ => Classes::Numeric { count },
        });
        let targets = (opts.normalize_targets && classes.is_none()).then(|| {
            let mut mean = Vec::new();
            let mut std = Vec::new();
            for col in &raw.labels {
                let v: Vec<f64> = match col {
                    RawColumn::Numeric(v) => v.iter().copied().filter(|x| !x.is_nan()).collect(),
                    RawColumn::Text { .. } => Vec::new(),
                };
                let (m, s) = norm_stats(&v, Normalize::Standard);
                mean.push(m);
                std.push(s);
            }
            TargetScaling { mean, std }
        });
        Preparation {
            version: PREP_VERSION,
            header: opts.header,
            delimiter: char::from(opts.delimiter).to_string(),
            features,
            ignored,
            labels,
            classes,
            targets,
            missing: opts.missing,
            normalize: opts.normalize,
        }
    }

    /// The number of inputs of the model (after one-hot encoding).
    pub fn input_width(&self) -> usize {
        self.features.iter().map(Feature::width).sum()
    }

    /// The names of the model's inputs: a numeric column's name, or
    /// `name=category` for each one-hot column.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.input_width());
        for f in &self.features {
            match &f.kind {
                FeatureKind::Numeric { .. } => out.push(f.column.name.clone()),
                FeatureKind::Categorical { categories } => {
                    out.extend(categories.iter().map(|c| format!("{}={c}", f.column.name)));
                }
            }
        }
        out
    }

    /// The class names (`None` for regression and numeric labels).
    pub fn class_names(&self) -> Option<&[String]> {
        match &self.classes {
            Some(Classes::Names { names }) => Some(names),
            _ => None,
        }
    }

    /// Undoes `normalize_targets` on one row of targets (training units to the
    /// file's units); does nothing without it.
    pub fn targets_to_original(&self, y: &mut [f64]) {
        if let Some(t) = &self.targets {
            for (j, v) in y.iter_mut().enumerate() {
                if let (Some(m), Some(s)) = (t.mean.get(j), t.std.get(j)) {
                    *v = *v * s + m;
                }
            }
        }
    }

    /// Matches a file's columns to the preparation's: by header name when the
    /// train file had a header (`header` given), else by position. With
    /// `need_labels = false` a missing label column is allowed (`None`).
    pub fn bind(&self, header: Option<&[String]>, need_labels: bool) -> Result<Binding, BindError> {
        let find = |c: &Column| -> Option<usize> {
            match header {
                Some(names) if self.header => names.iter().position(|n| *n == c.name),
                Some(names) => (c.index < names.len()).then_some(c.index),
                None => Some(c.index),
            }
        };
        let mut features = Vec::with_capacity(self.features.len());
        for f in &self.features {
            features.push(find(&f.column).ok_or_else(|| BindError {
                column: f.column.name.clone(),
                label: false,
            })?);
        }
        let mut labels = Vec::with_capacity(self.labels.len());
        for l in &self.labels {
            match find(l) {
                Some(i) => labels.push(Some(i)),
                None if !need_labels => labels.push(None),
                None => {
                    return Err(BindError {
                        column: l.name.clone(),
                        label: true,
                    })
                }
            }
        }
        Ok(Binding { features, labels })
    }

    /// Writes the model's inputs for one row of (untrimmed) cells into `out`
    /// ([`Self::input_width`] values). `unseen` counts categories the train split
    /// does not have (written as all zeros).
    pub fn prepare_row<S: AsRef<str>>(
        &self,
        b: &Binding,
        cells: &[S],
        out: &mut [f64],
        unseen: &mut usize,
    ) -> Result<(), CellIssue> {
        let mut at = 0;
        for (f, &col) in self.features.iter().zip(&b.features) {
            let cell = cells.get(col).map(|c| c.as_ref().trim()).ok_or(CellIssue {
                column: col,
                kind: CellIssueKind::NoCell,
            })?;
            let w = f.width();
            let slot = out.get_mut(at..at + w).ok_or(CellIssue {
                column: col,
                kind: CellIssueKind::NoCell,
            })?;
            match &f.kind {
                FeatureKind::Numeric { .. } => {
                    let v = parse_number(cell).map_err(|kind| CellIssue { column: col, kind })?;
                    slot[0] = f.numeric(v).ok_or(CellIssue {
                        column: col,
                        kind: CellIssueKind::Missing,
                    })?;
                }
                FeatureKind::Categorical { .. } => {
                    if is_missing(cell) {
                        if matches!(self.missing, Missing::Error | Missing::Drop) {
                            return Err(CellIssue {
                                column: col,
                                kind: CellIssueKind::Missing,
                            });
                        }
                        f.one_hot(None, slot);
                    } else if !f.one_hot(Some(cell), slot) {
                        *unseen += 1;
                    }
                }
            }
            at += w;
        }
        Ok(())
    }

    /// Writes one row's targets into `out` (one value per label column): the
    /// class index for classification, else the number (standardised under
    /// `normalize_targets`). A numeric class label must be a class of the
    /// model, a whole number from 0 to the class count − 1
    /// ([`CellIssueKind::BadClass`] otherwise); a class name one of its names.
    pub fn label_row<S: AsRef<str>>(
        &self,
        b: &Binding,
        cells: &[S],
        out: &mut [f64],
    ) -> Result<(), CellIssue> {
        for (j, col) in b.labels.iter().enumerate() {
            let Some(col) = *col else { continue };
            let cell = cells.get(col).map(|c| c.as_ref().trim()).ok_or(CellIssue {
                column: col,
                kind: CellIssueKind::NoCell,
            })?;
            let issue = |kind| CellIssue { column: col, kind };
            if is_missing(cell) {
                return Err(issue(CellIssueKind::Missing));
            }
            let v = self.label_value(j, cell).map_err(issue)?;
            if let Some(Classes::Numeric { count }) = &self.classes {
                if !is_class_label(v) || v >= *count as f64 {
                    return Err(issue(CellIssueKind::BadClass(cell.to_string())));
                }
            }
            if let Some(o) = out.get_mut(j) {
                *o = v;
            }
        }
        Ok(())
    }

    /// Checks a row prepared by [`Self::prepare_row`] (`row`) and, when given,
    /// [`Self::label_row`] (`targets`): every value must be one that `holds`
    /// (finite in the model's precision). The first that is not is a
    /// [`CellIssueKind::TooLarge`] at its file column, with the cell's text.
    pub fn check_row<S: AsRef<str>>(
        &self,
        b: &Binding,
        cells: &[S],
        row: &[f64],
        targets: Option<&[f64]>,
        holds: impl Fn(f64) -> bool,
    ) -> Result<(), CellIssue> {
        let issue = |col: usize| CellIssue {
            column: col,
            kind: CellIssueKind::TooLarge(
                cells.get(col).map_or("", |c| c.as_ref().trim()).to_string(),
            ),
        };
        let mut at = 0;
        for (f, &col) in self.features.iter().zip(&b.features) {
            let w = f.width();
            if row
                .get(at..at + w)
                .is_some_and(|v| !v.iter().all(|&x| holds(x)))
            {
                return Err(issue(col));
            }
            at += w;
        }
        for (y, col) in targets.unwrap_or(&[]).iter().zip(&b.labels) {
            if let (false, Some(col)) = (holds(*y), col) {
                return Err(issue(*col));
            }
        }
        Ok(())
    }

    /// The first statistic that is not finite (a minmax range beyond f64's:
    /// the column's values span more than it), as (column name, what it is);
    /// such a preparation cannot be applied nor written.
    pub fn non_finite(&self) -> Option<(String, &'static str)> {
        for f in &self.features {
            if let FeatureKind::Numeric {
                fill,
                shift,
                divisor,
                ..
            } = &f.kind
            {
                let what = if !shift.is_finite() {
                    Some("shift")
                } else if !divisor.is_finite() {
                    Some(match self.normalize {
                        Normalize::MinMax => "range (max − min)",
                        Normalize::Standard | Normalize::None => "standard deviation",
                    })
                } else if fill.is_some_and(|v| !v.is_finite()) {
                    Some("missing-value fill")
                } else {
                    None
                };
                if let Some(what) = what {
                    return Some((f.column.name.clone(), what));
                }
            }
        }
        let t = self.targets.as_ref()?;
        for (j, l) in self.labels.iter().enumerate() {
            let (m, s) = (t.mean.get(j), t.std.get(j));
            if m.is_some_and(|v| !v.is_finite()) {
                return Some((l.name.clone(), "target mean"));
            }
            if s.is_some_and(|v| !v.is_finite()) {
                return Some((l.name.clone(), "target standard deviation"));
            }
        }
        None
    }

    /// The training value of a label cell (not missing) of label column `j`.
    pub fn label_value(&self, j: usize, cell: &str) -> Result<f64, CellIssueKind> {
        match &self.classes {
            Some(Classes::Names { names }) => names
                .binary_search_by(|n| n.as_str().cmp(cell))
                .map(|i| i as f64)
                .map_err(|_| CellIssueKind::UnknownClass(cell.to_string())),
            Some(Classes::Numeric { .. }) => parse_number(cell)?.ok_or(CellIssueKind::Missing),
            None => {
                let v = parse_number(cell)?.ok_or(CellIssueKind::Missing)?;
                Ok(self.target_value(j, v))
            }
        }
    }

    /// A regression target in training units.
    #[inline]
    fn target_value(&self, j: usize, v: f64) -> f64 {
        match &self.targets {
            Some(t) => match (t.mean.get(j), t.std.get(j)) {
                (Some(&m), Some(&s)) => scale(v, m, s),
                _ => v,
            },
            None => v,
        }
    }

    /// Turns a raw table (read with this preparation's columns) into the numeric
    /// table the trainer uses. Missing cells must already be dropped or fillable;
    /// a text label must be a known class. Returns the table and the number of
    /// categorical cells whose category the train split does not have.
    pub fn transform(&self, raw: RawTable) -> (Table, usize) {
        let rows = raw.rows;
        let width = self.input_width();
        let targets = raw.labels.len();
        let mut unseen = 0usize;
        let mut x = vec![0.0f64; rows * width];
        let mut at = 0;
        for (f, col) in self.features.iter().zip(&raw.features) {
            let w = f.width();
            match (col, &f.kind) {
                (RawColumn::Numeric(v), FeatureKind::Numeric { .. }) => {
                    for (r, &value) in v.iter().enumerate() {
                        let value = if value.is_nan() { None } else { Some(value) };
                        x[r * width + at] = f.numeric(value).unwrap_or(0.0);
                    }
                }
                (RawColumn::Text { ids, names }, FeatureKind::Categorical { categories }) => {
                    // Map the file's names to the train categories once.
                    let map: Vec<Option<usize>> = names
                        .iter()
                        .map(|n| categories.binary_search(n).ok())
                        .collect();
                    for (r, &id) in ids.iter().enumerate() {
                        if id == MISSING_ID {
                            continue;
                        }
                        match map.get(id as usize).copied().flatten() {
                            Some(k) => x[r * width + at + k] = 1.0,
                            None => unseen += 1,
                        }
                    }
                }
                _ => {}
            }
            at += w;
        }
        let mut y = vec![0.0f64; rows * targets];
        for (j, col) in raw.labels.iter().enumerate() {
            match col {
                RawColumn::Numeric(v) => {
                    for (r, &value) in v.iter().enumerate() {
                        y[r * targets + j] = self.target_value(j, value);
                    }
                }
                RawColumn::Text { ids, names } => {
                    let map: Vec<f64> = names
                        .iter()
                        .map(|n| self.label_value(j, n).unwrap_or(f64::NAN))
                        .collect();
                    for (r, &id) in ids.iter().enumerate() {
                        y[r * targets + j] = map.get(id as usize).copied().unwrap_or(f64::NAN);
                    }
                }
            }
        }
        (
            Table {
                rows,
                features: width,
                targets,
                x,
                y,
                lines: raw.lines,
            },
            unseen,
        )
    }
}

/// True when some (used, non-missing) label name of the train split is not a
/// number: every label is then a class name (§14).
pub fn label_names_needed(ids: &[u32], names: &[String]) -> bool {
    distinct(ids, names)
        .iter()
        .any(|n| !matches!(parse_number(n), Ok(Some(_))))
}

fn distinct(ids: &[u32], names: &[String]) -> Vec<String> {
    let mut used = vec![false; names.len()];
    for &id in ids {
        if let Some(u) = used.get_mut(id as usize) {
            *u = true;
        }
    }
    names
        .iter()
        .zip(&used)
        .filter(|(_, &u)| u)
        .map(|(n, _)| n.clone())
        .collect()
}

impl Feature {
    /// Inputs this column becomes.
    pub fn width(&self) -> usize {
        match &self.kind {
            FeatureKind::Numeric { .. } => 1,
            FeatureKind::Categorical { categories } => categories.len(),
        }
    }

    /// The input of a numeric cell (`None` = missing); `None` when a missing cell
    /// has no fill.
    #[inline]
    pub fn numeric(&self, value: Option<f64>) -> Option<f64> {
        match &self.kind {
            FeatureKind::Numeric {
                fill,
                shift,
                divisor,
                ..
            } => {
                let v = value.or(*fill)?;
                Some(scale(v, *shift, *divisor))
            }
            FeatureKind::Categorical { .. } => None,
        }
    }

    /// Writes the one-hot columns of a category (`None`: missing, all zeros);
    /// false when the category is unseen (all zeros too).
    pub fn one_hot(&self, cell: Option<&str>, out: &mut [f64]) -> bool {
        out.iter_mut().for_each(|v| *v = 0.0);
        let FeatureKind::Categorical { categories } = &self.kind else {
            return true;
        };
        match cell {
            None => true,
            Some(c) => match categories.binary_search_by(|k| k.as_str().cmp(c)) {
                Ok(k) => {
                    if let Some(v) = out.get_mut(k) {
                        *v = 1.0;
                    }
                    true
                }
                Err(_) => false,
            },
        }
    }
}
