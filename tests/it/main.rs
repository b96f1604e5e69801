//! All integration tests in one binary: one link of the crate instead of one
//! per file, and one harness that runs every file's tests side by side.
//! (`tests/engine_alloc.rs` stays on its own: it installs a counting global
//! allocator, which would see every other test's allocations.)

mod common;
#[path = "../engine_support/mod.rs"]
mod engine_support;

mod bad_error_messages;
mod check_api;
mod check_fixtures;
mod check_ir;
mod cli;
mod cli_outputs_guard;
mod cli_test;
mod data_errors;
mod data_load;
mod data_prep;
mod declarations;
mod engine_conformance;
mod engine_runs;
mod engine_threads;
mod engine_threads_n;
mod experiments;
mod export_torch;
mod fmt;
mod gradcheck;
mod hardening_cli;
mod hardening_io;
mod hardening_props;
mod install;
mod lsp;
mod model_file_validation;
mod model_use;
mod overrides_nested;
mod pitfalls;
mod report_explain;
mod report_output;
mod report_plot;
mod report_plot_compare;
mod syntax_parse;
mod syntax_robustness;
mod tabular;
mod tidy;
