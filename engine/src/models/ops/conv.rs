//! The convolution as a Burn operation of our own: forward and both gradients by
//! [`super::conv_kernels`], registered with Burn's autodiff graph as one node with its own
//! backward, next to Burn's operations for whatever the model does around it.

use super::conv_kernels::{self, ConvShape};
use super::{Ad, flex, plain, slice, tracked};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};

/// `conv.forward(x)` through our kernels where they apply (a "same" convolution with stride
/// 1, dilation 1, one group, kernel 1 or 3, f32 on the Flex CPU backend, with or without
/// autodiff; a bias, as the backbones' 1x1 projection has, is added per output channel) and the fast training operations are on ([`super::enabled`]); Burn's
/// convolution otherwise.
///
/// # Shapes
/// `[batch, c_in, h, w]` -> `[batch, c_out, h, w]`
pub fn conv2d(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    match shape_of(&x, conv) {
        Some(shape) if super::enabled() => run(x, conv, shape),
        _ => conv.forward(x),
    }
}

/// The call's geometry when our kernels compute exactly what `conv` does.
fn shape_of(x: &Tensor<4>, conv: &Conv2d) -> Option<ConvShape> {
    let [c_out, c_in, kh, kw] = conv.weight.dims();
    let [batch, xc, h, w] = x.dims();
    let kernel = kh;
    let pad = kernel / 2;
    let same = matches!(conv.padding, PaddingConfig2d::Explicit(a, b, c, d)
        if a == pad && b == pad && c == pad && d == pad)
        || (kernel == 1 && matches!(conv.padding, PaddingConfig2d::Valid));
    let plain = conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1;
    let f32s = x.dtype() == burn::tensor::DType::F32;
    (kh == kw && (kernel == 1 || kernel == 3) && xc == c_in && same && plain && f32s).then_some(
        ConvShape {
            batch,
            c_in,
            c_out,
            h,
            w,
            kernel,
        },
    )
}

fn run(x: Tensor<4>, conv: &Conv2d, s: ConvShape) -> Tensor<4> {
    let weight = conv.weight.val();
    let bias = conv.bias.as_ref().map(|b| b.val());
    let out = [s.batch, s.c_out, s.h, s.w];
    let forward = |x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>| {
        let mut y = conv_kernels::forward(slice(x), slice(w), s);
        if let Some(b) = b {
            conv_kernels::add_bias(&mut y, slice(b), s);
        }
        flex(y, out)
    };
    // With autodiff: one graph node with our backward.
    if let (Some((xp, x_node)), Some((wp, w_node))) = (tracked(&x), tracked(&weight)) {
        #[cfg(test)]
        tests::AUTODIFF_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let y = match bias.as_ref().map(tracked) {
            None => {
                let y = forward(&xp, &wp, None);
                match ConvBackward
                    .prepare::<NoCheckpointing>([x_node, w_node])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => prep.finish((xp, wp, s), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                }
            }
            Some(Some((bp, b_node))) => {
                let y = forward(&xp, &wp, Some(&bp));
                match ConvBiasBackward
                    .prepare::<NoCheckpointing>([x_node, w_node, b_node])
                    .compute_bound()
                    .stateful()
                {
                    OpsKind::Tracked(prep) => prep.finish((xp, wp, s), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                }
            }
            Some(None) => return conv.forward(x),
        };
        return Tensor::from_primitive::<Ad>(y);
    }
    // Without autodiff (validation): the forward alone.
    if let (Some(xp), Some(wp)) = (plain(&x), plain(&weight)) {
        let bp = match bias.as_ref().map(plain) {
            None => None,
            Some(Some(bp)) => Some(bp),
            Some(None) => return conv.forward(x),
        };
        return Tensor::from_primitive::<Flex>(forward(&xp, &wp, bp.as_ref()));
    }
    conv.forward(x)
}

/// The input's and the weights' gradients, each where its node needs one.
fn register_gradients(
    [x_node, w_node]: [Option<burn_autodiff::NodeId>; 2],
    dy: &FlexTensor,
    (x, w, s): &(FlexTensor, FlexTensor, ConvShape),
    grads: &mut Gradients,
) {
    let s = *s;
    if let Some(id) = x_node {
        let dx = conv_kernels::data_gradient(slice(dy), slice(w), s);
        grads.register::<Flex>(id, flex(dx, [s.batch, s.c_in, s.h, s.w]));
    }
    if let Some(id) = w_node {
        let dw = conv_kernels::weight_gradient(slice(x), slice(dy), s);
        grads.register::<Flex>(id, flex(dw, [s.c_out, s.c_in, s.kernel, s.kernel]));
    }
}

/// The backward of [`conv2d`] without a bias: the data gradient when the input needs one, the
/// weight gradient when the weights do (not for frozen layers).
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    /// The input and the weights as the forward saw them (contiguous), and the geometry.
    type State = (FlexTensor, FlexTensor, ConvShape);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = FlexTensor::to_contiguous(&grads.consume::<Flex>(&ops.node));
        let ids = ops.parents.map(|n| n.map(|n| n.id));
        register_gradients(ids, &dy, &ops.state, grads);
    }
}

/// The backward of [`conv2d`] with a bias: as [`ConvBackward`], and the bias gradient (the
/// output gradient summed per channel).
#[derive(Debug)]
struct ConvBiasBackward;

impl Backward<Flex, 3> for ConvBiasBackward {
    /// The input and the weights as the forward saw them (contiguous), and the geometry.
    type State = (FlexTensor, FlexTensor, ConvShape);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, w_node, b_node] = ops.parents;
        let dy = FlexTensor::to_contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state.2;
        let ids = [x_node, w_node].map(|n| n.map(|n| n.id));
        register_gradients(ids, &dy, &ops.state, grads);
        if let Some(node) = b_node {
            let db = conv_kernels::bias_gradient(slice(&dy), s);
            grads.register::<Flex>(node.id, flex(db, [s.c_out]));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Calls that took the autodiff branch (the test checks it is not falling back to Burn).
    pub(super) static AUTODIFF_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// Our node and Burn's convolution give the same output and the same gradients for the
    /// input and the weights, through a downstream op (a square), on both kernel sizes.
    #[test]
    fn the_operation_matches_burns_convolution_and_its_gradients() {
        let device = Device::flex().autodiff();
        let cases = [
            (1, 16, 3, 6, 21, false),
            (24, 40, 3, 4, 17, false),
            (16, 8, 1, 3, 9, false),
            (16, 8, 1, 3, 9, true),
            (5, 7, 3, 4, 6, true),
        ];
        for (c_in, c_out, k, h, w, bias) in cases {
            let padding = if k == 1 && bias {
                PaddingConfig2d::Valid
            } else {
                PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2)
            };
            let mut conv: Conv2d = Conv2dConfig::new([c_in, c_out], [k, k])
                .with_padding(padding)
                .with_bias(bias)
                .init(&device);
            if let Some(b) = conv.bias.take() {
                // Burn starts biases near zero; a visible one checks it is added.
                let v: Vec<f32> = b.val().into_data().iter::<f32>().map(|v| v + 0.5).collect();
                let b = Tensor::<1>::from_floats(v.as_slice(), &device).require_grad();
                conv.bias = Some(burn::module::Param::from_tensor(b));
            }
            let x = Tensor::<4>::random([2, c_in, h, w], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let before = AUTODIFF_CALLS.load(Ordering::Relaxed);
            let ours = conv2d(x.clone(), &conv);
            assert_eq!(
                AUTODIFF_CALLS.load(Ordering::Relaxed),
                before + 1,
                "our node ran"
            );
            let theirs = conv.forward(x.clone());
            assert!(max_diff(ours.clone(), theirs.clone()) < 1e-4);
            let g_ours = ours.powi_scalar(2).sum().backward();
            let g_theirs = theirs.powi_scalar(2).sum().backward();
            let dx = |g| x.grad(g).map(Tensor::<4>::from_inner);
            let dw = |g| conv.weight.grad(g).map(Tensor::<4>::from_inner);
            let (a, b) = (dx(&g_ours), dx(&g_theirs));
            assert!(
                max_diff(a.unwrap(), b.unwrap()) < 1e-3,
                "dx {c_in}->{c_out} k{k}"
            );
            let (a, b) = (dw(&g_ours), dw(&g_theirs));
            assert!(
                max_diff(a.unwrap(), b.unwrap()) < 1e-2,
                "dw {c_in}->{c_out} k{k}"
            );
            if let Some(bias) = &conv.bias {
                let db = |g| bias.grad(g).map(Tensor::<1>::from_inner).unwrap();
                let d = (db(&g_ours) - db(&g_theirs))
                    .abs()
                    .max()
                    .into_scalar::<f32>();
                assert!(d < 1e-2, "db {c_in}->{c_out} k{k}: {d}");
            }
        }
    }
}
