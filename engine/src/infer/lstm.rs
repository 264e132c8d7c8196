//! The DBLSTM on the CPU: input projections of all frames in one GEMM, then the recurrence of
//! both directions step by step, with the recurrent weights kept hot in cache.

use super::conv::{matmul, matmul_acc};

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

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
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
        let mut cell = [vec![0.0f32; h], vec![0.0f32; h]];
        let mut g = vec![0.0f32; 4 * h];
        for step in 0..t {
            for dir in 0..2 {
                let frame = if dir == 0 { step } else { t - 1 - step };
                g.copy_from_slice(&gates[frame * g8 + dir * 4 * h..frame * g8 + (dir + 1) * 4 * h]);
                let wh = &self.w_hidden[dir * h * 4 * h..(dir + 1) * h * 4 * h];
                // g += h_prev @ W_h ([1, h] x [h, 4h]) with the SIMD GEMM kernel.
                if step > 0 {
                    matmul_acc(&mut g, &state[dir], wh, 1, h, 4 * h);
                }
                let (hs, cs) = (&mut state[dir], &mut cell[dir]);
                for j in 0..h {
                    let ig = sigmoid(g[j]);
                    let fg = sigmoid(g[h + j]);
                    let gg = g[2 * h + j].tanh();
                    let og = sigmoid(g[3 * h + j]);
                    cs[j] = fg * cs[j] + ig * gg;
                    hs[j] = og * cs[j].tanh();
                }
                out[frame * 2 * h + dir * h..frame * 2 * h + (dir + 1) * h].copy_from_slice(hs);
            }
        }
    }
}
