//! Line data: dataset readers, normalization, the synthetic generator and batching.

pub mod augment;
pub mod batcher;
pub mod dataset;
pub mod folder;
pub mod fonts;
pub mod iam;
pub mod normalize;
pub mod pagexml;
#[cfg(test)]
mod reader_tests;
pub mod render;
pub mod synth;
pub mod text;
pub mod tsv;
