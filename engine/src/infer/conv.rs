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
    assert!(
        dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n,
        "matmul: buffer sizes"
    );
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above guarantee every pointer covers the strided ranges read/written
    // (row-major: column stride 1, row strides k, n and n); dst does not alias lhs or rhs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
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

/// Columns of a 3x3 "same" convolution: `cols[(c * 9 + ky * 3 + kx), y * w + x]` =
/// `input[c, y + ky - 1, x + kx - 1]` (zero outside).
pub fn im2col3x3(input: &[f32], c: usize, h: usize, w: usize, cols: &mut Vec<f32>) {
    let hw = h * w;
    cols.clear();
    cols.resize(c * 9 * hw, 0.0);
    for ch in 0..c {
        let src = &input[ch * hw..(ch + 1) * hw];
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut cols[(ch * 9 + ky * 3 + kx) * hw..(ch * 9 + ky * 3 + kx + 1) * hw];
                for y in 0..h {
                    let sy = y as isize + ky as isize - 1;
                    if sy < 0 || sy >= h as isize {
                        continue;
                    }
                    let srow = &src[sy as usize * w..(sy as usize + 1) * w];
                    let drow = &mut row[y * w..(y + 1) * w];
                    match kx {
                        0 => drow[1..].copy_from_slice(&srow[..w - 1]),
                        1 => drow.copy_from_slice(srow),
                        _ => drow[..w - 1].copy_from_slice(&srow[1..]),
                    }
                }
            }
        }
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
