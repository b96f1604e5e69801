//! The one seeded generator.
//!
//! Architecture invariant: all randomness comes from `ChaCha8Rng` seeded with the
//! recipe's `seed`. Each purpose reads its own ChaCha stream of that one seed, so
//! that, for example, adding a valid split does not change the initial weights, and
//! a checkpoint can record each stream's word position exactly.

use rand::SeedableRng;
pub use rand_chacha::ChaCha8Rng;

/// What a stream of the seeded generator is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Synthetic data sets and `split(...)`.
    Data = 0,
    /// Weight initialisation.
    Init = 1,
    /// Per-epoch reshuffling of the train rows.
    Shuffle = 2,
    /// Dropout masks.
    Dropout = 3,
    /// `nnt sweep --random`: which combinations are drawn.
    Sweep = 4,
}

/// The generator for one purpose.
pub fn generator(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}
