//! BatchNorm + ReLU in training as a Burn operation of our own ([`super::batch_norm_kernels`]):
//! one autodiff node for both, and the running statistics updated exactly as Burn's
//! `BatchNorm` updates them.

use super::batch_norm_kernels::{self, NormShape, Statistics};
use super::{Ad, flex, slice, tracked};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};
use std::sync::Arc;

/// `relu(norm.forward(x))`, through our kernels when `norm` normalizes with the batch's
/// statistics (an autodiff device and a layer that is not frozen) on the Flex backend in f32
/// and the fast operations are on; Burn's layers otherwise (inference uses the running
/// statistics, a cheap elementwise pass).
///
/// # Shapes
/// `[batch, channels, h, w]` -> same
pub fn batch_norm_relu(x: Tensor<4>, norm: &BatchNorm) -> Tensor<4> {
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    if !(training && super::enabled() && x.dtype() == burn::tensor::DType::F32) {
        return relu(norm.forward(x));
    }
    let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
    let (Some((xp, x_node)), Some((gp, g_node)), Some((bp, b_node))) =
        (tracked(&x), tracked(&gamma), tracked(&beta))
    else {
        return relu(norm.forward(x));
    };
    #[cfg(test)]
    tests::OUR_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let device = x.device();
    let [batch, channels, h, w] = x.dims();
    let s = NormShape {
        batch,
        channels,
        pixels: h * w,
    };
    let eps = norm.epsilon;
    let (y, stats) = batch_norm_kernels::forward(slice(&xp), slice(&gp), slice(&bp), eps, s);
    update_running(norm, &stats, &device);
    let y = flex(y, [batch, channels, h, w]);
    let y = match NormBackward
        .prepare::<NoCheckpointing>([x_node, g_node, b_node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = Arc::new(Saved {
                x: xp,
                y: y.clone(),
                gamma: gp,
                stats,
                eps,
                shape: s,
                dims: [batch, channels, h, w],
            });
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive::<Ad>(y)
}

/// `running = running (1 - momentum) + batch momentum`, for the mean and the (biased)
/// variance, as `BatchNorm::forward` does in training.
fn update_running(norm: &BatchNorm, stats: &Statistics, device: &Device) {
    let m = norm.momentum;
    let blend = |running: Tensor<1>, batch: &[f32]| -> Tensor<1> {
        let old: Vec<f32> = running
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap_or_default();
        let new: Vec<f32> = batch
            .iter()
            .zip(old.iter().chain(std::iter::repeat(&0.0)))
            .map(|(&b, &r)| (r as f64 * (1.0 - m) + b as f64 * m) as f32)
            .collect();
        let n = new.len();
        Tensor::from_data(TensorData::new(new, [n]), device)
    };
    norm.running_mean
        .update(blend(norm.running_mean.value_sync(), &stats.mean));
    norm.running_var
        .update(blend(norm.running_var.value_sync(), &stats.var));
}

/// What the backward needs.
#[derive(Debug)]
struct Saved {
    x: FlexTensor,
    y: FlexTensor,
    gamma: FlexTensor,
    stats: Statistics,
    eps: f64,
    shape: NormShape,
    /// `[batch, channels, h, w]`
    dims: [usize; 4],
}

/// The backward of [`batch_norm_relu`].
#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, g_node, b_node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let saved = &*ops.state;
        let (x, y, gamma) = (slice(&saved.x), slice(&saved.y), slice(&saved.gamma));
        let s = saved.shape;
        let (dx, dgamma, dbeta) =
            batch_norm_kernels::backward(slice(&dy), x, y, gamma, &saved.stats, saved.eps, s);
        let c = s.channels;
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, flex(dx, saved.dims));
        }
        if let Some(node) = g_node {
            grads.register::<Flex>(node.id, flex(dgamma, [c]));
        }
        if let Some(node) = b_node {
            grads.register::<Flex>(node.id, flex(dbeta, [c]));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Calls that ran our node (the test checks it is not falling back to Burn's layers).
    pub(super) static OUR_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// Our node and Burn's BatchNorm + ReLU give the same output, gradients (input, gamma,
    /// beta) and running statistics, over two steps.
    #[test]
    fn the_operation_matches_burns_layers() {
        let device = Device::flex().autodiff();
        let gamma = Tensor::<1>::random([6], Distribution::Uniform(0.5, 1.5), &device);
        let beta = Tensor::<1>::random([6], Distribution::Uniform(-0.5, 0.5), &device);
        // Two layers with the same parameters and their own running statistics.
        let layer = || {
            let mut norm: BatchNorm = BatchNormConfig::new(6).init(&device);
            norm.gamma = burn::module::Param::from_tensor(gamma.clone().detach().require_grad());
            norm.beta = burn::module::Param::from_tensor(beta.clone().detach().require_grad());
            norm
        };
        let (ours, theirs) = (layer(), layer());
        for step in 0..2 {
            let x = Tensor::<4>::random([3, 6, 4, 5], Distribution::Normal(0.5, 2.0), &device)
                .require_grad();
            let r = Tensor::<4>::random([3, 6, 4, 5], Distribution::Normal(0.0, 1.0), &device);
            let before = OUR_CALLS.load(Ordering::Relaxed);
            let a = batch_norm_relu(x.clone(), &ours);
            assert_eq!(
                OUR_CALLS.load(Ordering::Relaxed),
                before + 1,
                "our node ran"
            );
            let b = relu(theirs.forward(x.clone()));
            assert!(max_diff(a.clone(), b.clone()) < 1e-5, "step {step}: output");
            let ga = (a * r.clone()).sum().backward();
            let gb = (b * r).sum().backward();
            let grad4 = |g| x.grad(g).map(Tensor::<4>::from_inner).unwrap();
            assert!(max_diff(grad4(&ga), grad4(&gb)) < 1e-4, "step {step}: dx");
            for (p, q) in [(&ours.gamma, &theirs.gamma), (&ours.beta, &theirs.beta)] {
                let (p, q) = (p.grad(&ga).unwrap(), q.grad(&gb).unwrap());
                assert!(max_diff(Tensor::<1>::from_inner(p), Tensor::from_inner(q)) < 1e-3);
            }
            let running = |n: &BatchNorm| (n.running_mean.value(), n.running_var.value());
            let ((m1, v1), (m2, v2)) = (running(&ours), running(&theirs));
            assert!(
                max_diff(m1, m2) < 1e-5 && max_diff(v1, v2) < 1e-5,
                "step {step}: running"
            );
        }
    }
}
