//! The linear layer (`x W + b` over the last axis) as a Burn operation of our own: the LSTMs'
//! input projections and the IP layer, forward and the three gradients by
//! [`super::linear_kernels`] in one autodiff node.

use super::linear_kernels::{self, LinearShape};
use super::{Ad, flex, plain, slice, tracked};
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};

/// `x W + b` through our kernels when the tensors live on the Flex CPU backend in f32 (with
/// or without autodiff) and the fast operations are on; `None` otherwise (the caller runs
/// Burn's operations).
///
/// # Shapes
/// - `x: [..., d_in]`, `weight: [d_in, d_out]`, `bias: [d_out]`
/// - returns `[..., d_out]`
pub fn linear<const D: usize>(
    x: &Tensor<D>,
    weight: &Tensor<2>,
    bias: &Tensor<1>,
) -> Option<Tensor<D>> {
    let f32s = [x.dtype(), weight.dtype(), bias.dtype()]
        .iter()
        .all(|d| *d == burn::tensor::DType::F32);
    if !super::enabled() || !f32s {
        return None;
    }
    let dims = x.dims();
    let [d_in, d_out] = weight.dims();
    if dims[D - 1] != d_in || bias.dims() != [d_out] {
        return None;
    }
    let s = LinearShape {
        rows: dims[..D - 1].iter().product(),
        d_in,
        d_out,
    };
    let mut out = dims;
    out[D - 1] = d_out;
    if let (Some((xp, x_node)), Some((wp, w_node)), Some((bp, b_node))) =
        (tracked(x), tracked(weight), tracked(bias))
    {
        #[cfg(test)]
        tests::AUTODIFF_CALLS.with(|c| c.set(c.get() + 1));
        let y = flex(
            linear_kernels::forward(slice(&xp), slice(&wp), slice(&bp), s),
            out,
        );
        let y = match LinearBackward
            .prepare::<NoCheckpointing>([x_node, w_node, b_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((xp, wp, s, dims.to_vec()), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        return Some(Tensor::from_primitive::<Ad>(y));
    }
    let (xp, wp, bp) = (plain(x)?, plain(weight)?, plain(bias)?);
    let y = linear_kernels::forward(slice(&xp), slice(&wp), slice(&bp), s);
    Some(Tensor::from_primitive::<Flex>(flex(y, out)))
}

/// The backward of [`linear`]: each gradient only where its parent needs one (a frozen
/// layer's weights do not).
#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    /// The input and the weights as the forward saw them (contiguous), the geometry and the
    /// input's shape.
    type State = (FlexTensor, FlexTensor, LinearShape, Vec<usize>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, w_node, b_node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, w, s, x_dims) = ops.state;
        let dy = slice(&dy);
        if let Some(node) = x_node {
            let dx = linear_kernels::data_gradient(dy, slice(&w), s);
            let dx = FlexTensor::from_data(burn::tensor::TensorData::new(dx, x_dims));
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = w_node {
            let dw = linear_kernels::weight_gradient(slice(&x), dy, s);
            grads.register::<Flex>(node.id, flex(dw, [s.d_in, s.d_out]));
        }
        if let Some(node) = b_node {
            grads.register::<Flex>(
                node.id,
                flex(linear_kernels::bias_gradient(dy, s), [s.d_out]),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;

    // Calls that took the autodiff branch (the test checks it is not falling back to Burn).
    thread_local! {
        /// This thread's calls that took the autodiff branch (per thread: tests run side by
        /// side, and the other test here takes that branch too).
        pub(super) static AUTODIFF_CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Our node and Burn's `Linear` give the same output and the same gradients for the
    /// input, the weights and the bias, through a downstream op (a square), on 2-D and 3-D
    /// inputs.
    #[test]
    fn the_operation_matches_burns_linear_and_its_gradients() {
        let device = Device::flex().autodiff();
        for (b, t, d_in, d_out) in [(3, 37, 24, 40), (2, 70, 65, 9), (1, 1, 3, 2)] {
            let layer = LinearConfig::new(d_in, d_out).init(&device);
            let x = Tensor::<3>::random([b, t, d_in], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let (w, bias) = (layer.weight.val(), layer.bias.as_ref().unwrap().val());
            let before = AUTODIFF_CALLS.with(|c| c.get());
            let ours = linear(&x, &w, &bias).unwrap();
            assert_eq!(AUTODIFF_CALLS.with(|c| c.get()), before + 1);
            let theirs = layer.forward(x.clone());
            let diff = |a: Tensor<3>, b: Tensor<3>| (a - b).abs().max().into_scalar::<f32>();
            assert!(diff(ours.clone(), theirs.clone()) < 1e-4);
            let g_ours = ours.powi_scalar(2).sum().backward();
            let g_theirs = theirs.powi_scalar(2).sum().backward();
            let dx = |g| x.grad(g).map(Tensor::<3>::from_inner).unwrap();
            assert!(
                diff(dx(&g_ours), dx(&g_theirs)) < 1e-3,
                "dx {d_in}->{d_out}"
            );
            let dw = |g| w.grad(g).map(Tensor::<2>::from_inner).unwrap();
            let dw_diff = (dw(&g_ours) - dw(&g_theirs))
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(dw_diff < 1e-2, "dw {d_in}->{d_out}: {dw_diff}");
            let db = |g| bias.grad(g).map(Tensor::<1>::from_inner).unwrap();
            let db_diff = (db(&g_ours) - db(&g_theirs))
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(db_diff < 1e-2, "db {d_in}->{d_out}: {db_diff}");
        }
    }

    /// Without autodiff (validation) the forward alone; frozen parameters get no gradient.
    #[test]
    fn plain_tensors_and_frozen_weights() {
        let plain = Device::flex();
        let layer = LinearConfig::new(5, 3).init(&plain);
        let x = Tensor::<2>::random([4, 5], Distribution::Normal(0.0, 1.0), &plain);
        let (w, b) = (layer.weight.val(), layer.bias.as_ref().unwrap().val());
        let ours = linear(&x, &w, &b).unwrap();
        let diff = (ours - layer.forward(x)).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5);

        let device = plain.autodiff();
        let layer = LinearConfig::new(5, 3).init(&device).no_grad();
        let x = Tensor::<2>::random([4, 5], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let (w, b) = (layer.weight.val(), layer.bias.as_ref().unwrap().val());
        let g = linear(&x, &w, &b).unwrap().sum().backward();
        let g_burn = (x.clone().matmul(w.clone()) + b.clone().unsqueeze_dim(0))
            .sum()
            .backward();
        assert!(x.grad(&g).is_some());
        assert!(w.grad(&g).is_none() && w.grad(&g_burn).is_none());
        assert!(b.grad(&g).is_none() && b.grad(&g_burn).is_none());
    }
}
