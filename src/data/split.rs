//! `split(train, FRACTION)` (§4): moves rows out of train into valid or test.

use rand::seq::index::sample;

use super::error::DataError;
use crate::ir::Table;
use crate::rng::ChaCha8Rng;

/// Moves round(`fraction` × `original_rows`) rows (at least 1), chosen by `rng`, out
/// of `train` into the returned table. Both keep their rows in file order.
///
/// `original_rows` is the train size before any split, so `valid` and `test`
/// fractions both refer to the file; `split` names the new split for the error.
pub fn split(
    train: &mut Table,
    original_rows: usize,
    fraction: f64,
    split: &'static str,
    rng: &mut ChaCha8Rng,
) -> Result<Table, DataError> {
    let taken = rows_taken(original_rows, fraction);
    if taken >= train.rows {
        return Err(DataError::SplitTooLarge {
            split,
            fraction,
            taken,
            remaining: train.rows,
        });
    }
    let mut chosen = vec![false; train.rows];
    for i in sample(rng, train.rows, taken) {
        chosen[i] = true;
    }
    let (f, t) = (train.features, train.targets);
    let mut out = Table {
        rows: taken,
        features: f,
        targets: t,
        x: Vec::with_capacity(taken * f),
        y: Vec::with_capacity(taken * t),
        lines: Vec::new(),
    };
    let mut keep_x = Vec::with_capacity((train.rows - taken) * f);
    let mut keep_y = Vec::with_capacity((train.rows - taken) * t);
    let mut keep_lines = Vec::with_capacity(train.lines.len().saturating_sub(taken));
    for (r, &moved) in chosen.iter().enumerate() {
        let (x, y, lines) = if moved {
            (&mut out.x, &mut out.y, &mut out.lines)
        } else {
            (&mut keep_x, &mut keep_y, &mut keep_lines)
        };
        x.extend_from_slice(&train.x[r * f..(r + 1) * f]);
        y.extend_from_slice(&train.y[r * t..(r + 1) * t]);
        if let Some(&line) = train.lines.get(r) {
            lines.push(line);
        }
    }
    train.rows -= taken;
    train.x = keep_x;
    train.y = keep_y;
    train.lines = keep_lines;
    Ok(out)
}

/// round(fraction × rows), at least 1 (NaN or negative fractions count as 0).
pub fn rows_taken(rows: usize, fraction: f64) -> usize {
    let n = (fraction * rows as f64).round();
    if n.is_finite() && n >= 1.0 {
        // `as` saturates for huge values; the caller rejects them as too large.
        n as usize
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row keeps its file line through the split (x holds the line number).
    #[test]
    fn rows_keep_their_lines() {
        use crate::rng::{generator, Stream};
        let lines: Vec<usize> = (2..12).collect();
        let mut train = Table {
            rows: 10,
            features: 1,
            targets: 1,
            x: lines.iter().map(|&l| l as f64).collect(),
            y: vec![0.0; 10],
            lines: lines.clone(),
        };
        let mut rng = generator(3, Stream::Data);
        let valid = split(&mut train, 10, 0.3, "valid", &mut rng).expect("split");
        assert_eq!((valid.rows, train.rows), (3, 7));
        for t in [&train, &valid] {
            assert_eq!(t.lines.len(), t.rows);
            let from_x: Vec<usize> = t.x.iter().map(|&v| v as usize).collect();
            assert_eq!(t.lines, from_x);
            assert!(t.lines.windows(2).all(|w| w[0] < w[1]), "file order");
        }
        let mut all = [train.lines, valid.lines].concat();
        all.sort_unstable();
        assert_eq!(all, lines);
    }

    #[test]
    fn rows_taken_rounds_and_floors_at_one() {
        assert_eq!(rows_taken(150, 0.2), 30);
        assert_eq!(rows_taken(10, 0.25), 3); // 2.5 rounds away from zero
        assert_eq!(rows_taken(3, 0.01), 1);
        assert_eq!(rows_taken(3, f64::NAN), 1);
    }
}
