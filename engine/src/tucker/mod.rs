//! Tucker-2 decomposition of a trained teacher's 3x3 convolutions, the paper's compression
//! baseline ("Comparison with Tucker Decomposition"): each kernel `K [C_out, C_in, 3, 3]`
//! becomes conv1x1 (C_in -> R_in), conv3x3 (R_in -> R_out), conv1x1 (R_out -> C_out).
//!
//! - [`hosvd`]: the decomposition itself (HOSVD, optionally refined by HOOI);
//! - [`ranks`]: choosing ranks (fixed ratio, energy threshold, GFLOPs budget, presets v1-v3);
//! - [`convert`]: a teacher model file in, a decomposed model (ready for CTC fine-tuning) out.

pub mod convert;
pub mod hosvd;
pub mod ranks;
