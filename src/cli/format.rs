//! `nnt fmt` (also the language server's formatting and `nnt sweep`'s saved
//! recipes): [`crate::fmt`]'s canonical layout with the top-level items in the
//! order of their declarations, and for a recipe that does not parse, the
//! diagnostic `nnt check` shows.

use crate::ast::Recipe;
use crate::check;

/// Parses `bytes` and returns the canonical text, or the checker's diagnostic
/// (with its source attached) when the recipe is not UTF-8 or does not parse.
pub fn format_recipe(
    name: &str,
    bytes: &[u8],
) -> Result<String, Box<dyn miette::Diagnostic + Send + Sync + 'static>> {
    if let Some(text) = crate::fmt::format_text(bytes, &check::catalog::canonical_order()) {
        return Ok(text);
    }
    let report = check::resolve_recipe(name, bytes, std::path::Path::new("."), &Default::default());
    Err(report.errors.into_iter().next().unwrap_or_else(|| {
        Box::new(
            miette::MietteDiagnostic::new(format!("{name} does not parse"))
                .with_code("nnt::syntax::unexpected"),
        )
    }))
}

/// A parsed recipe in the canonical layout; `text` is its source.
pub fn format_ast(recipe: &Recipe, text: &str) -> String {
    crate::fmt::format_ast(recipe, text, &check::catalog::canonical_order())
}

/// A recipe's canonical layout without comments or the source's blank lines
/// ([`crate::fmt::config_text`]).
pub fn config_text(recipe: &Recipe) -> String {
    crate::fmt::config_text(recipe, &check::catalog::canonical_order())
}
