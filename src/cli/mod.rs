//! Command implementations that are more than glue: each command that needs its own
//! logic (a test runner, a sweep, a language server, …) lives in one file here, and
//! `main.rs` only parses arguments, calls it and maps the result to an exit status.
//!
//! Like `data`, `io` and `main.rs`, this module may touch files and start processes.

pub mod check;
pub mod child;
pub mod complete;
pub mod eval;
pub mod exit;
pub mod explain_model;
pub mod export_onnx;
pub mod export_torch;
pub mod files;
pub mod format;
pub mod lsp;
pub mod model_use;
pub mod options;
pub mod output;
pub mod predict;
pub mod recipe_files;
pub mod sweep;
pub mod test;
pub mod version;
