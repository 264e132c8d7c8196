//! The convolution's three products on plain `[batch, channels, height, width]` buffers, for
//! training: the forward pass, the data gradient and the weight gradient of a "same"
//! convolution (stride 1, kernel 1 or 3, no bias).
//!
//! - **Forward** runs the fast path's kernels image by image: each image is copied into the
//!   channel-blocked layout, convolved, and copied back. 3x3 convolutions with many input
//!   channels run by Winograd's F(2x2, 3x3) ([`crate::kernels::winograd`]) from the same
//!   threshold as inference, the others by the direct kernels ([`crate::kernels::direct`]).
//! - **Data gradient**: `dx = conv(dy, w')` with `w'[ci][co][t] = w[co][ci][taps - 1 - t]` (the
//!   kernel flipped and its channel axes swapped), so it is the same forward kernel.
//! - **Weight gradient**: `dw [co, ci * taps] = sum over images of dy [co, hw] x cols^T`, where
//!   `cols [ci * taps, hw]` are the image's im2col columns, in bands of pixels that stay in
//!   cache, by the `gemm` crate; 3x3 convolutions with many input channels by Winograd's
//!   F(2x2, 3x3) instead ([`crate::kernels::winograd::WeightGradient`]).
//!
//! Images are spread over rayon's threads (`RAYON_NUM_THREADS`); each product stays on one
//! thread, so two threads share one step without splitting a GEMM.

use crate::kernels::conv::{im2col3x3_range, matmul_accumulate};
use crate::kernels::direct::{self, Blocked, LANES, PackedConv};
use crate::kernels::winograd::{WeightGradient, WinogradConv, WinogradScratch};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Geometry of one convolution call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Rows (input and output).
    pub h: usize,
    /// Columns (input and output).
    pub w: usize,
    /// Kernel size, 1 or 3.
    pub kernel: usize,
}

impl ConvShape {
    fn taps(&self) -> usize {
        self.kernel * self.kernel
    }
}

/// Pixels per band of the weight gradient's im2col columns: the band's columns (`c_in * 9`
/// rows) stay near 2 MiB.
fn band_pixels(c_in: usize, hw: usize) -> usize {
    ((2 << 20) / (4 * 9 * c_in.max(1))).clamp(64, hw.max(64))
}

/// Copies `[c, h, w]` into the blocked layout (`lanes` 1 for one channel, else 16).
fn to_blocked(x: &[f32], c: usize, h: usize, w: usize, out: &mut Blocked) {
    if c == 1 {
        out.from_plain(x, h, w, w);
        return;
    }
    out.reset(c, h, w, LANES);
    let blocks = out.blocks();
    for b in 0..blocks {
        let lanes = (c - b * LANES).min(LANES);
        for y in 0..h {
            let row = out.index(b * LANES, y + 1, 1);
            let dst = &mut out.data[row..row + w * LANES];
            for l in 0..lanes {
                let src = &x[((b * LANES + l) * h + y) * w..((b * LANES + l) * h + y + 1) * w];
                for (px, &v) in src.iter().enumerate() {
                    dst[px * LANES + l] = v;
                }
            }
            if lanes < LANES {
                for px in 0..w {
                    dst[px * LANES + lanes..(px + 1) * LANES].fill(0.0);
                }
            }
        }
    }
}

/// Copies a blocked map back into `[c, h, w]`, writing every element of `out` (which may be
/// uninitialized: the outputs are not zeroed first).
fn from_blocked(map: &Blocked, out: &mut [MaybeUninit<f32>]) {
    assert_eq!(
        out.len(),
        map.c * map.h * map.w,
        "from_blocked: output size"
    );
    let (c, h, w) = (map.c, map.h, map.w);
    for b in 0..map.blocks() {
        let lanes = (c - b * LANES).min(LANES);
        for y in 0..h {
            let row = map.index(b * LANES, y + 1, 1);
            let src = &map.data[row..row + w * LANES];
            for l in 0..lanes {
                let dst =
                    &mut out[((b * LANES + l) * h + y) * w..((b * LANES + l) * h + y + 1) * w];
                for (px, d) in dst.iter_mut().enumerate() {
                    d.write(src[px * LANES + l]);
                }
            }
        }
    }
}

/// A convolution's weights prepared for the kernel that runs it.
enum Prepared {
    /// The direct kernels.
    Direct(PackedConv),
    /// Winograd's F(2x2, 3x3).
    Winograd(Box<WinogradConv>),
}

impl Prepared {
    /// `w [c_out, c_in, k, k]` for the kernel inference would run it on.
    fn new(s: ConvShape, weight: &[f32]) -> Self {
        let zero = vec![0.0; s.c_out];
        if s.kernel == 3 && s.c_in >= crate::kernels::winograd::min_c_in() {
            Prepared::Winograd(Box::new(WinogradConv::new(
                s.c_in, s.c_out, weight, &zero, false,
            )))
        } else {
            Prepared::Direct(PackedConv::new(
                s.c_in, s.c_out, s.kernel, weight, &zero, false,
            ))
        }
    }
}

thread_local! {
    /// Each thread's blocked input and output maps and Winograd scratch, kept from call to call
    /// (they only grow). Made anew for each of rayon's splits, they were allocated,
    /// page-faulted and zeroed again at every layer of every step, more often with two threads,
    /// whose work stealing splits more. Nothing inside the borrow calls back into rayon.
    static MAPS: std::cell::RefCell<(Blocked, Blocked, WinogradScratch)> =
        std::cell::RefCell::default();
}

/// `conv` on every image of `x [batch, c_in, h, w]`: `[batch, c_out, h, w]`.
fn convolve_images(x: &[f32], s: ConvShape, conv: &Prepared) -> Vec<f32> {
    let (in_len, out_len) = (s.c_in * s.h * s.w, s.c_out * s.h * s.w);
    assert_eq!(x.len(), s.batch * in_len, "convolve_images: input size");
    // Every element is written by `from_blocked`, so the buffer is not zeroed first (for the
    // first layers of a batch that is tens of MB per call, a few % of a training step).
    let mut out = Vec::with_capacity(s.batch * out_len);
    out.spare_capacity_mut()[..s.batch * out_len]
        .par_chunks_mut(out_len)
        .zip(x.par_chunks(in_len))
        .for_each(|(dst, src)| {
            MAPS.with_borrow_mut(|(input, output, scratch)| {
                to_blocked(src, s.c_in, s.h, s.w, input);
                match conv {
                    Prepared::Direct(packed) => direct::conv(input, packed, output),
                    Prepared::Winograd(wino) => wino.forward(input, output, scratch, 1),
                }
                from_blocked(output, dst);
            })
        });
    // SAFETY: the `batch` chunks of `out_len`, each zipped with one of the `batch` images,
    // cover the first `batch * out_len` elements, and `from_blocked` wrote every element of
    // each (it asserts its output's size is `c * h * w` and loops over every channel, row and
    // column).
    unsafe { out.set_len(s.batch * out_len) };
    out
}

/// `y [batch, c_out, h, w] = conv(x [batch, c_in, h, w], w [c_out, c_in, k, k])`.
pub fn forward(x: &[f32], weight: &[f32], s: ConvShape) -> Vec<f32> {
    assert_eq!(
        x.len(),
        s.batch * s.c_in * s.h * s.w,
        "conv forward: input size"
    );
    assert_eq!(
        weight.len(),
        s.c_out * s.c_in * s.taps(),
        "conv forward: weight size"
    );
    convolve_images(x, s, &Prepared::new(s, weight))
}

/// `y [batch, c_out, h, w] += bias [c_out]` (per output channel), plane by plane on rayon's
/// threads.
pub fn add_bias(y: &mut [f32], bias: &[f32], s: ConvShape) {
    assert_eq!(bias.len(), s.c_out, "conv bias size");
    let hw = (s.h * s.w).max(1);
    y.par_chunks_mut(hw).enumerate().for_each(|(p, plane)| {
        let b = bias[p % s.c_out];
        plane.iter_mut().for_each(|v| *v += b);
    });
}

/// `db [c_out]`: `dy [batch, c_out, h, w]` summed per channel (the channels on rayon's
/// threads, each summing its planes in image order).
pub fn bias_gradient(dy: &[f32], s: ConvShape) -> Vec<f32> {
    let hw = s.h * s.w;
    (0..s.c_out)
        .into_par_iter()
        .map(|c| {
            (0..s.batch)
                .map(|n| {
                    let at = (n * s.c_out + c) * hw;
                    dy[at..at + hw].iter().sum::<f32>()
                })
                .sum()
        })
        .collect()
}

/// `dx [batch, c_in, h, w]` from `dy [batch, c_out, h, w]` and `w [c_out, c_in, k, k]`.
pub fn data_gradient(dy: &[f32], weight: &[f32], s: ConvShape) -> Vec<f32> {
    assert_eq!(
        dy.len(),
        s.batch * s.c_out * s.h * s.w,
        "conv data gradient: dy size"
    );
    let taps = s.taps();
    let mut flipped = vec![0.0f32; weight.len()];
    for co in 0..s.c_out {
        for ci in 0..s.c_in {
            for t in 0..taps {
                flipped[(ci * s.c_out + co) * taps + t] =
                    weight[(co * s.c_in + ci) * taps + taps - 1 - t];
            }
        }
    }
    let back = ConvShape {
        c_in: s.c_out,
        c_out: s.c_in,
        ..s
    };
    convolve_images(dy, back, &Prepared::new(back, &flipped))
}

/// The weight gradient of a 3x3 convolution by Winograd's F(2x2, 3x3), image by image on
/// rayon's threads.
fn winograd_weight_gradient(x: &[f32], dy: &[f32], s: ConvShape) -> Vec<f32> {
    let (in_len, out_len) = (s.c_in * s.h * s.w, s.c_out * s.h * s.w);
    let zero = || {
        (
            WeightGradient::new(s.c_in, s.c_out),
            Blocked::default(),
            Blocked::default(),
        )
    };
    let (dw, _, _) = x
        .par_chunks(in_len)
        .zip(dy.par_chunks(out_len))
        .fold(zero, |(mut dw, mut input, mut grad), (x, dy)| {
            to_blocked(x, s.c_in, s.h, s.w, &mut input);
            to_blocked(dy, s.c_out, s.h, s.w, &mut grad);
            dw.add(&input, &grad);
            (dw, input, grad)
        })
        .reduce(zero, |(mut a, i, g), (b, _, _)| {
            a.merge(&b);
            (a, i, g)
        });
    dw.finish()
}

/// `dw [c_out, c_in, k, k]` from `x [batch, c_in, h, w]` and `dy [batch, c_out, h, w]`.
pub fn weight_gradient(x: &[f32], dy: &[f32], s: ConvShape) -> Vec<f32> {
    let hw = s.h * s.w;
    let (in_len, out_len) = (s.c_in * hw, s.c_out * hw);
    assert_eq!(
        x.len(),
        s.batch * in_len,
        "conv weight gradient: input size"
    );
    assert_eq!(dy.len(), s.batch * out_len, "conv weight gradient: dy size");
    if s.kernel == 3 && s.c_in >= crate::kernels::winograd::min_c_in() {
        return winograd_weight_gradient(x, dy, s);
    }
    im2col_weight_gradient(x, dy, s)
}

/// The weight gradient by im2col + GEMM, image by image on rayon's threads.
fn im2col_weight_gradient(x: &[f32], dy: &[f32], s: ConvShape) -> Vec<f32> {
    let hw = s.h * s.w;
    let (in_len, out_len) = (s.c_in * hw, s.c_out * hw);
    let cols_n = s.c_in * s.taps();
    let zero = || (vec![0.0f32; s.c_out * cols_n], Vec::new());
    let (dw, _) = x
        .par_chunks(in_len)
        .zip(dy.par_chunks(out_len))
        .fold(zero, |(mut dw, mut cols), (x, dy)| {
            if s.kernel == 1 {
                // dw [co, ci] += dy [co, hw] x x^T [hw, ci]
                matmul_accumulate(
                    &mut dw,
                    cols_n,
                    dy,
                    (hw, 1),
                    x,
                    (1, hw),
                    s.c_out,
                    hw,
                    cols_n,
                );
            } else {
                let band = band_pixels(s.c_in, hw);
                let mut p0 = 0;
                while p0 < hw {
                    let p1 = (p0 + band).min(hw);
                    im2col3x3_range(x, s.c_in, s.h, s.w, p0, p1, &mut cols);
                    let np = p1 - p0;
                    let (lhs, rhs) = (&dy[p0..], &cols);
                    matmul_accumulate(
                        &mut dw,
                        cols_n,
                        lhs,
                        (hw, 1),
                        rhs,
                        (1, np),
                        s.c_out,
                        np,
                        cols_n,
                    );
                    p0 = p1;
                }
            }
            (dw, cols)
        })
        .reduce(zero, |(mut a, c), (b, _)| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            (a, c)
        });
    dw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ops::test_values;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        test_values(len, seed, 1.0)
    }

    /// The textbook sums, read straight from the definition.
    fn reference_forward(x: &[f32], w: &[f32], s: ConvShape) -> Vec<f32> {
        let (k, r) = (s.kernel as isize, (s.kernel / 2) as isize);
        let mut y = vec![0.0f32; s.batch * s.c_out * s.h * s.w];
        for n in 0..s.batch {
            for co in 0..s.c_out {
                for yy in 0..s.h as isize {
                    for xx in 0..s.w as isize {
                        let mut acc = 0.0f64;
                        for ci in 0..s.c_in {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (sy, sx) = (yy + ky - r, xx + kx - r);
                                    if sy < 0 || sx < 0 || sy >= s.h as isize || sx >= s.w as isize
                                    {
                                        continue;
                                    }
                                    let xv = x[((n * s.c_in + ci) * s.h + sy as usize) * s.w
                                        + sx as usize];
                                    let wv = w[((co * s.c_in + ci) * s.kernel + ky as usize)
                                        * s.kernel
                                        + kx as usize];
                                    acc += xv as f64 * wv as f64;
                                }
                            }
                        }
                        y[((n * s.c_out + co) * s.h + yy as usize) * s.w + xx as usize] =
                            acc as f32;
                    }
                }
            }
        }
        y
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    const SHAPES: [ConvShape; 7] = [
        // Winograd forward (64 input channels), direct data gradient.
        ConvShape {
            batch: 2,
            c_in: 64,
            c_out: 24,
            h: 5,
            w: 9,
            kernel: 3,
        },
        // Winograd forward and data gradient (odd sizes: partial tiles and channel blocks).
        ConvShape {
            batch: 1,
            c_in: 130,
            c_out: 135,
            h: 3,
            w: 7,
            kernel: 3,
        },
        ConvShape {
            batch: 2,
            c_in: 1,
            c_out: 16,
            h: 5,
            w: 30,
            kernel: 3,
        },
        ConvShape {
            batch: 3,
            c_in: 20,
            c_out: 35,
            h: 4,
            w: 13,
            kernel: 3,
        },
        ConvShape {
            batch: 1,
            c_in: 32,
            c_out: 16,
            h: 3,
            w: 7,
            kernel: 3,
        },
        ConvShape {
            batch: 2,
            c_in: 17,
            c_out: 33,
            h: 2,
            w: 25,
            kernel: 1,
        },
        ConvShape {
            batch: 2,
            c_in: 16,
            c_out: 16,
            h: 1,
            w: 1,
            kernel: 3,
        },
    ];

    /// Winograd's weight gradient against im2col + GEMM's, every coordinate (odd sizes: partial
    /// tiles; channels not a multiple of 16).
    #[test]
    fn the_winograd_weight_gradient_matches_im2col() {
        for s in SHAPES.into_iter().filter(|s| s.kernel == 3 && s.c_in >= 16) {
            let x = values(s.batch * s.c_in * s.h * s.w, 6);
            let g = values(s.batch * s.c_out * s.h * s.w, 7);
            let d = max_diff(
                &winograd_weight_gradient(&x, &g, s),
                &im2col_weight_gradient(&x, &g, s),
            );
            assert!(d < 1e-3, "{s:?}: {d}");
        }
    }

    #[test]
    fn the_forward_matches_the_textbook_sum() {
        for s in SHAPES {
            let x = values(s.batch * s.c_in * s.h * s.w, 1);
            let w = values(s.c_out * s.c_in * s.taps(), 2);
            let d = max_diff(&forward(&x, &w, s), &reference_forward(&x, &w, s));
            assert!(d < 1e-4, "{s:?}: {d}");
        }
    }

    /// The gradients of `L = sum(y * g)` for a fixed `g`, against central finite differences of
    /// the textbook forward in f64-accumulated sums (a few coordinates each).
    #[test]
    fn the_gradients_match_finite_differences() {
        for s in SHAPES {
            let x = values(s.batch * s.c_in * s.h * s.w, 3);
            let w = values(s.c_out * s.c_in * s.taps(), 4);
            let g = values(s.batch * s.c_out * s.h * s.w, 5);
            let loss = |x: &[f32], w: &[f32]| -> f64 {
                reference_forward(x, w, s)
                    .iter()
                    .zip(&g)
                    .map(|(y, g)| *y as f64 * *g as f64)
                    .sum()
            };
            let dx = data_gradient(&g, &w, s);
            let dw = weight_gradient(&x, &g, s);
            let eps = 1e-2f32;
            for i in (0..x.len()).step_by(x.len() / 7 + 1) {
                let (mut a, mut b) = (x.clone(), x.clone());
                a[i] += eps;
                b[i] -= eps;
                let fd = (loss(&a, &w) - loss(&b, &w)) / (2.0 * eps as f64);
                assert!(
                    (fd - dx[i] as f64).abs() < 2e-3,
                    "{s:?} dx[{i}]: {fd} vs {}",
                    dx[i]
                );
            }
            for i in (0..w.len()).step_by(w.len() / 7 + 1) {
                let (mut a, mut b) = (w.clone(), w.clone());
                a[i] += eps;
                b[i] -= eps;
                let fd = (loss(&x, &a) - loss(&x, &b)) / (2.0 * eps as f64);
                assert!(
                    (fd - dw[i] as f64).abs() < 2e-3,
                    "{s:?} dw[{i}]: {fd} vs {}",
                    dw[i]
                );
            }
        }
    }
}
