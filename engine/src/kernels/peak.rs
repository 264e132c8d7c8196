//! This core's fp32 peak, measured rather than assumed: a loop of independent fused
//! multiply-adds on the widest vectors the CPU has, timed on one thread.
//!
//! Method: 12 independent accumulator chains (more than the 4-cycle FMA latency on two ports
//! needs, and few enough that the compiler keeps them all in registers: with 16 it spilled),
//! each updated 4 million times with `acc = acc * a + b`; best of five runs of about 20 ms each, so
//! that the core has time to reach its turbo clock. FLOPs counted as 2 per lane per FMA.

use std::time::Instant;

/// Chains of FMAs in flight.
const CHAINS: usize = 12;

/// The measured single-thread fp32 peak in GFLOP/s and the instruction set it used.
pub fn fp32_peak_gflops() -> (f64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::kernels::tier::avx512() {
            // SAFETY: AVX-512F was just detected.
            return (best(|n| unsafe { fma_avx512(n) }, 16), "avx512");
        }
        if crate::kernels::tier::avx2_fma() {
            // SAFETY: both features were just detected.
            return (best(|n| unsafe { fma_avx2(n) }, 8), "avx2+fma");
        }
    }
    (best(madd_portable, 4), "portable")
}

/// Best GFLOP/s over five timed runs of `f(iters)`, `lanes` floats per vector.
fn best(f: impl Fn(usize) -> f32, lanes: usize) -> f64 {
    let iters = 4_000_000;
    std::hint::black_box(f(iters / 10));
    (0..5)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f(iters));
            let flops = (2 * lanes * CHAINS * iters) as f64;
            flops / start.elapsed().as_secs_f64().max(1e-9) / 1e9
        })
        .fold(0.0, f64::max)
}

/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(std::hint::black_box(0.999_999));
    let b = _mm512_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm512_set1_ps(std::hint::black_box(1.0)); CHAINS];
    for _ in 0..std::hint::black_box(iters) {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    acc.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(std::hint::black_box(0.999_999));
    let b = _mm256_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm256_set1_ps(std::hint::black_box(1.0)); CHAINS];
    for _ in 0..std::hint::black_box(iters) {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut out = [0.0f32; 8];
    let mut sum = 0.0;
    for v in acc {
        // SAFETY: out holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        sum += out.iter().sum::<f32>();
    }
    sum
}

/// The portable tier's peak: multiply-adds (not fused: plain Rust has no FMA without a target
/// feature, and `mul_add` would call libm) in groups of 4 lanes, which the compiler turns into
/// the baseline vectors of the target (SSE2 on x86_64, NEON on aarch64).
fn madd_portable(iters: usize) -> f32 {
    let a = std::hint::black_box(0.999_999f32);
    let b = std::hint::black_box(1e-7f32);
    let mut acc = [[std::hint::black_box(1.0f32); 4]; CHAINS];
    for _ in 0..std::hint::black_box(iters) {
        for chain in acc.iter_mut() {
            for v in chain.iter_mut() {
                *v = *v * a + b;
            }
        }
    }
    acc.iter().flatten().sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_is_positive_and_finite() {
        let (gflops, isa) = super::fp32_peak_gflops();
        eprintln!("measured fp32 peak: {gflops:.1} GFLOP/s ({isa})");
        // Below 1 TFLOP/s on one core: the loop really ran.
        assert!(
            gflops.is_finite() && gflops > 0.0 && gflops < 1000.0,
            "{isa}: {gflops}"
        );
    }
}
