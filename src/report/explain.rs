//! `nnt explain` (§12): the plan of a checked program, as stable text.

use std::fmt::Write as _;

use super::number::human;
use crate::ir::{Batch, Init, Layer, LayerKind, Loss, Program, Schedule, Table};

/// The learning rate of epoch `epoch` (from 1) of `epochs` under `schedule` with
/// the optimizer's `base` rate (§9); `None` for `reduce_on_plateau`, whose rates
/// depend on the run.
pub fn planned_lr(schedule: &Schedule, base: f64, epoch: usize, epochs: usize) -> Option<f64> {
    let e = epoch.max(1);
    match schedule {
        Schedule::Constant => Some(base),
        Schedule::Step { every, factor } => {
            let k = (e - 1) / (*every).max(1);
            Some(base * factor.powi(i32::try_from(k).unwrap_or(i32::MAX)))
        }
        Schedule::Exponential { gamma } => {
            Some(base * gamma.powi(i32::try_from(e - 1).unwrap_or(i32::MAX)))
        }
        Schedule::Cosine { min_lr } => {
            let t = epochs.max(1) as f64;
            let cos = crate::math::cos(std::f64::consts::PI * (e - 1) as f64 / t);
            Some(min_lr + (base - min_lr) * (1.0 + cos) / 2.0)
        }
        Schedule::Warmup { epochs: w, then } => {
            let w = *w;
            if e <= w {
                Some(base * e as f64 / w as f64)
            } else {
                planned_lr(then, base, e - w, epochs.saturating_sub(w))
            }
        }
        Schedule::ReduceOnPlateau { .. } => None,
    }
}

/// The plan: the model as a table, the parameter total, the splits, the batches
/// per epoch and the learning rate of every epoch.
pub fn explain(program: &Program) -> String {
    let mut out = String::new();
    let _ = write_plan(&mut out, program);
    out
}

fn write_plan(out: &mut String, p: &Program) -> std::fmt::Result {
    writeln!(
        out,
        "plan of {} (seed {}, precision {})",
        p.source.name,
        p.seed,
        match p.precision {
            crate::ir::Precision::F32 => "f32",
            crate::ir::Precision::F64 => "f64",
        }
    )?;
    writeln!(out)?;

    // ---- model table
    let mut rows: Vec<[String; 6]> = vec![[
        "#".into(),
        "layer".into(),
        "line".into(),
        "output".into(),
        "parameters".into(),
        "init".into(),
    ]];
    rows.push([
        "".into(),
        "input".into(),
        "".into(),
        format!("[batch, {}]", p.model.input_width),
        "".into(),
        "".into(),
    ]);
    let mut total = 0usize;
    for layer in &p.model.layers {
        let params = trainable(layer);
        total += params;
        rows.push([
            layer.index.to_string(),
            layer_text(&layer.kind),
            layer.line.to_string(),
            format!("[batch, {}]", layer.out_width),
            params.to_string(),
            match &layer.kind {
                LayerKind::Dense { init, .. } => init_text(init),
                _ => String::new(),
            },
        ]);
    }
    // Numbers right-aligned (#, line, parameters), text left-aligned.
    let right = [true, false, true, false, true, false];
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::from(" ");
        for c in 0..6 {
            let cell = &row[c];
            let pad = widths[c] - cell.chars().count();
            line.push(' ');
            if right[c] {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push(' ');
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    writeln!(out, "trainable parameters: {total}")?;
    writeln!(out)?;

    // ---- data
    let d = &p.data;
    writeln!(
        out,
        "data: {} features, {} {}",
        d.train.features,
        d.train.targets,
        if d.train.targets == 1 {
            "target"
        } else {
            "targets"
        }
    )?;
    let split = |name: &str, t: &Table| format!("  {name:<6}{:>8} rows", t.rows);
    writeln!(out, "{}", split("train", &d.train))?;
    if let Some(v) = &d.valid {
        writeln!(out, "{}", split("valid", v))?;
    }
    if let Some(t) = &d.test {
        writeln!(out, "{}", split("test", t))?;
    }
    writeln!(out)?;

    // ---- training
    let rows = d.train.rows;
    let per_batch = p.train.batch.rows(rows);
    let batches = rows.div_ceil(per_batch);
    let last = rows - per_batch * batches.saturating_sub(1);
    let batch_text = match p.train.batch {
        Batch::Full => format!("full ({per_batch} rows)"),
        Batch::Size(n) => n.to_string(),
    };
    let noun = if batches == 1 { "batch" } else { "batches" };
    write!(out, "batch {batch_text}: {batches} {noun} per epoch")?;
    if batches == 1 && last != per_batch {
        write!(out, " ({last} rows)")?;
    } else if last != per_batch && batches > 0 {
        write!(out, " (the last of {last} rows)")?;
    }
    writeln!(out)?;
    writeln!(out, "loss: {}", loss_text(&p.loss))?;
    writeln!(
        out,
        "optimizer: {} (lr {})",
        p.optimizer.name(),
        human(p.optimizer.lr(), 6)
    )?;
    writeln!(
        out,
        "epochs: {}, shuffle: {}",
        p.train.epochs,
        if p.train.shuffle { "yes" } else { "no" }
    )?;
    writeln!(out)?;

    // ---- learning rates
    writeln!(
        out,
        "learning rate per epoch ({}):",
        schedule_text(&p.train.lr_schedule)
    )?;
    let base = p.optimizer.lr();
    let epochs = p.train.epochs;
    if let Schedule::ReduceOnPlateau {
        factor,
        patience,
        monitor,
    } = &p.train.lr_schedule
    {
        writeln!(
            out,
            "  starts at {} and depends on the run: multiplied by {} after more than {} epochs without a better {}",
            human(base, 6),
            human(*factor, 6),
            patience,
            monitor.name()
        )?;
        return Ok(());
    }
    // Runs of equal rates are one line: "epochs 1-10  0.01".
    let mut e = 1;
    while e <= epochs {
        let lr = planned_lr(&p.train.lr_schedule, base, e, epochs);
        let mut last = e;
        while last < epochs && planned_lr(&p.train.lr_schedule, base, last + 1, epochs) == lr {
            last += 1;
        }
        let range = if last == e {
            format!("epoch {e}")
        } else {
            format!("epochs {e}-{last}")
        };
        let value = lr.map_or_else(|| "depends on the run".to_string(), |v| human(v, 6));
        writeln!(out, "  {range:<16}{value}")?;
        e = last + 1;
    }
    Ok(())
}

/// Trainable parameters of a layer (§5): dense weights and biases, batch_norm
/// weights and biases (running statistics are not trainable).
fn trainable(layer: &Layer) -> usize {
    match layer.kind {
        LayerKind::Dense { units, bias, .. } => {
            units * layer.in_width + if bias { units } else { 0 }
        }
        LayerKind::BatchNorm { .. } => 2 * layer.out_width,
        _ => 0,
    }
}

fn layer_text(kind: &LayerKind) -> String {
    match kind {
        LayerKind::Dense { units, bias, .. } => {
            if *bias {
                format!("dense({units})")
            } else {
                format!("dense({units}, bias = false)")
            }
        }
        LayerKind::LeakyRelu { slope } => format!("leaky_relu({})", human(*slope, 6)),
        LayerKind::Elu { alpha } => format!("elu({})", human(*alpha, 6)),
        LayerKind::Dropout { p } => format!("dropout({})", human(*p, 6)),
        LayerKind::BatchNorm { momentum, eps } => {
            format!("batch_norm({}, {})", human(*momentum, 6), human(*eps, 6))
        }
        other => other.name().to_string(),
    }
}

fn init_text(init: &Init) -> String {
    match init {
        Init::Normal { std } => format!("normal({})", human(*std, 6)),
        Init::Uniform { limit } => format!("uniform({})", human(*limit, 6)),
        other => other.name().to_string(),
    }
}

fn loss_text(loss: &Loss) -> String {
    match loss {
        Loss::CrossEntropy { label_smoothing } if *label_smoothing != 0.0 => {
            format!(
                "cross_entropy(label_smoothing = {})",
                human(*label_smoothing, 6)
            )
        }
        Loss::CrossEntropy { .. } => "cross_entropy".into(),
        Loss::BinaryCrossEntropy => "binary_cross_entropy".into(),
        Loss::Mse => "mse".into(),
        Loss::Mae => "mae".into(),
        Loss::Huber { delta } => format!("huber({})", human(*delta, 6)),
    }
}

fn schedule_text(s: &Schedule) -> String {
    match s {
        Schedule::Constant => "constant".into(),
        Schedule::Step { every, factor } => format!("step({every}, {})", human(*factor, 6)),
        Schedule::Exponential { gamma } => format!("exponential({})", human(*gamma, 6)),
        Schedule::Cosine { min_lr } => format!("cosine({})", human(*min_lr, 6)),
        Schedule::Warmup { epochs, then } => {
            format!("warmup({epochs}, then = {})", schedule_text(then))
        }
        Schedule::ReduceOnPlateau {
            factor,
            patience,
            monitor,
        } => format!(
            "reduce_on_plateau({}, {patience}, monitor = {})",
            human(*factor, 6),
            monitor.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_the_spec() {
        let lr = |s: &Schedule, e| planned_lr(s, 0.1, e, 10).unwrap();
        assert_eq!(lr(&Schedule::Constant, 7), 0.1);
        let step = Schedule::Step {
            every: 3,
            factor: 0.5,
        };
        assert_eq!(
            [lr(&step, 1), lr(&step, 3), lr(&step, 4), lr(&step, 7)],
            [0.1, 0.1, 0.05, 0.025]
        );
        let exp = Schedule::Exponential { gamma: 0.5 };
        assert_eq!([lr(&exp, 1), lr(&exp, 3)], [0.1, 0.025]);
        let cos = Schedule::Cosine { min_lr: 0.0 };
        assert_eq!(lr(&cos, 1), 0.1);
        assert!((lr(&cos, 6) - 0.05).abs() < 1e-15); // (1 + cos(π/2)) / 2
        let warm = Schedule::Warmup {
            epochs: 4,
            then: Box::new(Schedule::Cosine { min_lr: 0.0 }),
        };
        assert_eq!([lr(&warm, 1), lr(&warm, 4)], [0.025, 0.1]);
        // Epoch 5 is the inner cosine's epoch 1 of 6; epoch 8 its epoch 4 (π/2).
        assert_eq!(lr(&warm, 5), 0.1);
        assert!((lr(&warm, 8) - 0.05).abs() < 1e-15);
        let plateau = Schedule::ReduceOnPlateau {
            factor: 0.1,
            patience: 2,
            monitor: crate::ir::Monitor::ValidLoss,
        };
        assert_eq!(planned_lr(&plateau, 0.1, 1, 10), None);
    }
}
