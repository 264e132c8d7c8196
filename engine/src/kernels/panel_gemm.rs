//! A GEMM against a weight matrix packed once into 16-column panels, with AVX2 + FMA or
//! AVX-512: the DBLSTM's input projections (`gates [t, 8h] = x [t, d_in] @ W [d_in, 8h] +
//! bias`) and the 16 products of Winograd's transformed tiles (`M = V @ U`).
//!
//! The AVX2 tile keeps 6 rows x 16 columns of the product in 12 ymm registers, starting at the
//! bias; for each `k` it loads the panel's 16 weights (two ymm) and broadcasts one value of
//! each of the 6 rows: 8 loads for 12 FMAs, so the loop runs at the FMA ports' rate. On the
//! bench's 200-frame projections this is 1.6x (80 inputs) and 1.3x (256 inputs) the `gemm`
//! crate's speed, which packs both operands at every call (measured on an AMD EPYC with
//! `cargo bench -p engine --bench kernels -- blstm`); on Winograd's 99 x 512 x 512 products
//! 1.2x (84% of the FMA peak), on 165 x 256 x 256 about the same (`-- gemm`). The AVX-512
//! tile spans two panels, 12 rows x 32 columns in 24 zmm registers: 1.05x-1.19x the `gemm`
//! crate on the 66-frame projections and 1.07x-1.10x on Winograd's 512-channel products (an
//! Intel Xeon, Sapphire Rapids class; three criterion runs), 0.92x-1.08x on the 256-channel
//! ones and about level on the 64-channel ones. Reductions longer than 256 run in passes of
//! 256 so that the panels' weights stay in the L1 cache.

/// Columns per panel (two ymm registers).
pub const PANEL: usize = 16;
/// Rows per tile.
const ROWS: usize = 6;
/// Reduction steps per pass over a panel: 256 x 16 weights (16 KB) stay in the L1 cache while
/// every row tile of the pass reads them; longer reductions add the next pass onto the partial
/// sums in `out`.
const K_BLOCK: usize = 256;

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

/// Whether [`pack`] and [`gemm()`] can run here (AVX2 + FMA on x86-64).
pub fn available() -> bool {
    super::has_avx2_fma()
}

/// Where [`pack`] puts `w[row][col]` of a `[k, n]` matrix: `[n / 16, k, 16]`.
#[inline]
pub fn packed_index(row: usize, col: usize, k: usize) -> usize {
    ((col / PANEL) * k + row) * PANEL + col % PANEL
}

/// `w [k, n]` (row-major, `n` a multiple of 16) packed as `[n / 16, k, 16]`
/// ([`packed_index`]).
pub fn pack(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    assert!(
        n.is_multiple_of(PANEL) && w.len() == k * n,
        "panel pack: sizes"
    );
    let mut panels = Vec::with_capacity(k * n);
    for p in 0..n / PANEL {
        for row in w.chunks_exact(n) {
            panels.extend_from_slice(&row[p * PANEL..(p + 1) * PANEL]);
        }
    }
    panels
}

/// `out[i * ldo + j] = bias[j] (0 without one) + sum_l a[i * lda + l] * W[l, j]` for `i < m`,
/// `j < n`, with `W [k, n]` packed by [`pack`].
///
/// # Panics
/// When this CPU lacks AVX2 + FMA (check [`available`]) or a buffer is too small.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    a: &[f32],
    lda: usize,
    m: usize,
    panels: &[f32],
    k: usize,
    n: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
    ldo: usize,
) {
    #[cfg(target_arch = "x86_64")]
    let avx512 = crate::kernels::tier::avx512();
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    let ops = Operands {
        a,
        lda,
        m,
        panels,
        k,
        n,
        bias,
        ldo,
    };
    gemm_on(ops, out, avx512);
}

/// [`gemm`] on the AVX-512 kernel when `avx512` (which this CPU must then have), else on the
/// AVX2 one; the tests run both where they can.
fn gemm_on(ops: Operands, out: &mut [f32], avx512: bool) {
    let (a, lda, m, k, n, ldo) = (ops.a, ops.lda, ops.m, ops.k, ops.n, ops.ldo);
    let (panels, bias) = (ops.panels, ops.bias);
    assert!(available(), "panel gemm: needs AVX2 + FMA");
    assert!(
        n.is_multiple_of(PANEL) && panels.len() >= k * n,
        "panel gemm: weights"
    );
    assert!(bias.is_none_or(|b| b.len() >= n), "panel gemm: bias");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        lda >= k && a.len() >= (m - 1) * lda + k,
        "panel gemm: input size"
    );
    assert!(
        ldo >= n && out.len() >= (m - 1) * ldo + n,
        "panel gemm: output size"
    );
    #[cfg(target_arch = "x86_64")]
    {
        assert!(!avx512 || crate::kernels::tier::avx512());
        if avx512 {
            // SAFETY: AVX-512F was just checked, every size above.
            unsafe { gemm_avx512(ops, out) }
        } else {
            // SAFETY: AVX2 + FMA and every size were checked above.
            unsafe { gemm_avx2(ops, out) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (ops, out, avx512);
        unreachable!("panel gemm runs only on x86-64")
    }
}

impl PanelMatrix {
    /// Packs `w [k, n]` (row-major) and `bias [n]`; `None` when `n` is not a multiple of 16 or
    /// this CPU lacks AVX2 + FMA (the caller keeps its general GEMM).
    pub fn new(w: &[f32], bias: &[f32], k: usize, n: usize) -> Option<Self> {
        if !available() || n == 0 || !n.is_multiple_of(PANEL) || w.len() != k * n {
            return None;
        }
        if bias.len() != n {
            return None;
        }
        Some(Self {
            k,
            n,
            panels: pack(w, k, n),
            bias: bias.to_vec(),
        })
    }

    /// `out [m, n] = a [m, k] @ W + bias` (`out` is resized).
    pub fn apply(&self, a: &[f32], m: usize, out: &mut Vec<f32>) {
        assert!(a.len() >= m * self.k, "panel gemm: input size");
        out.clear();
        out.resize(m * self.n, 0.0);
        let (k, n) = (self.k, self.n);
        gemm(a, k, m, &self.panels, k, n, Some(&self.bias), out, n);
    }
}

/// The operands of one [`gemm`] call besides its output.
#[derive(Clone, Copy)]
struct Operands<'a> {
    a: &'a [f32],
    lda: usize,
    m: usize,
    panels: &'a [f32],
    k: usize,
    n: usize,
    bias: Option<&'a [f32]>,
    ldo: usize,
}

/// Walks the tiles of one product: for each block of the reduction, each group of
/// `panels_per_tile` panels (fewer at the end) and each group of `rows_per_tile` rows (fewer
/// at the end), calls `tile(t, rows, panels)`. The first block starts from the bias, later
/// ones from the partial sums in `out`.
#[inline(always)]
fn for_each_tile(
    ops: Operands,
    out: &mut [f32],
    rows_per_tile: usize,
    panels_per_tile: usize,
    mut tile: impl FnMut(Tile, usize, usize),
) {
    let Operands {
        a,
        lda,
        m,
        panels,
        k,
        n,
        bias,
        ldo,
    } = ops;
    let mut k0 = 0;
    loop {
        let kb = K_BLOCK.min(k - k0);
        let mut p = 0;
        while p < n / PANEL {
            let here = panels_per_tile.min(n / PANEL - p);
            let w = panels[p * k * PANEL + k0 * PANEL..].as_ptr();
            let mut r = 0;
            while r < m {
                let rows = rows_per_tile.min(m - r);
                let t = Tile {
                    a: a[r * lda + k0..].as_ptr(),
                    lda,
                    w,
                    panel_stride: k * PANEL,
                    k: kb,
                    out: out[r * ldo + p * PANEL..].as_mut_ptr(),
                    ldo,
                    bias: match (k0, bias) {
                        (0, Some(b)) => b[p * PANEL..].as_ptr(),
                        _ => std::ptr::null(),
                    },
                    partial: k0 > 0,
                };
                tile(t, rows, here);
                r += rows;
            }
            p += here;
        }
        k0 += kb;
        if k0 >= k {
            break;
        }
    }
}

/// All tiles of the product, 6 rows x 1 panel each (the last rows in a narrower tile).
///
/// # Safety
/// AVX2 and FMA must be available; the sizes satisfy the asserts of [`gemm`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_avx2(ops: Operands, out: &mut [f32]) {
    for_each_tile(ops, out, ROWS, 1, |t, rows, _| {
        macro_rules! tiles {
            ($($x:literal)*) => {
                match rows {
                    $($x => tile::<$x>(t),)*
                    _ => unreachable!("a tile of {rows} rows"),
                }
            };
        }
        // SAFETY: `for_each_tile` gives rows, one panel's columns and reduction steps inside
        // `a`, `out` and the packing (the caller's contract); AVX2 + FMA by the contract.
        unsafe { tiles!(1 2 3 4 5 6) }
    });
}

/// One tile's operands: `R` rows of `a` from `a` (`lda` apart), `k` steps of one packed panel
/// from `w` (16 floats per step), `R x 16` outputs at `out` (`ldo` apart), started from 16
/// biases at `bias` (zeros when null) or, when `partial`, from `out`.
#[derive(Clone, Copy)]
struct Tile {
    a: *const f32,
    lda: usize,
    w: *const f32,
    /// Floats from one panel's packing to the next (the AVX-512 tiles span two panels).
    panel_stride: usize,
    k: usize,
    out: *mut f32,
    ldo: usize,
    bias: *const f32,
    partial: bool,
}

/// One tile: `R` rows x the 16 columns of one panel, 12 ymm accumulators at `R = 6`.
///
/// # Safety
/// AVX2 and FMA must be available; the tile lies inside its buffers (see [`gemm_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize>(t: Tile) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract: rows 0..R of `t.a` (`t.k` values each, `t.lda` apart) and
    // of `t.out` (16 values each, `t.ldo` apart), `t.k` packed steps of 16 weights at `t.w`,
    // 16 biases at `t.bias` when not null.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        if t.partial {
            for (row, acc) in acc.iter_mut().enumerate() {
                let op = t.out.add(row * t.ldo);
                *acc = [_mm256_loadu_ps(op), _mm256_loadu_ps(op.add(8))];
            }
        } else if !t.bias.is_null() {
            let (b0, b1) = (_mm256_loadu_ps(t.bias), _mm256_loadu_ps(t.bias.add(8)));
            acc = [[b0, b1]; R];
        }
        let mut wp = t.w;
        for kk in 0..t.k {
            let w0 = _mm256_loadu_ps(wp);
            let w1 = _mm256_loadu_ps(wp.add(8));
            for (row, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*t.a.add(row * t.lda + kk));
                acc[0] = _mm256_fmadd_ps(x, w0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, w1, acc[1]);
            }
            wp = wp.add(PANEL);
        }
        for (row, acc) in acc.iter().enumerate() {
            let op = t.out.add(row * t.ldo);
            _mm256_storeu_ps(op, acc[0]);
            _mm256_storeu_ps(op.add(8), acc[1]);
        }
    }
}

/// [`gemm_avx2`] for AVX-512: tiles of 12 rows x 2 panels (32 columns) in 24 zmm
/// accumulators, so that each broadcast value feeds two FMAs and each weight vector twelve;
/// the last panel of an odd count and the last rows take narrower tiles.
///
/// # Safety
/// AVX-512F must be available; the sizes satisfy the asserts of [`gemm`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gemm_avx512(ops: Operands, out: &mut [f32]) {
    for_each_tile(ops, out, ROWS_AVX512, 2, |t, rows, panels| {
        macro_rules! tiles {
            ($($x:literal)*) => {
                match (rows, panels) {
                    $(($x, 2) => tile_avx512::<$x, 2>(t),)*
                    $(($x, 1) => tile_avx512::<$x, 1>(t),)*
                    _ => unreachable!("a tile of {rows} rows x {panels} panels"),
                }
            };
        }
        // SAFETY: `for_each_tile` gives rows, the columns of `panels` panels and reduction
        // steps inside `a`, `out` and the packing (the caller's contract); AVX-512F by the
        // contract.
        unsafe { tiles!(1 2 3 4 5 6 7 8 9 10 11 12) }
    });
}

/// Rows per tile of the AVX-512 kernel (24 of the 32 zmm registers accumulate).
const ROWS_AVX512: usize = 12;

/// One AVX-512 tile: `R` rows x `P` panels (16 columns each, one zmm).
///
/// # Safety
/// AVX-512F must be available; the tile lies inside its buffers (see [`gemm_avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile_avx512<const R: usize, const P: usize>(t: Tile) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract: rows 0..R of `t.a` (`t.k` values each, `t.lda` apart) and
    // of `t.out` (16 P values each, `t.ldo` apart), `t.k` packed steps of 16 weights at `t.w`
    // and, for P = 2, at `t.w + t.panel_stride`; 16 P biases at `t.bias` when not null.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        if t.partial {
            for (row, acc) in acc.iter_mut().enumerate() {
                for (q, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_loadu_ps(t.out.add(row * t.ldo + 16 * q));
                }
            }
        } else if !t.bias.is_null() {
            for acc in acc.iter_mut() {
                for (q, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_loadu_ps(t.bias.add(16 * q));
                }
            }
        }
        let mut wp = t.w;
        for kk in 0..t.k {
            let mut w = [_mm512_setzero_ps(); P];
            for (q, w) in w.iter_mut().enumerate() {
                *w = _mm512_loadu_ps(wp.add(q * t.panel_stride));
            }
            for (row, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*t.a.add(row * t.lda + kk));
                for (a, w) in acc.iter_mut().zip(&w) {
                    *a = _mm512_fmadd_ps(x, *w, *a);
                }
            }
            wp = wp.add(PANEL);
        }
        for (row, acc) in acc.iter().enumerate() {
            for (q, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(t.out.add(row * t.ldo + 16 * q), *a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_index_is_where_pack_puts_each_value() {
        let (k, n) = (5, 48);
        let w: Vec<f32> = (0..k * n).map(|i| i as f32).collect();
        let packed = pack(&w, k, n);
        for row in 0..k {
            for col in 0..n {
                assert_eq!(packed[packed_index(row, col, k)], w[row * n + col]);
            }
        }
    }

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
            (7, 600, 32),
        ] {
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
                .collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.2).collect();
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 37) % 11) as f32 / 11.0 - 0.5)
                .collect();
            let Some(packed) = PanelMatrix::new(&w, &bias, k, n) else {
                assert!(!crate::kernels::has_avx2_fma(), "an AVX2 CPU packs {k}x{n}");
                return;
            };
            let mut got = vec![f32::NAN; 3];
            packed.apply(&a, m, &mut got);
            for avx512 in kernels() {
                if avx512.is_some() {
                    got.fill(f32::NAN);
                    let p = &packed;
                    let ops = Operands {
                        a: &a,
                        lda: k,
                        m,
                        panels: &p.panels,
                        k,
                        n,
                        bias: Some(&p.bias),
                        ldo: n,
                    };
                    gemm_on(ops, &mut got, avx512 == Some(true));
                }
                for i in 0..m {
                    for j in 0..n {
                        let want =
                            bias[j] + (0..k).map(|l| a[i * k + l] * w[l * n + j]).sum::<f32>();
                        let g = got[i * n + j];
                        assert!(
                            (g - want).abs() < 1e-4,
                            "{m}x{k}x{n} ({i},{j}), avx512 {avx512:?}: {g} vs {want}"
                        );
                    }
                }
            }
        }
        assert!(PanelMatrix::new(&[0.0; 30], &[0.0; 10], 3, 10).is_none());
    }

    /// Strided operands, no bias and a reduction of several blocks (the Winograd GEMMs): the
    /// columns between the rows are left alone.
    #[test]
    fn strided_gemm_without_bias_matches_a_naive_product() {
        if !available() {
            return;
        }
        let (m, k, n, lda, ldo) = (11, 2 * K_BLOCK + 37, 32, 2 * K_BLOCK + 40, 40);
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 31) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let a: Vec<f32> = (0..m * lda)
            .map(|i| ((i * 13) % 17) as f32 / 17.0 - 0.5)
            .collect();
        let mut out = vec![7.0f32; m * ldo];
        let packed = pack(&w, k, n);
        for avx512 in kernels() {
            if let Some(avx512) = avx512 {
                out.fill(7.0);
                let ops = Operands {
                    a: &a,
                    lda,
                    m,
                    panels: &packed,
                    k,
                    n,
                    bias: None,
                    ldo,
                };
                gemm_on(ops, &mut out, avx512);
            } else {
                gemm(&a, lda, m, &packed, k, n, None, &mut out, ldo);
            }
            for i in 0..m {
                for j in 0..ldo {
                    let want = if j < n {
                        (0..k).map(|l| a[i * lda + l] * w[l * n + j]).sum::<f32>()
                    } else {
                        7.0
                    };
                    let g = out[i * ldo + j];
                    assert!(
                        (g - want).abs() < 1e-3,
                        "({i},{j}), avx512 {avx512:?}: {g} vs {want}"
                    );
                }
            }
        }
    }

    /// The kernels to check: `None` (the public entry point), then each kernel this CPU runs
    /// (`Some(avx512)`).
    fn kernels() -> Vec<Option<bool>> {
        let mut k = vec![None];
        if available() {
            k.push(Some(false));
        }
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::tier::avx512() {
            k.push(Some(true));
        }
        k
    }
}
