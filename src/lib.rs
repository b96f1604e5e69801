//! nnt: a declarative training-pipeline language and its interpreter.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! `source -> syntax -> ast -> check -> ir -> train -> events -> report`.
//! `data` and `io` are the only library modules that touch files.
//!
//! Checking and training a recipe from Rust:
//!
//! ```
//! use nnt::check::{check_recipe, CheckOptions};
//! use nnt::events::{Event, Observer};
//!
//! let recipe = r#"
//! seed = 1
//! data { train = xor(n = 64, noise = 0.1) }
//! model {
//!     dense(8)
//!     tanh
//!     dense(2)
//! }
//! loss = cross_entropy
//! optimizer = sgd(lr = 0.5, momentum = 0.9)
//! train { epochs = 3; batch = full }
//! "#;
//! let report = check_recipe("xor.nnt", recipe.as_bytes(), std::path::Path::new("."), &CheckOptions::default());
//! assert!(report.errors.is_empty());
//! let program = report.program.expect("a valid recipe checks into a program");
//!
//! struct Epochs(usize);
//! impl Observer for Epochs {
//!     fn event(&mut self, e: &Event) {
//!         if let Event::Epoch(_) = e {
//!             self.0 += 1;
//!         }
//!     }
//! }
//! let mut epochs = Epochs(0);
//! let outcome = nnt::train::run(&program, &Default::default(), &mut epochs).unwrap();
//! assert_eq!(epochs.0, 3);
//! assert_eq!(outcome.end.epochs, 3);
//! ```
// Unsafe code is denied everywhere but in `train::simd` (and the functions its
// `multiversion!` defines) and `train::small_product`'s dispatch: calling a
// function compiled for AVX2 or AVX-512, after the CPU was checked for it;
// `train::small_product`'s kernels, which read their operands through
// pointers within the shape checked when the product was made (the bounds
// checks held them at ~80 % of the multiply-add peak); and in `memory`, the
// binary's allocator (the system's, large blocks advised as wanting huge
// pages).
#![deny(unsafe_code)]
// Library code returns errors; tests/it/tidy.rs checks that this line stays.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod ast;
pub mod check;
pub mod cli;
pub mod data;
pub mod events;
pub mod fmt;
pub mod io;
pub mod ir;
pub mod math;
pub mod memory;
pub mod report;
pub mod rng;
pub mod similar;
pub mod syntax;
pub mod train;
