//! The AVX2 + FMA tiles of [`super::conv`], for CPUs without AVX-512: one output block in two
//! ymm registers per pixel.

use super::*;

/// Pixels per tile of the AVX2 kernel.
pub(super) const XT_AVX2: usize = 6;

/// [`conv`] on a CPU with AVX2 + FMA but no AVX-512: one output block (16 channels, two ymm
/// registers) x [`XT_AVX2`] pixels per tile, so that the 12 accumulators, the two weight
/// vectors and the broadcast input value fit the 16 ymm registers. Each tap costs 8 loads
/// (6 broadcasts, 2 weight halves) for 12 FMAs: the loop is bound by the FMA ports, not the
/// load ports. The end of a row is one narrower tile.
///
/// # Safety
/// AVX2 and FMA must be available; `g` and `origin` describe `input`, `conv` and `out` as
/// [`conv`] sets them up (with `out` already reset).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn conv_avx2(
    input: &Blocked,
    conv: &PackedConv,
    out: &mut Blocked,
    g: Geometry,
    origin: usize,
) {
    let (h, w) = (input.h, input.w);
    let k = conv.kernel;
    for ob in 0..out.blocks() {
        let wt = ob * g.w_block;
        let bias = &conv.b[ob * LANES..(ob + 1) * LANES];
        for y in 0..h {
            let mut x = 0;
            while x < w {
                let xt = XT_AVX2.min(w - x);
                let inp = (y + origin) * g.in_row + (x + origin) * g.in_lanes;
                let outp = ob * g.out_plane + ((y + 1) * (w + 2) + x + 1) * LANES;
                let (i, o, wts) = (&input.data[..], &mut out.data[..], &conv.w[..]);
                macro_rules! tiles {
                    ($($x:literal)*) => {
                        match (xt, k) {
                            $(($x, 3) => tile_avx2::<$x, 3>(i, inp, wts, wt, bias, o, outp, g),
                              ($x, _) => tile_avx2::<$x, 1>(i, inp, wts, wt, bias, o, outp, g),)*
                            _ => unreachable!("a tile of {xt} pixels"),
                        }
                    };
                }
                // SAFETY: as in `conv`: the tile's taps lie inside the padded input, its
                // vectors inside block ob of the output, its weights inside the packing
                // (x + xt <= w); AVX2 and FMA are available (the caller's contract).
                unsafe {
                    if xt == XT_AVX2 && k == 3 && g.in_lanes == LANES {
                        tile_asm_avx2_6x3(i, inp, wts, wt, bias, o, outp, g)
                    } else {
                        tiles!(1 2 3 4 5 6)
                    }
                }
                x += xt;
            }
        }
    }
}

/// An AVX2 tile's accumulators (two ymm per pixel), each pixel's starting at the bias.
///
/// # Safety
/// AVX2 must be available (the callers enable it); `bias` holds `LANES` values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn biased_avx2<const X: usize>(
    bias: &[f32],
) -> [[std::arch::x86_64::__m256; 2]; X] {
    use std::arch::x86_64::*;
    // SAFETY: the contract.
    unsafe {
        let b0 = _mm256_loadu_ps(bias.as_ptr());
        let b1 = _mm256_loadu_ps(bias.as_ptr().add(8));
        [[b0, b1]; X]
    }
}

/// Stores an AVX2 tile's accumulators at `outp`, with ReLU when the convolution has it.
///
/// # Safety
/// AVX2 must be available (the callers enable it); the tile's vectors lie inside `out`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn store_avx2<const X: usize>(
    acc: &[[std::arch::x86_64::__m256; 2]; X],
    out: &mut [f32],
    outp: usize,
    g: Geometry,
) {
    use std::arch::x86_64::*;
    // SAFETY: the contract.
    unsafe {
        let op = out.as_mut_ptr().add(outp);
        let zero = _mm256_setzero_ps();
        for (t, a) in acc.iter().enumerate() {
            for (half, v) in a.iter().enumerate() {
                let v = if g.relu { _mm256_max_ps(*v, zero) } else { *v };
                _mm256_storeu_ps(op.add(t * LANES + half * 8), v);
            }
        }
    }
}

/// One tap of the AVX2 tile, assembly: the tap's two weight halves (`64 * tap` bytes into the
/// channel's weights) go to ymm12/ymm13; for each of the 6 pixels, the input value `kx` pixels
/// further along the row in register `r` is broadcast to ymm14 and multiplied into that
/// pixel's accumulators (ymm 2t and 2t + 1).
#[cfg(target_arch = "x86_64")]
macro_rules! tap_avx2 {
    ($r:literal, $kx:literal, $tap:literal) => {
        concat!(
            "vmovups ymm12, [{wp} + 64*",
            $tap,
            "]\n",
            "vmovups ymm13, [{wp} + 64*",
            $tap,
            " + 32]\n",
            "vbroadcastss ymm14, dword ptr [{",
            $r,
            "} + 64*(",
            $kx,
            "+0)]\n",
            "vfmadd231ps ymm0, ymm14, ymm12\n",
            "vfmadd231ps ymm1, ymm14, ymm13\n",
            "vbroadcastss ymm14, dword ptr [{",
            $r,
            "} + 64*(",
            $kx,
            "+1)]\n",
            "vfmadd231ps ymm2, ymm14, ymm12\n",
            "vfmadd231ps ymm3, ymm14, ymm13\n",
            "vbroadcastss ymm14, dword ptr [{",
            $r,
            "} + 64*(",
            $kx,
            "+2)]\n",
            "vfmadd231ps ymm4, ymm14, ymm12\n",
            "vfmadd231ps ymm5, ymm14, ymm13\n",
            "vbroadcastss ymm14, dword ptr [{",
            $r,
            "} + 64*(",
            $kx,
            "+3)]\n",
            "vfmadd231ps ymm6, ymm14, ymm12\n",
            "vfmadd231ps ymm7, ymm14, ymm13\n",
            "vbroadcastss ymm14, dword ptr [{",
            $r,
            "} + 64*(",
            $kx,
            "+4)]\n",
            "vfmadd231ps ymm8, ymm14, ymm12\n",
            "vfmadd231ps ymm9, ymm14, ymm13\n",
            "vbroadcastss ymm14, dword ptr [{",
            $r,
            "} + 64*(",
            $kx,
            "+5)]\n",
            "vfmadd231ps ymm10, ymm14, ymm12\n",
            "vfmadd231ps ymm11, ymm14, ymm13\n",
        )
    };
}

/// The hot AVX2 tile (6 pixels, 3x3, blocked input), in assembly for the same reason as
/// [`tile_asm_2x12x3`]: compiled from intrinsics, LLVM sees that neighbouring taps read the
/// same pixels, keeps the broadcasts alive across taps and, with only 16 ymm registers, spills
/// accumulators inside the loop (measured: about 40% of the FMA peak). Here the 12
/// accumulators stay in ymm0-ymm11 for the whole tile.
///
/// # Safety
/// As [`tile_avx2`], with `g.in_lanes == LANES`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile_asm_avx2_6x3(
    input: &[f32],
    inp: usize,
    weights: &[f32],
    wt: usize,
    bias: &[f32],
    out: &mut [f32],
    outp: usize,
    g: Geometry,
) {
    // SAFETY: see the function's contract: every address the assembly reads is a tap of the
    // tile's pixels in the padded input, or a weight of the block.
    unsafe {
        let mut acc = biased_avx2::<XT_AVX2>(bias);
        let ip = input.as_ptr().add(inp);
        let mut wp = weights.as_ptr().add(wt);
        for blk in 0..g.c_in.div_ceil(LANES) {
            let block_base = ip.add(blk * g.in_plane);
            for lane in 0..LANES.min(g.c_in - blk * LANES) {
                let r0 = block_base.add(lane);
                let r1 = r0.add(g.in_row);
                let r2 = r1.add(g.in_row);
                std::arch::asm!(
                tap_avx2!("r0", 0, 0),
                tap_avx2!("r0", 1, 1),
                tap_avx2!("r0", 2, 2),
                tap_avx2!("r1", 0, 3),
                tap_avx2!("r1", 1, 4),
                tap_avx2!("r1", 2, 5),
                tap_avx2!("r2", 0, 6),
                tap_avx2!("r2", 1, 7),
                tap_avx2!("r2", 2, 8),
                r0 = in(reg) r0,
                r1 = in(reg) r1,
                r2 = in(reg) r2,
                wp = in(reg) wp,
                inout("ymm0") acc[0][0],
                inout("ymm1") acc[0][1],
                inout("ymm2") acc[1][0],
                inout("ymm3") acc[1][1],
                inout("ymm4") acc[2][0],
                inout("ymm5") acc[2][1],
                inout("ymm6") acc[3][0],
                inout("ymm7") acc[3][1],
                inout("ymm8") acc[4][0],
                inout("ymm9") acc[4][1],
                inout("ymm10") acc[5][0],
                inout("ymm11") acc[5][1],
                out("ymm12") _,
                out("ymm13") _,
                out("ymm14") _,
                options(nostack, readonly, preserves_flags),
                );
                wp = wp.add(9 * LANES);
            }
        }
        store_avx2(&acc, out, outp, g);
    }
}

/// One AVX2 tile: the 16 channels of one output block x `X` pixels, each pixel's channels in
/// two ymm accumulators.
///
/// # Safety
/// AVX2 and FMA must be available; the offsets must leave every access inside the slices (see
/// [`conv`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile_avx2<const X: usize, const K: usize>(
    input: &[f32],
    inp: usize,
    weights: &[f32],
    wt: usize,
    bias: &[f32],
    out: &mut [f32],
    outp: usize,
    g: Geometry,
) {
    use std::arch::x86_64::*;
    // SAFETY: see the function's contract.
    unsafe {
        let mut acc = biased_avx2::<X>(bias);
        let ip = input.as_ptr().add(inp);
        let mut wp = weights.as_ptr().add(wt);
        let lanes = g.in_lanes;
        for blk in 0..g.c_in.div_ceil(lanes) {
            let block_base = ip.add(blk * g.in_plane);
            for lane in 0..lanes.min(g.c_in - blk * lanes) {
                let base = block_base.add(lane);
                for ky in 0..K {
                    for kx in 0..K {
                        let row = base.add(ky * g.in_row + kx * lanes);
                        let w0 = _mm256_loadu_ps(wp);
                        let w1 = _mm256_loadu_ps(wp.add(8));
                        for (t, a) in acc.iter_mut().enumerate() {
                            let x = _mm256_broadcast_ss(&*row.add(t * lanes));
                            a[0] = _mm256_fmadd_ps(x, w0, a[0]);
                            a[1] = _mm256_fmadd_ps(x, w1, a[1]);
                        }
                        wp = wp.add(LANES);
                    }
                }
            }
        }
        store_avx2(&acc, out, outp, g);
    }
}
