//! Experiments that reproduce the paper's tables (`engine experiment ...`) and compare
//! scale-out strategies on curves.

pub mod distill;
pub mod scale;
pub mod scale_plot;
pub mod tucker;
