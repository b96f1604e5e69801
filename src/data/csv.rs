//! `csv(PATH, label = COLUMN, header = true, delimiter = ",")` (§4).
//!
//! Cells are parsed straight from the reader's byte buffer into the f64 table: one
//! reused `ByteRecord`, no string table. The raw text of a line is only read back
//! (by a second pass over the file) when an error has to show it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use miette::SourceSpan;

use super::error::{closest, DataError, LineSource};
use crate::ir::{ColumnRef, CsvSpec, Table};

/// Reads one CSV source into a table: every label column is a target (in the order
/// listed), every other column a feature (in file order).
pub fn read(spec: &CsvSpec) -> Result<Table, DataError> {
    let file = &spec.display;
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(spec.delimiter)
        .trim(::csv::Trim::All)
        .buffer_capacity(1 << 16)
        .from_reader(open(spec)?);

    let mut record = ::csv::ByteRecord::new();
    if !next_record(spec, &mut rdr, &mut record, 0)? {
        return Err(DataError::EmptyFile { file: file.clone() });
    }
    let columns = record.len();
    let first_line = line_of(&record, 1);

    let header: Option<Vec<String>> = if spec.header {
        let mut names = Vec::with_capacity(columns);
        for (i, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(s) => names.push(s.to_string()),
                Err(_) => {
                    return Err(invalid_utf8(spec, None, first_line, i));
                }
            }
        }
        Some(names)
    } else {
        None
    };

    let roles = resolve_labels(spec, header.as_deref(), columns, first_line)?;
    let targets = spec.label.len();
    let features = columns - targets;
    let names = header.as_deref();

    let mut x: Vec<f64> = Vec::new();
    let mut y: Vec<f64> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let mut rows = 0usize;
    let mut last_line = first_line;

    if header.is_some() && !next_record(spec, &mut rdr, &mut record, last_line)? {
        let (src, span, _) = source_line(spec, first_line, Mark::Line);
        return Err(DataError::HeaderOnly {
            file: file.clone(),
            src,
            span,
        });
    }
    loop {
        let line = line_of(&record, last_line + 1);
        last_line = line;
        if record.len() != columns {
            return Err(ragged(spec, line, columns, record.len()));
        }
        if rows == 0 {
            // Reserve once the row width is known; the file size is not (gzip).
            x.reserve(features * 1024);
            y.reserve(targets * 1024);
        }
        let y_start = y.len();
        y.resize(y_start + targets, 0.0);
        for (i, field) in record.iter().enumerate() {
            let value = parse_cell(field).map_err(|kind| cell_error(spec, names, line, i, kind))?;
            match roles[i] {
                Role::Feature => x.push(value),
                Role::Target(j) => y[y_start + j] = value,
            }
        }
        rows += 1;
        lines.push(line);
        if !next_record(spec, &mut rdr, &mut record, last_line)? {
            break;
        }
    }
    x.shrink_to_fit();
    y.shrink_to_fit();
    Ok(Table {
        rows,
        features,
        targets,
        x,
        y,
        lines,
    })
}

// ---------------------------------------------------------------- reading

type Reader = ::csv::Reader<Box<dyn Read>>;

/// What a column is for.
#[derive(Debug, Clone, Copy)]
enum Role {
    Feature,
    /// Target number j (output unit j).
    Target(usize),
}

fn is_gz(spec: &CsvSpec) -> bool {
    spec.path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Opens the file, through gzip for `.gz`.
fn open(spec: &CsvSpec) -> Result<Box<dyn Read>, DataError> {
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

/// Reads the next record; `Ok(false)` at the end of the file.
fn next_record(
    spec: &CsvSpec,
    rdr: &mut Reader,
    record: &mut ::csv::ByteRecord,
    last_line: usize,
) -> Result<bool, DataError> {
    match rdr.read_byte_record(record) {
        Ok(more) => Ok(more),
        Err(e) => Err(match e.kind() {
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

/// 1-based line where the record starts.
fn line_of(record: &::csv::ByteRecord, fallback: usize) -> usize {
    record
        .position()
        .map_or(fallback, |p| usize::try_from(p.line()).unwrap_or(fallback))
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
                let mut found = names.iter().enumerate().filter(|(_, n)| *n == name);
                match (found.next(), found.next()) {
                    (Some((first, _)), None) => first,
                    (Some((first, _)), Some((second, _))) => {
                        let (src, span, _) = source_line(spec, first_line, Mark::Field(second));
                        return Err(DataError::AmbiguousColumn {
                            file: file.clone(),
                            name: name.clone(),
                            first: first + 1,
                            second: second + 1,
                            src,
                            span,
                        });
                    }
                    _ => {
                        let (src, span, _) = source_line(spec, first_line, Mark::Line);
                        let help = match closest(name, names) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None if names.len() <= 12 => {
                                format!("the columns are: {}", names.join(", "))
                            }
                            None => format!(
                                "the columns are: {}, ... ({} in all)",
                                names[..8].join(", "),
                                names.len()
                            ),
                        };
                        return Err(DataError::UnknownColumn {
                            file: file.clone(),
                            name: name.clone(),
                            help,
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

/// Why a cell is not a finite number.
enum CellError {
    Empty,
    Utf8,
    NotANumber,
    NotFinite,
}

/// Parses one (already trimmed) cell.
fn parse_cell(field: &[u8]) -> Result<f64, CellError> {
    // Fast path for the most common cell of image data.
    if field == b"0" {
        return Ok(0.0);
    }
    if field.is_empty() {
        return Err(CellError::Empty);
    }
    let text = std::str::from_utf8(field).map_err(|_| CellError::Utf8)?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(CellError::NotFinite),
        Err(_) => {
            // Rust accepts "inf"/"nan" spellings; anything else is not a number.
            Err(CellError::NotANumber)
        }
    }
}

fn cell_error(
    spec: &CsvSpec,
    names: Option<&[String]>,
    line: usize,
    index: usize,
    kind: CellError,
) -> DataError {
    let file = spec.display.clone();
    let column = column_name(names, index);
    let (src, span, line) = source_line(spec, line, Mark::Field(index));
    match kind {
        CellError::Empty => DataError::EmptyCell {
            file,
            line,
            column,
            src,
            span,
        },
        CellError::Utf8 => invalid_utf8(spec, names, line, index),
        CellError::NotANumber | CellError::NotFinite => {
            let text = cell_text(&src, span);
            if matches!(kind, CellError::NotFinite) {
                DataError::NotFinite {
                    file,
                    line,
                    column,
                    text,
                    src,
                    span,
                }
            } else {
                DataError::NotANumber {
                    file,
                    line,
                    column,
                    text,
                    src,
                    span,
                }
            }
        }
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
fn column_name(names: Option<&[String]>, index: usize) -> String {
    match names.and_then(|n| n.get(index)) {
        Some(name) => format!("{} (`{name}`)", index + 1),
        None => format!("{}", index + 1),
    }
}

/// The trimmed text under the span (for the message).
fn cell_text(src: &LineSource, span: SourceSpan) -> String {
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

/// The text of `line` (1-based) as a [`LineSource`], and the span of `mark` in it.
///
/// Reads the file again up to that line: only ever called on the error path.
fn source_line(spec: &CsvSpec, line: usize, mark: Mark) -> (Arc<LineSource>, SourceSpan, usize) {
    let (line, raw) = raw_line(spec, line).unwrap_or((line, Vec::new()));
    let (start, end) = match mark {
        Mark::Line => (0, raw.len()),
        Mark::Field(f) => field_range(&raw, spec.delimiter, f).unwrap_or((0, raw.len())),
        Mark::End => (raw.len(), raw.len()),
    };
    // Cut long lines around the cell, at char boundaries of the lossy text.
    let (cut_start, cut_end) = if raw.len() > MAX_SHOWN {
        (
            start.saturating_sub(CONTEXT),
            (end + CONTEXT).min(raw.len()),
        )
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
    // The column miette reports counts the bytes before the cell in the real line.
    let column_offset = shift
        + if cut_start > 0 {
            cut_start - ELLIPSIS.len()
        } else {
            0
        };
    let src = Arc::new(LineSource::new(&spec.display, text, line, column_offset));
    (src, SourceSpan::from((span_start, span_len)), line)
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
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).ok()? == 0 {
            return None;
        }
        number += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
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
    fn cells_parse() {
        assert!(matches!(parse_cell(b"2.5"), Ok(v) if v == 2.5));
        assert!(matches!(parse_cell(b"-1e3"), Ok(v) if v == -1000.0));
        assert!(matches!(parse_cell(b""), Err(CellError::Empty)));
        assert!(matches!(parse_cell(b"nan"), Err(CellError::NotFinite)));
        assert!(matches!(parse_cell(b"-inf"), Err(CellError::NotFinite)));
        assert!(matches!(parse_cell(b"1e999"), Err(CellError::NotFinite)));
        assert!(matches!(parse_cell(b"abc"), Err(CellError::NotANumber)));
        assert!(matches!(parse_cell(b"\xff"), Err(CellError::Utf8)));
    }
}
