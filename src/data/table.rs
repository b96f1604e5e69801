//! The plain data types shared by the data stage and the IR: a split as a table
//! and the §14 policies the preparation is configured with. A leaf module (it
//! imports nothing of the crate), so `ir` can carry the fitted
//! [`super::prep::Preparation`] while the preparation uses these types, without
//! an import cycle; `ir` re-exports them (`ir::Table`, `ir::Missing`,
//! `ir::Normalize`).

/// `missing = error | drop | mean | median | zero` (§14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    #[default]
    Error,
    Drop,
    Mean,
    Median,
    Zero,
}

impl Missing {
    pub const ALL: [Missing; 5] = [
        Missing::Error,
        Missing::Drop,
        Missing::Mean,
        Missing::Median,
        Missing::Zero,
    ];
    pub fn name(&self) -> &'static str {
        match self {
            Missing::Error => "error",
            Missing::Drop => "drop",
            Missing::Mean => "mean",
            Missing::Median => "median",
            Missing::Zero => "zero",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    #[default]
    None,
    Standard,
    /// Spelt as the recipe spells it in a model file's metadata (`minmax`);
    /// files written before read as `min_max` too.
    #[serde(rename = "minmax", alias = "min_max")]
    MinMax,
}

impl Normalize {
    pub const ALL: [Normalize; 3] = [Normalize::None, Normalize::Standard, Normalize::MinMax];
    /// The recipe name (`normalize = …`).
    pub fn name(&self) -> &'static str {
        match self {
            Normalize::None => "none",
            Normalize::Standard => "standard",
            Normalize::MinMax => "minmax",
        }
    }
}

/// One split, in memory, row-major, in f64 (converted to the recipe's precision by
/// the trainer).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub rows: usize,
    pub features: usize,
    pub targets: usize,
    /// `rows × features`, row-major.
    pub x: Vec<f64>,
    /// `rows × targets`, row-major. Class labels are stored as exact integers.
    pub y: Vec<f64>,
    /// The 1-based line of each row in its CSV file, so that a diagnostic about
    /// a value can name the line; empty for generated data.
    pub lines: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model file's metadata spells `normalize` as the recipe does
    /// (model-files.md: "the recipe's settings"), and still reads the
    /// `min_max` of files written before.
    #[test]
    fn normalize_is_stored_as_the_recipe_spells_it() {
        for n in Normalize::ALL {
            let stored = serde_json::to_string(&n).unwrap_or_default();
            assert_eq!(stored, format!("\"{}\"", n.name()));
        }
        let old: Result<Normalize, _> = serde_json::from_str("\"min_max\"");
        assert_eq!(old.ok(), Some(Normalize::MinMax));
    }
}
