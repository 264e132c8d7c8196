//! The CPU kernels, Burn-free: plain `f32` buffers in, plain buffers out. Convolutions as
//! direct convolutions in a channel-blocked layout ([`direct`]: an AVX-512 or an AVX2 assembly
//! tile for the 3x3 layers; [`winograd`] for the deep ones) or, with several threads per line or
//! on CPUs with neither, as SIMD GEMMs ([`conv`]: the `gemm` crate); a GEMM against weights
//! packed once ([`panel_gemm`]); the DBLSTM's recurrence ([`lstm`], [`lstm_int8`]); and this
//! core's measured fp32 peak ([`peak`]). Each kernel picks its instruction set at run time,
//! within the tier [`tier`] allows (`INKLING_KERNELS=avx512|avx2|portable` forces a narrower one).
//! [`allocator`] keeps the large buffers they free for the next step. The fast inference path
//! ([`crate::infer`]) and the training path's own operations ([`crate::models::ops`]) are built
//! on them.

pub mod allocator;
pub mod conv;
pub mod direct;
pub mod lstm;
pub mod lstm_int8;
pub mod panel_gemm;
pub mod peak;
pub mod tier;
pub mod winograd;

/// Whether the AVX2 + FMA kernels may run ([`tier::avx2_fma`]: this CPU has both, and no
/// narrower tier is forced): the kernels for CPUs without AVX-512 need both.
pub fn has_avx2_fma() -> bool {
    tier::avx2_fma()
}

/// `ln(exp(a) + exp(b))` of two log-probabilities, exact where either is `-inf` (CTC's
/// recursions in training and the beam search's prefix scores).
pub fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    a.max(b) + (-(a - b).abs()).exp().ln_1p()
}

/// Largest absolute difference between two equally long slices (0 for empty ones).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}
