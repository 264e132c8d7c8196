//! Direct convolution in a channel-blocked layout, the fast path's CNN kernels.
//!
//! Activations are stored as `[blocks, h + 2, w + 2, 16]`: channels in groups of 16 (one
//! AVX-512 vector per pixel), with a one-pixel zero border so that 3x3 "same" convolutions need
//! no bounds checks. A convolution tile keeps `OB` x `XT` output vectors (16 output channels x
//! `XT` neighbouring pixels, for `OB` channel blocks) in registers and, for each input channel
//! and tap, broadcasts one input value per pixel and multiplies it by each block's 16 weights:
//! every input value loaded feeds `OB` FMAs and every weight vector `XT`, so the loop runs at
//! the FMA ports' rate, and no im2col matrix is ever written. Bias and ReLU are applied when the
//! tile is stored. The first layer (one input channel) reads a plain `[1, h + 2, w + 2]` map
//! (`lanes` = 1) so that it does not multiply 15 zero channels. The hot case (two output
//! blocks, 12 pixels, 3x3, blocked input) is an assembly tile, `tile_asm_2x12x3`, which also
//! reuses each broadcast for the three taps of a kernel row.

/// Channels per block (one AVX-512 vector of f32).
pub const LANES: usize = 16;
/// Pixels per tile.
const XT: usize = 12;

/// An activation map in the blocked layout `[ceil(c / lanes), h + 2, w + 2, lanes]` with a zero
/// border (`lanes` is 16, or 1 for the input line).
#[derive(Debug, Clone, Default)]
pub struct Blocked {
    /// The values.
    pub data: Vec<f32>,
    /// Channels (the padding channels of the last block are zero).
    pub c: usize,
    /// Rows (without the border).
    pub h: usize,
    /// Columns (without the border).
    pub w: usize,
    /// Channels per block: 16, or 1 for a single-channel input.
    pub lanes: usize,
}

impl Blocked {
    /// Floats per channel block.
    pub fn plane(&self) -> usize {
        (self.h + 2) * (self.w + 2) * self.lanes
    }

    /// Channel blocks.
    pub fn blocks(&self) -> usize {
        self.c.div_ceil(self.lanes)
    }

    /// Index of channel `ch` at row `y`, column `x` (border-relative: 0 is the border).
    #[inline]
    pub fn index(&self, ch: usize, y: usize, x: usize) -> usize {
        (ch / self.lanes) * self.plane() + (y * (self.w + 2) + x) * self.lanes + ch % self.lanes
    }

    /// Resizes to `c x h x w` (blocks of `lanes`) and zeroes the border; the interior is left
    /// to be overwritten.
    pub fn reset(&mut self, c: usize, h: usize, w: usize, lanes: usize) {
        (self.c, self.h, self.w, self.lanes) = (c, h, w, lanes);
        let len = self.blocks() * self.plane();
        self.data.resize(len, 0.0);
        let row = (w + 2) * lanes;
        let plane = self.plane();
        for b in 0..self.blocks() {
            let p = &mut self.data[b * plane..(b + 1) * plane];
            p[..row].fill(0.0);
            p[(h + 1) * row..].fill(0.0);
            for y in 1..=h {
                p[y * row..y * row + lanes].fill(0.0);
                p[(y + 1) * row - lanes..(y + 1) * row].fill(0.0);
            }
        }
    }

    /// A single-channel map `h x w` from `[h, src_w]` pixels (`src_w <= w`), zero-padded on
    /// the right.
    pub fn from_plain(&mut self, pixels: &[f32], h: usize, src_w: usize, w: usize) {
        self.reset(1, h, w, 1);
        for y in 0..h {
            let dst = (y + 1) * (w + 2) + 1;
            self.data[dst..dst + src_w].copy_from_slice(&pixels[y * src_w..(y + 1) * src_w]);
            self.data[dst + src_w..dst + w].fill(0.0);
        }
    }
}

/// Convolution weights packed per output block: `w [blocks_out, c_in, k * k, 16]` (zero for the
/// padding channels), bias `[blocks_out * 16]`.
#[derive(Debug, Clone)]
pub struct PackedConv {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel size (1 or 3).
    pub kernel: usize,
    /// Apply ReLU after the bias.
    pub relu: bool,
    w: Vec<f32>,
    b: Vec<f32>,
}

impl PackedConv {
    /// Packs `w [c_out, c_in * k * k]` and `b [c_out]`.
    pub fn new(c_in: usize, c_out: usize, kernel: usize, w: &[f32], b: &[f32], relu: bool) -> Self {
        let taps = kernel * kernel;
        let blocks = c_out.div_ceil(LANES);
        let mut packed = vec![0.0f32; blocks * c_in * taps * LANES];
        for o in 0..c_out {
            for ic in 0..c_in {
                for t in 0..taps {
                    packed[(((o / LANES) * c_in + ic) * taps + t) * LANES + o % LANES] =
                        w[o * c_in * taps + ic * taps + t];
                }
            }
        }
        let mut bias = vec![0.0f32; blocks * LANES];
        bias[..c_out].copy_from_slice(&b[..c_out]);
        Self {
            c_in,
            c_out,
            kernel,
            relu,
            w: packed,
            b: bias,
        }
    }
}

/// Whether this CPU runs the assembly tile of the 3x3 convolutions (AVX-512F).
pub fn has_asm_tile() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::kernels::tier::avx512()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Geometry shared by the tiles of one convolution.
#[derive(Clone, Copy)]
struct Geometry {
    c_in: usize,
    in_lanes: usize,
    in_plane: usize,
    in_row: usize,
    w_block: usize,
    out_plane: usize,
    /// Apply ReLU when storing.
    relu: bool,
}

/// `out = conv(input)` ("same" padding, stride 1), bias and ReLU included.
pub fn conv(input: &Blocked, conv: &PackedConv, out: &mut Blocked) {
    assert_eq!(input.c, conv.c_in, "conv: input channels");
    let (h, w) = (input.h, input.w);
    out.reset(conv.c_out, h, w, LANES);
    let k = conv.kernel;
    let g = Geometry {
        c_in: conv.c_in,
        in_lanes: input.lanes,
        in_plane: input.plane(),
        in_row: (w + 2) * input.lanes,
        w_block: conv.c_in * k * k * LANES,
        out_plane: out.plane(),
        relu: conv.relu,
    };
    // Offset of the first tap of output pixel (0, 0) in the padded input.
    let origin = if k == 3 { 0 } else { 1 };
    #[cfg(target_arch = "x86_64")]
    let avx512 = crate::kernels::tier::avx512();
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    #[cfg(target_arch = "x86_64")]
    if !avx512 && super::has_avx2_fma() {
        // SAFETY: AVX2 and FMA were detected.
        return unsafe { conv_avx2(input, conv, out, g, origin) };
    }
    let blocks = out.blocks();
    let mut ob = 0;
    while ob < blocks {
        let nb = if blocks - ob >= 2 { 2 } else { 1 };
        for y in 0..h {
            let mut x0 = 0;
            while x0 < w {
                // Full tiles, then the rest of the row: for the assembly tile's block pairs, in
                // one narrower tile; otherwise the last full tile is shifted left to end at w
                // (recomputing a few pixels), unless the row is narrower than a tile.
                let (x, xt) = if x0 + XT <= w {
                    (x0, XT)
                } else if avx512 && nb == 2 && k == 3 && g.in_lanes == LANES {
                    (x0, w - x0)
                } else if w >= XT {
                    (w - XT, XT)
                } else {
                    (x0, 1)
                };
                let inp = (y + origin) * g.in_row + (x + origin) * g.in_lanes;
                let outp = ob * g.out_plane + ((y + 1) * (w + 2) + x + 1) * LANES;
                let wt = ob * g.w_block;
                let bias = &conv.b[ob * LANES..(ob + nb) * LANES];
                let (i, o, wts) = (&input.data[..], &mut out.data[..], &conv.w[..]);
                // SAFETY (all arms): `inp` .. the last tap of the tile's last pixel lies
                // inside the padded input, `outp` .. the tile's last vector of block
                // ob + nb - 1 inside the output, and `wt` .. the weights of block
                // ob + nb - 1 inside the packing, by construction of the blocked layouts
                // and x + xt <= w; AVX-512F was detected for the vector arms.
                unsafe {
                    match (avx512, nb, xt, k) {
                        #[cfg(target_arch = "x86_64")]
                        (true, 2, XT, 3) if g.in_lanes == LANES => {
                            tile_asm_2x12x3(i, inp, wts, wt, bias, o, outp, g)
                        }
                        #[cfg(target_arch = "x86_64")]
                        (true, 2, XT, 3) => {
                            tile_avx512::<2, XT, 3>(i, inp, wts, wt, bias, o, outp, g)
                        }
                        #[cfg(target_arch = "x86_64")]
                        (true, 2, rest, 3) if rest < XT => {
                            tile_rest_avx512(rest, i, inp, wts, wt, bias, o, outp, g)
                        }
                        #[cfg(target_arch = "x86_64")]
                        (true, 1, XT, 3) => {
                            tile_avx512::<1, XT, 3>(i, inp, wts, wt, bias, o, outp, g)
                        }
                        #[cfg(target_arch = "x86_64")]
                        (true, 2, XT, 1) => {
                            tile_avx512::<2, XT, 1>(i, inp, wts, wt, bias, o, outp, g)
                        }
                        #[cfg(target_arch = "x86_64")]
                        (true, 1, XT, 1) => {
                            tile_avx512::<1, XT, 1>(i, inp, wts, wt, bias, o, outp, g)
                        }
                        _ => tile_generic(nb, xt, k, i, inp, wts, wt, bias, o, outp, g),
                    }
                }
                x0 = x + xt;
            }
        }
        ob += nb;
    }
}

/// A tile's accumulators, each block's starting at its bias.
///
/// # Safety
/// AVX-512F must be available (the callers enable it); `bias` holds `OB * LANES` values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn biased<const OB: usize, const X: usize>(
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
unsafe fn store<const OB: usize, const X: usize>(
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
unsafe fn tile_avx512<const OB: usize, const X: usize, const K: usize>(
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
unsafe fn tile_asm_2x12x3(
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
unsafe fn tile_rest_avx512(
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

/// Pixels per tile of the AVX2 kernel.
const XT_AVX2: usize = 6;

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
unsafe fn conv_avx2(
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
unsafe fn biased_avx2<const X: usize>(bias: &[f32]) -> [[std::arch::x86_64::__m256; 2]; X] {
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
unsafe fn store_avx2<const X: usize>(
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
unsafe fn tile_asm_avx2_6x3(
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
unsafe fn tile_avx2<const X: usize, const K: usize>(
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

/// The portable tile (any size; CPUs without AVX-512 and rows narrower than a tile).
#[allow(clippy::too_many_arguments)]
fn tile_generic(
    ob: usize,
    xt: usize,
    k: usize,
    input: &[f32],
    inp: usize,
    weights: &[f32],
    wt: usize,
    bias: &[f32],
    out: &mut [f32],
    outp: usize,
    g: Geometry,
) {
    for j in 0..ob {
        for t in 0..xt {
            let o = outp + j * g.out_plane + t * LANES;
            let mut acc = [0.0f32; LANES];
            acc.copy_from_slice(&bias[j * LANES..(j + 1) * LANES]);
            let mut w = wt + j * g.w_block;
            for ic in 0..g.c_in {
                let base = inp + (ic / g.in_lanes) * g.in_plane + ic % g.in_lanes;
                for ky in 0..k {
                    for kx in 0..k {
                        let x = input[base + ky * g.in_row + (kx + t) * g.in_lanes];
                        let wv = &weights[w..w + LANES];
                        acc.iter_mut().zip(wv).for_each(|(a, w)| *a += x * w);
                        w += LANES;
                    }
                }
            }
            for (d, a) in out[o..o + LANES].iter_mut().zip(acc) {
                *d = if g.relu { a.max(0.0) } else { a };
            }
        }
    }
}

/// Max pooling with kernel = stride = `[ph, pw]` (floor) in the blocked layout.
pub fn max_pool(input: &Blocked, ph: usize, pw: usize, out: &mut Blocked) {
    let (oh, ow) = (input.h / ph, input.w / pw);
    out.reset(input.c, oh, ow, input.lanes);
    let l = input.lanes;
    for b in 0..input.blocks() {
        for oy in 0..oh {
            let dst = out.index(b * l, oy + 1, 1);
            let dst = &mut out.data[dst..dst + ow * l];
            dst.fill(f32::NEG_INFINITY);
            for dy in 0..ph {
                let src = input.index(b * l, oy * ph + dy + 1, 1);
                let src = &input.data[src..src + input.w * l];
                for (ox, d) in dst.chunks_exact_mut(l).enumerate() {
                    for dx in 0..pw {
                        let s = &src[(ox * pw + dx) * l..(ox * pw + dx + 1) * l];
                        d.iter_mut().zip(s).for_each(|(d, &s)| *d = d.max(s));
                    }
                }
            }
        }
    }
}

/// The map in the plain layout `[c, h, w]`.
pub fn to_plain(input: &Blocked, out: &mut Vec<f32>) {
    let (c, h, w) = (input.c, input.h, input.w);
    out.clear();
    out.resize(c * h * w, 0.0);
    for ch in 0..c {
        for y in 0..h {
            let dst = &mut out[(ch * h + y) * w..(ch * h + y + 1) * w];
            for (x, d) in dst.iter_mut().enumerate() {
                *d = input.data[input.index(ch, y + 1, x + 1)];
            }
        }
    }
}

/// The feature sequence `[frames = w, c * h]` (feature index `ch * h + row`) of a map.
pub fn to_frames(input: &Blocked, out: &mut Vec<f32>) {
    let (c, h, w) = (input.c, input.h, input.w);
    let d = c * h;
    out.clear();
    out.resize(w * d, 0.0);
    for ch in 0..c {
        for row in 0..h {
            for t in 0..w {
                out[t * d + ch * h + row] = input.data[input.index(ch, row + 1, t + 1)];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::{bias_relu, im2col3x3, matmul};

    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f32],
        c_in: usize,
        h: usize,
        w: usize,
        c_out: usize,
        k: usize,
        wt: &[f32],
        b: &[f32],
        relu: bool,
    ) -> Vec<f32> {
        let hw = h * w;
        let mut out = vec![0.0f32; c_out * hw];
        if k == 3 {
            let mut cols = Vec::new();
            im2col3x3(x, c_in, h, w, &mut cols);
            matmul(&mut out, wt, &cols, c_out, c_in * 9, hw, 1);
        } else {
            matmul(&mut out, wt, x, c_out, c_in, hw, 1);
        }
        bias_relu(&mut out, b, hw, relu);
        out
    }

    #[test]
    fn blocked_conv_and_pooling_match_the_plain_kernels() {
        // Output blocks 1, 2 and 3 (pairs and a single), partial blocks, rows narrower and
        // wider than a tile, one-channel (plain) and blocked inputs, both kernel sizes.
        for (c_in, c_out, h, w, k) in [
            (1, 16, 5, 30, 3),
            (1, 20, 3, 7, 3),
            (17, 40, 4, 13, 3),
            (32, 48, 2, 25, 1),
            (5, 3, 6, 12, 1),
            (48, 33, 3, 37, 3),
            // Many channels; 29 = 2 tiles + a right-aligned one.
            (136, 64, 3, 29, 3),
        ] {
            let x: Vec<f32> = (0..c_in * h * w)
                .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
                .collect();
            let wt: Vec<f32> = (0..c_out * c_in * k * k)
                .map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5)
                .collect();
            let b: Vec<f32> = (0..c_out).map(|i| i as f32 * 0.1 - 0.5).collect();
            for relu in [false, true] {
                let expected = reference(&x, c_in, h, w, c_out, k, &wt, &b, relu);
                let mut input = Blocked::default();
                if c_in == 1 {
                    input.from_plain(&x, h, w, w);
                } else {
                    input.reset(c_in, h, w, LANES);
                    for ch in 0..c_in {
                        for y in 0..h {
                            for xx in 0..w {
                                let i = input.index(ch, y + 1, xx + 1);
                                input.data[i] = x[(ch * h + y) * w + xx];
                            }
                        }
                    }
                }
                let packed = PackedConv::new(c_in, c_out, k, &wt, &b, relu);
                let mut out = Blocked::default();
                conv(&input, &packed, &mut out);
                for ch in 0..c_out {
                    for y in 0..h {
                        for xx in 0..w {
                            let got = out.data[out.index(ch, y + 1, xx + 1)];
                            let want = expected[(ch * h + y) * w + xx];
                            assert!(
                                (got - want).abs() < 1e-4,
                                "{c_in}->{c_out} {h}x{w} k{k}: ({ch},{y},{xx}) {got} vs {want}"
                            );
                        }
                    }
                }
                // Border stays zero.
                assert_eq!(out.data[out.index(0, 0, 0)], 0.0);
                assert_eq!(out.data[out.index(c_out - 1, h + 1, w + 1)], 0.0);
                // Pooling 2x2 against a direct max of the convolution's output.
                let mut pooled = Blocked::default();
                max_pool(&out, 2, 2, &mut pooled);
                for ch in 0..c_out {
                    for y in 0..h / 2 {
                        for xx in 0..w / 2 {
                            let want = (0..2)
                                .flat_map(|dy| (0..2).map(move |dx| (dy, dx)))
                                .map(|(dy, dx)| {
                                    out.data[out.index(ch, 2 * y + dy + 1, 2 * xx + dx + 1)]
                                })
                                .fold(f32::NEG_INFINITY, f32::max);
                            assert_eq!(pooled.data[pooled.index(ch, y + 1, xx + 1)], want);
                        }
                    }
                }
            }
        }
    }
}
