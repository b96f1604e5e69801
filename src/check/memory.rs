//! The memory a checked program needs to train, bounded at check time (issue 11,
//! item 12): 100 × `dense(16384)` used to pass `check` and abort the run while
//! allocating 213 GB (with sgd).
//!
//! The estimate counts what the trainer allocates up front: the parameters and
//! their gradients, the optimizer's state (momentum, moments, …), a copy of the
//! best parameters under early stopping, and the activations and their gradients
//! for the largest batch the network is built for (the batch size, or an
//! evaluation chunk of up to 512 rows), plus dropout masks and batch_norm caches.
//! The data is already in memory when this runs and is not counted.
//!
//! The limit is a fixed [`LIMIT`] (16 GiB), not a fraction of the machine's
//! memory, so that a recipe checks the same everywhere.

use crate::ast::Span;
use crate::ir::{Precision, Program};

use super::error::CheckError;

/// The most memory a program may need to train: 16 GiB.
pub const LIMIT: u128 = 16 << 30;

/// The bytes a program needs, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Parameters, their gradients, and a best copy under early stopping.
    pub parameters: u128,
    pub optimizer: u128,
    pub activations: u128,
    /// Rows the network's buffers hold.
    pub rows: usize,
}

impl Footprint {
    pub fn total(&self) -> u128 {
        self.parameters + self.optimizer + self.activations
    }
}

/// What `program` needs to train.
pub fn footprint(program: &Program) -> Footprint {
    let elem: u128 = match program.precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    };
    let model = &program.model;
    let mut params: u128 = 0;
    let mut widths: u128 = model.input_width as u128;
    let mut caches: u128 = 0;
    for l in &model.layers {
        let o = l.out_width as u128;
        // Weights and biases, batch_norm's running statistics.
        params += l.trainable() as u128 + l.kind.buffers(l.out_width) as u128;
        // A normalised copy per row (and layer_norm's statistics); dropout's mask.
        if l.kind.caches_rows() {
            caches += o;
        }
        widths += o;
    }
    let state = program.optimizer.state_buffers() as u128;
    let rows = program.row_capacity();
    let copies = 2 + u128::from(program.train.early_stop.is_some());
    Footprint {
        parameters: copies * params * elem,
        optimizer: state * params * elem,
        // Activations and their gradients, then the per-row caches.
        activations: (2 * widths + caches) * rows as u128 * elem,
        rows,
    }
}

/// A size for people: "214 GB", "1.5 GB", "16 GiB" for the limit.
pub fn bytes(n: u128) -> String {
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `model_too_large` when `program` needs more than [`LIMIT`]; `span` is the
/// model section's.
pub fn check(program: &Program, span: Span) -> Option<CheckError> {
    let f = footprint(program);
    if f.total() <= LIMIT {
        return None;
    }
    Some(CheckError::ModelTooLarge {
        needed: bytes(f.total()),
        parts: format!(
            "parameters and gradients {}, optimizer state {}, activations for {} rows {}",
            bytes(f.parameters),
            bytes(f.optimizer),
            f.rows,
            bytes(f.activations)
        ),
        limit: format!("{} (16 GiB)", bytes(LIMIT)),
        span,
        help: Some(if f.activations <= f.parameters + f.optimizer {
            "use fewer or narrower layers".into()
        } else if f.rows > program.batch_rows() {
            // The rows are the valid or test evaluation's, not the batch's.
            format!(
                "use fewer or narrower layers: the valid and test splits are evaluated {} rows at a time, so a smaller batch does not help",
                f.rows
            )
        } else {
            "use a smaller batch, or fewer or narrower layers".into()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(bytes(214_000_000_000), "214 GB");
    }

    /// The help names what sets the activations' rows: the batch, or the
    /// valid split's evaluation chunk (a smaller batch changed nothing there).
    #[test]
    fn the_help_names_what_sets_the_rows() {
        let help = |valid: &str, batch: usize| {
            let recipe = format!(
                "data {{\n    train = blobs(n = 600, features = 2, classes = 2)\n{valid}}}\n\
                 model {{\n    dense(4000000)\n    relu\n    dense(2)\n}}\nloss = cross_entropy\n\
                 optimizer = sgd(lr = 0.01)\ntrain {{ epochs = 1; batch = {batch} }}\n"
            );
            let r = crate::check::check_recipe(
                "r.nnt",
                recipe.as_bytes(),
                std::path::Path::new("."),
                &crate::check::CheckOptions::default(),
            );
            let e = r.errors.iter().find(|e| {
                e.code()
                    .is_some_and(|c| c.to_string() == "nnt::check::model_too_large")
            });
            e.and_then(|e| e.help()).map(|h| h.to_string())
        };
        let with_valid = help("    valid = split(train, 0.5)\n", 32);
        assert!(
            with_valid
                .as_deref()
                .is_some_and(|h| h.contains("300 rows at a time")),
            "{with_valid:?}"
        );
        let batch_only = help("", 2048);
        assert_eq!(
            batch_only.as_deref(),
            Some("use a smaller batch, or fewer or narrower layers")
        );
    }
}
