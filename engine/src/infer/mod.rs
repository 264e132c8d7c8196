//! The fast CPU inference path: a trained CRNN converted to plain `f32` buffers (BatchNorm
//! folded into the convolutions, ReLU fused), convolutions as SIMD GEMMs (the `gemm` crate,
//! AVX-512 where the CPU has it), the DBLSTM's input projections of all frames as one GEMM and
//! only its recurrence step by step, both directions together. One thread by default (the
//! paper's latency setting); buffers are reused from line to line.

pub mod conv;
pub mod direct;
pub mod lstm;
pub(crate) mod model;
pub mod peak;

pub use model::{Decoder, FastModel, FastRecognizer, Profile};

/// Largest absolute difference between two equally long slices (0 for empty ones).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}
