//! `csv(PATH, label = COLUMN, header = true, delimiter = ",")` (§4, §14).
//!
//! The train file decides the [`Layout`]: which columns are features (in model
//! order, each numeric or categorical), labels and ignored. Every other file is
//! matched to it by header name (by position without a header). Rows are read
//! into a [`RawTable`]: numeric cells parsed straight from the reader's byte
//! buffer into f64 (NaN marks a missing cell), text cells interned. The raw text
//! of a line is only read back (by a second pass over the file) when an error has
//! to show it. Lines are counted from byte positions (`\n`, `\r\n` and a lone
//! `\r` each end a line), so locations stay right with any line end and with
//! quoted cells that hold line breaks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use miette::SourceSpan;

use super::error::{closest, DataError};
use super::prep::{RawColumn, RawTable, MISSING_ID, MISSING_TOKENS};
use crate::ir::{ColumnRef, CsvSpec, DataSpec, Missing};
use crate::report::excerpt::Excerpt;

/// The longest line (or quoted record) read, in bytes.
pub const MAX_LINE: usize = 8 << 20;
/// The most columns a file may have.
pub const MAX_COLUMNS: usize = 1 << 17;
/// The most values (rows × used columns) read from one file: as many as the
/// largest synthetic set (4 GiB of f64 while read); small in unit tests, so
/// that they can reach it.
pub const MAX_VALUES: usize = if cfg!(test) { 3000 } else { 1 << 29 };
/// At most this many errors are collected from one file.
pub const MAX_FILE_ERRORS: usize = 20;

/// The columns of the train file and their roles.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The train file's header (`None` with `header = false`).
    pub header: Option<Vec<String>>,
    /// Number of columns of the train file.
    pub columns: usize,
    /// File column of each feature (model order) and whether it is categorical.
    pub features: Vec<(usize, bool)>,
    /// File column of each label (output-unit order).
    pub labels: Vec<usize>,
    /// Label cells are read as text (classification: class names allowed).
    pub label_text: bool,
    /// The ignored columns (named, or left over from `features = [...]`).
    pub ignored: Vec<usize>,
    /// Which column lists the recipe writes.
    pub lists: Lists,
}

impl Layout {
    /// The name of a train column: its header name, or its index in decimal.
    pub fn name(&self, index: usize) -> String {
        match &self.header {
            Some(h) => h.get(index).cloned().unwrap_or_else(|| index.to_string()),
            None => index.to_string(),
        }
    }
}

/// Reads the train file: resolves the layout from its header and the data
/// section, then reads its rows.
pub fn read_train(spec: &CsvSpec, data: &DataSpec) -> Result<(Layout, RawTable), Vec<DataError>> {
    let mut file = Opened::open(spec, true).map_err(|e| vec![e])?;
    let (first, header, columns) = file.first_line(spec).map_err(|e| vec![e])?;
    let layout = resolve_layout(spec, data, header, columns, first)?;
    let cols = Columns {
        features: layout.features.clone(),
        labels: layout.labels.clone(),
        label_text: layout.label_text,
        columns,
        lists: layout.lists,
    };
    let raw = file.rows(spec, &cols, layout.header.as_deref(), first, data.missing)?;
    Ok((layout, raw))
}

/// Reads a valid or test file with the train file's layout: by header name, or
/// by position without a header. `split` names the split for messages.
pub fn read_other(
    spec: &CsvSpec,
    layout: &Layout,
    missing: Missing,
    split: &'static str,
) -> Result<RawTable, Vec<DataError>> {
    let mut file = Opened::open(spec, true).map_err(|e| vec![e])?;
    let (first, header, columns) = file.first_line(spec).map_err(|e| vec![e])?;
    // The split's `label` must name train's label columns (the file is read
    // by train's layout: a different label would be ignored in silence).
    // By name when both files have a header (as the columns are matched), else
    // by position.
    let by_name = layout.header.is_some() && header.is_some();
    let named = |c: &ColumnRef| match (c, &header) {
        (ColumnRef::Name(n), Some(h)) if !by_name => h
            .iter()
            .position(|x| x == n)
            .map_or_else(|| n.clone(), |i| i.to_string()),
        (ColumnRef::Name(n), _) => n.clone(),
        (ColumnRef::Index(i), Some(h)) if by_name => {
            h.get(*i).cloned().unwrap_or_else(|| i.to_string())
        }
        (ColumnRef::Index(i), _) => i.to_string(),
    };
    let given: Vec<String> = spec.label.iter().map(named).collect();
    let train: Vec<String> = layout
        .labels
        .iter()
        .map(|&i| {
            if by_name {
                layout.name(i)
            } else {
                i.to_string()
            }
        })
        .collect();
    if given != train {
        let list = |v: &[String]| match v {
            [one] => format!("`{one}`"),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(vec![DataError::SplitLabel {
            file: spec.display.clone(),
            split,
            given: list(&given),
            train: list(&train),
        }]);
    }
    let cols = match (&layout.header, &header) {
        (Some(train), Some(names)) => {
            let find = |i: usize| -> Result<usize, DataError> {
                let name = train.get(i).cloned().unwrap_or_default();
                match unique_column(spec, names, first, &name, BY_NAME)? {
                    Some(at) => Ok(at),
                    None => {
                        let (src, span, _) = source_line(spec, first, Mark::Line);
                        Err(DataError::MissingColumn {
                            file: spec.display.clone(),
                            split,
                            help: match closest(&name, names) {
                                Some(c) => format!("did you mean `{c}`? columns are matched by header name"),
                                None => "every split's file needs the columns of the train file (matched by header name, in any order)".into(),
                            },
                            name,
                            src,
                            span,
                        })
                    }
                }
            };
            let mut errors = Vec::new();
            let mut features = Vec::new();
            for &(i, text) in &layout.features {
                match find(i) {
                    Ok(at) => features.push((at, text)),
                    Err(e) => errors.push(e),
                }
            }
            let mut labels = Vec::new();
            for &i in &layout.labels {
                match find(i) {
                    Ok(at) => labels.push(at),
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            Columns {
                features,
                labels,
                label_text: layout.label_text,
                columns,
                lists: layout.lists,
            }
        }
        _ => {
            if columns != layout.columns {
                return Err(vec![DataError::ColumnCount {
                    file: spec.display.clone(),
                    split,
                    found: columns,
                    expected: layout.columns,
                }]);
            }
            Columns {
                features: layout.features.clone(),
                labels: layout.labels.clone(),
                label_text: layout.label_text,
                columns,
                lists: layout.lists,
            }
        }
    };
    file.rows(spec, &cols, header.as_deref(), first, missing)
}

// ---------------------------------------------------------------- reading

type Reader = ::csv::Reader<Box<dyn Read>>;

/// Which file columns to read, and how.
struct Columns {
    features: Vec<(usize, bool)>,
    labels: Vec<usize>,
    label_text: bool,
    /// Fields every row must have.
    columns: usize,
    /// Which column lists the recipe writes (for help that fits it).
    lists: Lists,
}

/// Which of `features`, `ignore` and `categorical` the recipe's data section
/// writes: a help says "add it to `categorical`" to a recipe that has the list,
/// "add `categorical = [...]`" to one that has not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lists {
    pub features: bool,
    pub ignore: bool,
    pub categorical: bool,
}

impl Lists {
    fn of(data: &DataSpec) -> Lists {
        Lists {
            features: data.features.is_some(),
            ignore: !data.ignore.is_empty(),
            categorical: !data.categorical.is_empty(),
        }
    }
}

fn is_gz(spec: &CsvSpec) -> bool {
    spec.path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Where each line starts, in bytes of the (decompressed) stream.
///
/// Only the line starts not yet passed are kept (records are asked for in file
/// order), so memory stays at what the reader has buffered ahead.
#[derive(Debug, Default)]
struct Breaks {
    /// Byte offsets at which the lines after the last one passed start.
    starts: std::collections::VecDeque<u64>,
    /// Line starts already passed.
    passed: usize,
    /// Bytes read so far.
    offset: u64,
    /// The last byte read was `\r` (a lone `\r` ends a line unless `\n` follows).
    pending_cr: bool,
    /// Bytes since the last line end.
    since_break: usize,
}

impl Breaks {
    /// 1-based line of the byte at `offset`; offsets must not decrease from one
    /// call to the next.
    fn line_of(&mut self, offset: u64) -> usize {
        while self.starts.front().is_some_and(|&s| s <= offset) {
            self.starts.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A line longer than [`MAX_LINE`].
#[derive(Debug)]
struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line longer than {MAX_LINE} bytes")
    }
}

impl std::error::Error for TooLong {}

/// Counts line ends as bytes pass and refuses over-long lines.
struct LineCounter<R> {
    inner: R,
    breaks: Rc<RefCell<Breaks>>,
}

impl Breaks {
    /// `len` bytes of the stream from offset `at`, none of which ends a line.
    fn plain(&mut self, at: u64, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // A lone `\r` ended the line before.
        if self.pending_cr {
            self.starts.push_back(at);
            self.since_break = 0;
            self.pending_cr = false;
        }
        self.since_break += len;
        if self.since_break > MAX_LINE {
            return Err(io::Error::other(TooLong));
        }
        Ok(())
    }

    /// The byte `\n` or `\r` at `at`.
    fn line_end(&mut self, at: u64, byte: u8) -> io::Result<()> {
        if self.pending_cr && byte != b'\n' {
            self.starts.push_back(at);
            self.since_break = 0;
        }
        let after_cr = self.pending_cr;
        self.pending_cr = byte == b'\r';
        if byte == b'\n' {
            // After `\r` the line starts at the `\n` already: the CSV reader
            // may report a record's start at the `\n` of a `\r\n`.
            self.starts.push_back(if after_cr { at } else { at + 1 });
            self.since_break = 0;
            Ok(())
        } else {
            self.plain_cr()
        }
    }

    /// A `\r` counts in its line's length until a `\n` may follow it.
    fn plain_cr(&mut self) -> io::Result<()> {
        self.since_break += 1;
        if self.since_break > MAX_LINE {
            return Err(io::Error::other(TooLong));
        }
        Ok(())
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        let mut b = self.breaks.borrow_mut();
        let base = b.offset;
        // Only the line ends are visited (found a word at a time); the bytes
        // between them are counted as runs.
        let mut from = 0;
        for p in memchr::memchr2_iter(b'\n', b'\r', data) {
            b.plain(base + from as u64, p - from)?;
            b.line_end(base + p as u64, data[p])?;
            from = p + 1;
        }
        b.plain(base + from as u64, n - from)?;
        b.offset += n as u64;
        Ok(n)
    }
}

/// Refuses what is not a regular file (a FIFO would block, `/dev/zero` never
/// ends); a directory is left to fail as unreadable.
fn check_regular(spec: &CsvSpec) -> Result<(), DataError> {
    match std::fs::metadata(&spec.path) {
        Ok(m) if m.is_file() || m.is_dir() => Ok(()),
        Ok(m) => Err(DataError::NotAFile {
            file: spec.display.clone(),
            kind: file_kind(&m),
        }),
        Err(e) => Err(open_error(spec, &e)),
    }
}

fn file_kind(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    let _ = m;
    "not a regular file"
}

/// Opens the file, through gzip for `.gz`.
fn open(spec: &CsvSpec) -> Result<Box<dyn Read>, DataError> {
    check_regular(spec)?;
    let file = File::open(&spec.path).map_err(|e| open_error(spec, &e))?;
    let buffered = BufReader::with_capacity(1 << 16, file);
    Ok(if is_gz(spec) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    })
}

fn open_error(spec: &CsvSpec, e: &io::Error) -> DataError {
    if e.kind() == io::ErrorKind::NotFound {
        DataError::FileNotFound {
            file: spec.display.clone(),
            path: spec.path.display().to_string(),
        }
    } else {
        DataError::Unreadable {
            file: spec.display.clone(),
            reason: e.to_string(),
        }
    }
}

/// An open CSV file and its reused record.
struct Opened {
    rdr: Reader,
    record: ::csv::ByteRecord,
    breaks: Rc<RefCell<Breaks>>,
}

impl Opened {
    /// Opens the file; `trim` trims every cell of spaces (training reads trimmed
    /// cells; the streaming reader keeps them as written, for `--keep`).
    fn open(spec: &CsvSpec, trim: bool) -> Result<Opened, DataError> {
        let breaks = Rc::new(RefCell::new(Breaks::default()));
        let counted: Box<dyn Read> = Box::new(LineCounter {
            inner: open(spec)?,
            breaks: breaks.clone(),
        });
        let rdr = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(spec.delimiter)
            .trim(if trim {
                ::csv::Trim::All
            } else {
                ::csv::Trim::None
            })
            .buffer_capacity(1 << 16)
            .from_reader(counted);
        Ok(Opened {
            rdr,
            record: ::csv::ByteRecord::new(),
            breaks,
        })
    }

    /// Reads the next record; `Ok(false)` at the end of the file.
    fn next(&mut self, spec: &CsvSpec, last_line: usize) -> Result<bool, DataError> {
        match self.rdr.read_byte_record(&mut self.record) {
            Ok(more) => Ok(more),
            Err(e) => Err(match e.kind() {
                ::csv::ErrorKind::Io(io)
                    if io
                        .get_ref()
                        .is_some_and(|i| i.downcast_ref::<TooLong>().is_some()) =>
                {
                    DataError::LineTooLong {
                        file: spec.display.clone(),
                        line: last_line + 1,
                        limit: MAX_LINE,
                    }
                }
                ::csv::ErrorKind::Io(io) if is_gz(spec) => DataError::GzipCorrupt {
                    file: spec.display.clone(),
                    after: if last_line == 0 {
                        String::new()
                    } else {
                        format!(" after line {last_line}")
                    },
                    reason: io.to_string(),
                },
                ::csv::ErrorKind::Io(io) => DataError::Unreadable {
                    file: spec.display.clone(),
                    reason: io.to_string(),
                },
                _ => DataError::Unreadable {
                    file: spec.display.clone(),
                    reason: e.to_string(),
                },
            }),
        }
    }

    /// 1-based line where the current record starts (counted from bytes).
    fn line(&self, fallback: usize) -> usize {
        match self.record.position() {
            Some(p) => self.breaks.borrow_mut().line_of(p.byte()),
            None => fallback,
        }
    }

    /// Reads the first record: its line, with a header the names, and the
    /// number of columns.
    fn first_line(
        &mut self,
        spec: &CsvSpec,
    ) -> Result<(usize, Option<Vec<String>>, usize), DataError> {
        let (first, columns) = self.first_record(spec)?;
        if !spec.header {
            return Ok((first, None, columns));
        }
        let names = self.names(spec, first)?;
        if !self.next(spec, first)? {
            let (src, span, _) = source_line(spec, first, Mark::Line);
            return Err(DataError::HeaderOnly {
                file: spec.display.clone(),
                src,
                span,
            });
        }
        Ok((first, Some(names), columns))
    }

    /// Reads the first record: its line and its number of fields.
    fn first_record(&mut self, spec: &CsvSpec) -> Result<(usize, usize), DataError> {
        if !self.next(spec, 0)? {
            return Err(DataError::EmptyFile {
                file: spec.display.clone(),
            });
        }
        let first = self.line(1);
        if self.record.len() > MAX_COLUMNS {
            return Err(DataError::TooManyColumns {
                file: spec.display.clone(),
                found: self.record.len(),
                limit: MAX_COLUMNS,
            });
        }
        Ok((first, self.record.len()))
    }

    /// The current record (at `line`) as header names, trimmed.
    fn names(&mut self, spec: &CsvSpec, line: usize) -> Result<Vec<String>, DataError> {
        // What a trimming reader already did (a no-op then).
        self.record.trim();
        let mut names = Vec::with_capacity(self.record.len());
        for (i, field) in self.record.iter().enumerate() {
            match std::str::from_utf8(field) {
                // Excel's "CSV UTF-8" starts with a byte-order mark.
                Ok(s) if i == 0 => names.push(s.trim_start_matches('\u{feff}').trim().to_string()),
                Ok(s) => names.push(s.to_string()),
                Err(_) => return Err(invalid_utf8(spec, None, line, i)),
            }
        }
        Ok(names)
    }

    /// Reads every row from the current record on. Errors are collected (up to
    /// [`MAX_FILE_ERRORS`]); cells of one column with the same problem are one
    /// error (at the first cell, with the count).
    fn rows(
        &mut self,
        spec: &CsvSpec,
        cols: &Columns,
        names: Option<&[String]>,
        first: usize,
        missing: Missing,
    ) -> Result<RawTable, Vec<DataError>> {
        let nf = cols.features.len();
        let mut features: Vec<RawColumn> = cols
            .features
            .iter()
            .map(|&(_, text)| new_column(text))
            .collect();
        let mut labels: Vec<RawColumn> = cols
            .labels
            .iter()
            .map(|_| new_column(cols.label_text))
            .collect();
        let mut interners: Vec<HashMap<Vec<u8>, u32>> =
            vec![HashMap::new(); nf + cols.labels.len()];
        let mut lines = Vec::new();
        let mut rows = 0usize;
        let mut errors: Vec<DataError> = Vec::new();
        // Per read column and kind of problem (missing, not a number, …): the
        // first such cell and how many there are.
        let mut problems: Vec<Vec<ColumnProblem>> = vec![Vec::new(); nf + cols.labels.len()];
        let mut last_line = first;
        // With no header the first record is a row; with one it is already the
        // first row after the header (read by `first_line`).
        loop {
            let line = self.line(last_line + 1);
            last_line = line;
            if self.record.len() != cols.columns {
                if errors.len() < MAX_FILE_ERRORS {
                    errors.push(ragged(spec, line, cols.columns, self.record.len()));
                }
            } else {
                let targets = cols.labels.iter().map(|&i| (i, cols.label_text));
                for (k, (i, text)) in cols.features.iter().copied().chain(targets).enumerate() {
                    let field = self.record.get(i).unwrap_or(b"");
                    let column = if k < nf {
                        &mut features[k]
                    } else {
                        &mut labels[k - nf]
                    };
                    let label = k >= nf;
                    match push_cell(column, &mut interners[k], field, text) {
                        Ok(()) => {}
                        Err(kind) => {
                            let missing_ok = matches!(kind, Problem::Missing)
                                && (missing == Missing::Drop
                                    || (!label && missing != Missing::Error));
                            if !missing_ok {
                                let of_kind = &mut problems[k];
                                let same = std::mem::discriminant(&kind);
                                let at = match of_kind
                                    .iter()
                                    .position(|p| std::mem::discriminant(&p.kind) == same)
                                {
                                    Some(at) => at,
                                    None => {
                                        of_kind.push(ColumnProblem {
                                            line,
                                            index: i,
                                            kind: kind.clone(),
                                            count: 0,
                                            seen: Vec::new(),
                                        });
                                        of_kind.len() - 1
                                    }
                                };
                                let p = &mut of_kind[at];
                                p.count += 1;
                                if let Problem::NotANumber(t) | Problem::NotFinite(t) = &kind {
                                    if p.seen.len() < 5 && !p.seen.contains(t) {
                                        p.seen.push(t.clone());
                                    }
                                }
                            }
                        }
                    }
                }
                rows += 1;
                lines.push(line);
                if rows.saturating_mul(cols.features.len() + cols.labels.len()) > MAX_VALUES {
                    errors.push(DataError::TooManyValues {
                        file: spec.display.clone(),
                        line,
                        limit: MAX_VALUES,
                    });
                    break;
                }
            }
            if errors.len() >= MAX_FILE_ERRORS {
                break;
            }
            match self.next(spec, last_line) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    errors.push(e);
                    break;
                }
            }
        }
        for (k, of_kind) in problems.into_iter().enumerate() {
            for p in of_kind {
                errors.push(cell_error(spec, names, &p, k >= nf, missing, cols.lists));
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(DataError::line);
            errors.truncate(MAX_FILE_ERRORS);
            return Err(errors);
        }
        Ok(RawTable {
            rows,
            lines,
            features,
            labels,
            feature_columns: cols.features.iter().map(|&(i, _)| i).collect(),
            label_columns: cols.labels.clone(),
        })
    }
}

// ---------------------------------------------------------------- streaming

/// A CSV file read one row at a time, for `nnt predict` and `nnt eval` (§15):
/// the train file's reader (regular files only, plain or gzip, lines of at most
/// `MAX_LINE` bytes counted from byte positions, header names trimmed, every
/// row as long as the first line), keeping only the current row. Cells are kept
/// as written (not trimmed).
pub struct RowStream {
    spec: CsvSpec,
    file: Opened,
    header: Option<Vec<String>>,
    /// Line of the first record (the header, when there is one).
    first: usize,
    /// Fields of the first line: every row has as many.
    columns: usize,
    /// Line of the current row (the first line's before any row).
    line: usize,
    /// The first record is a row not yet handed out (no header).
    pending: bool,
}

impl RowStream {
    /// Opens `path` (named `display` in messages) and reads its header when
    /// `header`. A file with no line is `nnt::data::empty_file`.
    pub fn open(
        path: &std::path::Path,
        display: &str,
        delimiter: u8,
        header: bool,
    ) -> Result<RowStream, DataError> {
        let spec = CsvSpec {
            path: path.to_path_buf(),
            display: display.to_string(),
            label: Vec::new(),
            header,
            delimiter,
        };
        let mut file = Opened::open(&spec, false)?;
        let (first, columns) = file.first_record(&spec)?;
        let header = if header {
            Some(file.names(&spec, first)?)
        } else {
            None
        };
        Ok(RowStream {
            pending: header.is_none(),
            spec,
            file,
            header,
            first,
            columns,
            line: first,
        })
    }

    /// The header's names (`None` without a header).
    pub fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    /// The number of fields of every row.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The column named `name` in the header (`None` when absent or without a
    /// header); a name given to two columns is `nnt::data::ambiguous_column`.
    pub fn find(&self, name: &str) -> Result<Option<usize>, DataError> {
        match &self.header {
            Some(names) => unique_column(&self.spec, names, self.first, name, BY_NAME),
            None => Ok(None),
        }
    }

    /// Reads the next row; its 1-based line, or `None` at the end. A row with
    /// another number of fields than the first line is `nnt::data::ragged_row`;
    /// an over-long line `nnt::data::line_too_long`.
    pub fn advance(&mut self) -> Result<Option<usize>, DataError> {
        if self.pending {
            self.pending = false;
        } else if !self.file.next(&self.spec, self.line)? {
            return Ok(None);
        }
        self.line = self.file.line(self.line + 1);
        let found = self.file.record.len();
        if found != self.columns {
            return Err(ragged(&self.spec, self.line, self.columns, found));
        }
        Ok(Some(self.line))
    }

    /// The current row's cells as text. The columns marked in `used` must be
    /// UTF-8 (`nnt::data::invalid_utf8` at the cell otherwise); any other cell
    /// that is not reads as empty (as training ignores unused columns).
    pub fn cells(&self, used: &[bool]) -> Result<Vec<&str>, DataError> {
        let record = &self.file.record;
        let mut out = Vec::with_capacity(self.columns);
        // The row checked once (one pass over its bytes, not one call a cell);
        // a cell is cut from it where its bounds are character bounds.
        let whole = std::str::from_utf8(record.as_slice()).ok();
        for (i, field) in record.iter().enumerate() {
            if let Some(t) = whole.and_then(|w| w.get(record.range(i)?)) {
                out.push(t);
                continue;
            }
            match std::str::from_utf8(field) {
                Ok(t) => out.push(t),
                Err(_) if used.get(i).copied().unwrap_or(false) => {
                    return Err(invalid_utf8(
                        &self.spec,
                        self.header.as_deref(),
                        self.line,
                        i,
                    ))
                }
                Err(_) => out.push(""),
            }
        }
        Ok(out)
    }

    /// The text of `line` and the span of its cell in `column`, for a
    /// diagnostic (reads the file again up to that line: the error path only).
    pub fn cell_source(&self, line: usize, column: usize) -> (Arc<Excerpt>, SourceSpan, usize) {
        cell_source(&self.spec, line, column)
    }
}

fn new_column(text: bool) -> RawColumn {
    if text {
        RawColumn::Text {
            ids: Vec::new(),
            names: Vec::new(),
        }
    } else {
        RawColumn::Numeric(Vec::new())
    }
}

/// Why a cell could not be read.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    Missing,
    Utf8,
    NotANumber(String),
    NotFinite(String),
}

/// The first cell of a column with one kind of problem, and how many there are.
#[derive(Debug, Clone)]
struct ColumnProblem {
    line: usize,
    index: usize,
    kind: Problem,
    count: usize,
    seen: Vec<String>,
}

fn is_missing_bytes(field: &[u8]) -> bool {
    field.is_empty() || MISSING_TOKENS.iter().any(|t| t.as_bytes() == field)
}

/// Appends one (already trimmed) cell to its column; a missing cell is appended
/// as missing and reported as [`Problem::Missing`].
fn push_cell(
    column: &mut RawColumn,
    interner: &mut HashMap<Vec<u8>, u32>,
    field: &[u8],
    _text: bool,
) -> Result<(), Problem> {
    match column {
        RawColumn::Numeric(v) => {
            // Fast path for the most common cell of image data.
            if field == b"0" {
                v.push(0.0);
                return Ok(());
            }
            if is_missing_bytes(field) {
                v.push(f64::NAN);
                return Err(Problem::Missing);
            }
            let parsed = std::str::from_utf8(field)
                .map_err(|_| Problem::Utf8)
                .and_then(|t| match t.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    Ok(_) => Err(Problem::NotFinite(t.to_string())),
                    Err(_) => Err(Problem::NotANumber(t.to_string())),
                });
            match parsed {
                Ok(x) => {
                    v.push(x);
                    Ok(())
                }
                Err(p) => {
                    v.push(f64::NAN);
                    Err(p)
                }
            }
        }
        RawColumn::Text { ids, names } => {
            if is_missing_bytes(field) {
                ids.push(MISSING_ID);
                return Err(Problem::Missing);
            }
            if let Some(&id) = interner.get(field) {
                ids.push(id);
                return Ok(());
            }
            match std::str::from_utf8(field) {
                Ok(t) => {
                    let id = u32::try_from(names.len()).unwrap_or(MISSING_ID - 1);
                    names.push(t.to_string());
                    interner.insert(field.to_vec(), id);
                    ids.push(id);
                    Ok(())
                }
                Err(_) => {
                    ids.push(MISSING_ID);
                    Err(Problem::Utf8)
                }
            }
        }
    }
}

/// Resolves the columns of the train file. Every problem with the columns the
/// recipe names is reported (a wrong name in `ignore` does not hide one in
/// `categorical`); a column with a problem takes no part in what follows.
fn resolve_layout(
    spec: &CsvSpec,
    data: &DataSpec,
    header: Option<Vec<String>>,
    columns: usize,
    first_line: usize,
) -> Result<Layout, Vec<DataError>> {
    let names = header.as_deref();
    let roles = resolve_labels(spec, names, columns, first_line).map_err(|e| vec![e])?;
    let mut labels = vec![0usize; spec.label.len()];
    for (i, r) in roles.iter().enumerate() {
        if let Role::Target(j) = r {
            labels[*j] = i;
        }
    }
    let mut errors: Vec<DataError> = Vec::new();
    let resolve = |c: &ColumnRef, errors: &mut Vec<DataError>| {
        resolve_column(spec, names, columns, first_line, c)
            .map_err(|e| errors.push(e))
            .ok()
    };
    // A column named in two roles (or twice in one).
    // `entry` is the place in the recipe's list `second` that names it again.
    let conflict = |i: usize, first: &'static str, second: &'static str, entry: usize| {
        DataError::ColumnRoles {
            file: spec.display.clone(),
            column: column_name(names, i),
            first,
            second,
            entry,
        }
    };
    let is_label = |i: usize| matches!(roles[i], Role::Target(_));
    // Membership as flags, not list scans: a file may have 131 072 columns.
    let mut is_ignored = vec![false; columns];
    let mut ignored = Vec::new();
    for (entry, c) in data.ignore.iter().enumerate() {
        let Some(i) = resolve(c, &mut errors) else {
            continue;
        };
        if is_label(i) {
            errors.push(conflict(i, "label", "ignore", entry));
        } else if is_ignored[i] {
            errors.push(conflict(i, "ignore", "ignore", entry));
        } else {
            is_ignored[i] = true;
            ignored.push(i);
        }
    }
    let mut is_feature = vec![false; columns];
    let mut features: Vec<usize> = Vec::new();
    match &data.features {
        Some(list) => {
            for (entry, c) in list.iter().enumerate() {
                let Some(i) = resolve(c, &mut errors) else {
                    continue;
                };
                if is_label(i) {
                    errors.push(conflict(i, "label", "features", entry));
                } else if is_feature[i] {
                    errors.push(conflict(i, "features", "features", entry));
                } else {
                    is_feature[i] = true;
                    features.push(i);
                }
            }
            for i in 0..columns {
                if !is_feature[i] && !is_label(i) {
                    is_ignored[i] = true;
                }
            }
            ignored = (0..columns).filter(|&i| is_ignored[i]).collect();
        }
        None => {
            for (i, r) in roles.iter().enumerate() {
                if matches!(r, Role::Feature) && !is_ignored[i] {
                    is_feature[i] = true;
                    features.push(i);
                }
            }
        }
    }
    let mut categorical = vec![false; columns];
    for (entry, c) in data.categorical.iter().enumerate() {
        let Some(i) = resolve(c, &mut errors) else {
            continue;
        };
        if data.features.is_some() && !is_feature[i] && !is_label(i) {
            errors.push(DataError::CategoricalNotFeature {
                file: spec.display.clone(),
                column: column_name(names, i),
                entry,
            });
            continue;
        }
        let role = if is_label(i) {
            Some("label")
        } else if is_ignored[i] {
            Some("ignore")
        } else if categorical[i] {
            Some("categorical")
        } else {
            None
        };
        match role {
            Some(first) => errors.push(conflict(i, first, "categorical", entry)),
            None => categorical[i] = true,
        }
    }
    if features.is_empty() && errors.is_empty() {
        errors.push(DataError::NoFeatureColumns {
            file: spec.display.clone(),
        });
    }
    // Columns are matched by name in other files: a used name must be unique.
    if let Some(h) = names {
        // Counted once (a file may have 131 072 columns); each name reported once.
        let mut count: HashMap<&str, usize> = HashMap::new();
        for n in h {
            *count.entry(n.as_str()).or_default() += 1;
        }
        for &i in features.iter().chain(&labels) {
            if count.get(h[i].as_str()).is_some_and(|&c| c > 1) {
                if let Err(e) = unique_column(spec, h, first_line, &h[i], IN_RECIPE) {
                    errors.push(e);
                }
                count.remove(h[i].as_str());
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Layout {
        header,
        columns,
        features: features.iter().map(|&i| (i, categorical[i])).collect(),
        labels,
        label_text: data.classification.is_some(),
        ignored,
        lists: Lists::of(data),
    })
}

/// A column named in `features`, `ignore` or `categorical`.
fn resolve_column(
    spec: &CsvSpec,
    header: Option<&[String]>,
    columns: usize,
    first_line: usize,
    c: &ColumnRef,
) -> Result<usize, DataError> {
    let file = &spec.display;
    match c {
        ColumnRef::Index(i) => {
            if *i >= columns {
                let (src, span, _) = source_line(spec, first_line, Mark::Line);
                return Err(DataError::ColumnOutOfRange {
                    file: file.clone(),
                    index: *i,
                    columns,
                    last: columns.saturating_sub(1),
                    src,
                    span,
                });
            }
            Ok(*i)
        }
        ColumnRef::Name(name) => {
            let Some(names) = header else {
                return Err(DataError::NameWithoutHeader {
                    file: file.clone(),
                    name: name.clone(),
                });
            };
            match names.iter().position(|n| n == name) {
                Some(i) => Ok(i),
                None => {
                    let (src, span, _) = source_line(spec, first_line, Mark::Line);
                    Err(DataError::UnknownColumn {
                        file: file.clone(),
                        name: name.clone(),
                        help: columns_help(name, names),
                        src,
                        span,
                    })
                }
            }
        }
    }
}

/// The help of an ambiguous column of the train file.
const IN_RECIPE: &str = "rename one of them, or name the label by its 0-based index";
/// The help of an ambiguous column of a file matched to the train file by name.
const BY_NAME: &str = "rename one of them: columns are matched to the train file's by header name";

/// The one column of the header `names` (at `line`) called `name`; `None` when
/// there is none. A name given to two columns is `nnt::data::ambiguous_column`
/// at the second: files are matched by name, so a used name must be unique.
fn unique_column(
    spec: &CsvSpec,
    names: &[String],
    line: usize,
    name: &str,
    help: &'static str,
) -> Result<Option<usize>, DataError> {
    let mut found = names.iter().enumerate().filter(|(_, n)| *n == name);
    match (found.next(), found.next()) {
        (Some((a, _)), Some((b, _))) => {
            let (src, span, _) = source_line(spec, line, Mark::Field(b));
            Err(DataError::AmbiguousColumn {
                file: spec.display.clone(),
                name: name.to_string(),
                first: a + 1,
                second: b + 1,
                help,
                src,
                span,
            })
        }
        (first, _) => Ok(first.map(|(a, _)| a)),
    }
}

fn columns_help(name: &str, names: &[String]) -> String {
    match closest(name, names) {
        Some(c) => format!("did you mean `{c}`?"),
        None if names.len() <= 12 => {
            format!("the columns are: {}", names.join(", "))
        }
        None => format!(
            "the columns are: {}, ... ({} in all)",
            names[..8].join(", "),
            names.len()
        ),
    }
}

/// What a column is for.
#[derive(Debug, Clone, Copy)]
enum Role {
    Feature,
    /// Target number j (output unit j).
    Target(usize),
}

/// Maps the label columns to targets; every other column is a feature.
fn resolve_labels(
    spec: &CsvSpec,
    header: Option<&[String]>,
    columns: usize,
    first_line: usize,
) -> Result<Vec<Role>, DataError> {
    let file = &spec.display;
    if spec.label.is_empty() {
        return Err(DataError::NoLabelColumn { file: file.clone() });
    }
    let mut roles = vec![Role::Feature; columns];
    for (j, label) in spec.label.iter().enumerate() {
        let index = match label {
            ColumnRef::Index(i) => {
                if *i >= columns {
                    let (src, span, _) = source_line(spec, first_line, Mark::Line);
                    return Err(DataError::ColumnOutOfRange {
                        file: file.clone(),
                        index: *i,
                        columns,
                        last: columns.saturating_sub(1),
                        src,
                        span,
                    });
                }
                *i
            }
            ColumnRef::Name(name) => {
                let Some(names) = header else {
                    return Err(DataError::NameWithoutHeader {
                        file: file.clone(),
                        name: name.clone(),
                    });
                };
                match unique_column(spec, names, first_line, name, IN_RECIPE)? {
                    Some(at) => at,
                    None => {
                        let (src, span, _) = source_line(spec, first_line, Mark::Line);
                        return Err(DataError::UnknownColumn {
                            file: file.clone(),
                            name: name.clone(),
                            help: columns_help(name, names),
                            src,
                            span,
                        });
                    }
                }
            }
        };
        if let Role::Target(_) = roles[index] {
            return Err(DataError::DuplicateLabelColumn {
                file: file.clone(),
                column: column_name(header, index),
            });
        }
        roles[index] = Role::Target(j);
    }
    if spec.label.len() == columns {
        return Err(DataError::NoFeatureColumns { file: file.clone() });
    }
    Ok(roles)
}

// ---------------------------------------------------------------- cells

/// The error for a column's problem cells (at the first one).
fn cell_error(
    spec: &CsvSpec,
    names: Option<&[String]>,
    p: &ColumnProblem,
    label: bool,
    missing: Missing,
    lists: Lists,
) -> DataError {
    let file = spec.display.clone();
    let column = column_name(names, p.index);
    let (src, span, line, cell_empty) = source_line_cell(spec, p.line, Mark::Field(p.index));
    let more = if p.count > 1 {
        format!(" ({} cells of this column)", p.count)
    } else {
        String::new()
    };
    let bare = match names.and_then(|n| n.get(p.index)) {
        Some(n) => format!("\"{n}\""),
        None => p.index.to_string(),
    };
    match &p.kind {
        Problem::Missing => {
            let help = if label {
                "a missing label cannot be filled: remove the row, or set `missing = drop` in `data` to drop such rows".to_string()
            } else {
                format!(
                    "`missing = {}`: set `missing = drop`, `mean`, `median` or `zero` in `data` to accept missing cells",
                    missing.name()
                )
            };
            let text = cell_text(&src, span);
            if cell_empty {
                DataError::EmptyCell {
                    file,
                    line,
                    column,
                    more,
                    help,
                    src,
                    span,
                }
            } else {
                DataError::MissingCell {
                    file,
                    line,
                    column,
                    text,
                    more,
                    help,
                    src,
                    span,
                }
            }
        }
        Problem::Utf8 => invalid_utf8(spec, names, line, p.index),
        Problem::NotFinite(_) => DataError::NotFinite {
            file,
            line,
            column,
            text: cell_text(&src, span),
            src,
            span,
        },
        Problem::NotANumber(_) => {
            let seen = p
                .seen
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let help = if label {
                format!("a regression target must be a number (this column holds {seen}); for class names use `cross_entropy` or `binary_cross_entropy`")
            } else {
                let category = if lists.categorical {
                    format!("add {bare} to `categorical`")
                } else {
                    format!("add `categorical = [{bare}]` to `data`")
                };
                let no_value = if missing == Missing::Error {
                    "write an empty cell or NA and set `missing = mean` (or `drop`, `median`, `zero`)".to_string()
                } else {
                    format!(
                        "write an empty cell or NA (`missing = {}` then fills it)",
                        missing.name()
                    )
                };
                let out = if lists.features {
                    format!("remove {bare} from `features`")
                } else if lists.ignore {
                    format!("add {bare} to `ignore`")
                } else {
                    format!("leave the column out with `ignore = [{bare}]`")
                };
                format!("this column holds text ({seen}): if it is a category, {category}; if the text means \"no value\", {no_value}; or {out}")
            };
            DataError::NotANumber {
                file,
                line,
                column,
                text: cell_text(&src, span),
                more,
                help,
                src,
                span,
            }
        }
    }
}

/// The located source of a cell, for errors found after reading (a class name
/// that train does not have): the line's text and the cell's span.
pub fn cell_source(spec: &CsvSpec, line: usize, index: usize) -> (Arc<Excerpt>, SourceSpan, usize) {
    source_line(spec, line, Mark::Field(index))
}

/// The text of `line` and the span of its cell of label `unit` (the recipe's
/// `label`, by header name or index), for a diagnostic about a label's value
/// found after reading; `None` where the file no longer has that column (it
/// changed since). The error path only: reads the file again.
pub fn label_cell(spec: &CsvSpec, line: usize, unit: usize) -> Option<(Arc<Excerpt>, SourceSpan)> {
    let label = spec.label.get(unit)?;
    let mut file = Opened::open(spec, true).ok()?;
    let (first, header, columns) = file.first_line(spec).ok()?;
    let column = resolve_column(spec, header.as_deref(), columns, first, label).ok()?;
    let (src, span, _) = cell_source(spec, line, column);
    Some((src, span))
}

/// `nnt::data::too_large` at the cell of file column `index` on `line`.
pub fn too_large(
    spec: &CsvSpec,
    line: usize,
    index: usize,
    column: String,
    precision: &'static str,
    help: String,
) -> DataError {
    let (src, span, line) = source_line(spec, line, Mark::Field(index));
    DataError::TooLarge {
        file: spec.display.clone(),
        line,
        column,
        text: cell_text(&src, span),
        precision,
        help,
        src,
        span,
    }
}

fn invalid_utf8(spec: &CsvSpec, names: Option<&[String]>, line: usize, index: usize) -> DataError {
    let (src, span, line) = source_line(spec, line, Mark::Field(index));
    DataError::InvalidUtf8 {
        file: spec.display.clone(),
        line,
        column: column_name(names, index),
        src,
        span,
    }
}

fn ragged(spec: &CsvSpec, line: usize, expected: usize, found: usize) -> DataError {
    let mark = if found > expected {
        Mark::Field(expected)
    } else {
        Mark::End
    };
    let (src, span, line) = source_line(spec, line, mark);
    DataError::RaggedRow {
        file: spec.display.clone(),
        line,
        expected,
        found,
        src,
        span,
    }
}

/// "3" or "3 (`petal_length`)": the 1-based field number and the header name.
pub fn column_name(names: Option<&[String]>, index: usize) -> String {
    match names.and_then(|n| n.get(index)) {
        Some(name) => format!("{} (`{name}`)", index + 1),
        None => format!("{}", index + 1),
    }
}

/// The trimmed text under the span (for the message).
fn cell_text(src: &Excerpt, span: SourceSpan) -> String {
    let text = src.text();
    let start = span.offset().min(text.len());
    let end = (span.offset() + span.len()).min(text.len());
    text.get(start..end).unwrap_or("").trim().to_string()
}

// ---------------------------------------------------------------- error context

/// Longest line shown whole; longer lines are cut around the cell.
const MAX_SHOWN: usize = 100;
/// Bytes shown on each side of the cell in a cut line.
const CONTEXT: usize = 40;
/// Marks a cut line end.
const ELLIPSIS: &str = "...";

/// What a diagnostic points at in a line.
#[derive(Debug, Clone, Copy)]
enum Mark {
    /// The whole line.
    Line,
    /// Field `i` (0-based); the whole line if the line has no such field.
    Field(usize),
    /// Just after the last byte (a missing field).
    End,
}

/// The text of `line` (1-based) as an [`Excerpt`], and the span of `mark` in it.
///
/// Reads the file again up to that line: only ever called on the error path.
fn source_line(spec: &CsvSpec, line: usize, mark: Mark) -> (Arc<Excerpt>, SourceSpan, usize) {
    let (src, span, line, _) = source_line_cell(spec, line, mark);
    (src, span, line)
}

/// [`source_line`], and whether the marked cell is empty (blank after trimming):
/// the excerpt then underlines the delimiter next to it, so its text cannot say.
fn source_line_cell(
    spec: &CsvSpec,
    line: usize,
    mark: Mark,
) -> (Arc<Excerpt>, SourceSpan, usize, bool) {
    let (line, raw) = raw_line(spec, line).unwrap_or((line, Vec::new()));
    let (start, end) = match mark {
        Mark::Line => (0, raw.len()),
        Mark::Field(f) => field_range(&raw, spec.delimiter, f).unwrap_or((0, raw.len())),
        Mark::End => (raw.len(), raw.len()),
    };
    // Cut long lines around the cell, at char boundaries of the lossy text.
    // A UTF-8 continuation byte (0b10xxxxxx) is inside a character: the cut
    // moves to the character's start, or past its end (no U+FFFD of half a
    // character in the excerpt).
    let continuation = |i: usize| raw.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    let (cut_start, cut_end) = if raw.len() > MAX_SHOWN {
        let mut a = start.saturating_sub(CONTEXT);
        while a > 0 && continuation(a) {
            a -= 1;
        }
        let mut b = (end + CONTEXT).min(raw.len());
        while b < raw.len() && continuation(b) {
            b += 1;
        }
        (a, b)
    } else {
        (0, raw.len())
    };
    let mut text = String::new();
    if cut_start > 0 {
        text.push_str(ELLIPSIS);
    }
    text.push_str(&String::from_utf8_lossy(&raw[cut_start..start]));
    let mut span_start = text.len();
    let cell = String::from_utf8_lossy(&raw[start..end]);
    // Empty once trimmed, quoted or not (`"  "` is as empty as `  `, §14).
    let cell_empty = cell.trim().trim_matches('"').trim().is_empty();
    text.push_str(&cell);
    let mut span_len = text.len() - span_start;
    text.push_str(&String::from_utf8_lossy(&raw[end..cut_end]));
    if cut_end < raw.len() {
        text.push_str(ELLIPSIS);
    }
    // miette draws no label under an empty span: an empty cell is shown by the
    // delimiter after it, or at the end of the line by the byte before it (the
    // column still names the cell's own place). The excerpt is the file's bytes:
    // nothing inserted (issue 11, item 21). Only an empty line gets a blank.
    let mut shift = 0;
    if span_len == 0 {
        if let Some(after) = text[span_start..].chars().next() {
            span_len = after.len_utf8();
        } else if let Some(before) = text[..span_start].chars().next_back() {
            shift = before.len_utf8();
            span_start -= shift;
            span_len = shift;
        } else {
            text.push(' ');
            span_len = 1;
        }
    }
    // The column counts the characters before the cell in the real line: those
    // cut off stand in for the ellipsis, and a span moved onto the character
    // before an empty cell still names the cell.
    let chars = |b: &[u8]| String::from_utf8_lossy(b).chars().count() as isize;
    let mut first_line_shift = isize::from(shift > 0);
    if cut_start > 0 {
        first_line_shift += chars(&raw[..cut_start]) - ELLIPSIS.chars().count() as isize;
    }
    let src = Arc::new(Excerpt::lines(
        &spec.display,
        Arc::new(text),
        line,
        first_line_shift,
    ));
    (
        src,
        SourceSpan::from((span_start, span_len)),
        line,
        cell_empty,
    )
}

/// The first line at or after `line` (1-based) that is not blank, with its raw
/// bytes (without the line end).
///
/// Why "not blank": the CSV reader skips blank lines, and the position it reports
/// for the record after one is the blank line's.
fn raw_line(spec: &CsvSpec, line: usize) -> Option<(usize, Vec<u8>)> {
    let mut reader = BufReader::new(open(spec).ok()?);
    let mut buf = Vec::new();
    let mut number = 0;
    let mut pending_cr = false;
    loop {
        buf.clear();
        // One physical line: up to `\n`, `\r\n` or a lone `\r`.
        let mut ended = false;
        loop {
            let chunk = reader.fill_buf().ok()?;
            if chunk.is_empty() {
                break;
            }
            let mut used = 0;
            for &b in chunk {
                used += 1;
                if pending_cr {
                    pending_cr = false;
                    if b == b'\n' {
                        continue;
                    }
                }
                if b == b'\n' {
                    ended = true;
                    break;
                }
                if b == b'\r' {
                    pending_cr = true;
                    ended = true;
                    break;
                }
                if buf.len() < MAX_LINE {
                    buf.push(b);
                }
            }
            reader.consume(used);
            if ended {
                break;
            }
        }
        if !ended && buf.is_empty() {
            return None;
        }
        number += 1;
        if number >= line && !buf.iter().all(u8::is_ascii_whitespace) {
            return Some((number, buf));
        }
    }
}

/// Byte range of field `index` (0-based) in a raw line, quotes respected, the
/// surrounding spaces excluded.
fn field_range(raw: &[u8], delimiter: u8, index: usize) -> Option<(usize, usize)> {
    let mut field = 0;
    let mut start = 0;
    let mut quoted = false;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            if field == index {
                return Some(trim_range(raw, start, i));
            }
            field += 1;
            start = i + 1;
        }
    }
    (field == index).then(|| trim_range(raw, start, raw.len()))
}

fn trim_range(raw: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && raw[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && raw[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of more values than a run holds (a small `.gz` of millions of
    /// rows grew to the memory limit and aborted) stops at the limit.
    #[test]
    fn reading_stops_at_the_values_limit() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("many.csv");
        let rows = MAX_VALUES / 3 + 1;
        std::fs::write(&path, format!("a,b,y\n{}", "1,2,0\n".repeat(rows))).expect("write");
        let spec = CsvSpec {
            path: path.clone(),
            display: "many.csv".into(),
            label: vec![ColumnRef::Name("y".into())],
            header: true,
            delimiter: b',',
        };
        let data = DataSpec::new(crate::ir::SourceSpec::Csv(spec.clone()));
        let errors = match read_train(&spec, &data) {
            Ok(_) => panic!("{rows} rows of 3 values read"),
            Err(e) => e,
        };
        assert!(
            matches!(errors.as_slice(), [DataError::TooManyValues { line, .. }] if *line == rows + 1),
            "{errors:?}"
        );
        // One row fewer is read.
        std::fs::write(&path, format!("a,b,y\n{}", "1,2,0\n".repeat(rows - 1))).expect("write");
        assert!(read_train(&spec, &data).is_ok());
    }

    #[test]
    fn field_ranges_respect_quotes() {
        let raw = b"1,\"a,b\", 3 ,";
        assert_eq!(field_range(raw, b',', 0), Some((0, 1)));
        assert_eq!(field_range(raw, b',', 1), Some((2, 7)));
        assert_eq!(field_range(raw, b',', 2), Some((9, 10)));
        assert_eq!(field_range(raw, b',', 3), Some((12, 12)));
        assert_eq!(field_range(raw, b',', 4), None);
    }

    #[test]
    fn line_ends_of_every_kind_count() {
        let mut b = Breaks::default();
        let mut counter = LineCounter {
            inner: &b"a\r\nb\rc\nd"[..],
            breaks: Rc::new(RefCell::new(Breaks::default())),
        };
        let mut out = Vec::new();
        counter.read_to_end(&mut out).expect("read");
        std::mem::swap(&mut b, &mut counter.breaks.borrow_mut());
        // Lines start at bytes 0, 2 (the `\n` of `\r\n`; "b" is at 3), 5 ("c"), 7 ("d").
        assert_eq!(b.starts, [2, 5, 7]);
        assert_eq!(
            [b.line_of(0), b.line_of(3), b.line_of(5), b.line_of(7)],
            [1, 2, 3, 4]
        );
    }

    /// The line starts do not depend on how reads cut the bytes (a `\r` at
    /// the end of one read, its `\n` at the start of the next).
    #[test]
    fn line_starts_do_not_depend_on_reads() {
        struct Bytes<'a>(&'a [u8], usize);
        impl Read for Bytes<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"a,b\r\n1,2\r\r3,4\n\n\r5\r\n\r\n6,\"x\ny\"\r";
        let starts = |step: usize| {
            let breaks = Rc::new(RefCell::new(Breaks::default()));
            let mut counter = LineCounter {
                inner: Bytes(text, step),
                breaks: breaks.clone(),
            };
            let mut out = Vec::new();
            counter.read_to_end(&mut out).expect("read");
            assert_eq!(out, text);
            let b = breaks.borrow();
            (b.starts.clone(), b.pending_cr, b.since_break)
        };
        let whole = starts(text.len());
        assert_eq!(whole.0, [4, 9, 10, 14, 15, 16, 18, 20, 26]);
        for step in 1..text.len() {
            assert_eq!(starts(step), whole, "reads of {step} bytes");
        }
    }
}
