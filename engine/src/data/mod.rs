//! Line data: dataset readers, normalization, the synthetic generator and batching.

pub mod augment;
pub mod batcher;
pub mod dataset;
pub mod digits;
pub mod fonts;
pub mod fontsource;
pub mod ink;
pub mod normalize;
pub mod personal;
pub mod readers;
pub mod render;
pub mod segment;
pub mod strokes;
pub mod synth;
pub mod text;
