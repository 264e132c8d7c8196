//! The recurrence of one bidirectional LSTM layer and its backward in time, on plain buffers,
//! for training. The input projections (`xw = x W_in + b`, one GEMM) stay outside: this is the
//! part that runs step by step.
//!
//! Per direction `d` and step `s` (frame `s` forward, `t - 1 - s` backward), with the gates in
//! PyTorch's order i, f, g, o and `m` the frame's mask (0 on padding, which resets the state):
//!
//! ```text
//! a = xw[frame, d] + h_prev W_h[d]            (pre-activations, [batch, 4h])
//! i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
//! c = (f c_prev + i g) m;            h = o tanh(c) m
//! ```
//!
//! The forward keeps the activated gates and the cell and hidden states of every step (the
//! tape); the backward walks the steps in reverse:
//!
//! ```text
//! dh = dout + dh_next;               dc = dc_next + dh m o (1 - tanh(c)^2)
//! da_o = dh m tanh(c) o (1 - o);     da_i = dc m g i (1 - i)
//! da_f = dc m c_prev f (1 - f);      da_g = dc m i (1 - g^2)
//! dh_next = da W_h[d]^T;             dc_next = dc m f
//! ```
//!
//! and `dW_h[d] = sum over steps of h_prev^T da`, one GEMM over all steps at the end;
//! `dxw[frame, d] = da`. The two directions run on two threads when rayon has them.

use crate::kernels::conv::matmul_accumulate;
use crate::kernels::lstm::{sigmoid, tanh};
use crate::kernels::panel_gemm;

/// A weight matrix `W [k, n]` multiplied at every step by a few rows: packed once into
/// panels for the panel GEMM where this CPU has AVX2 + FMA (the `gemm` crate would pack it at
/// every call), read in place by the `gemm` crate elsewhere.
struct StepWeights<'a> {
    w: &'a [f32],
    k: usize,
    n: usize,
    panels: Option<Vec<f32>>,
    product: Vec<f32>,
}

impl<'a> StepWeights<'a> {
    fn new(w: &'a [f32], k: usize, n: usize) -> Self {
        let packed = panel_gemm::available() && n.is_multiple_of(16);
        Self {
            w,
            k,
            n,
            panels: packed.then(|| panel_gemm::pack(w, k, n)),
            product: Vec::new(),
        }
    }

    /// `dst [m, n] += a [m, k] x W`.
    fn add_product(&mut self, dst: &mut [f32], a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        match &self.panels {
            Some(panels) => {
                self.product.resize(m * n, 0.0);
                panel_gemm::gemm(a, k, m, panels, k, n, None, &mut self.product, n);
                dst.iter_mut().zip(&self.product).for_each(|(d, p)| *d += p);
            }
            None => matmul_accumulate(dst, n, a, (k, 1), self.w, (n, 1), m, k, n),
        }
    }
}

/// Geometry of one layer call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmShape {
    /// Lines.
    pub batch: usize,
    /// Frames per line (padded).
    pub frames: usize,
    /// Hidden units per direction.
    pub hidden: usize,
}

/// What the forward keeps for the backward, per direction: `gates [frames, batch, 4h]`
/// (activated), `cells` and `states` `[frames, batch, h]`, in step order.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    gates: [Vec<f32>; 2],
    cells: [Vec<f32>; 2],
    states: [Vec<f32>; 2],
}

fn frame_of(dir: usize, step: usize, frames: usize) -> usize {
    if dir == 0 { step } else { frames - 1 - step }
}

/// `out [batch, frames, 2h]` (forward states, then backward states) from the projected
/// `xw [batch, frames, 8h]`, `w_hidden [2, h, 4h]` and `mask [batch, frames]`.
pub fn forward(xw: &[f32], w_hidden: &[f32], mask: &[f32], s: LstmShape) -> (Vec<f32>, Tape) {
    let (b, t, h) = (s.batch, s.frames, s.hidden);
    assert_eq!(xw.len(), b * t * 8 * h, "lstm forward: xw size");
    assert_eq!(w_hidden.len(), 2 * h * 4 * h, "lstm forward: w_hidden size");
    assert_eq!(mask.len(), b * t, "lstm forward: mask size");
    let run =
        |dir: usize| direction_forward(dir, xw, &w_hidden[dir * h * 4 * h..][..h * 4 * h], mask, s);
    let (fwd, bwd) = rayon::join(|| run(0), || run(1));
    // Line by line on rayon's threads: [line, frame, (forward, backward) state].
    let out = super::par_filled(b * t * 2 * h, t * 2 * h, |line, out| {
        for (dir, states) in [&fwd.2, &bwd.2].into_iter().enumerate() {
            for step in 0..t {
                let frame = frame_of(dir, step, t);
                let src = &states[(step * b + line) * h..][..h];
                out[frame * 2 * h + dir * h..][..h].copy_from_slice(src);
            }
        }
    });
    let mut tape = Tape::default();
    for (dir, (gates, cells, states)) in [fwd, bwd].into_iter().enumerate() {
        (tape.gates[dir], tape.cells[dir], tape.states[dir]) = (gates, cells, states);
    }
    (out, tape)
}

/// One direction's recurrence: (gates, cells, states) in step order.
fn direction_forward(
    dir: usize,
    xw: &[f32],
    wh: &[f32],
    mask: &[f32],
    s: LstmShape,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (b, t, h) = (s.batch, s.frames, s.hidden);
    let (g4, g8) = (4 * h, 8 * h);
    let mut gates = vec![0.0f32; t * b * g4];
    let mut cells = vec![0.0f32; t * b * h];
    let mut states = vec![0.0f32; t * b * h];
    let mut recurrent = StepWeights::new(wh, h, g4);
    for step in 0..t {
        let frame = frame_of(dir, step, t);
        let a = &mut gates[step * b * g4..][..b * g4];
        for line in 0..b {
            a[line * g4..][..g4].copy_from_slice(&xw[(line * t + frame) * g8 + dir * g4..][..g4]);
        }
        if step > 0 {
            // a += h_prev [b, h] x W_h [h, 4h]
            let prev = &states[(step - 1) * b * h..][..b * h];
            recurrent.add_product(a, prev, b);
        }
        for line in 0..b {
            let m = mask[line * t + frame];
            let a = &mut a[line * g4..][..g4];
            let (ifg, o) = a.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            i_f.iter_mut().for_each(|v| *v = sigmoid(*v));
            g.iter_mut().for_each(|v| *v = tanh(*v));
            o.iter_mut().for_each(|v| *v = sigmoid(*v));
            let row = (step * b + line) * h;
            for j in 0..h {
                let c_prev = if step > 0 {
                    cells[row - b * h + j]
                } else {
                    0.0
                };
                let c = (i_f[h + j] * c_prev + i_f[j] * g[j]) * m;
                cells[row + j] = c;
                states[row + j] = o[j] * tanh(c) * m;
            }
        }
    }
    (gates, cells, states)
}

/// Gradients of the recurrence: (`dxw [batch, frames, 8h]`, `dw_hidden [2, h, 4h]`) from
/// `dout [batch, frames, 2h]`.
pub fn backward(
    dout: &[f32],
    w_hidden: &[f32],
    mask: &[f32],
    tape: &Tape,
    s: LstmShape,
) -> (Vec<f32>, Vec<f32>) {
    let (b, t, h) = (s.batch, s.frames, s.hidden);
    assert_eq!(dout.len(), b * t * 2 * h, "lstm backward: dout size");
    let run = |dir: usize| {
        direction_backward(
            dir,
            dout,
            &w_hidden[dir * h * 4 * h..][..h * 4 * h],
            mask,
            tape,
            s,
        )
    };
    let ((da0, dw0), (da1, dw1)) = rayon::join(|| run(0), || run(1));
    let g4 = 4 * h;
    // Line by line on rayon's threads: [line, frame, (forward, backward) gates].
    let dxw = super::par_filled(b * t * 8 * h, t * 8 * h, |line, dxw| {
        for (dir, da) in [&da0, &da1].into_iter().enumerate() {
            for step in 0..t {
                let frame = frame_of(dir, step, t);
                dxw[frame * 8 * h + dir * g4..][..g4]
                    .copy_from_slice(&da[(step * b + line) * g4..][..g4]);
            }
        }
    });
    let mut dw = dw0;
    dw.extend_from_slice(&dw1);
    (dxw, dw)
}

/// One direction's backward: (`da [frames, batch, 4h]` in step order, `dW_h [h, 4h]`).
fn direction_backward(
    dir: usize,
    dout: &[f32],
    wh: &[f32],
    mask: &[f32],
    tape: &Tape,
    s: LstmShape,
) -> (Vec<f32>, Vec<f32>) {
    let (b, t, h) = (s.batch, s.frames, s.hidden);
    let g4 = 4 * h;
    let (gates, cells, states) = (&tape.gates[dir], &tape.cells[dir], &tape.states[dir]);
    let mut da = vec![0.0f32; t * b * g4];
    let mut dh_next = vec![0.0f32; b * h];
    let mut dc_next = vec![0.0f32; b * h];
    // W_h^T [4h, h], for dh_next = da W_h^T.
    let mut wh_t = vec![0.0f32; g4 * h];
    for u in 0..h {
        for q in 0..g4 {
            wh_t[q * h + u] = wh[u * g4 + q];
        }
    }
    let mut recurrent_t = StepWeights::new(&wh_t, g4, h);
    for step in (0..t).rev() {
        let frame = frame_of(dir, step, t);
        let a = &mut da[step * b * g4..][..b * g4];
        for line in 0..b {
            let m = mask[line * t + frame];
            let row = (step * b + line) * h;
            let gate = &gates[(step * b + line) * g4..][..g4];
            let d = &mut a[line * g4..][..g4];
            let dout = &dout[(line * t + frame) * 2 * h + dir * h..][..h];
            for j in 0..h {
                let (i, f, g, o) = (gate[j], gate[h + j], gate[2 * h + j], gate[3 * h + j]);
                let c = cells[row + j];
                let c_prev = if step > 0 {
                    cells[row - b * h + j]
                } else {
                    0.0
                };
                let tc = tanh(c);
                let dh = (dout[j] + dh_next[line * h + j]) * m;
                let dc = (dc_next[line * h + j] + dh * o * (1.0 - tc * tc)) * m;
                d[j] = dc * g * i * (1.0 - i);
                d[h + j] = dc * c_prev * f * (1.0 - f);
                d[2 * h + j] = dc * i * (1.0 - g * g);
                d[3 * h + j] = dh * tc * o * (1.0 - o);
                dc_next[line * h + j] = dc * f;
            }
        }
        // dh_next [b, h] = da [b, 4h] x W_h^T (W_h is [h, 4h]).
        dh_next.fill(0.0);
        if step > 0 {
            recurrent_t.add_product(&mut dh_next, a, b);
        }
    }
    // dW_h [h, 4h] = sum over steps >= 1 of h_prev^T [h, b] x da [b, 4h].
    let mut dw = vec![0.0f32; h * g4];
    if t > 1 {
        let prev = &states[..(t - 1) * b * h];
        let later = &da[b * g4..];
        matmul_accumulate(
            &mut dw,
            g4,
            prev,
            (1, h),
            later,
            (g4, 1),
            h,
            (t - 1) * b,
            g4,
        );
    }
    (da, dw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ops::test_values as values;

    /// The loss `sum(out * r)` in f64 with exact `exp`, straight from the equations.
    fn reference_loss(xw: &[f32], wh: &[f32], mask: &[f32], r: &[f32], s: LstmShape) -> f64 {
        let (b, t, h) = (s.batch, s.frames, s.hidden);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let mut loss = 0.0;
        for dir in 0..2 {
            for line in 0..b {
                let (mut hp, mut cp) = (vec![0.0f64; h], vec![0.0f64; h]);
                for step in 0..t {
                    let frame = frame_of(dir, step, t);
                    let m = mask[line * t + frame] as f64;
                    let mut a = vec![0.0f64; 4 * h];
                    for (k, a) in a.iter_mut().enumerate() {
                        *a = xw[(line * t + frame) * 8 * h + dir * 4 * h + k] as f64;
                        for (u, hv) in hp.iter().enumerate() {
                            *a += hv * wh[dir * h * 4 * h + u * 4 * h + k] as f64;
                        }
                    }
                    for j in 0..h {
                        let (i, f) = (sig(a[j]), sig(a[h + j]));
                        let (g, o) = (a[2 * h + j].tanh(), sig(a[3 * h + j]));
                        cp[j] = (f * cp[j] + i * g) * m;
                        hp[j] = o * cp[j].tanh() * m;
                        loss += hp[j] * r[(line * t + frame) * 2 * h + dir * h + j] as f64;
                    }
                }
            }
        }
        loss
    }

    #[test]
    fn the_forward_and_gradients_match_the_equations() {
        let s = LstmShape {
            batch: 2,
            frames: 5,
            hidden: 3,
        };
        let (b, t, h) = (s.batch, s.frames, s.hidden);
        let xw = values(b * t * 8 * h, 1, 1.0);
        let wh = values(2 * h * 4 * h, 2, 0.5);
        let mask = vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0];
        let r = values(b * t * 2 * h, 3, 1.0);
        let (out, tape) = forward(&xw, &wh, &mask, s);
        let ours: f64 = out.iter().zip(&r).map(|(o, r)| *o as f64 * *r as f64).sum();
        let want = reference_loss(&xw, &wh, &mask, &r, s);
        assert!((ours - want).abs() < 1e-5, "{ours} vs {want}");
        let (dxw, dwh) = backward(&r, &wh, &mask, &tape, s);
        let eps = 1e-3;
        for i in 0..xw.len() {
            let (mut p, mut q) = (xw.clone(), xw.clone());
            p[i] += eps;
            q[i] -= eps;
            let fd = (reference_loss(&p, &wh, &mask, &r, s)
                - reference_loss(&q, &wh, &mask, &r, s))
                / (2.0 * eps as f64);
            assert!(
                (fd - dxw[i] as f64).abs() < 1e-3,
                "dxw[{i}]: {fd} vs {}",
                dxw[i]
            );
        }
        for i in 0..wh.len() {
            let (mut p, mut q) = (wh.clone(), wh.clone());
            p[i] += eps;
            q[i] -= eps;
            let fd = (reference_loss(&xw, &p, &mask, &r, s)
                - reference_loss(&xw, &q, &mask, &r, s))
                / (2.0 * eps as f64);
            assert!(
                (fd - dwh[i] as f64).abs() < 1e-3,
                "dwh[{i}]: {fd} vs {}",
                dwh[i]
            );
        }
    }
}
