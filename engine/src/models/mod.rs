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
