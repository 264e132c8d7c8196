//! An optional int8 recurrence for the DBLSTM (AVX-512 VNNI), for when speed matters more than
//! bit-for-bit agreement with the f32 model.
//!
//! At batch 1 the recurrence reads every recurrent weight at every frame, so its speed is the
//! speed at which the weights stream through the caches. Here they are 8-bit integers (a
//! quarter of the f32 bytes): each gate column `j` has its own scale (`w ≈ scale_j * q`, `q` in
//! -127..=127), and the hidden state of each step is quantized with one scale (`h ≈ s_h * (u -
//! 128)`, `u` in 1..=255). `vpdpbusd` multiplies 4 unsigned state bytes by 4 signed weights
//! and adds them to a 32-bit lane, 64 products per instruction, with exact integer sums; the
//! offset of 128 is removed with precomputed column sums. The result differs from the f32
//! recurrence by the rounding of weights and state (about 0.5% of each gate's input); `engine
//! eval --int8-lstm` reports what that does to the error rate.

/// Gate columns per register block (16 lanes x 16 vectors).
const COLUMNS: usize = 256;

/// Whether this CPU runs the int8 recurrence (AVX-512 VNNI). Elsewhere only the portable
/// scalar kernel exists, some 30x slower than the f32 recurrence (measured on an AVX2-only AMD
/// EPYC: 48 ms against 1.5 ms for a 200-frame layer), so the int8 option is refused there.
pub fn available() -> bool {
    crate::kernels::tier::avx512_vnni()
}

/// Where the weight of hidden unit `i` and column `col` of column block `block` sits in one
/// direction's packing (`k` hidden units): `[4h / COLUMNS, k / 4, COLUMNS, 4]`.
fn packed_index(block: usize, i: usize, col: usize, k: usize) -> usize {
    block * k * COLUMNS + (i / 4) * COLUMNS * 4 + col * 4 + i % 4
}

/// Per-step buffers of the int8 recurrence, owned by the caller so that a step allocates and
/// clears nothing: the quantized state and the integer sums.
#[derive(Debug, Clone, Default)]
pub struct Int8Scratch {
    state: Vec<u8>,
    sums: Vec<i32>,
}

/// One layer's recurrent weights of both directions, quantized.
#[derive(Debug, Clone)]
pub struct Int8Recurrent {
    /// `[2, 4h / COLUMNS, h / 4, COLUMNS, 4]`: for each block of columns and each group of 4
    /// hidden units, the 4 weights of each column side by side (one 32-bit lane).
    weights: Vec<i8>,
    /// `[2, 4h]` column scales.
    scales: Vec<f32>,
    /// `[2, 4h]`: 128 x the column sums of the quantized weights (the state's offset).
    offsets: Vec<i32>,
    hidden: usize,
}

impl Int8Recurrent {
    /// Quantizes `w_hidden [2, h, 4h]`; `None` when the shape does not fit the kernel (`h` a
    /// multiple of 4 and `4h` of 256).
    pub fn new(w_hidden: &[f32], hidden: usize) -> Option<Self> {
        let n = 4 * hidden;
        if !hidden.is_multiple_of(4)
            || !n.is_multiple_of(COLUMNS)
            || w_hidden.len() != 2 * hidden * n
        {
            return None;
        }
        let mut weights = vec![0i8; 2 * hidden * n];
        let mut scales = vec![0.0f32; 2 * n];
        let mut offsets = vec![0i32; 2 * n];
        for dir in 0..2 {
            let w = &w_hidden[dir * hidden * n..(dir + 1) * hidden * n];
            for j in 0..n {
                let max = (0..hidden)
                    .map(|i| w[i * n + j].abs())
                    .fold(0.0f32, f32::max);
                let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                scales[dir * n + j] = scale;
                let (block, col) = (j / COLUMNS, j % COLUMNS);
                let mut sum = 0i32;
                for i in 0..hidden {
                    let q = (w[i * n + j] / scale).round().clamp(-127.0, 127.0) as i8;
                    sum += i32::from(q);
                    weights[dir * hidden * n + packed_index(block, i, col, hidden)] = q;
                }
                offsets[dir * n + j] = 128 * sum;
            }
        }
        Some(Self {
            weights,
            scales,
            offsets,
            hidden,
        })
    }

    /// `g += h @ W_h` of direction `dir` (`g: [4h]`, `h: [h]`), in int8; `scratch` is reused
    /// from step to step.
    pub fn recurrent(&self, dir: usize, g: &mut [f32], h: &[f32], scratch: &mut Int8Scratch) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::tier::avx512_vnni() {
            // SAFETY: both features were just detected.
            return unsafe { self.recurrent_vnni(dir, g, h, scratch) };
        }
        self.recurrent_with(dir, g, h, scratch, dot_products_generic);
    }

    /// [`Int8Recurrent::recurrent`] compiled for AVX-512 (so that quantizing the state and
    /// scaling the sums vectorize, with rounding in one instruction) around the VNNI kernel.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512 VNNI.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn recurrent_vnni(
        &self,
        dir: usize,
        g: &mut [f32],
        h: &[f32],
        scratch: &mut Int8Scratch,
    ) {
        self.recurrent_with(dir, g, h, scratch, |w, state, acc, k| {
            // SAFETY: the features are enabled here; the layout gives the sizes.
            unsafe { dot_products_vnni(w, state, acc, k) }
        });
    }

    #[inline(always)]
    fn recurrent_with(
        &self,
        dir: usize,
        g: &mut [f32],
        h: &[f32],
        scratch: &mut Int8Scratch,
        dot: impl Fn(&[i8], &[u8], &mut [i32], usize),
    ) {
        let k = self.hidden;
        let n = 4 * k;
        debug_assert!(g.len() == n && h.len() == k);
        // max |h| in 16 lanes, so that it vectorizes.
        let mut lanes = [0.0f32; 16];
        for chunk in h.chunks(16) {
            for (m, v) in lanes.iter_mut().zip(chunk) {
                *m = m.max(v.abs());
            }
        }
        let max = lanes.iter().fold(0.0f32, |m, &v| m.max(v));
        if max == 0.0 {
            return;
        }
        let s_h = max / 127.0;
        let inv = 127.0 / max;
        let Int8Scratch { state, sums: acc } = scratch;
        state.clear();
        // Ties to even: one `vrndscaleps` per 16 values (checked in the disassembly); the
        // values lie in 1..=255, so the cast only truncates.
        state.extend(
            h.iter()
                .map(|&v| ((v * inv).round_ties_even() + 128.0) as u8),
        );
        // Every sum is overwritten by `dot`.
        acc.resize(n, 0);
        let w = &self.weights[dir * k * n..(dir + 1) * k * n];
        dot(w, state, acc, k);
        let scales = &self.scales[dir * n..(dir + 1) * n];
        let offsets = &self.offsets[dir * n..(dir + 1) * n];
        for (((g, &a), &o), &sc) in g.iter_mut().zip(acc.iter()).zip(offsets).zip(scales) {
            *g += s_h * sc * (a - o) as f32;
        }
    }
}

/// `acc[j] = sum_i state[i] * w[i][j]` in the blocked layout (`k` hidden units), portably.
fn dot_products_generic(w: &[i8], state: &[u8], acc: &mut [i32], k: usize) {
    let n = acc.len();
    for block in 0..n / COLUMNS {
        for col in 0..COLUMNS {
            let mut sum = 0i32;
            for (i, &u) in state.iter().enumerate().take(k) {
                sum += i32::from(u) * i32::from(w[packed_index(block, i, col, k)]);
            }
            acc[block * COLUMNS + col] = sum;
        }
    }
}

/// [`dot_products_generic`] with `vpdpbusd`: 16 accumulators of 16 columns per block, one
/// broadcast of 4 state bytes per group of 4 hidden units.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 VNNI; `w.len() >= k * acc.len()`,
/// `state.len() >= k`, `k` a multiple of 4 and `acc.len()` of [`COLUMNS`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn dot_products_vnni(w: &[i8], state: &[u8], acc: &mut [i32], k: usize) {
    use std::arch::x86_64::*;
    let n = acc.len();
    // SAFETY: the contract bounds every read and write below.
    unsafe {
        for block in 0..n / COLUMNS {
            let mut sums = [_mm512_setzero_si512(); COLUMNS / 16];
            let mut wp = w.as_ptr().add(block * k * COLUMNS);
            for group in 0..k / 4 {
                let s = state.as_ptr().add(4 * group).cast::<i32>().read_unaligned();
                let x = _mm512_set1_epi32(s);
                for (v, sum) in sums.iter_mut().enumerate() {
                    let wv = _mm512_loadu_si512(wp.add(64 * v).cast());
                    *sum = _mm512_dpbusd_epi32(*sum, x, wv);
                }
                wp = wp.add(COLUMNS * 4);
            }
            for (v, sum) in sums.iter().enumerate() {
                _mm512_storeu_si512(acc.as_mut_ptr().add(block * COLUMNS + 16 * v).cast(), *sum);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `acc[j] = sum_i state[i] * w[i][j]` with the best instructions this CPU has.
    fn dot_products(w: &[i8], state: &[u8], acc: &mut [i32], k: usize) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::tier::avx512_vnni() {
            // SAFETY: both features were just detected; the sizes follow from the layout.
            return unsafe { dot_products_vnni(w, state, acc, k) };
        }
        dot_products_generic(w, state, acc, k);
    }

    #[test]
    fn the_int8_recurrence_is_close_to_f32_and_the_kernels_agree() {
        let hidden = 128usize;
        let n = 4 * hidden;
        let w: Vec<f32> = (0..2 * hidden * n)
            .map(|i| (((i * 7919) % 101) as f32 / 101.0 - 0.5) * 0.3)
            .collect();
        let q = Int8Recurrent::new(&w, hidden).unwrap();
        let h: Vec<f32> = (0..hidden)
            .map(|i| (((i * 37) % 23) as f32 / 11.0 - 1.0).tanh())
            .collect();
        for dir in 0..2 {
            let wd = &w[dir * hidden * n..(dir + 1) * hidden * n];
            let exact: Vec<f32> = (0..n)
                .map(|j| (0..hidden).map(|i| h[i] * wd[i * n + j]).sum())
                .collect();
            let mut got = vec![0.0f32; n];
            q.recurrent(dir, &mut got, &h, &mut Int8Scratch::default());
            let scale = exact.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let err = crate::kernels::max_abs_diff(&got, &exact);
            assert!(err < 0.01 * scale, "dir {dir}: error {err} of {scale}");
            // The vector kernel's integer sums equal the portable ones exactly.
            let state: Vec<u8> = (0..hidden).map(|i| (i * 13 % 255) as u8 + 1).collect();
            let wq = &q.weights[dir * hidden * n..(dir + 1) * hidden * n];
            let (mut a, mut b) = (vec![0i32; n], vec![0i32; n]);
            dot_products(wq, &state, &mut a, hidden);
            dot_products_generic(wq, &state, &mut b, hidden);
            assert_eq!(a, b);
        }
        assert!(Int8Recurrent::new(&w[..10], hidden).is_none());
        assert!(Int8Recurrent::new(&vec![0.0; 2 * 10 * 40], 10).is_none());
    }
}
