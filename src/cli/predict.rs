//! `nnt predict MODEL DATA.csv [-o OUT.csv] [--keep COLUMN]…` (§15): reads DATA
//! row by row with the model's column rules, prepares each row as training did,
//! runs the network in evaluation mode in chunks of [`CHUNK`] rows and writes one
//! CSV row per input row, in input order. Memory does not grow with the rows.
//!
//! Columns: the `--keep` columns (copied verbatim), then for `cross_entropy`
//! `prediction` (class name, or index for numeric labels) and
//! `probability_<class>` per class; for `binary_cross_entropy` `prediction` and
//! `probability` (of the positive class); for regression one column per target,
//! named as the target column, in original units.

use std::io::Write;
use std::path::Path;

use miette::Diagnostic;
use thiserror::Error;

use super::model_use::{
    bind, keep_column, positive_probability, shortest_into, softmax, Loaded, Rows, UseError, CHUNK,
};
use crate::io::atomic::write_atomic_with;
use crate::io::guard::{self, IoError};
use crate::ir::Task;
use crate::train::losses;

/// What a prediction run did (for the caller's messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub rows: usize,
    /// Categorical cells whose category the train split did not have (all zeros).
    pub unseen_categories: usize,
}

/// Why `nnt predict` fails.
#[derive(Debug, Error, Diagnostic)]
pub enum PredictError {
    /// The model or the data cannot be used (see [`UseError`]'s variants).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Use(#[from] UseError),
    /// `nnt predict m.safetensors d.csv -o d.csv` (or `-o m.safetensors`, or a
    /// link to either): an output that would replace an input
    /// (`nnt::io::output_is_input`). Test: tests/it/cli_outputs_guard.rs
    /// `predict_and_export_onnx_never_replace_their_inputs`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

/// Refuses an output that is the model or the data file (through links and
/// `..`), before anything is read.
pub fn check_output(model: &Path, data: &Path, output: Option<&Path>) -> Result<(), IoError> {
    match output {
        Some(out) => guard::outputs_are_not_inputs(
            &[("output", out)],
            &[("model", model), ("data file", data)],
        ),
        None => Ok(()),
    }
}

/// Predicts `data` with the model at `model`, writing to `output` (atomically:
/// nothing is written when a row is invalid; never over the model or the data)
/// or, without it, to `stdout`.
pub fn run(
    model: &Path,
    data: &Path,
    output: Option<&Path>,
    keep: &[String],
    stdout: &mut dyn Write,
) -> Result<Summary, PredictError> {
    check_output(model, data, output)?;
    Ok(predict(model, data, output, keep, stdout)?)
}

fn predict(
    model: &Path,
    data: &Path,
    output: Option<&Path>,
    keep: &[String],
    stdout: &mut dyn Write,
) -> Result<Summary, UseError> {
    let mut loaded = Loaded::read(model)?;
    let mut rows = Rows::open(data, loaded.prep()?, loaded.meta.precision)?;
    match output {
        None => {
            let s = stream(&mut loaded, &mut rows, keep, stdout)?;
            stdout.flush().map_err(|e| UseError::Write {
                path: "standard output".into(),
                reason: e.to_string(),
            })?;
            Ok(s)
        }
        Some(path) => {
            let shown = path.display().to_string();
            let written = write_atomic_with(path, |out| stream(&mut loaded, &mut rows, keep, out));
            match written {
                Ok(result) => result,
                Err(e) => Err(UseError::Write {
                    path: shown,
                    reason: e.to_string(),
                }),
            }
        }
    }
}

fn write_error(e: impl std::fmt::Display) -> UseError {
    UseError::Write {
        path: "the output".into(),
        reason: e.to_string(),
    }
}

/// The prediction loop: header, then chunks of prepared rows through the network.
fn stream(
    loaded: &mut Loaded,
    rows: &mut Rows,
    keep: &[String],
    out: &mut dyn Write,
) -> Result<Summary, UseError> {
    let prep = loaded.prep()?.clone();
    let binding = bind(rows, &prep, false)?;
    let keep_cols = keep
        .iter()
        .map(|k| keep_column(rows, k))
        .collect::<Result<Vec<usize>, _>>()?;
    rows.read_columns(&binding, &keep_cols);
    let loss = loaded.loss();
    let precision = loaded.meta.precision;
    let width = prep.input_width();
    let k = loaded.meta.output_width();
    let classes = loaded.class_labels();
    let targets = loaded.target_names();

    let mut w = csv::WriterBuilder::new().from_writer(out);
    let mut header: Vec<String> = keep.to_vec();
    match loss.task() {
        Task::Multiclass => {
            header.push("prediction".into());
            header.extend(classes.iter().map(|c| format!("probability_{c}")));
        }
        Task::Binary => {
            header.push("prediction".into());
            header.push("probability".into());
        }
        Task::Regression => header.extend(targets.iter().cloned()),
    }
    w.write_record(&header).map_err(write_error)?;

    let mut x = vec![0.0f64; CHUNK * width];
    let mut kept: Vec<String> = Vec::with_capacity(CHUNK * keep_cols.len());
    let mut outputs: Vec<f64> = Vec::with_capacity(CHUNK * k);
    let mut probs: Vec<f64> = Vec::with_capacity(k);
    let mut number = String::with_capacity(32);
    let mut summary = Summary {
        rows: 0,
        unseen_categories: 0,
    };
    let mut n = 0usize;
    let mut flush = |n: usize,
                     x: &[f64],
                     kept: &mut Vec<String>,
                     w: &mut csv::Writer<&mut dyn Write>|
     -> Result<(), UseError> {
        outputs.clear();
        loaded.runner.forward(&x[..n * width], n, &mut outputs);
        let nk = keep_cols.len();
        for r in 0..n {
            // Field by field into the writer: no allocation per row.
            for cell in &kept[r * nk..(r + 1) * nk] {
                w.write_field(cell).map_err(write_error)?;
            }
            let z = &outputs[r * k..(r + 1) * k];
            match loss.task() {
                Task::Multiclass | Task::Binary => {
                    let c = losses::predict(&loss, z);
                    match classes.get(c) {
                        Some(name) => w.write_field(name),
                        None => w.write_field(c.to_string()),
                    }
                    .map_err(write_error)?;
                    if loss.task() == Task::Binary {
                        probs.clear();
                        probs.push(positive_probability(precision, z[0]));
                    } else {
                        softmax(precision, z, &mut probs);
                    }
                }
                Task::Regression => {
                    probs.clear();
                    probs.extend_from_slice(z);
                    prep.targets_to_original(&mut probs);
                }
            }
            for &v in probs.iter() {
                shortest_into(precision, v, &mut number);
                w.write_field(&number).map_err(write_error)?;
            }
            w.write_record(std::iter::empty::<&[u8]>())
                .map_err(write_error)?;
        }
        kept.clear();
        Ok(())
    };
    while let Some(line) = rows.advance()? {
        let cells = rows.cells()?;
        let slot = &mut x[n * width..(n + 1) * width];
        if let Err(issue) = prep.prepare_row(&binding, &cells, slot, &mut summary.unseen_categories)
        {
            return Err(rows.cell_error(&cells, line, &issue));
        }
        rows.check_prepared(&prep, &binding, &cells, line, slot, None)?;
        for &c in &keep_cols {
            kept.push(cells.get(c).copied().unwrap_or("").to_string());
        }
        n += 1;
        summary.rows += 1;
        if n == CHUNK {
            flush(n, &x, &mut kept, &mut w)?;
            n = 0;
        }
    }
    if n > 0 {
        flush(n, &x, &mut kept, &mut w)?;
    }
    w.flush().map_err(write_error)?;
    Ok(summary)
}
