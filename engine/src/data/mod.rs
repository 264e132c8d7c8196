//! Line data: dataset readers, normalization, the synthetic generator and batching.

pub mod augment;
pub mod batcher;
pub mod dataset;
pub mod digits;
pub mod folder;
pub mod fonts;
pub mod fontsource;
pub mod iam;
pub mod ink;
pub mod normalize;
pub mod pagexml;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod reader_tests;
pub mod render;
pub mod segment;
pub mod strokes;
pub mod synth;
pub mod text;
pub mod tsv;
