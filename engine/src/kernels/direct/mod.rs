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
//!
//! The tiles of each tier live in their own file: `avx512.rs`, `avx2.rs`; the portable tile and
//! the layout's other operations (pooling, unblocking) are here.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
use avx2::*;
#[cfg(target_arch = "x86_64")]
use avx512::*;

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
