//! The fast CPU inference path: a trained CRNN converted to plain `f32` buffers (BatchNorm
//! folded into the convolutions, ReLU fused), convolutions as SIMD GEMMs (the `gemm` crate,
//! AVX-512 where the CPU has it), the DBLSTM's input projections of all frames as one GEMM and
//! only its recurrence step by step, both directions together. One thread by default (the
//! paper's latency setting); buffers are reused from line to line.

mod conv;
mod lstm;
mod model;

pub use model::{FastModel, FastRecognizer, Profile};
