//! Training criteria: CTC, and (later) the distillation criteria.

pub mod ctc;
pub mod distill;
