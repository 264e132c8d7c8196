//! The jobs behind the CLI subcommands, one file per job: each takes plain arguments, does
//! the work, and returns what to print, so that the binary stays thin and tests (and the
//! app) can call them directly.

pub mod adaptation;
pub mod info;
pub mod recognition;
pub mod scoring;

pub use adaptation::{AdaptReport, GUARD_POINTS, adapt, guard_lines};
pub use info::{describe_model, preset_table};
pub use recognition::{ImageResult, LinePlace, parallel_map, recognize_files};
pub use scoring::{EvalReport, eval, eval_dataset, labeled_lines, prepared_lines};
