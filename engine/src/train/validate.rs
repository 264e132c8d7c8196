//! Validation: greedy decoding of prepared lines with a model, scored by CER and WER.

use crate::alphabet::Alphabet;
use crate::data::batcher::{PreparedLine, bucket_by_width, make_batch};
use crate::decode::{Decoded, greedy};
use crate::error::{Error, Result};
use crate::metrics::ErrorRates;
use crate::models::config::CrnnConfig;
use crate::models::crnn::Crnn;
use burn::prelude::*;

/// One evaluated line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineResult {
    /// Reference text.
    pub reference: String,
    /// Recognized text.
    pub hypothesis: String,
    /// Character edits.
    pub errors: usize,
}

/// Recognizes `lines` with `model` (no autodiff) in width-bucketed batches.
pub fn evaluate(
    model: &Crnn,
    cfg: &CrnnConfig,
    alphabet: &Alphabet,
    lines: &[PreparedLine],
    batch_size: usize,
) -> Result<(ErrorRates, Vec<LineResult>)> {
    let device = model
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(Device::flex);
    let mut rates = ErrorRates::default();
    let mut results = Vec::with_capacity(lines.len());
    for group in bucket_by_width(lines.to_vec(), batch_size.max(1)) {
        let batch = make_batch(&group, cfg, &device);
        let out = model.forward(batch.images, batch.mask);
        let decoded = decode_batch(out.log_probs(), &batch.frames)?;
        for (line, d) in group.iter().zip(decoded) {
            let hypothesis = alphabet.decode(&d.labels());
            let errors = rates.add(&hypothesis, &line.text);
            results.push(LineResult {
                reference: line.text.clone(),
                hypothesis,
                errors,
            });
        }
    }
    Ok((rates, results))
}

/// Greedy decoding of each line of a batch, over its real frames only.
///
/// # Shapes
/// `log_probs: [batch, frames, classes]`, `frames[i]` = real frames of line `i`.
pub fn decode_batch(log_probs: Tensor<3>, frames: &[usize]) -> Result<Vec<Decoded>> {
    let [b, t, c] = log_probs.dims();
    let lp: Vec<f32> = log_probs
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("log-probabilities cannot be read as f32: {e:?}")))?;
    Ok((0..b)
        .map(|i| greedy(&lp[i * t * c..(i * t + frames[i].min(t)) * c], c, 0))
        .collect())
}
