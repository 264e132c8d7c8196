//! Experiments that reproduce the paper's tables (`engine experiment ...`).

pub mod distill;
pub mod tucker;
