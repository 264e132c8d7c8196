//! Training: recipes, the data stream, checkpoints, progress events, and the supervised CTC
//! loop. A run lives in a folder: `config.json` (the recipe as run), `metrics.csv`,
//! `checkpoint.bin` (atomic, for `--resume`), `best.inkm` and `last.inkm` (model files).

pub mod adapt;
pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod phase;
pub mod progress;
pub mod runner;
pub mod stream;
pub mod supervised;
pub mod validate;
pub mod worker_loop;
pub mod worker_sync;
