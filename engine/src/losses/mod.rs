//! Training criteria: CTC and the five distillation criteria.

pub mod ctc;
pub mod distill;
