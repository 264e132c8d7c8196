//! Max pooling with kernel = stride and no padding (the backbones' 2x2 and 2x1 pools) as a
//! Burn operation of our own: the forward keeps, for each output, where its maximum was (the
//! first one on ties, as Burn's pooling does), and the backward adds each output's gradient
//! there. Burn's CPU pooling computes indices with integer divisions per element; this is a
//! plain pass over rows.

use super::{Ad, flex, plain, slice, tracked};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::Flex;
use std::sync::Arc;

/// Geometry: input `[planes = batch x channels, h, w]`, window `ph x pw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShape {
    /// Images x channels.
    pub planes: usize,
    /// Input rows.
    pub h: usize,
    /// Input columns.
    pub w: usize,
    /// Window (and stride) rows.
    pub ph: usize,
    /// Window (and stride) columns.
    pub pw: usize,
}

impl PoolShape {
    fn out(&self) -> (usize, usize) {
        (self.h / self.ph, self.w / self.pw)
    }
}

/// `(out [planes, h / ph, w / pw], argmax)`: each output's maximum and its flat index in the
/// input (floor: trailing rows and columns that fill no window are dropped).
pub fn forward(x: &[f32], s: PoolShape) -> (Vec<f32>, Vec<u32>) {
    let (oh, ow) = s.out();
    let (plane_in, plane_out) = (s.h * s.w, oh * ow);
    // Where each maximum is, plane by plane, then the maxima gathered from there: both
    // buffers filled on rayon's threads (zeroing them first was a serial pass of its own).
    let arg: Vec<u32> = super::par_filled(s.planes * plane_out, plane_out, |p, arg| {
        let base = p * plane_in;
        let plane = &x[base..base + plane_in];
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut best, mut at) = (f32::NEG_INFINITY, oy * s.ph * s.w + ox * s.pw);
                for dy in 0..s.ph {
                    let row = (oy * s.ph + dy) * s.w + ox * s.pw;
                    for (dx, &v) in plane[row..row + s.pw].iter().enumerate() {
                        if v > best {
                            (best, at) = (v, row + dx);
                        }
                    }
                }
                arg[oy * ow + ox] = (base + at) as u32;
            }
        }
    });
    let out = super::par_filled(arg.len(), plane_out, |p, out| {
        let arg = &arg[p * plane_out..];
        for (o, &i) in out.iter_mut().zip(arg) {
            *o = x[i as usize];
        }
    });
    (out, arg)
}

/// `dx [planes, h, w]`: each output's gradient added at its maximum.
pub fn backward(dy: &[f32], arg: &[u32], s: PoolShape) -> Vec<f32> {
    let (oh, ow) = s.out();
    let (plane_in, plane_out) = (s.h * s.w, oh * ow);
    // Plane p's maxima lie in plane p, so the planes are filled in parallel.
    super::par_filled(s.planes * plane_in, plane_in, |p, dx| {
        let base = p * plane_in;
        let range = p * plane_out..(p + 1) * plane_out;
        for (&g, &i) in dy[range.clone()].iter().zip(&arg[range]) {
            dx[i as usize - base] += g;
        }
    })
}

/// `pool.forward(x)` through [`forward`] and [`backward`] where they apply (kernel = stride,
/// no padding, dilation 1, f32 on the Flex backend, with or without autodiff) and the fast
/// operations are on; Burn's pooling otherwise.
///
/// # Shapes
/// `[batch, channels, h, w]` -> `[batch, channels, h / ph, w / pw]`
pub fn max_pool2d(x: Tensor<4>, pool: &MaxPool2d) -> Tensor<4> {
    let [ph, pw] = pool.kernel_size;
    let windowed = pool.stride == pool.kernel_size
        && pool.dilation == [1, 1]
        && matches!(pool.padding, PaddingConfig2d::Valid)
        && !pool.ceil_mode;
    let [b, c, h, w] = x.dims();
    if !(windowed
        && super::enabled()
        && x.dtype() == burn::tensor::DType::F32
        && h >= ph
        && w >= pw)
        || b * c * h * w > u32::MAX as usize
    {
        return pool.forward(x);
    }
    let s = PoolShape {
        planes: b * c,
        h,
        w,
        ph,
        pw,
    };
    let dims = [b, c, h / ph, w / pw];
    if let Some((xp, node)) = tracked(&x) {
        #[cfg(test)]
        tests::OUR_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (y, arg) = forward(slice(&xp), s);
        let y = flex(y, dims);
        let y = match PoolBackward
            .prepare::<NoCheckpointing>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((Arc::new(arg), s, [b, c, h, w]), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        return Tensor::from_primitive::<Ad>(y);
    }
    if let Some(xp) = plain(&x) {
        let (y, _) = forward(slice(&xp), s);
        return Tensor::from_primitive::<Flex>(flex(y, dims));
    }
    pool.forward(x)
}

/// The backward of [`max_pool2d`].
#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    /// Where each maximum was, the geometry, and the input's dimensions.
    type State = (Arc<Vec<u32>>, PoolShape, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (arg, s, dims) = ops.state;
        if let Some(node) = node {
            grads.register::<Flex>(node.id, flex(backward(slice(&dy), &arg, s), dims));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Distribution;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Calls that ran our node (the test checks it is not falling back to Burn's pooling).
    pub(super) static OUR_CALLS: AtomicUsize = AtomicUsize::new(0);

    /// Our node and Burn's pooling give the same output and input gradient, for both window
    /// shapes and sizes that leave trailing rows and columns out.
    #[test]
    fn the_operation_matches_burns_pooling() {
        let device = Device::flex().autodiff();
        for (k, h, w) in [([2, 2], 6, 9), ([2, 1], 5, 7), ([2, 2], 2, 2)] {
            let pool = MaxPool2dConfig::new(k).init();
            let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let r = Tensor::<4>::random(
                [2, 3, h / k[0], w / k[1]],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let before = OUR_CALLS.load(Ordering::Relaxed);
            let ours = max_pool2d(x.clone(), &pool);
            assert_eq!(
                OUR_CALLS.load(Ordering::Relaxed),
                before + 1,
                "our node ran"
            );
            let theirs = pool.forward(x.clone());
            let diff = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>();
            assert!(diff(ours.clone(), theirs.clone()) < 1e-7);
            let ga = (ours * r.clone()).sum().backward();
            let gb = (theirs * r).sum().backward();
            let grad = |g| x.grad(g).map(Tensor::<4>::from_inner).unwrap();
            assert!(diff(grad(&ga), grad(&gb)) < 1e-6, "{k:?} {h}x{w}");
        }
    }

    #[test]
    fn ties_go_to_the_first_maximum_and_gradients_add_up() {
        let s = PoolShape {
            planes: 1,
            h: 2,
            w: 4,
            ph: 2,
            pw: 2,
        };
        let x = [1.0, 1.0, 0.0, 5.0, 1.0, 0.0, 5.0, 2.0];
        let (y, arg) = forward(&x, s);
        assert_eq!(y, vec![1.0, 5.0]);
        assert_eq!(arg, vec![0, 3]);
        assert_eq!(
            backward(&[2.0, 3.0], &arg, s),
            vec![2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0]
        );
    }
}
