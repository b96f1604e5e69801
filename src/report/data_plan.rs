//! The data plan of `nnt explain` (§14): each column's role and how it is
//! prepared, the fill value of columns with missing cells, the classes with their
//! rows per split, and the input width after one-hot encoding.

use std::fmt::Write as _;

use super::number::human;
use crate::data::prep::{Classes, FeatureKind, Preparation};
use crate::ir::{Data, Missing, Normalize};

/// At most this many categories are listed per column.
const MAX_SHOWN: usize = 12;

/// Feature columns listed one by one: a wider file (784 pixels) lists the
/// first [`FEATURES_SHOWN`] and counts the rest on one line.
const MAX_FEATURES: usize = 24;
const FEATURES_SHOWN: usize = 16;

fn list(items: &[String]) -> String {
    if items.len() > MAX_SHOWN {
        format!(
            "{}, ... ({} in all)",
            items[..MAX_SHOWN].join(", "),
            items.len()
        )
    } else {
        items.join(", ")
    }
}

/// Writes the plan (after the rows per split).
pub fn write(out: &mut String, p: &Preparation, d: &Data) -> std::fmt::Result {
    if let Some(n) = d.dropped_rows {
        writeln!(
            out,
            "  dropped {n} row{} with missing cells (missing = drop)",
            if n == 1 { "" } else { "s" }
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "columns ({} input{} after one-hot encoding):",
        p.input_width(),
        if p.input_width() == 1 { "" } else { "s" }
    )?;
    let mut rows: Vec<[String; 3]> = Vec::new();
    let norm = match p.normalize {
        Normalize::None => "",
        Normalize::Standard => ", standardised",
        Normalize::MinMax => ", min-max scaled",
    };
    for f in &p.features {
        match &f.kind {
            FeatureKind::Numeric {
                fill,
                missing_in_train,
                ..
            } => {
                let mut how = format!("numeric{norm}");
                if let Some(v) = fill {
                    let stat = match p.missing {
                        Missing::Zero => String::new(),
                        other => format!("{} ", other.name()),
                    };
                    let _ = write!(
                        how,
                        "; missing -> {stat}{} ({} in train)",
                        human(*v, 6),
                        missing_in_train
                    );
                }
                rows.push([f.column.name.clone(), "feature".into(), how]);
            }
            FeatureKind::Categorical { categories } => {
                let mut how = format!(
                    "{} input{}: {}",
                    categories.len(),
                    if categories.len() == 1 { "" } else { "s" },
                    list(categories)
                );
                if matches!(p.missing, Missing::Mean | Missing::Median | Missing::Zero) {
                    how.push_str("; missing -> all zeros");
                }
                rows.push([f.column.name.clone(), "categorical".into(), how]);
            }
        }
    }
    if rows.len() > MAX_FEATURES {
        let hidden = rows.split_off(FEATURES_SHOWN);
        // One line for the rest: their role and preparation when they share them.
        let same = |i: usize| hidden.iter().all(|r| r[i] == hidden[0][i]);
        rows.push([
            format!("... {} more", hidden.len()),
            if same(1) {
                hidden[0][1].clone()
            } else {
                "features".into()
            },
            if same(2) {
                hidden[0][2].clone()
            } else {
                String::new()
            },
        ]);
    }
    for (j, l) in p.labels.iter().enumerate() {
        let how = match &p.classes {
            Some(Classes::Names { names }) => format!("{} classes by name", names.len()),
            Some(Classes::Numeric { count }) => {
                format!("class numbers 0..{}", count.saturating_sub(1))
            }
            None => match &p.targets {
                Some(t) => format!(
                    "standardised (mean {}, std {})",
                    human(t.mean.get(j).copied().unwrap_or(0.0), 6),
                    human(t.std.get(j).copied().unwrap_or(1.0), 6)
                ),
                None => "numeric".into(),
            },
        };
        rows.push([l.name.clone(), "label".into(), how]);
    }
    for c in &p.ignored {
        rows.push([c.name.clone(), "ignored".into(), String::new()]);
    }
    let w0 = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].chars().count()).max().unwrap_or(0);
    for r in &rows {
        let line = format!("  {:<w0$}  {:<w1$}  {}", r[0], r[1], r[2]);
        writeln!(out, "{}", line.trim_end())?;
    }
    if !d.class_counts.is_empty() {
        writeln!(out)?;
        let mut header = vec!["train"];
        if d.valid.is_some() {
            header.push("valid");
        }
        if d.test.is_some() {
            header.push("test");
        }
        let wc = d
            .class_counts
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut line = format!("  {:<wc$}", "class");
        for h in &header {
            let _ = write!(line, "  {h:>7}");
        }
        writeln!(out, "{line}")?;
        for (name, counts) in &d.class_counts {
            let mut line = format!("  {name:<wc$}");
            for c in counts.iter().take(header.len()) {
                let _ = write!(line, "  {c:>7}");
            }
            writeln!(out, "{line}")?;
        }
    }
    if d.unseen_categories > 0 {
        writeln!(
            out,
            "  {} categorical cell{} of valid/test not seen in train (encoded as zeros)",
            d.unseen_categories,
            if d.unseen_categories == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}
