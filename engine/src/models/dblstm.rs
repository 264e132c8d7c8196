//! A deep bidirectional LSTM built for speed on CPU: the input projections of all frames and
//! both directions are one matmul; only the recurrent part runs step by step, with both
//! directions batched into one `[2, batch, hidden] x [2, hidden, 4*hidden]` product.
//!
//! Gate order is PyTorch's: input, forget, cell (g), output. Padded frames (mask 0) reset the
//! backward direction's state, so each line's backward pass starts at its own last frame.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{sigmoid, tanh};

/// One bidirectional LSTM layer.
#[derive(Module, Debug)]
pub struct BlstmLayer {
    /// Input weights of both directions `[d_in, 8 * hidden]`: forward i,f,g,o then backward.
    pub w_input: Param<Tensor<2>>,
    /// Bias `[8 * hidden]`, same layout.
    pub bias: Param<Tensor<1>>,
    /// Recurrent weights `[2, hidden, 4 * hidden]` (direction, from, to).
    pub w_hidden: Param<Tensor<3>>,
    /// Hidden units per direction.
    pub hidden: usize,
}

impl BlstmLayer {
    /// Uniform(-1/sqrt(h), 1/sqrt(h)) init as in PyTorch, forget-gate bias 1.
    pub fn new(d_in: usize, hidden: usize, device: &Device) -> Self {
        let k = 1.0 / (hidden as f64).sqrt();
        let u = Distribution::Uniform(-k, k);
        let mut bias = vec![0.0f32; 8 * hidden];
        for dir in 0..2 {
            for j in 0..hidden {
                bias[dir * 4 * hidden + hidden + j] = 1.0;
            }
        }
        Self {
            w_input: Param::from_tensor(Tensor::random([d_in, 8 * hidden], u, device)),
            bias: Param::from_tensor(Tensor::from_floats(bias.as_slice(), device)),
            w_hidden: Param::from_tensor(Tensor::random([2, hidden, 4 * hidden], u, device)),
            hidden,
        }
    }

    /// Input projection of all frames: the part of the gates that does not depend on time (on
    /// our linear operation where it applies, [`super::ops::linear`], Burn's matmul otherwise).
    ///
    /// # Shapes
    /// `x: [batch, frames, d_in]` -> `[batch, frames, 8 * hidden]`
    pub fn project_inputs(&self, x: Tensor<3>) -> Tensor<3> {
        let (w, bias) = (self.w_input.val(), self.bias.val());
        if let Some(xw) = super::ops::linear::linear(&x, &w, &bias) {
            return xw;
        }
        let [b, t, d] = x.dims();
        let xw = x.reshape([b * t, d]).matmul(w);
        (xw + bias.unsqueeze_dim(0)).reshape([b, t, 8 * self.hidden])
    }

    /// # Shapes
    /// - `x: [batch, frames, d_in]`, `mask: [batch, frames]` (1 = real frame, 0 = padding)
    /// - returns `[batch, frames, 2 * hidden]` (forward half, then backward half)
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        let xw = self.project_inputs(x);
        let w_hidden = self.w_hidden.val();
        super::ops::lstm::recurrence(&xw, &w_hidden, &mask)
            .unwrap_or_else(|| self.recurrence_burn(xw, w_hidden, mask))
    }

    /// The recurrence on Burn's operations (the reference, and the path off the Flex backend).
    ///
    /// # Shapes
    /// `xw: [batch, frames, 8 * hidden]` (projected inputs) -> `[batch, frames, 2 * hidden]`
    pub(crate) fn recurrence_burn(
        &self,
        xw: Tensor<3>,
        w_hidden: Tensor<3>,
        mask: Tensor<2>,
    ) -> Tensor<3> {
        let [b, t, _] = xw.dims();
        let h = self.hidden;
        let device = xw.device();
        let xw = xw.reshape([b, t, 2, 4 * h]).permute([2, 0, 1, 3]);
        // [2, batch, frames, 4h], the backward direction reversed in time.
        let fwd = xw.clone().narrow(0, 0, 1);
        let bwd = xw.narrow(0, 1, 1).flip([2]);
        let xs = Tensor::cat(vec![fwd, bwd], 0);
        // [2, batch, frames, 1]
        let masks = Tensor::stack::<3>(vec![mask.clone(), mask.flip([1])], 0).unsqueeze_dim::<4>(3);
        let mut state_h = Tensor::<3>::zeros([2, b, h], &device);
        let mut state_c = Tensor::<3>::zeros([2, b, h], &device);
        let mut outputs = Vec::with_capacity(t);
        // Each frame's slice is taken from a block of frames, not from `xs`: the backward pass
        // of a narrow writes its gradient into zeros shaped like the narrowed tensor, so t
        // slices straight from `xs` would cost t full-size tensors (quadratic in the line
        // length; it was a third of a training step's time). With blocks of about sqrt(t)
        // frames the slices cost about 2 t^1.5 frames of gradient instead.
        let block = t.isqrt().max(1);
        let steps = xs.split(block, 2).into_iter().flat_map(|chunk| {
            let len = chunk.dims()[2];
            (0..len).map(move |j| chunk.clone().narrow(2, j, 1))
        });
        for (step, x_step) in steps.enumerate() {
            // [2, batch, 4h]
            let gates = x_step.reshape([2, b, 4 * h]) + state_h.matmul(w_hidden.clone());
            let s = sigmoid(gates.clone());
            let i = s.clone().narrow(2, 0, h);
            let f = s.clone().narrow(2, h, h);
            let o = s.narrow(2, 3 * h, h);
            let g = tanh(gates.narrow(2, 2 * h, h));
            let m = masks.clone().narrow(2, step, 1).reshape([2, b, 1]);
            state_c = (f * state_c + i * g) * m.clone();
            state_h = o * tanh(state_c.clone()) * m;
            outputs.push(state_h.clone());
        }
        // [2, batch, frames, h]
        let out = Tensor::stack::<4>(outputs, 2);
        let fwd = out.clone().narrow(0, 0, 1).reshape([b, t, h]);
        let bwd = out.narrow(0, 1, 1).reshape([b, t, h]).flip([1]);
        Tensor::cat(vec![fwd, bwd], 2)
    }
}

/// Stacked BLSTM layers.
#[derive(Module, Debug)]
pub struct Dblstm {
    /// The layers, first to last.
    pub layers: Vec<BlstmLayer>,
}

impl Dblstm {
    /// `layers` BLSTM layers of `hidden` units per direction on `d_in` inputs.
    pub fn new(d_in: usize, hidden: usize, layers: usize, device: &Device) -> Self {
        let layers = (0..layers)
            .map(|i| BlstmLayer::new(if i == 0 { d_in } else { 2 * hidden }, hidden, device))
            .collect();
        Self { layers }
    }

    /// # Shapes
    /// `x: [batch, frames, d_in]`, `mask: [batch, frames]` -> `[batch, frames, 2 * hidden]`
    pub fn forward(&self, mut x: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        for layer in &self.layers {
            x = layer.forward(x, mask.clone());
        }
        x
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use burn::nn::BiLstmConfig;

    /// Our layer equals burn-nn's `BiLstm` with the same weights on unpadded input.
    #[test]
    fn matches_burn_bilstm() {
        let device = Device::flex();
        let (d_in, h, b, t) = (5, 4, 2, 7);
        let ours = BlstmLayer::new(d_in, h, &device);
        let mut theirs = BiLstmConfig::new(d_in, h, true)
            .with_batch_first(true)
            .init(&device);
        let w_in = ours.w_input.val();
        let bias = ours.bias.val();
        let w_h = ours.w_hidden.val();
        for (dir, lstm) in [&mut theirs.forward, &mut theirs.reverse]
            .into_iter()
            .enumerate()
        {
            let forget = lstm.forget_gate.as_mut().unwrap();
            let gates = [
                &mut lstm.input_gate,
                forget,
                &mut lstm.cell_gate,
                &mut lstm.output_gate,
            ];
            for (k, gate) in gates.into_iter().enumerate() {
                let off = dir * 4 * h + k * h;
                gate.input_transform.weight = Param::from_tensor(w_in.clone().narrow(1, off, h));
                gate.input_transform.bias =
                    Some(Param::from_tensor(bias.clone().narrow(0, off, h)));
                let wh = w_h
                    .clone()
                    .narrow(0, dir, 1)
                    .reshape([h, 4 * h])
                    .narrow(1, k * h, h);
                gate.hidden_transform.weight = Param::from_tensor(wh);
                gate.hidden_transform.bias = Some(Param::from_tensor(Tensor::zeros([h], &device)));
            }
        }
        let x = Tensor::<3>::random([b, t, d_in], Distribution::Normal(0.0, 1.0), &device);
        let mask = Tensor::<2>::ones([b, t], &device);
        let a = ours.forward(x.clone(), mask);
        let (e, _) = theirs.forward(x, None);
        let diff = (a - e).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "max diff {diff}");
    }

    /// Our recurrence operation and Burn's operations give the same outputs and gradients
    /// (for the projected inputs and the recurrent weights) on a padded batch.
    #[test]
    fn our_recurrence_matches_burns_operations_and_their_gradients() {
        let device = Device::flex().autodiff();
        let (d_in, h, b, t) = (6, 8, 3, 9);
        let layer = BlstmLayer::new(d_in, h, &device);
        let x = Tensor::<3>::random([b, t, d_in], Distribution::Normal(0.0, 1.0), &device);
        let xw = layer.project_inputs(x).detach().require_grad();
        let mut mask = vec![1.0f32; b * t];
        mask[t - 2..t].fill(0.0);
        mask[2 * t - 5..2 * t].fill(0.0);
        let mask = Tensor::<2>::from_data(burn::tensor::TensorData::new(mask, [b, t]), &device);
        let r = Tensor::<3>::random([b, t, 2 * h], Distribution::Normal(0.0, 1.0), &device);
        let w = layer.w_hidden.val();
        let ours = super::super::ops::lstm::recurrence(&xw, &w, &mask).unwrap();
        let theirs = layer.recurrence_burn(xw.clone(), w.clone(), mask);
        let diff = |a: Tensor<3>, b: Tensor<3>| (a - b).abs().max().into_scalar::<f32>();
        assert!(diff(ours.clone(), theirs.clone()) < 1e-5);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        let gx = |g| xw.grad(g).map(Tensor::<3>::from_inner).unwrap();
        let gw = |g| w.grad(g).map(Tensor::<3>::from_inner).unwrap();
        assert!(diff(gx(&g_ours), gx(&g_theirs)) < 1e-5);
        assert!(diff(gw(&g_ours), gw(&g_theirs)) < 1e-4);
    }

    /// A padded line gives the same outputs on its real frames as the line alone.
    #[test]
    fn padding_does_not_leak_into_real_frames() {
        let device = Device::flex();
        let layer = BlstmLayer::new(3, 4, &device);
        let x = Tensor::<3>::random([1, 6, 3], Distribution::Normal(0.0, 1.0), &device);
        let alone = layer.forward(x.clone().narrow(1, 0, 4), Tensor::ones([1, 4], &device));
        let mask = Tensor::<2>::from_floats([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]], &device);
        let padded = layer.forward(x, mask).narrow(1, 0, 4);
        let diff = (alone - padded).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-6, "max diff {diff}");
    }

    /// Gradients through the recurrence (narrow, flip, stack, masks) match finite differences.
    #[test]
    fn gradients_match_finite_differences() {
        let plain = Device::flex();
        let device = plain.clone().autodiff();
        let (d_in, h, b, t) = (3, 2, 2, 4);
        let layer = BlstmLayer::new(d_in, h, &plain);
        let x: Vec<f32> = Tensor::<3>::random([b, t, d_in], Distribution::Normal(0.0, 1.0), &plain)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let r = Tensor::<3>::random([b, t, 2 * h], Distribution::Normal(0.0, 1.0), &plain);
        let mask = Tensor::<2>::from_floats([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]], &plain);
        let w_in: Vec<f32> = layer
            .w_input
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let w_h: Vec<f32> = layer
            .w_hidden
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let bias = layer.bias.val();
        // Loss as a function of (x, w_input, w_hidden) on a given device.
        let loss = |x: &[f32], wi: &[f32], wh: &[f32], dev: &Device, grad: bool| {
            let mk = |v: &[f32], shape: Vec<usize>| {
                Tensor::<3>::from_data(burn::tensor::TensorData::new(v.to_vec(), shape), dev)
            };
            let xt = mk(x, vec![b, t, d_in]);
            let wit = Tensor::<2>::from_data(
                burn::tensor::TensorData::new(wi.to_vec(), [d_in, 8 * h]),
                dev,
            );
            let wht = mk(wh, vec![2, h, 4 * h]);
            let (xt, wit, wht) = if grad {
                (xt.require_grad(), wit.require_grad(), wht.require_grad())
            } else {
                (xt, wit, wht)
            };
            let l = BlstmLayer {
                w_input: Param::from_tensor(wit.clone()),
                bias: Param::from_tensor(bias.clone().to_device(dev)),
                w_hidden: Param::from_tensor(wht.clone()),
                hidden: h,
            };
            let out = (l.forward(xt.clone(), mask.clone().to_device(dev))
                * r.clone().to_device(dev))
            .sum();
            (out, xt, wit, wht)
        };
        let (out, xt, wit, wht) = loss(&x, &w_in, &w_h, &device, true);
        let grads = out.backward();
        let gx: Vec<f32> = xt
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let gwi: Vec<f32> = wit
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let gwh: Vec<f32> = wht
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let eval = |x: &[f32], wi: &[f32], wh: &[f32]| {
            loss(x, wi, wh, &plain, false).0.into_scalar::<f32>() as f64
        };
        let eps = 1e-2f32;
        let check = |name: &str, analytic: &[f32], perturb: &dyn Fn(usize, f32) -> f64| {
            for (i, &a) in analytic.iter().enumerate() {
                let numeric = (perturb(i, eps) - perturb(i, -eps)) / (2.0 * eps as f64);
                assert!(
                    (numeric - a as f64).abs() < 2e-3 + 1e-2 * numeric.abs(),
                    "{name}[{i}]: numeric {numeric} analytic {a}"
                );
            }
        };
        check("x", &gx, &|i, e| {
            let mut v = x.clone();
            v[i] += e;
            eval(&v, &w_in, &w_h)
        });
        check("w_input", &gwi, &|i, e| {
            let mut v = w_in.clone();
            v[i] += e;
            eval(&x, &v, &w_h)
        });
        check("w_hidden", &gwh, &|i, e| {
            let mut v = w_h.clone();
            v[i] += e;
            eval(&x, &w_in, &v)
        });
    }
}
