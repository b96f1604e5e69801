// TEMPORARY STUB: replaced by the data helper's module.
//! Data loading (stub: a tiny std-only CSV reader so the checker can be built and
//! tested; the real module is written by the data helper).

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::ir::{ColumnRef, Data, DataSpec, SourceSpec, Table};

#[derive(Debug, Error, Diagnostic)]
pub enum DataError {
    #[error("data file `{file}` not found")]
    #[diagnostic(code(nnt::data::file_not_found))]
    Io {
        path: PathBuf,
        file: String,
        message: String,
    },
    #[error("{path}:{line}:{column}: {message}")]
    #[diagnostic(code(nnt::data::parse))]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{split} = split(train, {fraction})` leaves no rows to train on")]
    #[diagnostic(code(nnt::data::split_too_large))]
    SplitTooLarge { split: &'static str, fraction: f64 },
    #[error("the {split} split has a different shape than train")]
    #[diagnostic(code(nnt::data::width_mismatch))]
    WidthMismatch { split: &'static str },
}

pub fn load(spec: &DataSpec, _seed: u64) -> Result<Data, DataError> {
    let mut train = table(&spec.train)?;
    let original = train.rows;
    let take = |s: &Option<SourceSpec>,
                train: &mut Table,
                split: &'static str|
     -> Result<Option<Table>, DataError> {
        match s {
            None => Ok(None),
            Some(SourceSpec::Split { fraction }) => {
                let k = ((fraction * original as f64).round() as usize).max(1);
                if k >= train.rows {
                    return Err(DataError::SplitTooLarge {
                        split,
                        fraction: *fraction,
                    });
                }
                let keep = train.rows - k;
                let mut t = Table {
                    rows: k,
                    features: train.features,
                    targets: train.targets,
                    ..Table::default()
                };
                t.x = train.x.split_off(keep * train.features);
                t.y = train.y.split_off(keep * train.targets);
                train.rows = keep;
                Ok(Some(t))
            }
            Some(other) => {
                let t = table(other)?;
                if t.features != train.features || t.targets != train.targets {
                    return Err(DataError::WidthMismatch { split });
                }
                Ok(Some(t))
            }
        }
    };
    let valid = take(&spec.valid, &mut train, "valid")?;
    let test = take(&spec.test, &mut train, "test")?;
    Ok(Data { train, valid, test })
}

fn table(s: &SourceSpec) -> Result<Table, DataError> {
    match s {
        SourceSpec::Csv(c) => {
            let text = std::fs::read_to_string(&c.path).map_err(|e| DataError::Io {
                path: c.path.clone(),
                file: c.display.clone(),
                message: e.to_string(),
            })?;
            let mut lines = text.lines().enumerate();
            let header: Vec<String> = if c.header {
                lines
                    .next()
                    .map(|(_, l)| {
                        l.split(c.delimiter as char)
                            .map(|s| s.trim().to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let mut t = Table::default();
            for (i, line) in lines {
                if line.trim().is_empty() {
                    continue;
                }
                let cells: Vec<&str> = line.split(c.delimiter as char).collect();
                let label_idx: Vec<usize> = c
                    .label
                    .iter()
                    .map(|l| match l {
                        ColumnRef::Index(k) => *k,
                        ColumnRef::Name(n) => {
                            header.iter().position(|h| h == n).unwrap_or(usize::MAX)
                        }
                    })
                    .collect();
                let mut vals = Vec::new();
                for (j, cell) in cells.iter().enumerate() {
                    let v: f64 = cell.trim().parse().map_err(|_| DataError::Parse {
                        path: c.path.clone(),
                        line: i + 1,
                        column: j + 1,
                        message: format!("not a number: {cell:?}"),
                    })?;
                    vals.push(v);
                }
                for &k in &label_idx {
                    let Some(v) = vals.get(k) else {
                        return Err(DataError::Parse {
                            path: c.path.clone(),
                            line: i + 1,
                            column: 1,
                            message: "no label column".into(),
                        });
                    };
                    t.y.push(*v);
                }
                for (j, v) in vals.iter().enumerate() {
                    if !label_idx.contains(&j) {
                        t.x.push(*v);
                    }
                }
                t.targets = label_idx.len();
                t.features = vals.len() - label_idx.len().min(vals.len());
                t.rows += 1;
            }
            Ok(t)
        }
        SourceSpec::Blobs {
            n,
            features,
            classes,
            ..
        } => Ok(synthetic(*n, *features, 1, |i| (i % classes) as f64)),
        SourceSpec::Spirals { n, classes, .. } => Ok(synthetic(*n, 2, 1, |i| (i % classes) as f64)),
        SourceSpec::Moons { n, .. } | SourceSpec::Xor { n, .. } => {
            Ok(synthetic(*n, 2, 1, |i| (i % 2) as f64))
        }
        SourceSpec::Linear {
            n,
            features,
            targets,
            ..
        } => Ok(synthetic(*n, *features, *targets, |i| i as f64)),
        SourceSpec::Split { .. } => Ok(Table::default()),
    }
}

fn synthetic(n: usize, features: usize, targets: usize, label: impl Fn(usize) -> f64) -> Table {
    Table {
        rows: n,
        features,
        targets,
        x: vec![0.0; n * features],
        y: (0..n)
            .flat_map(|i| std::iter::repeat_n(label(i), targets))
            .collect(),
    }
}
