//! Errors of the data stage: every malformed input names the file, the line
//! (1-based, the header line counted) and the column (1-based field number, with the
//! header name when there is one), and shows the offending line of the file.

use std::sync::Arc;

use miette::{Diagnostic, SourceCode, SourceSpan};

use crate::report::excerpt::Excerpt;
use thiserror::Error;

/// An error found while reading, splitting or generating data.
///
/// The doc comment of each variant gives a minimal input that triggers it; those
/// inputs are the fixtures of `tests/fixtures/data/<code>.csv`.
#[derive(Debug, Error, Diagnostic)]
pub enum DataError {
    /// `csv("missing.csv", label = "y")` where the file does not exist.
    #[error("data file `{file}` not found")]
    #[diagnostic(
        code(nnt::data::file_not_found),
        help("relative paths are relative to the recipe's directory; looked for `{path}`")
    )]
    FileNotFound { file: String, path: String },

    /// A path that exists but cannot be read, e.g. a directory: `csv("unreadable.csv", label = 0)`.
    #[error("cannot read data file `{file}`: {reason}")]
    #[diagnostic(code(nnt::data::unreadable))]
    Unreadable { file: String, reason: String },

    /// A cell that is not valid UTF-8: the bytes `x,y\n1,\xff\n`.
    #[error("{file}:{line}: column {column} is not valid UTF-8")]
    #[diagnostic(code(nnt::data::invalid_utf8), help("save the file as UTF-8"))]
    InvalidUtf8 {
        file: String,
        line: usize,
        column: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("not UTF-8")]
        span: SourceSpan,
    },

    /// A file with no bytes (or only blank lines).
    #[error("data file `{file}` is empty")]
    #[diagnostic(
        code(nnt::data::empty_file),
        help("a CSV file needs a header line and at least one row of numbers")
    )]
    EmptyFile { file: String },

    /// A header and no rows: `x,y\n`.
    #[error("data file `{file}` has a header but no rows")]
    #[diagnostic(code(nnt::data::header_only))]
    HeaderOnly {
        file: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("only this line")]
        span: SourceSpan,
    },

    /// A row with a different number of fields than the first line: `x,y\n1,2\n3\n`.
    #[error("{file}:{line}: expected {expected} fields, found {found}")]
    #[diagnostic(
        code(nnt::data::ragged_row),
        help("every row needs as many fields as line 1 ({expected})")
    )]
    RaggedRow {
        file: String,
        line: usize,
        expected: usize,
        found: usize,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("{}", if found > expected { "extra field" } else { "missing field" })]
        span: SourceSpan,
    },

    /// An empty cell with `missing = error` (the default): `x,y\n1,\n`.
    #[error("{file}:{line}: column {column} is empty{more}")]
    #[diagnostic(code(nnt::data::empty_cell), help("{help}"))]
    EmptyCell {
        file: String,
        line: usize,
        column: String,
        /// " (N cells of this column)" when there are several.
        more: String,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("empty cell")]
        span: SourceSpan,
    },

    /// A missing-value token (`NA`, `N/A`, `NaN`, `nan`, `null`, `?`) with
    /// `missing = error`: `x,y\n1,2\nNA,3\n`.
    #[error("{file}:{line}: column {column} is missing: `{text}`{more}")]
    #[diagnostic(code(nnt::data::missing_cell), help("{help}"))]
    MissingCell {
        file: String,
        line: usize,
        column: String,
        text: String,
        more: String,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("missing value")]
        span: SourceSpan,
    },

    /// A cell that is not a number in a numeric column: `x,y\n1,abc\n`.
    #[error("{file}:{line}: column {column} is not a number: `{text}`{more}")]
    #[diagnostic(code(nnt::data::not_a_number), help("{help}"))]
    NotANumber {
        file: String,
        line: usize,
        column: String,
        text: String,
        more: String,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("not a number")]
        span: SourceSpan,
    },

    /// `nan`, `inf` or a number too large for f64: `x,y\n1,nan\n`.
    #[error("{file}:{line}: column {column} is not finite: `{text}`")]
    #[diagnostic(
        code(nnt::data::not_finite),
        help("nan and infinite values cannot be trained on; remove or impute them")
    )]
    NotFinite {
        file: String,
        line: usize,
        column: String,
        text: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("not finite")]
        span: SourceSpan,
    },

    /// A finite cell whose value as the network gets it (normalised, or a
    /// target in training units) the run's precision cannot hold:
    /// `x,y\n1,0\n1e39,1\n` with `precision = f32` (the default).
    /// Test: tests/it/data_errors.rs `too_large`.
    #[error(
        "{file}:{line}: column {column} is too large for the run's {precision} precision: `{text}`"
    )]
    #[diagnostic(code(nnt::data::too_large), help("{help}"))]
    TooLarge {
        file: String,
        line: usize,
        column: String,
        text: String,
        precision: &'static str,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("beyond {precision}")]
        span: SourceSpan,
    },

    /// A normalisation statistic beyond f64's range: `normalize = minmax` on
    /// `x,y\n-1e308,0\n1.5e308,1\n` (the range is 2.5e308).
    /// Test: tests/it/data_errors.rs `statistic_overflow`.
    #[error("column `{column}` of the train split cannot be normalised: its {what} overflows f64")]
    #[diagnostic(code(nnt::data::statistic_overflow), help("{help}"))]
    StatisticOverflow {
        column: String,
        what: &'static str,
        help: String,
    },

    /// `label = "z"` for the header `x,y`.
    #[error("data file `{file}` has no column named `{name}`")]
    #[diagnostic(code(nnt::data::unknown_column), help("{help}"))]
    UnknownColumn {
        file: String,
        name: String,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("the header")]
        span: SourceSpan,
    },

    /// `label = "x"` for the header `x,x,y`; for `nnt predict` and `nnt eval`, a
    /// column the model uses named twice (tests/it/model_use.rs
    /// `data_files_are_read_as_training_reads_them`).
    #[error(
        "data file `{file}` has several columns named `{name}` (columns {first} and {second})"
    )]
    #[diagnostic(code(nnt::data::ambiguous_column), help("{help}"))]
    AmbiguousColumn {
        file: String,
        name: String,
        first: usize,
        second: usize,
        help: &'static str,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("second `{name}`")]
        span: SourceSpan,
    },

    /// `label = "y", header = false`: without a header, columns have no names.
    #[error(
        "data file `{file}` is read with `header = false`, so column `{name}` has no name to match"
    )]
    #[diagnostic(
        code(nnt::data::name_without_header),
        help("name the label by its 0-based index, e.g. `label = 0`")
    )]
    NameWithoutHeader { file: String, name: String },

    /// `label = 5` for the header `x,y`.
    #[error("data file `{file}` has {columns} columns, so label index {index} is out of range")]
    #[diagnostic(
        code(nnt::data::column_out_of_range),
        help("indices are 0-based: the last column is {last}")
    )]
    ColumnOutOfRange {
        file: String,
        index: usize,
        columns: usize,
        last: usize,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("{columns} columns")]
        span: SourceSpan,
    },

    /// `label = ["y", 1]` for the header `x,y`.
    #[error("data file `{file}`: column {column} is listed twice as a label")]
    #[diagnostic(code(nnt::data::duplicate_label_column))]
    DuplicateLabelColumn { file: String, column: String },

    /// `label = []`.
    #[error("data file `{file}`: no label column given")]
    #[diagnostic(
        code(nnt::data::no_label_column),
        help("name at least one label column")
    )]
    NoLabelColumn { file: String },

    /// `label = ["x", "y"]` for the header `x,y`: nothing is left to learn from.
    #[error("data file `{file}` has no feature columns: every column is a label")]
    #[diagnostic(
        code(nnt::data::no_feature_columns),
        help("at least one column must be a feature")
    )]
    NoFeatureColumns { file: String },

    /// A `.gz` file whose bytes are not a (complete) gzip stream.
    #[error("data file `{file}` is not a valid gzip stream{after}: {reason}")]
    #[diagnostic(
        code(nnt::data::gzip_corrupt),
        help("files ending in `.gz` are read through gzip; check that the file is complete")
    )]
    GzipCorrupt {
        file: String,
        /// " after line N" when some lines were read.
        after: String,
        reason: String,
    },

    /// `valid = split(train, 0.5)` and `test = split(train, 0.5)` on a one-row train set.
    #[error("`{split} = split(train, {fraction})` takes {taken} of the {remaining} rows left in train, leaving none to train on")]
    #[diagnostic(
        code(nnt::data::split_too_large),
        help("use a smaller fraction or more data: train needs at least one row")
    )]
    SplitTooLarge {
        split: &'static str,
        fraction: f64,
        taken: usize,
        remaining: usize,
    },

    /// `train = blobs(n = 0, features = 2, classes = 3)`.
    #[error("`{source_name}`: {reason}")]
    #[diagnostic(code(nnt::data::invalid_synthetic))]
    InvalidSynthetic {
        source_name: &'static str,
        reason: String,
    },

    /// `valid = split(train, 0.2)` used as the train source.
    #[error("`split(...)` can only be used for `valid` and `test`, not for `train`")]
    #[diagnostic(code(nnt::data::split_as_train))]
    SplitAsTrain,

    /// A valid/test file that lacks a column of the train file (matched by
    /// header name): train `x,y`, valid `a,b,y`.
    #[error("data file `{file}` ({split} split) has no column `{name}`, which the train file has")]
    #[diagnostic(code(nnt::data::missing_column), help("{help}"))]
    MissingColumn {
        file: String,
        split: &'static str,
        name: String,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("the header")]
        span: SourceSpan,
    },

    /// Without a header, a valid/test file whose column count differs from train's.
    #[error("data file `{file}` ({split} split) has {found} columns, the train file {expected}")]
    #[diagnostic(
        code(nnt::data::column_count),
        help(
            "without a header, columns are matched by position: every file needs the same columns"
        )
    )]
    ColumnCount {
        file: String,
        split: &'static str,
        found: usize,
        expected: usize,
    },

    /// `csv("/dev/zero", label = 0)` or a named pipe.
    #[error("data file `{file}` is {kind}, not a regular file")]
    #[diagnostic(
        code(nnt::data::not_a_file),
        help("data is read from regular files (plain or .gz); save the data to a file first")
    )]
    NotAFile { file: String, kind: &'static str },

    /// A line (or quoted record) longer than the limit, e.g. a `.gz` holding one
    /// huge line.
    #[error("{file}:{line}: the line is longer than {limit} bytes")]
    #[diagnostic(
        code(nnt::data::line_too_long),
        help("is this a CSV file? check the delimiter and for an unclosed quote")
    )]
    LineTooLong {
        file: String,
        line: usize,
        limit: usize,
    },

    /// `valid = csv("v.csv", label = "petal_length")` where train's label is
    /// `species`: a split is read with train's columns, so its own `label` was
    /// ignored in silence (an index past the file's columns too).
    /// Fixture: tests/fixtures/tabular/split_label.nnt
    #[error("`{split}`'s label {given} in `{file}` is not train's label {train}")]
    #[diagnostic(
        code(nnt::data::split_label),
        help("every split is read with the train file's columns: give it train's label, {train}")
    )]
    SplitLabel {
        file: String,
        split: &'static str,
        given: String,
        train: String,
    },

    /// A file with more values than a run can hold: a 1.4 MB `.gz` of 120 million
    /// short rows (it grew to the memory limit and aborted).
    /// Test: src/data/csv.rs `reading_stops_at_the_values_limit`.
    #[error("data file `{file}` holds more than {limit} values (at line {line})")]
    #[diagnostic(
        code(nnt::data::too_many_values),
        help("train on a sample of the file: nnt holds the whole data set in memory")
    )]
    TooManyValues {
        file: String,
        line: usize,
        limit: usize,
    },

    /// Categorical columns whose one-hot inputs, times the rows, are more
    /// values than a run can hold: 24 000 rows with a unique id each, the id
    /// declared `categorical` (24 000 inputs a row; it aborted allocating 4.6 GB).
    /// Test: src/data/mod.rs `one_hot_inputs_past_the_values_limit_are_refused`.
    #[error("the inputs of `{file}` do not fit: {rows} rows × {width} inputs is more than {limit} values ({columns})")]
    #[diagnostic(
        code(nnt::data::too_many_inputs),
        help("a column with a category for almost every row (an id, free text) is not a category: move {widest} from `categorical` to `ignore`")
    )]
    TooManyInputs {
        file: String,
        rows: usize,
        width: usize,
        limit: usize,
        /// The categorical columns' input counts, widest first (`id: 24000 categories`).
        columns: String,
        /// The widest categorical column, quoted (`"id"`).
        widest: String,
    },

    /// A first line with more columns than the limit.
    #[error("data file `{file}` has {found} columns, more than the limit of {limit}")]
    #[diagnostic(
        code(nnt::data::too_many_columns),
        help("is this a CSV file? check the delimiter")
    )]
    TooManyColumns {
        file: String,
        found: usize,
        limit: usize,
    },

    /// `label = "y"` with `ignore = ["y"]`, or a column listed twice.
    #[error("data file `{file}`: column {column} is named {}", if first == second { format!("twice in `{first}`") } else { format!("in `{first}` and in `{second}`") })]
    #[diagnostic(
        code(nnt::data::column_roles),
        help("a column has one role: a feature, a label or ignored (and a feature may be categorical); name it once")
    )]
    ColumnRoles {
        file: String,
        column: String,
        first: &'static str,
        second: &'static str,
        /// Which entry of the recipe's list `second` names it again (0-based).
        entry: usize,
    },

    /// `features = ["x"]` with `categorical = ["c"]`: a categorical column must be a feature.
    #[error("data file `{file}`: column {column} is in `categorical` but not in `features`")]
    #[diagnostic(
        code(nnt::data::categorical_not_feature),
        help("add it to `features`, or remove it from `categorical`")
    )]
    CategoricalNotFeature {
        file: String,
        column: String,
        /// Which entry of the recipe's `categorical` names it (0-based).
        entry: usize,
    },

    /// `features`, `ignore` or `categorical` next to generated data, whose columns
    /// have no names or categories.
    #[error("`{item}` needs a CSV train source; generated data has numeric columns only")]
    #[diagnostic(
        code(nnt::data::items_need_csv),
        help("remove `{item}`, or read the data from a CSV file")
    )]
    ItemsNeedCsv { item: &'static str },

    /// A class name in valid/test that the train split does not have.
    #[error("{file}:{line}: the label `{name}` of column {column} is not a class of the train split{more}")]
    #[diagnostic(code(nnt::data::unknown_class), help("{help}"))]
    UnknownClass {
        file: String,
        line: usize,
        column: String,
        name: String,
        more: String,
        help: String,
        #[source_code]
        src: Arc<Excerpt>,
        #[label("not a train class")]
        span: SourceSpan,
    },

    /// `valid = blobs(n = 10, features = 3, classes = 2)` next to a train set of 4 features.
    #[error("the {split} split has a different shape than train: {found} features × {found_targets} targets, train has {expected} × {expected_targets}")]
    #[diagnostic(
        code(nnt::data::width_mismatch),
        help("every split needs the same columns")
    )]
    WidthMismatch {
        split: &'static str,
        found: usize,
        found_targets: usize,
        expected: usize,
        expected_targets: usize,
    },
}

impl DataError {
    /// The line the error is about (0 when none), to order a file's errors.
    pub fn line(&self) -> usize {
        match self {
            DataError::InvalidUtf8 { line, .. }
            | DataError::RaggedRow { line, .. }
            | DataError::EmptyCell { line, .. }
            | DataError::MissingCell { line, .. }
            | DataError::NotANumber { line, .. }
            | DataError::NotFinite { line, .. }
            | DataError::LineTooLong { line, .. }
            | DataError::TooLarge { line, .. }
            | DataError::UnknownClass { line, .. } => *line,
            _ => 0,
        }
    }
}

/// A warning about the data (§14): valid, but probably not what was meant.
#[derive(Debug, Error, Diagnostic)]
pub enum DataWarning {
    /// Categories in valid/test that the train split does not have.
    #[error("{count} categorical cell{plural} of the {split} split hold{s} a category the train split does not have; {they} encoded as all zeros")]
    #[diagnostic(
        code(nnt::data::unseen_category),
        severity(Warning),
        help("{examples}")
    )]
    UnseenCategory {
        count: usize,
        plural: &'static str,
        s: &'static str,
        they: &'static str,
        split: &'static str,
        examples: String,
    },

    /// `categorical = ["c"]` where train has one category in `c`.
    #[error("categorical column `{column}` has a single category (`{category}`) in the train split: it carries no information")]
    #[diagnostic(
        code(nnt::data::single_category),
        severity(Warning),
        help("remove it from `categorical` and add it to `ignore`")
    )]
    SingleCategory { column: String, category: String },

    /// A categorical column with very many categories (an id?).
    #[error("categorical column `{column}` has {count} categories in the train split ({per_row}% of the rows): is it an id?")]
    #[diagnostic(
        code(nnt::data::many_categories),
        severity(Warning),
        help("one-hot encoding it adds {count} inputs that do not generalise; if it is an id or free text, use `ignore = [\"{column}\"]`")
    )]
    ManyCategories {
        column: String,
        count: usize,
        per_row: usize,
    },
}

/// The split of the recipe's data a diagnostic is about: the one whose source
/// (a file, a generator, a `split(train, f)`) caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    /// The split's name in the recipe and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

/// A data error or warning and the split it is about, so that the checker can
/// show it at that split's source in the recipe. It is the diagnostic it wraps:
/// message, code, help and labels are forwarded unchanged.
#[derive(Debug)]
pub struct InSplit<E> {
    pub split: Split,
    pub error: E,
}

impl<E> InSplit<E> {
    pub fn new(split: Split, error: E) -> Self {
        InSplit { split, error }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for InSplit<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: std::error::Error> std::error::Error for InSplit<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl<E: Diagnostic> Diagnostic for InSplit<E> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.error.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.error.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.error.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.error.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.error.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.error.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.error.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.error.diagnostic_source()
    }
}

/// An entry of one of the data section's column lists (`features`, `ignore`,
/// `categorical`): where a data error about a column's role belongs in the
/// recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListEntry {
    pub list: &'static str,
    /// 0-based, in the list as written.
    pub index: usize,
}

impl DataError {
    /// The recipe list entry this error is about, when it is about one.
    pub fn list_entry(&self) -> Option<ListEntry> {
        match self {
            DataError::ColumnRoles { second, entry, .. } => Some(ListEntry {
                list: second,
                index: *entry,
            }),
            DataError::CategoricalNotFeature { entry, .. } => Some(ListEntry {
                list: "categorical",
                index: *entry,
            }),
            _ => None,
        }
    }
}

/// The closest of `candidates` to `name` (edit distance at most a third of the
/// name's length, at least 1), for "did you mean" help.
pub(crate) fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// The one edit distance ([`crate::similar::distance`]), case-insensitive
/// (header names vary in case).
fn edit_distance(a: &str, b: &str) -> usize {
    crate::similar::distance(&a.to_lowercase(), &b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_error_is_the_error_it_wraps() {
        let inner = DataError::NoLabelColumn {
            file: "a.csv".into(),
        };
        let text = inner.to_string();
        let e = InSplit::new(Split::Valid, inner);
        assert_eq!(e.to_string(), text);
        assert_eq!(
            e.code().map(|c| c.to_string()).as_deref(),
            Some("nnt::data::no_label_column")
        );
        assert_eq!(
            e.help().map(|h| h.to_string()).as_deref(),
            Some("name at least one label column")
        );
        assert_eq!(e.split.name(), "valid");
    }

    #[test]
    fn closest_finds_typos() {
        let names = vec!["label".to_string(), "petal_width".to_string()];
        assert_eq!(closest("lable", &names), Some("label"));
        assert_eq!(closest("Label", &names), Some("label"));
        assert_eq!(closest("zzz", &names), None);
    }
}
