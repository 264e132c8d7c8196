//! Convolution and pooling kernels on `[channels, height, width]` buffers.

use gemm::Parallelism;

/// `dst[m x n] = lhs[m x k] * rhs[k x n]` (row-major, contiguous), single-threaded unless
/// `threads > 1`.
pub fn matmul(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    m: usize,
    k: usize,
    n: usize,
    threads: usize,
) {
    matmul_strided(dst, n, lhs, rhs, m, k, n, threads)
}

/// Like [`matmul`], writing row `i` of the product at `dst[i * dst_stride..]` (a column band
/// of a wider matrix).
#[allow(clippy::too_many_arguments)]
pub fn matmul_strided(
    dst: &mut [f32],
    dst_stride: usize,
    lhs: &[f32],
    rhs: &[f32],
    m: usize,
    k: usize,
    n: usize,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_stride >= n
            && dst.len() >= (m - 1) * dst_stride + n
            && lhs.len() >= m * k
            && rhs.len() >= k * n,
        "matmul: buffer sizes"
    );
    let par = parallelism(threads);
    // SAFETY: the asserts above guarantee every pointer covers the strided ranges read/written
    // (row-major: column stride 1, row strides dst_stride, k and n); dst does not alias lhs
    // or rhs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// `dst [m, n] += lhs [m, k] x rhs [k, n]`, single-threaded, with each operand given by its
/// row and column strides (`dst` has unit column stride): transposed operands are read in
/// place (the training path's gradient products).
#[allow(clippy::too_many_arguments)]
pub fn matmul_accumulate(
    dst: &mut [f32],
    dst_rs: usize,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    m: usize,
    k: usize,
    n: usize,
) {
    matmul_accumulate_with(
        Parallelism::None,
        dst,
        dst_rs,
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
        m,
        k,
        n,
    );
}

/// The `gemm` crate's parallelism on `threads` of rayon's threads (none for one).
fn parallelism(threads: usize) -> Parallelism {
    if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// The `gemm` crate's parallelism over all of the current rayon pool's threads, for
/// [`matmul_accumulate_with`]: one product packed once and split by rows and columns, the
/// sums over `k` in their order, so the result does not depend on the number of threads.
pub fn pool_parallelism() -> Parallelism {
    parallelism(rayon::current_num_threads())
}

/// [`matmul_accumulate`] with the `gemm` crate's parallelism `par`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_accumulate_with(
    par: Parallelism,
    dst: &mut [f32],
    dst_rs: usize,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
    m: usize,
    k: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let last = |rs: usize, cs: usize, rows: usize, cols: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(
        last(dst_rs, 1, m, n) < dst.len()
            && last(lhs_rs, lhs_cs, m, k) < lhs.len()
            && last(rhs_rs, rhs_cs, k, n) < rhs.len(),
        "matmul_accumulate: buffer sizes"
    );
    // SAFETY: the assert bounds the last element each strided operand touches; dst does not
    // alias lhs or rhs (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            true,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Columns of a 3x3 "same" convolution: `cols[(c * 9 + ky * 3 + kx), y * w + x]` =
/// `input[c, y + ky - 1, x + kx - 1]` (zero outside).
pub fn im2col3x3(input: &[f32], c: usize, h: usize, w: usize, cols: &mut Vec<f32>) {
    im2col3x3_range(input, c, h, w, 0, h * w, cols);
}

/// Columns of a 3x3 "same" convolution for the output pixels `p0..p1` (flat `y * w + x`
/// indices): `cols[(c * 9 + ky * 3 + kx), p - p0]`.
pub fn im2col3x3_range(
    input: &[f32],
    c: usize,
    h: usize,
    w: usize,
    p0: usize,
    p1: usize,
    cols: &mut Vec<f32>,
) {
    let n = p1 - p0;
    cols.clear();
    cols.resize(c * 9 * n, 0.0);
    let hw = h * w;
    for ch in 0..c {
        let src = &input[ch * hw..(ch + 1) * hw];
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut cols[(ch * 9 + ky * 3 + kx) * n..(ch * 9 + ky * 3 + kx + 1) * n];
                let mut p = p0;
                while p < p1 {
                    let (y, x0) = (p / w, p % w);
                    let x1 = (x0 + (p1 - p)).min(w);
                    let sy = y as isize + ky as isize - 1;
                    if sy >= 0 && sy < h as isize {
                        let srow = &src[sy as usize * w..(sy as usize + 1) * w];
                        let drow = &mut row[p - p0..p - p0 + (x1 - x0)];
                        // dst x reads src x + kx - 1, zero outside the row.
                        let lo = if kx == 0 { x0.max(1) } else { x0 };
                        let hi = if kx == 2 { x1.min(w - 1) } else { x1 };
                        if lo < hi {
                            drow[lo - x0..hi - x0].copy_from_slice(&srow[lo + kx - 1..hi + kx - 1]);
                        }
                    }
                    p += x1 - x0;
                }
            }
        }
    }
}

/// Bytes of im2col columns per band: a band stays in this core's cache (2 MiB L2, a large L3)
/// between being written and being read by the GEMM, while the GEMM still gets long panels
/// (measured: 4 MiB beat both 768 KiB and whole-map columns on the deep layers).
const BAND_BYTES: usize = 4 * 1024 * 1024;

/// A 3x3 "same" convolution `[c_in, h, w]` -> `out [c_out, h, w]` with `weights
/// [c_out, c_in * 9]`, as im2col + GEMM over bands of output pixels sized so that each band's
/// columns stay in cache.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3(
    input: &[f32],
    c_in: usize,
    h: usize,
    w: usize,
    weights: &[f32],
    c_out: usize,
    out: &mut [f32],
    cols: &mut Vec<f32>,
    threads: usize,
) {
    let hw = h * w;
    let band = (BAND_BYTES / (4 * 9 * c_in.max(1))).max(64) / 16 * 16;
    let mut p0 = 0;
    while p0 < hw {
        let p1 = (p0 + band).min(hw);
        im2col3x3_range(input, c_in, h, w, p0, p1, cols);
        matmul_strided(
            &mut out[p0..],
            hw,
            weights,
            cols,
            c_out,
            c_in * 9,
            p1 - p0,
            threads,
        );
        p0 = p1;
    }
}

/// Adds a per-channel bias and applies ReLU if asked, in place on `[channels, hw]`.
pub fn bias_relu(x: &mut [f32], bias: &[f32], hw: usize, relu: bool) {
    for (ch, b) in bias.iter().enumerate() {
        let row = &mut x[ch * hw..(ch + 1) * hw];
        if relu {
            row.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
        } else {
            row.iter_mut().for_each(|v| *v += b);
        }
    }
}

/// Max pooling with kernel = stride = `[ph, pw]` (floor), `[c, h, w]` -> `[c, h/ph, w/pw]`.
pub fn max_pool(
    input: &[f32],
    c: usize,
    h: usize,
    w: usize,
    ph: usize,
    pw: usize,
    out: &mut Vec<f32>,
) -> (usize, usize) {
    let (oh, ow) = (h / ph, w / pw);
    out.clear();
    out.resize(c * oh * ow, f32::NEG_INFINITY);
    for ch in 0..c {
        for oy in 0..oh {
            let dst = &mut out[(ch * oh + oy) * ow..(ch * oh + oy + 1) * ow];
            for dy in 0..ph {
                let src = &input[(ch * h + oy * ph + dy) * w..(ch * h + oy * ph + dy + 1) * w];
                // Specialized loops for the common factors vectorize; the general one does not.
                match pw {
                    1 => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = d.max(v)),
                    2 => dst
                        .iter_mut()
                        .zip(src.chunks_exact(2))
                        .for_each(|(d, p)| *d = d.max(p[0].max(p[1]))),
                    _ => {
                        for (ox, d) in dst.iter_mut().enumerate() {
                            for dx in 0..pw {
                                *d = d.max(src[ox * pw + dx]);
                            }
                        }
                    }
                }
            }
        }
    }
    (oh, ow)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct 3x3 "same" convolution, the reference.
    fn naive(input: &[f32], c_in: usize, h: usize, w: usize, wt: &[f32], c_out: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; c_out * h * w];
        for o in 0..c_out {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0f32;
                    for c in 0..c_in {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (sy, sx) =
                                    (y as isize + ky as isize - 1, x as isize + kx as isize - 1);
                                if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                                    acc += input[(c * h + sy as usize) * w + sx as usize]
                                        * wt[o * c_in * 9 + c * 9 + ky * 3 + kx];
                                }
                            }
                        }
                    }
                    out[(o * h + y) * w + x] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn banded_conv_matches_direct_convolution() {
        // Channel counts that make bands end mid-row, on a 1-pixel-wide and a wide map.
        for (c_in, c_out, h, w) in [(3, 5, 7, 11), (200, 4, 5, 300), (1, 2, 1, 1), (2, 3, 4, 1)] {
            let input: Vec<f32> = (0..c_in * h * w)
                .map(|i| ((i * 31) % 17) as f32 - 8.0)
                .collect();
            let wt: Vec<f32> = (0..c_out * c_in * 9)
                .map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5)
                .collect();
            let expected = naive(&input, c_in, h, w, &wt, c_out);
            let mut out = vec![f32::NAN; c_out * h * w];
            let mut cols = Vec::new();
            conv3x3(&input, c_in, h, w, &wt, c_out, &mut out, &mut cols, 1);
            let diff = crate::kernels::max_abs_diff(&out, &expected);
            assert!(diff < 1e-3, "{c_in}x{h}x{w}: {diff}");
            // The whole-map im2col agrees with the banded one.
            let mut full = Vec::new();
            im2col3x3(&input, c_in, h, w, &mut full);
            im2col3x3_range(&input, c_in, h, w, 0, h * w, &mut cols);
            assert_eq!(full, cols);
        }
    }
}
