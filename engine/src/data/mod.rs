//! Line data: dataset readers, normalization, the synthetic generator and batching.

pub mod batcher;
pub mod dataset;
pub mod image;
pub mod ink;
pub mod personal;
pub mod random;
pub mod readers;
pub mod synth;
pub mod text;
