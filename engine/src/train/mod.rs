//! Training: recipes, the data stream, checkpoints, progress events and the training loop.
//! A [`run::Run`] lives in a folder: `config.json` (the recipe as run), `metrics.csv`, one
//! checkpoint per phase (`train.ckpt`, `distill.ckpt`, `finetune.ckpt`: written atomically,
//! for resuming) and the phases' model files (`<phase>-best.inkm`, `<phase>-last.inkm`).
//! The run functions: [`supervised::train`], [`distill::distill`], [`finetune::finetune`],
//! [`adapt::adapt`].

pub mod adapt;
pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod finetune;
pub mod phase;
pub mod progress;
pub mod run;
pub mod runner;
pub mod soft_targets;
pub mod stream;
pub mod supervised;
pub mod validate;
pub mod worker_loop;
pub mod worker_sync;
