//! The BLSTM recurrence as a Burn operation of our own: forward and backward in time by
//! [`super::lstm_kernels`], one autodiff node per layer instead of a dozen Burn operations per
//! frame.

use super::lstm_kernels::{self, LstmShape, Tape};
use super::{Ad, flex, plain, slice, tracked};
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};
use std::sync::Arc;

/// The recurrence of both directions on projected inputs, through our kernels when the
/// tensors live on the Flex CPU backend (with or without autodiff) and the fast operations
/// are on; `None` otherwise (the caller runs Burn's operations).
///
/// # Shapes
/// - `xw: [batch, frames, 8 * hidden]` (forward i,f,g,o then backward), `w_hidden: [2, hidden,
///   4 * hidden]`, `mask: [batch, frames]` (1 = real frame, 0 = padding)
/// - returns `[batch, frames, 2 * hidden]` (forward states, then backward states)
pub fn recurrence(xw: &Tensor<3>, w_hidden: &Tensor<3>, mask: &Tensor<2>) -> Option<Tensor<3>> {
    if !super::enabled() || xw.dtype() != burn::tensor::DType::F32 {
        return None;
    }
    let [batch, frames, g8] = xw.dims();
    let s = LstmShape {
        batch,
        frames,
        hidden: g8 / 8,
    };
    let out = [batch, frames, 2 * s.hidden];
    let mask: Vec<f32> = mask
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .ok()?;
    if let (Some((xp, x_node)), Some((wp, w_node))) = (tracked(xw), tracked(w_hidden)) {
        let (y, tape) = lstm_kernels::forward(slice(&xp), slice(&wp), &mask, s);
        let y = flex(y, out);
        let y = match LstmBackward
            .prepare::<NoCheckpointing>([x_node, w_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((wp, Arc::new((mask, tape)), s), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        return Some(Tensor::from_primitive::<Ad>(y));
    }
    let (xp, wp) = (plain(xw)?, plain(w_hidden)?);
    let (y, _) = lstm_kernels::forward(slice(&xp), slice(&wp), &mask, s);
    Some(Tensor::from_primitive::<Flex>(flex(y, out)))
}

/// The backward of [`recurrence`].
#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 2> for LstmBackward {
    /// The recurrent weights, the mask and the forward's tape, and the geometry.
    type State = (FlexTensor, Arc<(Vec<f32>, Tape)>, LstmShape);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, w_node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (w, saved, s) = ops.state;
        let (mask, tape) = &*saved;
        let (dxw, dw) = lstm_kernels::backward(slice(&dy), slice(&w), mask, tape, s);
        let h = s.hidden;
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, flex(dxw, [s.batch, s.frames, 8 * h]));
        }
        if let Some(node) = w_node {
            grads.register::<Flex>(node.id, flex(dw, [2, h, 4 * h]));
        }
    }
}
