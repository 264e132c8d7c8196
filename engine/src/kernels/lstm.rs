//! The DBLSTM on the CPU: input projections of all frames in one GEMM, then the recurrence of
//! both directions step by step, with the recurrent weights kept hot in cache.

use super::conv::matmul;
use super::lstm_int8::{Int8Recurrent, Int8Scratch};
use super::panel_gemm::PanelMatrix;

/// One bidirectional layer in plain buffers (same layout as the Burn layer). Build it with
/// [`FastBlstm::new`], which makes the packed copies the kernels read: changing a public
/// weight field afterwards would leave them stale.
#[derive(Debug, Clone)]
pub struct FastBlstm {
    /// `[d_in, 8h]`: forward i,f,g,o then backward.
    pub w_input: Vec<f32>,
    /// `[8h]`
    pub bias: Vec<f32>,
    /// `w_input` and `bias` packed for the panel GEMM, on CPUs with AVX2 + FMA (where the
    /// `gemm` crate, which packs the weights at every call, is slower at these sizes); `None`
    /// elsewhere.
    w_input_panels: Option<PanelMatrix>,
    /// `[2, h, 4h]`
    pub w_hidden: Vec<f32>,
    /// The recurrent weights repacked for the register-blocked kernel:
    /// `[2, 4h / block, h, block]`, so that each block of gate columns streams contiguously
    /// (empty when `4h` is not a multiple of `block` or the CPU has no blocked kernel).
    w_hidden_blocked: Vec<f32>,
    /// Gate columns per block of `w_hidden_blocked`: [`BLOCK`] with AVX-512, [`BLOCK_AVX2`]
    /// with AVX2 + FMA only (the kernel for this CPU, see [`block_width`]).
    block: usize,
    /// The blocked recurrent weights as IEEE half-precision bits, when every weight is exactly
    /// a half-precision value (models stored in half precision, as shipped): the same numbers in
    /// half the bytes, so the recurrence, which streams these weights from the L2 cache at
    /// every step, moves half the data. Empty otherwise.
    w_hidden_f16: Vec<u16>,
    /// The recurrent weights in int8, when [`FastBlstm::quantize_recurrence`] was called: the
    /// recurrence then runs on them (faster, and no longer equal to the f32 model).
    int8: Option<Int8Recurrent>,
    /// Input dimension.
    pub d_in: usize,
    /// Hidden units per direction.
    pub hidden: usize,
}

/// Gate columns accumulated in registers at once by the recurrent kernel (16 AVX-512 vectors:
/// 16 independent FMA chains hide the FMA latency on both ports).
pub const BLOCK: usize = 256;
/// AVX-512 vectors per block.
const VECTORS: usize = BLOCK / 16;
/// Gate columns per block of the AVX2 kernel: 8 ymm accumulators, which leaves registers for
/// the broadcast hidden value (the 16 ymm registers cannot hold 16 accumulators and it).
pub const BLOCK_AVX2: usize = 64;
/// AVX2 vectors per block.
const VECTORS_AVX2: usize = BLOCK_AVX2 / 8;

/// Gate columns per block of the recurrent kernel this CPU runs (0: no blocked kernel).
pub fn block_width() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::kernels::tier::avx512() {
            return BLOCK;
        }
        if crate::kernels::tier::f16c() {
            return BLOCK_AVX2;
        }
    }
    0
}

impl FastBlstm {
    /// A layer from the Burn layout (`w_input [d_in, 8h]`, `bias [8h]`,
    /// `w_hidden [2, h, 4h]`).
    pub fn new(
        w_input: Vec<f32>,
        bias: Vec<f32>,
        w_hidden: Vec<f32>,
        d_in: usize,
        hidden: usize,
    ) -> Self {
        let n = 4 * hidden;
        let bw = block_width();
        let mut w_hidden_blocked = Vec::new();
        if bw > 0 && n.is_multiple_of(bw) && w_hidden.len() == 2 * hidden * n {
            w_hidden_blocked.reserve(w_hidden.len());
            for dir in 0..2 {
                let wd = &w_hidden[dir * hidden * n..(dir + 1) * hidden * n];
                for block in 0..n / bw {
                    for i in 0..hidden {
                        w_hidden_blocked
                            .extend_from_slice(&wd[i * n + block * bw..i * n + (block + 1) * bw]);
                    }
                }
            }
        }
        let exact_f16 = w_hidden_blocked
            .iter()
            .all(|&v| half::f16::from_f32(v).to_f32() == v);
        let w_hidden_f16 = if exact_f16 {
            w_hidden_blocked
                .iter()
                .map(|&v| half::f16::from_f32(v).to_bits())
                .collect()
        } else {
            Vec::new()
        };
        let w_input_panels = PanelMatrix::new(&w_input, &bias, d_in, 8 * hidden);
        Self {
            w_input,
            bias,
            w_input_panels,
            w_hidden,
            w_hidden_blocked,
            block: bw,
            w_hidden_f16,
            int8: None,
            d_in,
            hidden,
        }
    }
}

/// exp(x) by range reduction (x = n ln2 + r) and a degree-6 polynomial (Cephes' expf
/// coefficients): relative error ~1e-7. Branch-free and free of float-to-int casts (Rust's
/// saturating `as i32` does not vectorize): n is rounded by adding 1.5 * 2^23 (+ the exponent
/// bias), which leaves n + 127 in the low mantissa bits, and 2^n is those bits shifted into
/// the exponent field. So loops over slices vectorize fully.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0 + 127.0; // 1.5 * 2^23 + bias
    let x = x.clamp(-87.0, 87.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 0.166_666_66)
        * r
        + 0.5)
        * r
        + 1.0)
        * r
        + 1.0;
    p * f32::from_bits(t.to_bits() << 23)
}

/// The logistic function on `fast_exp` (relative error about 1e-7), vectorizable.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

/// `tanh` as `2 sigmoid(2x) - 1`, vectorizable.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// The LSTM cell on gate pre-activations `g = [i | f | g | o]` (each `h` wide), updating the
/// cell `c` and hidden state `h_out` in place. Written as straight loops over slices so that
/// the compiler vectorizes them.
#[inline(always)]
fn cell_step(g: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    let h = c.len();
    let (ifg, rest) = g.split_at_mut(2 * h);
    let (gg, o) = rest.split_at_mut(h);
    ifg.iter_mut().for_each(|v| *v = sigmoid(*v));
    o.iter_mut().for_each(|v| *v = sigmoid(*v));
    gg.iter_mut().for_each(|v| *v = tanh(*v));
    let (i, f) = ifg.split_at(h);
    for j in 0..h {
        c[j] = f[j] * c[j] + i[j] * gg[j];
    }
    for j in 0..h {
        h_out[j] = o[j] * tanh(c[j]);
    }
}

/// [`cell_step`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn cell_step_avx2(g: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    cell_step(g, c, h_out)
}

#[inline(always)]
fn recurrent_generic(g: &mut [f32], h: &[f32], w: &[f32]) {
    let n = g.len();
    for (i, &hv) in h.iter().enumerate() {
        let row = &w[i * n..(i + 1) * n];
        g.iter_mut().zip(row).for_each(|(a, w)| *a += hv * w);
    }
}

/// [`recurrent_generic`] for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn recurrent_avx512(g: &mut [f32], h: &[f32], w: &[f32]) {
    recurrent_generic(g, h, w)
}

/// [`recurrent_generic`] for AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn recurrent_avx2(g: &mut [f32], h: &[f32], w: &[f32]) {
    recurrent_generic(g, h, w)
}

/// `g += h @ w` for `w: [h.len(), g.len()]` laid out as `[g.len() / BLOCK, h.len(), BLOCK]`:
/// each block of [`BLOCK`] gate columns is accumulated in AVX-512 registers over all of `h`
/// (one broadcast, then one weight vector and one FMA per register for each hidden unit), then
/// stored once. `load(p)` reads the 16 weights at `p` as f32 (a plain load, or a conversion
/// from half precision).
///
/// # Safety
/// The CPU must support AVX-512F; `g.len()` must be a multiple of [`BLOCK`] and
/// `w.len() >= h.len() * g.len()`; `load` must read 16 elements at most.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn recurrent_blocked<T>(
    g: &mut [f32],
    h: &[f32],
    w: &[T],
    load: impl Fn(*const T) -> std::arch::x86_64::__m512,
) {
    use std::arch::x86_64::*;
    let n = g.len();
    let k = h.len();
    debug_assert!(n.is_multiple_of(BLOCK) && w.len() >= k * n);
    for block in 0..n / BLOCK {
        // SAFETY: block * BLOCK + BLOCK <= n = g.len(), and the weights of this block are
        // w[block * k * BLOCK .. (block + 1) * k * BLOCK], inside w by the contract above;
        // AVX-512F is available by the contract.
        unsafe {
            let gp = g.as_mut_ptr().add(block * BLOCK);
            let mut acc = [_mm512_setzero_ps(); VECTORS];
            for (lane, a) in acc.iter_mut().enumerate() {
                *a = _mm512_loadu_ps(gp.add(16 * lane));
            }
            let mut wp = w.as_ptr().add(block * k * BLOCK);
            for &hv in h {
                let x = _mm512_set1_ps(hv);
                for (lane, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(x, load(wp.add(16 * lane)), *a);
                }
                wp = wp.add(BLOCK);
            }
            for (lane, a) in acc.iter().enumerate() {
                _mm512_storeu_ps(gp.add(16 * lane), *a);
            }
        }
    }
}

/// [`recurrent_blocked`] on f32 weights.
///
/// # Safety
/// As [`recurrent_blocked`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn recurrent_blocked_avx512(g: &mut [f32], h: &[f32], w: &[f32]) {
    // SAFETY: the caller's contract; each load reads 16 floats.
    unsafe { recurrent_blocked(g, h, w, |p| std::arch::x86_64::_mm512_loadu_ps(p)) }
}

/// [`recurrent_blocked`] on half-precision weight bits, converted to f32 in registers: half
/// the bytes streamed from the cache, at the price of a conversion per vector (measured: about
/// 25% faster on an AVX-512 Xeon).
///
/// # Safety
/// As [`recurrent_blocked`], with `w` holding f16 bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn recurrent_blocked_f16_avx512(g: &mut [f32], h: &[f32], w: &[u16]) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract; each load reads 16 halves (32 bytes).
    unsafe { recurrent_blocked(g, h, w, |p| _mm512_cvtph_ps(_mm256_loadu_si256(p.cast()))) }
}

/// [`recurrent_blocked`] for AVX2: blocks of [`BLOCK_AVX2`] gate columns in 8 ymm
/// accumulators.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `g.len()` must be a multiple of [`BLOCK_AVX2`] and
/// `w.len() >= h.len() * g.len()`; `load` must read 8 elements at most.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn recurrent_blocked_avx2<T>(
    g: &mut [f32],
    h: &[f32],
    w: &[T],
    load: impl Fn(*const T) -> std::arch::x86_64::__m256,
) {
    use std::arch::x86_64::*;
    let n = g.len();
    let k = h.len();
    debug_assert!(n.is_multiple_of(BLOCK_AVX2) && w.len() >= k * n);
    for block in 0..n / BLOCK_AVX2 {
        // SAFETY: as in `recurrent_blocked`, with blocks of BLOCK_AVX2 columns; AVX2 and FMA
        // are available by the contract.
        unsafe {
            let gp = g.as_mut_ptr().add(block * BLOCK_AVX2);
            let mut acc = [_mm256_setzero_ps(); VECTORS_AVX2];
            for (lane, a) in acc.iter_mut().enumerate() {
                *a = _mm256_loadu_ps(gp.add(8 * lane));
            }
            let mut wp = w.as_ptr().add(block * k * BLOCK_AVX2);
            for &hv in h {
                let x = _mm256_set1_ps(hv);
                for (lane, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(x, load(wp.add(8 * lane)), *a);
                }
                wp = wp.add(BLOCK_AVX2);
            }
            for (lane, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(gp.add(8 * lane), *a);
            }
        }
    }
}

/// [`recurrent_blocked_avx2`] on f32 weights.
///
/// # Safety
/// As [`recurrent_blocked_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn recurrent_blocked_f32_avx2(g: &mut [f32], h: &[f32], w: &[f32]) {
    // SAFETY: the caller's contract; each load reads 8 floats.
    unsafe { recurrent_blocked_avx2(g, h, w, |p| std::arch::x86_64::_mm256_loadu_ps(p)) }
}

/// [`recurrent_blocked_avx2`] on half-precision weight bits (F16C conversion in registers).
///
/// # Safety
/// As [`recurrent_blocked_avx2`], with `w` holding f16 bits and F16C available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn recurrent_blocked_f16_avx2(g: &mut [f32], h: &[f32], w: &[u16]) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract; each load reads 8 halves (16 bytes).
    unsafe { recurrent_blocked_avx2(g, h, w, |p| _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))) }
}

/// `g += h @ w` for `w: [h.len(), g.len()]`, with the best instruction set available;
/// `blocked` is the same matrix in the layout of the blocked kernels, `block` gate columns per
/// block (see [`block_width`]; or empty).
fn recurrent(
    g: &mut [f32],
    h: &[f32],
    w: &[f32],
    blocked: &[f32],
    blocked_f16: &[u16],
    block: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        let fits = |len: usize| {
            len > 0 && block > 0 && g.len().is_multiple_of(block) && len >= h.len() * g.len()
        };
        if block == BLOCK_AVX2 && crate::kernels::tier::f16c() {
            if fits(blocked_f16.len()) {
                // SAFETY: AVX2, FMA and F16C were just detected; the sizes were just checked.
                return unsafe { recurrent_blocked_f16_avx2(g, h, blocked_f16) };
            }
            if fits(blocked.len()) {
                // SAFETY: AVX2 and FMA were just detected; the sizes were just checked.
                return unsafe { recurrent_blocked_f32_avx2(g, h, blocked) };
            }
        }
        if crate::kernels::tier::avx512() {
            if block == BLOCK && fits(blocked_f16.len()) {
                // SAFETY: AVX-512F was just detected; the sizes were just checked.
                return unsafe { recurrent_blocked_f16_avx512(g, h, blocked_f16) };
            }
            if block == BLOCK && fits(blocked.len()) {
                // SAFETY: AVX-512F was just detected; the sizes were just checked.
                return unsafe { recurrent_blocked_avx512(g, h, blocked) };
            }
            // SAFETY: the AVX-512 tier implies AVX2 and FMA (`tier::detected`).
            return unsafe { recurrent_avx512(g, h, w) };
        }
        if crate::kernels::tier::avx2_fma() {
            // SAFETY: both features were just detected.
            return unsafe { recurrent_avx2(g, h, w) };
        }
    }
    let _ = (blocked, blocked_f16, block);
    recurrent_generic(g, h, w)
}

/// [`cell_step`] in AVX-512 intrinsics, 16 units at a time: 2^n by `vscalefps` and the
/// sigmoid's reciprocal by `vrcp14ps` and one Newton step (relative error ~1e-7) instead of a
/// division, whose 16-lane form issues once per ~10 cycles: the compiled loops spent about a
/// fifth of a 200-frame recurrence in this cell. Leaves `g` as it was (the callers overwrite
/// it at the next step).
///
/// # Safety
/// The CPU must support AVX-512F; `g.len() == 4 * c.len()` and `h_out.len() == c.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn cell_step_avx512(g: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    use std::arch::x86_64::*;
    let h = c.len();
    assert!(g.len() == 4 * h && h_out.len() == h, "lstm cell: sizes");
    let full = h - h % 16;
    let set = _mm512_set1_ps;
    let exp16 = |x: __m512| {
        let x = _mm512_min_ps(_mm512_max_ps(x, set(-87.0)), set(87.0));
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, set(std::f32::consts::LOG2_E)),
        );
        let r = _mm512_fnmadd_ps(n, set(0.693_359_4), x);
        let r = _mm512_fnmadd_ps(n, set(-2.121_944_4e-4), r);
        let mut p = set(1.987_569_1e-4);
        for coef in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            0.166_666_66,
            0.5,
            1.0,
            1.0,
        ] {
            p = _mm512_fmadd_ps(p, r, set(coef));
        }
        _mm512_scalef_ps(p, n)
    };
    let sigmoid16 = |x: __m512| {
        let d = _mm512_add_ps(set(1.0), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x)));
        let r = _mm512_rcp14_ps(d);
        _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, set(2.0)))
    };
    let tanh16 = |x: __m512| _mm512_fmsub_ps(set(2.0), sigmoid16(_mm512_add_ps(x, x)), set(1.0));
    // SAFETY: j + 16 <= full <= h, so every access below stays inside g (4h), c and h_out (h),
    // checked above.
    unsafe {
        let gp = g.as_ptr();
        for j in (0..full).step_by(16) {
            let i = sigmoid16(_mm512_loadu_ps(gp.add(j)));
            let f = sigmoid16(_mm512_loadu_ps(gp.add(h + j)));
            let gg = tanh16(_mm512_loadu_ps(gp.add(2 * h + j)));
            let o = sigmoid16(_mm512_loadu_ps(gp.add(3 * h + j)));
            let cp = c.as_mut_ptr().add(j);
            let cn = _mm512_fmadd_ps(f, _mm512_loadu_ps(cp), _mm512_mul_ps(i, gg));
            _mm512_storeu_ps(cp, cn);
            _mm512_storeu_ps(h_out.as_mut_ptr().add(j), _mm512_mul_ps(o, tanh16(cn)));
        }
    }
    for j in full..h {
        let (i, f) = (sigmoid(g[j]), sigmoid(g[h + j]));
        let (gg, o) = (tanh(g[2 * h + j]), sigmoid(g[3 * h + j]));
        c[j] = f * c[j] + i * gg;
        h_out[j] = o * tanh(c[j]);
    }
}

/// Runs the LSTM cell with the best instruction set this CPU has.
fn cell(g: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::tier::avx512() {
        // SAFETY: AVX-512F was just detected; the sizes are checked inside.
        return unsafe { cell_step_avx512(g, c, h_out) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::tier::avx2_fma() {
        // SAFETY: both features were just detected.
        return unsafe { cell_step_avx2(g, c, h_out) };
    }
    cell_step(g, c, h_out)
}

impl FastBlstm {
    /// Runs the recurrence on int8 weights from now on ([`super::lstm_int8`]); `false` when
    /// the layer's shape does not fit the int8 kernel.
    pub fn quantize_recurrence(&mut self) -> bool {
        self.int8 = Int8Recurrent::new(&self.w_hidden, self.hidden);
        self.int8.is_some()
    }

    /// `x: [t, d_in]` -> `out: [t, 2h]`; `gates` is scratch space.
    pub fn forward(
        &self,
        x: &[f32],
        t: usize,
        out: &mut Vec<f32>,
        gates: &mut Vec<f32>,
        threads: usize,
    ) {
        self.project_inputs(x, t, gates, threads);
        self.recur(gates, t, out);
    }

    /// Gate pre-activations of every frame and both directions in one GEMM:
    /// `x: [t, d_in]` -> `gates: [t, 8h]` (input weights and bias).
    pub fn project_inputs(&self, x: &[f32], t: usize, gates: &mut Vec<f32>, threads: usize) {
        if let Some(panels) = self.w_input_panels.as_ref().filter(|_| threads <= 1) {
            return panels.apply(x, t, gates);
        }
        let g8 = 8 * self.hidden;
        gates.clear();
        gates.resize(t * g8, 0.0);
        matmul(gates, x, &self.w_input, t, self.d_in, g8, threads);
        for row in gates.chunks_exact_mut(g8) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
    }

    /// The recurrence of both directions, step by step, on projected `gates: [t, 8h]`:
    /// `out: [t, 2h]` (forward states then backward states of each frame).
    pub fn recur(&self, gates: &[f32], t: usize, out: &mut Vec<f32>) {
        let h = self.hidden;
        let g8 = 8 * h;
        out.clear();
        out.resize(t * 2 * h, 0.0);
        let mut state = [vec![0.0f32; h], vec![0.0f32; h]];
        let mut cells = [vec![0.0f32; h], vec![0.0f32; h]];
        let mut g = vec![0.0f32; 4 * h];
        let mut scratch = Int8Scratch::default();
        for step in 0..t {
            for dir in 0..2 {
                let frame = if dir == 0 { step } else { t - 1 - step };
                g.copy_from_slice(&gates[frame * g8 + dir * 4 * h..frame * g8 + (dir + 1) * 4 * h]);
                // g += h_prev @ W_h ([1, h] x [h, 4h]).
                if step > 0 {
                    if let Some(q) = &self.int8 {
                        q.recurrent(dir, &mut g, &state[dir], &mut scratch);
                    } else {
                        let range = dir * h * 4 * h..(dir + 1) * h * 4 * h;
                        let wh = &self.w_hidden[range.clone()];
                        let blocked = self.w_hidden_blocked.get(range.clone()).unwrap_or(&[]);
                        let blocked_f16 = self.w_hidden_f16.get(range).unwrap_or(&[]);
                        recurrent(&mut g, &state[dir], wh, blocked, blocked_f16, self.block);
                    }
                }
                let (hs, cs) = (&mut state[dir], &mut cells[dir]);
                cell(&mut g, cs, hs);
                out[frame * 2 * h + dir * h..frame * 2 * h + (dir + 1) * h].copy_from_slice(hs);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn recurrent_kernels_match_a_naive_product() {
        // f32 weights, and weights that are exact halves (the f16 kernel).
        for (hidden, halves) in [(128usize, false), (128, true), (32, false), (20, false)] {
            let n = 4 * hidden;
            let w: Vec<f32> = (0..2 * hidden * n)
                .map(|i| ((i * 7919) % 101) as f32 / 101.0 - 0.5)
                .map(|v| {
                    if halves {
                        half::f16::from_f32(v).to_f32()
                    } else {
                        v
                    }
                })
                .collect();
            let layer = FastBlstm::new(vec![], vec![], w.clone(), 0, hidden);
            let bw = block_width();
            assert_eq!(layer.w_hidden_blocked.is_empty(), bw == 0 || n % bw != 0);
            assert_eq!(
                layer.w_hidden_f16.is_empty(),
                !halves || layer.w_hidden_blocked.is_empty()
            );
            let h: Vec<f32> = (0..hidden)
                .map(|i| ((i * 37) % 11) as f32 / 11.0 - 0.5)
                .collect();
            for dir in 0..2 {
                let wd = &w[dir * hidden * n..(dir + 1) * hidden * n];
                let mut expected: Vec<f32> = (0..n).map(|j| j as f32 * 0.01).collect();
                let mut got = expected.clone();
                for (j, e) in expected.iter_mut().enumerate() {
                    *e += (0..hidden).map(|i| h[i] * wd[i * n + j]).sum::<f32>();
                }
                let range = dir * hidden * n..(dir + 1) * hidden * n;
                let blocked = layer.w_hidden_blocked.get(range.clone()).unwrap_or(&[]);
                let blocked_f16 = layer.w_hidden_f16.get(range).unwrap_or(&[]);
                recurrent(&mut got, &h, wd, blocked, blocked_f16, layer.block);
                let diff = crate::kernels::max_abs_diff(&got, &expected);
                assert!(diff < 1e-4, "hidden {hidden} dir {dir}: {diff}");
            }
        }
    }

    #[test]
    fn cell_kernels_match_the_portable_cell() {
        // 16-lane blocks and a scalar tail; gates far into both saturated ends.
        for h in [128usize, 20, 5] {
            let g: Vec<f32> = (0..4 * h)
                .map(|i| ((i * 7919) % 997) as f32 / 997.0 * 60.0 - 30.0)
                .collect();
            let c0: Vec<f32> = (0..h).map(|i| (i % 13) as f32 - 6.0).collect();
            let (mut c_ref, mut h_ref) = (c0.clone(), vec![0.0; h]);
            cell_step(&mut g.clone(), &mut c_ref, &mut h_ref);
            let (mut c_fast, mut h_fast) = (c0.clone(), vec![0.0; h]);
            cell(&mut g.clone(), &mut c_fast, &mut h_fast);
            assert!(
                crate::kernels::max_abs_diff(&c_fast, &c_ref) < 1e-5,
                "c, h = {h}"
            );
            assert!(
                crate::kernels::max_abs_diff(&h_fast, &h_ref) < 1e-6,
                "h, h = {h}"
            );
            // Against f64 math, from the same start.
            for j in 0..h {
                let s = |x: f32| 1.0 / (1.0 + (-(x as f64)).exp());
                let c = s(g[h + j]) * c0[j] as f64 + s(g[j]) * (g[2 * h + j] as f64).tanh();
                let hv = s(g[3 * h + j]) * c.tanh();
                assert!(
                    (c_fast[j] as f64 - c).abs() < 1e-5 && (h_fast[j] as f64 - hv).abs() < 1e-6
                );
            }
        }
    }

    #[test]
    fn fast_exp_sigmoid_tanh_are_accurate() {
        let mut x = -20.0f32;
        while x < 20.0 {
            let e = fast_exp(x);
            assert!(((e - x.exp()) / x.exp()).abs() < 1e-6, "exp({x})");
            assert!(
                (sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6,
                "sigmoid({x})"
            );
            assert!((tanh(x) - x.tanh()).abs() < 1e-6, "tanh({x})");
            x += 0.01;
        }
        assert!(fast_exp(-200.0) >= 0.0 && fast_exp(200.0).is_finite());
    }
}
