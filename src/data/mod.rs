//! The data stage (§4): reads CSV files (plain or gzip), generates synthetic sets,
//! splits valid/test off train and normalises, all seeded.
//!
//! Order of the Data stream: the train source, then `valid`, then `test` (each a
//! split or a source of its own), so adding a test split never changes the valid
//! rows. Normalisation statistics come from the final train split only.

mod csv;
mod error;
pub mod normalize;
pub mod split;
pub mod synthetic;

pub use error::{DataError, LineSource};

use crate::ir::{Data, DataSpec, SourceSpec, Table};
use crate::rng::{generator, ChaCha8Rng, Stream};

/// Loads, splits and normalises the data of a recipe.
///
/// Class-label validity (integers in range) is the checker's business: this only
/// guarantees that every cell is a finite number and every split has the train
/// split's widths.
pub fn load(spec: &DataSpec, seed: u64) -> Result<Data, DataError> {
    let mut rng = generator(seed, Stream::Data);
    let mut train = match &spec.train {
        SourceSpec::Split { .. } => return Err(DataError::SplitAsTrain),
        source => read_source(source, seed, &mut rng)?,
    };
    let original_rows = train.rows;
    let valid = side_split(
        &spec.valid,
        "valid",
        &mut train,
        original_rows,
        seed,
        &mut rng,
    )?;
    let test = side_split(
        &spec.test,
        "test",
        &mut train,
        original_rows,
        seed,
        &mut rng,
    )?;
    let mut data = Data { train, valid, test };
    normalize::normalize(&mut data, spec.normalize);
    Ok(data)
}

/// Reads one source that is not a split.
fn read_source(source: &SourceSpec, seed: u64, rng: &mut ChaCha8Rng) -> Result<Table, DataError> {
    match *source {
        SourceSpec::Csv(ref csv) => csv::read(csv),
        SourceSpec::Split { .. } => Err(DataError::SplitAsTrain),
        SourceSpec::Blobs {
            n,
            features,
            classes,
            spread,
        } => synthetic::blobs(seed, rng, n, features, classes, spread),
        SourceSpec::Spirals { n, classes, noise } => synthetic::spirals(rng, n, classes, noise),
        SourceSpec::Moons { n, noise } => synthetic::moons(rng, n, noise),
        SourceSpec::Xor { n, noise } => synthetic::xor(rng, n, noise),
        SourceSpec::Linear {
            n,
            features,
            targets,
            noise,
        } => synthetic::linear(seed, rng, n, features, targets, noise),
    }
}

/// The valid or test split: taken from train, or read from its own source.
fn side_split(
    source: &Option<SourceSpec>,
    name: &'static str,
    train: &mut Table,
    original_rows: usize,
    seed: u64,
    rng: &mut ChaCha8Rng,
) -> Result<Option<Table>, DataError> {
    let table = match source {
        None => return Ok(None),
        Some(SourceSpec::Split { fraction }) => {
            split::split(train, original_rows, *fraction, name, rng)?
        }
        Some(other) => read_source(other, seed, rng)?,
    };
    if table.features != train.features || table.targets != train.targets {
        return Err(DataError::WidthMismatch {
            split: name,
            found: table.features,
            found_targets: table.targets,
            expected: train.features,
            expected_targets: train.targets,
        });
    }
    Ok(Some(table))
}
