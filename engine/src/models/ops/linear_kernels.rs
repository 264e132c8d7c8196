//! The linear layer's arithmetic on plain row-major buffers: `y = x W + b` and its three
//! gradients, every pass on all of rayon's threads. Burn's matmul runs its product on both
//! threads too, but allocates the output, adds the broadcast bias and sums the bias gradient
//! on the calling thread while the other waits. Each product is one `gemm` call (operands
//! packed once; bands of 64 rows each packed the weights again and made the backward slower);
//! the bias gradient adds fixed bands of rows, then the bands in order, so no result depends
//! on the number of threads.

use super::par_filled;
use crate::kernels::conv::{matmul_accumulate_with, pool_parallelism};
use rayon::prelude::*;

/// The geometry of one call: `rows` vectors of `d_in` values in, `d_out` out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearShape {
    /// Vectors (batch x frames).
    pub rows: usize,
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
}

/// Rows of `y` or `dx` per task where a buffer is filled (the bias, zeros).
const ROW_BAND: usize = 64;

/// `y [rows, d_out] = x [rows, d_in] W [d_in, d_out] + bias [d_out]`.
pub fn forward(x: &[f32], w: &[f32], bias: &[f32], s: LinearShape) -> Vec<f32> {
    assert_eq!(x.len(), s.rows * s.d_in, "linear forward: input size");
    assert_eq!(w.len(), s.d_in * s.d_out, "linear forward: weight size");
    assert_eq!(bias.len(), s.d_out, "linear forward: bias size");
    let n = s.d_out.max(1);
    let mut y = par_filled(s.rows * s.d_out, ROW_BAND * n, |_, y| {
        for row in y.chunks_exact_mut(n) {
            row.copy_from_slice(bias);
        }
    });
    matmul_accumulate_with(
        pool_parallelism(),
        &mut y,
        n,
        x,
        (s.d_in, 1),
        w,
        (n, 1),
        s.rows,
        s.d_in,
        n,
    );
    y
}

/// `dx [rows, d_in] = dy [rows, d_out] W^T` (`W` read transposed in place).
pub fn data_gradient(dy: &[f32], w: &[f32], s: LinearShape) -> Vec<f32> {
    assert_eq!(dy.len(), s.rows * s.d_out, "linear data gradient: dy size");
    assert_eq!(
        w.len(),
        s.d_in * s.d_out,
        "linear data gradient: weight size"
    );
    let k = s.d_in.max(1);
    let mut dx = par_filled(s.rows * s.d_in, ROW_BAND * k, |_, _| {});
    matmul_accumulate_with(
        pool_parallelism(),
        &mut dx,
        k,
        dy,
        (s.d_out, 1),
        w,
        (1, s.d_out),
        s.rows,
        s.d_out,
        k,
    );
    dx
}

/// `dW [d_in, d_out] = x^T [d_in, rows] dy [rows, d_out]` (`x` read transposed in place).
pub fn weight_gradient(x: &[f32], dy: &[f32], s: LinearShape) -> Vec<f32> {
    assert_eq!(
        x.len(),
        s.rows * s.d_in,
        "linear weight gradient: input size"
    );
    assert_eq!(
        dy.len(),
        s.rows * s.d_out,
        "linear weight gradient: dy size"
    );
    let n = s.d_out.max(1);
    let mut dw = par_filled(s.d_in * s.d_out, ROW_BAND * n, |_, _| {});
    matmul_accumulate_with(
        pool_parallelism(),
        &mut dw,
        n,
        x,
        (1, s.d_in),
        dy,
        (n, 1),
        s.d_in,
        s.rows,
        n,
    );
    dw
}

/// `db [d_out]`: the column sums of `dy [rows, d_out]`, each band of rows summed on its own
/// thread, then the bands added in order.
pub fn bias_gradient(dy: &[f32], s: LinearShape) -> Vec<f32> {
    assert_eq!(dy.len(), s.rows * s.d_out, "linear bias gradient: dy size");
    let n = s.d_out.max(1);
    let partial: Vec<Vec<f32>> = dy
        .par_chunks(ROW_BAND * n)
        .map(|band| {
            let mut sum = vec![0.0f32; s.d_out];
            for row in band.chunks_exact(n) {
                sum.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            sum
        })
        .collect();
    let mut db = vec![0.0f32; s.d_out];
    for band in &partial {
        db.iter_mut().zip(band).for_each(|(a, b)| *a += b);
    }
    db
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::models::ops::test_values;

    /// The four results by the textbook sums, in f64.
    fn reference(x: &[f32], w: &[f32], b: &[f32], dy: &[f32], s: LinearShape) -> [Vec<f64>; 4] {
        let (m, k, n) = (s.rows, s.d_in, s.d_out);
        let mut y = vec![0.0f64; m * n];
        let mut dx = vec![0.0f64; m * k];
        let mut dw = vec![0.0f64; k * n];
        let mut db = vec![0.0f64; n];
        for r in 0..m {
            for o in 0..n {
                y[r * n + o] = b[o] as f64;
                db[o] += dy[r * n + o] as f64;
                for i in 0..k {
                    y[r * n + o] += x[r * k + i] as f64 * w[i * n + o] as f64;
                    dx[r * k + i] += dy[r * n + o] as f64 * w[i * n + o] as f64;
                    dw[i * n + o] += x[r * k + i] as f64 * dy[r * n + o] as f64;
                }
            }
        }
        [y, dx, dw, db]
    }

    /// Every result equals the textbook sums, on shapes that leave partial bands (rows not a
    /// multiple of 64), a larger product and degenerate ones.
    #[test]
    fn forward_and_gradients_match_the_textbook_sums() {
        for (rows, d_in, d_out) in [
            (150, 45, 19),
            (64, 32, 16),
            (1, 1, 1),
            (7, 70, 3),
            (0, 70, 4),
            (800, 5, 600),
        ] {
            let s = LinearShape { rows, d_in, d_out };
            let x = test_values(rows * d_in, 1, 1.0);
            let w = test_values(d_in * d_out, 2, 0.5);
            let b = test_values(d_out, 3, 0.5);
            let dy = test_values(rows * d_out, 4, 1.0);
            let want = reference(&x, &w, &b, &dy, s);
            let got = [
                forward(&x, &w, &b, s),
                data_gradient(&dy, &w, s),
                weight_gradient(&x, &dy, s),
                bias_gradient(&dy, s),
            ];
            for (name, (got, want)) in ["y", "dx", "dw", "db"].iter().zip(got.iter().zip(&want)) {
                assert_eq!(got.len(), want.len(), "{name} {s:?}");
                for (j, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (*g as f64 - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "{name}[{j}] {s:?}: {g} against {w}"
                    );
                }
            }
        }
    }

    /// One thread and three give the same bits (the products split rows and columns, never
    /// the sums; the bias gradient's bands are fixed).
    #[test]
    fn the_results_do_not_depend_on_the_number_of_threads() {
        // Large enough for the `gemm` crate to split each product between threads.
        let s = LinearShape {
            rows: 900,
            d_in: 200,
            d_out: 600,
        };
        let x = test_values(s.rows * s.d_in, 5, 1.0);
        let w = test_values(s.d_in * s.d_out, 6, 0.5);
        let b = test_values(s.d_out, 7, 0.5);
        let dy = test_values(s.rows * s.d_out, 8, 1.0);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| {
                [
                    forward(&x, &w, &b, s),
                    data_gradient(&dy, &w, s),
                    weight_gradient(&x, &dy, s),
                    bias_gradient(&dy, s),
                ]
            })
        };
        assert!(run(1) == run(3));
    }
}
