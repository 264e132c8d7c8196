//! 3x3 convolutions by Winograd's minimal filtering, F(2x2, 3x3), on the channel-blocked maps
//! of [`super::direct`].
//!
//! Each 2x2 block of output pixels ("tile") is computed from the 4x4 input patch around it:
//! `Y = A^T [ (G g G^T) (.) (B^T d B) ] A`, summed over input channels, where `g` is a 3x3
//! kernel and `(.)` is an element-wise product. The 16 products of a tile replace the 36
//! multiply-adds of the direct convolution, 2.25x fewer. Summed over channels, each of the 16
//! positions becomes one matrix product: `M[k] (tiles x c_out) = V[k] (tiles x c_in) x
//! U[k] (c_in x c_out)`, run by [`super::panel_gemm`] against `U` packed once (or by the
//! `gemm` crate on CPUs without AVX2 + FMA). The transforms use only 0, +-1
//! and +-1/2, so the results agree with the direct convolution to a few ulps of the sums.
//!
//! Tiles are processed in chunks whose transformed inputs and products stay in the L2 cache;
//! when the transformed weights are large (deep layers), one chunk holds every tile so that
//! the weights stream through the caches once per line.

use super::conv::matmul;
use super::direct::{Blocked, LANES};
use super::panel_gemm;

/// Positions of a transformed 4x4 tile.
const POS: usize = 16;
/// Cache budget for one chunk's transformed inputs and products.
const CHUNK_BYTES: usize = 1 << 20;
/// Extra floats between the 16 position planes of the chunk buffers: with planes a power of
/// two bytes apart, the 16 streams of a transform fall into the same L1 sets and evict each
/// other.
const SKEW: usize = LANES;
/// Transformed weights larger than this are read once per line: a single chunk of all tiles.
const BIG_WEIGHTS: usize = 2 << 20;

/// 3x3 convolutions with at least this many input channels run by Winograd's F(2x2, 3x3)
/// (inference, when `FastModel::winograd` is on, and training): measured with `cargo bench -p engine --bench kernels
/// -- conv3x3`, it beats the direct kernel by 1.2x to 1.6x from 64 input channels on (64 -> 64
/// on 40x800 to 256 -> 256 on 10x66) and loses below (16 and 32 channels: the transforms cost
/// more than the saved multiply-adds).
pub const MIN_C_IN: usize = 64;

/// The same threshold on a CPU without AVX-512 (AVX2 + FMA): there the GEMMs of the transformed
/// tiles run on [`crate::kernels::panel_gemm`] against weights packed once, and Winograd beats the AVX2
/// direct tile from 128 input channels on (128 -> 256 on 10x200: 1.1x-1.4x; 512 -> 512 on
/// 5x66: 1.4x); it loses at 64 (0.7x on 64 -> 64 40x265: the transforms of many small tiles
/// cost more than the saved multiply-adds). Measured on an AMD EPYC with `cargo bench -p engine
/// --bench kernels -- conv3x3`, training paused; timings on that shared machine vary by 10-20%
/// from run to run, so each comparison was made within one run.
const MIN_C_IN_AVX2: usize = 128;

/// The fewest input channels for which a 3x3 convolution runs by Winograd on this CPU.
pub fn min_c_in() -> usize {
    if super::direct::has_asm_tile() {
        MIN_C_IN
    } else {
        MIN_C_IN_AVX2
    }
}

/// A 3x3 convolution ("same" padding, stride 1, bias and optional ReLU) prepared for
/// F(2x2, 3x3).
#[derive(Debug, Clone)]
pub struct WinogradConv {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Apply ReLU after the bias.
    pub relu: bool,
    /// `U [16, c_in_pad, c_out_pad]`: `G g G^T` of every (output, input) channel pair; with
    /// `panels`, each position's matrix packed by [`panel_gemm::pack`].
    u: Vec<f32>,
    /// `u` is packed for [`panel_gemm::gemm`] (CPUs with AVX2 + FMA and no AVX-512, where it
    /// beats the `gemm` crate, which packs the weights again at every call).
    panels: bool,
    /// `[c_out_pad]`, zero-padded.
    b: Vec<f32>,
}

/// Reusable buffers of [`WinogradConv::forward`].
#[derive(Debug, Clone, Default)]
pub struct WinogradScratch {
    /// `V [16, chunk, c_in_pad]`
    v: Vec<f32>,
    /// `M [16, chunk, c_out_pad]`
    m: Vec<f32>,
}

/// `G g G^T` for one 3x3 kernel `g` (row-major): the 4x4 transformed kernel.
pub fn kernel_transform(g: &[f32; 9]) -> [f32; 16] {
    // G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    let col = |a: f32, b: f32, c: f32| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    // rows of G g: [4][3]
    let mut gg = [[0.0f32; 3]; 4];
    for x in 0..3 {
        let c = col(g[x], g[3 + x], g[6 + x]);
        for y in 0..4 {
            gg[y][x] = c[y];
        }
    }
    let mut out = [0.0f32; 16];
    for y in 0..4 {
        let r = col(gg[y][0], gg[y][1], gg[y][2]);
        out[y * 4..y * 4 + 4].copy_from_slice(&r);
    }
    out
}

impl WinogradConv {
    /// Prepares `w [c_out, c_in * 9]` (row-major 3x3 kernels) and `b [c_out]`.
    pub fn new(c_in: usize, c_out: usize, w: &[f32], b: &[f32], relu: bool) -> Self {
        use rayon::prelude::*;
        let (ci, co) = (pad(c_in), pad(c_out));
        // Training prepares the weights at every step (forward and data gradient), so both
        // passes run on rayon's threads: the 16 transformed values of each kernel, output
        // channel by output channel, then each of the 16 planes gathered into place.
        let mut transformed = vec![[0.0f32; POS]; c_out * c_in];
        transformed
            .par_chunks_mut(c_in.max(1))
            .enumerate()
            .for_each(|(o, row)| {
                for (c, t) in row.iter_mut().enumerate() {
                    let k: &[f32; 9] = w[(o * c_in + c) * 9..(o * c_in + c + 1) * 9]
                        .try_into()
                        .unwrap_or_else(|_| unreachable!());
                    *t = kernel_transform(k);
                }
            });
        let panels = use_panels();
        debug_assert!(
            co.is_multiple_of(panel_gemm::PANEL),
            "winograd: padded channels"
        );
        // Plane p holds `W_p [ci, co]`, row-major, or in `panel_gemm::pack`'s layout.
        let at = |c: usize, o: usize| {
            if panels {
                panel_gemm::packed_index(c, o, ci)
            } else {
                c * co + o
            }
        };
        let mut u = vec![0.0f32; POS * ci * co];
        u.par_chunks_mut((ci * co).max(1))
            .enumerate()
            .for_each(|(p, plane)| {
                for o in 0..c_out {
                    for c in 0..c_in {
                        plane[at(c, o)] = transformed[o * c_in + c][p];
                    }
                }
            });
        let mut bias = vec![0.0f32; co];
        bias[..c_out].copy_from_slice(&b[..c_out]);
        Self {
            c_in,
            c_out,
            relu,
            u,
            panels,
            b: bias,
        }
    }

    /// `out = conv(input)`; `input` is a 16-lane blocked map of `c_in` channels.
    pub fn forward(
        &self,
        input: &Blocked,
        out: &mut Blocked,
        s: &mut WinogradScratch,
        threads: usize,
    ) {
        assert_eq!(input.c, self.c_in, "winograd: input channels");
        assert_eq!(input.lanes, LANES, "winograd: input layout");
        let (h, w) = (input.h, input.w);
        out.reset(self.c_out, h, w, LANES);
        let (ci, co) = (pad(self.c_in), pad(self.c_out));
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let tiles = th * tw;
        let per_tile = POS * (ci + co) * 4;
        let chunk = if self.u.len() * 4 > BIG_WEIGHTS {
            tiles
        } else {
            (CHUNK_BYTES / per_tile).clamp(16, tiles.max(16))
        };
        s.v.resize(POS * (chunk * ci + SKEW), 0.0);
        s.m.resize(POS * (chunk * co + SKEW), 0.0);
        let mut t0 = 0;
        while t0 < tiles {
            let n = chunk.min(tiles - t0);
            let (vs, ms) = (n * ci + SKEW, n * co + SKEW);
            transform_in(input, Chunk::new(tw, t0, n, ci, vs), &mut s.v);
            if self.panels {
                self.products_panels(&s.v, vs, &mut s.m, ms, n, threads);
            } else {
                for p in 0..POS {
                    matmul(
                        &mut s.m[p * ms..p * ms + n * co],
                        &s.v[p * vs..p * vs + n * ci],
                        &self.u[p * ci * co..(p + 1) * ci * co],
                        n,
                        ci,
                        co,
                        threads,
                    );
                }
            }
            transform_out(&s.m, Chunk::new(tw, t0, n, co, ms), &self.b, self.relu, out);
            t0 += n;
        }
    }

    /// `M[p] = V[p] @ U[p]` for the 16 positions on [`panel_gemm::gemm`] (`V` and `M` planes
    /// `vs` and `ms` floats apart, `n` tiles); several threads take whole positions.
    fn products_panels(
        &self,
        v: &[f32],
        vs: usize,
        m: &mut [f32],
        ms: usize,
        n: usize,
        threads: usize,
    ) {
        let (ci, co) = (pad(self.c_in), pad(self.c_out));
        let position = |p: usize, m: &mut [f32]| {
            let u = &self.u[p * ci * co..(p + 1) * ci * co];
            panel_gemm::gemm(&v[p * vs..], ci, n, u, ci, co, None, m, co);
        };
        if threads <= 1 {
            for (p, m) in m.chunks_mut(ms).take(POS).enumerate() {
                position(p, m);
            }
            return;
        }
        let per = POS.div_ceil(threads.min(POS));
        std::thread::scope(|scope| {
            for (g, planes) in m.chunks_mut(ms * per).enumerate() {
                let position = &position;
                scope.spawn(move || {
                    for (i, m) in planes.chunks_mut(ms).enumerate() {
                        if g * per + i < POS {
                            position(g * per + i, m);
                        }
                    }
                });
            }
        });
    }
}

/// Whether the transformed weights are packed for [`panel_gemm`]: on every CPU with AVX2 + FMA
/// (with AVX-512 too, where its 12 x 32 tiles ran 1.07x-1.10x the `gemm` crate's speed on the
/// 512-channel products, which the crate packs again at every call, and 0.92x-1.08x on the
/// 256-channel ones; the whole teacher-paper got faster against ONNX Runtime).
fn use_panels() -> bool {
    panel_gemm::available()
}

/// [`input_transform`], in AVX-512 (or AVX2) registers when the CPU has them.
fn transform_in(input: &Blocked, chunk: Chunk, v: &mut [f32]) {
    let Chunk {
        n,
        c: ci,
        stride: vs,
        ..
    } = chunk;
    assert!(vs >= n * ci && v.len() >= (POS - 1) * vs + n * ci && ci == input.blocks() * LANES);
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::tier::avx512() {
        // SAFETY: AVX-512F is available; the assert above and the blocked layout bound every
        // access (see the function).
        return unsafe { input_transform_avx512(input, chunk, v) };
    }
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2_fma() {
        // SAFETY: AVX2 and FMA are available.
        return unsafe { input_transform_avx2(input, chunk, v) };
    }
    input_transform(input, chunk, v)
}

/// [`input_transform`] compiled for AVX2 + FMA: its 16-lane loops become pairs of ymm
/// operations.
///
/// # Safety
/// AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn input_transform_avx2(input: &Blocked, chunk: Chunk, v: &mut [f32]) {
    input_transform(input, chunk, v)
}

/// [`output_transform`], in AVX-512 (or AVX2) registers when the CPU has them.
fn transform_out(m: &[f32], chunk: Chunk, bias: &[f32], relu: bool, out: &mut Blocked) {
    let Chunk {
        n,
        c: co,
        stride: ms,
        ..
    } = chunk;
    assert!(ms >= n * co && m.len() >= (POS - 1) * ms + n * co);
    assert!(co == out.blocks() * LANES && bias.len() >= co);
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::tier::avx512() {
        // SAFETY: AVX-512F is available; the assert above and the blocked layout bound every
        // access (see the function).
        return unsafe { output_transform_avx512(m, chunk, bias, relu, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if super::has_avx2_fma() {
        // SAFETY: AVX2 and FMA are available.
        return unsafe { output_transform_avx2(m, chunk, bias, relu, out) };
    }
    output_transform(m, chunk, bias, relu, out)
}

/// [`output_transform`] compiled for AVX2 + FMA: its 16-lane loops become pairs of ymm
/// operations.
///
/// # Safety
/// AVX2 and FMA must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn output_transform_avx2(
    m: &[f32],
    chunk: Chunk,
    bias: &[f32],
    relu: bool,
    out: &mut Blocked,
) {
    output_transform(m, chunk, bias, relu, out)
}

/// [`input_transform`] with AVX-512: one vector per 16 channels.
///
/// # Safety
/// AVX-512F must be available; `v` holds the 16 planes, `vs` floats apart, of `n * ci` values,
/// and `ci` is the input's padded channel count; the tiles `t0..t0 + n` lie in the map (`tw`
/// tiles per row).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn input_transform_avx512(input: &Blocked, chunk: Chunk, v: &mut [f32]) {
    let Chunk {
        tw,
        t0,
        n,
        c: ci,
        stride: vs,
    } = chunk;
    use std::arch::x86_64::*;
    let (h, w) = (input.h, input.w);
    let row = (w + 2) * LANES;
    let plane = input.plane();
    let src = input.data.as_ptr();
    let dst = v.as_mut_ptr();
    // SAFETY: every load is at border-relative (y, x) with y <= h + 1 and x <= w + 1 inside
    // block cb < ci / 16, so inside `input.data`; every store at (p, t - t0, cb) < (16, n, ci /
    // 16) inside `v` (the caller's contract).
    unsafe {
        let zero = _mm512_setzero_ps();
        for t in t0..t0 + n {
            let (ty, tx) = (t / tw, t % tw);
            let (y0, x0) = (2 * ty, 2 * tx);
            let inside = y0 + 3 <= h + 1 && x0 + 3 <= w + 1;
            for cb in 0..ci / LANES {
                let base = src.add(cb * plane + y0 * row + x0 * LANES);
                let mut d = [[zero; 4]; 4];
                for (i, di) in d.iter_mut().enumerate() {
                    for (j, dij) in di.iter_mut().enumerate() {
                        if inside || (y0 + i <= h + 1 && x0 + j <= w + 1) {
                            *dij = _mm512_loadu_ps(base.add(i * row + j * LANES));
                        }
                    }
                }
                // B^T d: rows.
                let mut r = [[zero; 4]; 4];
                for j in 0..4 {
                    r[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
                    r[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
                    r[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
                    r[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
                }
                // (B^T d) B: columns.
                let out = dst.add((t - t0) * ci + cb * LANES);
                for (i, ri) in r.iter().enumerate() {
                    let o = out.add(i * 4 * vs);
                    _mm512_storeu_ps(o, _mm512_sub_ps(ri[0], ri[2]));
                    _mm512_storeu_ps(o.add(vs), _mm512_add_ps(ri[1], ri[2]));
                    _mm512_storeu_ps(o.add(2 * vs), _mm512_sub_ps(ri[2], ri[1]));
                    _mm512_storeu_ps(o.add(3 * vs), _mm512_sub_ps(ri[1], ri[3]));
                }
            }
        }
    }
}

/// [`output_transform`] with AVX-512.
///
/// # Safety
/// AVX-512F must be available; `m` holds the 16 planes, `ms` floats apart, of `n * co` values,
/// `bias` `co`, and `co` is the output's padded channel count; the tiles `t0..t0 + n` lie in
/// the map.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn output_transform_avx512(
    m: &[f32],
    chunk: Chunk,
    bias: &[f32],
    relu: bool,
    out: &mut Blocked,
) {
    let Chunk {
        tw,
        t0,
        n,
        c: co,
        stride: ms,
    } = chunk;
    use std::arch::x86_64::*;
    let (h, w) = (out.h, out.w);
    let row = (w + 2) * LANES;
    let plane = out.plane();
    let dst = out.data.as_mut_ptr();
    // SAFETY: loads at (p, t - t0, ob) < (16, n, co / 16) inside `m`; stores at output pixels
    // (oy, ox) < (h, w), border-relative (oy + 1, ox + 1), of block ob inside `out.data`.
    unsafe {
        let zero = _mm512_setzero_ps();
        for t in t0..t0 + n {
            let (ty, tx) = (t / tw, t % tw);
            let (y0, x0) = (2 * ty, 2 * tx);
            for ob in 0..co / LANES {
                let src = m.as_ptr().add((t - t0) * co + ob * LANES);
                let at = |p: usize| _mm512_loadu_ps(src.add(p * ms));
                let b = _mm512_loadu_ps(bias.as_ptr().add(ob * LANES));
                // m A: per row i, [m0 + m1 + m2, m1 - m2 - m3].
                let mut s = [[zero; 2]; 4];
                for (i, si) in s.iter_mut().enumerate() {
                    let (a, bb, c, e) = (at(i * 4), at(i * 4 + 1), at(i * 4 + 2), at(i * 4 + 3));
                    si[0] = _mm512_add_ps(_mm512_add_ps(a, bb), c);
                    si[1] = _mm512_sub_ps(_mm512_sub_ps(bb, c), e);
                }
                let [s0, s1, s2, s3] = s;
                for jj in 0..2 {
                    let top = _mm512_add_ps(_mm512_add_ps(s0[jj], s1[jj]), s2[jj]);
                    let bottom = _mm512_sub_ps(_mm512_sub_ps(s1[jj], s2[jj]), s3[jj]);
                    for (a, val) in [(0, top), (1, bottom)] {
                        let (oy, ox) = (y0 + a, x0 + jj);
                        if oy < h && ox < w {
                            let mut val = _mm512_add_ps(val, b);
                            if relu {
                                val = _mm512_max_ps(val, zero);
                            }
                            let p = ob * plane + (oy + 1) * row + (ox + 1) * LANES;
                            _mm512_storeu_ps(dst.add(p), val);
                        }
                    }
                }
            }
        }
    }
}

/// One chunk of tiles and the layout of its transformed buffer (`V` or `M`): tiles
/// `t0..t0 + n` of a map `tw` tiles wide, `c` (padded) channels per tile, the 16 position
/// planes `stride` floats apart.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    tw: usize,
    t0: usize,
    n: usize,
    c: usize,
    stride: usize,
}

impl Chunk {
    fn new(tw: usize, t0: usize, n: usize, c: usize, stride: usize) -> Self {
        Self {
            tw,
            t0,
            n,
            c,
            stride,
        }
    }
}

/// Channels rounded up to whole blocks.
fn pad(c: usize) -> usize {
    c.div_ceil(LANES) * LANES
}

/// `V[p, t - t0, ch]` = `(B^T d B)[p]` for the tiles `t0..t0 + n` (`V` laid out
/// `[16, n, ci]`, position planes `vs` floats apart), `d` the 4x4 input patch of the tile (zero
/// beyond the border).
#[inline(always)]
fn input_transform(input: &Blocked, chunk: Chunk, v: &mut [f32]) {
    let Chunk {
        tw,
        t0,
        n,
        c: ci,
        stride: vs,
    } = chunk;
    let (h, w) = (input.h, input.w);
    let row = (w + 2) * LANES;
    let plane = input.plane();
    for t in t0..t0 + n {
        let (ty, tx) = (t / tw, t % tw);
        for cb in 0..ci / LANES {
            // d[i][j]: border-relative row 2ty + i, column 2tx + j.
            let mut d = [[[0.0f32; LANES]; 4]; 4];
            for (i, di) in d.iter_mut().enumerate() {
                let y = 2 * ty + i;
                if y > h + 1 {
                    continue;
                }
                for (j, dij) in di.iter_mut().enumerate() {
                    let x = 2 * tx + j;
                    if x > w + 1 {
                        continue;
                    }
                    let at = cb * plane + y * row + x * LANES;
                    dij.copy_from_slice(&input.data[at..at + LANES]);
                }
            }
            // B^T d B with B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
            let mut r = [[[0.0f32; LANES]; 4]; 4];
            for j in 0..4 {
                for l in 0..LANES {
                    let (a, b, c, e) = (d[0][j][l], d[1][j][l], d[2][j][l], d[3][j][l]);
                    r[0][j][l] = a - c;
                    r[1][j][l] = b + c;
                    r[2][j][l] = c - b;
                    r[3][j][l] = b - e;
                }
            }
            for (i, ri) in r.iter().enumerate() {
                for l in 0..LANES {
                    let (a, b, c, e) = (ri[0][l], ri[1][l], ri[2][l], ri[3][l]);
                    let out = [a - c, b + c, c - b, b - e];
                    for (j, o) in out.into_iter().enumerate() {
                        v[(i * 4 + j) * vs + (t - t0) * ci + cb * LANES + l] = o;
                    }
                }
            }
        }
    }
}

/// The weight gradient of a 3x3 "same" convolution by F(2x2, 3x3), for training: with
/// `Y = A^T [sum_c (G g G^T) (.) (B^T d B)] A` per tile, the gradient of the transformed kernel
/// is `dU[p] (c_out x c_in) = sum over tiles of (A dY A^T)[p]^T (B^T d B)[p]`, 16 GEMMs whose
/// reduction runs over the tiles, and `dg = G^T dU G`. Accumulate images with
/// [`WeightGradient::add`], then read `[c_out, c_in, 3, 3]` with [`WeightGradient::finish`].
#[derive(Debug, Clone)]
pub struct WeightGradient {
    c_in: usize,
    c_out: usize,
    /// `dU [16, pad(c_out), pad(c_in)]`.
    du: Vec<f32>,
    /// Transformed input tiles `[16, chunk, pad(c_in)]`.
    v: Vec<f32>,
    /// Transformed output gradients `[16, chunk, pad(c_out)]`.
    g: Vec<f32>,
}

impl WeightGradient {
    /// A zero gradient for `c_out x c_in` 3x3 kernels.
    pub fn new(c_in: usize, c_out: usize) -> Self {
        Self {
            c_in,
            c_out,
            du: vec![0.0; POS * pad(c_out) * pad(c_in)],
            v: Vec::new(),
            g: Vec::new(),
        }
    }

    /// Adds one image: `input` (16-lane blocked, `c_in` channels) and the gradient of the
    /// convolution's output `dy` (16-lane blocked, `c_out` channels, same size).
    pub fn add(&mut self, input: &Blocked, dy: &Blocked) {
        assert!(
            input.c == self.c_in && dy.c == self.c_out && input.lanes == LANES && dy.lanes == LANES,
            "winograd weight gradient: layouts"
        );
        assert!(
            input.h == dy.h && input.w == dy.w,
            "winograd weight gradient: sizes"
        );
        let (ci, co) = (pad(self.c_in), pad(self.c_out));
        let tw = input.w.div_ceil(2);
        let tiles = input.h.div_ceil(2) * tw;
        let chunk = (CHUNK_BYTES / (POS * (ci + co) * 4)).clamp(16, tiles.max(16));
        self.v.resize(POS * (chunk * ci + SKEW), 0.0);
        self.g.resize(POS * (chunk * co + SKEW), 0.0);
        let mut t0 = 0;
        while t0 < tiles {
            let n = chunk.min(tiles - t0);
            let (vs, gs) = (n * ci + SKEW, n * co + SKEW);
            transform_in(input, Chunk::new(tw, t0, n, ci, vs), &mut self.v);
            gradient_transform(dy, Chunk::new(tw, t0, n, co, gs), &mut self.g);
            for p in 0..POS {
                // dU[p] [co, ci] += G[p]^T [co, n] x V[p] [n, ci]
                super::conv::matmul_accumulate(
                    &mut self.du[p * co * ci..(p + 1) * co * ci],
                    ci,
                    &self.g[p * gs..p * gs + n * co],
                    (1, co),
                    &self.v[p * vs..p * vs + n * ci],
                    (ci, 1),
                    co,
                    n,
                    ci,
                );
            }
            t0 += n;
        }
    }

    /// Adds another accumulated gradient of the same shape (images summed on other threads).
    pub fn merge(&mut self, other: &WeightGradient) {
        self.du.iter_mut().zip(&other.du).for_each(|(a, b)| *a += b);
    }

    /// `dg [c_out, c_in, 3, 3] = G^T dU G`.
    pub fn finish(&self) -> Vec<f32> {
        let (ci, co) = (pad(self.c_in), pad(self.c_out));
        // G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]]
        const GT: [[f32; 4]; 3] = [
            [1.0, 0.5, 0.5, 0.0],
            [0.0, 0.5, -0.5, 0.0],
            [0.0, 0.5, 0.5, 1.0],
        ];
        let mut dg = vec![0.0f32; self.c_out * self.c_in * 9];
        for o in 0..self.c_out {
            for c in 0..self.c_in {
                let u = |r: usize, s: usize| self.du[(r * 4 + s) * co * ci + o * ci + c];
                let mut t = [[0.0f32; 4]; 3];
                for (a, ta) in t.iter_mut().enumerate() {
                    for (s, tas) in ta.iter_mut().enumerate() {
                        *tas = (0..4).map(|r| GT[a][r] * u(r, s)).sum();
                    }
                }
                let k = &mut dg[(o * self.c_in + c) * 9..(o * self.c_in + c + 1) * 9];
                for a in 0..3 {
                    for b in 0..3 {
                        k[a * 3 + b] = (0..4).map(|s| t[a][s] * GT[b][s]).sum();
                    }
                }
            }
        }
        dg
    }
}

/// `G[p, t - t0, ch]` = `(A dY A^T)[p]` for the tiles `t0..t0 + n` of an output gradient `dy`
/// (its 2x2 pixels per tile; pixels past the map count as zero), with `A^T = [[1, 1, 1, 0],
/// [0, 1, -1, -1]]`.
fn gradient_transform(dy: &Blocked, chunk: Chunk, g: &mut [f32]) {
    let Chunk {
        tw,
        t0,
        n,
        c: co,
        stride: gs,
    } = chunk;
    assert!(gs >= n * co && g.len() >= (POS - 1) * gs + n * co && co == dy.blocks() * LANES);
    for t in t0..t0 + n {
        let (ty, tx) = (t / tw, t % tw);
        for cb in 0..co / LANES {
            let mut e = [[[0.0f32; LANES]; 2]; 2];
            for (i, ei) in e.iter_mut().enumerate() {
                let y = 2 * ty + i;
                if y >= dy.h {
                    continue;
                }
                for (j, eij) in ei.iter_mut().enumerate() {
                    let x = 2 * tx + j;
                    if x < dy.w {
                        let at = dy.index(cb * LANES, y + 1, x + 1);
                        eij.copy_from_slice(&dy.data[at..at + LANES]);
                    }
                }
            }
            // A e: rows [e0, e0 + e1, e0 - e1, -e1], then the same along the columns.
            let mut r = [[[0.0f32; LANES]; 2]; 4];
            for j in 0..2 {
                for l in 0..LANES {
                    let (a, b) = (e[0][j][l], e[1][j][l]);
                    r[0][j][l] = a;
                    r[1][j][l] = a + b;
                    r[2][j][l] = a - b;
                    r[3][j][l] = -b;
                }
            }
            for (i, ri) in r.iter().enumerate() {
                for l in 0..LANES {
                    let (a, b) = (ri[0][l], ri[1][l]);
                    for (j, o) in [a, a + b, a - b, -b].into_iter().enumerate() {
                        g[(i * 4 + j) * gs + (t - t0) * co + cb * LANES + l] = o;
                    }
                }
            }
        }
    }
}

/// Writes the 2x2 output pixels of the tiles `t0..t0 + n` from `M [16, n, co]` (position
/// planes `ms` floats apart):
/// `A^T m A` with `A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]`, plus bias, then ReLU.
#[inline(always)]
fn output_transform(m: &[f32], chunk: Chunk, bias: &[f32], relu: bool, out: &mut Blocked) {
    let Chunk {
        tw,
        t0,
        n,
        c: co,
        stride: ms,
    } = chunk;
    let (h, w) = (out.h, out.w);
    let row = (w + 2) * LANES;
    let plane = out.plane();
    for t in t0..t0 + n {
        let (ty, tx) = (t / tw, t % tw);
        for ob in 0..co / LANES {
            let at = |p: usize, l: usize| m[p * ms + (t - t0) * co + ob * LANES + l];
            // s[i][jj] = sum over j of m[i][j] A[j][jj], then rows.
            let mut y = [[[0.0f32; LANES]; 2]; 2];
            for l in 0..LANES {
                let mut s = [[0.0f32; 2]; 4];
                for (i, si) in s.iter_mut().enumerate() {
                    let (a, b, c, e) = (
                        at(i * 4, l),
                        at(i * 4 + 1, l),
                        at(i * 4 + 2, l),
                        at(i * 4 + 3, l),
                    );
                    *si = [a + b + c, b - c - e];
                }
                for jj in 0..2 {
                    y[0][jj][l] = s[0][jj] + s[1][jj] + s[2][jj] + bias[ob * LANES + l];
                    y[1][jj][l] = s[1][jj] - s[2][jj] - s[3][jj] + bias[ob * LANES + l];
                }
            }
            for (a, ya) in y.iter().enumerate() {
                let oy = 2 * ty + a;
                if oy >= h {
                    continue;
                }
                for (b, yab) in ya.iter().enumerate() {
                    let ox = 2 * tx + b;
                    if ox >= w {
                        continue;
                    }
                    let dst = ob * plane + (oy + 1) * row + (ox + 1) * LANES;
                    let dst = &mut out.data[dst..dst + LANES];
                    for (d, v) in dst.iter_mut().zip(yab) {
                        *d = if relu { v.max(0.0) } else { *v };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::direct::{self, PackedConv};
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// A blocked map of random values (zero border, zero padding channels).
    fn map(c: usize, h: usize, w: usize, rng: &mut StdRng) -> Blocked {
        let mut m = Blocked::default();
        m.reset(c, h, w, LANES);
        for ch in 0..c {
            for y in 1..=h {
                for x in 1..=w {
                    let i = m.index(ch, y, x);
                    m.data[i] = rng.random_range(-1.0f32..1.0);
                }
            }
        }
        m
    }

    /// The transformed kernel, summed against a transformed patch, equals the direct 2x2
    /// output, on one channel computed by hand.
    #[test]
    fn kernel_transform_matches_brute_force_on_one_tile() {
        let mut rng = StdRng::seed_from_u64(1);
        let g: [f32; 9] = random(9, &mut rng).try_into().unwrap();
        let d = random(16, &mut rng);
        let u = kernel_transform(&g);
        // B^T d B by matrices.
        let bt = [
            [1., 0., -1., 0.],
            [0., 1., 1., 0.],
            [0., -1., 1., 0.],
            [0., 1., 0., -1.],
        ];
        let at = [[1., 1., 1., 0.], [0., 1., -1., -1.]];
        let mut v = [[0.0f32; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                for a in 0..4 {
                    for b in 0..4 {
                        v[i][j] += bt[i][a] * d[a * 4 + b] * bt[j][b];
                    }
                }
            }
        }
        for oy in 0..2 {
            for ox in 0..2 {
                let mut want = 0.0f32;
                for ky in 0..3 {
                    for kx in 0..3 {
                        want += g[ky * 3 + kx] * d[(oy + ky) * 4 + ox + kx];
                    }
                }
                let mut got = 0.0f32;
                for i in 0..4 {
                    for j in 0..4 {
                        got += at[oy][i] * u[i * 4 + j] * v[i][j] * at[ox][j];
                    }
                }
                assert!((got - want).abs() < 1e-5, "{got} vs {want}");
            }
        }
    }

    /// Odd and even sizes, padding channels, one or many chunks: the same map as the direct
    /// convolution.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        let mut rng = StdRng::seed_from_u64(2);
        for &(c_in, c_out, h, w, relu) in &[
            (16, 16, 4, 6, true),
            (20, 40, 5, 7, false),
            (64, 32, 3, 1, true),
            (32, 16, 1, 9, false),
            (48, 64, 10, 131, true),
            (300, 128, 3, 9, true),
        ] {
            let input = map(c_in, h, w, &mut rng);
            let wts = random(c_out * c_in * 9, &mut rng);
            let b = random(c_out, &mut rng);
            let mut want = Blocked::default();
            direct::conv(
                &input,
                &PackedConv::new(c_in, c_out, 3, &wts, &b, relu),
                &mut want,
            );
            let wino = WinogradConv::new(c_in, c_out, &wts, &b, relu);
            for threads in [1, 3] {
                let mut got = Blocked {
                    data: vec![f32::NAN; 7],
                    ..Blocked::default()
                };
                wino.forward(&input, &mut got, &mut WinogradScratch::default(), threads);
                assert_eq!((got.c, got.h, got.w), (c_out, h, w));
                let diff = super::super::max_abs_diff(&got.data, &want.data);
                assert!(
                    diff < 1e-4,
                    "{c_in}->{c_out} {h}x{w}, {threads} threads: {diff}"
                );
            }
        }
    }

    /// The portable transforms (CPUs without AVX-512) give what the AVX-512 ones give.
    #[test]
    fn portable_transforms_match_the_vector_ones() {
        let mut rng = StdRng::seed_from_u64(3);
        let (c, h, w) = (32, 5, 9);
        let input = map(c, h, w, &mut rng);
        let (tw, tiles) = (w.div_ceil(2), h.div_ceil(2) * w.div_ceil(2));
        let (t0, n) = (2, tiles - 3);
        let vs = n * c + SKEW;
        let (mut a, mut b) = (vec![0.0f32; POS * vs], vec![0.0f32; POS * vs]);
        let chunk = Chunk::new(tw, t0, n, c, vs);
        transform_in(&input, chunk, &mut a);
        input_transform(&input, chunk, &mut b);
        assert_eq!(a, b);
        let bias = random(c, &mut rng);
        let (mut oa, mut ob) = (Blocked::default(), Blocked::default());
        oa.reset(c, h, w, LANES);
        ob.reset(c, h, w, LANES);
        transform_out(&a, chunk, &bias, true, &mut oa);
        output_transform(&a, chunk, &bias, true, &mut ob);
        assert!(super::super::max_abs_diff(&oa.data, &ob.data) < 1e-6);
    }
}
