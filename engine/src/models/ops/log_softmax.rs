//! Log-softmax over the classes (the last axis) as a Burn operation of our own: rows on
//! rayon's threads, one pass each way. Burn's composes it of half a dozen whole-tensor
//! operations (max, subtract, exp, sum, log, subtract) and as many in the backward, each on
//! the calling thread while the other thread waits.

use super::{Ad, flex, plain, slice, tracked};
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};

/// Rows per task.
const ROWS: usize = 64;

/// `y = x - max - ln(sum(exp(x - max)))` for each row of `classes` values.
pub fn forward(x: &[f32], classes: usize) -> Vec<f32> {
    let n = classes.max(1);
    super::par_filled(x.len(), ROWS * n, |i, y| {
        let x = &x[i * ROWS * n..];
        for (y, x) in y.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
            let shift = max + sum.ln();
            for (y, x) in y.iter_mut().zip(x) {
                *y = x - shift;
            }
        }
    })
}

/// `dx = dy - exp(y) * sum(dy)` for each row, from the forward's output `y`.
pub fn backward(dy: &[f32], y: &[f32], classes: usize) -> Vec<f32> {
    let n = classes.max(1);
    super::par_filled(dy.len(), ROWS * n, |i, dx| {
        let at = i * ROWS * n;
        let rows = dx.chunks_exact_mut(n);
        for (dx, (dy, y)) in rows.zip(dy[at..].chunks_exact(n).zip(y[at..].chunks_exact(n))) {
            let total: f32 = dy.iter().sum();
            for ((dx, dy), y) in dx.iter_mut().zip(dy).zip(y) {
                *dx = dy - y.exp() * total;
            }
        }
    })
}

/// `log_softmax(x, 2)` through our kernels when the tensor lives on the Flex CPU backend in
/// f32 (with or without autodiff) and the fast operations are on; `None` otherwise (the
/// caller runs Burn's).
///
/// # Shapes
/// `[batch, frames, classes]` -> same
pub fn log_softmax(x: &Tensor<3>) -> Option<Tensor<3>> {
    if !super::enabled() || x.dtype() != burn::tensor::DType::F32 {
        return None;
    }
    let dims = x.dims();
    let classes = dims[2];
    if let Some((xp, node)) = tracked(x) {
        let y = flex(forward(slice(&xp), classes), dims);
        let y = match LogSoftmaxBackward
            .prepare::<NoCheckpointing>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((y.clone(), dims), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        return Some(Tensor::from_primitive::<Ad>(y));
    }
    let xp = plain(x)?;
    Some(Tensor::from_primitive::<Flex>(flex(
        forward(slice(&xp), classes),
        dims,
    )))
}

/// The backward of [`log_softmax`].
#[derive(Debug)]
struct LogSoftmaxBackward;

impl Backward<Flex, 1> for LogSoftmaxBackward {
    /// The forward's output and its shape.
    type State = (FlexTensor, [usize; 3]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (y, dims) = ops.state;
        if let Some(node) = node {
            let dx = backward(slice(&dy), slice(&y), dims[2]);
            grads.register::<Flex>(node.id, flex(dx, dims));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Our node and Burn's `log_softmax` give the same values and the same input gradient
    /// through a downstream op (a weighted sum), on rows that leave a partial band.
    #[test]
    fn the_operation_matches_burns_log_softmax_and_its_gradient() {
        let device = Device::flex().autodiff();
        for (b, t, c) in [(3, 29, 17), (1, 1, 1), (2, 70, 100)] {
            let x = Tensor::<3>::random([b, t, c], Distribution::Normal(0.0, 3.0), &device)
                .require_grad();
            let r = Tensor::<3>::random([b, t, c], Distribution::Normal(0.0, 1.0), &device);
            let ours = log_softmax(&x).unwrap();
            let theirs = burn::tensor::activation::log_softmax(x.clone(), 2);
            let diff = |a: Tensor<3>, b: Tensor<3>| (a - b).abs().max().into_scalar::<f32>();
            assert!(diff(ours.clone(), theirs.clone()) < 1e-5);
            let g_ours = (ours * r.clone()).sum().backward();
            let g_theirs = (theirs * r).sum().backward();
            let dx = |g| x.grad(g).map(Tensor::<3>::from_inner).unwrap();
            let d = diff(dx(&g_ours), dx(&g_theirs));
            assert!(d < 1e-4, "{b}x{t}x{c}: {d}");
        }
    }

    /// The gradient equals central finite differences of the forward (f64 sums of f32 values).
    #[test]
    fn the_gradient_matches_finite_differences() {
        let classes = 5;
        let x = super::super::test_values(3 * classes, 11, 2.0);
        let r = super::super::test_values(3 * classes, 12, 1.0);
        let loss = |x: &[f32]| -> f64 {
            forward(x, classes)
                .iter()
                .zip(&r)
                .map(|(y, r)| (*y as f64) * (*r as f64))
                .sum()
        };
        let dx = backward(&r, &forward(&x, classes), classes);
        let eps = 1e-2f32;
        for i in 0..x.len() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += eps;
            down[i] -= eps;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * eps as f64);
            assert!(
                (numeric - dx[i] as f64).abs() < 2e-3,
                "{i}: {numeric} against {}",
                dx[i]
            );
        }
    }
}
