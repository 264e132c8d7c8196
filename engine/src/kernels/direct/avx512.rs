//! The AVX-512 tiles of [`super::conv`]: 16 output channels per zmm register, the assembly
//! tile of the 3x3 convolutions and the compiled tiles around it.

use super::*;

/// A tile's accumulators, each block's starting at its bias.
///
/// # Safety
/// AVX-512F must be available (the callers enable it); `bias` holds `OB * LANES` values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn biased<const OB: usize, const X: usize>(
    bias: &[f32],
) -> [[std::arch::x86_64::__m512; X]; OB] {
    use std::arch::x86_64::*;
    // SAFETY: the contract.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); X]; OB];
        for (j, a) in acc.iter_mut().enumerate() {
            let b = _mm512_loadu_ps(bias.as_ptr().add(j * LANES));
            a.iter_mut().for_each(|v| *v = b);
        }
        acc
    }
}

/// Stores a tile's accumulators at `outp` (block `j` one output plane further), with ReLU when
/// the convolution has it.
///
/// # Safety
/// AVX-512F must be available (the callers enable it); the tile's vectors lie inside `out`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn store<const OB: usize, const X: usize>(
    acc: &[[std::arch::x86_64::__m512; X]; OB],
    out: &mut [f32],
    outp: usize,
    g: Geometry,
) {
    use std::arch::x86_64::*;
    // SAFETY: the contract.
    unsafe {
        let op = out.as_mut_ptr().add(outp);
        let zero = _mm512_setzero_ps();
        for (j, a) in acc.iter().enumerate() {
            for (t, v) in a.iter().enumerate() {
                let v = if g.relu { _mm512_max_ps(*v, zero) } else { *v };
                _mm512_storeu_ps(op.add(j * g.out_plane + t * LANES), v);
            }
        }
    }
}

/// One tile: `OB` output blocks x `X` pixels, accumulated in AVX-512 registers.
///
/// # Safety
/// AVX-512F must be available; the offsets must leave every access inside the slices (see
/// [`conv`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
pub(super) unsafe fn tile_avx512<const OB: usize, const X: usize, const K: usize>(
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
        let mut acc = biased::<OB, X>(bias);
        let ip = input.as_ptr().add(inp);
        let mut wp = weights.as_ptr().add(wt);
        // `lanes` stays a runtime value on purpose: a constant 16 lets the compiler unroll the
        // lane loop 16 times, and the bloated loop ran at less than half the speed.
        let lanes = g.in_lanes;
        for blk in 0..g.c_in.div_ceil(lanes) {
            let block_base = ip.add(blk * g.in_plane);
            for lane in 0..lanes.min(g.c_in - blk * lanes) {
                let base = block_base.add(lane);
                for ky in 0..K {
                    for kx in 0..K {
                        let row = base.add(ky * g.in_row + kx * lanes);
                        let mut wv = [_mm512_setzero_ps(); OB];
                        for (j, v) in wv.iter_mut().enumerate() {
                            *v = _mm512_loadu_ps(wp.add(j * g.w_block));
                        }
                        for t in 0..X {
                            let x = _mm512_set1_ps(*row.add(t * lanes));
                            for j in 0..OB {
                                acc[j][t] = _mm512_fmadd_ps(x, wv[j], acc[j][t]);
                            }
                        }
                        wp = wp.add(LANES);
                    }
                }
            }
        }
        store(&acc, out, outp, g);
    }
}

/// Two FMAs of the broadcast value in zmm30: into accumulators `a` (first output block) and
/// `b` (second), by the weight vectors in `wa` and `wb`.
#[cfg(target_arch = "x86_64")]
macro_rules! fma {
    ($a:literal, $b:literal, $wa:literal, $wb:literal) => {
        concat!(
            "vfmadd231ps zmm",
            $a,
            ", zmm",
            $wa,
            ", zmm30\n",
            "vfmadd231ps zmm",
            $b,
            ", zmm",
            $wb,
            ", zmm30\n",
        )
    };
}

/// One kernel row (`ky`; its first tap is `tap`) of one input channel for the 2 x 12 tile,
/// reading the input row in register `r`: the six weight vectors of its three taps (two
/// blocks each) go to zmm24-zmm29, then each of the 14 input pixels the row touches is
/// broadcast once and feeds every tap that reads it (pixel p is tap kx of output t = p - kx).
#[cfg(target_arch = "x86_64")]
macro_rules! kernel_row {
    ($r:literal, $tap:literal) => {
        concat!(
            "vmovups zmm24, [{wp} + 64*(",
            $tap,
            ")]\n",
            "vmovups zmm25, [{wp} + {wb} + 64*(",
            $tap,
            ")]\n",
            "vmovups zmm26, [{wp} + 64*(",
            $tap,
            "+1)]\n",
            "vmovups zmm27, [{wp} + {wb} + 64*(",
            $tap,
            "+1)]\n",
            "vmovups zmm28, [{wp} + 64*(",
            $tap,
            "+2)]\n",
            "vmovups zmm29, [{wp} + {wb} + 64*(",
            $tap,
            "+2)]\n",
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*0]\n",
            fma!(0, 12, 24, 25),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*1]\n",
            fma!(1, 13, 24, 25),
            fma!(0, 12, 26, 27),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*2]\n",
            fma!(2, 14, 24, 25),
            fma!(1, 13, 26, 27),
            fma!(0, 12, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*3]\n",
            fma!(3, 15, 24, 25),
            fma!(2, 14, 26, 27),
            fma!(1, 13, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*4]\n",
            fma!(4, 16, 24, 25),
            fma!(3, 15, 26, 27),
            fma!(2, 14, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*5]\n",
            fma!(5, 17, 24, 25),
            fma!(4, 16, 26, 27),
            fma!(3, 15, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*6]\n",
            fma!(6, 18, 24, 25),
            fma!(5, 17, 26, 27),
            fma!(4, 16, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*7]\n",
            fma!(7, 19, 24, 25),
            fma!(6, 18, 26, 27),
            fma!(5, 17, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*8]\n",
            fma!(8, 20, 24, 25),
            fma!(7, 19, 26, 27),
            fma!(6, 18, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*9]\n",
            fma!(9, 21, 24, 25),
            fma!(8, 20, 26, 27),
            fma!(7, 19, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*10]\n",
            fma!(10, 22, 24, 25),
            fma!(9, 21, 26, 27),
            fma!(8, 20, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*11]\n",
            fma!(11, 23, 24, 25),
            fma!(10, 22, 26, 27),
            fma!(9, 21, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*12]\n",
            fma!(11, 23, 26, 27),
            fma!(10, 22, 28, 29),
            "vbroadcastss zmm30, dword ptr [{",
            $r,
            "} + 64*13]\n",
            fma!(11, 23, 28, 29),
        )
    };
}

/// The hot tile of the 3x3 convolutions on blocked maps: 2 output blocks x 12 pixels, written
/// in assembly. Compiled from intrinsics, the same loop let LLVM notice that neighbouring taps
/// read the same pixels; it then kept every broadcast alive across taps, ran out of the 32
/// vector registers and spilled accumulators to the stack inside the loop (about 68% of the
/// FMA peak). Here the 24 accumulators stay in zmm0-zmm23 for the whole tile, and each input
/// pixel of a kernel row is broadcast once (a load-port instruction) for the three taps that
/// read it: 20 loads per 72 register-to-register FMAs, against 42 for a broadcast per tap
/// (measured alone in L1: 92% of the FMA loop's rate, against 85%).
///
/// # Safety
/// As [`tile_avx512`], with `g.in_lanes == LANES`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile_asm_2x12x3(
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
    // tile's pixels in the padded input, or a weight of the two blocks.
    unsafe {
        let mut acc = biased::<2, XT>(bias);
        let ip = input.as_ptr().add(inp);
        let mut wp = weights.as_ptr().add(wt);
        let wb = g.w_block * 4;
        for blk in 0..g.c_in.div_ceil(LANES) {
            let block_base = ip.add(blk * g.in_plane);
            for lane in 0..LANES.min(g.c_in - blk * LANES) {
                let r0 = block_base.add(lane);
                let r1 = r0.add(g.in_row);
                let r2 = r1.add(g.in_row);
                std::arch::asm!(
                kernel_row!("r0", 0),
                kernel_row!("r1", 3),
                kernel_row!("r2", 6),
                r0 = in(reg) r0,
                r1 = in(reg) r1,
                r2 = in(reg) r2,
                wp = in(reg) wp,
                wb = in(reg) wb,
                inout("zmm0") acc[0][0],
                inout("zmm1") acc[0][1],
                inout("zmm2") acc[0][2],
                inout("zmm3") acc[0][3],
                inout("zmm4") acc[0][4],
                inout("zmm5") acc[0][5],
                inout("zmm6") acc[0][6],
                inout("zmm7") acc[0][7],
                inout("zmm8") acc[0][8],
                inout("zmm9") acc[0][9],
                inout("zmm10") acc[0][10],
                inout("zmm11") acc[0][11],
                inout("zmm12") acc[1][0],
                inout("zmm13") acc[1][1],
                inout("zmm14") acc[1][2],
                inout("zmm15") acc[1][3],
                inout("zmm16") acc[1][4],
                inout("zmm17") acc[1][5],
                inout("zmm18") acc[1][6],
                inout("zmm19") acc[1][7],
                inout("zmm20") acc[1][8],
                inout("zmm21") acc[1][9],
                inout("zmm22") acc[1][10],
                inout("zmm23") acc[1][11],
                out("zmm24") _,
                out("zmm25") _,
                out("zmm26") _,
                out("zmm27") _,
                out("zmm28") _,
                out("zmm29") _,
                out("zmm30") _,
                options(nostack, readonly, preserves_flags),
                );
                wp = wp.add(9 * LANES);
            }
        }
        store(&acc, out, outp, g);
    }
}

/// The end of a row for a block pair of a 3x3 convolution: a tile of `rest` (1 to 11) pixels.
/// Narrow tiles keep few broadcasts alive, so the compiled kernel runs without spills; this
/// costs less than recomputing a full right-aligned tile (on the teacher's 66-pixel rows, 6
/// pixels of a 12-pixel tile).
///
/// # Safety
/// As [`tile_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile_rest_avx512(
    rest: usize,
    input: &[f32],
    inp: usize,
    weights: &[f32],
    wt: usize,
    bias: &[f32],
    out: &mut [f32],
    outp: usize,
    g: Geometry,
) {
    macro_rules! rest {
        ($($x:literal)*) => {
            match rest {
                $($x => tile_avx512::<2, $x, 3>(input, inp, weights, wt, bias, out, outp, g),)*
                _ => unreachable!("a rest of {rest} pixels"),
            }
        };
    }
    // SAFETY: the caller's contract.
    unsafe { rest!(1 2 3 4 5 6 7 8 9 10 11) }
}
