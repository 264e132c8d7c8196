//! The fast CPU inference path: a trained CRNN converted to plain `f32` buffers (BatchNorm
//! folded into the convolutions, ReLU fused) and run by the [`crate::kernels`]: the
//! convolutions in a channel-blocked layout, the DBLSTM's input projections of all frames as
//! one GEMM (weights packed once) and only its recurrence step by step. One thread by default
//! (the paper's latency setting); buffers are reused from line to line.

pub(crate) mod model;

pub use model::{Decoder, FastModel, FastRecognizer, Profile, Scratch};
