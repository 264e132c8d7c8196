//! Models: the layer-plan configuration with its presets, the CNN backbones, the DBLSTM head,
//! the assembled CRNN, cost accounting (parameters, multiply-adds), and the layers' own Burn
//! operations on the CPU kernels ([`ops`]), and Net2Net widening of a trained CNN ([`widen`]).

pub mod backbone;
pub mod config;
pub mod cost;
pub mod crnn;
pub mod dblstm;
pub mod ops;
pub mod widen;

use burn::prelude::*;

/// A tensor's values as `f32`, row-major, converted element by element from whatever float
/// type the tensor holds.
pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}
