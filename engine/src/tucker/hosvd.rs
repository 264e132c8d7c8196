//! Tucker-2 decomposition of a convolution kernel by HOSVD (SVD of the mode-0 and mode-1
//! unfoldings; core = K x_0 U_out^T x_1 U_in^T), optionally refined by a few HOOI
//! (higher-order orthogonal iteration) sweeps. Computed in f64 with nalgebra's SVD.

use nalgebra::DMatrix;

/// A kernel `K [c_out, c_in, taps]` as `U_out [c_out, r_out]`, core `G [r_out, r_in, taps]`,
/// `U_in [c_in, r_in]` (all row-major): `K[o, i, t] ~ sum_ab U_out[o, a] G[a, b, t] U_in[i, b]`.
#[derive(Debug, Clone)]
pub struct Tucker2 {
    /// Output channels.
    pub c_out: usize,
    /// Input channels.
    pub c_in: usize,
    /// Spatial taps (9 for 3x3).
    pub taps: usize,
    /// Output-side rank.
    pub r_out: usize,
    /// Input-side rank.
    pub r_in: usize,
    /// `[c_out, r_out]`
    pub u_out: Vec<f64>,
    /// `[c_in, r_in]`
    pub u_in: Vec<f64>,
    /// `[r_out, r_in, taps]`
    pub core: Vec<f64>,
}

/// Left singular vectors of `m` (rows x cols, row-major) sorted by decreasing singular value,
/// with the singular values.
fn left_singular(m: &[f64], rows: usize, cols: usize) -> (DMatrix<f64>, Vec<f64>) {
    // The eigenvectors of M M^T are M's left singular vectors: a rows x rows problem, small
    // here (rows = channels <= 512) even when cols = 9 x channels is large.
    let mm = DMatrix::from_row_slice(rows, cols, m);
    let gram = &mm * mm.transpose();
    let eig = gram.symmetric_eigen();
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let u = DMatrix::from_fn(rows, rows, |r, c| eig.eigenvectors[(r, order[c])]);
    let s = order
        .iter()
        .map(|&i| eig.eigenvalues[i].max(0.0).sqrt())
        .collect();
    (u, s)
}

/// Mode-0 unfolding `[c_out, c_in * taps]` (the kernel's own layout).
fn mode0(k: &[f64]) -> Vec<f64> {
    k.to_vec()
}

/// Mode-1 unfolding `[c_in, c_out * taps]`.
fn mode1(k: &[f64], c_out: usize, c_in: usize, taps: usize) -> Vec<f64> {
    let mut m = vec![0.0; k.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            for t in 0..taps {
                m[i * c_out * taps + o * taps + t] = k[(o * c_in + i) * taps + t];
            }
        }
    }
    m
}

/// Singular values of the mode-0 (output) and mode-1 (input) unfoldings, largest first (for
/// rank selection by energy).
pub fn mode_spectra(k: &[f32], c_out: usize, c_in: usize, taps: usize) -> (Vec<f64>, Vec<f64>) {
    let k: Vec<f64> = k.iter().map(|&v| f64::from(v)).collect();
    let (_, s_out) = left_singular(&mode0(&k), c_out, c_in * taps);
    let (_, s_in) = left_singular(&mode1(&k, c_out, c_in, taps), c_in, c_out * taps);
    (s_out, s_in)
}

/// `K x_1 U_in^T`: `[c_out, r_in, taps]` from `K [c_out, c_in, taps]`, `U_in [c_in, r_in]`.
fn project_in(
    k: &[f64],
    u_in: &DMatrix<f64>,
    c_out: usize,
    c_in: usize,
    taps: usize,
    r: usize,
) -> Vec<f64> {
    let mut out = vec![0.0; c_out * r * taps];
    for o in 0..c_out {
        for i in 0..c_in {
            for b in 0..r {
                let u = u_in[(i, b)];
                for t in 0..taps {
                    out[(o * r + b) * taps + t] += u * k[(o * c_in + i) * taps + t];
                }
            }
        }
    }
    out
}

/// `K x_0 U_out^T`: `[r_out, c_in, taps]`.
fn project_out(
    k: &[f64],
    u_out: &DMatrix<f64>,
    c_out: usize,
    c_in: usize,
    taps: usize,
    r: usize,
) -> Vec<f64> {
    let mut out = vec![0.0; r * c_in * taps];
    for o in 0..c_out {
        for a in 0..r {
            let u = u_out[(o, a)];
            for it in 0..c_in * taps {
                out[a * c_in * taps + it] += u * k[o * c_in * taps + it];
            }
        }
    }
    out
}

/// Decomposes `k [c_out, c_in, taps]` at ranks `(r_out, r_in)` (clamped to the channels), with
/// `hooi` refinement sweeps after the HOSVD initialization.
pub fn decompose(
    k: &[f32],
    c_out: usize,
    c_in: usize,
    taps: usize,
    r_out: usize,
    r_in: usize,
    hooi: usize,
) -> Tucker2 {
    let (r_out, r_in) = (r_out.clamp(1, c_out), r_in.clamp(1, c_in));
    let k: Vec<f64> = k.iter().map(|&v| f64::from(v)).collect();
    let mut u_out = left_singular(&mode0(&k), c_out, c_in * taps)
        .0
        .columns(0, r_out)
        .into_owned();
    let mut u_in = left_singular(&mode1(&k, c_out, c_in, taps), c_in, c_out * taps)
        .0
        .columns(0, r_in)
        .into_owned();
    for _ in 0..hooi {
        // U_out from K x_1 U_in^T, then U_in from K x_0 U_out^T.
        let p = project_in(&k, &u_in, c_out, c_in, taps, r_in);
        u_out = left_singular(&p, c_out, r_in * taps)
            .0
            .columns(0, r_out)
            .into_owned();
        let q = project_out(&k, &u_out, c_out, c_in, taps, r_out);
        u_in = left_singular(&mode1(&q, r_out, c_in, taps), c_in, r_out * taps)
            .0
            .columns(0, r_in)
            .into_owned();
    }
    // core = K x_0 U_out^T x_1 U_in^T
    let p = project_in(&k, &u_in, c_out, c_in, taps, r_in);
    let core = project_out(&p, &u_out, c_out, r_in, taps, r_out);
    Tucker2 {
        c_out,
        c_in,
        taps,
        r_out,
        r_in,
        u_out: (0..c_out * r_out)
            .map(|x| u_out[(x / r_out, x % r_out)])
            .collect(),
        u_in: (0..c_in * r_in)
            .map(|x| u_in[(x / r_in, x % r_in)])
            .collect(),
        core,
    }
}

impl Tucker2 {
    /// The kernel the decomposition stands for, `[c_out, c_in, taps]`.
    pub fn reconstruct(&self) -> Vec<f32> {
        let (co, ci, t, ro, ri) = (self.c_out, self.c_in, self.taps, self.r_out, self.r_in);
        // [c_out, r_in, taps] = U_out x core
        let mut tmp = vec![0.0f64; co * ri * t];
        for o in 0..co {
            for a in 0..ro {
                let u = self.u_out[o * ro + a];
                for bt in 0..ri * t {
                    tmp[o * ri * t + bt] += u * self.core[a * ri * t + bt];
                }
            }
        }
        let mut k = vec![0.0f32; co * ci * t];
        for o in 0..co {
            for i in 0..ci {
                for tt in 0..t {
                    let mut acc = 0.0;
                    for b in 0..ri {
                        acc += tmp[(o * ri + b) * t + tt] * self.u_in[i * ri + b];
                    }
                    k[(o * ci + i) * t + tt] = acc as f32;
                }
            }
        }
        k
    }

    /// Relative reconstruction error `||K - K'|| / ||K||` (Frobenius).
    pub fn relative_error(&self, k: &[f32]) -> f64 {
        let r = self.reconstruct();
        let num: f64 = k
            .iter()
            .zip(&r)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        let den: f64 = k.iter().map(|a| f64::from(*a).powi(2)).sum();
        (num / den.max(1e-30)).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(c_out: usize, c_in: usize) -> Vec<f32> {
        (0..c_out * c_in * 9)
            .map(|i| (((i * 7919) % 1009) as f32 / 1009.0 - 0.5) * (1.0 + (i % 5) as f32))
            .collect()
    }

    #[test]
    fn full_ranks_reproduce_the_kernel_and_error_falls_with_rank() {
        let (co, ci) = (12, 8);
        let k = kernel(co, ci);
        let full = decompose(&k, co, ci, 9, co, ci, 0);
        assert!(
            full.relative_error(&k) < 1e-5,
            "{}",
            full.relative_error(&k)
        );
        let mut last = f64::INFINITY;
        for r in 1..=8 {
            let e = decompose(&k, co, ci, 9, r, r, 0).relative_error(&k);
            assert!(e <= last + 1e-9, "rank {r}: {e} > {last}");
            last = e;
        }
        // HOOI never makes the fit worse than HOSVD.
        let hosvd = decompose(&k, co, ci, 9, 3, 3, 0).relative_error(&k);
        let hooi = decompose(&k, co, ci, 9, 3, 3, 5).relative_error(&k);
        assert!(hooi <= hosvd + 1e-9, "{hooi} > {hosvd}");
        // Ranks above the channels are clamped.
        let big = decompose(&k, co, ci, 9, 100, 100, 0);
        assert_eq!((big.r_out, big.r_in), (co, ci));
    }

    #[test]
    fn the_full_rank_chain_computes_the_same_convolution() {
        use crate::kernels::conv::{conv3x3, matmul};
        let (co, ci, h, w) = (10, 6, 5, 13);
        let k = kernel(co, ci);
        let d = decompose(&k, co, ci, 9, co, ci, 1);
        let x: Vec<f32> = (0..ci * h * w)
            .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
            .collect();
        let (mut expected, mut cols) = (vec![0.0f32; co * h * w], Vec::new());
        conv3x3(&x, ci, h, w, &k, co, &mut expected, &mut cols, 1);
        // first: U_in^T [r_in, c_in]; core [r_out, r_in * 9]; last: U_out [c_out, r_out].
        let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let mut u_in_t = vec![0.0f32; d.r_in * ci];
        for i in 0..ci {
            for b in 0..d.r_in {
                u_in_t[b * ci + i] = d.u_in[i * d.r_in + b] as f32;
            }
        }
        let mut y1 = vec![0.0f32; d.r_in * h * w];
        matmul(&mut y1, &u_in_t, &x, d.r_in, ci, h * w, 1);
        let mut y2 = vec![0.0f32; d.r_out * h * w];
        conv3x3(
            &y1,
            d.r_in,
            h,
            w,
            &f32s(&d.core),
            d.r_out,
            &mut y2,
            &mut cols,
            1,
        );
        let mut y3 = vec![0.0f32; co * h * w];
        matmul(&mut y3, &f32s(&d.u_out), &y2, co, d.r_out, h * w, 1);
        let diff = crate::kernels::max_abs_diff(&y3, &expected);
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn spectra_are_sorted_and_hold_the_energy() {
        let k = kernel(6, 5);
        let (s_out, s_in) = mode_spectra(&k, 6, 5, 9);
        assert!(s_out.windows(2).all(|w| w[0] >= w[1]));
        let energy: f64 = k.iter().map(|v| f64::from(*v).powi(2)).sum();
        let e_out: f64 = s_out.iter().map(|s| s * s).sum();
        let e_in: f64 = s_in.iter().map(|s| s * s).sum();
        assert!((e_out - energy).abs() < 1e-6 * energy && (e_in - energy).abs() < 1e-6 * energy);
    }
}
