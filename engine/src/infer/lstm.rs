//! The DBLSTM on the CPU: input projections of all frames in one GEMM, then the recurrence of
//! both directions step by step, with the recurrent weights kept hot in cache.

use super::conv::matmul;

/// One bidirectional layer in plain buffers (same layout as the Burn layer).
#[derive(Debug, Clone)]
pub struct FastBlstm {
    /// `[d_in, 8h]`: forward i,f,g,o then backward.
    pub w_input: Vec<f32>,
    /// `[8h]`
    pub bias: Vec<f32>,
    /// `[2, h, 4h]`
    pub w_hidden: Vec<f32>,
    /// Input dimension.
    pub d_in: usize,
    /// Hidden units per direction.
    pub hidden: usize,
}

/// exp(x) by range reduction (x = n ln2 + r) and a degree-6 polynomial (Cephes' expf
/// coefficients): relative error ~1e-7, branch-free so that loops over slices vectorize.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 87.0);
    let n = (x * std::f32::consts::LOG2_E).round();
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
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
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

/// `g += h @ w` for `w: [h.len(), g.len()]`, with the best instruction set available.
fn recurrent(g: &mut [f32], h: &[f32], w: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F (and with it AVX2 and FMA on every such CPU) was just detected.
            if std::arch::is_x86_feature_detected!("fma") {
                return unsafe { recurrent_avx512(g, h, w) };
            }
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: both features were just detected.
            return unsafe { recurrent_avx2(g, h, w) };
        }
    }
    recurrent_generic(g, h, w)
}

/// Runs the LSTM cell with the best instruction set this CPU has.
fn cell(g: &mut [f32], c: &mut [f32], h_out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: both features were just detected.
        return unsafe { cell_step_avx2(g, c, h_out) };
    }
    cell_step(g, c, h_out)
}

impl FastBlstm {
    /// `x: [t, d_in]` -> `out: [t, 2h]`; `gates` is scratch space.
    pub fn forward(
        &self,
        x: &[f32],
        t: usize,
        out: &mut Vec<f32>,
        gates: &mut Vec<f32>,
        threads: usize,
    ) {
        let h = self.hidden;
        let g8 = 8 * h;
        gates.clear();
        gates.resize(t * g8, 0.0);
        matmul(gates, x, &self.w_input, t, self.d_in, g8, threads);
        for row in gates.chunks_exact_mut(g8) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
        out.clear();
        out.resize(t * 2 * h, 0.0);
        let mut state = [vec![0.0f32; h], vec![0.0f32; h]];
        let mut cells = [vec![0.0f32; h], vec![0.0f32; h]];
        let mut g = vec![0.0f32; 4 * h];
        for step in 0..t {
            for dir in 0..2 {
                let frame = if dir == 0 { step } else { t - 1 - step };
                g.copy_from_slice(&gates[frame * g8 + dir * 4 * h..frame * g8 + (dir + 1) * 4 * h]);
                let wh = &self.w_hidden[dir * h * 4 * h..(dir + 1) * h * 4 * h];
                // g += h_prev @ W_h ([1, h] x [h, 4h]): one axpy per hidden unit over a
                // contiguous row of W_h.
                if step > 0 {
                    recurrent(&mut g, &state[dir], wh);
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
