//! The layers' own operations, which training runs on: the convolution ([`conv`]), BatchNorm +
//! ReLU ([`batch_norm`]), max pooling ([`max_pool`]), the linear layers ([`linear`]: the LSTMs'
//! input projections and the IP), the BLSTM recurrence ([`lstm`]), the log-softmax
//! ([`log_softmax`]) and the CTC loss ([`ctc`]), each with its forward and backward on the CPU
//! kernels (the `*_kernels` files and [`crate::kernels`]) instead of Burn's generic CPU ones,
//! registered as nodes of Burn's autodiff graph. Burn stays the reference: every operation is checked against Burn's own,
//! and `INKLING_TRAIN_OPS=burn` selects Burn's operations for a whole process. Off the Flex
//! CPU backend (wgpu, CUDA) the layers run Burn's operations.

pub mod batch_norm;
pub mod batch_norm_kernels;
pub mod conv;
pub mod conv_kernels;
pub mod ctc;
pub mod ctc_kernels;
pub mod linear;
pub mod linear_kernels;
pub mod log_softmax;
pub mod lstm;
pub mod lstm_kernels;
pub mod max_pool;

use burn::tensor::TensorData;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::ops::NodeGuard;
use burn_flex::{Flex, FlexTensor};
use std::sync::atomic::{AtomicU8, Ordering};

/// The autodiff backend training runs on (`Device::flex().autodiff()`).
type Ad = Autodiff<Flex, NoCheckpointing>;

/// The values of a contiguous f32 Flex tensor (empty for any other dtype, which the
/// operations rule out before they get here).
fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().unwrap_or(&[])
}

/// An autodiff tensor's values (contiguous) and the guard of its graph node; `None` off
/// `Autodiff<Flex>`.
fn tracked<const D: usize>(t: &burn::prelude::Tensor<D>) -> Option<(FlexTensor, NodeGuard)> {
    let (values, node) = t.clone().try_into_primitive::<Ad>().ok()?.into_parts();
    Some((values.to_contiguous(), node))
}

/// A plain Flex tensor's values (contiguous); `None` on any other backend.
fn plain<const D: usize>(t: &burn::prelude::Tensor<D>) -> Option<FlexTensor> {
    Some(t.clone().try_into_primitive::<Flex>().ok()?.to_contiguous())
}

/// A Flex tensor of `shape` holding `values` (row-major).
fn flex<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A vector of `len` values, cut in chunks of `chunk` (the last one shorter) that
/// `fill(i, chunk_i)` writes on rayon's threads, each chunk set to the default value (zero)
/// first on the thread that fills it. Replaces `vec![0.0; len]` followed by a parallel loop:
/// zeroing an activation-sized buffer is a single-threaded `memset` between two parallel
/// loops, which kept one of two threads idle for a tenth of a training step.
pub(crate) fn par_filled<T: Copy + Default + Send + Sync>(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [T]) + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let mut v: Vec<T> = Vec::with_capacity(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| {
            for x in c.iter_mut() {
                x.write(T::default());
            }
            // SAFETY: every element of `c` was initialized just above, and
            // `MaybeUninit<T>` has the layout of `T`.
            let c = unsafe { &mut *(c as *mut [std::mem::MaybeUninit<T>] as *mut [T]) };
            fill(i, c);
        });
    // SAFETY: the chunks cover `0..len` and each was initialized above.
    unsafe { v.set_len(len) };
    v
}

/// 0: not decided yet (read `INKLING_TRAIN_OPS` on first use), 1: ours, 2: Burn's.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Whether layers run on our operations (the default) rather than Burn's: `INKLING_TRAIN_OPS=burn`
/// turns them off, as does [`set_enabled`]`(false)`.
pub fn enabled() -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let ours = std::env::var("INKLING_TRAIN_OPS").map_or(true, |v| v != "burn");
            CHOICE.store(if ours { 1 } else { 2 }, Ordering::Relaxed);
            ours
        }
    }
}

/// Selects our operations (`true`) or Burn's (`false`) for the rest of the process, overriding
/// `INKLING_TRAIN_OPS` (the training bench compares both paths in one run).
pub fn set_enabled(ours: bool) {
    CHOICE.store(if ours { 1 } else { 2 }, Ordering::Relaxed);
}

/// Deterministic values in `[-scale, scale]` (xorshift) for the operations' tests.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: u32, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(7);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            scale * ((state % 2001) as f32 / 1000.0 - 1.0)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn par_filled_writes_every_chunk_once_from_zero() {
        for (len, chunk) in [(0usize, 4usize), (1, 4), (10, 3), (4096, 64), (7, 100)] {
            let v: Vec<u32> = super::par_filled(len, chunk, |i, c| {
                for (j, x) in c.iter_mut().enumerate() {
                    *x += (i * chunk + j) as u32;
                }
            });
            assert_eq!(
                v,
                (0..len as u32).collect::<Vec<_>>(),
                "len {len} chunk {chunk}"
            );
        }
    }
}
