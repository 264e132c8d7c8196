//! Models: the layer-plan configuration with its presets, the CNN backbones, the DBLSTM head,
//! the assembled CRNN, and cost accounting (parameters, multiply-adds).

pub mod backbone;
pub mod config;
pub mod cost;
pub mod crnn;
pub mod dblstm;
