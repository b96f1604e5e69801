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
    let chosen = choose(train.rows, original_rows, fraction, split, rng)?;
    let taken = chosen.iter().filter(|&&c| c).count();
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

/// The rows `split` moves out of a train split of `rows` rows: round(`fraction`
/// × `original_rows`) of them (at least 1), chosen by `rng`.
pub fn choose(
    rows: usize,
    original_rows: usize,
    fraction: f64,
    split: &'static str,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<bool>, DataError> {
    let taken = rows_taken(original_rows, fraction);
    if taken >= rows {
        return Err(DataError::SplitTooLarge {
            split,
            fraction,
            taken,
            remaining: rows,
        });
    }
    let mut chosen = vec![false; rows];
    for i in sample(rng, rows, taken) {
        chosen[i] = true;
    }
    Ok(chosen)
}

/// `split(train, fraction, stratify = true)` (§14): `class[r]` is the class of
/// train row r (classes numbered in their order), `original[c]` the rows class c
/// had before any split. Each class gives round(`fraction` × its original rows)
/// rows, at least one when it has two or more, and always leaves one in train;
/// classes are taken in order, each chosen by `rng` among its remaining rows.
pub fn choose_stratified(
    class: &[usize],
    original: &[usize],
    fraction: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<bool> {
    let mut chosen = vec![false; class.len()];
    for (c, &orig) in original.iter().enumerate() {
        let members: Vec<usize> = (0..class.len()).filter(|&r| class[r] == c).collect();
        let left = members.len();
        if left < 2 {
            continue;
        }
        let n = (fraction * orig as f64).round();
        let want = if n.is_finite() && n >= 1.0 {
            n as usize
        } else {
            1
        };
        let take = want.min(left - 1);
        for i in sample(rng, left, take) {
            chosen[members[i]] = true;
        }
    }
    chosen
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
    fn stratified_takes_each_class_share() {
        use crate::rng::{generator, Stream};
        // 10 rows of class 0, 20 of class 1, 1 of class 2, interleaved.
        let mut class = Vec::new();
        for i in 0..30 {
            class.push(if i % 3 == 0 { 0 } else { 1 });
        }
        class.push(2);
        let original = [10, 20, 1];
        let mut rng = generator(5, Stream::Data);
        let chosen = choose_stratified(&class, &original, 0.2, &mut rng);
        let taken = |c: usize| {
            (0..class.len())
                .filter(|&r| chosen[r] && class[r] == c)
                .count()
        };
        assert_eq!([taken(0), taken(1), taken(2)], [2, 4, 0]);
        // Small classes give at least one row but always keep one in train.
        let class = vec![0, 0, 1, 1, 1];
        let chosen = choose_stratified(&class, &[2, 3], 0.9, &mut rng);
        let taken = |c: usize| {
            (0..class.len())
                .filter(|&r| chosen[r] && class[r] == c)
                .count()
        };
        assert_eq!([taken(0), taken(1)], [1, 2]);
        let chosen = choose_stratified(&class, &[2, 3], 0.01, &mut rng);
        let taken = |c: usize| {
            (0..class.len())
                .filter(|&r| chosen[r] && class[r] == c)
                .count()
        };
        assert_eq!([taken(0), taken(1)], [1, 1]);
    }

    #[test]
    fn rows_taken_rounds_and_floors_at_one() {
        assert_eq!(rows_taken(150, 0.2), 30);
        assert_eq!(rows_taken(10, 0.25), 3); // 2.5 rounds away from zero
        assert_eq!(rows_taken(3, 0.01), 1);
        assert_eq!(rows_taken(3, f64::NAN), 1);
    }
}
