//! The CTC loss as a Burn operation of our own: one autodiff node whose forward computes each
//! line's loss and its gradient by [`super::ctc_kernels`], where Burn's CTC on the Flex CPU
//! backend builds a dozen tensor operations per frame and differentiates through them.

use super::ctc_kernels::{self, CtcShape};
use super::{Ad, flex, plain, slice, tracked};
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};

/// A 1-D integer tensor's values as `usize` (negative values as 0).
fn lengths(t: &Tensor<1, Int>) -> Option<Vec<usize>> {
    let v: Vec<i64> = t.to_data().convert::<i64>().try_into_vec().ok()?;
    Some(v.into_iter().map(|x| x.max(0) as usize).collect())
}

/// Each line's CTC negative log-likelihood (blank 0; 0 for a line no alignment fits), through
/// our kernels when the tensors live on the Flex CPU backend (with or without autodiff) and
/// the fast operations are on; `None` otherwise (the caller runs Burn's CTC).
///
/// # Shapes
/// - `log_probs: [batch, frames, classes]`, `targets: [batch, max_len]` (labels 1.., padded)
/// - `input_lengths`, `target_lengths: [batch]`
/// - returns `[batch]`
pub fn per_line(
    log_probs: &Tensor<3>,
    targets: &Tensor<2, Int>,
    input_lengths: &Tensor<1, Int>,
    target_lengths: &Tensor<1, Int>,
) -> Option<Tensor<1>> {
    if !super::enabled() || log_probs.dtype() != burn::tensor::DType::F32 {
        return None;
    }
    let [batch, frames, classes] = log_probs.dims();
    let s = CtcShape {
        batch,
        frames,
        classes,
    };
    let labels: Vec<i64> = targets.to_data().convert::<i64>().try_into_vec().ok()?;
    let labels: Vec<u32> = labels.into_iter().map(|x| x.max(0) as u32).collect();
    let (inputs, lens) = (lengths(input_lengths)?, lengths(target_lengths)?);
    if let Some((lp, node)) = tracked(log_probs) {
        let run = |with_grad| {
            ctc_kernels::forward_backward(slice(&lp), s, &labels, &inputs, &lens, 0, with_grad)
        };
        let out = match CtcBackward
            .prepare::<NoCheckpointing>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (nll, grad) = run(true);
                prep.finish((grad, s), flex(nll, [batch]))
            }
            OpsKind::UnTracked(prep) => prep.finish(flex(run(false).0, [batch])),
        };
        return Some(Tensor::from_primitive::<Ad>(out));
    }
    let lp = plain(log_probs)?;
    let (nll, _) = ctc_kernels::forward_backward(slice(&lp), s, &labels, &inputs, &lens, 0, false);
    Some(Tensor::from_primitive::<Flex>(flex(nll, [batch])))
}

/// The backward of [`per_line`]: each line's gradient, computed in the forward, times the
/// gradient of its loss.
#[derive(Debug)]
struct CtcBackward;

impl Backward<Flex, 1> for CtcBackward {
    /// `d nll / d log_probs` `[batch, frames, classes]`, and the geometry.
    type State = (Vec<f32>, CtcShape);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let upstream: FlexTensor = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (mut grad, s) = ops.state;
        let Some(node) = node else {
            return;
        };
        let line = s.frames * s.classes;
        for (g, &u) in grad.chunks_mut(line.max(1)).zip(slice(&upstream)) {
            g.iter_mut().for_each(|v| *v *= u);
        }
        grads.register::<Flex>(node.id, flex(grad, [s.batch, s.frames, s.classes]));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::nn::loss::CTCLossConfig;
    use burn::tensor::activation::log_softmax;
    use burn::tensor::{Distribution, TensorData};

    /// Burn's CTC (time-major), the reference.
    fn burns(
        lp: Tensor<3>,
        targets: Tensor<2, Int>,
        inputs: Tensor<1, Int>,
        lens: Tensor<1, Int>,
    ) -> Tensor<1> {
        CTCLossConfig::new()
            .with_blank(0)
            .with_zero_infinity(true)
            .init()
            .forward(lp.swap_dims(0, 1), targets, inputs, lens)
    }

    /// Losses and the gradients of a weighted sum of them with respect to the logits, ours
    /// and Burn's, on a batch of four lines with padding, repeats, an empty target and a line
    /// too short for its target.
    #[test]
    fn the_operation_matches_burns_ctc_and_its_gradients() {
        let device = Device::flex().autodiff();
        let (b, t, c) = (4, 9, 6);
        let logits: Vec<f32> =
            Tensor::<3>::random([b, t, c], Distribution::Normal(0.0, 1.5), &Device::flex())
                .to_data()
                .try_into_vec()
                .unwrap();
        let targets = [[1i64, 2, 2, 5], [3, 0, 0, 0], [0, 0, 0, 0], [4, 4, 4, 4]];
        let run = |ours: bool| -> (Vec<f32>, Vec<f32>) {
            let x = Tensor::<3>::from_data(TensorData::new(logits.clone(), [b, t, c]), &device)
                .require_grad();
            let lp = log_softmax(x.clone(), 2);
            let targets = Tensor::<2, Int>::from_data(targets, &device);
            let inputs = Tensor::<1, Int>::from_data([9i64, 7, 5, 6], &device);
            let lens = Tensor::<1, Int>::from_data([4i64, 1, 0, 4], &device);
            let loss = if ours {
                per_line(&lp, &targets, &inputs, &lens).unwrap()
            } else {
                burns(lp, targets, inputs, lens)
            };
            let weights = Tensor::<1>::from_data([1.0f32, 0.5, 2.0, 1.0], &device);
            let values = loss.to_data().try_into_vec::<f32>().unwrap();
            let grads = (loss * weights).sum().backward();
            let dx = x.grad(&grads).unwrap().to_data().try_into_vec().unwrap();
            (values, dx)
        };
        let (ours, burn) = (run(true), run(false));
        assert_eq!(ours.0[3], 0.0, "[4, 4, 4, 4] needs 7 frames of 6");
        for (a, e) in ours.0.iter().zip(&burn.0) {
            assert!(
                (a - e).abs() < 1e-4 * e.abs().max(1.0),
                "{:?} {:?}",
                ours.0,
                burn.0
            );
        }
        for (i, (a, e)) in ours.1.iter().zip(&burn.1).enumerate() {
            assert!((a - e).abs() < 1e-4, "d/dx[{i}]: ours {a}, Burn's {e}");
        }
    }
}
