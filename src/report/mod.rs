//! The report stage: renders the [`crate::events`] of a run for people and
//! machines: the JSONL log of §10 ([`jsonl`]), the terminal view ([`text`]),
//! pictures of a log ([`plot`]) and the plan of `nnt explain` ([`explain`](mod@explain)).
//!
//! Nothing here touches files: observers write to a `std::io::Write` they are
//! given, and plots are returned as bytes for the binary to write.

pub mod data_plan;
pub mod diagnostic;
pub mod excerpt;
pub mod explain;
pub mod glyphs;
pub mod jsonl;
pub mod number;
pub mod observers;
pub mod paced;
pub mod plot;
pub mod text;

pub use explain::{explain, planned_lr};
pub use jsonl::JsonlObserver;
pub use plot::{render_png, render_png_logs, render_svg, render_svg_logs, PlotError, PlotOptions};
pub use text::{TextObserver, TextOptions};
