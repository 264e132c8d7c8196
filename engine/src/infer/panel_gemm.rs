//! A GEMM against a weight matrix packed once into 16-column panels, with AVX2 + FMA: the
//! DBLSTM's input projections (`gates [t, 8h] = x [t, d_in] @ W [d_in, 8h] + bias`) on CPUs
//! without AVX-512.
//!
//! Each tile keeps 6 rows x 16 columns of the product in 12 ymm registers, starting at the
//! bias; for each `k` it loads the panel's 16 weights (two ymm) and broadcasts one value of
//! each of the 6 rows: 8 loads for 12 FMAs, so the loop runs at the FMA ports' rate. On the
//! bench's 200-frame projections this is 1.6x (80 inputs) and 1.3x (256 inputs) the `gemm`
//! crate's speed, which packs both operands at every call (measured on an AMD EPYC with
//! `cargo bench -p engine --bench kernels -- blstm`).

/// Columns per panel (two ymm registers).
const PANEL: usize = 16;
/// Rows per tile.
const ROWS: usize = 6;

/// `W [k, n]` packed as `[n / 16, k, 16]`, with a bias per column.
#[derive(Debug, Clone)]
pub struct PanelMatrix {
    /// Rows of `W` (the reduction length).
    pub k: usize,
    /// Columns of `W` (a multiple of 16).
    pub n: usize,
    panels: Vec<f32>,
    bias: Vec<f32>,
}

impl PanelMatrix {
    /// Packs `w [k, n]` (row-major) and `bias [n]`; `None` when `n` is not a multiple of 16 or
    /// this CPU lacks AVX2 + FMA (the caller keeps its general GEMM).
    pub fn new(w: &[f32], bias: &[f32], k: usize, n: usize) -> Option<Self> {
        if !super::has_avx2_fma() || n == 0 || !n.is_multiple_of(PANEL) || w.len() != k * n {
            return None;
        }
        if bias.len() != n {
            return None;
        }
        let mut panels = Vec::with_capacity(k * n);
        for p in 0..n / PANEL {
            for row in w.chunks_exact(n) {
                panels.extend_from_slice(&row[p * PANEL..(p + 1) * PANEL]);
            }
        }
        Some(Self {
            k,
            n,
            panels,
            bias: bias.to_vec(),
        })
    }

    /// `out [m, n] = a [m, k] @ W + bias` (`out` is resized).
    pub fn apply(&self, a: &[f32], m: usize, out: &mut Vec<f32>) {
        assert!(a.len() >= m * self.k, "panel gemm: input size");
        out.clear();
        out.resize(m * self.n, 0.0);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `new` only builds a matrix when AVX2 and FMA are available; the sizes were
        // just checked.
        unsafe {
            apply_avx2(self, a, m, out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("a panel matrix exists only on x86-64")
    }
}

/// All tiles of the product: for each panel, the rows 6 at a time, then the rest in one tile.
///
/// # Safety
/// AVX2 and FMA must be available; `a` holds `m * w.k` values and `out` `m * w.n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2(w: &PanelMatrix, a: &[f32], m: usize, out: &mut [f32]) {
    for p in 0..w.n / PANEL {
        let mut r = 0;
        while r < m {
            let rows = ROWS.min(m - r);
            macro_rules! tiles {
                ($($x:literal)*) => {
                    match rows {
                        $($x => tile::<$x>(w, p, a, r, out),)*
                        _ => unreachable!("a tile of {rows} rows"),
                    }
                };
            }
            // SAFETY: rows r..r + rows < m and panel p < n / 16 lie inside `a`, `out` and the
            // packing (the caller's contract).
            unsafe { tiles!(1 2 3 4 5 6) }
            r += rows;
        }
    }
}

/// One tile: rows `r..r + R` x the 16 columns of panel `p`.
///
/// # Safety
/// AVX2 and FMA must be available; the tile lies inside `a` and `out` (see [`apply_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize>(w: &PanelMatrix, p: usize, a: &[f32], r: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (k, n) = (w.k, w.n);
    // SAFETY: the caller's contract: rows r..r + R of `a` ([m, k]) and `out` ([m, n]), panel p
    // of the packing ([n / 16, k, 16]) and of the bias.
    unsafe {
        let bp = w.bias.as_ptr().add(p * PANEL);
        let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
        let mut acc = [[b0, b1]; R];
        let mut wp = w.panels.as_ptr().add(p * k * PANEL);
        let ap = a.as_ptr().add(r * k);
        for kk in 0..k {
            let w0 = _mm256_loadu_ps(wp);
            let w1 = _mm256_loadu_ps(wp.add(8));
            for (row, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*ap.add(row * k + kk));
                acc[0] = _mm256_fmadd_ps(x, w0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, w1, acc[1]);
            }
            wp = wp.add(PANEL);
        }
        let op = out.as_mut_ptr().add(r * n + p * PANEL);
        for (row, acc) in acc.iter().enumerate() {
            _mm256_storeu_ps(op.add(row * n), acc[0]);
            _mm256_storeu_ps(op.add(row * n + 8), acc[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a naive triple loop, for row counts around the tile height and reductions of
    /// several lengths.
    #[test]
    fn panel_gemm_matches_a_naive_product() {
        for (m, k, n) in [
            (1, 3, 16),
            (6, 80, 32),
            (13, 7, 48),
            (66, 256, 1024),
            (5, 1, 16),
        ] {
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
                .collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.2).collect();
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 37) % 11) as f32 / 11.0 - 0.5)
                .collect();
            let Some(packed) = PanelMatrix::new(&w, &bias, k, n) else {
                assert!(!crate::infer::has_avx2_fma(), "an AVX2 CPU packs {k}x{n}");
                return;
            };
            let mut got = vec![f32::NAN; 3];
            packed.apply(&a, m, &mut got);
            for i in 0..m {
                for j in 0..n {
                    let want = bias[j] + (0..k).map(|l| a[i * k + l] * w[l * n + j]).sum::<f32>();
                    let g = got[i * n + j];
                    assert!(
                        (g - want).abs() < 1e-4,
                        "{m}x{k}x{n} ({i},{j}): {g} vs {want}"
                    );
                }
            }
        }
        assert!(PanelMatrix::new(&[0.0; 30], &[0.0; 10], 3, 10).is_none());
    }
}
