//! `nnt explain` (§12): the plan of a checked program, as stable text.

use std::fmt::Write as _;

use super::number::human;
use crate::ir::{Batch, Init, Layer, LayerKind, Loss, Program, Schedule, Table};
use crate::train::layers;

/// The learning rate of epoch `epoch` (from 1) of `epochs` under `schedule` with
/// the optimizer's `base` rate (§9), as training computes it
/// ([`Schedule::rate`]); `None` for `reduce_on_plateau`, whose rates depend on
/// the run.
pub fn planned_lr(schedule: &Schedule, base: f64, epoch: usize, epochs: usize) -> Option<f64> {
    schedule.rate(base, epoch, epochs)
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
            // A layer an override gave is on no line of the recipe.
            if layer.line == 0 {
                "--set".to_string()
            } else {
                layer.line.to_string()
            },
            format!("[batch, {}]", layer.out_width),
            params.to_string(),
            // Only a dense layer has an initialiser; `init_from` replaces
            // every initialiser (issue 11, item 21).
            if let LayerKind::Dense { init, .. } = &layer.kind {
                if p.init_from.is_some() {
                    "init_from".into()
                } else {
                    init_text(init)
                }
            } else {
                String::new()
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
    if let Some(prep) = d.prep.as_ref().filter(|p| is_tabular(p, d)) {
        super::data_plan::write(out, prep, d)?;
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
    if !p.train.metrics.is_empty() {
        let names: Vec<&str> = p.train.metrics.iter().map(|m| m.name()).collect();
        writeln!(out, "metrics: {}", names.join(", "))?;
    }
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
    // Runs of equal rates are one line: "epochs 1-10  0.01". Long tables keep
    // their first and last runs and say how many epochs lie between them.
    let rates = Rates::new(&p.train.lr_schedule, base, epochs);
    let (head, tail) = rates.table();
    let range = |&(first, last): &(usize, usize)| {
        if last == first {
            format!("epoch {first}")
        } else {
            format!("epochs {first}-{last}")
        }
    };
    let width = head
        .iter()
        .chain(&tail)
        .map(|r| range(r).len() + 1)
        .max()
        .unwrap_or(0)
        .max(16);
    let line = |out: &mut String, run: (usize, usize)| {
        let value = rates.shown(run.0);
        writeln!(out, "  {:<width$}{value}", range(&run))
    };
    for &run in &head {
        line(out, run)?;
    }
    if let (Some(&(_, shown)), Some(&(next, _))) = (head.last(), tail.first()) {
        let gap = next.saturating_sub(shown).saturating_sub(1);
        let noun = if gap == 1 { "epoch" } else { "epochs" };
        writeln!(
            out,
            "  ... {gap} {noun} not shown (epochs {}-{})",
            shown + 1,
            next - 1
        )?;
    }
    for &run in &tail {
        line(out, run)?;
    }
    Ok(())
}

/// True when the data was read from a CSV file (§14: `explain` lists its columns
/// with their roles and the classes), or uses something of §14 (class names,
/// categories, chosen or ignored columns, missing-value handling, target
/// normalisation). Generated data keeps the short summary.
fn is_tabular(p: &crate::data::prep::Preparation, d: &crate::ir::Data) -> bool {
    use crate::data::prep::FeatureKind;
    !d.train.lines.is_empty()
        || p.class_names().is_some()
        || !p.ignored.is_empty()
        || p.targets.is_some()
        || p.missing != crate::ir::Missing::Error
        || d.dropped_rows.is_some()
        || p.features
            .iter()
            .any(|f| matches!(f.kind, FeatureKind::Categorical { .. }))
        || p.features
            .windows(2)
            .any(|w| w[0].column.index > w[1].column.index)
}

/// The first and last epoch of a run of equal rates.
type Run = (usize, usize);

/// At most this many runs of equal rates are listed: a longer table shows the
/// first and the last half of them and one line for the epochs in between.
pub const MAX_RATE_RUNS: usize = 40;

/// The planned rates of a run, found lazily: the work is proportional to the runs
/// shown (times the logarithm of their lengths), never to the number of epochs,
/// so `epochs = 9223372036854775807` or a cosine over 10^8 epochs ends at once.
/// Rates are compared as shown (six significant digits): a cosine over many
/// epochs is one line per change of the shown value. Rounding keeps a monotone
/// sequence monotone, so equal shown rates stay consecutive within a piece.
struct Rates<'a> {
    schedule: &'a Schedule,
    base: f64,
    epochs: usize,
    /// The epoch ranges (inclusive) over which the rate is monotone: a warmup,
    /// then the schedule after it. Within one, equal rates are consecutive.
    pieces: Vec<(usize, usize)>,
}

impl<'a> Rates<'a> {
    fn new(schedule: &'a Schedule, base: f64, epochs: usize) -> Self {
        let mut pieces = Vec::new();
        monotone_pieces(schedule, 0, epochs, &mut pieces);
        Rates {
            schedule,
            base,
            epochs,
            pieces,
        }
    }

    /// The rate of `epoch` as shown: epochs whose rates show alike are one run.
    fn shown(&self, epoch: usize) -> String {
        planned_lr(self.schedule, self.base, epoch, self.epochs)
            .map_or_else(|| "depends on the run".to_string(), |v| human(v, 6))
    }

    /// The monotone piece holding `epoch`.
    fn piece(&self, epoch: usize) -> (usize, usize) {
        self.pieces
            .iter()
            .copied()
            .find(|&(a, b)| a <= epoch && epoch <= b)
            .unwrap_or((epoch, epoch))
    }

    /// The other end of the run of equal rates through `from`, looking forward or
    /// backward: a galloping then binary search inside each monotone piece, and on
    /// into the next piece while the rate at its edge is still equal.
    fn run_edge(&self, from: usize, forward: bool) -> usize {
        let lr = self.shown(from);
        let equal = |e: usize| self.shown(e) == lr;
        let mut edge = from;
        loop {
            let (a, b) = self.piece(edge);
            let limit = if forward { b } else { a };
            // `known` has the rate; `beyond` does not, or lies past the piece.
            let mut known = edge;
            let mut step = 1usize;
            let beyond = loop {
                let probe = if forward {
                    known.checked_add(step).filter(|&p| p <= limit)
                } else {
                    known.checked_sub(step).filter(|&p| p >= limit)
                };
                match probe {
                    Some(p) if equal(p) => {
                        known = p;
                        step = step.saturating_mul(2);
                    }
                    Some(p) => break p,
                    None if known != limit && equal(limit) => {
                        known = limit;
                        break if forward {
                            limit.saturating_add(1)
                        } else {
                            limit - 1
                        };
                    }
                    None if known == limit => {
                        break if forward {
                            limit.saturating_add(1)
                        } else {
                            limit - 1
                        }
                    }
                    None => break limit,
                }
            };
            let (mut lo, mut hi) = if forward {
                (known, beyond)
            } else {
                (beyond, known)
            };
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if equal(mid) == forward {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            edge = if forward { lo } else { hi };
            let next = if forward {
                edge.checked_add(1)
                    .filter(|&e| edge == b && e <= self.epochs)
            } else {
                Some(edge - 1).filter(|&e| edge == a && e >= 1)
            };
            match next {
                Some(e) if equal(e) => edge = e,
                _ => return edge,
            }
        }
    }

    /// The runs to list: all of them when there are at most [`MAX_RATE_RUNS`],
    /// else the first and the last half (the second list then non-empty).
    fn table(&self) -> (Vec<Run>, Vec<Run>) {
        let mut head = Vec::new();
        let mut e = 1;
        while e <= self.epochs && head.len() <= MAX_RATE_RUNS {
            let last = self.run_edge(e, true);
            head.push((e, last));
            match last.checked_add(1) {
                Some(next) => e = next,
                None => break,
            }
        }
        if head.len() <= MAX_RATE_RUNS {
            return (head, Vec::new());
        }
        head.truncate(MAX_RATE_RUNS / 2);
        let shown = head.last().map_or(0, |r| r.1);
        let mut tail = Vec::new();
        let mut e = self.epochs;
        while e > shown && tail.len() < MAX_RATE_RUNS / 2 {
            let first = self.run_edge(e, false).max(shown + 1);
            tail.push((first, e));
            e = first - 1;
        }
        tail.reverse();
        (head, tail)
    }
}

/// The epoch ranges of `schedule` (over `epochs` epochs after `offset`) on which
/// its rate is monotone: a warmup rises, then every other schedule falls.
fn monotone_pieces(
    schedule: &Schedule,
    offset: usize,
    epochs: usize,
    out: &mut Vec<(usize, usize)>,
) {
    if epochs == 0 {
        return;
    }
    match schedule {
        Schedule::Warmup { epochs: w, then } => {
            let w = (*w).min(epochs);
            if w > 0 {
                out.push((offset + 1, offset + w));
            }
            monotone_pieces(then, offset + w, epochs - w, out);
        }
        Schedule::Constant
        | Schedule::Step { .. }
        | Schedule::Exponential { .. }
        | Schedule::Cosine { .. }
        | Schedule::ReduceOnPlateau { .. } => out.push((offset + 1, offset + epochs)),
    }
}

/// Trainable parameters of a layer (§5): dense weights and biases, batch_norm
/// and layer_norm weights and biases (running statistics are not trainable).
pub fn trainable(layer: &Layer) -> usize {
    layer.trainable()
}

fn layer_text(kind: &LayerKind) -> String {
    layers::concept(kind).text(|x| human(x, 6))
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

    /// The runs by a plain scan of every epoch, as the table was built before.
    fn scanned(s: &Schedule, base: f64, epochs: usize) -> Vec<(usize, usize)> {
        let rates = Rates::new(s, base, epochs);
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for e in 1..=epochs {
            match runs.last_mut() {
                Some(run) if rates.shown(run.0) == rates.shown(e) => run.1 = e,
                _ => runs.push((e, e)),
            }
        }
        runs
    }

    /// Issue 11, item 11: the lazily found runs are those of a scan of every epoch
    /// (the first and last halves when there are more than `MAX_RATE_RUNS`).
    #[test]
    fn lazy_runs_match_a_full_scan() {
        let schedules = [
            Schedule::Constant,
            Schedule::Step {
                every: 3,
                factor: 0.5,
            },
            Schedule::Step {
                every: 1,
                factor: 1.0,
            },
            Schedule::Step {
                every: 7,
                factor: 1e-200,
            },
            Schedule::Exponential { gamma: 0.9 },
            Schedule::Exponential { gamma: 1e-30 },
            Schedule::Cosine { min_lr: 0.0 },
            Schedule::Cosine { min_lr: 0.5 },
            Schedule::Warmup {
                epochs: 5,
                then: Box::new(Schedule::Step {
                    every: 4,
                    factor: 0.5,
                }),
            },
            Schedule::Warmup {
                epochs: 3,
                then: Box::new(Schedule::Cosine { min_lr: 0.0 }),
            },
            Schedule::Warmup {
                epochs: 1,
                then: Box::new(Schedule::Constant),
            },
        ];
        for s in &schedules {
            for epochs in (0..=130).chain([997, 5000]) {
                let all = scanned(s, 0.1, epochs);
                let (head, tail) = Rates::new(s, 0.1, epochs).table();
                if all.len() <= MAX_RATE_RUNS {
                    assert_eq!((&head, tail.len()), (&all, 0), "{s:?} over {epochs}");
                } else {
                    let half = MAX_RATE_RUNS / 2;
                    assert_eq!(head, all[..half], "{s:?} over {epochs}");
                    assert_eq!(tail, all[all.len() - half..], "{s:?} over {epochs}");
                }
            }
        }
    }

    /// A table over 9 223 372 036 854 775 807 epochs, or a cosine over 10^8, is
    /// bounded and found at once.
    #[test]
    fn huge_epoch_counts_are_bounded() {
        for (s, epochs) in [
            (Schedule::Constant, i64::MAX as usize),
            (Schedule::Cosine { min_lr: 0.0001 }, 100_000_000),
            (Schedule::Exponential { gamma: 0.5 }, i64::MAX as usize),
            (
                Schedule::Step {
                    every: 1,
                    factor: 0.999,
                },
                usize::MAX,
            ),
        ] {
            let (head, tail) = Rates::new(&s, 0.01, epochs).table();
            assert!(head.len() + tail.len() <= MAX_RATE_RUNS, "{s:?}");
            assert_eq!(head.first().map(|r| r.0), Some(1));
            let last = tail.last().or(head.last()).map(|r| r.1);
            assert_eq!(last, Some(epochs), "{s:?}");
        }
    }
}
