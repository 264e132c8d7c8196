//! # Inkling engine
//!
//! Line images (files, datasets, or the synthetic generator) are normalized to fixed-height
//! ink maps ([`data::image::normalize`]), batched with their CTC labels ([`data::batcher`]) and fed to a
//! CNN-DBLSTM ([`models`]): a VGG teacher or a DarkNet student backbone turns the line into a
//! sequence of feature frames, two BLSTM layers and an inner-product layer give per-frame class
//! scores, and CTC ([`losses::ctc`]) trains it ([`train`]). Recognition decodes the per-frame
//! log-probabilities greedily ([`decode`]); [`metrics`] scores CER and WER. Models are stored as
//! single files with their configuration and alphabet ([`model_file`]).

pub mod alphabet;
pub mod assets;
pub mod bench;
pub mod data;
pub mod decode;
pub mod error;
pub mod experiment;
pub mod export;
pub mod infer;
pub mod jobs;
pub mod kernels;
pub mod lm;
pub mod losses;
pub mod metrics;
pub mod model_file;
pub mod models;
pub mod recipe;
pub mod recognize;
pub mod scale;
pub mod shipped;
pub mod task;
pub mod train;
pub mod tucker;

pub use alphabet::Alphabet;
pub use error::{Error, Result};
pub use models::config::{CrnnConfig, Preset};
pub use models::crnn::Crnn;

/// Re-export of the Burn version the engine is built on.
pub use burn;
