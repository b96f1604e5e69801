//! `nnt explain MODEL.safetensors` (§15): the saved model's plan (layers,
//! widths, parameters, loss, precision) and its data schema (the input columns in
//! order with how each is prepared, the targets and classes) — also the input
//! layout of `nnt export onnx`.

use std::fmt::Write as _;
use std::path::Path;

use super::model_use::{Loaded, UseError};
use crate::data::prep::FeatureKind;
use crate::ir::Precision;
use crate::ir::Task;
use crate::train::layers;

/// Whether a path names a model file rather than a recipe.
pub fn is_model_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

pub fn explain(path: &Path) -> Result<String, UseError> {
    let m = Loaded::read(path)?;
    let meta = &m.meta;
    let mut s = String::new();
    let precision = match meta.precision {
        Precision::F32 => "f32",
        Precision::F64 => "f64",
    };
    let _ = writeln!(
        s,
        "{}: nnt model (layout {}, written by nnt {}), precision {precision}",
        m.path, meta.layout, meta.version
    );
    let _ = writeln!(s, "loss: {}", meta.loss.name());
    let _ = writeln!(s);
    // The kind column as wide as its widest entry (`batch_norm(0.1, 0.00001)`
    // once pushed its row's numbers out of their columns).
    let kinds: Vec<String> = meta
        .layers
        .iter()
        .map(|l| layers::concept(&l.kind).model_text())
        .collect();
    let w = kinds
        .iter()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0)
        .max(22);
    let _ = writeln!(
        s,
        "{:<7} {:<w$} {:>8} {:>10}",
        "layer", "kind", "output", "parameters"
    );
    let _ = writeln!(
        s,
        "{:<7} {:<w$} {:>8} {:>10}",
        "input", "", meta.input_width, ""
    );
    let mut total = 0usize;
    for (l, kind) in meta.layers.iter().zip(kinds) {
        let params = l.kind.trainable(l.inputs, l.outputs);
        total += params;
        let shown = if params > 0 {
            params.to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "{:<7} {:<w$} {:>8} {:>10}",
            l.index, kind, l.outputs, shown
        );
    }
    let _ = writeln!(s, "total trainable parameters: {total}");
    let _ = writeln!(s);
    let output = match meta.loss.task() {
        Task::Multiclass => "class logits (predict: softmax probabilities)",
        Task::Binary => "one logit (predict: the positive-class probability)",
        Task::Regression => "the targets",
    };
    let _ = writeln!(s, "output: {} value(s), {output}", meta.output_width());
    let Some(p) = &m.prep else {
        let _ = writeln!(
            s,
            "data: generated (no column schema; predict and eval need a model trained on CSV data)"
        );
        return Ok(s);
    };
    let _ = writeln!(
        s,
        "data: columns matched {}, delimiter `{}`, missing = {}, normalize = {}",
        if p.header {
            "by header name"
        } else {
            "by position"
        },
        p.delimiter,
        p.missing.name(),
        p.normalize.name()
    );
    let _ = writeln!(s, "model inputs, in order (the ONNX input `features`):");
    let mut at = 0usize;
    for f in &p.features {
        match &f.kind {
            FeatureKind::Numeric {
                fill,
                shift,
                divisor,
                ..
            } => {
                // Shortest round-trip, in exponent form at the extremes (a
                // divisor of 1e-300 printed 300 digits).
                let num = |v: f64| crate::report::number::shortest(v, 1e-5..1e16);
                let fill = fill.map_or("a missing cell is an error".to_string(), |v| {
                    format!("missing → {}", num(v))
                });
                let _ = writeln!(
                    s,
                    "  {at:>4}  {:<20} numeric, (x − {}) / {}, {fill}",
                    f.column.name,
                    num(*shift),
                    num(*divisor)
                );
                at += 1;
            }
            FeatureKind::Categorical { categories } => {
                for c in categories {
                    let _ = writeln!(
                        s,
                        "  {at:>4}  {:<20} 1 when {} = {c}",
                        format!("{}={c}", f.column.name),
                        f.column.name
                    );
                    at += 1;
                }
            }
        }
    }
    if !p.ignored.is_empty() {
        let names: Vec<&str> = p.ignored.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(s, "ignored columns: {}", names.join(", "));
    }
    let labels: Vec<&str> = p.labels.iter().map(|c| c.name.as_str()).collect();
    let _ = writeln!(s, "label columns: {}", labels.join(", "));
    match p.class_names() {
        Some(names) => {
            let _ = writeln!(s, "classes: {}", names.join(", "));
        }
        None if meta.loss.is_classification() => {
            let _ = writeln!(
                s,
                "classes: numeric, 0 to {}",
                m.class_labels().len().saturating_sub(1)
            );
        }
        None => {}
    }
    if let Some(t) = &p.targets {
        let _ = writeln!(
            s,
            "targets standardised in training (mean {:?}, std {:?}); predictions are in original units",
            t.mean, t.std
        );
    }
    Ok(s)
}
