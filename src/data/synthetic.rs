//! Synthetic data sets (§4), drawn from the seeded generator's Data stream, so a
//! recipe runs with no file at all.
//!
//! Each set has a *structure* (blob centres, the true weights of `linear`) and
//! *points*. The structure is drawn from a far-away position of the Data stream
//! that depends on the seed only, so `train = blobs(...)` and `valid = blobs(...)`
//! with the same shape share their centres (the same problem, fresh samples); the
//! points are drawn from the running Data stream, so each split gets new ones.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::StandardNormal;

use super::error::DataError;
use crate::ir::Table;
use crate::math;
use crate::rng::{generator, ChaCha8Rng, Stream};

/// Word position of the structure draws in the Data stream: far beyond anything the
/// points and splits of any real data set consume.
const STRUCTURE_WORD_POS: u128 = 1 << 60;

/// `blobs(n, features, classes, spread)`: class k's points are N(centre_k, spread²)
/// per feature, centres uniform in [−10, 10]^features (sklearn's `center_box`);
/// classes as balanced as n allows, rows shuffled.
pub fn blobs(
    seed: u64,
    rng: &mut ChaCha8Rng,
    n: usize,
    features: usize,
    classes: usize,
    spread: f64,
) -> Result<Table, DataError> {
    const NAME: &str = "blobs";
    positive(NAME, "n", n)?;
    positive(NAME, "features", features)?;
    positive(NAME, "classes", classes)?;
    finite_non_negative(NAME, "spread", spread)?;
    fits(NAME, n, features)?;
    fits(NAME, classes, features)?;
    let mut structure = structure_rng(seed);
    let centres: Vec<f64> = (0..classes * features)
        .map(|_| structure.gen_range(-10.0..=10.0))
        .collect();
    let mut x = Vec::with_capacity(n * features);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % classes;
        for f in 0..features {
            x.push(centres[class * features + f] + spread * normal(rng));
        }
        y.push(class as f64);
    }
    Ok(shuffled(rng, n, features, 1, x, y))
}

/// `spirals(n, classes, noise)`: K interleaved arms. Point j of arm k has radius
/// r = (j + 1)/n_k and angle 2πk/K + 4r + noise·N(0, 1); (x, y) = r·(sin, cos).
pub fn spirals(
    rng: &mut ChaCha8Rng,
    n: usize,
    classes: usize,
    noise: f64,
) -> Result<Table, DataError> {
    const NAME: &str = "spirals";
    positive(NAME, "n", n)?;
    positive(NAME, "classes", classes)?;
    finite_non_negative(NAME, "noise", noise)?;
    fits(NAME, n, 2)?;
    let mut x = Vec::with_capacity(n * 2);
    let mut y = Vec::with_capacity(n);
    for k in 0..classes {
        let count = class_count(n, classes, k);
        for j in 0..count {
            let r = (j + 1) as f64 / count as f64;
            let angle =
                std::f64::consts::TAU * k as f64 / classes as f64 + 4.0 * r + noise * normal(rng);
            x.push(r * math::sin(angle));
            x.push(r * math::cos(angle));
            y.push(k as f64);
        }
    }
    Ok(shuffled(rng, n, 2, 1, x, y))
}

/// `moons(n, noise)`: sklearn's `make_moons`: ⌊n/2⌋ points on the upper half circle
/// (class 0) and the rest on the shifted lower one (class 1), evenly spaced in
/// angle, plus N(0, noise²) on each coordinate; rows shuffled.
pub fn moons(rng: &mut ChaCha8Rng, n: usize, noise: f64) -> Result<Table, DataError> {
    const NAME: &str = "moons";
    positive(NAME, "n", n)?;
    finite_non_negative(NAME, "noise", noise)?;
    fits(NAME, n, 2)?;
    let outer = n / 2;
    let inner = n - outer;
    let mut x = Vec::with_capacity(n * 2);
    let mut y = Vec::with_capacity(n);
    for (count, class) in [(outer, 0usize), (inner, 1)] {
        for j in 0..count {
            let t = if count > 1 {
                std::f64::consts::PI * j as f64 / (count - 1) as f64
            } else {
                0.0
            };
            let (px, py) = if class == 0 {
                (math::cos(t), math::sin(t))
            } else {
                (1.0 - math::cos(t), 1.0 - math::sin(t) - 0.5)
            };
            x.push(px + noise * normal(rng));
            x.push(py + noise * normal(rng));
            y.push(class as f64);
        }
    }
    Ok(shuffled(rng, n, 2, 1, x, y))
}

/// `xor(n, noise)`: points uniform in [−1, 1]², label (x > 0) xor (y > 0) of the
/// clean point, then N(0, noise²) added to each coordinate.
pub fn xor(rng: &mut ChaCha8Rng, n: usize, noise: f64) -> Result<Table, DataError> {
    const NAME: &str = "xor";
    positive(NAME, "n", n)?;
    finite_non_negative(NAME, "noise", noise)?;
    fits(NAME, n, 2)?;
    let mut x = Vec::with_capacity(n * 2);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let a: f64 = rng.gen_range(-1.0..=1.0);
        let b: f64 = rng.gen_range(-1.0..=1.0);
        let label = (a > 0.0) != (b > 0.0);
        x.push(a + noise * normal(rng));
        x.push(b + noise * normal(rng));
        y.push(f64::from(u8::from(label)));
    }
    Ok(Table {
        rows: n,
        features: 2,
        targets: 1,
        x,
        y,
        lines: Vec::new(),
    })
}

/// `linear(n, features, targets, noise)`: X ~ N(0, 1), true weights W ~ N(0, 1)
/// (`features × targets`, from the structure draws), y = XW + N(0, noise²).
pub fn linear(
    seed: u64,
    rng: &mut ChaCha8Rng,
    n: usize,
    features: usize,
    targets: usize,
    noise: f64,
) -> Result<Table, DataError> {
    const NAME: &str = "linear";
    positive(NAME, "n", n)?;
    positive(NAME, "features", features)?;
    positive(NAME, "targets", targets)?;
    finite_non_negative(NAME, "noise", noise)?;
    fits(NAME, n, features.saturating_add(targets))?;
    fits(NAME, features, targets)?;
    let mut structure = structure_rng(seed);
    let w: Vec<f64> = (0..features * targets)
        .map(|_| normal(&mut structure))
        .collect();
    let mut x = Vec::with_capacity(n * features);
    let mut y = Vec::with_capacity(n * targets);
    for _ in 0..n {
        let row_start = x.len();
        for _ in 0..features {
            x.push(normal(rng));
        }
        for t in 0..targets {
            let clean: f64 = (0..features)
                .map(|f| x[row_start + f] * w[f * targets + t])
                .sum();
            y.push(clean + noise * normal(rng));
        }
    }
    Ok(Table {
        rows: n,
        features,
        targets,
        x,
        y,
        lines: Vec::new(),
    })
}

// ---------------------------------------------------------------- helpers

fn structure_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = generator(seed, Stream::Data);
    rng.set_word_pos(STRUCTURE_WORD_POS);
    rng
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// Rows of class k when n rows are spread over `classes` (the first n mod classes
/// classes get one more).
fn class_count(n: usize, classes: usize, k: usize) -> usize {
    n / classes + usize::from(k < n % classes)
}

/// The table with its rows in a seeded random order (as sklearn's `shuffle=True`),
/// so that `shuffle = false` batches still mix the classes.
fn shuffled(
    rng: &mut ChaCha8Rng,
    rows: usize,
    features: usize,
    targets: usize,
    x: Vec<f64>,
    y: Vec<f64>,
) -> Table {
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(rng);
    let mut sx = Vec::with_capacity(x.len());
    let mut sy = Vec::with_capacity(y.len());
    for &r in &order {
        sx.extend_from_slice(&x[r * features..(r + 1) * features]);
        sy.extend_from_slice(&y[r * targets..(r + 1) * targets]);
    }
    Table {
        rows,
        features,
        targets,
        x: sx,
        y: sy,
        lines: Vec::new(),
    }
}

/// Most cells a synthetic table may have (4 GiB of f64): larger requests are
/// errors, not an allocation failure.
const MAX_CELLS: usize = 1 << 29;

fn fits(source_name: &'static str, rows: usize, width: usize) -> Result<(), DataError> {
    match rows.checked_mul(width) {
        Some(cells) if cells <= MAX_CELLS => Ok(()),
        _ => Err(DataError::InvalidSynthetic {
            source_name,
            reason: format!("{rows} × {width} values is too large (at most {MAX_CELLS})"),
        }),
    }
}

fn positive(source_name: &'static str, arg: &str, value: usize) -> Result<(), DataError> {
    if value == 0 {
        return Err(DataError::InvalidSynthetic {
            source_name,
            reason: format!("`{arg}` must be at least 1"),
        });
    }
    Ok(())
}

fn finite_non_negative(source_name: &'static str, arg: &str, value: f64) -> Result<(), DataError> {
    if !value.is_finite() || value < 0.0 {
        return Err(DataError::InvalidSynthetic {
            source_name,
            reason: format!("`{arg}` must be a finite number ≥ 0, not {value}"),
        });
    }
    Ok(())
}
