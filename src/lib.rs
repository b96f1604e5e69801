//! nnt: a declarative training-pipeline language and its interpreter.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! `source -> syntax -> ast -> check -> ir -> train -> events -> report`.
//! `data` and `io` are the only library modules that touch files.
#![forbid(unsafe_code)]

pub mod ast;
pub mod check;
pub mod data;
pub mod events;
pub mod fmt;
pub mod io;
pub mod ir;
pub mod report;
pub mod rng;
pub mod syntax;
pub mod train;
